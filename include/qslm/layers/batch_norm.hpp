#pragma once
// BatchNorm in inference mode (running statistics), per channel c:
//   y = (x - mean[c]) * (weight[c] / sqrt(var[c] + eps)) + bias[c]
// (the expression order of tools/train/sdt.py's MaskedBatchNorm), and its folding into the
// linear layer before it, which is how a deployed spike-driven encoder runs it: with
// scale = weight / sqrt(var + eps),
//   W'[c][:] = W[c][:] * scale[c],   b'[c] = (b[c] - mean[c]) * scale[c] + bias[c]
// (b = 0 for a linear without bias), so BN(W s + b) == W' s + b' and the spiking linear keeps
// consuming spikes with no extra per-step work. Folding is host-side preparation before
// quantization: quantize W', not W.

#include <cmath>
#include <cstddef>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/result.hpp"

namespace qslm::layers {

struct BatchNormParams {
    std::span<const float> weight;
    std::span<const float> bias;
    std::span<const float> running_mean;
    std::span<const float> running_var;
    double eps = 1e-5;

    [[nodiscard]] constexpr Status check() const noexcept {
        const std::size_t n = weight.size();
        if (n == 0 || bias.size() != n || running_mean.size() != n || running_var.size() != n) return Status::bad_shape;
        if (!(eps >= 0.0)) return Status::invalid_argument;
        for (const float v : running_var)
            if (!(v + eps > 0.0)) return Status::invalid_argument;  // also rejects NaN
        return Status::ok;
    }
};

class BatchNorm {
public:
    static Result<BatchNorm> make(const BatchNormParams& p) noexcept {
        if (const Status s = p.check(); s != Status::ok)
            return Failure{s, s == Status::bad_shape ? "BatchNorm parameters differ in length or are empty"
                                                     : "BatchNorm variance + eps must be positive"};
        BatchNorm b;
        b.p_ = p;
        return b;
    }
    [[nodiscard]] constexpr std::size_t channels() const noexcept { return p_.weight.size(); }
    /// weight, bias, mean and variance: four floats per channel.
    [[nodiscard]] constexpr std::size_t parameter_bytes() const noexcept { return 4 * channels() * sizeof(float); }
    [[nodiscard]] static constexpr std::size_t state_bytes() noexcept { return 0; }

    /// rows of channels() values (x: rows * channels); y may alias x.
    Status forward(std::span<const float> x, std::span<float> y, OpCounts* counts = nullptr) const noexcept {
        const std::size_t c = channels();
        if (x.size() % c != 0 || x.empty()) return Status::bad_shape;
        if (y.size() < x.size()) return Status::buffer_too_small;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const std::size_t ch = i % c;
            const float scale = p_.weight[ch] / std::sqrt(p_.running_var[ch] + static_cast<float>(p_.eps));
            y[i] = (x[i] - p_.running_mean[ch]) * scale + p_.bias[ch];
        }
        if (counts != nullptr) {
            counts->multiplies += x.size();
            counts->additions += 2 * x.size();
        }
        return Status::ok;
    }

private:
    BatchNormParams p_{};
};

/// Folds BatchNorm into the preceding linear layer in place (weights rows x cols, row-major;
/// bias: rows floats, pass the linear's bias or zeros). Host-side; done once before quantizing.
inline Status fold_batch_norm(std::span<float> weights, std::size_t rows, std::size_t cols, std::span<float> bias,
                              const BatchNormParams& bn) noexcept {
    if (const Status s = bn.check(); s != Status::ok) return s;
    if (rows != bn.weight.size() || weights.size() != rows * cols || bias.size() != rows) return Status::bad_shape;
    for (std::size_t r = 0; r < rows; ++r) {
        const double scale = static_cast<double>(bn.weight[r]) / std::sqrt(static_cast<double>(bn.running_var[r]) + bn.eps);
        for (std::size_t c = 0; c < cols; ++c) weights[r * cols + c] = static_cast<float>(weights[r * cols + c] * scale);
        bias[r] = static_cast<float>((static_cast<double>(bias[r]) - bn.running_mean[r]) * scale + bn.bias[r]);
    }
    return Status::ok;
}

}  // namespace qslm::layers
