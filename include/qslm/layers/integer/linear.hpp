#pragma once
// Integer-only y = W x for packed weights W and fixed-point inputs x, requantized to a fixed-point
// output with one FixedMultiplier per scale group: no floating point at run time.
//
//   y[r] = sum over scale groups g of row r:  M_g * ( sum_{c in g} (level[r][c] - zp_g) * x[c] )
//
// x holds Fixed<> raws with F_in fractional bits (int16 or int32), levels are the packed integer
// codes decoded by the view's encoding, the group sum is exact in int64 (|level - zp| <= 2^8,
// |x| < 2^31, at most 2^14 inputs: below 2^53), and M_g ~= scale_g * 2^(F_out - F_in) (times any
// constant the caller folds in, e.g. log2 e) is a FixedMultiplier computed once on the host
// (io/integer/prepare_spikegpt.hpp) with `multiplier_bits` (24) mantissa bits and stored in
// 4 bytes (PackedMultiplier). requantize() keeps the product below 2^62.
//
// Matrices come in two kinds with one interface, visit(f) -> f(PackedTensorView<B, E>):
//   StaticMatrix<View>  width and encoding are part of the type (generated firmware headers);
//   RuntimeMatrix       width and encoding chosen at run time (.qslm files): one switch per
//                       matrix per call, never per weight.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/fixed_multiplier.hpp"
#include "qslm/core/op_counts.hpp"
#include "qslm/core/rounding.hpp"
#include "qslm/core/status.hpp"
#include "qslm/layers/integer/formats.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::layers::integer {

/// y (rows int32, saturated) = requantized W x; x has w.cols() int16 entries.
/// m * acc for any |acc| < 2^62: accumulators wider than 2^38 are first rounded down to 38
/// significant bits (and the shift reduced to match), so the product never exceeds 2^62. This is
/// a pure integer rule, identical on every target; below 2^38 the result is exact-then-rounded.
[[nodiscard]] constexpr std::int64_t requantize(std::int64_t acc, FixedMultiplier m) noexcept {
    constexpr std::int64_t limit = std::int64_t{1} << 38;
    int extra = 0;
    for (std::int64_t a = acc < 0 ? -acc : acc; a >= limit; a >>= 1) ++extra;
    if (extra == 0) return m.apply(acc);
    const std::int64_t reduced = rounding::NearestEven::shift_right(acc, extra);
    return rounding::NearestEven::shift_right(reduced * m.multiplier, m.shift - extra);
}

/// A requantization multiplier in 4 bytes of flash instead of FixedMultiplier's 8: the
/// `multiplier_bits` (24) mantissa in the high 24 bits, the shift as int8 in the low 8. The
/// host builds it (pack(), io/integer/prepare_spikegpt.hpp); matvec unpacks one per scale
/// group, never per weight. One per scale group of every matrix, so for per-group layouts it is
/// the main overhead after the levels (half a bit per weight at group 64).
struct PackedMultiplier {
    std::uint32_t bits = 0;

    /// The packed form of m, whose multiplier must be below 2^24 and shift in [-128, 127];
    /// a mantissa of exactly 2^24 (rounding carried) is renormalised, which changes no result.
    [[nodiscard]] static constexpr bool fits(FixedMultiplier m) noexcept {
        const FixedMultiplier n = normalized(m);
        return n.multiplier >= 0 && n.multiplier < (std::int32_t{1} << multiplier_bits) && n.shift >= -128 && n.shift <= 127;
    }
    /// Precondition: fits(m).
    [[nodiscard]] static constexpr PackedMultiplier pack(FixedMultiplier m) noexcept {
        const FixedMultiplier n = normalized(m);
        return {(static_cast<std::uint32_t>(n.multiplier) << 8) | static_cast<std::uint8_t>(static_cast<std::int8_t>(n.shift))};
    }
    [[nodiscard]] constexpr FixedMultiplier unpack() const noexcept {
        return {static_cast<std::int32_t>(bits >> 8), static_cast<std::int8_t>(static_cast<std::uint8_t>(bits & 0xFFu))};
    }

private:
    static constexpr FixedMultiplier normalized(FixedMultiplier m) noexcept {
        // multiplier * 2^-shift is unchanged and every apply() rounds the same exact value.
        if (m.multiplier == (std::int32_t{1} << multiplier_bits)) return {m.multiplier / 2, m.shift - 1};
        return m;
    }
};

template <int Bits, class Encoding, class In>
constexpr void matvec_requantize(const PackedTensorView<Bits, Encoding>& w, std::span<const PackedMultiplier> multipliers,
                                 const In* x, std::int32_t* y, OpCounts* counts = nullptr) noexcept {
    const std::size_t rows = w.rows(), cols = w.cols();
    const ScaleLayout layout = w.layout();
    const std::size_t group = layout.granularity == Granularity::per_group ? layout.group_size : cols;
    const bool zero_points = w.has_zero_points();
    const std::uint8_t* payload = w.payload().data();
    const std::size_t payload_size = w.payload().size();
    for (std::size_t r = 0; r < rows; ++r) {
        std::int64_t out = 0;
        const std::size_t base = r * cols;
        for (std::size_t c0 = 0; c0 < cols; c0 += group) {
            const std::size_t c1 = c0 + group < cols ? c0 + group : cols;
            std::int64_t acc = 0, sum_x = 0;
            for (std::size_t c = c0; c < c1; ++c) {
                const int level = Encoding::template decode<Bits>(bits::read_field(payload, payload_size, base + c, Bits));
                acc += std::int64_t{level} * x[c];
                if (zero_points) sum_x += x[c];
            }
            const std::size_t s = w.scale_index(r, c0);
            if (zero_points) acc -= std::int64_t{w.zero_point(s)} * sum_x;
            out += requantize(acc, multipliers[s].unpack());
        }
        y[r] = saturate_raw<State>(out);
    }
    if (counts != nullptr) {
        counts->multiply_accumulates += rows * cols;
        counts->multiplies += rows * layout.groups_per_row(cols);
        counts->weight_bits_read += static_cast<std::uint64_t>(rows * cols) * Bits;
    }
}

/// PackedTensorView::check() for the integer path: the same rules on shape, layout, payload and
/// zero points, except that the real-valued scales may be absent. The integer path never reads
/// them (the host folds them into the multipliers, io/integer/prepare_spikegpt.hpp), so a
/// generated firmware header leaves them out of flash (io/integer/header_model.hpp).
template <int Bits, class Encoding>
[[nodiscard]] constexpr Status check_levels(const PackedTensorView<Bits, Encoding>& v) noexcept {
    if (!v.scales().empty() || !v.scale_exponents().empty()) return v.check();
    if (v.rows() == 0 || v.cols() == 0 || v.rows() > max_tensor_elements / v.cols()) return Status::bad_shape;
    if (const Status s = v.layout().check(); s != Status::ok) return s;
    if (v.payload().size() != bits::packed_bytes(v.size(), Bits)) return Status::corrupt_data;
    if (v.has_zero_points()) {
        if (v.zero_points().size() != v.scale_count()) return Status::corrupt_data;
        for (const std::int16_t z : v.zero_points())
            if (z < PackedTensorView<Bits, Encoding>::min_level || z > PackedTensorView<Bits, Encoding>::max_level)
                return Status::out_of_range;
    }
    return Status::ok;
}

/// Bytes the integer path stores of a packed matrix: payload and zero points (2 bytes each); its
/// multipliers are counted apart (4 bytes per scale group), its real-valued scales not at all.
[[nodiscard]] constexpr std::size_t integer_matrix_bytes(std::size_t rows, std::size_t cols, int bits, ScaleLayout layout,
                                                         bool zero_points) noexcept {
    return bits::packed_bytes(rows * cols, bits) + (zero_points ? 2 * layout.scale_count(rows, cols) : 0);
}

/// A matrix whose width and encoding are compile-time constants (its View type). The view's
/// scales may be empty (check_levels()).
template <class View>
struct StaticMatrix {
    View weights;
    std::span<const PackedMultiplier> multipliers;  ///< one per scale group (weights.scale_count())

    template <class F>
    constexpr Status visit(F&& f) const noexcept {
        f(weights);
        return Status::ok;
    }
    [[nodiscard]] constexpr std::size_t rows() const noexcept { return weights.rows(); }
    [[nodiscard]] constexpr std::size_t cols() const noexcept { return weights.cols(); }
    /// Payload and zero points (integer_matrix_bytes()).
    [[nodiscard]] constexpr std::size_t bytes() const noexcept {
        return integer_matrix_bytes(rows(), cols(), View::bits, weights.layout(), weights.has_zero_points());
    }
    [[nodiscard]] constexpr Status check() const noexcept {
        if (const Status s = check_levels(weights); s != Status::ok) return s;
        return multipliers.size() == weights.scale_count() ? Status::ok : Status::corrupt_data;
    }
};

/// How codes stand for levels (same numbering as the .qslm file's encoding field).
enum class LevelCode : std::uint8_t { signed_levels = 0, unsigned_levels = 1, bipolar = 2, ternary = 3 };

/// A matrix whose width (1..8) and encoding are known only at run time (a loaded .qslm model).
struct RuntimeMatrix {
    int bits = 0;
    LevelCode code = LevelCode::signed_levels;
    std::size_t n_rows = 0, n_cols = 0;
    ScaleLayout layout{};
    std::span<const std::uint8_t> payload{};
    std::span<const float> scales{};            ///< carried for check() only; never read by the integer path
    std::span<const std::int8_t> exponents{};
    std::span<const std::int16_t> zero_points{};
    std::span<const PackedMultiplier> multipliers{};

    /// Calls f(PackedTensorView<B, E>) once for the stored width and encoding.
    template <class F>
    constexpr Status visit(F&& f) const noexcept {
        switch (code) {
            case LevelCode::bipolar:
                if (bits == 1) return call<1, encoding::Bipolar>(f);
                return Status::bad_bit_width;
            case LevelCode::ternary:
                if (bits == 2) return call<2, encoding::Ternary>(f);
                return Status::bad_bit_width;
            case LevelCode::signed_levels: return by_width<encoding::Signed>(f);
            case LevelCode::unsigned_levels: return by_width<encoding::Unsigned>(f);
        }
        return Status::invalid_argument;
    }
    [[nodiscard]] constexpr std::size_t rows() const noexcept { return n_rows; }
    [[nodiscard]] constexpr std::size_t cols() const noexcept { return n_cols; }
    /// Payload and zero points (integer_matrix_bytes()), as for StaticMatrix.
    [[nodiscard]] constexpr std::size_t bytes() const noexcept {
        return bits >= 1 && bits <= 8 ? integer_matrix_bytes(n_rows, n_cols, bits, layout, !zero_points.empty()) : 0;
    }
    [[nodiscard]] constexpr Status check() const noexcept {
        Status inner = Status::ok;
        const Status s = visit([&](const auto& v) {
            inner = check_levels(v);
            if (inner == Status::ok && multipliers.size() != v.scale_count()) inner = Status::corrupt_data;
        });
        return s != Status::ok ? s : inner;
    }

private:
    template <int B, class E, class F>
    constexpr Status call(F& f) const noexcept {
        f(PackedTensorView<B, E>(unchecked, n_rows, n_cols, layout, payload, scales, exponents, zero_points));
        return Status::ok;
    }
    template <class E, class F>
    constexpr Status by_width(F& f) const noexcept {
        switch (bits) {
            case 1: return call<1, E>(f);
            case 2: return call<2, E>(f);
            case 3: return call<3, E>(f);
            case 4: return call<4, E>(f);
            case 5: return call<5, E>(f);
            case 6: return call<6, E>(f);
            case 7: return call<7, E>(f);
            case 8: return call<8, E>(f);
            default: return Status::bad_bit_width;
        }
    }
};

/// y = requantized M x for either kind of matrix.
template <class Matrix, class In>
constexpr Status matvec(const Matrix& m, const In* x, std::int32_t* y, OpCounts* counts = nullptr) noexcept {
    return m.visit([&](const auto& view) { matvec_requantize(view, m.multipliers, x, y, counts); });
}

}  // namespace qslm::layers::integer
