#pragma once
// Which reference model a file holds, so that tools can dispatch without being told:
//
//   switch (qslm::io::detect_model_kind(path)) {
//       case qslm::io::ModelKind::spikegpt: ...   // SpikeGptModel::load(path)
//       case qslm::io::ModelKind::sdt: ...        // SdtModel::load(path)
//   }
//
// The answer comes from what the file says about itself, in this order: the "model_type"
// of a .qslm file's config; the "model_type" metadata of a safetensors file (both exporters
// in tools/train write it); and, for files without it, the tensor names (SpikeGPT has
// `emb.weight`, the spike-driven transformer `embed.weight` and `pos_embed.weight`). A file
// that matches none is an error naming what was looked for, not a guess: the loader of the
// wrong kind would only report a long list of missing tensors.
//
// Host-only header.

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/io/qslm_model.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/safetensors.hpp"

namespace qslm::io {

enum class ModelKind : unsigned char { spikegpt, sdt };

constexpr const char* to_string(ModelKind k) noexcept {
    switch (k) {
        case ModelKind::spikegpt: return "spikegpt";
        case ModelKind::sdt: return "sdt";
    }
    return "unknown";
}

/// true when the file starts with the .qslm signature (io_error when it cannot be opened).
inline bool is_qslm_file(const std::filesystem::path& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(Status::io_error, "cannot open '" + path.string() + "'");
    char magic[8] = {};
    f.read(magic, 8);
    return f.gcount() == 8 && std::memcmp(magic, qslm_magic, 8) == 0;
}

namespace detail {
inline ModelKind model_kind_from_type(const std::string& type, const std::string& where) {
    if (type == "spikegpt") return ModelKind::spikegpt;
    if (type == "sdt") return ModelKind::sdt;
    fail(Status::invalid_argument, where + " says model_type '" + type + "'; this build knows 'spikegpt' and 'sdt'");
}
}  // namespace detail

/// The kind of model in a .safetensors or .qslm file (see the header comment for the rules).
inline ModelKind detect_model_kind(const std::filesystem::path& path) {
    if (!std::filesystem::exists(path)) fail(Status::not_found, "model file '" + path.string() + "' does not exist");
    if (is_qslm_file(path)) {
        const QslmModel q = load_qslm(path);
        nlohmann::json cfg;
        try {
            cfg = q.config();
        } catch (const std::exception& e) {
            fail(Status::corrupt_data, path.string() + ": the .qslm config is not JSON: " + e.what());
        }
        if (!cfg.is_object()) fail(Status::corrupt_data, path.string() + ": the .qslm config is not a JSON object");
        if (cfg.contains("model_type") && cfg["model_type"].is_string())
            return detail::model_kind_from_type(cfg["model_type"].get<std::string>(), path.string() + " (.qslm config)");
        // Files written before the config named the type held SpikeGPT only.
        return ModelKind::spikegpt;
    }
    const SafetensorsFile st = SafetensorsFile::open(path);
    if (const auto type = st.metadata_value("model_type"))
        return detail::model_kind_from_type(*type, path.string() + " (metadata)");
    if (st.contains("embed.weight") && st.contains("pos_embed.weight")) return ModelKind::sdt;
    if (st.contains("emb.weight")) return ModelKind::spikegpt;
    fail(Status::invalid_argument, path.string() +
                                       ": cannot tell which model this is (no model_type metadata, and neither "
                                       "SpikeGPT's emb.weight nor the spike-driven transformer's embed.weight + "
                                       "pos_embed.weight)");
}

}  // namespace qslm::io
