#pragma once
// Calibration statistics of one linear layer's inputs, accumulated while streaming:
//
//   H = 2/N · Σ_n x_n x_nᵀ   (input_dim x input_dim, in double)
//
// which is the Hessian of the layer's summed squared output error, so that for any weight
// change E (outputs x inputs):  mean_n ||E x_n||² = tr(E H Eᵀ) / 2. GPTQ and adaptive rounding
// need nothing else for a layer-wise objective. Memory stays bounded however much data is
// streamed: the running sum, a small batch buffer (flushed with one rank-k update), and an
// optional reservoir sample of input rows kept for reconstruction losses that are not
// quadratic (block-level reconstruction through non-linear neurons).
//
// CalibrationSet holds one InputStatistics per named layer and is an ActivationObserver.

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/layers/activation_observer.hpp"

namespace qslm::quant {

// The calibration hook is a device-side concept (layers/activation_observer.hpp: the layers
// take it without knowing the host half); quant implements it, under the names it always had.
using layers::ActivationObserver;
using layers::ActivationSink;
using layers::NullObserver;

struct InputStatisticsOptions {
    std::size_t reservoir_rows = 0;  ///< input rows kept as a uniform sample (0: none)
    std::uint64_t seed = 0x5EED;     ///< the reservoir's sampling is a pure function of this seed
    std::size_t batch_rows = 64;     ///< rows buffered before one rank-k update of the sum
};

class InputStatistics {
public:
    explicit InputStatistics(std::size_t input_dim, InputStatisticsOptions options = {})
        : dim_(input_dim), options_(options), rng_state_(options.seed) {
        if (input_dim == 0) fail(Status::bad_shape, "InputStatistics: a layer needs at least one input");
        if (options_.batch_rows == 0) options_.batch_rows = 1;
        sum_ = Eigen::MatrixXd::Zero(index(dim_), index(dim_));
        pending_.resize(index(options_.batch_rows), index(dim_));
    }

    /// Adds input rows: `inputs.size()` must be a multiple of input_dim (row-major, one input
    /// vector per row). Non-finite values are rejected before anything is accumulated.
    void observe(std::span<const float> inputs) {
        if (inputs.size() % dim_ != 0)
            fail(Status::bad_shape, "InputStatistics: " + std::to_string(inputs.size()) +
                                        " activations are not a whole number of rows of " + std::to_string(dim_));
        for (std::size_t i = 0; i < inputs.size(); ++i)
            if (!std::isfinite(inputs[i]))
                fail(Status::invalid_argument, "InputStatistics: activation " + std::to_string(i % dim_) +
                                                   " of row " + std::to_string(i / dim_) + " is NaN or infinite");
        const std::size_t rows = inputs.size() / dim_;
        for (std::size_t r = 0; r < rows; ++r) {
            const std::span<const float> x = inputs.subspan(r * dim_, dim_);
            for (std::size_t c = 0; c < dim_; ++c) pending_(index(pending_rows_), index(c)) = x[c];
            if (++pending_rows_ == options_.batch_rows) flush();
            sample(x);
            ++samples_;
        }
    }

    [[nodiscard]] std::size_t input_dim() const noexcept { return dim_; }
    [[nodiscard]] std::size_t samples() const noexcept { return samples_; }

    /// H = 2/N Σ x xᵀ. Throws when nothing has been observed (there is no objective yet).
    [[nodiscard]] Eigen::MatrixXd hessian() const {
        if (samples_ == 0)
            fail(Status::invalid_argument, "InputStatistics: no calibration inputs were observed for this layer");
        Eigen::MatrixXd h = sum_;
        if (pending_rows_ > 0) {
            const auto block = pending_.topRows(index(pending_rows_));
            h.selfadjointView<Eigen::Lower>().rankUpdate(block.transpose());
        }
        Eigen::MatrixXd full = h.selfadjointView<Eigen::Lower>();
        return full * (2.0 / static_cast<double>(samples_));
    }

    /// The sampled input rows (reservoir_rows x input_dim at most, fewer if less was seen).
    [[nodiscard]] Eigen::MatrixXf reservoir() const {
        Eigen::MatrixXf out(index(reservoir_.size()), index(dim_));
        for (std::size_t r = 0; r < reservoir_.size(); ++r)
            for (std::size_t c = 0; c < dim_; ++c) out(index(r), index(c)) = reservoir_[r][c];
        return out;
    }

private:
    static Eigen::Index index(std::size_t i) noexcept { return static_cast<Eigen::Index>(i); }

    void flush() {
        // Only the lower triangle is accumulated (half the work); hessian() mirrors it.
        sum_.selfadjointView<Eigen::Lower>().rankUpdate(pending_.topRows(index(pending_rows_)).transpose());
        pending_rows_ = 0;
    }

    // Algorithm R with a splitmix64 stream: deterministic for a seed on every platform
    // (std::uniform_int_distribution is not specified bit-for-bit across standard libraries).
    std::uint64_t next_random() noexcept {
        std::uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    void sample(std::span<const float> x) {
        if (options_.reservoir_rows == 0) return;
        if (reservoir_.size() < options_.reservoir_rows) {
            reservoir_.emplace_back(x.begin(), x.end());
            return;
        }
        const std::uint64_t j = next_random() % (samples_ + 1);
        if (j < options_.reservoir_rows) reservoir_[j].assign(x.begin(), x.end());
    }

    std::size_t dim_;
    InputStatisticsOptions options_;
    Eigen::MatrixXd sum_;
    Eigen::MatrixXd pending_;
    std::size_t pending_rows_ = 0;
    std::size_t samples_ = 0;
    std::uint64_t rng_state_;
    std::vector<std::vector<float>> reservoir_;
};

/// The calibration statistics of every linear layer of a model, addressed by the id that
/// add_layer() returned (cheap in the forward pass) or by name (for the search and reports).
class CalibrationSet {
public:
    explicit CalibrationSet(InputStatisticsOptions options = {}) : options_(options) {}

    /// Registers a layer and returns its id (0, 1, 2, ... in registration order).
    std::size_t add_layer(std::string name, std::size_t input_dim) {
        if (find(name)) fail(Status::invalid_argument, "CalibrationSet: layer '" + name + "' is registered twice");
        InputStatisticsOptions o = options_;
        o.seed = options_.seed + 0x9E37ull * layers_.size();  // independent reservoirs per layer
        layers_.emplace_back(std::move(name), InputStatistics(input_dim, o));
        return layers_.size() - 1;
    }

    /// ActivationObserver entry point: `inputs` is rows x input_dim of layer `layer_id`.
    void observe(std::size_t layer_id, std::span<const float> inputs) {
        if (layer_id >= layers_.size())
            fail(Status::out_of_range, "CalibrationSet: no layer with id " + std::to_string(layer_id) + " (" +
                                           std::to_string(layers_.size()) + " registered)");
        try {
            layers_[layer_id].second.observe(inputs);
        } catch (const Error& e) {
            // Re-raise with the layer's name; drop the inner "qslm.<code>: " prefix.
            const std::string_view what = e.what();
            const auto colon = what.find(": ");
            fail(e.code(), "layer '" + layers_[layer_id].first +
                               "': " + std::string(colon == what.npos ? what : what.substr(colon + 2)));
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return layers_.size(); }
    [[nodiscard]] const std::string& name(std::size_t id) const { return layers_.at(id).first; }
    [[nodiscard]] std::optional<std::size_t> find(std::string_view name) const noexcept {
        for (std::size_t i = 0; i < layers_.size(); ++i)
            if (layers_[i].first == name) return i;
        return std::nullopt;
    }
    [[nodiscard]] const InputStatistics& layer(std::size_t id) const {
        if (id >= layers_.size()) fail(Status::out_of_range, "CalibrationSet: no layer with id " + std::to_string(id));
        return layers_[id].second;
    }
    [[nodiscard]] const InputStatistics& layer(std::string_view name) const {
        const auto id = find(name);
        if (!id) fail(Status::not_found, "CalibrationSet: no calibration statistics for layer '" + std::string(name) + "'");
        return layers_[*id].second;
    }

private:
    InputStatisticsOptions options_;
    std::vector<std::pair<std::string, InputStatistics>> layers_;
};

static_assert(ActivationObserver<CalibrationSet>);

}  // namespace qslm::quant
