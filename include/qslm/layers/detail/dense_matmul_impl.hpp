#pragma once
// Per-architecture definition of the dense float GEMV (dense_matmul.hpp). Include only from a TU
// compiled with that architecture's flags (qslm/kernels/instantiate.hpp).

#if !defined(QSLM_KERNELS_INSTANTIATING)
#  error "dense_matmul_impl.hpp is only for the per-arch TUs made by qslm_add_kernel_archs() (qslm/kernels/instantiate.hpp)"
#endif

#include "qslm/layers/detail/dense_matmul.hpp"

namespace qslm::layers::detail {

template <class A>
void dense_matmul_kernel<A>::run(const float* w, std::size_t rows, std::size_t cols, const float* x, std::size_t batch,
                                 float* y) noexcept {
    dense_simd<A>::matmul(w, rows, cols, x, batch, y);
}

}  // namespace qslm::layers::detail
