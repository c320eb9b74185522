#pragma once
// Projection: a weight matrix as a layer multiplies by it — float values (the reference and
// training-precision path) or a low-bit matrix prepared for the integer GEMV kernel
// (kernels/lowbit_gemv.hpp: activations quantized to int8 once per call, integer dot products,
// one scale per weight group and activation block). A model loaded from a .qslm file runs its
// packed weights through the second form and never holds them as floats.
//
//   layers::Projection p{.dense = w};            // float, rows x cols row-major
//   layers::Projection q{.packed = &lowbit};     // packed, prepared once at load
//   project(q, rows, cols, x, batch, y, scratch_bytes);
//
// Device side: no heap, no exceptions. The packed kernel's scratch (int8 activations and their
// block scales) is a caller byte span of at least packed_scratch_bytes(batch).

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/result.hpp"
#include "qslm/kernels/lowbit_gemv.hpp"
#include "qslm/layers/detail/dense_matmul.hpp"

namespace qslm::layers {

struct Projection {
    std::span<const float> dense{};                ///< rows x cols floats, used when packed is null
    const kernels::LowBitMatrix* packed = nullptr;  ///< prepared low-bit weights (not owned)

    [[nodiscard]] constexpr bool is_packed() const noexcept { return packed != nullptr; }
    /// Whether this projection is a rows x cols matrix.
    [[nodiscard]] bool fits(std::size_t rows, std::size_t cols) const noexcept {
        if (packed != nullptr) return packed->rows() == rows && packed->cols() == cols;
        return dense.size() == rows * cols;
    }
    /// Bytes the packed kernel needs for `batch` streams (0 for the float path).
    [[nodiscard]] std::size_t scratch_bytes(std::size_t batch) const noexcept {
        return packed != nullptr ? packed->scratch_bytes(batch) : 0;
    }
    /// Bytes of weights read per token (one stream): what the memory traffic counts use.
    [[nodiscard]] std::size_t weight_bytes() const noexcept {
        return packed != nullptr ? packed->bytes() : dense.size() * sizeof(float);
    }
};

/// y[b * rows + r] = sum_c W[r][c] x[b * cols + c] for b < batch. The caller has checked
/// fits(rows, cols); `scratch` is only read by the packed kernel.
inline Status project(const Projection& w, std::size_t rows, std::size_t cols, const float* x, std::size_t batch, float* y,
                      std::span<std::byte> scratch) noexcept {
    if (w.packed != nullptr) return w.packed->gemv(x, batch, y, scratch);
    detail::matmul(w.dense.data(), rows, cols, x, batch, y);
    return Status::ok;
}

/// The kernel's part of a float scratch span (what follows a layer's float scratch), from a
/// 64-byte boundary on: the GEMV's int8 activations are read with aligned vector loads.
inline std::span<std::byte> kernel_scratch(std::span<float> rest) noexcept {
    if (rest.empty()) return {};
    auto* p = reinterpret_cast<std::byte*>(rest.data());
    const std::size_t skip = (64 - reinterpret_cast<std::uintptr_t>(p) % 64) % 64;
    const std::size_t bytes = rest.size() * sizeof(float);
    return skip >= bytes ? std::span<std::byte>{} : std::span<std::byte>(p + skip, bytes - skip);
}

/// Reads row r of an embedding table that is not stored as floats (a packed tensor kept by
/// the host model): a function pointer over an opaque table, so that the device-side model
/// needs neither templates per width nor a heap.
struct EmbeddingRows {
    const void* table = nullptr;
    /// Writes the `cols` real values of row r into out.
    void (*read_row)(const void* table, std::size_t r, float* out, std::size_t cols) noexcept = nullptr;

    [[nodiscard]] constexpr bool present() const noexcept { return table != nullptr && read_row != nullptr; }
};

}  // namespace qslm::layers
