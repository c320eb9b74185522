#pragma once
// The embedded half of qslm: everything a firmware needs to run a quantized spiking model.
// Standard library only (xsimd optional), no exceptions required, no heap on the inference path.
#include "qslm/core.hpp"
#include "qslm/tensor.hpp"
#include "qslm/neuron.hpp"
#include "qslm/layers.hpp"
#include "qslm/spike.hpp"
#include "qslm/kernels.hpp"
#include "qslm/models.hpp"
