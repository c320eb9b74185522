#pragma once
// QuantGrid: the quantization grid of one weight matrix — which integer levels exist, and the
// scale and zero point of every weight — fitted to the float weights before any rounding.
// Rounding policies (round-to-nearest here; GPTQ and adaptive rounding in qslm/quant) only
// choose a level per weight on this grid, so every policy packs into the same PackedTensor.
//
// The grid is not templated on the bit-width: host-side rounding code (Eigen, GPTQ) then works
// for the run-time widths the search picks without being instantiated eight times.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "qslm/core/result.hpp"
#include "qslm/core/rounding.hpp"
#include "qslm/tensor/encoding.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"
#include "qslm/tensor/scale_layout.hpp"

namespace qslm {

/// How a float tensor is to be quantized (everything except the width and the rounding policy).
struct QuantSpec {
    ScaleLayout layout = ScaleLayout::per_channel();
    bool zero_point = false;  ///< asymmetric range [min, max] instead of symmetric [-absmax, absmax]
    ScaleFormat scale_format = ScaleFormat::float32;
};

/// The representable levels of an encoding at a width.
struct LevelRange {
    int min_level = 0;
    int max_level = 0;
    bool skips_zero = false;  ///< true for Bipolar {-1, +1}

    template <int Bits, class Encoding>
    static constexpr LevelRange of() noexcept {
        return {Encoding::template min_level<Bits>, Encoding::template max_level<Bits>,
                !encoding::has_zero_level<Encoding>};
    }
};

class QuantGrid {
public:
    /// Fits scales (and zero points) to `weights` (rows x cols, row-major). Errors: bad_shape,
    /// bad_group_size, invalid_argument for NaN/infinite weights.
    static Result<QuantGrid> fit(std::span<const float> weights, std::size_t rows, std::size_t cols,
                                 const QuantSpec& spec, LevelRange range) {
        if (rows == 0 || cols == 0 || rows > max_tensor_elements / cols)
            return Failure{Status::bad_shape, "tensor shape is empty or has more than 2^28 elements"};
        if (weights.size() != rows * cols)
            return Failure{Status::bad_shape, "number of weights differs from rows x cols"};
        if (spec.layout.check() != Status::ok)
            return Failure{Status::bad_group_size, "per-group scales need a group size of at least 1"};
        for (const float w : weights)
            if (!std::isfinite(w)) return Failure{Status::invalid_argument, "weights contain NaN or infinity"};

        QuantGrid g;
        g.rows_ = rows;
        g.cols_ = cols;
        g.spec_ = spec;
        g.range_ = range;
        const std::size_t n = spec.layout.scale_count(rows, cols);
        std::vector<double> lo(n, 0.0), hi(n, 0.0), abs_sum(n, 0.0);
        std::vector<std::size_t> count(n, 0);
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t c = 0; c < cols; ++c) {
                const std::size_t s = spec.layout.scale_index(r, c, cols);
                const double w = weights[r * cols + c];
                lo[s] = count[s] == 0 ? w : std::min(lo[s], w);
                hi[s] = count[s] == 0 ? w : std::max(hi[s], w);
                abs_sum[s] += std::abs(w);
                ++count[s];
            }
        }
        g.scales_.resize(n);
        if (spec.zero_point) g.zero_points_.resize(n);
        if (spec.scale_format == ScaleFormat::power_of_two) g.exponents_.resize(n);
        for (std::size_t s = 0; s < n; ++s) {
            double scale = 0.0;
            int zp = 0;
            if (spec.zero_point) {
                // Asymmetric: the range must contain 0 so that zero weights stay exactly zero
                // and the zero point is itself a representable level.
                const double mn = std::min(lo[s], 0.0), mx = std::max(hi[s], 0.0);
                scale = (mx - mn) / static_cast<double>(range.max_level - range.min_level);
                if (scale > 0.0) {
                    zp = range.min_level - static_cast<int>(rounding::NearestEven::from_double(mn / scale));
                    zp = std::clamp(zp, range.min_level, range.max_level);
                }
            } else if (range.skips_zero) {
                scale = abs_sum[s] / static_cast<double>(count[s]);  // least-squares optimum for ±1
            } else {
                const double absmax = std::max(std::abs(lo[s]), std::abs(hi[s]));
                const int top = range.max_level > 0 ? range.max_level : -range.min_level;
                scale = absmax / static_cast<double>(top);
            }
            if (!(scale > 0.0)) scale = 1.0;  // all-zero group: any scale reproduces it exactly
            if (spec.scale_format == ScaleFormat::power_of_two) {
                // Round the scale *up* to a power of two so the range never gets clipped.
                int e = static_cast<int>(std::ceil(std::log2(scale)));
                e = std::clamp(e, -128, 127);
                g.exponents_[s] = static_cast<std::int8_t>(e);
                scale = std::ldexp(1.0, e);
            }
            g.scales_[s] = static_cast<float>(scale);
            if (spec.zero_point) g.zero_points_[s] = static_cast<std::int16_t>(zp);
        }
        return g;
    }

    [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
    [[nodiscard]] std::size_t cols() const noexcept { return cols_; }
    [[nodiscard]] const QuantSpec& spec() const noexcept { return spec_; }
    [[nodiscard]] LevelRange range() const noexcept { return range_; }
    [[nodiscard]] std::size_t scale_index(std::size_t r, std::size_t c) const noexcept {
        return spec_.layout.scale_index(r, c, cols_);
    }
    [[nodiscard]] float scale(std::size_t r, std::size_t c) const noexcept { return scales_[scale_index(r, c)]; }
    [[nodiscard]] int zero_point(std::size_t r, std::size_t c) const noexcept {
        return zero_points_.empty() ? 0 : zero_points_[scale_index(r, c)];
    }

    /// The level nearest to `w` on weight (r, c)'s grid, clamped to the representable range
    /// (values beyond the range saturate to the extreme level).
    [[nodiscard]] int nearest_level(float w, std::size_t r, std::size_t c) const noexcept {
        const double q = static_cast<double>(w) / scale(r, c) + zero_point(r, c);
        return clamp_level(q);
    }
    /// Nearest representable level for a real-valued level position q.
    [[nodiscard]] int clamp_level(double q) const noexcept {
        if (range_.skips_zero) return q >= 0.0 ? 1 : -1;
        if (q <= range_.min_level) return range_.min_level;
        if (q >= range_.max_level) return range_.max_level;
        return static_cast<int>(rounding::NearestEven::from_double(q));
    }
    [[nodiscard]] float dequantize(int level, std::size_t r, std::size_t c) const noexcept {
        return scale(r, c) * static_cast<float>(level - zero_point(r, c));
    }

    // Scales may be tuned by a rounding policy (adaptive rounding refines them); power-of-two
    // grids keep their exponents, so only float32 scales are adjustable.
    [[nodiscard]] std::span<float> mutable_scales() noexcept { return scales_; }
    [[nodiscard]] std::span<const float> scales() const noexcept { return scales_; }
    [[nodiscard]] std::span<const std::int8_t> scale_exponents() const noexcept { return exponents_; }
    [[nodiscard]] std::span<const std::int16_t> zero_points() const noexcept { return zero_points_; }

private:
    std::size_t rows_ = 0, cols_ = 0;
    QuantSpec spec_{};
    LevelRange range_{};
    std::vector<float> scales_;
    std::vector<std::int8_t> exponents_;
    std::vector<std::int16_t> zero_points_;
};

/// A weight rounding policy: given the grid, choose a level for every weight (row-major).
/// It may adjust float scales through grid.mutable_scales().
template <class R>
concept WeightRounder = requires(R r, QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels) {
    { r(grid, w, levels) } -> std::same_as<Status>;
};

namespace rounding {
/// Round-to-nearest: each weight independently to its nearest level (ties to even).
struct Nearest {
    Status operator()(QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels) const {
        const std::size_t cols = grid.cols();
        for (std::size_t r = 0; r < grid.rows(); ++r)
            for (std::size_t c = 0; c < cols; ++c)
                levels[r * cols + c] = static_cast<std::int16_t>(grid.nearest_level(w[r * cols + c], r, c));
        return Status::ok;
    }
};
}  // namespace rounding

}  // namespace qslm
