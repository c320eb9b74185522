// The integer building blocks against their real-valued definitions (and, for the LIF, against
// neuron::SpikingJellyLIF<Fixed<16, 16>> bit for bit).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "layers/layers_test_support.hpp"
#include "qslm/layers/integer/exp2.hpp"
#include "qslm/layers/integer/layer_norm.hpp"
#include "qslm/layers/integer/lif.hpp"
#include "qslm/layers/integer/linear.hpp"
#include "qslm/layers/integer/wkv.hpp"
#include "qslm/layers/spikegpt_block.hpp"
#include "qslm/io/integer/prepare_spikegpt.hpp"
#include "qslm/neuron/spiking_jelly_lif.hpp"
#include "qslm/tensor/packed_tensor.hpp"

using namespace qslm;
namespace li = qslm::layers::integer;

TEST_CASE("the exp2 table holds 2^(-i/256) in Q30 rounded to nearest") {
    for (std::size_t i = 0; i < li::exp2_table.size(); ++i)
        CHECK(std::fabs(li::exp2_table[i] - std::ldexp(std::exp2(-static_cast<double>(i) / 256.0), 30)) <= 0.5);
    CHECK(li::exp2_table.front() == (1 << 30));
    CHECK(li::exp2_table.back() == (1 << 29));
}

TEST_CASE("exp2_neg is within 2^-20 of 2^-t over its whole range and exactly 1 at t <= 0") {
    double worst = 0.0;
    for (std::int64_t t = 0; t < (std::int64_t{34} << 16); t += 97)
        worst = std::max(worst, std::fabs(li::exp2_neg(t) / 1073741824.0 - std::exp2(-static_cast<double>(t) / 65536.0)));
    CHECK(worst < std::ldexp(1.0, -20));
    CHECK(li::exp2_neg(0) == (1 << 30));
    CHECK(li::exp2_neg(-12345) == (1 << 30));
    CHECK(li::exp2_neg(std::int64_t{31} << 16) == 0);
}

TEST_CASE("sigmoid_q30 is within 1e-6 of the logistic function, symmetric, and saturates cleanly") {
    double worst = 0.0;
    for (std::int64_t z = -(std::int64_t{40} << 16); z <= (std::int64_t{40} << 16); z += 311) {
        const double ref = 1.0 / (1.0 + std::exp2(-static_cast<double>(z) / 65536.0));
        worst = std::max(worst, std::fabs(li::sigmoid_q30(z) / 1073741824.0 - ref));
        CHECK(li::sigmoid_q30(z) + li::sigmoid_q30(-z) - (1 << 30) <= 1);
    }
    CHECK(worst < 1e-6);
    CHECK(li::sigmoid_q30(std::int64_t{1} << 40) == (1 << 30));
    CHECK(li::sigmoid_q30(-(std::int64_t{1} << 40)) == 0);
}

TEST_CASE("the integer LIF equals SpikingJellyLIF<Fixed<16,16>> bit for bit on every step") {
    using V = Fixed<16, 16>;
    const double v_reset = GENERATE(0.0, -0.25);
    const int tau_shift = GENERATE(1, 2);
    neuron::SpikingJellyParams sp;
    sp.tau = std::ldexp(1.0, tau_shift);
    sp.v_reset = v_reset;
    const auto ref = neuron::SpikingJellyLIF<V>::make(sp).value();
    const li::LifParams p = models::integer::lif_params(sp.tau, sp.v_threshold, sp.v_reset);
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::int32_t> in(-(3 << 16), 3 << 16);
    V v_ref = ref.initial_state();
    std::int32_t v = p.v_reset_raw;
    int spikes = 0;
    for (int t = 0; t < 20000; ++t) {
        const std::int32_t x = in(rng);
        const bool s_ref = ref.step(V::from_raw(x), v_ref);
        const bool s = li::lif_step(p, x, v);
        REQUIRE(s == s_ref);
        REQUIRE(v == v_ref.raw());
        spikes += s ? 1 : 0;
    }
    CHECK(spikes > 100);
}

TEST_CASE("the integer LayerNorm matches float LayerNorm to 2^-14 for both output formats") {
    const std::size_t C = GENERATE(std::size_t{16}, std::size_t{256}, std::size_t{1000});
    const auto xs = qslm_test::random_floats(C, 3, 2.0f, 0.5f);
    const auto g = qslm_test::random_floats(C, 4, 0.5f, 1.0f);
    const auto b = qslm_test::random_floats(C, 5, 0.3f);
    std::vector<std::int32_t> x(C), gq(C), bq(C);
    std::vector<float> xf(C);
    for (std::size_t i = 0; i < C; ++i) {
        x[i] = models::integer::to_q16(xs[i]);
        xf[i] = static_cast<float>(x[i] / 65536.0);
        gq[i] = models::integer::to_q16(g[i]);
        bq[i] = models::integer::to_q16(b[i]);
    }
    std::vector<float> gf(C), bf(C);
    for (std::size_t i = 0; i < C; ++i) {
        gf[i] = static_cast<float>(gq[i] / 65536.0);
        bf[i] = static_cast<float>(bq[i] / 65536.0);
    }
    auto ln = layers::LayerNorm::make(gf, bf, 1e-5).value();
    std::vector<float> ref(C);
    REQUIRE(ln.forward(xf, ref) == Status::ok);
    std::vector<std::int32_t> y(C);
    li::layer_norm<li::Activation>(x.data(), C, {gq, bq}, 42950, y.data());
    for (std::size_t i = 0; i < C; ++i) CHECK(std::fabs(y[i] / 65536.0 - ref[i]) < std::ldexp(1.0, -14));
}

TEST_CASE("the integer LayerNorm maps a constant input to beta") {
    std::vector<std::int32_t> x(8, 3 << 16), g(8, 1 << 16), b(8, 12345), y(8);
    li::layer_norm<li::Activation>(x.data(), 8, {g, b}, 0, y.data());
    for (const auto v : y) CHECK(v == 12345);
}

TEST_CASE("the integer WKV step follows the float stable recurrence within 1e-4 over many tokens") {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    const double log2e = 1.4426950408889634;
    for (float decay : {-4.0f, -1.0f, 0.5f, 2.0f}) {
        const float u = nd(rng) * 0.5f;
        const float w = -std::exp(decay);
        float aa = 0, bb = 0, pp = -1e38f;
        std::int32_t ai = 0, bi = 0, pi = li::log2_floor_raw;
        const std::int32_t w2 = models::integer::to_q16(w * log2e), u2 = models::integer::to_q16(u * log2e);
        for (int t = 0; t < 300; ++t) {
            const float k = nd(rng), v = nd(rng);
            const std::int32_t k2 = models::integer::to_q16(k * log2e), vq = models::integer::to_q16(v);
            const float ref = layers::SpikeGptBlock::wkv_step(static_cast<float>(w2 / 65536.0 / log2e),
                                                              static_cast<float>(u2 / 65536.0 / log2e),
                                                              static_cast<float>(k2 / 65536.0 / log2e),
                                                              static_cast<float>(vq / 65536.0), aa, bb, pp);
            const std::int32_t got = li::wkv_step(w2, u2, k2, vq, ai, bi, pi);
            REQUIRE(std::fabs(got / 65536.0 - ref) < 1e-4 * (1.0 + std::fabs(ref)));
        }
    }
}

TEMPLATE_TEST_CASE_SIG("the integer matvec equals the dequantized float product to the requantization error",
                       "", ((int Bits), Bits), 1, 2, 4, 8) {
    const std::size_t rows = 24, cols = 70;
    const auto w = qslm_test::random_floats(rows * cols, 21, 0.2f);
    const bool zp = GENERATE(false, true);
    const ScaleLayout layout = GENERATE(ScaleLayout::per_channel(), ScaleLayout::per_group(16), ScaleLayout::per_tensor());
    QuantSpec spec{layout, zp && Bits > 1, ScaleFormat::float32};
    const auto packed = PackedTensor<Bits>::quantize(w, rows, cols, spec).value();
    const auto view = packed.view();
    std::vector<li::PackedMultiplier> m;
    for (std::size_t s = 0; s < view.scale_count(); ++s)
        m.push_back(li::PackedMultiplier::pack(models::integer::requantization_multiplier(static_cast<double>(view.scale(s)))));
    const auto xs = qslm_test::random_floats(cols, 22, 3.0f);
    std::vector<std::int32_t> x(cols);
    for (std::size_t c = 0; c < cols; ++c) x[c] = models::integer::to_q16(xs[c]);
    std::vector<std::int32_t> y(rows);
    li::StaticMatrix<PackedTensorView<Bits>> matrix{view, m};
    REQUIRE(matrix.check() == Status::ok);
    REQUIRE(li::matvec(matrix, x.data(), y.data()) == Status::ok);
    for (std::size_t r = 0; r < rows; ++r) {
        double ref = 0.0, mag = 0.0;
        for (std::size_t c = 0; c < cols; ++c) {
            ref += static_cast<double>(view.dequantized(r, c)) * (x[c] / 65536.0);
            mag += std::fabs(static_cast<double>(view.dequantized(r, c)) * (x[c] / 65536.0));
        }
        CHECK(std::fabs(y[r] / 65536.0 - ref) <= 1e-4 + mag * 1e-6);
    }
}

TEST_CASE("requantize stays exact-then-rounded below 2^38 and does not overflow above") {
    const FixedMultiplier m = models::integer::requantization_multiplier(0.75);
    CHECK(li::requantize(1000, m) == 750);
    CHECK(li::requantize(-1000, m) == -750);
    const std::int64_t big = std::int64_t{1} << 52;
    CHECK(std::fabs(static_cast<double>(li::requantize(big, m)) - 0.75 * static_cast<double>(big)) < 1e-6 * static_cast<double>(big));
    CHECK(std::fabs(static_cast<double>(li::requantize(-big, m)) + 0.75 * static_cast<double>(big)) < 1e-6 * static_cast<double>(big));
}

TEST_CASE("a packed multiplier keeps the 24-bit mantissa and the shift, and gives the same products") {
    for (const double real : {0.75, 1.0, 3.0e-7, 1234.5, 0.999999995, 1.0 / 3.0}) {
        const FixedMultiplier m = models::integer::requantization_multiplier(real);
        REQUIRE(li::PackedMultiplier::fits(m));
        const FixedMultiplier u = li::PackedMultiplier::pack(m).unpack();
        CHECK(u.multiplier < (1 << li::multiplier_bits));
        CHECK(std::ldexp(static_cast<double>(u.multiplier), -u.shift) == std::ldexp(static_cast<double>(m.multiplier), -m.shift));
        for (const std::int64_t acc : {std::int64_t{1}, std::int64_t{-777}, std::int64_t{123456789}, -(std::int64_t{1} << 45)})
            CHECK(li::requantize(acc, u) == li::requantize(acc, m));
    }
    // A mantissa that rounded up to 2^24 is renormalised without changing any product.
    const FixedMultiplier carried{1 << 24, 30};
    const FixedMultiplier u = li::PackedMultiplier::pack(carried).unpack();
    CHECK(u.multiplier == (1 << 23));
    CHECK(u.shift == 29);
    for (const std::int64_t acc : {std::int64_t{3}, std::int64_t{-5}, std::int64_t{1} << 37})
        CHECK(li::requantize(acc, u) == li::requantize(acc, carried));
    CHECK_FALSE(li::PackedMultiplier::fits(FixedMultiplier{1 << 24, 200}));
    CHECK_FALSE(li::PackedMultiplier::fits(FixedMultiplier{1 << 30, 0}));
    CHECK(li::PackedMultiplier::pack({0, 0}).unpack().multiplier == 0);
}

TEST_CASE("a run-time matrix with a bad width or a short multiplier table is refused") {
    li::RuntimeMatrix m;
    m.bits = 9;
    CHECK(m.check() == Status::bad_bit_width);
    m.bits = 2;
    m.code = li::LevelCode::bipolar;
    CHECK(m.check() == Status::bad_bit_width);
    const auto packed = PackedTensor<4>::quantize(qslm_test::random_floats(32, 1), 4, 8).value();
    m.code = li::LevelCode::signed_levels;
    m.bits = 4;
    m.n_rows = 4;
    m.n_cols = 8;
    m.layout = ScaleLayout::per_channel();
    m.payload = packed.view().payload();
    m.scales = packed.view().scales();
    std::vector<li::PackedMultiplier> mult(3);
    m.multipliers = mult;
    CHECK(m.check() == Status::corrupt_data);
    mult.resize(4);
    m.multipliers = mult;
    CHECK(m.check() == Status::ok);
}
