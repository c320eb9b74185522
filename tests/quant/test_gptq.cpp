#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include "qslm/quant/gptq.hpp"
#include "qslm/quant/layer_error.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"
#include "quant_test_support.hpp"

using namespace qslm;
using namespace qslm::quant;

namespace {
// Shared by the cases below: built once, because the Hessian is what costs time.
const test::SyntheticLayer& layer() {
    static const auto l = test::make_correlated_layer(64, 128, 1024);
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
QuantSpec spec_for(bool grouped) {
    return {grouped ? ScaleLayout::per_group(32) : ScaleLayout::per_channel()};
}
}  // namespace

TEST_CASE("GPTQ's output error is below round-to-nearest's at 2, 3 and 4 bits") {
    const int bits = GENERATE(2, 3, 4);
    const bool grouped = GENERATE(false, true);
    const bool act_order = GENERATE(false, true);
    CAPTURE(bits, grouped, act_order);
    const QuantSpec spec = spec_for(grouped);
    const auto& l = layer();

    // Same grid for both (no clipping search): the difference is the rounding alone.
    const Gptq plain{hessian(), {.act_order = act_order, .clip_search = false}};
    const double nearest = output_mse(hessian(), l.weights, round_with(bits, spec, rounding::Nearest{}), l.rows, l.cols);
    const double gptq = output_mse(hessian(), l.weights, round_with(bits, spec, plain), l.rows, l.cols);
    CHECK(gptq < 0.8 * nearest);

    // With the clipping search on both sides.
    const Gptq clipped{hessian(), {.act_order = act_order}};
    const double nearest_clipped = output_mse(hessian(), l.weights, round_with(bits, spec, ClippedNearest{}), l.rows, l.cols);
    const double gptq_clipped = output_mse(hessian(), l.weights, round_with(bits, spec, clipped), l.rows, l.cols);
    CHECK(gptq_clipped < 0.8 * nearest_clipped);
    CHECK(nearest_clipped <= nearest);
}

TEST_CASE("the Hessian-based error matches the error measured on the samples for GPTQ weights") {
    const auto& l = layer();
    const auto w_hat = round_with(3, spec_for(true), Gptq{hessian()});
    CHECK(output_mse(hessian(), l.weights, w_hat, l.rows, l.cols) ==
          Approx(test::sample_output_mse(l, w_hat)).epsilon(1e-5));
}

TEST_CASE("with uncorrelated inputs GPTQ reduces to round-to-nearest, act-order and groups included") {
    // A diagonal Hessian has nothing to compensate with: every level must equal nearest's. With
    // distinct diagonal entries act-order really permutes, so a scale looked up by the permuted
    // instead of the original column index would show up as different levels.
    const auto& l = layer();
    Eigen::MatrixXd h = Eigen::MatrixXd::Zero(128, 128);
    for (Eigen::Index i = 0; i < 128; ++i) h(i, i) = 1.0 + static_cast<double>((i * 37) % 128);
    const bool act_order = GENERATE(false, true);
    const std::size_t block = GENERATE(std::size_t{128}, std::size_t{5});
    const QuantSpec spec{ScaleLayout::per_group(16)};
    auto nearest = PackedTensor<3>::quantize(l.weights, l.rows, l.cols, spec);
    auto gptq = PackedTensor<3>::quantize(l.weights, l.rows, l.cols, spec,
                                          Gptq{h, {.block_size = block, .act_order = act_order, .clip_search = false}});
    REQUIRE(nearest.ok());
    REQUIRE(gptq.ok());
    CHECK(gptq->levels() == nearest->levels());
}

TEST_CASE("GPTQ's block size changes the arithmetic order, not the result") {
    const auto& l = layer();
    const QuantSpec spec = spec_for(true);
    const auto big = round_with(3, spec, Gptq{hessian(), {.block_size = 128}});
    const auto small = round_with(3, spec, Gptq{hessian(), {.block_size = 7}});
    const double a = output_mse(hessian(), l.weights, big, l.rows, l.cols);
    const double b = output_mse(hessian(), l.weights, small, l.rows, l.cols);
    CHECK(a == Approx(b).epsilon(0.02));
    std::size_t same = 0;
    for (std::size_t i = 0; i < big.size(); ++i) same += big[i] == small[i];
    CHECK(same >= big.size() * 98 / 100);
}

TEST_CASE("GPTQ is deterministic and one object serves every width") {
    const auto& l = layer();
    const QuantSpec spec = spec_for(false);
    const Gptq shared{hessian(), {.act_order = true}};
    for (const int bits : {4, 3, 2}) {
        CAPTURE(bits);
        const auto first = round_with(bits, spec, shared);
        const auto again = round_with(bits, spec, shared);
        const auto fresh = round_with(bits, spec, Gptq{hessian(), {.act_order = true}});
        CHECK(first == again);
        CHECK(first == fresh);
    }
    const Gptq from_factor{shared.factor(), shared.options()};
    CHECK(round_with(3, spec, from_factor) == round_with(3, spec, shared));
    CHECK(l.rows == 64);
}

TEST_CASE("inputs that never fired keep their nearest-rounded weights") {
    const auto& l = layer();
    Eigen::MatrixXd h = hessian();
    h.row(5).setZero();
    h.col(5).setZero();
    const QuantSpec spec{ScaleLayout::per_channel()};
    auto grid = QuantGrid::fit(l.weights, l.rows, l.cols, spec, LevelRange::of<3, encoding::Signed>());
    REQUIRE(grid.ok());
    std::vector<std::int16_t> levels(l.weights.size());
    Gptq{h, {.clip_search = false}}.round(*grid, l.weights, levels);
    for (std::size_t r = 0; r < l.rows; ++r)
        CHECK(levels[r * l.cols + 5] == grid->nearest_level(l.weights[r * l.cols + 5], r, 5));
}

TEST_CASE("GPTQ works on asymmetric, power-of-two and one-bit grids") {
    const auto& l = layer();
    const Gptq gptq{hessian(), {.clip_search = false}};
    SECTION("zero points") {
        const QuantSpec spec{ScaleLayout::per_channel(), true};
        const double nearest = output_mse(hessian(), l.weights, round_with(3, spec, rounding::Nearest{}), l.rows, l.cols);
        CHECK(output_mse(hessian(), l.weights, round_with(3, spec, gptq), l.rows, l.cols) < nearest);
    }
    SECTION("power-of-two scales keep their exponents") {
        const QuantSpec spec{ScaleLayout::per_channel(), false, ScaleFormat::power_of_two};
        auto t = PackedTensor<3>::quantize(l.weights, l.rows, l.cols, spec, Gptq{hessian()});
        REQUIRE(t.ok());
        const double nearest = output_mse(hessian(), l.weights, round_with(3, spec, rounding::Nearest{}), l.rows, l.cols);
        CHECK(output_mse(hessian(), l.weights, t->dequantize(), l.rows, l.cols) < nearest);
    }
    SECTION("one bit, levels +-1") {
        auto t = PackedTensor<1>::quantize(l.weights, l.rows, l.cols, {}, gptq);
        REQUIRE(t.ok());
        const double nearest = output_mse(hessian(), l.weights, round_with(1, {}, rounding::Nearest{}), l.rows, l.cols);
        CHECK(output_mse(hessian(), l.weights, t->dequantize(), l.rows, l.cols) < nearest);
    }
}

TEST_CASE("GPTQ rejects Hessians that do not fit the layer") {
    const auto& l = layer();
    SECTION("wrong size names both sizes") {
        const Gptq small{Eigen::MatrixXd::Identity(64, 64)};
        try {
            (void)PackedTensor<3>::quantize(l.weights, l.rows, l.cols, {}, small);
            FAIL("expected an error");
        } catch (const Error& e) {
            CHECK(e.code() == Status::bad_shape);
            CHECK_THAT(e.what(), Catch::Contains("64 x 64") && Catch::Contains("128 inputs"));
        }
    }
    SECTION("not square, not finite, not symmetric, negative diagonal") {
        CHECK_THROWS_WITH(Gptq(Eigen::MatrixXd::Identity(4, 5)), Catch::Contains("not square"));
        Eigen::MatrixXd h = Eigen::MatrixXd::Identity(4, 4);
        h(1, 2) = std::numeric_limits<double>::infinity();
        CHECK_THROWS_WITH(Gptq(h), Catch::Contains("NaN or infinity"));
        h(1, 2) = 0.5;
        CHECK_THROWS_WITH(Gptq(h), Catch::Contains("not symmetric"));
        h = -Eigen::MatrixXd::Identity(4, 4);
        CHECK_THROWS_WITH(Gptq(h), Catch::Contains("negative diagonal"));
        CHECK_THROWS_WITH(Gptq(Eigen::MatrixXd::Identity(4, 4), {.block_size = 0}), Catch::Contains("block_size"));
    }
    SECTION("no calibration data") {
        CHECK_THROWS_WITH(Gptq(InputStatistics(128)), Catch::Contains("no calibration inputs"));
    }
}
