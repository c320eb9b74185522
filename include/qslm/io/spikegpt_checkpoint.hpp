#pragma once
// SpikeGPT checkpoints: from a safetensors file with the tensor names of the reference SpikeGPT
// implementation (Zhu et al., src/model.py; also what tools/train/spikegpt.py and
// tools/convert_checkpoint.py write) to a plain host struct with validated shapes, which the
// C++ model and the quantizer consume.
//
// Names and shapes (C = n_embd, A = attention width, H = ffn hidden width, V = vocab size):
//   emb.weight [V, C]
//   blocks.0.ln0.{weight,bias} [C]                        (block 0 only)
//   blocks.N.ln1.{weight,bias} [C], blocks.N.ln2.{weight,bias} [C]
//   blocks.N.att.{key,value,receptance}.weight [A, C], blocks.N.att.output.weight [C, A]
//   blocks.N.att.time_mix_{k,v,r} [C] (or [1, 1, C]), blocks.N.att.time_{first,decay} [A]
//   blocks.N.ffn.key.weight [H, C], blocks.N.ffn.value.weight [C, H], blocks.N.ffn.receptance.weight [C, C]
//   blocks.N.ffn.time_mix_{k,r} [C] (or [1, 1, C])
//   ln_out.{weight,bias} [C], head.weight [V, C]
// n_layer, n_embd, vocab size, A and H come from the shapes. binary_embedding comes from the
// "binary_embedding" metadata ("true"/"false") or the "config" metadata JSON; a file that states
// neither follows the reference implementation's RNN runner, which binarises the embedding only
// for its 77-symbol character model and feeds every other model the float embedding (so a
// reference-named checkpoint without qslm metadata gives the reference's logits);
// LIF and LayerNorm constants from "config" when present (tau, v_threshold, v_reset, ln_eps).
// time_decay is stored raw, as in the reference code: the decay applied is w = -exp(time_decay).

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "qslm/io/checkpoint_assembler.hpp"
#include "qslm/io/safetensors.hpp"

namespace qslm::io {

struct SpikeGptConfig {
    std::size_t n_layer = 0;
    std::size_t n_embd = 0;
    std::size_t vocab_size = 0;
    std::size_t att_dim = 0;     ///< width of the time-mix key/value/receptance (= n_embd in SpikeGPT)
    std::size_t ffn_hidden = 0;  ///< channel-mix hidden width (4 * n_embd in SpikeGPT)
    bool binary_embedding = true;
    /// Why binary_embedding has its value, for `qslm info`: what the file stated, or the
    /// reference runner's rule when it stated nothing.
    std::string binary_embedding_source = "default";
    float ln_eps = 1e-5f;
    float tau = 2.0f;  ///< LIF time constant (SpikingJelly decay_input form)
    float v_threshold = 1.0f;
    float v_reset = 0.0f;
};

struct SpikeGptBlock {
    FloatTensor ln1_weight, ln1_bias, ln2_weight, ln2_bias;
    FloatTensor att_key, att_value, att_receptance, att_output;
    FloatTensor att_time_mix_k, att_time_mix_v, att_time_mix_r, att_time_first, att_time_decay;
    FloatTensor ffn_key, ffn_value, ffn_receptance;
    FloatTensor ffn_time_mix_k, ffn_time_mix_r;
};

struct SpikeGptCheckpoint {
    SpikeGptConfig config;
    FloatTensor emb;
    FloatTensor ln0_weight, ln0_bias;  ///< blocks.0.ln0
    std::vector<SpikeGptBlock> blocks;
    FloatTensor ln_out_weight, ln_out_bias;
    FloatTensor head;
    std::map<std::string, std::string> metadata;  ///< the file's __metadata__, verbatim
    std::vector<std::string> unused_tensors;      ///< names in the file that SpikeGPT does not use

    /// Calls f(name, tensor) for every tensor, under its checkpoint name, in a fixed order
    /// (embedding, blocks in order, output): how the quantizer enumerates modules.
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
        f(std::string("emb.weight"), self.emb);
        for (std::size_t i = 0; i < self.blocks.size(); ++i) {
            auto& b = self.blocks[i];
            const std::string p = "blocks." + std::to_string(i) + ".";
            if (i == 0) {
                f(p + "ln0.weight", self.ln0_weight);
                f(p + "ln0.bias", self.ln0_bias);
            }
            f(p + "ln1.weight", b.ln1_weight);
            f(p + "ln1.bias", b.ln1_bias);
            f(p + "ln2.weight", b.ln2_weight);
            f(p + "ln2.bias", b.ln2_bias);
            f(p + "att.time_decay", b.att_time_decay);
            f(p + "att.time_first", b.att_time_first);
            f(p + "att.time_mix_k", b.att_time_mix_k);
            f(p + "att.time_mix_v", b.att_time_mix_v);
            f(p + "att.time_mix_r", b.att_time_mix_r);
            f(p + "att.key.weight", b.att_key);
            f(p + "att.value.weight", b.att_value);
            f(p + "att.receptance.weight", b.att_receptance);
            f(p + "att.output.weight", b.att_output);
            f(p + "ffn.time_mix_k", b.ffn_time_mix_k);
            f(p + "ffn.time_mix_r", b.ffn_time_mix_r);
            f(p + "ffn.key.weight", b.ffn_key);
            f(p + "ffn.receptance.weight", b.ffn_receptance);
            f(p + "ffn.value.weight", b.ffn_value);
        }
        f(std::string("ln_out.weight"), self.ln_out_weight);
        f(std::string("ln_out.bias"), self.ln_out_bias);
        f(std::string("head.weight"), self.head);
    }
};

/// Builds a SpikeGPT checkpoint; one qslm::Error lists every missing or mis-shaped tensor.
inline SpikeGptCheckpoint load_spikegpt_checkpoint(const SafetensorsFile& file) {
    CheckpointAssembler in(file, "SpikeGPT");
    SpikeGptCheckpoint ck;
    SpikeGptConfig& cfg = ck.config;

    // Sizes from the shapes: the embedding gives V and C; fall back on the head / ln_out so a
    // file without emb.weight still gets a precise list of what else is wrong.
    if (const auto* e = in.peek("emb.weight"); e && e->rank() == 2) {
        cfg.vocab_size = static_cast<std::size_t>(e->shape[0]);
        cfg.n_embd = static_cast<std::size_t>(e->shape[1]);
    } else if (const auto* h = in.peek("head.weight"); h && h->rank() == 2) {
        cfg.vocab_size = static_cast<std::size_t>(h->shape[0]);
        cfg.n_embd = static_cast<std::size_t>(h->shape[1]);
    } else if (const auto* l = in.peek("ln_out.weight"); l && l->rank() >= 1) {
        cfg.n_embd = static_cast<std::size_t>(l->shape.back());
    }
    cfg.n_layer = in.count_blocks();
    for (std::size_t i = 0; i < cfg.n_layer && (!cfg.att_dim || !cfg.ffn_hidden); ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        if (const auto* k = in.peek(p + "att.key.weight"); k && k->rank() == 2 && !cfg.att_dim)
            cfg.att_dim = static_cast<std::size_t>(k->shape[0]);
        if (const auto* k = in.peek(p + "ffn.key.weight"); k && k->rank() == 2 && !cfg.ffn_hidden)
            cfg.ffn_hidden = static_cast<std::size_t>(k->shape[0]);
    }

    const Dim V{cfg.vocab_size, "vocab_size"}, C{cfg.n_embd, "n_embd"}, A{cfg.att_dim, "att_dim"},
        H{cfg.ffn_hidden, "ffn_hidden"};
    ck.emb = in.matrix("emb.weight", V, C);
    ck.blocks.resize(cfg.n_layer);
    for (std::size_t i = 0; i < cfg.n_layer; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        SpikeGptBlock& b = ck.blocks[i];
        if (i == 0) {
            ck.ln0_weight = in.vector(p + "ln0.weight", C);
            ck.ln0_bias = in.vector(p + "ln0.bias", C);
        }
        b.ln1_weight = in.vector(p + "ln1.weight", C);
        b.ln1_bias = in.vector(p + "ln1.bias", C);
        b.ln2_weight = in.vector(p + "ln2.weight", C);
        b.ln2_bias = in.vector(p + "ln2.bias", C);
        b.att_key = in.matrix(p + "att.key.weight", A, C);
        b.att_value = in.matrix(p + "att.value.weight", A, C);
        b.att_receptance = in.matrix(p + "att.receptance.weight", A, C);
        b.att_output = in.matrix(p + "att.output.weight", C, A);
        b.att_time_mix_k = in.vector(p + "att.time_mix_k", C);
        b.att_time_mix_v = in.vector(p + "att.time_mix_v", C);
        b.att_time_mix_r = in.vector(p + "att.time_mix_r", C);
        b.att_time_first = in.vector(p + "att.time_first", A);
        b.att_time_decay = in.vector(p + "att.time_decay", A);
        b.ffn_key = in.matrix(p + "ffn.key.weight", H, C);
        b.ffn_value = in.matrix(p + "ffn.value.weight", C, H);
        b.ffn_receptance = in.matrix(p + "ffn.receptance.weight", C, C);
        b.ffn_time_mix_k = in.vector(p + "ffn.time_mix_k", C);
        b.ffn_time_mix_r = in.vector(p + "ffn.time_mix_r", C);
    }
    ck.ln_out_weight = in.vector("ln_out.weight", C);
    ck.ln_out_bias = in.vector("ln_out.bias", C);
    ck.head = in.matrix("head.weight", V, C);

    // Metadata: the training script's config (optional) must agree with the shapes.
    const nlohmann::json config = in.metadata_json("config");
    if (!config.is_null() && !config.is_object()) in.problem("metadata 'config' is not a JSON object");
    in.check_config_size(config, "vocab_size", cfg.vocab_size);
    in.check_config_size(config, "n_layer", cfg.n_layer);
    in.check_config_size(config, "n_embd", cfg.n_embd);
    if (config.is_object() && config.contains("ffn_mult") && cfg.n_embd)
        in.check_config_size(config, "ffn_mult", cfg.ffn_hidden / cfg.n_embd);
    in.read_config_number(config, "ln_eps", cfg.ln_eps);
    in.read_config_number(config, "tau", cfg.tau);
    in.read_config_number(config, "v_threshold", cfg.v_threshold);
    in.read_config_number(config, "v_reset", cfg.v_reset);
    // The reference runner's rule (the 77-symbol character model reads a binarised
    // embedding, every other model the float one), unless the file says otherwise.
    cfg.binary_embedding = cfg.vocab_size == 77;
    cfg.binary_embedding_source = cfg.binary_embedding
                                      ? "not stated in the file: binary, as the reference runner reads its 77-symbol character model"
                                      : "not stated in the file: float, as the reference runner reads every model but its "
                                        "77-symbol character model";
    if (config.is_object() && config.contains("binary_embedding")) {
        if (config["binary_embedding"].is_boolean()) {
            cfg.binary_embedding = config["binary_embedding"].get<bool>();
            cfg.binary_embedding_source = "stated in the file's config metadata";
        } else {
            in.problem("metadata config entry 'binary_embedding' is not true or false");
        }
    }
    if (const auto b = in.metadata_bool("binary_embedding")) {
        if (config.is_object() && config.contains("binary_embedding") && config["binary_embedding"].is_boolean() &&
            config["binary_embedding"].get<bool>() != *b)
            in.problem("metadata 'binary_embedding' and the config's binary_embedding disagree");
        cfg.binary_embedding = *b;
        cfg.binary_embedding_source = "stated in the file's binary_embedding metadata";
    }
    if (!(cfg.tau > 0.0f)) in.problem("LIF tau must be positive");
    if (!(cfg.ln_eps > 0.0f)) in.problem("ln_eps must be positive");

    in.throw_if_problems();
    ck.metadata.insert(file.metadata().begin(), file.metadata().end());
    ck.unused_tensors = in.unused();
    return ck;
}

inline SpikeGptCheckpoint load_spikegpt_checkpoint(const std::filesystem::path& path) {
    return load_spikegpt_checkpoint(SafetensorsFile::open(path));
}

}  // namespace qslm::io
