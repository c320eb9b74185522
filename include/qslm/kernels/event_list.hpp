#pragma once
// The SIMD event list lives with the dispatcher (it needs the per-arch kernels): see
// qslm::kernels::active_indices in spike_matvec.hpp. Scalar reference: qslm/spike/event_list.hpp.
#include "qslm/spike/event_list.hpp"
#include "qslm/kernels/detail/simd_kernels.hpp"
