#pragma once
// qslm io (host half): safetensors in, SpikeGPT / spike-driven transformer checkpoints,
// versioned and checksummed .qslm files, C++ header export for no-heap firmware, and the
// loaders that turn these files into the device half's models (SpikeGptModel, SdtModel, the
// integer SpikeGPT's parameters). Uses exceptions (qslm::Error) and nlohmann-json; the arrow
// goes io -> models, never back.
#include "qslm/io/atomic_file.hpp"
#include "qslm/io/byte_order.hpp"
#include "qslm/io/checkpoint_assembler.hpp"
#include "qslm/io/crc32c.hpp"
#include "qslm/io/dtype.hpp"
#include "qslm/io/file_bytes.hpp"
#include "qslm/io/half_float.hpp"
#include "qslm/io/header_export.hpp"
#include "qslm/io/integer/header_model.hpp"
#include "qslm/io/integer/prepare_spikegpt.hpp"
#include "qslm/io/logits_dump.hpp"
#include "qslm/io/qslm_model.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/qslm_writer.hpp"
#include "qslm/io/safetensors.hpp"
#include "qslm/io/safetensors_writer.hpp"
#include "qslm/io/sdt_checkpoint.hpp"
#include "qslm/io/sdt_model.hpp"
#include "qslm/io/sdt_tokenizer.hpp"
#include "qslm/io/spikegpt_checkpoint.hpp"
#include "qslm/io/spikegpt_model.hpp"
