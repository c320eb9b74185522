#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "layers_test_support.hpp"
#include "qslm/layers/spike_driven_attention.hpp"
#include "qslm/layers/spiking_self_attention.hpp"

using namespace qslm;
using namespace qslm::layers;
using qslm_test::random_spikes;

namespace {
// Straightforward SDSA: per time step, per channel, count Q AND K over the visible tokens,
// LIF (tau 2, threshold 0.5, hard reset 0), gate V.
bool lif_step(float& mem, float x) {
    const float h = mem + (x - mem) / 2.0f;
    const bool s = h - 0.5f >= 0.0f;
    mem = s ? 0.0f : h;
    return s;
}
std::vector<std::uint8_t> sdsa_loops(std::size_t T, std::size_t N, std::size_t D, bool causal,
                                     const std::vector<std::uint8_t>& q, const std::vector<std::uint8_t>& k,
                                     const std::vector<std::uint8_t>& v, const std::vector<std::uint8_t>& valid) {
    std::vector<float> mem(N * D, 0.0f);
    std::vector<std::uint8_t> out(T * N * D);
    auto at = [&](std::size_t t, std::size_t n, std::size_t d) { return (t * N + n) * D + d; };
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t d = 0; d < D; ++d) {
            if (!causal) {
                int a = 0;
                for (std::size_t m = 0; m < N; ++m)
                    if (valid.empty() || valid[m]) a += q[at(t, m, d)] * k[at(t, m, d)];
                const bool s = lif_step(mem[d], static_cast<float>(a));
                for (std::size_t n = 0; n < N; ++n) out[at(t, n, d)] = static_cast<std::uint8_t>(s && v[at(t, n, d)]);
            } else {
                for (std::size_t n = 0; n < N; ++n) {
                    int a = 0;
                    for (std::size_t m = 0; m <= n; ++m)
                        if (valid.empty() || valid[m]) a += q[at(t, m, d)] * k[at(t, m, d)];
                    const bool s = lif_step(mem[n * D + d], static_cast<float>(a));
                    out[at(t, n, d)] = static_cast<std::uint8_t>(s && v[at(t, n, d)]);
                }
            }
        }
    return out;
}

// Straightforward SSA / STAtten: attention scores Q.K per head over the visible (t', m), times V.
std::vector<std::uint8_t> ssa_loops(std::size_t T, std::size_t N, std::size_t D, std::size_t H, std::size_t block,
                                    bool causal, float scale, const std::vector<std::uint8_t>& q,
                                    const std::vector<std::uint8_t>& k, const std::vector<std::uint8_t>& v) {
    const std::size_t dh = D / H;
    std::vector<float> mem(N * D, 0.0f);
    std::vector<std::uint8_t> out(T * N * D);
    for (std::size_t t = 0; t < T; ++t) {
        const std::size_t t0 = t / block * block, t1 = std::min(T, t0 + block);
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t d = 0; d < D; ++d) {
                const std::size_t h = d / dh;
                int acc = 0;
                for (std::size_t tp = t0; tp < t1; ++tp)
                    for (std::size_t m = 0; m < N; ++m) {
                        if (causal && m > n) continue;
                        int score = 0;
                        for (std::size_t i = h * dh; i < (h + 1) * dh; ++i) score += q[(t * N + n) * D + i] * k[(tp * N + m) * D + i];
                        acc += score * v[(tp * N + m) * D + d];
                    }
                out[(t * N + n) * D + d] = static_cast<std::uint8_t>(lif_step(mem[n * D + d], static_cast<float>(acc) * scale));
            }
    }
    return out;
}
}  // namespace

TEST_CASE("hand-checked SDSA: the column count of Q AND K gates V") {
    // N = 2 tokens, D = 2 channels, one step. Channel 0: Q&K in both tokens (count 2 -> H = 1 >= 0.5,
    // fires); channel 1: no coincidence (count 0, silent).
    const std::vector<std::uint8_t> q = {1, 1, 1, 0}, k = {1, 0, 1, 1}, v = {1, 1, 0, 1};
    auto a = SpikeDrivenSelfAttention<float>::make({.tokens = 2, .dim = 2});
    REQUIRE(a);
    std::vector<float> mem(a->state_size(), 0.0f);
    std::vector<std::uint8_t> out(4);
    OpCounts c;
    REQUIRE(a->step(q, k, v, {}, mem, out, &c) == Status::ok);
    CHECK(out == std::vector<std::uint8_t>{1, 0, 0, 0});
    CHECK(c.synaptic_accumulates == 2);
    CHECK(c.multiplies == 0);
}

TEST_CASE("SDSA equals straightforward loops, with padding masks and the causal option") {
    const std::size_t T = 4, N = 7, D = 12;
    const bool causal = GENERATE(false, true);
    const bool masked = GENERATE(false, true);
    const auto q = random_spikes(T * N * D, 1, 0.4), k = random_spikes(T * N * D, 2, 0.4), v = random_spikes(T * N * D, 3, 0.5);
    std::vector<std::uint8_t> valid;
    if (masked) valid = {1, 1, 1, 1, 1, 0, 0};
    auto a = SpikeDrivenSelfAttention<float>::make({.tokens = N, .dim = D, .causal = causal});
    REQUIRE(a);
    std::vector<float> mem(a->state_size());
    a->reset(mem);
    std::vector<std::uint8_t> out(T * N * D);
    REQUIRE(a->run(T, q, k, v, valid, mem, out) == Status::ok);
    CHECK(out == sdsa_loops(T, N, D, causal, q, k, v, valid));
    // Fixed point: the counts and the tau = 2 halvings are exact, so the spikes agree.
    auto aq = SpikeDrivenSelfAttention<Fixed<16, 16>>::make({.tokens = N, .dim = D, .causal = causal});
    REQUIRE(aq);
    std::vector<Fixed<16, 16>> memq(aq->state_size());
    aq->reset(memq);
    std::vector<std::uint8_t> outq(T * N * D);
    REQUIRE(aq->run(T, q, k, v, valid, memq, outq) == Status::ok);
    CHECK(outq == out);
}

TEST_CASE("SSA and STAtten equal straightforward attention loops") {
    const std::size_t T = 4, N = 6, D = 8;
    const std::size_t heads = GENERATE(1, 2, 4);
    const std::size_t block = GENERATE(1, 2, 4, 3);
    const bool causal = GENERATE(false, true);
    const auto q = random_spikes(T * N * D, 4, 0.3), k = random_spikes(T * N * D, 5, 0.3), v = random_spikes(T * N * D, 6, 0.4);
    SpikingSelfAttentionConfig cfg{.tokens = N, .dim = D, .heads = heads, .time_block = block, .causal = causal, .scale = 0.125};
    auto a = SpikingSelfAttention<float>::make(cfg);
    REQUIRE(a);
    std::vector<float> mem(a->state_size(), 0.0f);
    std::vector<std::int32_t> scratch(a->scratch_size());
    std::vector<std::uint8_t> out(T * N * D);
    OpCounts counts;
    REQUIRE(a->run(T, q, k, v, mem, out, scratch, &counts) == Status::ok);
    const auto ref = ssa_loops(T, N, D, heads, block, causal, 0.125f, q, k, v);
    CHECK(out == ref);
    CHECK(counts.multiply_accumulates == 0);
    std::size_t ones = 0;
    for (auto s : ref) ones += s;
    CHECK(counts.spikes == ones);

    auto aq = SpikingSelfAttention<Fixed<16, 16>>::make(cfg);
    REQUIRE(aq);
    std::vector<Fixed<16, 16>> memq(aq->state_size());
    std::vector<std::uint8_t> outq(T * N * D);
    REQUIRE(aq->run(T, q, k, v, memq, outq, scratch) == Status::ok);
    CHECK(outq == out);
}

TEST_CASE("attention layers refuse inconsistent shapes") {
    CHECK(SpikingSelfAttention<float>::make({.tokens = 4, .dim = 6, .heads = 4}).status() == Status::bad_shape);
    CHECK(SpikingSelfAttention<float>::make({.tokens = 4, .dim = 8, .time_block = 0}).status() == Status::bad_shape);
    CHECK(SpikingSelfAttention<float>::make({.tokens = 4, .dim = 8, .scale = -1.0}).status() == Status::invalid_argument);
    CHECK(SpikeDrivenSelfAttention<float>::make({.tokens = 0, .dim = 8}).status() == Status::bad_shape);
    auto a = SpikeDrivenSelfAttention<float>::make({.tokens = 2, .dim = 2});
    REQUIRE(a);
    std::vector<std::uint8_t> s4(4), s3(3), out(4);
    std::vector<float> mem(2);
    CHECK(a->step(s4, s4, s3, {}, mem, out) == Status::bad_shape);
    CHECK(a->step(s4, s4, s4, s3, mem, out) == Status::bad_shape);
    std::vector<float> mem_bad(3);
    CHECK(a->step(s4, s4, s4, {}, mem_bad, out) == Status::bad_shape);
    auto b = SpikingSelfAttention<float>::make({.tokens = 2, .dim = 2});
    REQUIRE(b);
    std::vector<std::int32_t> scratch(1);
    std::vector<float> mem4(4);
    CHECK(b->run(1, s4, s4, s4, mem, out, scratch) == Status::bad_shape);
    CHECK(b->run(1, s4, s4, s4, mem4, out, scratch) == Status::buffer_too_small);
}
