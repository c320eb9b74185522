#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "qslm/neuron.hpp"

using namespace qslm::neuron;
using qslm::Fixed;

namespace {
// The exact real update of one step from a (fixed-point) state, in double.
double exact_sj_charge(const SpikingJellyParams& p, double x, double v) {
    const double vr = p.reset == Reset::hard ? p.v_reset : 0.0;
    return p.decay_input ? v + (x - (v - vr)) / p.tau : v - (v - vr) / p.tau + x;
}
template <class V>
double clamp_to(double h) {
    return std::fmin(std::fmax(h, V::lowest().to_double()), V::max().to_double());
}
template <class V>
bool representable(double h) {
    const double scaled = h * V::one_raw;
    return scaled == std::floor(scaled) && h >= V::lowest().to_double() && h <= V::max().to_double();
}
}  // namespace

TEMPLATE_TEST_CASE("fixed-point SpikingJelly LIF is within half an LSB of the exact update, and exact when representable",
                   "[neuron][fixed]", (Fixed<4, 4>), (Fixed<8, 8>), (Fixed<16, 16>), (Fixed<8, 24>), (Fixed<3, 5>)) {
    using V = TestType;
    const double tau = GENERATE(2.0, 4.0, 3.0);
    const bool decay_input = GENERATE(true, false);
    const Reset reset = GENERATE(Reset::hard, Reset::subtract);
    const SpikingJellyParams p{.tau = tau, .v_threshold = 1.0, .v_reset = 0.0, .reset = reset, .decay_input = decay_input};
    auto n = SpikingJellyLIF<V>::make(p);
    REQUIRE(n);
    REQUIRE(n->thresholds_exact());
    const double lsb = V::resolution();
    // With tau not a power of two the reciprocal carries a 2^-30 relative error on top.
    const double tol = 0.5 * lsb + (n->tau_is_shift() ? 0.0 : 8.0 * std::ldexp(1.0, -30) * V::max().to_double());
    std::mt19937 rng(42);
    std::normal_distribution<double> dist(0.6, 1.5);
    V v = n->initial_state();
    int exact_cases = 0;
    for (int i = 0; i < 2000; ++i) {
        const V x = V::from_float(dist(rng));
        const double h_exact = clamp_to<V>(exact_sj_charge(p, x.to_double(), v.to_double()));
        const V h = n->charge(x, v);
        REQUIRE(std::abs(h.to_double() - h_exact) <= tol);
        if (representable<V>(h_exact) && n->tau_is_shift()) {
            REQUIRE(h.to_double() == h_exact);
            ++exact_cases;
        }
        const bool s = n->step(x, v);
        REQUIRE(s == (h.to_double() >= 1.0));
        if (s && reset == Reset::hard) REQUIRE(v.raw() == 0);
        if (s && reset == Reset::subtract) REQUIRE(v.to_double() == clamp_to<V>(h.to_double() - 1.0));
        if (!s) REQUIRE(v == h);
    }
    if (n->tau_is_shift()) CHECK(exact_cases > 100);
}

TEST_CASE("fixed-point LIF reproduces the float traces exactly where every value is representable") {
    using V = Fixed<8, 24>;  // 8 halvings of inputs with 2 fractional bits need at most 10
    const std::vector<double> xs = {1.5, 1.5, 0.5, 3.0, -1.0, 0.25, 2.0, -3.5};
    for (const Reset reset : {Reset::hard, Reset::subtract}) {
        for (const bool decay_input : {true, false}) {
            const SpikingJellyParams p{.tau = 2.0, .v_threshold = 1.0, .v_reset = 0.0, .reset = reset, .decay_input = decay_input};
            auto nf = SpikingJellyLIF<float>::make(p);
            auto nq = SpikingJellyLIF<V>::make(p);
            REQUIRE(nf);
            REQUIRE(nq);
            float vf = nf->initial_state();
            V vq = nq->initial_state();
            for (double x : xs) {
                const bool sf = nf->step(static_cast<float>(x), vf);
                const bool sq = nq->step(V::from_float(x), vq);
                REQUIRE(sf == sq);
                REQUIRE(vq.to_double() == static_cast<double>(vf));
            }
        }
    }
}

TEMPLATE_TEST_CASE("fixed-point snnTorch Leaky is within half an LSB of the exact update with its effective beta",
                   "[neuron][fixed]", (Fixed<8, 8>), (Fixed<16, 16>), (Fixed<2, 6>)) {
    using V = TestType;
    const double beta = GENERATE(0.5, 0.9, 0.95);
    const Reset reset = GENERATE(Reset::subtract, Reset::hard, Reset::none);
    auto n = SnnTorchLeaky<V>::make({.beta = beta, .threshold = 1.0, .reset = reset});
    REQUIRE(n);
    const double b = n->effective_beta();
    CHECK(std::abs(b - beta) <= std::ldexp(1.0, -17));
    if (beta == 0.5) CHECK(b == 0.5);
    std::mt19937 rng(5);
    std::normal_distribution<double> dist(0.3, 0.8);
    V u = n->initial_state();
    for (int i = 0; i < 2000; ++i) {
        const V x = V::from_float(dist(rng));
        const double prev = u.to_double();
        const bool r = prev > 1.0;
        double exact = b * ((reset == Reset::hard && r) ? 0.0 : prev) + x.to_double() - ((reset == Reset::subtract && r) ? 1.0 : 0.0);
        exact = clamp_to<V>(exact);
        const bool s = n->step(x, u);
        REQUIRE(std::abs(u.to_double() - exact) <= 0.5 * V::resolution());
        if (representable<V>(exact)) REQUIRE(u.to_double() == exact);
        REQUIRE(s == (u.to_double() > 1.0));
    }
}

TEST_CASE("fixed-point membranes saturate instead of wrapping") {
    using V = Fixed<4, 4>;  // [-8, 7.9375]
    auto n = IntegrateAndFire<V>::make({.v_threshold = 100.0, .reset = Reset::none});  // threshold saturates to max
    REQUIRE(n);
    V v = V::zero();
    for (int i = 0; i < 5; ++i) (void)n->step(V::from_float(7.0), v);
    CHECK(v == V::max());
    auto lif = SpikingJellyLIF<V>::make({.tau = 2.0, .v_threshold = 7.0, .reset = Reset::none});
    REQUIRE(lif);
    V m = V::from_float(-8.0);
    (void)lif->step(V::from_float(-8.0), m);
    CHECK(m.to_double() == -8.0);
}

TEST_CASE("fixed-point LIF reports whether its threshold is exact") {
    auto exact = SpikingJellyLIF<Fixed<8, 8>>::make({.v_threshold = 0.5});
    auto rounded = SpikingJellyLIF<Fixed<8, 8>>::make({.v_threshold = 0.1});
    REQUIRE(exact);
    REQUIRE(rounded);
    CHECK(exact->thresholds_exact());
    CHECK_FALSE(rounded->thresholds_exact());
    CHECK(rounded->threshold().raw() == 26);  // round(0.1 * 256)
}

TEST_CASE("fixed-point neuron layer runs multi-step with integer membranes") {
    using V = Fixed<16, 16>;
    auto n = SpikingJellyLIF<V>::standard();
    std::vector<V> x = {V::from_float(2.0), V::from_float(0.5), V::from_float(1.0), V::from_float(4.0)};  // T=2, N=2
    std::vector<V> v(2, V::zero());
    std::vector<std::uint8_t> s(4);
    REQUIRE(run_steps(n, 2, std::span<const V>(x), std::span<V>(v), std::span<std::uint8_t>(s)) == qslm::Status::ok);
    CHECK(s == std::vector<std::uint8_t>{1, 0, 0, 1});
    CHECK(v[0].to_double() == 0.5);
    CHECK(v[1].to_double() == 0.0);
}
