#pragma once
// Compressed sparse weights (CSC: input-major) for the dual-sparse kernel: only nonzero levels
// are stored, so pruned weights cost neither memory nor work, and the kernel walks the active
// inputs (sparse spikes) and, for each, only that column's nonzeros (sparse weights).
//
//   col_start[c] .. col_start[c+1]   the entries of column c
//   row_index[e], level[e]           output row and integer level of entry e (rows ascending)
//
// Levels are stored as they are (not biased): a zero level is exactly what pruning removed.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "qslm/core/result.hpp"
#include "qslm/kernels/accumulator.hpp"
#include "qslm/kernels/level_map.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::kernels {

struct SparseWeightsView {
    const std::uint32_t* col_start = nullptr;  ///< cols + 1 entries
    const std::uint32_t* row_index = nullptr;  ///< nonzeros entries
    const std::int16_t* level = nullptr;        ///< nonzeros entries
    std::size_t rows = 0, cols = 0, nonzeros = 0;
    int bits = 0;
    AccumulatorWidth width = AccumulatorWidth::int32;
};

/// Number of nonzero levels of `w` (sizes the caller buffers of prepare_sparse_into).
template <int Bits, class Encoding>
constexpr std::size_t count_nonzero_levels(const PackedTensorView<Bits, Encoding>& w) noexcept {
    std::size_t n = 0;
    for (std::size_t r = 0; r < w.rows(); ++r)
        for (std::size_t c = 0; c < w.cols(); ++c) n += w.level(r, c) != 0;
    return n;
}

/// Fills caller buffers: col_start (cols + 1), row_index and level (count_nonzero_levels(w) each).
template <int Bits, class Encoding>
Result<SparseWeightsView> prepare_sparse_into(const PackedTensorView<Bits, Encoding>& w, std::span<std::uint32_t> col_start,
                                              std::span<std::uint32_t> row_index, std::span<std::int16_t> level) noexcept {
    if (const Status s = w.check(); s != Status::ok) return Failure{s, "the packed weights are not well formed"};
    auto width = accumulator_width_for(w.cols(), max_abs_level<Bits, Encoding>());
    if (!width) return width.failure();
    if (col_start.size() < w.cols() + 1) return Failure{Status::buffer_too_small, "col_start needs cols + 1 entries"};
    std::size_t e = 0;
    for (std::size_t c = 0; c < w.cols(); ++c) {
        col_start[c] = static_cast<std::uint32_t>(e);
        for (std::size_t r = 0; r < w.rows(); ++r) {
            const int l = w.level(r, c);
            if (l == 0) continue;
            if (e >= row_index.size() || e >= level.size())
                return Failure{Status::buffer_too_small, "row_index/level buffers are smaller than the number of nonzero levels"};
            row_index[e] = static_cast<std::uint32_t>(r);
            level[e] = static_cast<std::int16_t>(l);
            ++e;
        }
    }
    col_start[w.cols()] = static_cast<std::uint32_t>(e);
    SparseWeightsView v;
    v.col_start = col_start.data();
    v.row_index = row_index.data();
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
        const std::size_t nnz = count_nonzero_levels(w);
        p.col_start_.resize(w.cols() + 1);
        p.row_index_.resize(nnz);
        p.level_.resize(nnz);
        auto v = prepare_sparse_into(w, std::span<std::uint32_t>(p.col_start_), std::span<std::uint32_t>(p.row_index_),
                                     std::span<std::int16_t>(p.level_));
        if (!v) return v.failure();
        p.view_ = *v;
        return p;
    }
    SparseWeights() = default;
    SparseWeights(const SparseWeights& o) : col_start_(o.col_start_), row_index_(o.row_index_), level_(o.level_), view_(o.view_) { rebind(); }
    SparseWeights& operator=(const SparseWeights& o) {
        col_start_ = o.col_start_;
        row_index_ = o.row_index_;
        level_ = o.level_;
        view_ = o.view_;
        rebind();
        return *this;
    }
    SparseWeights(SparseWeights&&) noexcept = default;
    SparseWeights& operator=(SparseWeights&&) noexcept = default;
    [[nodiscard]] const SparseWeightsView& view() const noexcept { return view_; }
    [[nodiscard]] std::size_t bytes() const noexcept {
        return col_start_.size() * 4 + row_index_.size() * 4 + level_.size() * 2;
    }

private:
    void rebind() noexcept {
        view_.col_start = col_start_.data();
        view_.row_index = row_index_.data();
        view_.level = level_.data();
    }
    std::vector<std::uint32_t> col_start_;
    std::vector<std::uint32_t> row_index_;
    std::vector<std::int16_t> level_;
    SparseWeightsView view_{};
};

}  // namespace qslm::kernels
