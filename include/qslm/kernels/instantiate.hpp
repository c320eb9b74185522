#pragma once
// Include in a translation unit compiled with one architecture's flags (e.g. -mavx2), then
// QSLM_KERNELS_INSTANTIATE(xsimd::avx2) to emit that arch's kernels: the spike kernels, the dense
// float GEMV (layers/detail/dense_matmul.hpp) and the low-bit GEMV (kernels/lowbit_gemv.hpp).
// The AVX-512 VNNI TU (flags of avx512bw plus -mavx512vl -mavx512vnni) has only the low-bit GEMV:
// QSLM_KERNELS_INSTANTIATE_AVX512VNNI(). cmake/QslmKernelArchs.cmake generates these TUs; a
// hand-written build does the same (docs/kernels.md).
#define QSLM_KERNELS_INSTANTIATING 1
#include <xsimd/xsimd.hpp>

#include "qslm/kernels/detail/simd_kernels_impl.hpp"
#include "qslm/kernels/detail/lowbit_gemv_impl.hpp"
#include "qslm/layers/detail/dense_matmul_impl.hpp"

#define QSLM_KERNELS_INSTANTIATE(ARCH)                                        \
    template struct qslm::kernels::detail::simd_kernels<ARCH>;               \
    template struct qslm::layers::detail::dense_matmul_kernel<ARCH>;         \
    template struct qslm::kernels::detail::lowbit_gemv_kernel<ARCH>;

#define QSLM_KERNELS_INSTANTIATE_AVX512VNNI() \
    template struct qslm::kernels::detail::lowbit_gemv_kernel<qslm::kernels::detail::avx512vnni_tag>;
