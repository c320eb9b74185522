#pragma once
// Bit-plane weights: the prepared layout of the AND + popcount kernel.
//
// The stored field u of every weight (see level_map.hpp) is split into its `bits` bit-planes;
// plane p of row r is a bit vector over the inputs, packed like a spike vector (64 inputs per
// word). Then  sum_{active c} u(r, c) = sum_p 2^p popcount(plane_p(r) AND spikes).
//
// Storage is word-major across rows:  plane_word(p, w, r) = data[(p * words + w) * padded_rows + r]
// so one SIMD register holds word w of consecutive rows (each lane is one output row: no
// horizontal sums), and a spike word that is zero lets the kernel skip a whole stripe of
// weights. padded_rows is rows rounded up to 32; the padding rows are zero.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/result.hpp"
#include "qslm/kernels/accumulator.hpp"
#include "qslm/kernels/detail/aligned_storage.hpp"
#include "qslm/kernels/level_map.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::kernels {

inline constexpr std::size_t bitplane_row_padding = 32;

constexpr std::size_t bitplane_padded_rows(std::size_t rows) noexcept {
    return (rows + bitplane_row_padding - 1) / bitplane_row_padding * bitplane_row_padding;
}
/// 64-bit words the bit-plane layout needs (for caller buffers).
constexpr std::size_t bitplane_weights_words(std::size_t rows, std::size_t cols, int bits) noexcept {
    return static_cast<std::size_t>(bits) * ((cols + 63) / 64) * bitplane_padded_rows(rows);
}

struct BitplaneWeightsView {
    const std::uint64_t* data = nullptr;
    std::size_t rows = 0, cols = 0;
    int bits = 0;
    AccumulatorWidth width = AccumulatorWidth::int32;
    LevelMap map{};

    [[nodiscard]] constexpr std::size_t words() const noexcept { return (cols + 63) / 64; }
    [[nodiscard]] constexpr std::size_t padded_rows() const noexcept { return bitplane_padded_rows(rows); }
    [[nodiscard]] constexpr std::size_t total_words() const noexcept {
        return static_cast<std::size_t>(bits) * words() * padded_rows();
    }
    [[nodiscard]] constexpr const std::uint64_t* stripe(int plane, std::size_t word) const noexcept {
        return data + (static_cast<std::size_t>(plane) * words() + word) * padded_rows();
    }
};

template <int Bits, class Encoding>
Result<BitplaneWeightsView> prepare_bitplane_into(const PackedTensorView<Bits, Encoding>& w,
                                                  std::span<std::uint64_t> buffer) noexcept {
    if (const Status s = w.check(); s != Status::ok) return Failure{s, "the packed weights are not well formed"};
    auto width = accumulator_width_for(w.cols(), max_abs_level<Bits, Encoding>());
    if (!width) return width.failure();
    BitplaneWeightsView v;
    v.data = buffer.data();
    v.rows = w.rows();
    v.cols = w.cols();
    v.bits = Bits;
    v.width = *width;
    v.map = level_map<Bits, Encoding>();
    if (buffer.size() < v.total_words()) return Failure{Status::buffer_too_small, "buffer is smaller than bitplane_weights_words(rows, cols, bits)"};
    for (std::size_t i = 0; i < v.total_words(); ++i) buffer[i] = 0;
    const std::size_t pr = v.padded_rows(), nw = v.words();
    for (std::size_t r = 0; r < w.rows(); ++r)
        for (std::size_t c = 0; c < w.cols(); ++c) {
            const unsigned u = v.map.field(w.level(r, c));
            for (int p = 0; p < Bits; ++p)
                if ((u >> p) & 1u) buffer[(static_cast<std::size_t>(p) * nw + c / 64) * pr + r] |= std::uint64_t{1} << (c % 64);
        }
    return v;
}

class BitplaneWeights {
public:
    template <int Bits, class Encoding>
    static Result<BitplaneWeights> prepare(const PackedTensorView<Bits, Encoding>& w) {
        BitplaneWeights p;
        p.storage_.resize(bitplane_weights_words(w.rows(), w.cols(), Bits));
        auto v = prepare_bitplane_into(w, std::span<std::uint64_t>(p.storage_.data(), p.storage_.size()));
        if (!v) return v.failure();
        p.view_ = *v;
        return p;
    }
    BitplaneWeights() = default;
    BitplaneWeights(const BitplaneWeights& o) : storage_(o.storage_), view_(o.view_) { view_.data = storage_.data(); }
    BitplaneWeights& operator=(const BitplaneWeights& o) {
        storage_ = o.storage_;
        view_ = o.view_;
        view_.data = storage_.data();
        return *this;
    }
    BitplaneWeights(BitplaneWeights&&) noexcept = default;
    BitplaneWeights& operator=(BitplaneWeights&&) noexcept = default;
    [[nodiscard]] const BitplaneWeightsView& view() const noexcept { return view_; }

private:
    detail::AlignedStorage<std::uint64_t> storage_;
    BitplaneWeightsView view_{};
};

}  // namespace qslm::kernels
