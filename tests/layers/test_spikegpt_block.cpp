#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "layers_test_support.hpp"
#include "qslm/layers/spikegpt_block.hpp"

using namespace qslm;
using namespace qslm::layers;
using qslm_test::random_floats;

namespace {

// Owns the tensors of one block, initialised like tools/train/spikegpt.py's tiny_random_init.
struct BlockTensors {
    std::size_t C, H;
    std::vector<float> ln0_w, ln0_b, ln1_w, ln1_b, ln2_w, ln2_b, decay, first, amk, amv, amr, fmk, fmr;
    std::vector<float> ak, av, ar, ao, fk, fv, fr;

    BlockTensors(std::size_t c, std::size_t h, bool ln0, std::uint32_t seed) : C(c), H(h) {
        std::mt19937 rng(seed);
        auto normal = [&](std::size_t n, double mean, double sd) {
            std::normal_distribution<float> d(static_cast<float>(mean), static_cast<float>(sd));
            std::vector<float> v(n);
            for (auto& e : v) e = d(rng);
            return v;
        };
        auto uniform = [&](std::size_t n, double lo, double hi) {
            std::uniform_real_distribution<float> d(static_cast<float>(lo), static_cast<float>(hi));
            std::vector<float> v(n);
            for (auto& e : v) e = d(rng);
            return v;
        };
        if (ln0) {
            ln0_w = normal(C, 1.0, 0.2);
            ln0_b = normal(C, 0.0, 0.2);
        }
        ln1_w = normal(C, 1.0, 0.2); ln1_b = normal(C, 0.0, 0.2);
        ln2_w = normal(C, 1.0, 0.2); ln2_b = normal(C, 0.0, 0.2);
        decay = uniform(C, -3.0, 1.5); first = uniform(C, -1.0, 1.0);
        amk = uniform(C, 0, 1); amv = uniform(C, 0, 1); amr = uniform(C, 0, 1);
        fmk = uniform(C, 0, 1); fmr = uniform(C, 0, 1);
        const double sc = 1.0 / std::sqrt(static_cast<double>(C));
        ak = normal(C * C, 0, sc); av = normal(C * C, 0, sc); ar = normal(C * C, 0, sc);
        ao = normal(C * C, 0, 8.0 * sc);
        fk = normal(H * C, 0, sc);
        fv = normal(C * H, 0, 5.0 / std::sqrt(static_cast<double>(H)));
        fr = normal(C * C, 0, sc);
    }
    SpikeGptBlockWeights weights() const {
        SpikeGptBlockWeights w;
        w.n_embd = C;
        w.ffn_hidden = H;
        w.ln0_weight = ln0_w; w.ln0_bias = ln0_b;
        w.ln1_weight = ln1_w; w.ln1_bias = ln1_b; w.ln2_weight = ln2_w; w.ln2_bias = ln2_b;
        w.att_time_decay = decay; w.att_time_first = first;
        w.att_time_mix_k = amk; w.att_time_mix_v = amv; w.att_time_mix_r = amr;
        w.att_key = ak; w.att_value = av; w.att_receptance = ar; w.att_output = ao;
        w.ffn_time_mix_k = fmk; w.ffn_time_mix_r = fmr;
        w.ffn_key = fk; w.ffn_value = fv; w.ffn_receptance = fr;
        return w;
    }
};

// An independent float64 implementation of rnn_step() of tools/train/spikegpt.py for one block,
// written from the Python with plain loops (unstable-looking but equivalent max/exp form).
struct ReferenceBlock {
    const BlockTensors& t;
    double att_scale = 1.0, ffn_scale = 1.0;  // runner option: divided weights
    std::vector<double> att_x, aa, bb, pp, ffn_x, v1, v2;
    double min_margin = 1e9;
    explicit ReferenceBlock(const BlockTensors& bt)
        : t(bt), att_x(bt.C), aa(bt.C), bb(bt.C), pp(bt.C, -1e38), ffn_x(bt.C), v1(bt.C), v2(bt.C) {}

    static std::vector<double> ln(const std::vector<double>& x, const std::vector<float>& w, const std::vector<float>& b) {
        double mu = 0, var = 0;
        for (double e : x) mu += e;
        mu /= static_cast<double>(x.size());
        for (double e : x) var += (e - mu) * (e - mu);
        var /= static_cast<double>(x.size());
        std::vector<double> y(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) y[i] = (x[i] - mu) / std::sqrt(var + 1e-5) * w[i] + b[i];
        return y;
    }
    static std::vector<double> matvec(const std::vector<float>& w, std::size_t rows, const std::vector<double>& x) {
        std::vector<double> y(rows, 0.0);
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t c = 0; c < x.size(); ++c) y[r] += static_cast<double>(w[r * x.size() + c]) * x[c];
        return y;
    }
    static double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }
    bool lif(double in, double& v) {
        const double h = v + (in - v) / 2.0;
        min_margin = std::fmin(min_margin, std::abs(h - 1.0));
        const bool s = h - 1.0 >= 0;
        v = s ? 0.0 : h;
        return s;
    }
    void step(std::vector<double>& x) {
        const std::size_t C = t.C;
        if (!t.ln0_w.empty()) x = ln(x, t.ln0_w, t.ln0_b);
        const auto xa = ln(x, t.ln1_w, t.ln1_b);
        std::vector<double> xk(C), xv(C), xr(C);
        for (std::size_t i = 0; i < C; ++i) {
            xk[i] = xa[i] * t.amk[i] + att_x[i] * (1 - t.amk[i]);
            xv[i] = xa[i] * t.amv[i] + att_x[i] * (1 - t.amv[i]);
            xr[i] = xa[i] * t.amr[i] + att_x[i] * (1 - t.amr[i]);
        }
        att_x = xa;
        const auto k = matvec(t.ak, C, xk), v = matvec(t.av, C, xv), r = matvec(t.ar, C, xr);
        std::vector<double> y(C);
        for (std::size_t i = 0; i < C; ++i) {
            const double w = -std::exp(static_cast<double>(t.decay[i])), u = t.first[i];
            double q = std::max(pp[i], u + k[i]);
            double e1 = std::exp(pp[i] - q), e2 = std::exp(u + k[i] - q);
            y[i] = sigmoid(r[i]) * (e1 * aa[i] + e2 * v[i]) / (e1 * bb[i] + e2);
            q = std::max(w + pp[i], k[i]);
            e1 = std::exp(w + pp[i] - q);
            e2 = std::exp(k[i] - q);
            aa[i] = e1 * aa[i] + e2 * v[i];
            bb[i] = e1 * bb[i] + e2;
            pp[i] = q;
        }
        const auto a = matvec(t.ao, C, y);
        for (std::size_t i = 0; i < C; ++i) x[i] += lif(a[i] * att_scale, v1[i]) ? 1.0 : 0.0;
        const auto xf = ln(x, t.ln2_w, t.ln2_b);
        for (std::size_t i = 0; i < C; ++i) {
            xk[i] = xf[i] * t.fmk[i] + ffn_x[i] * (1 - t.fmk[i]);
            xr[i] = xf[i] * t.fmr[i] + ffn_x[i] * (1 - t.fmr[i]);
        }
        ffn_x = xf;
        auto kk = matvec(t.fk, t.H, xk);
        for (auto& e : kk) e = e > 0 ? e * e : 0.0;
        const auto rr = matvec(t.fr, C, xr);
        const auto vv = matvec(t.fv, C, kk);
        for (std::size_t i = 0; i < C; ++i) x[i] += lif(sigmoid(rr[i]) * vv[i] * ffn_scale, v2[i]) ? 1.0 : 0.0;
    }
};

std::vector<float> binary_input(std::size_t C, std::uint32_t seed) {
    const auto s = qslm_test::random_spikes(C, seed, 0.5);
    return std::vector<float>(s.begin(), s.end());
}

}  // namespace

TEST_CASE("SpikeGPT block follows an independent float64 reference of the training-mode forward") {
    const bool first_block = GENERATE(true, false);
    const std::size_t C = 16, H = 64;
    const BlockTensors bt(C, H, first_block, first_block ? 101 : 202);
    auto block = SpikeGptBlock::make(bt.weights());
    REQUIRE(block);
    std::vector<float> state(SpikeGptBlock::state_floats(C)), scratch(SpikeGptBlock::scratch_floats(C, H, 1));
    REQUIRE(block->init_state(state) == Status::ok);
    ReferenceBlock ref(bt);
    std::size_t compared = 0;
    std::uint64_t spikes = 0;
    for (std::uint32_t step = 0; step < 60; ++step) {
        // block 0 sees binary embeddings; a later block sees a residual stream of small integers + LN output
        std::vector<float> x = binary_input(C, 1000 + step);
        if (!first_block)
            for (std::size_t i = 0; i < C; ++i) x[i] = x[i] * 2.0f - 0.5f + static_cast<float>(i % 3);
        std::vector<double> xr(x.begin(), x.end());
        OpCounts counts;
        REQUIRE(block->forward(x, state, scratch, 1, &counts) == Status::ok);
        ref.min_margin = 1e9;
        ref.step(xr);
        spikes += counts.spikes;
        // float32 vs float64: equal spikes unless a membrane lands within rounding of the threshold.
        if (ref.min_margin < 1e-3) break;
        for (std::size_t i = 0; i < C; ++i) REQUIRE(x[i] == Approx(xr[i]).margin(1e-4));
        ++compared;
    }
    CHECK(compared >= 20);
    CHECK(spikes > 0);
}

TEST_CASE("SpikeGPT block: batched streams equal each stream run alone, bit for bit") {
    const std::size_t C = 32, H = 128, B = 5, steps = 12;
    const BlockTensors bt(C, H, true, 7);
    auto block = SpikeGptBlock::make(bt.weights());
    REQUIRE(block);
    const std::size_t S = SpikeGptBlock::state_floats(C);
    std::vector<float> state_b(B * S), scratch_b(SpikeGptBlock::scratch_floats(C, H, B));
    REQUIRE(block->init_state(state_b, B) == Status::ok);
    std::vector<std::vector<float>> state_1(B, std::vector<float>(S));
    std::vector<float> scratch_1(SpikeGptBlock::scratch_floats(C, H, 1));
    for (auto& s : state_1) REQUIRE(block->init_state(s) == Status::ok);
    for (std::size_t t = 0; t < steps; ++t) {
        std::vector<float> xb;
        std::vector<std::vector<float>> x1;
        for (std::size_t b = 0; b < B; ++b) {
            x1.push_back(binary_input(C, static_cast<std::uint32_t>(100 * t + b)));
            xb.insert(xb.end(), x1.back().begin(), x1.back().end());
        }
        REQUIRE(block->forward(xb, state_b, scratch_b, B) == Status::ok);
        for (std::size_t b = 0; b < B; ++b) {
            REQUIRE(block->forward(x1[b], state_1[b], scratch_1, 1) == Status::ok);
            for (std::size_t i = 0; i < C; ++i) REQUIRE(xb[b * C + i] == x1[b][i]);
            for (std::size_t i = 0; i < S; ++i) REQUIRE(state_b[b * S + i] == state_1[b][i]);
        }
    }
}

TEST_CASE("SpikeGPT block: streaming a sequence equals running it token by token") {
    const std::size_t C = 16, H = 64, T = 25;
    const BlockTensors bt(C, H, false, 9);
    auto block = SpikeGptBlock::make(bt.weights());
    REQUIRE(block);
    std::vector<float> seq;
    for (std::size_t t = 0; t < T; ++t) {
        const auto x = binary_input(C, static_cast<std::uint32_t>(t));
        seq.insert(seq.end(), x.begin(), x.end());
    }
    std::vector<float> s1(SpikeGptBlock::state_floats(C)), s2(s1.size()), scratch(SpikeGptBlock::scratch_floats(C, H, 1));
    REQUIRE(block->init_state(s1) == Status::ok);
    REQUIRE(block->init_state(s2) == Status::ok);
    std::vector<float> streamed = seq;
    REQUIRE(block->forward_sequence(streamed, T, s1, scratch) == Status::ok);
    for (std::size_t t = 0; t < T; ++t) {
        std::vector<float> x(seq.begin() + static_cast<std::ptrdiff_t>(t * C), seq.begin() + static_cast<std::ptrdiff_t>((t + 1) * C));
        REQUIRE(block->forward(x, s2, scratch) == Status::ok);
        for (std::size_t i = 0; i < C; ++i) REQUIRE(streamed[t * C + i] == x[i]);
    }
    CHECK(s1 == s2);
    // constant memory per token: the state size does not depend on the sequence length
    CHECK(block->state_bytes() == 7 * C * sizeof(float));
}

TEST_CASE("SpikeGPT block: the RNN-runner rescaling is an option, and is not the training-mode forward") {
    const std::size_t C = 16, H = 64;
    const BlockTensors bt(C, H, false, 11);
    // layer 5 of rescale-every-6: weights unscaled, residual halved after the block
    auto plain = SpikeGptBlock::make(bt.weights());
    auto l5 = SpikeGptBlock::make(bt.weights(), {.layer_id = 5, .runner_rescale_every = 6});
    // layer 6: att.output and ffn.value divided by 2, which the LIFs feel
    auto l6 = SpikeGptBlock::make(bt.weights(), {.layer_id = 6, .runner_rescale_every = 6});
    REQUIRE(plain);
    REQUIRE(l5);
    REQUIRE(l6);
    std::vector<float> sp(SpikeGptBlock::state_floats(C)), s5(sp.size()), s6(sp.size()), scratch(SpikeGptBlock::scratch_floats(C, H, 1));
    REQUIRE(plain->init_state(sp) == Status::ok);
    REQUIRE(l5->init_state(s5) == Status::ok);
    REQUIRE(l6->init_state(s6) == Status::ok);
    ReferenceBlock ref6(bt);
    ref6.att_scale = ref6.ffn_scale = 0.5;
    bool differs = false;
    for (std::uint32_t t = 0; t < 30; ++t) {
        auto xp = binary_input(C, t), x5 = xp, x6 = xp;
        std::vector<double> xr(xp.begin(), xp.end());
        REQUIRE(plain->forward(xp, sp, scratch) == Status::ok);
        REQUIRE(l5->forward(x5, s5, scratch) == Status::ok);
        REQUIRE(l6->forward(x6, s6, scratch) == Status::ok);
        ref6.min_margin = 1e9;
        ref6.step(xr);
        for (std::size_t i = 0; i < C; ++i) {
            REQUIRE(x5[i] == xp[i] * 0.5f);
            differs |= x6[i] != xp[i];
        }
        if (ref6.min_margin > 1e-3)
            for (std::size_t i = 0; i < C; ++i) REQUIRE(x6[i] == Approx(xr[i]).margin(1e-4));
        else
            break;
    }
    CHECK(differs);
}

TEST_CASE("SpikeGPT block refuses mismatched tensors and short buffers") {
    const std::size_t C = 8, H = 32;
    const BlockTensors bt(C, H, false, 1);
    auto w = bt.weights();
    w.ffn_key = std::span<const float>(bt.fk).first(10);
    CHECK(SpikeGptBlock::make(w).status() == Status::bad_shape);
    w = bt.weights();
    w.n_embd = 0;
    CHECK(SpikeGptBlock::make(w).status() == Status::bad_shape);
    auto block = SpikeGptBlock::make(bt.weights());
    REQUIRE(block);
    std::vector<float> x(C), state(SpikeGptBlock::state_floats(C)), scratch(SpikeGptBlock::scratch_floats(C, H, 1));
    std::vector<float> small(3), x_bad(C + 1);
    CHECK(block->init_state(small) == Status::buffer_too_small);
    REQUIRE(block->init_state(state) == Status::ok);
    CHECK(block->forward(x_bad, state, scratch) == Status::bad_shape);
    CHECK(block->forward(x, small, scratch) == Status::buffer_too_small);
    CHECK(block->forward(x, state, small) == Status::buffer_too_small);
    CHECK(block->parameter_bytes() == (9 * C + 5 * C * C + 2 * C * H) * sizeof(float));
}

TEST_CASE("SpikeGPT block: operation counts match a hand count of one step") {
    const std::size_t C = 16, H = 64, B = 3;
    const BlockTensors bt(C, H, false, 11);
    auto block = SpikeGptBlock::make(bt.weights());
    REQUIRE(block);
    const std::size_t S = SpikeGptBlock::state_floats(C);
    std::vector<float> state(B * S), scratch(SpikeGptBlock::scratch_floats(C, H, B));
    REQUIRE(block->init_state(state, B) == Status::ok);
    std::vector<float> x;
    for (std::size_t b = 0; b < B; ++b) {
        const auto xb = binary_input(C, static_cast<std::uint32_t>(b));
        x.insert(x.end(), xb.begin(), xb.end());
    }
    OpCounts counts;
    REQUIRE(block->forward(x, state, scratch, B, &counts) == Status::ok);
    // Seven matrices, each row of each stream one dot product; the weights are fetched once
    // for the whole batch.
    CHECK(counts.multiply_accumulates == B * (4 * C * C + H * C + C * C + C * H));
    CHECK(counts.weight_bits_read == (5 * C * C + 2 * C * H) * 32);
    CHECK(counts.state_updates == B * 2 * C);  // two LIF layers of C neurons
    CHECK(counts.synaptic_accumulates == counts.spikes);
    // Per stream: state (7 C = 112 floats) read and written, 36 C-vectors and 4 H-vectors
    // moved: 224 + 576 + 256 = 1,056 floats = 4,224 bytes.
    REQUIRE(S == 112);
    CHECK(counts.activation_bytes_moved == B * 4224);
}
