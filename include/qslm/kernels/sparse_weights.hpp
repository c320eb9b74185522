#pragma once
// Bitmap-compressed sparse weights for the dual-sparse kernel: only nonzero levels are stored,
// so pruned weights cost no work, and the kernel walks the active inputs (sparse spikes) and, for
// each, only that column's nonzeros (sparse weights).
//
// Why bitmaps and not CSC row indices: a tile of 64 rows of one column is described by one 64-bit
// mask (bit i: row tile*64 + i is nonzero) and its nonzero levels in row order. A SIMD kernel
// expands the packed levels back into their row lanes with the mask (AVX-512 vpexpandd: no
// scatter, no per-nonzero index) and adds whole registers, where CSC needs a gather/scatter or a
// scalar read-modify-write per nonzero. The mask also costs 1 bit per weight instead of 32 bits
// per nonzero of a row index.
//
//   mask[c * tiles + t]       nonzero rows of tile t of column c
//   start[c * tiles + t]      index in `level` of that tile's first nonzero (start[cols * tiles] = nonzeros)
//   level[e]                  the nonzero levels, column by column, tile by tile, rows ascending;
//                             followed by sparse_level_padding zeros, so that a kernel may load a
//                             whole register at any tile's start
//
// Levels are stored as they are (not biased): a zero level is exactly what pruning removed.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "qslm/core/result.hpp"
#include "qslm/kernels/accumulator.hpp"
#include "qslm/kernels/level_map.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::kernels {

inline constexpr std::size_t sparse_tile_rows = 64;
/// Zero levels after the last nonzero (a kernel loads up to 32 levels from any tile's start).
inline constexpr std::size_t sparse_level_padding = 32;

constexpr std::size_t sparse_tiles(std::size_t rows) noexcept { return (rows + sparse_tile_rows - 1) / sparse_tile_rows; }

struct SparseWeightsView {
    const std::uint64_t* mask = nullptr;   ///< cols * tiles entries
    const std::uint32_t* start = nullptr;  ///< cols * tiles + 1 entries
    const std::int16_t* level = nullptr;   ///< nonzeros + sparse_level_padding entries
    std::size_t rows = 0, cols = 0, nonzeros = 0;
    int bits = 0;
    AccumulatorWidth width = AccumulatorWidth::int32;

    [[nodiscard]] constexpr std::size_t tiles() const noexcept { return sparse_tiles(rows); }
    /// Bytes of the three arrays.
    [[nodiscard]] constexpr std::size_t bytes() const noexcept {
        return cols * tiles() * 8 + (cols * tiles() + 1) * 4 + (nonzeros + sparse_level_padding) * 2;
    }
};

/// Number of nonzero levels of `w` (sizes the level buffer of prepare_sparse_into: that + sparse_level_padding).
template <int Bits, class Encoding>
constexpr std::size_t count_nonzero_levels(const PackedTensorView<Bits, Encoding>& w) noexcept {
    std::size_t n = 0;
    for (std::size_t r = 0; r < w.rows(); ++r)
        for (std::size_t c = 0; c < w.cols(); ++c) n += w.level(r, c) != 0;
    return n;
}

/// Fills caller buffers: mask (cols * tiles), start (cols * tiles + 1) and level
/// (count_nonzero_levels(w) + sparse_level_padding).
template <int Bits, class Encoding>
Result<SparseWeightsView> prepare_sparse_into(const PackedTensorView<Bits, Encoding>& w, std::span<std::uint64_t> mask,
                                              std::span<std::uint32_t> start, std::span<std::int16_t> level) noexcept {
    if (const Status s = w.check(); s != Status::ok) return Failure{s, "the packed weights are not well formed"};
    auto width = accumulator_width_for(w.cols(), max_abs_level<Bits, Encoding>());
    if (!width) return width.failure();
    const std::size_t tiles = sparse_tiles(w.rows());
    if (mask.size() < w.cols() * tiles) return Failure{Status::buffer_too_small, "mask needs cols x ceil(rows / 64) entries"};
    if (start.size() < w.cols() * tiles + 1) return Failure{Status::buffer_too_small, "start needs cols x ceil(rows / 64) + 1 entries"};
    if (w.cols() * tiles + 1 > 0xFFFFFFFFu || w.rows() * w.cols() >= 0xFFFFFFFFu - sparse_level_padding)
        return Failure{Status::bad_shape, "the sparse layout indexes its levels with 32 bits: too many weights"};
    std::size_t e = 0;
    for (std::size_t c = 0; c < w.cols(); ++c)
        for (std::size_t t = 0; t < tiles; ++t) {
            start[c * tiles + t] = static_cast<std::uint32_t>(e);
            std::uint64_t m = 0;
            const std::size_t r1 = (t + 1) * sparse_tile_rows < w.rows() ? (t + 1) * sparse_tile_rows : w.rows();
            for (std::size_t r = t * sparse_tile_rows; r < r1; ++r) {
                const int l = w.level(r, c);
                if (l == 0) continue;
                if (e + sparse_level_padding >= level.size())
                    return Failure{Status::buffer_too_small, "level buffer is smaller than the nonzero levels + sparse_level_padding"};
                level[e++] = static_cast<std::int16_t>(l);
                m |= std::uint64_t{1} << (r % sparse_tile_rows);
            }
            mask[c * tiles + t] = m;
        }
    if (e + sparse_level_padding > level.size())
        return Failure{Status::buffer_too_small, "level buffer is smaller than the nonzero levels + sparse_level_padding"};
    for (std::size_t i = 0; i < sparse_level_padding; ++i) level[e + i] = 0;
    start[w.cols() * tiles] = static_cast<std::uint32_t>(e);
    SparseWeightsView v;
    v.mask = mask.data();
    v.start = start.data();
    v.level = level.data();
    v.rows = w.rows();
    v.cols = w.cols();
    v.nonzeros = e;
    v.bits = Bits;
    v.width = *width;
    return v;
}

class SparseWeights {
public:
    template <int Bits, class Encoding>
    static Result<SparseWeights> prepare(const PackedTensorView<Bits, Encoding>& w) {
        if (const Status s = w.check(); s != Status::ok) return Failure{s, "the packed weights are not well formed"};
        SparseWeights p;
        const std::size_t tiles = sparse_tiles(w.rows());
        p.mask_.resize(w.cols() * tiles);
        p.start_.resize(w.cols() * tiles + 1);
        p.level_.resize(count_nonzero_levels(w) + sparse_level_padding);
        auto v = prepare_sparse_into(w, std::span<std::uint64_t>(p.mask_), std::span<std::uint32_t>(p.start_),
                                     std::span<std::int16_t>(p.level_));
        if (!v) return v.failure();
        p.view_ = *v;
        return p;
    }
    SparseWeights() = default;
    SparseWeights(const SparseWeights& o) : mask_(o.mask_), start_(o.start_), level_(o.level_), view_(o.view_) { rebind(); }
    SparseWeights& operator=(const SparseWeights& o) {
        mask_ = o.mask_;
        start_ = o.start_;
        level_ = o.level_;
        view_ = o.view_;
        rebind();
        return *this;
    }
    SparseWeights(SparseWeights&&) noexcept = default;
    SparseWeights& operator=(SparseWeights&&) noexcept = default;
    [[nodiscard]] const SparseWeightsView& view() const noexcept { return view_; }
    [[nodiscard]] std::size_t bytes() const noexcept { return view_.bytes(); }

private:
    void rebind() noexcept {
        view_.mask = mask_.data();
        view_.start = start_.data();
        view_.level = level_.data();
    }
    std::vector<std::uint64_t> mask_;
    std::vector<std::uint32_t> start_;
    std::vector<std::int16_t> level_;
    SparseWeightsView view_{};
};

}  // namespace qslm::kernels
