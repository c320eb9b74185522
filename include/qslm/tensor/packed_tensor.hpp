#pragma once
// PackedTensor<Bits, Encoding>: owns a low-bit weight matrix, packed densely (Bits per value,
// no padding), with its scales. Made by quantizing float weights with a rounding policy, or
// from levels computed elsewhere (a file, GPTQ). Everything that reads weights takes a
// PackedTensorView, which a PackedTensor hands out for free.
//
//   auto w = qslm::PackedTensor<4>::quantize(floats, rows, cols, {.layout = ScaleLayout::per_group(64)});
//   if (!w) return w.status();
//   float x = w->view().dequantized(0, 0);

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "qslm/core/bit_packing.hpp"
#include "qslm/core/result.hpp"
#include "qslm/tensor/encoding.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"
#include "qslm/tensor/quant_grid.hpp"
#include "qslm/tensor/scale_layout.hpp"

namespace qslm {

template <int Bits, class Encoding = default_encoding_t<Bits>>
class PackedTensor {
public:
    using view_type = PackedTensorView<Bits, Encoding>;
    static constexpr int bits = Bits;
    using encoding = Encoding;
    static constexpr int min_level = view_type::min_level;
    static constexpr int max_level = view_type::max_level;

    PackedTensor() = default;

    /// Quantizes rows x cols float weights (row-major). The rounding policy picks the levels;
    /// the default is round-to-nearest. Values beyond the grid saturate to the extreme level.
    template <WeightRounder Rounder = rounding::Nearest>
    static Result<PackedTensor> quantize(std::span<const float> weights, std::size_t rows, std::size_t cols,
                                         const QuantSpec& spec = {}, Rounder&& rounder = {}) {
        auto grid = QuantGrid::fit(weights, rows, cols, spec, LevelRange::of<Bits, Encoding>());
        if (!grid) return grid.failure();
        std::vector<std::int16_t> levels(rows * cols);
        if (const Status s = rounder(*grid, weights, levels); s != Status::ok)
            return Failure{s, "the rounding policy failed"};
        return from_grid(*grid, levels);
    }

    /// Packs levels already chosen on `grid` (one per weight, row-major).
    static Result<PackedTensor> from_grid(const QuantGrid& grid, std::span<const std::int16_t> levels) {
        const std::span<const std::int16_t> zps = grid.zero_points();
        if (grid.spec().scale_format == ScaleFormat::power_of_two)
            return from_levels_impl(levels, grid.rows(), grid.cols(), grid.spec().layout, {}, grid.scale_exponents(), zps);
        return from_levels_impl(levels, grid.rows(), grid.cols(), grid.spec().layout, grid.scales(), {}, zps);
    }

    /// Packs explicit levels with float32 scales. Levels outside [min_level, max_level] (or 0
    /// for Bipolar) are rejected with out_of_range rather than silently wrapped.
    static Result<PackedTensor> from_levels(std::span<const std::int16_t> levels, std::size_t rows, std::size_t cols,
                                            ScaleLayout layout, std::span<const float> scales,
                                            std::span<const std::int16_t> zero_points = {}) {
        return from_levels_impl(levels, rows, cols, layout, scales, {}, zero_points);
    }
    /// Same, with power-of-two scales given as exponents.
    static Result<PackedTensor> from_levels_power_of_two(std::span<const std::int16_t> levels, std::size_t rows,
                                                         std::size_t cols, ScaleLayout layout,
                                                         std::span<const std::int8_t> exponents,
                                                         std::span<const std::int16_t> zero_points = {}) {
        return from_levels_impl(levels, rows, cols, layout, {}, exponents, zero_points);
    }

    [[nodiscard]] view_type view() const noexcept {
        return view_type(unchecked, rows_, cols_, layout_, payload_, scales_, exponents_, zero_points_);
    }
    operator view_type() const noexcept { return view(); }  // NOLINT: a tensor is usable wherever a view is

    [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
    [[nodiscard]] std::size_t cols() const noexcept { return cols_; }
    [[nodiscard]] std::size_t size() const noexcept { return rows_ * cols_; }
    [[nodiscard]] ScaleLayout layout() const noexcept { return layout_; }
    [[nodiscard]] std::size_t bytes() const noexcept { return view().bytes(); }
    [[nodiscard]] int level(std::size_t r, std::size_t c) const noexcept { return view().level(r, c); }
    [[nodiscard]] float dequantized(std::size_t r, std::size_t c) const noexcept { return view().dequantized(r, c); }
    [[nodiscard]] std::vector<float> dequantize() const {
        std::vector<float> out(size());
        (void)view().dequantize(out);
        return out;
    }
    [[nodiscard]] std::vector<std::int16_t> levels() const {
        std::vector<std::int16_t> out(size());
        (void)view().unpack(std::span<std::int16_t>(out));
        return out;
    }

private:
    static Result<PackedTensor> from_levels_impl(std::span<const std::int16_t> levels, std::size_t rows,
                                                 std::size_t cols, ScaleLayout layout, std::span<const float> scales,
                                                 std::span<const std::int8_t> exponents,
                                                 std::span<const std::int16_t> zero_points) {
        if (rows == 0 || cols == 0 || rows > max_tensor_elements / cols)
            return Failure{Status::bad_shape, "tensor shape is empty or has more than 2^28 elements"};
        if (levels.size() != rows * cols) return Failure{Status::bad_shape, "number of levels differs from rows x cols"};
        PackedTensor t;
        t.rows_ = rows;
        t.cols_ = cols;
        t.layout_ = layout;
        t.scales_.assign(scales.begin(), scales.end());
        t.exponents_.assign(exponents.begin(), exponents.end());
        t.zero_points_.assign(zero_points.begin(), zero_points.end());
        t.payload_.assign(bits::packed_bytes(rows * cols, Bits), 0);
        for (std::size_t i = 0; i < levels.size(); ++i) {
            const int l = levels[i];
            if (l < min_level || l > max_level || (!qslm::encoding::has_zero_level<Encoding> && l == 0))
                return Failure{Status::out_of_range, "a level lies outside what this bit-width and encoding represent"};
            bits::write_field(t.payload_.data(), t.payload_.size(), i, Bits, Encoding::template encode<Bits>(l));
        }
        if (const Status s = t.view().check(); s != Status::ok)
            return Failure{s, s == Status::bad_group_size ? "per-group scales need a group size of at least 1"
                              : s == Status::out_of_range ? "a zero point lies outside the representable levels"
                                                          : "scale or zero-point count does not match the layout"};
        return t;
    }

    std::size_t rows_ = 0, cols_ = 0;
    ScaleLayout layout_{};
    std::vector<std::uint8_t> payload_;
    std::vector<float> scales_;
    std::vector<std::int8_t> exponents_;
    std::vector<std::int16_t> zero_points_;
};

}  // namespace qslm
