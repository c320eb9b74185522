#pragma once
// Clipping search: shrink each scale of a grid to the factor that minimises the squared
// rounding error of the weights it covers. A grid fitted to absmax wastes most of its levels
// on a few outliers at 2-3 bits (at 2 bits signed, absmax/1 leaves almost every weight at 0);
// trading a little clipping of the outliers for a finer step is the single cheapest
// improvement there, and it composes with every rounding policy (GPTQ's reference code does
// the same search before quantizing).
//
// Only float32 scales are searched: power-of-two grids keep their exponents (the packed tensor
// stores the exponents, so changing the float scale would desynchronise them), and ±1 grids
// already use the least-squares scale.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/tensor/quant_grid.hpp"

namespace qslm::quant {

struct ClipSearchOptions {
    double min_shrink = 0.2;  ///< smallest factor tried (scale x 0.2)
    int steps = 40;           ///< factors tried after 1, evenly spaced down to min_shrink
};

/// Shrinks every scale of `grid` (fitted to `w`) by its best factor; `column_weights`, when
/// given (one per input, e.g. the Hessian's diagonal), weighs each weight's squared error.
inline void search_clipping(QuantGrid& grid, std::span<const float> w, ClipSearchOptions options = {},
                            std::span<const double> column_weights = {}) {
    const std::size_t rows = grid.rows(), cols = grid.cols();
    if (w.size() != rows * cols) fail(Status::bad_shape, "search_clipping: weights do not match the grid's shape");
    if (!column_weights.empty() && column_weights.size() != cols)
        fail(Status::bad_shape, "search_clipping: need one column weight per input");
    if (options.steps < 1 || !(options.min_shrink > 0.0) || options.min_shrink > 1.0)
        fail(Status::invalid_argument, "search_clipping: need steps >= 1 and 0 < min_shrink <= 1");
    if (grid.spec().scale_format != ScaleFormat::float32 || grid.range().skips_zero) return;

    const std::span<float> scales = grid.mutable_scales();
    const std::vector<float> original(scales.begin(), scales.end());
    std::vector<double> best_error(scales.size(), std::numeric_limits<double>::infinity());
    std::vector<float> best_scale = original;
    std::vector<double> error(scales.size());
    // Hot loop (steps x weights): look the scale index and zero point up once per weight.
    std::vector<std::uint32_t> index(w.size());
    std::vector<float> zero(w.size());
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) {
            index[r * cols + c] = static_cast<std::uint32_t>(grid.scale_index(r, c));
            zero[r * cols + c] = static_cast<float>(grid.zero_point(r, c));
        }
    const auto lo = static_cast<float>(grid.range().min_level), hi = static_cast<float>(grid.range().max_level);
    std::vector<float> inverse(scales.size()), trial(scales.size());
    for (int k = 0; k <= options.steps; ++k) {
        const double shrink = 1.0 - (1.0 - options.min_shrink) * k / options.steps;
        for (std::size_t s = 0; s < scales.size(); ++s) {
            trial[s] = static_cast<float>(original[s] * shrink);
            inverse[s] = 1.0f / trial[s];
        }
        std::fill(error.begin(), error.end(), 0.0);
        for (std::size_t i = 0; i < w.size(); ++i) {
            const std::uint32_t s = index[i];
            // Ties may round either way here: only the error total matters, not the level.
            const float q = std::clamp(std::nearbyint(w[i] * inverse[s] + zero[i]), lo, hi);
            const float e = trial[s] * (q - zero[i]) - w[i];
            error[s] += (column_weights.empty() ? 1.0 : column_weights[i % cols]) * double{e * e};
        }
        for (std::size_t s = 0; s < scales.size(); ++s) {
            if (error[s] < best_error[s]) {  // strict: ties keep the larger (less clipping) scale
                best_error[s] = error[s];
                best_scale[s] = trial[s];
            }
        }
    }
    std::copy(best_scale.begin(), best_scale.end(), scales.begin());
}

}  // namespace qslm::quant

namespace qslm::quant {

/// Round-to-nearest after the clipping search: the baseline that isolates what GPTQ and
/// adaptive rounding add beyond a better grid.
struct ClippedNearest {
    ClipSearchOptions clipping{};
    Status operator()(QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels) const {
        search_clipping(grid, w, clipping);
        return rounding::Nearest{}(grid, w, levels);
    }
};
static_assert(WeightRounder<ClippedNearest>);

}  // namespace qslm::quant
