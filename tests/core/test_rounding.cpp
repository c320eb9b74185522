#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>

#include "qslm/core/rounding.hpp"

namespace rounding = qslm::rounding;

TEST_CASE("shift_right with each policy equals the real quotient rounded the policy's way") {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::int64_t> d(-(std::int64_t{1} << 40), std::int64_t{1} << 40);
    for (int i = 0; i < 20000; ++i) {
        const std::int64_t v = d(rng);
        const int s = static_cast<int>(rng() % 20);
        const long double q = static_cast<long double>(v) / std::ldexp(1.0L, s);
        REQUIRE(rounding::Floor::shift_right(v, s) == static_cast<std::int64_t>(std::floor(q)));
        REQUIRE(rounding::TowardZero::shift_right(v, s) == static_cast<std::int64_t>(std::trunc(q)));
        REQUIRE(rounding::NearestEven::shift_right(v, s) == static_cast<std::int64_t>(std::nearbyint(q)));
    }
}

TEST_CASE("from_double with each policy matches the C library") {
    auto x = GENERATE(-3.5, -2.5, -2.4999, -0.5, -0.0, 0.5, 1.5, 2.5, 7.75, 1e12 + 0.5);
    CHECK(rounding::NearestEven::from_double(x) == static_cast<std::int64_t>(std::nearbyint(x)));
    CHECK(rounding::TowardZero::from_double(x) == static_cast<std::int64_t>(std::trunc(x)));
    CHECK(rounding::Floor::from_double(x) == static_cast<std::int64_t>(std::floor(x)));
}

TEST_CASE("negative shifts are exact left shifts") {
    CHECK(rounding::NearestEven::shift_right(3, -4) == 48);
    CHECK(rounding::Floor::shift_right(-3, -1) == -6);
}
