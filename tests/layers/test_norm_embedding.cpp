#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "layers_test_support.hpp"
#include "qslm/layers/batch_norm.hpp"
#include "qslm/layers/detail/integer_math.hpp"
#include "qslm/layers/embedding.hpp"
#include "qslm/layers/layer_norm.hpp"
#include "qslm/layers/linear.hpp"
#include "qslm/layers/residual.hpp"
#include "qslm/tensor/packed_tensor.hpp"

using namespace qslm;
using namespace qslm::layers;
using qslm_test::random_floats;

TEST_CASE("hand-checked LayerNorm of {1, 2, 3, 4}") {
    const std::vector<float> w = {1, 1, 2, 1}, b = {0, 0, 0, 0.5f};
    auto ln = LayerNorm::make(w, b, 0.0);
    REQUIRE(ln);
    const std::vector<float> x = {1, 2, 3, 4};
    std::vector<float> y(4);
    REQUIRE(ln->forward(x, y) == Status::ok);
    const double sd = std::sqrt(1.25);  // mean 2.5, biased variance 1.25
    CHECK(y[0] == Approx(-1.5 / sd));
    CHECK(y[1] == Approx(-0.5 / sd));
    CHECK(y[2] == Approx(2 * 0.5 / sd));
    CHECK(y[3] == Approx(1.5 / sd + 0.5));
}

TEST_CASE("LayerNorm matches a double reference on random rows, in place too") {
    const std::size_t d = 64, batch = 3;
    const auto w = random_floats(d, 1, 0.2f, 1.0f), b = random_floats(d, 2, 0.2f);
    auto x = random_floats(d * batch, 3, 3.0f, 0.7f);
    auto ln = LayerNorm::make(w, b);
    REQUIRE(ln);
    std::vector<float> y(d * batch);
    REQUIRE(ln->forward(x, y, batch) == Status::ok);
    for (std::size_t r = 0; r < batch; ++r) {
        double mean = 0, var = 0;
        for (std::size_t i = 0; i < d; ++i) mean += x[r * d + i];
        mean /= d;
        for (std::size_t i = 0; i < d; ++i) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
        var /= d;
        for (std::size_t i = 0; i < d; ++i)
            CHECK(y[r * d + i] == Approx((x[r * d + i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i]).margin(1e-5));
    }
    REQUIRE(ln->forward(x, x, batch) == Status::ok);
    CHECK(x == y);
}

TEST_CASE("integer square root and rounded division are exact") {
    for (std::uint64_t v : {0ull, 1ull, 2ull, 3ull, 4ull, 15ull, 16ull, 17ull, 99980001ull, (1ull << 62) + 12345ull}) {
        const std::uint64_t r = layers::detail::isqrt(v);
        CHECK(r * r <= v);
        CHECK((r + 1) * (r + 1) > v);
    }
    STATIC_REQUIRE(layers::detail::isqrt_round(12) == 3);   // sqrt 3.46
    STATIC_REQUIRE(layers::detail::isqrt_round(13) == 4);   // sqrt 3.61
    STATIC_REQUIRE(layers::detail::div_round(7, 2) == 4);
    STATIC_REQUIRE(layers::detail::div_round(-7, 2) == -4);
    STATIC_REQUIRE(layers::detail::div_round(5, 3) == 2);
}

TEST_CASE("integer-only LayerNorm is within a few output LSBs of float LayerNorm") {
    using In = Fixed<6, 10>;
    using Out = Fixed<4, 12>;
    const std::size_t d = GENERATE(16, 100, 256);
    const auto wf = random_floats(d, 4, 0.2f, 1.0f), bf = random_floats(d, 5, 0.2f);
    const auto xf = random_floats(d, 6, 2.0f, 0.5f);
    std::vector<Out> g(d), b(d);
    std::vector<In> x(d);
    std::vector<float> xr(d), wr(d), br(d);
    for (std::size_t i = 0; i < d; ++i) {
        g[i] = Out::from_float(wf[i]);
        b[i] = Out::from_float(bf[i]);
        x[i] = In::from_float(xf[i]);
        xr[i] = static_cast<float>(x[i].to_double());
        wr[i] = static_cast<float>(g[i].to_double());
        br[i] = static_cast<float>(b[i].to_double());
    }
    auto iln = IntegerLayerNorm<In, Out>::make(g, b);
    auto fln = LayerNorm::make(wr, br);
    REQUIRE(iln);
    REQUIRE(fln);
    std::vector<Out> yq(d);
    std::vector<float> y(d);
    REQUIRE(iln->forward(x, yq) == Status::ok);
    REQUIRE(fln->forward(xr, y) == Status::ok);
    double worst = 0;
    for (std::size_t i = 0; i < d; ++i) worst = std::max(worst, std::abs(yq[i].to_double() - double{y[i]}));
    CHECK(worst <= 4 * Out::resolution());
}

TEST_CASE("integer LayerNorm of a constant row is beta, and bad shapes are refused") {
    using Q = Fixed<8, 8>;
    std::vector<Q> g(4, Q::from_float(1.0)), b(4, Q::from_float(0.25)), x(4, Q::from_float(3.0)), y(4);
    auto ln = IntegerLayerNorm<Q, Q>::make(g, b);
    REQUIRE(ln);
    REQUIRE(ln->forward(x, y) == Status::ok);
    for (auto v : y) CHECK(v.to_double() == 0.25);
    std::vector<Q> x3(3);
    CHECK(ln->forward(x3, y) == Status::bad_shape);
    CHECK(IntegerLayerNorm<Q, Q>::make({}, {}).status() == Status::bad_shape);
    CHECK(IntegerLayerNorm<Q, Q>::make(g, x3).status() == Status::bad_shape);
    CHECK(LayerNorm::make(std::vector<float>(3), std::vector<float>(2)).status() == Status::bad_shape);
}

TEST_CASE("BatchNorm folded into the linear layer before it gives the same outputs") {
    const std::size_t rows = 6, cols = 10;
    auto w = random_floats(rows * cols, 11);
    std::vector<float> bias(rows, 0.0f);
    const auto gamma = random_floats(rows, 12, 0.3f, 1.0f), beta = random_floats(rows, 13);
    const auto mean = random_floats(rows, 14);
    auto var = random_floats(rows, 15);
    for (auto& v : var) v = v * v + 0.1f;
    const BatchNormParams bn{gamma, beta, mean, var, 1e-5};
    auto norm = BatchNorm::make(bn);
    REQUIRE(norm);
    const auto x = qslm_test::random_spikes(cols, 16, 0.5);
    std::vector<float> xf(x.begin(), x.end());
    std::vector<float> y(rows), ybn(rows), yfold(rows);
    auto lin = DenseLinear::make(w, rows, cols);
    REQUIRE(lin);
    REQUIRE(lin->forward(xf, y) == Status::ok);
    REQUIRE(norm->forward(y, ybn) == Status::ok);
    REQUIRE(fold_batch_norm(w, rows, cols, bias, bn) == Status::ok);
    auto folded = DenseLinear::make(w, rows, cols, bias);
    REQUIRE(folded);
    REQUIRE(folded->forward(xf, yfold) == Status::ok);
    for (std::size_t r = 0; r < rows; ++r) CHECK(yfold[r] == Approx(ybn[r]).margin(1e-5));
    std::vector<float> bad_var(rows, -1.0f);
    CHECK(BatchNorm::make({gamma, beta, mean, bad_var, 1e-5}).status() == Status::invalid_argument);
    CHECK(BatchNorm::make({gamma, beta, std::span<const float>(mean).first(2), var, 1e-5}).status() == Status::bad_shape);
}

TEST_CASE("embedding looks up rows, binarises them, and refuses unknown tokens") {
    const std::vector<float> table = {0.5f, -1.0f, 0.0f, 2.0f, -0.25f, 3.0f};
    auto emb = Embedding::make(table, 2, 3);
    REQUIRE(emb);
    std::vector<float> row(3);
    REQUIRE(emb->lookup(1, std::span<float>(row)) == Status::ok);
    CHECK(row == std::vector<float>{2.0f, -0.25f, 3.0f});
    std::vector<std::uint8_t> s(3);
    REQUIRE(emb->lookup_spikes(0, s) == Status::ok);
    CHECK(s == std::vector<std::uint8_t>{1, 0, 1});  // 0.0 >= 0 spikes
    std::vector<Fixed<8, 8>> q(3);
    REQUIRE(emb->lookup(0, std::span<Fixed<8, 8>>(q)) == Status::ok);
    CHECK(q[1].to_double() == -1.0);
    CHECK(emb->lookup(2, std::span<float>(row)) == Status::out_of_range);
    CHECK(Embedding::make(table, 3, 3).status() == Status::bad_shape);

    auto packed = PackedTensor<8>::quantize(table, 2, 3);
    REQUIRE(packed);
    REQUIRE(embedding_lookup(packed->view(), 1, std::span<float>(row)) == Status::ok);
    CHECK(row[2] == Approx(3.0f));
    CHECK(embedding_lookup(packed->view(), 5, std::span<float>(row)) == Status::out_of_range);
}

TEST_CASE("residual adds saturate in fixed point and count only the spikes") {
    using Q = Fixed<4, 4>;
    std::vector<Q> x = {Q::from_float(7.5), Q::from_float(1.0)};
    const std::vector<Q> br = {Q::from_float(1.0), Q::from_float(-0.5)};
    REQUIRE(residual_add(std::span<Q>(x), std::span<const Q>(br)) == Status::ok);
    CHECK(x[0] == Q::max());
    CHECK(x[1].to_double() == 0.5);
    std::vector<float> xf = {0.5f, 0.5f, 0.5f};
    const std::vector<std::uint8_t> s = {1, 0, 1};
    OpCounts c;
    REQUIRE(residual_add_spikes(std::span<float>(xf), std::span<const std::uint8_t>(s), &c) == Status::ok);
    CHECK(xf == std::vector<float>{1.5f, 0.5f, 1.5f});
    CHECK(c.synaptic_accumulates == 2);
    CHECK(residual_add_spikes(std::span<float>(xf), std::span<const std::uint8_t>(s.data(), 2)) == Status::bad_shape);
}
