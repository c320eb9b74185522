#pragma once
// LayerNorm over the last axis, as torch.nn.LayerNorm computes it (biased variance):
//   y = (x - mean) / sqrt(var + eps) * weight + bias
//
//   LayerNorm                 float reference; statistics accumulated in double, so the result
//                             is within a few float ulps of PyTorch's (not bit-identical: PyTorch's
//                             own reduction order varies by build and vector width).
//   IntegerLayerNorm<In,Out>  integer-only: fixed-point mean with 4 extra fractional bits,
//                             variance as an exact integer sum of squares divided once, an integer
//                             square root, and one rounded integer division per element. No
//                             floating point at run time; eps is converted once at make().

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/fixed.hpp"
#include "qslm/core/op_counts.hpp"
#include "qslm/core/result.hpp"
#include "qslm/layers/detail/integer_math.hpp"

namespace qslm::layers {

class LayerNorm {
public:
    /// weight, bias: `dim` floats each (bias may be empty for no bias).
    static Result<LayerNorm> make(std::span<const float> weight, std::span<const float> bias, double eps = 1e-5) noexcept {
        if (weight.empty()) return Failure{Status::bad_shape, "LayerNorm weight is empty"};
        if (!bias.empty() && bias.size() != weight.size()) return Failure{Status::bad_shape, "LayerNorm bias and weight differ in length"};
        if (!(eps >= 0.0)) return Failure{Status::invalid_argument, "LayerNorm eps must be >= 0"};
        LayerNorm n;
        n.w_ = weight;
        n.b_ = bias;
        n.eps_ = eps;
        return n;
    }
    [[nodiscard]] constexpr std::size_t dim() const noexcept { return w_.size(); }
    [[nodiscard]] constexpr std::size_t parameter_bytes() const noexcept { return (w_.size() + b_.size()) * sizeof(float); }
    [[nodiscard]] static constexpr std::size_t state_bytes() noexcept { return 0; }

    /// Normalises `batch` rows of dim() values; y may be the same memory as x.
    Status forward(std::span<const float> x, std::span<float> y, std::size_t batch = 1, OpCounts* counts = nullptr) const noexcept {
        const std::size_t d = w_.size();
        if (batch == 0 || x.size() != batch * d) return Status::bad_shape;
        if (y.size() < batch * d) return Status::buffer_too_small;
        for (std::size_t b = 0; b < batch; ++b) {
            const float* xr = x.data() + b * d;
            double sum = 0.0;
            for (std::size_t i = 0; i < d; ++i) sum += xr[i];
            const double mean = sum / static_cast<double>(d);
            double sq = 0.0;
            for (std::size_t i = 0; i < d; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
            const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(d) + eps_);
            float* yr = y.data() + b * d;
            for (std::size_t i = 0; i < d; ++i) {
                const float n = static_cast<float>((xr[i] - mean) * rstd);
                yr[i] = b_.empty() ? n * w_[i] : n * w_[i] + b_[i];
            }
        }
        if (counts != nullptr) {
            counts->additions += batch * d * 3;
            counts->multiplies += batch * d * 3;
            counts->nonlinear += batch;
        }
        return Status::ok;
    }

private:
    std::span<const float> w_{};
    std::span<const float> b_{};
    double eps_ = 1e-5;
};

template <FixedPoint In, FixedPoint Out>
class IntegerLayerNorm {
    static_assert(In::width <= 16, "IntegerLayerNorm: inputs wider than 16 bits would overflow the 64-bit sum of squares.");
    static_assert(Out::frac_bits <= 30, "IntegerLayerNorm: at most 30 fractional output bits.");

public:
    static constexpr int mean_extra_bits = 4;  ///< fractional bits kept below In's LSB in the mean
    static constexpr std::size_t max_dim = std::size_t{1} << 16;

    /// gamma, beta: dim() values in the output format (beta may be empty).
    static Result<IntegerLayerNorm> make(std::span<const Out> gamma, std::span<const Out> beta, double eps = 1e-5) noexcept {
        if (gamma.empty() || gamma.size() > max_dim) return Failure{Status::bad_shape, "integer LayerNorm needs 1..65536 channels"};
        if (!beta.empty() && beta.size() != gamma.size()) return Failure{Status::bad_shape, "integer LayerNorm beta and gamma differ in length"};
        if (!(eps >= 0.0) || eps > 1e6) return Failure{Status::invalid_argument, "integer LayerNorm eps must be in [0, 1e6]"};
        IntegerLayerNorm n;
        n.g_ = gamma;
        n.b_ = beta;
        // eps in the units of the squared, extended raw values: 2^(2*(F_in + extra)).
        n.eps_raw_ = rounding::NearestEven::from_double(eps * std::ldexp(1.0, 2 * (In::frac_bits + mean_extra_bits)));
        return n;
    }
    [[nodiscard]] constexpr std::size_t dim() const noexcept { return g_.size(); }
    [[nodiscard]] constexpr std::size_t parameter_bytes() const noexcept { return (g_.size() + b_.size()) * sizeof(Out); }
    [[nodiscard]] static constexpr std::size_t state_bytes() noexcept { return 0; }

    constexpr Status forward(std::span<const In> x, std::span<Out> y, OpCounts* counts = nullptr) const noexcept {
        const std::size_t d = g_.size();
        if (x.size() != d) return Status::bad_shape;
        if (y.size() < d) return Status::buffer_too_small;
        constexpr int k = mean_extra_bits;
        const auto n = static_cast<std::int64_t>(d);
        std::int64_t sum = 0;
        for (const In v : x) sum += v.raw();
        const std::int64_t mean = detail::div_round(sum * (std::int64_t{1} << k), n);  // extended raw units
        std::int64_t sq = 0;
        for (const In v : x) {
            const std::int64_t c = (std::int64_t{v.raw()} << k) - mean;
            sq += c * c;
        }
        const std::int64_t var = detail::div_round(sq, n) + eps_raw_;
        const std::int64_t sd = static_cast<std::int64_t>(detail::isqrt_round(static_cast<std::uint64_t>(var)));
        for (std::size_t i = 0; i < d; ++i) {
            const std::int64_t c = (std::int64_t{x[i].raw()} << k) - mean;
            // normalised value with Out::frac_bits fractional bits; a zero variance gives 0 (as
            // float LayerNorm with eps > 0 gives 0 for a constant input).
            const std::int64_t norm = sd == 0 ? 0 : detail::div_round(c * (std::int64_t{1} << Out::frac_bits), sd);
            std::int64_t out = Out::rounding_policy::shift_right(norm * g_[i].raw(), Out::frac_bits);
            if (!b_.empty()) out += b_[i].raw();
            y[i] = Out::from_raw(out);
        }
        if (counts != nullptr) {
            counts->additions += d * 3;
            counts->multiplies += d * 3;
            counts->nonlinear += d + 1;  // one division per element, one square root
        }
        return Status::ok;
    }

private:
    std::span<const Out> g_{};
    std::span<const Out> b_{};
    std::int64_t eps_raw_ = 0;
};

}  // namespace qslm::layers
