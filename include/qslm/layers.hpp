#pragma once
// qslm layers: linear (dense and spiking), embedding, LayerNorm / BatchNorm, residual adds,
// spike-driven attention (SDSA, SSA, STAtten), the SpikeGPT block, the calibration hook the
// layers report to, and dequantize_into. Device half (no heap on the inference path, no
// exceptions).
#include "qslm/neuron.hpp"
#include "qslm/layers/activation_observer.hpp"
#include "qslm/layers/batch_norm.hpp"
#include "qslm/layers/dequantize.hpp"
#include "qslm/layers/embedding.hpp"
#include "qslm/layers/layer_norm.hpp"
#include "qslm/layers/linear.hpp"
#include "qslm/layers/residual.hpp"
#include "qslm/layers/spike_driven_attention.hpp"
#include "qslm/layers/spikegpt_block.hpp"
#include "qslm/layers/spiking_self_attention.hpp"
