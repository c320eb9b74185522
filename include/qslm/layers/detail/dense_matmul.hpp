#pragma once
// Dense float matrix products for layers whose input is not spikes (the float reference path,
// and the SpikeGPT block the quantizer search runs thousands of times).
//
//   y[b][r] = sum_c W[r][c] * x[b][c]       W row-major [rows][cols] (PyTorch nn.Linear layout)
//
// The summation order is fixed and independent of the machine: column c is accumulated into
// logical lane (c mod 16), and the 16 lanes are combined by a fixed tree (l + 8, + 4, + 2, + 1).
// The scalar reference below and the xsimd version (4, 8 or 16 floats per register: 16 lanes
// are 4, 2 or 1 registers) therefore produce identical bits, as do batches of any size: a
// stream's result does not depend on which streams it was batched with. Batching amortises the
// weight traffic: each weight row is loaded once per two (SSE) or four (AVX, AVX-512) streams.
// These bits assume the compiler does not contract a*b + c into a fused multiply-add here or in
// the surrounding float code: build with -ffp-contract=off (qslm's own builds do) where FMA is
// in the base instruction set (aarch64; x86 with -mfma or -march=native), or batched and single
// streams may differ in the last bit.
//
// Dispatch: the same body is compiled for each architecture a target adds with
// qslm_add_kernel_archs (AVX-512, AVX2, SSE4.2, NEON: 1, 2, 4 or 4 registers per 16 lanes), and
// matmul() picks the best one the CPU supports at run time; the bits do not depend on which.

#include <cstddef>
#include <utility>

#include "qslm/core/config.hpp"
#include "qslm/kernels/isa.hpp"

#if QSLM_HAVE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

namespace qslm::layers::detail {

inline constexpr std::size_t dot_lanes = 16;

/// The fixed combination order of the 16 partial sums.
QSLM_ALWAYS_INLINE float reduce_lanes(float* a) noexcept {
    for (std::size_t l = 0; l < 8; ++l) a[l] += a[l + 8];
    for (std::size_t l = 0; l < 4; ++l) a[l] += a[l + 4];
    for (std::size_t l = 0; l < 2; ++l) a[l] += a[l + 2];
    return a[0] + a[1];
}

/// Scalar reference: the definition of the result bits.
inline float dot_reference(const float* w, const float* x, std::size_t n) noexcept {
    float acc[dot_lanes] = {};
    std::size_t c = 0;
    for (; c + dot_lanes <= n; c += dot_lanes)
        for (std::size_t l = 0; l < dot_lanes; ++l) acc[l] += w[c + l] * x[c + l];
    for (; c < n; ++c) acc[c % dot_lanes] += w[c] * x[c];
    return reduce_lanes(acc);
}

inline void matmul_reference(const float* w, std::size_t rows, std::size_t cols, const float* x, std::size_t batch,
                             float* y) noexcept {
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t r = 0; r < rows; ++r) y[b * rows + r] = dot_reference(w + r * cols, x + b * cols, cols);
}

#if QSLM_HAVE_XSIMD
/// The register-blocked xsimd body for architecture A (the build's baseline, or one per-arch TU).
template <class A>
struct dense_simd {
    using float_batch = xsimd::batch<float, A>;
    static constexpr std::size_t simd_width = float_batch::size;
    static_assert(dot_lanes % simd_width == 0, "the register width must divide the 16 logical lanes");
    static constexpr std::size_t regs_per_dot = dot_lanes / simd_width;
    /// Streams per weight-row pass: as many as keep all accumulators in registers (16 on SSE/AVX).
    static constexpr std::size_t streams_per_pass = regs_per_dot >= 4 ? 2 : 4;

    // One accumulate of 16 columns for NB streams, fully unrolled (index I = stream * K + register)
    // so that the accumulators live in registers: GCC -O2 does not unroll the equivalent loops.
    template <std::size_t NB, std::size_t... I>
    QSLM_ALWAYS_INLINE static void accumulate16(float_batch* acc, const float* QSLM_RESTRICT w, const float* const* xs,
                                                std::size_t c, std::index_sequence<I...>) noexcept {
        constexpr std::size_t K = regs_per_dot, S = simd_width;
        ((acc[I] = acc[I] + float_batch::load_unaligned(w + c + (I % K) * S) *
                                float_batch::load_unaligned(xs[I / K] + c + (I % K) * S)),
         ...);
    }

    template <std::size_t NB>
    QSLM_ALWAYS_INLINE static void row_block(const float* QSLM_RESTRICT w, std::size_t cols, const float* const* xs,
                                             float* out) noexcept {
        constexpr std::size_t K = regs_per_dot, S = simd_width;
        float_batch acc[NB * K];
        for (std::size_t i = 0; i < NB * K; ++i) acc[i] = float_batch(0.0f);
        std::size_t c = 0;
        for (; c + dot_lanes <= cols; c += dot_lanes) accumulate16<NB>(acc, w, xs, c, std::make_index_sequence<NB * K>{});
        for (std::size_t j = 0; j < NB; ++j) {
            alignas(64) float lanes[dot_lanes];
            for (std::size_t k = 0; k < K; ++k) acc[j * K + k].store_aligned(lanes + k * S);
            for (std::size_t t = c; t < cols; ++t) lanes[t % dot_lanes] += w[t] * xs[j][t];
            out[j] = reduce_lanes(lanes);
        }
    }

    static void matmul(const float* w, std::size_t rows, std::size_t cols, const float* x, std::size_t batch,
                       float* y) noexcept {
        constexpr std::size_t G = streams_per_pass;
        std::size_t b = 0;
        for (; b + G <= batch; b += G) {
            const float* xs[G];
            for (std::size_t j = 0; j < G; ++j) xs[j] = x + (b + j) * cols;
            for (std::size_t r = 0; r < rows; ++r) {
                float out[G];
                row_block<G>(w + r * cols, cols, xs, out);
                for (std::size_t j = 0; j < G; ++j) y[(b + j) * rows + r] = out[j];
            }
        }
        for (; b < batch; ++b) {
            const float* xs[1] = {x + b * cols};
            for (std::size_t r = 0; r < rows; ++r) row_block<1>(w + r * cols, cols, xs, y + b * rows + r);
        }
    }
};
#endif

#if QSLM_KERNELS_HAVE_SIMD
/// The dense GEMV of one per-arch TU (qslm_add_kernel_archs); defined in dense_matmul_impl.hpp.
template <class A>
struct dense_matmul_kernel {
    static void run(const float* w, std::size_t rows, std::size_t cols, const float* x, std::size_t batch,
                    float* y) noexcept;
};
// Instantiated only in the per-arch TUs (never implicitly with another TU's flags).
#  if defined(QSLM_KERNELS_WITH_SSE4_2)
extern template struct dense_matmul_kernel<xsimd::sse4_2>;
#  endif
#  if defined(QSLM_KERNELS_WITH_AVX2)
extern template struct dense_matmul_kernel<xsimd::avx2>;
#  endif
#  if defined(QSLM_KERNELS_WITH_AVX512BW)
extern template struct dense_matmul_kernel<xsimd::avx512bw>;
#  endif
#  if defined(QSLM_KERNELS_WITH_NEON64)
extern template struct dense_matmul_kernel<xsimd::neon64>;
#  endif
#endif

/// y = W x for `batch` streams; bit-identical to matmul_reference. Runs the widest per-arch body
/// the target compiled in (qslm_add_kernel_archs) and the CPU supports; a target without them
/// runs the body of its baseline flags (SSE2 on a generic x86-64 build), or the reference.
inline void matmul(const float* w, std::size_t rows, std::size_t cols, const float* x, std::size_t batch,
                   float* y) noexcept {
#if QSLM_KERNELS_HAVE_SIMD
    switch (kernels::best_isa()) {
#  if defined(QSLM_KERNELS_WITH_AVX512BW)
        case kernels::Isa::avx512bw: dense_matmul_kernel<xsimd::avx512bw>::run(w, rows, cols, x, batch, y); return;
#  endif
#  if defined(QSLM_KERNELS_WITH_AVX2)
        case kernels::Isa::avx2: dense_matmul_kernel<xsimd::avx2>::run(w, rows, cols, x, batch, y); return;
#  endif
#  if defined(QSLM_KERNELS_WITH_SSE4_2)
        case kernels::Isa::sse4_2: dense_matmul_kernel<xsimd::sse4_2>::run(w, rows, cols, x, batch, y); return;
#  endif
#  if defined(QSLM_KERNELS_WITH_NEON64)
        case kernels::Isa::neon64: dense_matmul_kernel<xsimd::neon64>::run(w, rows, cols, x, batch, y); return;
#  endif
        default: break;
    }
#endif
#if QSLM_HAVE_XSIMD
    dense_simd<xsimd::default_arch>::matmul(w, rows, cols, x, batch, y);
#else
    matmul_reference(w, rows, cols, x, batch, y);
#endif
}

}  // namespace qslm::layers::detail
