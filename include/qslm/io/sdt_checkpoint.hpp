#pragma once
// Spike-driven transformer (SDT v1 style) encoder checkpoints, as tools/train/sdt.py exports
// them (BatchNorm folded into the preceding linear, so every linear has a bias). The naming
// (D = dim, H = MLP hidden width, V = vocabulary, L = max_len, K = classes):
//   embed.weight [V, D], pos_embed.weight [L, D]
//   blocks.N.attn.{q,k,v,proj}.weight [D, D], blocks.N.attn.{q,k,v,proj}.bias [D]
//   blocks.N.mlp.fc1.weight [H, D], blocks.N.mlp.fc1.bias [H]
//   blocks.N.mlp.fc2.weight [D, H], blocks.N.mlp.fc2.bias [D]
//   head.weight [K, D], head.bias [K]
// Sizes come from the shapes. The "config" metadata JSON, when present, must agree with them
// and supplies the spiking constants (T, tau, v_threshold, v_reset, attn_threshold); "vocab"
// (a JSON list of strings) and "labels" are carried over. A checkpoint whose metadata says
// bn_folded = false is refused: the deployed forward has no BatchNorm.

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "qslm/io/checkpoint_assembler.hpp"
#include "qslm/io/safetensors.hpp"

namespace qslm::io {

struct SdtConfig {
    std::size_t n_layer = 0;
    std::size_t dim = 0;
    std::size_t vocab_size = 0;
    std::size_t max_len = 0;
    std::size_t mlp_hidden = 0;
    std::size_t n_classes = 0;
    std::size_t time_steps = 4;  ///< T: the input is repeated over T time steps
    float tau = 2.0f;
    float v_threshold = 1.0f;
    float v_reset = 0.0f;
    float attn_threshold = 0.5f;  ///< threshold of the attention LIF
};

struct SdtBlock {
    FloatTensor q_weight, q_bias, k_weight, k_bias, v_weight, v_bias, proj_weight, proj_bias;
    FloatTensor fc1_weight, fc1_bias, fc2_weight, fc2_bias;
};

struct SdtCheckpoint {
    SdtConfig config;
    FloatTensor embed, pos_embed;
    std::vector<SdtBlock> blocks;
    FloatTensor head_weight, head_bias;
    std::vector<std::string> vocab;   ///< from the "vocab" metadata (empty when absent)
    std::vector<std::string> labels;  ///< from the "labels" metadata (empty when absent)
    std::map<std::string, std::string> metadata;
    std::vector<std::string> unused_tensors;

    /// Calls f(name, tensor) for every tensor under its checkpoint name, in a fixed order.
    template <class F>
    void for_each_tensor(F&& f) const {
        visit(*this, f);
    }
    template <class F>
    void for_each_tensor(F&& f) {
        visit(*this, f);
    }

private:
    template <class Self, class F>
    static void visit(Self& self, F& f) {
        f(std::string("embed.weight"), self.embed);
        f(std::string("pos_embed.weight"), self.pos_embed);
        for (std::size_t i = 0; i < self.blocks.size(); ++i) {
            auto& b = self.blocks[i];
            const std::string p = "blocks." + std::to_string(i) + ".";
            f(p + "attn.q.weight", b.q_weight);
            f(p + "attn.q.bias", b.q_bias);
            f(p + "attn.k.weight", b.k_weight);
            f(p + "attn.k.bias", b.k_bias);
            f(p + "attn.v.weight", b.v_weight);
            f(p + "attn.v.bias", b.v_bias);
            f(p + "attn.proj.weight", b.proj_weight);
            f(p + "attn.proj.bias", b.proj_bias);
            f(p + "mlp.fc1.weight", b.fc1_weight);
            f(p + "mlp.fc1.bias", b.fc1_bias);
            f(p + "mlp.fc2.weight", b.fc2_weight);
            f(p + "mlp.fc2.bias", b.fc2_bias);
        }
        f(std::string("head.weight"), self.head_weight);
        f(std::string("head.bias"), self.head_bias);
    }
};

namespace detail {
inline std::vector<std::string> string_list_metadata(CheckpointAssembler& in, const std::string& key) {
    const nlohmann::json j = in.metadata_json(key);
    if (j.is_null()) return {};
    std::vector<std::string> out;
    if (!j.is_array()) {
        in.problem("metadata '" + key + "' is not a JSON list of strings");
        return {};
    }
    for (const auto& e : j) {
        if (!e.is_string()) {
            in.problem("metadata '" + key + "' contains a non-string entry");
            return {};
        }
        out.push_back(e.get<std::string>());
    }
    return out;
}
}  // namespace detail

/// Builds a spike-driven transformer checkpoint; one qslm::Error lists every problem.
inline SdtCheckpoint load_sdt_checkpoint(const SafetensorsFile& file) {
    CheckpointAssembler in(file, "spike-driven transformer");
    SdtCheckpoint ck;
    SdtConfig& cfg = ck.config;

    if (const auto* e = in.peek("embed.weight"); e && e->rank() == 2) {
        cfg.vocab_size = static_cast<std::size_t>(e->shape[0]);
        cfg.dim = static_cast<std::size_t>(e->shape[1]);
    }
    if (const auto* p = in.peek("pos_embed.weight"); p && p->rank() == 2) {
        cfg.max_len = static_cast<std::size_t>(p->shape[0]);
        if (!cfg.dim) cfg.dim = static_cast<std::size_t>(p->shape[1]);
    }
    if (const auto* h = in.peek("head.weight"); h && h->rank() == 2) {
        cfg.n_classes = static_cast<std::size_t>(h->shape[0]);
        if (!cfg.dim) cfg.dim = static_cast<std::size_t>(h->shape[1]);
    }
    cfg.n_layer = in.count_blocks();
    for (std::size_t i = 0; i < cfg.n_layer && !cfg.mlp_hidden; ++i)
        if (const auto* f = in.peek("blocks." + std::to_string(i) + ".mlp.fc1.weight"); f && f->rank() == 2)
            cfg.mlp_hidden = static_cast<std::size_t>(f->shape[0]);

    const Dim V{cfg.vocab_size, "vocab_size"}, D{cfg.dim, "dim"}, L{cfg.max_len, "max_len"},
        H{cfg.mlp_hidden, "mlp_hidden"}, K{cfg.n_classes, "n_classes"};
    ck.embed = in.matrix("embed.weight", V, D);
    ck.pos_embed = in.matrix("pos_embed.weight", L, D);
    ck.blocks.resize(cfg.n_layer);
    for (std::size_t i = 0; i < cfg.n_layer; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        SdtBlock& b = ck.blocks[i];
        b.q_weight = in.matrix(p + "attn.q.weight", D, D);
        b.q_bias = in.vector(p + "attn.q.bias", D);
        b.k_weight = in.matrix(p + "attn.k.weight", D, D);
        b.k_bias = in.vector(p + "attn.k.bias", D);
        b.v_weight = in.matrix(p + "attn.v.weight", D, D);
        b.v_bias = in.vector(p + "attn.v.bias", D);
        b.proj_weight = in.matrix(p + "attn.proj.weight", D, D);
        b.proj_bias = in.vector(p + "attn.proj.bias", D);
        b.fc1_weight = in.matrix(p + "mlp.fc1.weight", H, D);
        b.fc1_bias = in.vector(p + "mlp.fc1.bias", H);
        b.fc2_weight = in.matrix(p + "mlp.fc2.weight", D, H);
        b.fc2_bias = in.vector(p + "mlp.fc2.bias", D);
    }
    ck.head_weight = in.matrix("head.weight", K, D);
    ck.head_bias = in.vector("head.bias", K);

    const nlohmann::json config = in.metadata_json("config");
    if (!config.is_null() && !config.is_object()) in.problem("metadata 'config' is not a JSON object");
    in.check_config_size(config, "vocab_size", cfg.vocab_size);
    in.check_config_size(config, "dim", cfg.dim);
    in.check_config_size(config, "n_layer", cfg.n_layer);
    in.check_config_size(config, "max_len", cfg.max_len);
    in.check_config_size(config, "n_classes", cfg.n_classes);
    if (config.is_object() && config.contains("mlp_ratio") && cfg.dim)
        in.check_config_size(config, "mlp_ratio", cfg.mlp_hidden / cfg.dim);
    if (config.is_object() && config.contains("T")) {
        const auto& t = config["T"];
        if (t.is_number_unsigned() && t.get<std::uint64_t>() >= 1 && t.get<std::uint64_t>() <= 1024)
            cfg.time_steps = static_cast<std::size_t>(t.get<std::uint64_t>());
        else
            in.problem("metadata config entry 'T' is " + t.dump() + ", not a time-step count in 1..1024");
    }
    in.read_config_number(config, "tau", cfg.tau);
    in.read_config_number(config, "v_threshold", cfg.v_threshold);
    in.read_config_number(config, "v_reset", cfg.v_reset);
    in.read_config_number(config, "attn_threshold", cfg.attn_threshold);
    if (!(cfg.tau > 0.0f)) in.problem("LIF tau must be positive");
    if (const auto folded = in.metadata_bool("bn_folded"); folded && !*folded)
        in.problem("metadata says bn_folded = false; export the model with BatchNorm folded into the linears");
    ck.vocab = detail::string_list_metadata(in, "vocab");
    if (!ck.vocab.empty() && cfg.vocab_size && ck.vocab.size() != cfg.vocab_size)
        in.problem("metadata 'vocab' has " + std::to_string(ck.vocab.size()) + " entries but embed.weight has " +
                   std::to_string(cfg.vocab_size) + " rows");
    ck.labels = detail::string_list_metadata(in, "labels");
    if (!ck.labels.empty() && cfg.n_classes && ck.labels.size() != cfg.n_classes)
        in.problem("metadata 'labels' has " + std::to_string(ck.labels.size()) + " entries but head.weight has " +
                   std::to_string(cfg.n_classes) + " rows");

    in.throw_if_problems();
    ck.metadata.insert(file.metadata().begin(), file.metadata().end());
    ck.unused_tensors = in.unused();
    return ck;
}

inline SdtCheckpoint load_sdt_checkpoint(const std::filesystem::path& path) {
    return load_sdt_checkpoint(SafetensorsFile::open(path));
}

}  // namespace qslm::io
