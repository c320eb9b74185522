#include <catch2/catch.hpp>

#include <vector>

#include "qslm/quant/adaptive_rounding.hpp"
#include "qslm/quant/layer_error.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"
#include "quant_test_support.hpp"

using namespace qslm;
using namespace qslm::quant;

namespace {
// Smaller than the GPTQ layer: adaptive rounding runs hundreds of GEMMs, and the suite must
// stay fast in a Debug + sanitizer build.
const test::SyntheticLayer& layer() {
    static const auto l = test::make_correlated_layer(32, 64, 512, 7, 16, 0.5f);
    return l;
}
const Eigen::MatrixXd& hessian() {
    static const Eigen::MatrixXd h = test::statistics_of(layer()).hessian();
    return h;
}
template <class Rounder>
std::vector<float> round_with(int bits, const QuantSpec& spec, Rounder&& rounder) {
    const auto& l = layer();
    auto t = AnyPackedTensor::quantize(bits, l.weights, l.rows, l.cols, spec, std::forward<Rounder>(rounder));
    REQUIRE(t.ok());
    return t->dequantize();
}
// Fewer rounds and steps where a case checks behaviour rather than quality.
AdaptiveRoundingOptions quick(AdaptiveRoundingOptions o = {}) {
    o.schedule = {0.5, 0.8, 1.0};
    o.iterations_per_round = 15;
    return o;
}
double mse(std::span<const float> w_hat) {
    return output_mse(hessian(), layer().weights, w_hat, layer().rows, layer().cols);
}
}  // namespace

TEST_CASE("adaptive rounding is at least as good as GPTQ, and better than nearest, at 2, 3 and 4 bits") {
    const int bits = GENERATE(2, 3, 4);
    const bool grouped = GENERATE(false, true);
    CAPTURE(bits, grouped);
    const QuantSpec spec{grouped ? ScaleLayout::per_group(32) : ScaleLayout::per_channel()};
    const double nearest = mse(round_with(bits, spec, rounding::Nearest{}));
    const double gptq = mse(round_with(bits, spec, Gptq{hessian()}));
    const AdaptiveRounding adaptive{hessian()};
    const auto w_hat = round_with(bits, spec, adaptive);
    const double ours = mse(w_hat);
    CHECK(ours < gptq);  // guaranteed <=; on correlated inputs the local search wins outright
    CHECK(ours < nearest);
    CHECK(ours == Approx(test::sample_output_mse(layer(), w_hat)).epsilon(1e-5));
}

TEST_CASE("progressive hardening alone beats nearest rounding, and GPTQ at 2 and 3 bits") {
    // No GPTQ fallback, no local search, no scale refit: what the soft variables achieve alone.
    const int bits = GENERATE(2, 3, 4);
    CAPTURE(bits);
    const QuantSpec spec{ScaleLayout::per_channel()};
    const AdaptiveRounding par{hessian(), {.tune_scales = false, .polish_sweeps = 0, .keep_better_of_gptq = false}};
    const LevelRange range = bits == 2   ? LevelRange::of<2, encoding::Signed>()
                             : bits == 3 ? LevelRange::of<3, encoding::Signed>()
                                         : LevelRange::of<4, encoding::Signed>();
    auto grid = QuantGrid::fit(layer().weights, layer().rows, layer().cols, spec, range);
    REQUIRE(grid.ok());
    std::vector<std::int16_t> levels(layer().weights.size());
    const auto report = par.round(*grid, layer().weights, levels);
    CHECK_FALSE(report.kept_gptq);
    CHECK_FALSE(report.scales_tuned);
    CHECK(report.polish_moves == 0);
    CHECK(report.rounds >= 2);
    CHECK(report.final_mse == report.adaptive_mse);
    CHECK(report.adaptive_mse < 0.8 * mse(round_with(bits, spec, ClippedNearest{})));
    if (bits < 4) CHECK(report.adaptive_mse < mse(round_with(bits, spec, Gptq{hessian()})));
}

TEST_CASE("the report says what adaptive rounding chose, and scale tuning never hurts") {
    const QuantSpec spec{ScaleLayout::per_group(16)};
    for (const AdaptiveInit init : {AdaptiveInit::nearest, AdaptiveInit::gptq}) {
        auto grid = QuantGrid::fit(layer().weights, layer().rows, layer().cols, spec, LevelRange::of<3, encoding::Signed>());
        REQUIRE(grid.ok());
        std::vector<std::int16_t> levels(layer().weights.size());
        const auto report = AdaptiveRounding{hessian(), quick({.init = init})}.round(*grid, layer().weights, levels);
        CHECK(report.final_mse <= report.gptq_mse);
        CHECK(report.final_mse <= report.adaptive_mse);
        CHECK(report.gptq_mse > 0.0);
        CHECK(report.polish_moves > 0);
        // The levels and scales left in the grid give exactly the reported error.
        std::vector<float> w_hat(levels.size());
        for (std::size_t i = 0; i < levels.size(); ++i) w_hat[i] = grid->dequantize(levels[i], i / 64, i % 64);
        CHECK(mse(w_hat) == Approx(report.final_mse).epsilon(1e-9));
    }
}

TEST_CASE("adaptive rounding is deterministic") {
    const QuantSpec spec{ScaleLayout::per_group(32), true};
    const AdaptiveRounding a{hessian(), quick()};
    const auto first = round_with(2, spec, a);
    CHECK(round_with(2, spec, a) == first);
    CHECK(round_with(2, spec, AdaptiveRounding{hessian(), quick()}) == first);
}

TEST_CASE("adaptive rounding handles one-bit and per-tensor grids") {
    const double nearest1 = mse(round_with(1, {}, rounding::Nearest{}));
    CHECK(mse(round_with(1, {}, AdaptiveRounding{hessian(), quick()})) < nearest1);
    const QuantSpec tensor{ScaleLayout::per_tensor()};
    CHECK(mse(round_with(3, tensor, AdaptiveRounding{hessian(), quick()})) <= mse(round_with(3, tensor, Gptq{hessian()})));
}

TEST_CASE("a wall-time cap of almost nothing still returns a valid rounding") {
    AdaptiveRoundingOptions o = quick();
    o.max_seconds = 1e-9;
    auto grid = QuantGrid::fit(layer().weights, layer().rows, layer().cols, {}, LevelRange::of<3, encoding::Signed>());
    REQUIRE(grid.ok());
    std::vector<std::int16_t> levels(layer().weights.size());
    const auto report = AdaptiveRounding{hessian(), o}.round(*grid, layer().weights, levels);
    CHECK(report.stopped_by_time);
    CHECK(report.final_mse <= report.gptq_mse);
}

TEST_CASE("adaptive rounding rejects bad options and mismatched Hessians") {
    AdaptiveRoundingOptions o;
    o.schedule = {};
    CHECK_THROWS_WITH(AdaptiveRounding(hessian(), o), Catch::Contains("schedule is empty"));
    o.schedule = {0.5, 0.4};
    CHECK_THROWS_WITH(AdaptiveRounding(hessian(), o), Catch::Contains("non-decreasing"));
    o.schedule = {0.5, 1.5};
    CHECK_THROWS_WITH(AdaptiveRounding(hessian(), o), Catch::Contains("non-decreasing"));
    o = {};
    o.learning_rate = 0.0;
    CHECK_THROWS_WITH(AdaptiveRounding(hessian(), o), Catch::Contains("learning rate"));
    o = {};
    o.polish_sweeps = -1;
    CHECK_THROWS_WITH(AdaptiveRounding(hessian(), o), Catch::Contains("polish"));
    const AdaptiveRounding wrong{Eigen::MatrixXd::Identity(8, 8)};
    CHECK_THROWS_WITH(PackedTensor<3>::quantize(layer().weights, layer().rows, layer().cols, {}, wrong),
                      Catch::Contains("8 x 8") && Catch::Contains("64 inputs"));
    CHECK_THROWS_WITH(AdaptiveRounding(InputStatistics(64)), Catch::Contains("no calibration inputs"));
}
