// Token sampling: the PRNG, greedy, temperature and nucleus (top-p) sampling.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <qslm/models/sampling.hpp>

using namespace qslm;
using models::SamplingOptions;
using models::SmallRng;

TEST_CASE("SmallRng is PCG32: it reproduces the reference generator's published outputs") {
    // pcg32_srandom_r(&rng, 42u, 54u) in O'Neill's pcg32-demo prints these first values.
    SmallRng rng(42u, 54u);
    const std::uint32_t expected[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u, 0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    for (const std::uint32_t e : expected) CHECK(rng.next_u32() == e);
    SmallRng u(7);
    for (int i = 0; i < 1000; ++i) {
        const float x = u.next_unit();
        REQUIRE(x >= 0.0f);
        REQUIRE(x < 1.0f);
    }
}

TEST_CASE("greedy sampling picks the largest logit, the lowest id among ties") {
    const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
    SmallRng rng(1);
    std::vector<float> probs(4);
    std::vector<std::uint32_t> order(4);
    auto r = models::sample_token(logits, {.temperature = 0.0f}, rng, probs, order);
    REQUIRE(r);
    CHECK(*r == 1);
    CHECK(models::arg_max(std::vector<float>{std::numeric_limits<float>::quiet_NaN(), 1.0f}) == 1);
}

TEST_CASE("temperature sampling follows the softmax and is reproducible from the seed") {
    const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(7.0f)};  // p = 0.1, 0.2, 0.7
    std::vector<float> probs(3);
    std::vector<std::uint32_t> order(3);
    SmallRng a(123), b(123);
    std::vector<int> hist(3, 0);
    for (int i = 0; i < 20000; ++i) {
        auto x = models::sample_token(logits, {}, a, probs, order);
        auto y = models::sample_token(logits, {}, b, probs, order);
        REQUIRE(x);
        REQUIRE(y);
        REQUIRE(*x == *y);
        ++hist[*x];
    }
    CHECK(std::abs(hist[0] / 20000.0 - 0.1) < 0.01);
    CHECK(std::abs(hist[1] / 20000.0 - 0.2) < 0.01);
    CHECK(std::abs(hist[2] / 20000.0 - 0.7) < 0.01);
}

TEST_CASE("top-p keeps only the smallest set of most likely tokens reaching p") {
    const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(7.0f)};  // p = 0.1, 0.2, 0.7
    std::vector<float> probs(3);
    std::vector<std::uint32_t> order(3);
    SmallRng rng(5);
    std::vector<int> hist(3, 0);
    for (int i = 0; i < 5000; ++i) {
        auto x = models::sample_token(logits, {.temperature = 1.0f, .top_p = 0.85f}, rng, probs, order);
        REQUIRE(x);
        ++hist[*x];
    }
    CHECK(hist[0] == 0);  // 0.7 + 0.2 >= 0.85: token 0 is outside the nucleus
    CHECK(hist[1] > 0);
    CHECK(std::abs(hist[2] / 5000.0 - 0.7 / 0.9) < 0.03);
    for (int i = 0; i < 100; ++i) {
        auto x = models::sample_token(logits, {.temperature = 1.0f, .top_p = 0.01f}, rng, probs, order);
        REQUIRE(x);
        CHECK(*x == 2);
    }
}

TEST_CASE("sampling refuses empty logits, small scratch and distributions with no finite logit") {
    SmallRng rng(1);
    std::vector<float> probs(2);
    std::vector<std::uint32_t> order(2);
    CHECK(models::sample_token({}, {}, rng, probs, order).status() == Status::bad_shape);
    const std::vector<float> three = {1.0f, 2.0f, 3.0f};
    CHECK(models::sample_token(three, {}, rng, probs, order).status() == Status::buffer_too_small);
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> none = {-inf, -inf};
    CHECK(models::sample_token(none, {}, rng, probs, order).status() == Status::invalid_argument);
    const std::vector<float> two = {1.0f, 2.0f};
    CHECK(models::sample_token(two, {.temperature = std::numeric_limits<float>::quiet_NaN()}, rng, probs, order).status() ==
          Status::invalid_argument);
}
