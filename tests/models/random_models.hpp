#pragma once
// Small random models built in C++ (no Python needed), scaled like tools/train's tiny models so
// that a fair fraction of the LIF neurons fire.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <qslm/io/sdt_checkpoint.hpp>
#include <qslm/io/spikegpt_checkpoint.hpp>

namespace qslm_test {

inline qslm::io::FloatTensor random_tensor(std::mt19937& rng, std::vector<std::size_t> shape, double mean, double std) {
    qslm::io::FloatTensor t;
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    t.shape = std::move(shape);
    std::normal_distribution<double> dist(mean, std);
    for (std::size_t i = 0; i < n; ++i) t.data.push_back(static_cast<float>(dist(rng)));
    return t;
}
inline qslm::io::FloatTensor uniform_tensor(std::mt19937& rng, std::size_t n, double lo, double hi) {
    qslm::io::FloatTensor t;
    t.shape = {n};
    std::uniform_real_distribution<double> dist(lo, hi);
    for (std::size_t i = 0; i < n; ++i) t.data.push_back(static_cast<float>(dist(rng)));
    return t;
}

inline qslm::io::SpikeGptCheckpoint random_spikegpt(std::size_t n_layer, std::size_t C, std::size_t V, std::uint32_t seed,
                                                    bool binary_embedding = true, std::size_t ffn_mult = 4) {
    std::mt19937 rng(seed);
    const std::size_t H = ffn_mult * C;
    qslm::io::SpikeGptCheckpoint ck;
    auto& c = ck.config;
    c.n_layer = n_layer;
    c.n_embd = C;
    c.vocab_size = V;
    c.att_dim = C;
    c.ffn_hidden = H;
    c.binary_embedding = binary_embedding;
    const double sc = 1.0 / std::sqrt(static_cast<double>(C));
    ck.emb = random_tensor(rng, {V, C}, 0.0, 1.0);
    ck.ln0_weight = random_tensor(rng, {C}, 1.0, 0.2);
    ck.ln0_bias = random_tensor(rng, {C}, 0.0, 0.2);
    for (std::size_t i = 0; i < n_layer; ++i) {
        qslm::io::SpikeGptBlock b;
        b.ln1_weight = random_tensor(rng, {C}, 1.0, 0.2);
        b.ln1_bias = random_tensor(rng, {C}, 0.0, 0.2);
        b.ln2_weight = random_tensor(rng, {C}, 1.0, 0.2);
        b.ln2_bias = random_tensor(rng, {C}, 0.0, 0.2);
        b.att_key = random_tensor(rng, {C, C}, 0.0, sc);
        b.att_value = random_tensor(rng, {C, C}, 0.0, sc);
        b.att_receptance = random_tensor(rng, {C, C}, 0.0, sc);
        b.att_output = random_tensor(rng, {C, C}, 0.0, 8.0 * sc);
        b.att_time_mix_k = uniform_tensor(rng, C, 0.0, 1.0);
        b.att_time_mix_v = uniform_tensor(rng, C, 0.0, 1.0);
        b.att_time_mix_r = uniform_tensor(rng, C, 0.0, 1.0);
        b.att_time_first = uniform_tensor(rng, C, -1.0, 1.0);
        b.att_time_decay = uniform_tensor(rng, C, -3.0, 1.5);
        b.ffn_key = random_tensor(rng, {H, C}, 0.0, sc);
        b.ffn_value = random_tensor(rng, {C, H}, 0.0, 5.0 / std::sqrt(static_cast<double>(H)));
        b.ffn_receptance = random_tensor(rng, {C, C}, 0.0, sc);
        b.ffn_time_mix_k = uniform_tensor(rng, C, 0.0, 1.0);
        b.ffn_time_mix_r = uniform_tensor(rng, C, 0.0, 1.0);
        ck.blocks.push_back(std::move(b));
    }
    ck.ln_out_weight = random_tensor(rng, {C}, 1.0, 0.2);
    ck.ln_out_bias = random_tensor(rng, {C}, 0.0, 0.2);
    ck.head = random_tensor(rng, {V, C}, 0.0, sc);
    return ck;
}

inline qslm::io::SdtCheckpoint random_sdt(std::size_t n_layer, std::size_t D, std::size_t V, std::size_t max_len,
                                          std::uint32_t seed) {
    std::mt19937 rng(seed);
    const std::size_t H = 4 * D;
    const double sc = 2.0 / std::sqrt(static_cast<double>(D));
    qslm::io::SdtCheckpoint ck;
    auto& c = ck.config;
    c.n_layer = n_layer;
    c.dim = D;
    c.vocab_size = V;
    c.max_len = max_len;
    c.mlp_hidden = H;
    c.n_classes = 2;
    ck.embed = random_tensor(rng, {V, D}, 0.5, 1.0);
    ck.pos_embed = random_tensor(rng, {max_len, D}, 0.0, 0.5);
    for (std::size_t i = 0; i < n_layer; ++i) {
        qslm::io::SdtBlock b;
        b.q_weight = random_tensor(rng, {D, D}, 0.0, sc);
        b.k_weight = random_tensor(rng, {D, D}, 0.0, sc);
        b.v_weight = random_tensor(rng, {D, D}, 0.0, sc);
        b.proj_weight = random_tensor(rng, {D, D}, 0.0, sc);
        b.fc1_weight = random_tensor(rng, {H, D}, 0.0, sc);
        b.fc2_weight = random_tensor(rng, {D, H}, 0.0, 1.0 / std::sqrt(static_cast<double>(H)));
        for (auto* bias : {&b.q_bias, &b.k_bias, &b.v_bias, &b.proj_bias, &b.fc2_bias}) *bias = random_tensor(rng, {D}, 0.8, 0.5);
        b.fc1_bias = random_tensor(rng, {H}, 0.8, 0.5);
        ck.blocks.push_back(std::move(b));
    }
    ck.head_weight = random_tensor(rng, {2, D}, 0.0, 1.0);
    ck.head_bias = random_tensor(rng, {2}, 0.0, 0.1);
    ck.vocab = {"<pad>", "<unk>"};
    for (std::size_t i = 2; i < V; ++i) ck.vocab.push_back("w" + std::to_string(i));
    ck.labels = {"negative", "positive"};
    return ck;
}

}  // namespace qslm_test
