#pragma once
// Scalar references of the five spike kernels. Each walks the same prepared layout as its SIMD
// version and produces the same integers (tests check every SIMD arch against these). They are
// also what a target without SIMD (Cortex-M, a build without xsimd) runs: no heap (a 4 KiB
// stack block per call at most), no floating point except event_scaled's float epilogue.
//
// Common contract: `out` receives, for every output row r,
//     sum over the active inputs c (within the given range) of level(r, c)
// written (or added, OutRef::add) modulo 2^width, which is exact (accumulator.hpp).

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qslm/kernels/accumulator.hpp"
#include "qslm/kernels/bitplane_weights.hpp"
#include "qslm/kernels/panel_weights.hpp"
#include "qslm/kernels/sparse_weights.hpp"

namespace qslm::kernels::scalar {

namespace detail {
inline constexpr std::size_t max_block_rows = 512;

// Reads word j (W bits) of a chunk; memcpy because chunks may sit in unaligned caller memory.
inline std::uint32_t chunk_word(const std::uint8_t* chunk, std::size_t j, int width) noexcept {
    if (width == 16) {
        std::uint16_t v;
        std::memcpy(&v, chunk + 2 * j, 2);
        return v;
    }
    std::uint32_t v;
    std::memcpy(&v, chunk + 4 * j, 4);
    return v;
}

// Adds mask * u of every field of one chunk to the block's accumulators (row order of the panel).
inline void add_chunk(const PanelWeightsView& w, const std::uint8_t* chunk, std::uint32_t mask, std::uint32_t* acc) noexcept {
    const int W = static_cast<int>(w.width), f = w.field_bits;
    const std::size_t wpc = w.words_per_chunk();
    const int fields = W / f;
    const std::uint32_t fmask = (1u << f) - 1u;
    for (std::size_t j = 0; j < wpc; ++j) {
        const std::uint32_t word = chunk_word(chunk, j, W) & mask;
        for (int k = 0; k < fields; ++k)
            acc[static_cast<std::size_t>(k) * wpc + j] += (word >> (k * f)) & fmask;
    }
}

// Writes a*S + z0*n for the rows of block b.
inline void finish_block(const PanelWeightsView& w, std::size_t b, const std::uint32_t* acc, std::size_t n, OutRef out) noexcept {
    const std::size_t r0 = b * w.block_rows();
    const std::size_t end = (r0 + w.block_rows() < w.rows) ? r0 + w.block_rows() : w.rows;
    const std::uint32_t bias = static_cast<std::uint32_t>(w.map.offset) * static_cast<std::uint32_t>(n);
    for (std::size_t r = r0; r < end; ++r)
        out.put(r, static_cast<std::int32_t>(static_cast<std::uint32_t>(w.map.scale) * acc[r - r0] + bias));
}
}  // namespace detail

/// Dense masked accumulate over inputs [c0, c1): every weight is read, masked by its spike bit.
inline void dense(const PanelWeightsView& w, const std::uint64_t* spikes, std::size_t c0, std::size_t c1, OutRef out) noexcept {
    std::uint32_t acc[detail::max_block_rows];
    std::size_t n = 0;
    for (std::size_t c = c0; c < c1; ++c) n += (spikes[c / 64] >> (c % 64)) & 1u;
    for (std::size_t b = 0; b < w.blocks(); ++b) {
        for (std::size_t i = 0; i < w.block_rows(); ++i) acc[i] = 0;
        for (std::size_t c = c0; c < c1; ++c) {
            const std::uint32_t mask = 0u - static_cast<std::uint32_t>((spikes[c / 64] >> (c % 64)) & 1u);
            detail::add_chunk(w, w.chunk(b, c), mask, acc);
        }
        detail::finish_block(w, b, acc, n, out);
    }
}

/// Event-driven: adds the columns of the `n` active inputs listed in `active`.
inline void event(const PanelWeightsView& w, const std::uint32_t* active, std::size_t n, OutRef out) noexcept {
    std::uint32_t acc[detail::max_block_rows];
    for (std::size_t b = 0; b < w.blocks(); ++b) {
        for (std::size_t i = 0; i < w.block_rows(); ++i) acc[i] = 0;
        for (std::size_t i = 0; i < n; ++i) detail::add_chunk(w, w.chunk(b, active[i]), ~0u, acc);
        detail::finish_block(w, b, acc, n, out);
    }
}

/// Event-driven with the scales applied (the float epilogue of a scaled layer): `ngroups` scale
/// groups, group i's active inputs at active[bounds[i], bounds[i + 1]); for every row r,
///     y[r] = init[r] (0 without init); then for i = 0, 1, ...:
///     y[r] = y[r] + scales[i * stride + r] * float(sum_i(r) - zero_points[i * stride + r] * n_i)
/// with sum_i(r) group i's level sum, n_i its spike count, one float multiply and one float add
/// per group (never fused), in group order: the float operations of SpikingLinear's scalar walk.
/// `zero_points` may be null (zero); `init` may equal `y`.
inline void event_scaled(const PanelWeightsView& w, const std::uint32_t* active, const std::uint32_t* bounds, std::size_t ngroups,
                         const float* scales, const std::int16_t* zero_points, std::size_t stride, const float* init, float* y) noexcept {
    std::uint32_t acc[detail::max_block_rows];
    float yb[detail::max_block_rows];
    for (std::size_t b = 0; b < w.blocks(); ++b) {
        const std::size_t r0 = b * w.block_rows();
        const std::size_t valid = (r0 + w.block_rows() < w.rows) ? w.block_rows() : w.rows - r0;
        for (std::size_t i = 0; i < valid; ++i) yb[i] = init != nullptr ? init[r0 + i] : 0.0f;
        for (std::size_t g = 0; g < ngroups; ++g) {
            for (std::size_t i = 0; i < w.block_rows(); ++i) acc[i] = 0;
            const std::uint32_t n = bounds[g + 1] - bounds[g];
            for (std::uint32_t i = bounds[g]; i < bounds[g + 1]; ++i) detail::add_chunk(w, w.chunk(b, active[i]), ~0u, acc);
            const std::uint32_t bias = static_cast<std::uint32_t>(w.map.offset) * n;
            for (std::size_t i = 0; i < valid; ++i) {
                const std::size_t r = r0 + i;
                auto centred = static_cast<std::int32_t>(static_cast<std::uint32_t>(w.map.scale) * acc[i] + bias);
                if (zero_points != nullptr) centred -= static_cast<std::int32_t>(zero_points[g * stride + r]) * static_cast<std::int32_t>(n);
                const float prod = scales[g * stride + r] * static_cast<float>(centred);
                yb[i] = yb[i] + prod;
            }
        }
        for (std::size_t i = 0; i < valid; ++i) y[r0 + i] = yb[i];
    }
}

/// Temporal-parallel: `temporal_words[c]` holds the steps (bit t) at which input c fires;
/// `active` lists the n inputs whose word is nonzero, `counts[t]` the spikes at step t (over
/// those inputs). Each active column is read and unpacked once and added to every step it fires
/// in. out[t * step_stride + r] receives step t.
inline void temporal(const PanelWeightsView& w, const std::uint64_t* temporal_words, std::size_t steps, const std::uint32_t* active,
                     std::size_t n, const std::uint32_t* counts, OutRef out, std::size_t step_stride) noexcept {
    for (std::size_t t = 0; t < steps; ++t)
        for (std::size_t r = 0; r < w.rows; ++r)
            out.offset(t * step_stride).put(r, static_cast<std::int32_t>(static_cast<std::uint32_t>(w.map.offset) * counts[t]));
    OutRef add = out;
    add.add = true;
    std::uint32_t u[detail::max_block_rows];
    for (std::size_t b = 0; b < w.blocks(); ++b) {
        const std::size_t r0 = b * w.block_rows();
        const std::size_t valid = (r0 + w.block_rows() < w.rows) ? w.block_rows() : w.rows - r0;
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < w.block_rows(); ++j) u[j] = 0;
            detail::add_chunk(w, w.chunk(b, active[i]), ~0u, u);
            for (std::uint64_t bits = temporal_words[active[i]]; bits != 0; bits &= bits - 1) {
                const OutRef step = add.offset(static_cast<std::size_t>(std::countr_zero(bits)) * step_stride + r0);
                for (std::size_t j = 0; j < valid; ++j)
                    step.put(j, static_cast<std::int32_t>(static_cast<std::uint32_t>(w.map.scale) * u[j]));
            }
        }
    }
}

/// Bit-plane AND + popcount over spike words [w0, w1) (n = spikes in that range): for every tile
/// of 64 rows, every plane and every nonzero spike byte, adds popcount(plane byte AND spike
/// byte) << plane to the row.
inline void bitplane(const BitplaneWeightsView& w, const std::uint64_t* spikes, std::size_t w0, std::size_t w1, std::size_t n,
                     OutRef out) noexcept {
    std::uint32_t acc[bitplane_tile_rows];
    const std::uint32_t bias = static_cast<std::uint32_t>(w.map.offset) * static_cast<std::uint32_t>(n);
    const std::size_t b0 = 8 * w0, b1 = (8 * w1 < w.spike_bytes()) ? 8 * w1 : w.spike_bytes();
    for (std::size_t tile = 0; tile < w.tiles(); ++tile) {
        for (auto& a : acc) a = 0;
        for (int p = 0; p < w.bits; ++p)
            for (std::size_t j = b0; j < b1; ++j) {
                const auto s = static_cast<std::uint8_t>(spikes[j / 8] >> (8 * (j % 8)));
                if (s == 0) continue;  // a silent byte of inputs contributes nothing
                const std::uint8_t* stripe = w.stripe(tile, p, j);
                for (std::size_t i = 0; i < bitplane_tile_rows; ++i)
                    acc[i] += static_cast<std::uint32_t>(std::popcount(static_cast<unsigned>(stripe[i] & s))) << p;
            }
        const std::size_t r0 = tile * bitplane_tile_rows;
        const std::size_t len = (w.rows - r0 < bitplane_tile_rows) ? w.rows - r0 : bitplane_tile_rows;
        for (std::size_t i = 0; i < len; ++i)
            out.put(r0 + i, static_cast<std::int32_t>(static_cast<std::uint32_t>(w.map.scale) * acc[i] + bias));
    }
}

/// Dual-sparse: for each active input, adds only that column's nonzero levels (tile by tile:
/// the mask's set bits, in order, are the rows of the packed levels).
inline void dual_sparse(const SparseWeightsView& w, const std::uint32_t* active, std::size_t n, OutRef out) noexcept {
    std::uint32_t acc[detail::max_block_rows];
    constexpr std::size_t tiles_per_block = detail::max_block_rows / sparse_tile_rows;
    const std::size_t tiles = w.tiles();
    for (std::size_t t0 = 0; t0 < tiles; t0 += tiles_per_block) {
        const std::size_t t1 = (t0 + tiles_per_block < tiles) ? t0 + tiles_per_block : tiles;
        for (auto& a : acc) a = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t c = active[i];
            for (std::size_t t = t0; t < t1; ++t) {
                std::uint32_t e = w.start[c * tiles + t];
                std::uint32_t* tile_acc = acc + (t - t0) * sparse_tile_rows;
                for (std::uint64_t m = w.mask[c * tiles + t]; m != 0; m &= m - 1)
                    tile_acc[std::countr_zero(m)] += static_cast<std::uint32_t>(static_cast<std::int32_t>(w.level[e++]));
            }
        }
        const std::size_t r0 = t0 * sparse_tile_rows;
        const std::size_t r1 = (t1 * sparse_tile_rows < w.rows) ? t1 * sparse_tile_rows : w.rows;
        for (std::size_t r = r0; r < r1; ++r) out.put(r, static_cast<std::int32_t>(acc[r - r0]));
    }
}

}  // namespace qslm::kernels::scalar
