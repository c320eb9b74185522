#pragma once
// The prepared ("repacked") form of a low-bit weight matrix that the real-valued GEMV
// (lowbit_gemv.hpp) reads, and how to build it from a PackedTensorView into caller bytes.
//
// Layout. Rows come in tiles of 16 (the int32 lanes of one AVX-512 register, two AVX2 or four
// NEON registers); columns are padded with zero fields to a multiple of the activation block (32).
// Every weight is stored as its biased field u = (level - z0) / a (level_map.hpp: a = 2 for
// Bipolar, else 1; z0 = the smallest level), so it is an unsigned byte for vpdpbusd's u8 x s8 and a
// shift-and-mask unpack, in fields of f = 2, 4 or 8 bits (1-2 bits in 2, 3-4 in 4, 5-8 in 8), P = 8/f
// fields per byte. Chunk k of tile t is 64 bytes at `(t * chunks + k) * 64`, chunks = cols_padded / (4P);
// byte 4i + j of a chunk belongs to row 16t + i, and its field s holds column 4Pk + 4s + j. So one
// shift-and-mask of a 64-byte load yields, in every 32-bit lane, four consecutive columns of one row:
// exactly the operand of one vpdpbusd / vpmaddubsw+vpmaddwd / sdot against four broadcast int8 inputs.
//
// After the weights (all sections start on a 64-byte boundary of the prepared bytes):
//   scales   float, [tile][group][16 lanes]: the float scale of row 16t+i in scale group g
//            (power-of-two scales are converted exactly; padding rows get 0);
//   offsets  int32, [tile][group][16 lanes], only with zero points: z0 - zero_point, so that
//            sum level*x - zp * sum x = a * sum u*x + offset * sum x stays an integer.
// Without zero points the offset is z0 for every row. A per-tensor or per-channel layout has one
// group per row, and so does a per-group layout whose group size is >= cols.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "qslm/core/result.hpp"
#include "qslm/kernels/level_map.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"
#include "qslm/tensor/scale_layout.hpp"

namespace qslm::kernels {

inline constexpr std::size_t gemv_tile_rows = 16;  ///< rows per tile (int32 lanes of one zmm)
inline constexpr std::size_t gemv_block = 32;      ///< inputs per int8 activation block (one scale each)

/// Field width the GEMV stores a `bits`-wide weight in.
constexpr int gemv_field_bits(int bits) noexcept { return bits <= 2 ? 2 : bits <= 4 ? 4 : 8; }

constexpr std::size_t gemv_round_up(std::size_t n, std::size_t m) noexcept { return (n + m - 1) / m * m; }

/// Shape facts of a prepared matrix; computed from (rows, cols, bits, layout, zero points) alone,
/// so a caller can size a buffer (prepared_bytes) before preparing into it.
struct LowBitShape {
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t cols_padded = 0;  ///< cols rounded up to gemv_block
    std::size_t tiles = 0;        ///< ceil(rows / 16)
    std::size_t groups = 1;       ///< scale groups per row as stored
    std::size_t group_cols = 0;   ///< columns per stored group (cols when one group)
    int bits = 0;
    int field_bits = 0;
    bool zero_points = false;
    LevelMap map{};

    [[nodiscard]] constexpr std::size_t weight_bytes() const noexcept { return tiles * cols_padded * 2 * static_cast<std::size_t>(field_bits); }
    [[nodiscard]] constexpr std::size_t scale_offset() const noexcept { return gemv_round_up(weight_bytes(), 64); }
    [[nodiscard]] constexpr std::size_t scale_count() const noexcept { return tiles * groups * gemv_tile_rows; }
    [[nodiscard]] constexpr std::size_t offset_offset() const noexcept {
        return gemv_round_up(scale_offset() + scale_count() * sizeof(float), 64);
    }
    [[nodiscard]] constexpr std::size_t prepared_bytes() const noexcept {
        return zero_points ? offset_offset() + scale_count() * sizeof(std::int32_t) : scale_offset() + scale_count() * sizeof(float);
    }
    /// The SIMD kernels need each scale group to be whole activation blocks (or one group per row).
    [[nodiscard]] constexpr bool block_aligned_groups() const noexcept { return groups == 1 || group_cols % gemv_block == 0; }
    [[nodiscard]] constexpr std::size_t blocks() const noexcept { return cols_padded / gemv_block; }

    template <int Bits, class Encoding>
    static constexpr LowBitShape of(std::size_t rows, std::size_t cols, ScaleLayout layout, bool zero_points) noexcept {
        LowBitShape s;
        s.rows = rows;
        s.cols = cols;
        s.cols_padded = gemv_round_up(cols, gemv_block);
        s.tiles = (rows + gemv_tile_rows - 1) / gemv_tile_rows;
        const bool grouped = layout.granularity == Granularity::per_group && layout.group_size < cols;
        s.groups = grouped ? layout.groups_per_row(cols) : 1;
        s.group_cols = grouped ? layout.group_size : cols;
        s.bits = Bits;
        s.field_bits = gemv_field_bits(Bits);
        s.zero_points = zero_points;
        s.map = level_map<Bits, Encoding>();
        return s;
    }
};

/// Read-only view of prepared bytes (owned by a LowBitMatrix or by the caller).
struct LowBitWeightsView {
    LowBitShape shape{};
    const std::uint8_t* weights = nullptr;     ///< shape.weight_bytes()
    const float* scales = nullptr;             ///< shape.scale_count()
    const std::int32_t* offsets = nullptr;     ///< shape.scale_count(), or null without zero points

    /// The biased field u of weight (r, c) (the scalar reference and the slow path read it this way).
    [[nodiscard]] constexpr unsigned field(std::size_t r, std::size_t c) const noexcept {
        const std::size_t f = static_cast<std::size_t>(shape.field_bits), P = 8 / f, span = 4 * P;
        const std::size_t chunk = c / span, s = (c % span) / 4, j = c % 4;
        const std::size_t t = r / gemv_tile_rows, i = r % gemv_tile_rows;
        const std::uint8_t byte = weights[(t * (shape.cols_padded / span) + chunk) * 64 + 4 * i + j];
        return (static_cast<unsigned>(byte) >> (s * f)) & ((1u << f) - 1u);
    }
    [[nodiscard]] constexpr float scale(std::size_t r, std::size_t g) const noexcept {
        return scales[((r / gemv_tile_rows) * shape.groups + g) * gemv_tile_rows + r % gemv_tile_rows];
    }
    [[nodiscard]] constexpr std::int32_t offset(std::size_t r, std::size_t g) const noexcept {
        return offsets ? offsets[((r / gemv_tile_rows) * shape.groups + g) * gemv_tile_rows + r % gemv_tile_rows]
                       : shape.map.offset;
    }
};

/// Repacks `w` into `out` (at least LowBitShape::prepared_bytes(), 4-byte aligned; 64 is best).
/// No heap: usable on a device that prepares from flash into RAM once.
template <int Bits, class Encoding>
Result<LowBitWeightsView> prepare_lowbit_into(const PackedTensorView<Bits, Encoding>& w, std::span<std::byte> out) noexcept {
    if (const Status s = w.check(); s != Status::ok) return Failure{s, "the packed tensor is inconsistent (see PackedTensorView::check)"};
    const LowBitShape shape = LowBitShape::of<Bits, Encoding>(w.rows(), w.cols(), w.layout(), w.has_zero_points());
    if (out.size() < shape.prepared_bytes()) return Failure{Status::buffer_too_small, "prepared GEMV buffer is smaller than prepared_bytes()"};
    if (reinterpret_cast<std::uintptr_t>(out.data()) % alignof(float) != 0)
        return Failure{Status::invalid_argument, "prepared GEMV buffer must be at least 4-byte aligned"};
    auto* base = reinterpret_cast<std::uint8_t*>(out.data());
    std::memset(base, 0, shape.prepared_bytes());
    const std::size_t f = static_cast<std::size_t>(shape.field_bits), P = 8 / f, span = 4 * P;
    const std::size_t chunks = shape.cols_padded / span;
    for (std::size_t r = 0; r < w.rows(); ++r) {
        const std::size_t t = r / gemv_tile_rows, i = r % gemv_tile_rows;
        for (std::size_t c = 0; c < w.cols(); ++c) {
            const unsigned u = shape.map.field(w.level(r, c));
            const std::size_t chunk = c / span, s = (c % span) / 4, j = c % 4;
            base[(t * chunks + chunk) * 64 + 4 * i + j] |= static_cast<std::uint8_t>(u << (s * f));
        }
    }
    auto* scales = reinterpret_cast<float*>(base + shape.scale_offset());
    auto* offsets = shape.zero_points ? reinterpret_cast<std::int32_t*>(base + shape.offset_offset()) : nullptr;
    for (std::size_t r = 0; r < w.rows(); ++r)
        for (std::size_t g = 0; g < shape.groups; ++g) {
            const std::size_t si = w.scale_index(r, g * shape.group_cols);
            const std::size_t at = ((r / gemv_tile_rows) * shape.groups + g) * gemv_tile_rows + r % gemv_tile_rows;
            scales[at] = w.scale(si);
            if (offsets) offsets[at] = shape.map.offset - w.zero_point(si);
        }
    return LowBitWeightsView{shape, base, scales, offsets};
}

}  // namespace qslm::kernels
