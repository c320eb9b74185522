#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "qslm/core/fixed_multiplier.hpp"

using qslm::FixedMultiplier;

TEST_CASE("FixedMultiplier represents a real factor to 31 bits of precision") {
    auto m = GENERATE(1.0, 0.5, 0.75, 1.0 / 3.0, 0.0123, 7.9, 1e-6, 1234.5);
    auto fm = FixedMultiplier::from_real(m);
    REQUIRE(fm.ok());
    CHECK(fm->multiplier >= (1 << 30));
    CHECK(std::abs(fm->to_double() - m) <= m * 1e-9);
}

TEST_CASE("FixedMultiplier.apply rounds the scaled integer to nearest") {
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> md(1e-4, 4.0);
    std::uniform_int_distribution<int> vd(-100000, 100000);
    for (int i = 0; i < 5000; ++i) {
        const double m = md(rng);
        const int v = vd(rng);
        const auto fm = FixedMultiplier::from_real(m);
        REQUIRE(fm.ok());
        const double exact = v * fm->to_double();
        REQUIRE(std::abs(static_cast<double>(fm->apply(v)) - exact) <= 0.5 + 1e-9);
    }
}

TEST_CASE("FixedMultiplier rejects negative and non-finite factors") {
    CHECK(FixedMultiplier::from_real(-1.0).status() == qslm::Status::invalid_argument);
    CHECK(FixedMultiplier::from_real(NAN).status() == qslm::Status::invalid_argument);
    CHECK(FixedMultiplier::from_real(INFINITY).status() == qslm::Status::invalid_argument);
    CHECK(FixedMultiplier::from_real(0.0)->apply(1000) == 0);
}
