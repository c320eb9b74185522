#pragma once
// The logic behind `qslm run MODEL --tokens 3,17,5,... --dump-logits FILE.json`, for
// cross-checking against other implementations: feed the token ids one by one from a fresh
// state (streaming) and return the logits of every step as a JSON list of lists of floats.
// Works for any SpikeGPT checkpoint with the reference tensor names (any depth, width,
// vocabulary) and for .qslm SpikeGPT files.
//
//   auto model = qslm::models::SpikeGptModel::load(path);
//   nlohmann::json j = qslm::models::dump_logits_json(model, tokens);   // [[V floats] per token]
//   qslm::models::write_logits_json(j, "out.json");
//
// Floats are written with nlohmann's shortest round-trip form, so a reader gets the exact
// float32 values back. Host-only header.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/io/atomic_file.hpp"

#include "qslm/host/error.hpp"
#include "qslm/io/spikegpt_model.hpp"

namespace qslm::models {

/// Logits of every step, one list of vocab floats per token. Throws out_of_range (naming the
/// position and the id) for a token outside the vocabulary, invalid_argument for no tokens.
template <class Model>
nlohmann::json dump_logits_json(const Model& model, std::span<const std::uint32_t> tokens) {
    if (tokens.empty()) fail(Status::invalid_argument, "dump_logits_json: no tokens given");
    const std::vector<float> all = model.logits(tokens);
    const std::size_t V = model.vocab_size();
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        nlohmann::json row = nlohmann::json::array();
        for (std::size_t v = 0; v < V; ++v) row.push_back(all[t * V + v]);
        out.push_back(std::move(row));
    }
    return out;
}

/// Writes `j` to `path` (one line) atomically (io/atomic_file.hpp); io_error naming the path
/// when that fails.
inline void write_logits_json(const nlohmann::json& j, const std::filesystem::path& path) {
    const std::string text = j.dump() + '\n';
    io::write_file_atomically(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

}  // namespace qslm::models
