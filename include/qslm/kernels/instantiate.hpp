#pragma once
// Include in a translation unit compiled with one architecture's flags (e.g. -mavx2), then
// QSLM_KERNELS_INSTANTIATE(xsimd::avx2) to emit that arch's kernels. cmake/QslmKernelArchs.cmake
// generates these TUs; a hand-written build does the same (docs/kernels.md).
#define QSLM_KERNELS_INSTANTIATING 1
#include <xsimd/xsimd.hpp>

#include "qslm/kernels/detail/simd_kernels_impl.hpp"

#define QSLM_KERNELS_INSTANTIATE(ARCH) template struct qslm::kernels::detail::simd_kernels<ARCH>;
