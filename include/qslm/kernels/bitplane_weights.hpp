#pragma once
// Bit-plane weights: the prepared layout of the AND + popcount kernel.
//
// The stored field u of every weight (see level_map.hpp) is split into its `bits` bit-planes;
// plane p of row r is a bit vector over the inputs. Then
//     sum_{active c} u(r, c) = sum_p 2^p popcount(plane_p(r) AND spikes).
//
// Why bytes of 8 inputs, not words of 64: a stripe of weights is skipped when its spikes are all
// zero, and at the densities spiking layers run at (5-30 %) a 64-input spike word is almost never
// zero (0.9^64 = 0.1 % at 10 %), an 8-input byte often is (0.9^8 = 43 %). The kernel then reads
// only the stripes of nonzero spike bytes, and a byte of one row is what one SIMD byte lane holds,
// so one AND + one byte popcount serves 16-64 rows.
//
// Storage, in tiles of 64 rows (a tile of one plane over every input is contiguous, so the kernel
// reads each tile-plane as one forward stream):
//     byte(tile, p, j, i) = data[((tile * bits + p) * spike_bytes + j) * 64 + i]
// = inputs 8j .. 8j+7 (bit k = input 8j+k) of plane p of row tile*64 + i. Rows past `rows` and
// inputs past `cols` are zero.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/result.hpp"
#include "qslm/kernels/accumulator.hpp"
#include "qslm/kernels/detail/aligned_storage.hpp"
#include "qslm/kernels/level_map.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::kernels {

inline constexpr std::size_t bitplane_tile_rows = 64;

/// Bytes the bit-plane layout needs (for caller buffers).
constexpr std::size_t bitplane_weights_bytes(std::size_t rows, std::size_t cols, int bits) noexcept {
    return (rows + bitplane_tile_rows - 1) / bitplane_tile_rows * static_cast<std::size_t>(bits) * ((cols + 7) / 8) * bitplane_tile_rows;
}

struct BitplaneWeightsView {
    const std::uint8_t* data = nullptr;
    std::size_t rows = 0, cols = 0;
    int bits = 0;
    AccumulatorWidth width = AccumulatorWidth::int32;
    LevelMap map{};

    [[nodiscard]] constexpr std::size_t tiles() const noexcept { return (rows + bitplane_tile_rows - 1) / bitplane_tile_rows; }
    [[nodiscard]] constexpr std::size_t spike_bytes() const noexcept { return (cols + 7) / 8; }
    [[nodiscard]] constexpr std::size_t total_bytes() const noexcept { return bitplane_weights_bytes(rows, cols, bits); }
    /// The 64 bytes (one per row of the tile) of plane `plane` for inputs 8*byte .. 8*byte + 7.
    [[nodiscard]] constexpr const std::uint8_t* stripe(std::size_t tile, int plane, std::size_t byte) const noexcept {
        return data + ((tile * static_cast<std::size_t>(bits) + static_cast<std::size_t>(plane)) * spike_bytes() + byte) * bitplane_tile_rows;
    }
};

template <int Bits, class Encoding>
Result<BitplaneWeightsView> prepare_bitplane_into(const PackedTensorView<Bits, Encoding>& w,
                                                  std::span<std::uint8_t> buffer) noexcept {
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
    if (buffer.size() < v.total_bytes()) return Failure{Status::buffer_too_small, "buffer is smaller than bitplane_weights_bytes(rows, cols, bits)"};
    for (std::size_t i = 0; i < v.total_bytes(); ++i) buffer[i] = 0;
    const std::size_t nb = v.spike_bytes();
    for (std::size_t r = 0; r < w.rows(); ++r) {
        const std::size_t tile = r / bitplane_tile_rows, i = r % bitplane_tile_rows;
        for (std::size_t c = 0; c < w.cols(); ++c) {
            const unsigned u = v.map.field(w.level(r, c));
            for (int p = 0; p < Bits; ++p)
                if ((u >> p) & 1u)
                    buffer[((tile * Bits + static_cast<std::size_t>(p)) * nb + c / 8) * bitplane_tile_rows + i] |=
                        static_cast<std::uint8_t>(1u << (c % 8));
        }
    }
    return v;
}

class BitplaneWeights {
public:
    template <int Bits, class Encoding>
    static Result<BitplaneWeights> prepare(const PackedTensorView<Bits, Encoding>& w) {
        BitplaneWeights p;
        p.storage_.resize(bitplane_weights_bytes(w.rows(), w.cols(), Bits));
        auto v = prepare_bitplane_into(w, std::span<std::uint8_t>(p.storage_.data(), p.storage_.size()));
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
    detail::AlignedStorage<std::uint8_t> storage_;
    BitplaneWeightsView view_{};
};

}  // namespace qslm::kernels
