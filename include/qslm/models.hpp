#pragma once
// qslm models: SpikeGPT (streaming language model, sampling) and the spike-driven transformer
// encoder (classification), assembled from qslm/layers. Embedded-safe (no heap, no
// exceptions). Host-side owners that load files, tokenize and serve the quantizer search are
// separate headers: qslm/models/spikegpt_model.hpp, qslm/models/sdt_model.hpp,
// qslm/models/logits_dump.hpp.
#include "qslm/layers.hpp"
#include "qslm/models/sampling.hpp"
#include "qslm/models/spike_driven_encoder.hpp"
#include "qslm/models/spikegpt.hpp"
