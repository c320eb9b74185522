#pragma once
// Low-bit GEMV for real-valued activations: y = W x with W packed at 1-8 bits (any scale layout,
// float32 or power-of-two scales, with or without zero points) and x float. This is what a layer
// whose input is not spikes (SpikeGPT's linears take LayerNorm outputs) runs from packed weights.
//
//   auto m = qslm::kernels::LowBitMatrix::prepare(weights.view());   // once: repack (host, allocates)
//   std::vector<std::byte> scratch(m->scratch_bytes(batch));          // or a static buffer
//   Status s = m->gemv(x, batch, y, scratch);                         // y[b*rows + r], no heap
//
// Arithmetic (the scalar reference below defines every result bit; each SIMD kernel is tested
// bit-exact against it). Per stream, x is quantized once, block by block of 32 inputs, to int8:
// d_k = max|x| / 127 over block k, q = round-half-even(x * (127 / max|x|)) clamped to +-127
// (q8 activations, as llama.cpp's q8_0/q8_K). For row r, scale group g and each segment (block k
// restricted to group g; for block-aligned groups simply block k):
//   isum  = a * sum u(r,c) q(c)  +  (z0 - zp(r,g)) * sum q(c)       exact int32 (|isum| < 2^22)
//   G     = G + float(isum) * d_k                                      in order of k
//   y     = y + scale(r,g) * G                                        in order of g, G reset per g
// with u the stored field (lowbit_weights.hpp) and every float operation a separate multiply or
// add (no fused multiply-add: qslm builds with -ffp-contract=off). The SIMD kernels keep rows in
// lanes, so each lane performs exactly this sequence; integer sums are exact in any order.
// The error against the float W x comes only from rounding x: |y - W x| <= sum_c |w_c| d_k(c) / 2
// (plus float rounding of the sums), see tests/kernels/test_lowbit_gemv.cpp.
//
// Fast path: per-tensor, per-channel, or per-group scales whose group size is a multiple of 32
// (or >= cols). Other group sizes (e.g. 8 or 48) run the exact scalar reference on every ISA.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>

#include "qslm/core/result.hpp"
#include "qslm/kernels/detail/aligned_storage.hpp"
#include "qslm/kernels/isa.hpp"
#include "qslm/kernels/lowbit_weights.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::kernels {

struct GemvOptions {
    Isa isa = Isa::automatic;  ///< force a kernel family (must be compiled in, CPU-supported, and have a GEMV)
};

namespace detail {

/// Everything one GEMV call needs, after the activations are quantized.
struct GemvArgs {
    LowBitWeightsView w{};
    const std::int8_t* xq = nullptr;  ///< batch * cols_padded, zero past cols
    const float* dx = nullptr;        ///< batch * blocks: the float scale of each int8 block
    const std::int32_t* sx = nullptr; ///< batch * blocks: sum of the int8 values of each block
    std::size_t batch = 0;
    float* y = nullptr;               ///< batch * rows
};

/// Tag of the AVX-512 VNNI kernel TU (xsimd 8 has no VNNI architecture).
struct avx512vnni_tag {};

/// The SIMD GEMV of one architecture; defined in detail/lowbit_gemv_impl.hpp, compiled only in the
/// per-arch TUs (qslm_add_kernel_archs). Handles block-aligned scale groups only.
template <class Arch>
struct lowbit_gemv_kernel {
    static void run(const GemvArgs& a) noexcept;
};
// Defined only in the per-arch TUs: these stop every other TU (and the other arch TUs, which see
// the definitions) from instantiating an arch's body with the wrong flags.
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_SSE4_2)
extern template struct lowbit_gemv_kernel<xsimd::sse4_2>;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX2)
extern template struct lowbit_gemv_kernel<xsimd::avx2>;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX512BW)
extern template struct lowbit_gemv_kernel<xsimd::avx512bw>;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX512VNNI)
extern template struct lowbit_gemv_kernel<avx512vnni_tag>;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_NEON64)
extern template struct lowbit_gemv_kernel<xsimd::neon64>;
#endif

/// Round half to even without depending on the floating-point environment.
inline float round_half_even(float v) noexcept {
    const float fl = std::floor(v);
    const float diff = v - fl;  // exact for |v| < 2^23
    if (diff > 0.5f) return fl + 1.0f;
    if (diff < 0.5f) return fl;
    return std::fmod(fl, 2.0f) == 0.0f ? fl : fl + 1.0f;
}

/// q8 quantization of one stream (the same code for every ISA: it is O(cols), not O(rows * cols)).
/// Returns invalid_argument for NaN or infinite inputs.
inline Status quantize_activations(const float* x, std::size_t cols, std::size_t cols_padded, std::int8_t* xq,
                                   float* dx, std::int32_t* sx) noexcept {
    for (std::size_t c0 = 0, k = 0; c0 < cols_padded; c0 += gemv_block, ++k) {
        const std::size_t c1 = std::min(cols, c0 + gemv_block);
        float amax = 0.0f;
        for (std::size_t c = c0; c < c1; ++c) {
            if (!std::isfinite(x[c])) return Status::invalid_argument;
            amax = std::max(amax, std::fabs(x[c]));
        }
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        std::int32_t sum = 0;
        for (std::size_t c = c0; c < c0 + gemv_block; ++c) {
            std::int32_t q = 0;
            if (c < c1) q = static_cast<std::int32_t>(std::clamp(round_half_even(x[c] * inv), -127.0f, 127.0f));
            xq[c] = static_cast<std::int8_t>(q);
            sum += q;
        }
        dx[k] = amax / 127.0f;
        sx[k] = sum;
    }
    return Status::ok;
}

/// The scalar reference (definition of the result bits), for any scale layout.
inline void lowbit_gemv_reference(const GemvArgs& a) noexcept {
    const LowBitShape& s = a.w.shape;
    const std::size_t nb = s.blocks();
    for (std::size_t b = 0; b < a.batch; ++b) {
        const std::int8_t* xq = a.xq + b * s.cols_padded;
        const float* dx = a.dx + b * nb;
        for (std::size_t r = 0; r < s.rows; ++r) {
            float y = 0.0f;
            for (std::size_t g = 0; g < s.groups; ++g) {
                const std::size_t g0 = g * s.group_cols;
                // The last group runs to the padded end: padding has q = 0, so it adds nothing.
                const std::size_t g1 = g + 1 == s.groups ? s.cols_padded : g0 + s.group_cols;
                const std::int32_t off = a.w.offset(r, g);
                float acc = 0.0f;
                for (std::size_t c0 = g0; c0 < g1;) {
                    const std::size_t k = c0 / gemv_block;
                    const std::size_t c1 = std::min(g1, (k + 1) * gemv_block);
                    std::int32_t dot = 0, sum = 0;
                    for (std::size_t c = c0; c < c1; ++c) {
                        dot += static_cast<std::int32_t>(a.w.field(r, c)) * xq[c];
                        sum += xq[c];
                    }
                    const std::int32_t isum = s.map.scale * dot + off * sum;
                    acc = acc + static_cast<float>(isum) * dx[k];
                    c0 = c1;
                }
                y = y + a.w.scale(r, g) * acc;
            }
            a.y[b * s.rows + r] = y;
        }
    }
}

template <class Arch>
QSLM_ALWAYS_INLINE void run_lowbit_kernel(const GemvArgs& a) noexcept {
    lowbit_gemv_kernel<Arch>::run(a);
}

/// Runs the SIMD kernel of a resolved, usable GEMV ISA (the reference for scalar).
inline void lowbit_gemv_on(Isa isa, const GemvArgs& a) noexcept {
    switch (isa) {
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX512VNNI)
        case Isa::avx512vnni: run_lowbit_kernel<avx512vnni_tag>(a); return;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX512BW)
        case Isa::avx512bw: run_lowbit_kernel<xsimd::avx512bw>(a); return;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX2)
        case Isa::avx2: run_lowbit_kernel<xsimd::avx2>(a); return;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_SSE4_2)
        case Isa::sse4_2: run_lowbit_kernel<xsimd::sse4_2>(a); return;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_NEON64)
        case Isa::neon64: run_lowbit_kernel<xsimd::neon64>(a); return;
#endif
        default: lowbit_gemv_reference(a); return;
    }
}

}  // namespace detail

/// Whether `isa` has a low-bit GEMV kernel in this program and this CPU runs it.
inline bool gemv_isa_usable(Isa isa) noexcept {
    for (const Isa i : gemv_isas)
        if (i == isa) return isa_usable(isa);
    return false;
}

/// A weight matrix prepared for the low-bit GEMV. Owns its prepared bytes (one 64-byte aligned
/// block) or views caller bytes (from_prepared / prepare_into). Movable and copyable; never refers
/// to the tensor it was prepared from.
class LowBitMatrix {
public:
    LowBitMatrix() = default;

    /// Repacks `w` into owned storage (allocates: host side or device setup).
    template <int Bits, class Encoding>
    static Result<LowBitMatrix> prepare(const PackedTensorView<Bits, Encoding>& w) {
        if (const Status s = w.check(); s != Status::ok) return Failure{s, "the packed tensor is inconsistent (see PackedTensorView::check)"};
        const LowBitShape shape = LowBitShape::of<Bits, Encoding>(w.rows(), w.cols(), w.layout(), w.has_zero_points());
        LowBitMatrix m;
        m.storage_.resize(shape.prepared_bytes());
        auto v = prepare_lowbit_into(w, std::span<std::byte>(m.storage_.data(), m.storage_.size()));
        if (!v) return v.failure();
        m.shape_ = shape;
        m.external_ = nullptr;
        return m;
    }
    /// Host convenience: a tensor whose width is known at run time.
    static Result<LowBitMatrix> prepare(const AnyPackedTensor& w) {
        return w.visit([](const auto& t) { return prepare(t.view()); });
    }

    /// Repacks `w` into caller bytes (LowBitShape::prepared_bytes(), 4-byte aligned, 64 best), no heap.
    /// The result views `out`, which must outlive it.
    template <int Bits, class Encoding>
    static Result<LowBitMatrix> prepare_into(const PackedTensorView<Bits, Encoding>& w, std::span<std::byte> out) noexcept {
        auto v = prepare_lowbit_into(w, out);
        if (!v) return v.failure();
        LowBitMatrix m;
        m.shape_ = v->shape;
        m.external_ = out.data();
        return m;
    }
    /// Views bytes that prepare_into (or a previous run, e.g. a file section) laid out for `shape`.
    static Result<LowBitMatrix> from_prepared(const LowBitShape& shape, std::span<const std::byte> bytes) noexcept {
        if (shape.rows == 0 || shape.cols == 0 || shape.rows > max_tensor_elements / shape.cols)
            return Failure{Status::bad_shape, "prepared GEMV shape is empty or too large"};
        if (bytes.size() < shape.prepared_bytes()) return Failure{Status::buffer_too_small, "prepared GEMV bytes are shorter than the shape needs"};
        if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(float) != 0)
            return Failure{Status::invalid_argument, "prepared GEMV bytes must be at least 4-byte aligned"};
        LowBitMatrix m;
        m.shape_ = shape;
        m.external_ = bytes.data();
        return m;
    }

    [[nodiscard]] std::size_t rows() const noexcept { return shape_.rows; }
    [[nodiscard]] std::size_t cols() const noexcept { return shape_.cols; }
    [[nodiscard]] int bits() const noexcept { return shape_.bits; }
    [[nodiscard]] const LowBitShape& shape() const noexcept { return shape_; }
    /// Prepared weight + scale (+ zero-point offset) bytes: what the matrix costs in RAM.
    [[nodiscard]] std::size_t bytes() const noexcept { return shape_.prepared_bytes(); }
    /// Scratch one gemv() call over `batch` streams needs: int8 activations, block scales and sums.
    [[nodiscard]] std::size_t scratch_bytes(std::size_t batch) const noexcept {
        return 64 + batch * (shape_.cols_padded + shape_.blocks() * (sizeof(float) + sizeof(std::int32_t)));
    }
    /// The kernel family gemv() runs with these options (the scalar reference for a group size that
    /// is not a multiple of 32), or scalar if the forced ISA is unusable (gemv() then refuses).
    [[nodiscard]] Isa resolved_isa(GemvOptions options = {}) const noexcept {
        if (!shape_.block_aligned_groups()) return Isa::scalar;
        if (options.isa == Isa::automatic) return best_gemv_isa();
        return gemv_isa_usable(options.isa) ? options.isa : Isa::scalar;
    }
    /// y[b * rows + r] = sum_c W[r][c] x[b * cols + c] for b < batch (see the header comment for the
    /// exact arithmetic). scratch >= scratch_bytes(batch). No heap, no exceptions.
    Status gemv(const float* x, std::size_t batch, float* y, std::span<std::byte> scratch,
                GemvOptions options = {}) const noexcept {
        if (shape_.rows == 0) return Status::invalid_argument;  // a default-constructed matrix
        if (x == nullptr || y == nullptr || batch == 0) return Status::invalid_argument;
        if (options.isa != Isa::automatic && !gemv_isa_usable(options.isa)) return Status::invalid_argument;
        if (scratch.size() < scratch_bytes(batch)) return Status::buffer_too_small;
        const std::size_t nb = shape_.blocks();
        auto* base = reinterpret_cast<std::uint8_t*>(scratch.data());
        base += (64 - reinterpret_cast<std::uintptr_t>(base) % 64) % 64;
        auto* dx = reinterpret_cast<float*>(base);
        auto* sx = reinterpret_cast<std::int32_t*>(base + batch * nb * sizeof(float));
        auto* xq = reinterpret_cast<std::int8_t*>(base + batch * nb * (sizeof(float) + sizeof(std::int32_t)));
        for (std::size_t b = 0; b < batch; ++b)
            if (const Status s = detail::quantize_activations(x + b * shape_.cols, shape_.cols, shape_.cols_padded,
                                                              xq + b * shape_.cols_padded, dx + b * nb, sx + b * nb);
                s != Status::ok)
                return s;
        const detail::GemvArgs args{weights_view(), xq, dx, sx, batch, y};
        detail::lowbit_gemv_on(resolved_isa(options), args);
        return Status::ok;
    }

    /// Same with sizes checked: x.size() == batch * cols, y.size() >= batch * rows (else bad_shape).
    Status gemv(std::span<const float> x, std::size_t batch, std::span<float> y, std::span<std::byte> scratch,
                GemvOptions options = {}) const noexcept {
        if (batch == 0 || x.size() != batch * shape_.cols || y.size() < batch * shape_.rows) return Status::bad_shape;
        return gemv(x.data(), batch, y.data(), scratch, options);
    }

    [[nodiscard]] LowBitWeightsView weights_view() const noexcept {
        const auto* base = reinterpret_cast<const std::uint8_t*>(external_ ? external_ : storage_.data());
        return LowBitWeightsView{shape_, base, reinterpret_cast<const float*>(base + shape_.scale_offset()),
                                 shape_.zero_points ? reinterpret_cast<const std::int32_t*>(base + shape_.offset_offset()) : nullptr};
    }

private:
    LowBitShape shape_{};
    detail::AlignedStorage<std::byte> storage_{};
    const std::byte* external_ = nullptr;
};

}  // namespace qslm::kernels
