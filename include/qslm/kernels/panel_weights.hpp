#pragma once
// Panel weights: the prepared layout of the dense, event-driven and temporal-parallel kernels.
//
// Rows are cut into blocks of 512 / f rows (f = field bits, see level_map.hpp). For each block
// and each input column there is one 64-byte chunk (a cache line, one AVX-512 register) holding
// that column's fields for the block's rows:
//
//     chunk(b, c) = data + (b * cols + c) * 64
//
// so the event-driven kernel reads whole cache lines of the active columns only, and the dense
// kernel streams a block's chunks sequentially. Inside a chunk the bytes are read as W-bit words
// (W = accumulator width, 16 or 32): word j, field k (bits [k f, (k+1) f)) is row
//
//     b * (512 / f) + k * (512 / W) + j
//
// With this order, field k of a SIMD register of L words is L *consecutive* rows, whatever the
// register width (SSE, AVX2, AVX-512, NEON all read the same prepared bytes), and unpacking is
// one shift and one AND per field. Padding rows (past `rows`) hold u = 0.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/result.hpp"
#include "qslm/kernels/accumulator.hpp"
#include "qslm/kernels/detail/aligned_storage.hpp"
#include "qslm/kernels/level_map.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::kernels {

static_assert(std::endian::native == std::endian::little,
              "qslm kernels read prepared weights as little-endian words (x86-64, aarch64, Cortex-M).");

inline constexpr std::size_t panel_chunk_bytes = 64;

/// Rows per block for a field width.
constexpr std::size_t panel_block_rows(int field_bits) noexcept { return 512u / static_cast<std::size_t>(field_bits); }

/// Bytes the panel layout of a rows x cols tensor of this width needs (for caller buffers).
constexpr std::size_t panel_weights_bytes(std::size_t rows, std::size_t cols, int bits) noexcept {
    const std::size_t rpb = panel_block_rows(field_bits_for(bits));
    return (rows + rpb - 1) / rpb * cols * panel_chunk_bytes;
}

/// Read-only view of prepared panel weights (no ownership; the bytes may live in flash).
struct PanelWeightsView {
    const std::uint8_t* data = nullptr;
    std::size_t rows = 0, cols = 0;
    int bits = 0;
    int field_bits = 0;
    AccumulatorWidth width = AccumulatorWidth::int32;
    LevelMap map{};

    [[nodiscard]] constexpr std::size_t block_rows() const noexcept { return panel_block_rows(field_bits); }
    [[nodiscard]] constexpr std::size_t blocks() const noexcept { return (rows + block_rows() - 1) / block_rows(); }
    [[nodiscard]] constexpr std::size_t bytes() const noexcept { return blocks() * cols * panel_chunk_bytes; }
    [[nodiscard]] constexpr const std::uint8_t* chunk(std::size_t block, std::size_t col) const noexcept {
        return data + (block * cols + col) * panel_chunk_bytes;
    }
    /// Words per chunk and the row of (word j, field k) inside a block.
    [[nodiscard]] constexpr std::size_t words_per_chunk() const noexcept { return 512u / static_cast<std::size_t>(width); }
    [[nodiscard]] constexpr std::size_t row_in_block(std::size_t word, std::size_t field) const noexcept {
        return field * words_per_chunk() + word;
    }
    /// The stored field of weight (r, c) (slow; for tests and the naive reference).
    [[nodiscard]] constexpr unsigned field(std::size_t r, std::size_t c) const noexcept {
        const std::size_t b = r / block_rows(), rib = r % block_rows();
        const std::size_t k = rib / words_per_chunk(), j = rib % words_per_chunk();
        const std::size_t bit = j * static_cast<std::size_t>(width) + k * static_cast<std::size_t>(field_bits);
        return (chunk(b, c)[bit / 8] >> (bit % 8)) & ((1u << field_bits) - 1u);
    }
};

/// Lays out `w` in the panel format into `buffer` (panel_weights_bytes(...) bytes).
template <int Bits, class Encoding>
Result<PanelWeightsView> prepare_panel_into(const PackedTensorView<Bits, Encoding>& w, std::span<std::uint8_t> buffer) noexcept {
    if (const Status s = w.check(); s != Status::ok) return Failure{s, "the packed weights are not well formed"};
    auto width = accumulator_width_for(w.cols(), max_abs_level<Bits, Encoding>());
    if (!width) return width.failure();
    PanelWeightsView v;
    v.data = buffer.data();
    v.rows = w.rows();
    v.cols = w.cols();
    v.bits = Bits;
    v.field_bits = field_bits_for(Bits);
    v.width = *width;
    v.map = level_map<Bits, Encoding>();
    if (buffer.size() < v.bytes()) return Failure{Status::buffer_too_small, "buffer is smaller than panel_weights_bytes(rows, cols, bits)"};
    for (std::size_t i = 0; i < v.bytes(); ++i) buffer[i] = 0;
    const std::size_t rpb = v.block_rows(), wpc = v.words_per_chunk();
    const auto W = static_cast<std::size_t>(v.width), f = static_cast<std::size_t>(v.field_bits);
    for (std::size_t r = 0; r < w.rows(); ++r) {
        const std::size_t b = r / rpb, rib = r % rpb, k = rib / wpc, j = rib % wpc;
        const std::size_t bit = j * W + k * f;
        for (std::size_t c = 0; c < w.cols(); ++c) {
            const unsigned u = v.map.field(w.level(r, c));
            buffer[(b * w.cols() + c) * panel_chunk_bytes + bit / 8] |= static_cast<std::uint8_t>(u << (bit % 8));
        }
    }
    return v;
}

/// Owning panel weights (host side: the storage is a heap block aligned to 64 bytes).
class PanelWeights {
public:
    template <int Bits, class Encoding>
    static Result<PanelWeights> prepare(const PackedTensorView<Bits, Encoding>& w) {
        PanelWeights p;
        p.storage_.resize(panel_weights_bytes(w.rows(), w.cols(), Bits));
        auto v = prepare_panel_into(w, std::span<std::uint8_t>(p.storage_.data(), p.storage_.size()));
        if (!v) return v.failure();
        p.view_ = *v;
        return p;
    }
    PanelWeights() = default;
    PanelWeights(const PanelWeights& o) : storage_(o.storage_), view_(o.view_) { view_.data = storage_.data(); }
    PanelWeights& operator=(const PanelWeights& o) {
        storage_ = o.storage_;
        view_ = o.view_;
        view_.data = storage_.data();
        return *this;
    }
    PanelWeights(PanelWeights&&) noexcept = default;
    PanelWeights& operator=(PanelWeights&&) noexcept = default;

    [[nodiscard]] const PanelWeightsView& view() const noexcept { return view_; }

private:
    detail::AlignedStorage<std::uint8_t> storage_;
    PanelWeightsView view_{};
};

}  // namespace qslm::kernels
