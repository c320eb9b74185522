#pragma once
// The rounding policies by name, as the command line (`--rounding nearest|gptq|adaptive`) and
// the search (a choice per module) use them, and LayerRounding: everything needed to round one
// layer at any width with any policy, holding the layer's GPTQ factor so that the Cholesky
// work is done once per layer and not once per candidate width.
//
//   qslm::quant::LayerRounding layer{calibration.layer("blocks.3.att.key")};
//   for (int bits : {4, 3, 2})
//       auto t = layer.quantize(RoundingMethod::gptq, bits, weights, rows, cols, spec);
//
// Rounding one layer depends only on that layer (layer-wise objective), so a search may also
// cache the result per (layer, width, policy) across candidate settings.

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "qslm/host/error.hpp"
#include "qslm/quant/adaptive_rounding.hpp"
#include "qslm/quant/clip_search.hpp"
#include "qslm/quant/gptq.hpp"
#include "qslm/quant/input_statistics.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::quant {

enum class RoundingMethod : std::uint8_t { nearest = 0, gptq = 1, adaptive = 2 };

constexpr const char* to_string(RoundingMethod m) noexcept {
    switch (m) {
        case RoundingMethod::nearest: return "nearest";
        case RoundingMethod::gptq: return "gptq";
        case RoundingMethod::adaptive: return "adaptive";
    }
    return "unknown";
}

/// "nearest" | "gptq" | "adaptive"; anything else is invalid_argument naming the choices.
inline RoundingMethod parse_rounding_method(std::string_view name) {
    for (const RoundingMethod m : {RoundingMethod::nearest, RoundingMethod::gptq, RoundingMethod::adaptive})
        if (name == to_string(m)) return m;
    fail(Status::invalid_argument,
         "unknown rounding method '" + std::string(name) + "' (expected nearest, gptq or adaptive)");
}

constexpr bool needs_calibration(RoundingMethod m) noexcept { return m != RoundingMethod::nearest; }

struct RoundingOptions {
    /// Shared by GPTQ and by adaptive rounding's GPTQ baseline (adaptive.gptq is ignored), so
    /// both use one factor and one clipped grid.
    GptqOptions gptq{};
    AdaptiveRoundingOptions adaptive{};
    /// Clipping search for round-to-nearest too. Off by default: "nearest" then means plain
    /// absmax round-to-nearest, the baseline the issue measures against.
    bool nearest_clip_search = false;
};

class LayerRounding {
public:
    /// Nearest only (no calibration data).
    explicit LayerRounding(RoundingOptions options = {}) : options_(std::move(options)) {}
    LayerRounding(const Eigen::MatrixXd& hessian, RoundingOptions options = {})
        : options_(std::move(options)), hessian_(hessian),
          factor_(std::make_shared<const GptqFactor>(
              GptqFactor::compute(hessian, options_.gptq.damping, options_.gptq.act_order))) {
        options_.adaptive.gptq = options_.gptq;
    }
    LayerRounding(const InputStatistics& statistics, RoundingOptions options = {})
        : LayerRounding(statistics.hessian(), std::move(options)) {}

    [[nodiscard]] bool has_calibration() const noexcept { return factor_ != nullptr; }

    /// Rounds rows x cols weights (row-major) to `bits` with `method`; throws qslm::Error.
    [[nodiscard]] AnyPackedTensor quantize(RoundingMethod method, int bits, std::span<const float> w,
                                           std::size_t rows, std::size_t cols, const QuantSpec& spec = {}) const {
        const std::string context = std::string("quantize (") + to_string(method) + ", " + std::to_string(bits) + " bits)";
        if (needs_calibration(method) && !factor_)
            fail(Status::invalid_argument,
                 context + ": this rounding method needs calibration statistics (--data FILE or --data-free)");
        switch (method) {
            case RoundingMethod::nearest:
                if (options_.nearest_clip_search)
                    return value_or_throw(AnyPackedTensor::quantize(bits, w, rows, cols, spec,
                                                                    ClippedNearest{options_.gptq.clipping}),
                                          context);
                return value_or_throw(AnyPackedTensor::quantize(bits, w, rows, cols, spec), context);
            case RoundingMethod::gptq:
                return value_or_throw(AnyPackedTensor::quantize(bits, w, rows, cols, spec, Gptq{factor_, options_.gptq}),
                                      context);
            case RoundingMethod::adaptive:
                return value_or_throw(
                    AnyPackedTensor::quantize(bits, w, rows, cols, spec,
                                              AdaptiveRounding{*hessian_, factor_, options_.adaptive}),
                    context);
        }
        fail(Status::invalid_argument, context + ": unknown rounding method");
    }

    /// The same choice as a WeightRounder call on an already-fitted grid (what
    /// AnyPackedTensor::quantize and the search's weight cache invoke): the packed result is
    /// the one quantize() gives. Throws like quantize() when the method needs calibration.
    Status round(RoundingMethod method, QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels) const {
        if (needs_calibration(method) && !factor_)
            fail(Status::invalid_argument, std::string("rounding '") + to_string(method) +
                                               "' needs calibration statistics (--data FILE or --data-free)");
        switch (method) {
            case RoundingMethod::nearest:
                if (options_.nearest_clip_search) return ClippedNearest{options_.gptq.clipping}(grid, w, levels);
                return rounding::Nearest{}(grid, w, levels);
            case RoundingMethod::gptq: return Gptq{factor_, options_.gptq}(grid, w, levels);
            case RoundingMethod::adaptive: return AdaptiveRounding{*hessian_, factor_, options_.adaptive}(grid, w, levels);
        }
        fail(Status::invalid_argument, "unknown rounding method");
    }

    [[nodiscard]] const RoundingOptions& options() const noexcept { return options_; }
    [[nodiscard]] const std::shared_ptr<const GptqFactor>& gptq_factor() const noexcept { return factor_; }

private:
    RoundingOptions options_;
    std::optional<Eigen::MatrixXd> hessian_;
    std::shared_ptr<const GptqFactor> factor_;
};

}  // namespace qslm::quant
