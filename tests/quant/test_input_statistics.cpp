#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "qslm/quant/input_statistics.hpp"
#include "qslm/quant/layer_error.hpp"
#include "quant_test_support.hpp"

using namespace qslm;
using namespace qslm::quant;

TEST_CASE("streamed statistics give H = 2/N X^T X whatever the batch size") {
    const auto layer = test::make_correlated_layer(4, 12, 37);
    const std::size_t batch = GENERATE(1, 5, 256);
    InputStatistics s(12, {.batch_rows = batch});
    // Feed in uneven chunks, as a model would feed batches of different lengths.
    const std::span<const float> all(layer.inputs);
    s.observe(all.first(12 * 10));
    s.observe(all.subspan(12 * 10, 12 * 3));
    s.observe(all.subspan(12 * 13));
    REQUIRE(s.samples() == 37);
    const Eigen::MatrixXd x = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                                  layer.inputs.data(), 37, 12)
                                  .cast<double>();
    const Eigen::MatrixXd expected = 2.0 / 37.0 * x.transpose() * x;
    CHECK((s.hessian() - expected).cwiseAbs().maxCoeff() < 1e-9 * expected.cwiseAbs().maxCoeff());
}

TEST_CASE("the output error from the Hessian equals the output error on the samples") {
    const auto layer = test::make_correlated_layer(6, 16, 200);
    const auto stats = test::statistics_of(layer);
    std::vector<float> w_hat = layer.weights;
    for (std::size_t i = 0; i < w_hat.size(); ++i) w_hat[i] += 0.01f * static_cast<float>(i % 7) - 0.03f;
    const double from_hessian = output_mse(stats.hessian(), layer.weights, w_hat, 6, 16);
    CHECK(from_hessian == Approx(test::sample_output_mse(layer, w_hat)).epsilon(1e-6));
    CHECK(output_mse(stats.hessian(), layer.weights, layer.weights, 6, 16) == 0.0);
}

TEST_CASE("the reservoir keeps a bounded sample that depends only on the seed") {
    const auto layer = test::make_correlated_layer(2, 8, 500);
    const auto a = test::statistics_of(layer, {.reservoir_rows = 32, .seed = 3});
    const auto b = test::statistics_of(layer, {.reservoir_rows = 32, .seed = 3});
    const auto c = test::statistics_of(layer, {.reservoir_rows = 32, .seed = 4});
    REQUIRE(a.reservoir().rows() == 32);
    REQUIRE(a.reservoir().cols() == 8);
    CHECK(a.reservoir() == b.reservoir());
    CHECK(a.reservoir() != c.reservoir());
    // Every kept row is one of the observed rows.
    const Eigen::MatrixXf kept = a.reservoir();
    for (Eigen::Index r = 0; r < kept.rows(); ++r) {
        bool found = false;
        for (std::size_t n = 0; n < layer.samples && !found; ++n) {
            bool same = true;
            for (Eigen::Index k = 0; k < 8; ++k) same = same && kept(r, k) == layer.inputs[n * 8 + static_cast<std::size_t>(k)];
            found = same;
        }
        CHECK(found);
    }
    const auto fewer = test::statistics_of(test::make_correlated_layer(2, 8, 5), {.reservoir_rows = 32});
    CHECK(fewer.reservoir().rows() == 5);
}

TEST_CASE("non-finite activations are rejected with the layer's name and leave the statistics unchanged") {
    CalibrationSet set;
    const std::size_t id = set.add_layer("blocks.0.ffn.key", 3);
    set.observe(id, std::vector<float>{1, 2, 3});
    const std::vector<float> bad = {1, 2, 3, 4, std::numeric_limits<float>::quiet_NaN(), 6};
    try {
        set.observe(id, bad);
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == Status::invalid_argument);
        CHECK_THAT(e.what(), Catch::Contains("blocks.0.ffn.key") && Catch::Contains("activation 1 of row 1"));
    }
    CHECK(set.layer(id).samples() == 1);
    CHECK_THROWS_WITH(set.observe(id, std::vector<float>{1, 2, 3, 4}), Catch::Contains("not a whole number of rows"));
}

TEST_CASE("an empty calibration has no Hessian") {
    InputStatistics s(4);
    CHECK_THROWS_WITH(s.hessian(), Catch::Contains("no calibration inputs"));
    CHECK_THROWS_AS(InputStatistics(0), Error);
}

TEST_CASE("a calibration set finds layers by id and by name and refuses unknown ones") {
    STATIC_REQUIRE(ActivationObserver<CalibrationSet>);
    STATIC_REQUIRE(ActivationObserver<NullObserver>);
    CalibrationSet set;
    CHECK(set.add_layer("a", 2) == 0);
    CHECK(set.add_layer("b", 3) == 1);
    CHECK_THROWS_WITH(set.add_layer("a", 2), Catch::Contains("registered twice"));
    set.observe(1, std::vector<float>{0, 1, 0, 1, 1, 1});  // spikes as 0/1 floats, two rows
    CHECK(set.layer("b").samples() == 2);
    CHECK(set.layer("b").hessian()(1, 1) == Approx(2.0));
    CHECK(set.name(0) == "a");
    CHECK_THROWS_WITH(set.observe(2, std::vector<float>{0, 1}), Catch::Contains("no layer with id 2"));
    try {
        (void)set.layer("c");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == Status::not_found);
    }
}
