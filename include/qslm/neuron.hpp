#pragma once
// qslm neurons: LIF (SpikingJelly and snnTorch conventions) and IF, in float or fixed point.
// Embedded-safe: no heap, no exceptions.
#include "qslm/neuron/integrate_and_fire.hpp"
#include "qslm/neuron/neuron.hpp"
#include "qslm/neuron/numeric.hpp"
#include "qslm/neuron/snntorch_leaky.hpp"
#include "qslm/neuron/spiking_jelly_lif.hpp"
