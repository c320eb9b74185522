#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "qslm/neuron.hpp"

using namespace qslm::neuron;

namespace {
struct Trace {
    std::vector<int> spikes;
    std::vector<double> membrane;
};
template <class N>
Trace run_trace(const N& n, const std::vector<double>& xs) {
    using V = typename N::value_type;
    Trace t;
    V v = n.initial_state();
    for (double x : xs) {
        t.spikes.push_back(n.step(static_cast<V>(x), v) ? 1 : 0);
        t.membrane.push_back(static_cast<double>(v));
    }
    return t;
}
const std::vector<double> inputs = {1.5, 1.5, 0.5, 3.0, -1.0};
}  // namespace

TEST_CASE("SpikingJelly LIF with hard reset follows the hand-computed trace") {
    auto n = SpikingJellyLIF<float>::make({.tau = 2.0, .v_threshold = 1.0, .v_reset = 0.0, .reset = Reset::hard});
    REQUIRE(n);
    // H = V + (X - V)/2: 0.75 | 1.125 -> spike, 0 | 0.25 | 1.625 -> spike, 0 | -0.5
    const Trace t = run_trace(*n, inputs);
    CHECK(t.spikes == std::vector<int>{0, 1, 0, 1, 0});
    CHECK(t.membrane == std::vector<double>{0.75, 0.0, 0.25, 0.0, -0.5});
}

TEST_CASE("SpikingJelly LIF with soft reset subtracts the threshold") {
    auto n = SpikingJellyLIF<float>::make({.tau = 2.0, .v_threshold = 1.0, .reset = Reset::subtract});
    REQUIRE(n);
    const Trace t = run_trace(*n, inputs);
    CHECK(t.spikes == std::vector<int>{0, 1, 0, 1, 0});
    CHECK(t.membrane == std::vector<double>{0.75, 0.125, 0.3125, 0.65625, -0.171875});
}

TEST_CASE("SpikingJelly LIF without input decay leaks only the membrane") {
    auto n = SpikingJellyLIF<float>::make({.tau = 2.0, .v_threshold = 1.0, .reset = Reset::hard, .decay_input = false});
    REQUIRE(n);
    // H = V/2 + X: 1.5 s | 1.5 s | 0.5 | 3.25 s | -1
    const Trace t = run_trace(*n, inputs);
    CHECK(t.spikes == std::vector<int>{1, 1, 0, 1, 0});
    CHECK(t.membrane == std::vector<double>{0.0, 0.0, 0.5, 0.0, -1.0});
}

TEST_CASE("SpikingJelly LIF with a non-zero reset value starts from it and returns to it") {
    auto n = SpikingJellyLIF<float>::make({.tau = 2.0, .v_threshold = 1.0, .v_reset = -0.5, .reset = Reset::hard});
    REQUIRE(n);
    const Trace t = run_trace(*n, inputs);
    CHECK(t.spikes == std::vector<int>{0, 0, 0, 1, 0});
    CHECK(t.membrane == std::vector<double>{0.25, 0.625, 0.3125, -0.5, -1.0});
}

TEST_CASE("SpikingJelly LIF fires when the membrane equals the threshold, snnTorch does not") {
    auto sj = SpikingJellyLIF<float>::standard();
    float v = 0.0f;
    CHECK(sj.step(2.0f, v));  // H = 1.0 exactly
    auto st = SnnTorchLeaky<float>::make({.beta = 0.5, .threshold = 1.0});
    REQUIRE(st);
    float u = 0.0f;
    CHECK_FALSE(st->step(1.0f, u));  // U = 1.0 exactly: strict '>'
}

TEST_CASE("SpikingJelly LIF float path is the PyTorch expression evaluated in float32") {
    // Non-dyadic tau and inputs: the result must equal the literal float32 expression of
    // SpikingJelly's charge functions, operation for operation.
    const double tau = GENERATE(2.0, 3.0, 1.7);
    const bool decay_input = GENERATE(true, false);
    const double v_reset = GENERATE(0.0, 0.3);
    auto n = SpikingJellyLIF<float>::make({.tau = tau, .v_threshold = 0.7, .v_reset = v_reset,
                                           .reset = Reset::hard, .decay_input = decay_input});
    REQUIRE(n);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.4f, 1.0f);
    float v = static_cast<float>(v_reset), ref = static_cast<float>(v_reset);
    const float ft = static_cast<float>(tau), fr = static_cast<float>(v_reset), th = 0.7f;
    for (int i = 0; i < 200; ++i) {
        const float x = dist(rng);
        float h;
        if (decay_input) h = v_reset == 0.0 ? ref + (x - ref) / ft : ref + (x - (ref - fr)) / ft;
        else h = v_reset == 0.0 ? ref * static_cast<float>(1.0 - 1.0 / tau) + x : ref - (ref - fr) / ft + x;
        const float s = (h - th) >= 0.0f ? 1.0f : 0.0f;
        ref = (1.0f - s) * h + s * fr;
        const bool spike = n->step(x, v);
        REQUIRE(spike == (s == 1.0f));
        REQUIRE(v == ref);
    }
}

TEST_CASE("snnTorch Leaky with reset by subtraction follows the hand-computed trace") {
    auto n = SnnTorchLeaky<float>::make({.beta = 0.5, .threshold = 1.0, .reset = Reset::subtract});
    REQUIRE(n);
    // U = 0.5 U + I - R*1 with R from the previous membrane (reset one step late).
    const Trace t = run_trace(*n, {1.5, 0.5, 0.0, 2.0, 0.0});
    CHECK(t.spikes == std::vector<int>{1, 0, 0, 1, 0});
    CHECK(t.membrane == std::vector<double>{1.5, 0.25, 0.125, 2.0625, 0.03125});
}

TEST_CASE("snnTorch Leaky with reset to zero clears the membrane one step after the spike") {
    auto n = SnnTorchLeaky<float>::make({.beta = 0.5, .threshold = 1.0, .reset = Reset::hard});
    REQUIRE(n);
    const Trace t = run_trace(*n, {1.5, 0.5, 0.0, 2.0, 0.0});
    CHECK(t.spikes == std::vector<int>{1, 0, 0, 1, 0});
    CHECK(t.membrane == std::vector<double>{1.5, 0.5, 0.25, 2.125, 0.0});
}

TEST_CASE("snnTorch Leaky float path is beta*U + I - R*thr in float32") {
    auto n = SnnTorchLeaky<float>::make({.beta = 0.9, .threshold = 0.8, .reset = Reset::subtract});
    REQUIRE(n);
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.3f, 0.7f);
    float u = 0.0f, ref = 0.0f;
    const float beta = 0.9f, thr = 0.8f;
    for (int i = 0; i < 200; ++i) {
        const float x = dist(rng);
        const float r = (ref - thr) > 0.0f ? 1.0f : 0.0f;
        ref = beta * ref + x - r * thr;
        const bool s = n->step(x, u);
        REQUIRE(u == ref);
        REQUIRE(s == ((ref - thr) > 0.0f));
    }
}

TEST_CASE("IF neuron integrates without leak") {
    auto n = IntegrateAndFire<float>::make({.v_threshold = 1.0, .reset = Reset::subtract});
    REQUIRE(n);
    const Trace t = run_trace(*n, {0.25, 0.5, 0.5, -0.25, 1.0});
    CHECK(t.spikes == std::vector<int>{0, 0, 1, 0, 1});
    CHECK(t.membrane == std::vector<double>{0.25, 0.75, 0.25, 0.0, 0.0});
}

TEST_CASE("multi-step run equals T single steps over a layer") {
    auto n = SpikingJellyLIF<float>::standard();
    constexpr std::size_t T = 6, N = 5;
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0.8f, 1.0f);
    std::vector<float> x(T * N);
    for (auto& e : x) e = dist(rng);
    std::vector<float> v1(N, 0.0f), v2(N, 0.0f);
    std::vector<std::uint8_t> s1(T * N), s2(N);
    qslm::OpCounts counts;
    REQUIRE(run_steps(n, T, std::span<const float>(x), std::span<float>(v1), std::span<std::uint8_t>(s1), &counts) ==
            qslm::Status::ok);
    std::uint64_t fired = 0;
    for (std::size_t t = 0; t < T; ++t) {
        REQUIRE(step_layer(n, std::span<const float>(x).subspan(t * N, N), std::span<float>(v2), std::span<std::uint8_t>(s2)) ==
                qslm::Status::ok);
        for (std::size_t i = 0; i < N; ++i) {
            CHECK(s1[t * N + i] == s2[i]);
            fired += s2[i];
        }
    }
    CHECK(v1 == v2);
    CHECK(counts.state_updates == T * N);
    CHECK(counts.spikes == fired);
}

TEST_CASE("neuron layers reject mismatched spans and bad parameters") {
    auto n = SpikingJellyLIF<float>::standard();
    std::vector<float> x(4), v(3);
    std::vector<std::uint8_t> s(4), short_s(2);
    CHECK(step_layer(n, std::span<const float>(x), std::span<float>(v), std::span<std::uint8_t>(s)) == qslm::Status::bad_shape);
    std::vector<float> v4(4);
    CHECK(step_layer(n, std::span<const float>(x), std::span<float>(v4), std::span<std::uint8_t>(short_s)) ==
          qslm::Status::buffer_too_small);
    CHECK(run_steps(n, 3, std::span<const float>(x), std::span<float>(v4), std::span<std::uint8_t>(s)) == qslm::Status::bad_shape);
    CHECK(SpikingJellyLIF<float>::make({.tau = 0.5}).status() == qslm::Status::invalid_argument);
    CHECK(SpikingJellyLIF<float>::make({.tau = NAN}).status() == qslm::Status::invalid_argument);
    CHECK(SpikingJellyLIF<float>::make({.v_threshold = INFINITY}).status() == qslm::Status::invalid_argument);
    CHECK(SnnTorchLeaky<float>::make({.beta = 1.5}).status() == qslm::Status::invalid_argument);
    CHECK(IntegrateAndFire<float>::make({.v_reset = NAN}).status() == qslm::Status::invalid_argument);
}
