#pragma once
// qslm layers: linear (dense and spiking), embedding, LayerNorm / BatchNorm, residual adds,
// spike-driven attention (SDSA, SSA, STAtten) and the SpikeGPT block. Embedded-safe (no heap,
// no exceptions); the host-only helper layers/dequantize.hpp is not included here.
#include "qslm/neuron.hpp"
#include "qslm/layers/activation_observer.hpp"
#include "qslm/layers/batch_norm.hpp"
#include "qslm/layers/embedding.hpp"
#include "qslm/layers/layer_norm.hpp"
#include "qslm/layers/linear.hpp"
#include "qslm/layers/residual.hpp"
#include "qslm/layers/spike_driven_attention.hpp"
#include "qslm/layers/spikegpt_block.hpp"
#include "qslm/layers/spiking_self_attention.hpp"
