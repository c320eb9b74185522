#pragma once
// qslm io (host half): safetensors in, SpikeGPT / spike-driven transformer checkpoints,
// versioned and checksummed .qslm files, and C++ header export for no-heap firmware.
// Uses exceptions (qslm::Error) and nlohmann-json; never included by the embedded half.
#include "qslm/io/atomic_file.hpp"
#include "qslm/io/byte_order.hpp"
#include "qslm/io/checkpoint_assembler.hpp"
#include "qslm/io/crc32c.hpp"
#include "qslm/io/dtype.hpp"
#include "qslm/io/file_bytes.hpp"
#include "qslm/io/half_float.hpp"
#include "qslm/io/header_export.hpp"
#include "qslm/io/qslm_model.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/qslm_writer.hpp"
#include "qslm/io/safetensors.hpp"
#include "qslm/io/safetensors_writer.hpp"
#include "qslm/io/sdt_checkpoint.hpp"
#include "qslm/io/spikegpt_checkpoint.hpp"
