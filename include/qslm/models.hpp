#pragma once
// qslm models: SpikeGPT (streaming language model, sampling), the integer-only SpikeGPT that
// firmware runs (and its flash/RAM footprint), and the spike-driven transformer encoder
// (classification), assembled from qslm/layers. Device half: no heap on the inference path, no
// exceptions. The host-side owners that load these models from files, tokenize and serve the
// quantizer search live in qslm/io (io/spikegpt_model.hpp, io/sdt_model.hpp,
// io/integer/prepare_spikegpt.hpp, ...) and produce the objects declared here.
#include "qslm/layers.hpp"
#include "qslm/models/integer/footprint.hpp"
#include "qslm/models/integer_spikegpt.hpp"
#include "qslm/models/sampling.hpp"
#include "qslm/models/spike_driven_encoder.hpp"
#include "qslm/models/spikegpt.hpp"
