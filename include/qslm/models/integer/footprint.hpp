#pragma once
// The memory an integer-only SpikeGPT (models::IntegerSpikeGpt) needs on a microcontroller,
// from its shape and the storage format of each weight matrix, without building the model:
// what `qslm info` and a search report for a target, and what docs/embedded.md tabulates.
//
//   flash (constant data; the program code comes on top — docs/embedded.md gives the measured
//   code size of the firmware example):
//     weights      packed levels of every matrix (ceil(bits * rows * cols / 8) bytes each) and
//                  its zero points (2 bytes per scale group, when it has them); the real-valued
//                  scales are not stored (folded into the multipliers on the host)
//     multipliers  one PackedMultiplier (4 bytes) per scale group of every matrix except the
//                  embedding (a binary embedding reads only signs)
//     vectors      Q16 int32: gamma/beta of LN0 and LN_out (4 C), and per block gamma/beta of
//                  LN1 and LN2, five token-shift mixes, u2 and w2 (11 C)
//     exp2 table   257 int32 (layers/integer/exp2.hpp)
//   RAM: the arena (IntegerSpikeGptLayout: membranes, RWKV state, activations, logits; there
//   are no spike buffers), plus the caller's stack.
//
// The numbers equal IntegerSpikeGpt::matrix_bytes() + vector_bytes() and arena_bytes() of the
// model built from the same shape and formats (tests/integer/test_integer_footprint.cpp checks
// it, and checks them against the sizes arm-none-eabi-size reports for the firmware).
//
// Embedded-safe and constexpr (the uniform form): no heap, no exceptions, no floating point.

#include <cstddef>
#include <span>

#include "qslm/core/result.hpp"
#include "qslm/core/status.hpp"
#include "qslm/layers/integer/exp2.hpp"
#include "qslm/layers/integer/linear.hpp"
#include "qslm/models/integer_spikegpt.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::models::integer {

/// How one weight matrix is stored: width (1..8), scale layout, zero points or not.
struct IntegerMatrixFormat {
    int bits = 4;
    ScaleLayout layout = ScaleLayout::per_channel();
    bool zero_points = false;
};

/// The lossless form of a binary embedding (only signs are used): 1 bit, one scale per tensor.
inline constexpr IntegerMatrixFormat binary_embedding_format{1, ScaleLayout::per_tensor(), false};

struct IntegerSpikeGptFootprint {
    std::size_t weight_bytes = 0;      ///< packed levels + zero points of every matrix
    std::size_t multiplier_bytes = 0;  ///< requantization multipliers
    std::size_t vector_bytes = 0;      ///< Q16 vectors (LayerNorms, mixes, u2, w2)
    std::size_t table_bytes = 0;       ///< the exp2 table
    IntegerSpikeGptLayout arena{};     ///< the RAM arena, by part (membrane_bytes(), ...)

    /// Constant data in flash (weights, multipliers, vectors, table), without program code.
    [[nodiscard]] constexpr std::size_t flash_bytes() const noexcept {
        return weight_bytes + multiplier_bytes + vector_bytes + table_bytes;
    }
    /// The arena (integer_spikegpt_arena_bytes()), without the stack.
    [[nodiscard]] constexpr std::size_t ram_bytes() const noexcept { return arena.total_bytes(); }
};

namespace detail {

/// Rows x cols of matrix m in SpikeGptModel::matrices() order (emb, 7 per block, head).
constexpr void matrix_shape(const IntegerSpikeGptDims& d, std::size_t m, std::size_t& rows, std::size_t& cols) noexcept {
    const std::size_t C = d.n_embd, H = d.ffn_hidden, V = d.vocab_size;
    if (m == 0 || m == 1 + 7 * d.n_layer) {  // embedding, head: [V][C]
        rows = V;
        cols = C;
        return;
    }
    switch ((m - 1) % 7) {
        case 4: rows = H; cols = C; return;  // ffn.key [H][C]
        case 6: rows = C; cols = H; return;  // ffn.value [C][H]
        default: rows = C; cols = C; return;  // att key/value/receptance/output, ffn.receptance
    }
}

constexpr void add_matrix(IntegerSpikeGptFootprint& f, std::size_t rows, std::size_t cols, const IntegerMatrixFormat& fmt,
                          bool multipliers) noexcept {
    f.weight_bytes += layers::integer::integer_matrix_bytes(rows, cols, fmt.bits, fmt.layout, fmt.zero_points);
    if (multipliers) f.multiplier_bytes += sizeof(layers::integer::PackedMultiplier) * fmt.layout.scale_count(rows, cols);
}

constexpr IntegerSpikeGptFootprint constant_parts(const IntegerSpikeGptDims& d) noexcept {
    IntegerSpikeGptFootprint f;
    f.vector_bytes = 4 * d.n_embd * (4 + 11 * d.n_layer);
    f.table_bytes = sizeof(layers::integer::exp2_table);
    f.arena = IntegerSpikeGptLayout{d.n_embd, d.ffn_hidden, d.vocab_size, d.n_layer};
    return f;
}

}  // namespace detail

/// Every matrix but the embedding in one format (e.g. 4-bit per-channel), the embedding in
/// `embedding` (default: the lossless binary form). Shapes are not validated (constexpr use);
/// the span overload validates.
[[nodiscard]] constexpr IntegerSpikeGptFootprint integer_spikegpt_footprint_uniform(
    const IntegerSpikeGptDims& dims, IntegerMatrixFormat format,
    IntegerMatrixFormat embedding = binary_embedding_format) noexcept {
    IntegerSpikeGptFootprint f = detail::constant_parts(dims);
    const std::size_t n = 2 + 7 * dims.n_layer;
    for (std::size_t m = 0; m < n; ++m) {
        std::size_t rows = 0, cols = 0;
        detail::matrix_shape(dims, m, rows, cols);
        detail::add_matrix(f, rows, cols, m == 0 ? embedding : format, m != 0);
    }
    return f;
}

/// One format per weight matrix, in SpikeGptModel::matrices() order: emb.weight, then for
/// each block att.key, att.value, att.receptance, att.output, ffn.key, ffn.receptance,
/// ffn.value, then head.weight (2 + 7 L entries). Fails with a sentence naming the problem for
/// a wrong count, a width outside 1..8, a bad scale layout or an empty shape.
[[nodiscard]] inline Result<IntegerSpikeGptFootprint> integer_spikegpt_footprint(
    const IntegerSpikeGptDims& dims, std::span<const IntegerMatrixFormat> formats) noexcept {
    if (dims.vocab_size == 0 || dims.n_embd == 0 || dims.ffn_hidden == 0 || dims.n_layer == 0)
        return Failure{Status::bad_shape, "integer SpikeGPT footprint: every dimension must be at least 1"};
    if (formats.size() != 2 + 7 * dims.n_layer)
        return Failure{Status::bad_shape,
                       "integer SpikeGPT footprint: need one format per weight matrix (2 + 7 * n_layer, "
                       "SpikeGptModel::matrices() order)"};
    IntegerSpikeGptFootprint f = detail::constant_parts(dims);
    for (std::size_t m = 0; m < formats.size(); ++m) {
        const IntegerMatrixFormat& fmt = formats[m];
        if (fmt.bits < 1 || fmt.bits > 8)
            return Failure{Status::bad_bit_width, "integer SpikeGPT footprint: a matrix width is outside 1..8 bits"};
        if (fmt.layout.check() != Status::ok)
            return Failure{Status::invalid_argument, "integer SpikeGPT footprint: a matrix has an invalid scale layout"};
        std::size_t rows = 0, cols = 0;
        detail::matrix_shape(dims, m, rows, cols);
        detail::add_matrix(f, rows, cols, fmt, m != 0);
    }
    return f;
}

}  // namespace qslm::models::integer
