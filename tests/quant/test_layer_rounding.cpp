#include <catch2/catch.hpp>

#include <vector>

#include "qslm/quant.hpp"
#include "quant_test_support.hpp"

using namespace qslm;
using namespace qslm::quant;

TEST_CASE("rounding methods are named as on the command line") {
    for (const auto m : {RoundingMethod::nearest, RoundingMethod::gptq, RoundingMethod::adaptive})
        CHECK(parse_rounding_method(to_string(m)) == m);
    CHECK_THROWS_WITH(parse_rounding_method("awq"),
                      Catch::Contains("'awq'") && Catch::Contains("nearest, gptq or adaptive"));
    CHECK_FALSE(needs_calibration(RoundingMethod::nearest));
    CHECK(needs_calibration(RoundingMethod::gptq));
}

TEST_CASE("a layer rounding gives the same tensors as the rounders it wraps") {
    const auto l = test::make_correlated_layer(16, 32, 128, 5);
    const auto stats = test::statistics_of(l);
    const QuantSpec spec{ScaleLayout::per_group(16)};
    RoundingOptions options;
    options.adaptive.schedule = {0.5, 0.8, 1.0};
    options.adaptive.iterations_per_round = 15;
    const LayerRounding layer{stats, options};
    REQUIRE(layer.has_calibration());
    for (const int bits : {2, 4}) {
        CAPTURE(bits);
        const auto gptq = layer.quantize(RoundingMethod::gptq, bits, l.weights, l.rows, l.cols, spec);
        CHECK(gptq.bits() == bits);
        CHECK(gptq.levels() == value_or_throw(AnyPackedTensor::quantize(bits, l.weights, l.rows, l.cols, spec,
                                                                        Gptq{stats.hessian()}))
                                   .levels());
        const auto nearest = layer.quantize(RoundingMethod::nearest, bits, l.weights, l.rows, l.cols, spec);
        CHECK(nearest.levels() == value_or_throw(AnyPackedTensor::quantize(bits, l.weights, l.rows, l.cols, spec)).levels());
        const auto adaptive = layer.quantize(RoundingMethod::adaptive, bits, l.weights, l.rows, l.cols, spec);
        const Eigen::MatrixXd h = stats.hessian();
        CHECK(output_mse(h, l.weights, adaptive.dequantize(), l.rows, l.cols) <=
              output_mse(h, l.weights, gptq.dequantize(), l.rows, l.cols));
    }
}

TEST_CASE("a layer rounding without calibration data only rounds to nearest") {
    const auto l = test::make_correlated_layer(4, 8, 1);
    const LayerRounding layer;
    CHECK_FALSE(layer.has_calibration());
    CHECK(layer.quantize(RoundingMethod::nearest, 3, l.weights, 4, 8).bits() == 3);
    CHECK_THROWS_WITH(layer.quantize(RoundingMethod::gptq, 3, l.weights, 4, 8),
                      Catch::Contains("needs calibration statistics"));
    CHECK_THROWS_WITH(layer.quantize(RoundingMethod::nearest, 9, l.weights, 4, 8), Catch::Contains("between 1 and 8"));
    CHECK_THROWS_WITH(layer.quantize(RoundingMethod::nearest, 3, l.weights, 4, 9), Catch::Contains("rows x cols"));
}
