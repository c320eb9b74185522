#pragma once
// qslm kernels: y = W · s for binary spike vectors s and low-bit weights W, integer results.
// Scalar references everywhere; xsimd kernels for the archs a build compiles in
// (cmake/QslmKernelArchs.cmake). Entry points: qslm::kernels::SpikeMatvec (spike inputs) and
// qslm::kernels::LowBitMatrix (low-bit weights x real-valued inputs, int8 activations).
#include "qslm/spike.hpp"
#include "qslm/kernels/accumulator.hpp"
#include "qslm/kernels/bitplane_weights.hpp"
#include "qslm/kernels/isa.hpp"
#include "qslm/kernels/kernel_choice.hpp"
#include "qslm/kernels/level_map.hpp"
#include "qslm/kernels/lowbit_gemv.hpp"
#include "qslm/kernels/lowbit_weights.hpp"
#include "qslm/kernels/panel_weights.hpp"
#include "qslm/kernels/scalar_kernels.hpp"
#include "qslm/kernels/sparse_weights.hpp"
#include "qslm/kernels/spike_matvec.hpp"
