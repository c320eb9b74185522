#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>

#include "qslm/core/fixed.hpp"

using qslm::Fixed;
using qslm::UFixed;
namespace rounding = qslm::rounding;
namespace overflow = qslm::overflow;

TEST_CASE("Fixed picks the smallest storage that holds its width") {
    STATIC_REQUIRE(std::is_same_v<Fixed<1, 7>::storage_type, std::int8_t>);
    STATIC_REQUIRE(std::is_same_v<Fixed<8, 8>::storage_type, std::int16_t>);
    STATIC_REQUIRE(std::is_same_v<Fixed<9, 8>::storage_type, std::int32_t>);
    STATIC_REQUIRE(std::is_same_v<Fixed<16, 16>::storage_type, std::int32_t>);
    STATIC_REQUIRE(std::is_same_v<UFixed<4, 4>::storage_type, std::uint8_t>);
    STATIC_REQUIRE(Fixed<1, 15>::raw_min == -32768);
    STATIC_REQUIRE(Fixed<1, 15>::raw_max == 32767);
    STATIC_REQUIRE(UFixed<0, 8>::raw_max == 255);
}

TEST_CASE("Fixed converts representable values exactly, at compile time too") {
    using Q = Fixed<8, 8>;
    STATIC_REQUIRE(Q::from_float(1.5).raw() == 384);
    STATIC_REQUIRE(Q::from_float(-2.25).to_double() == -2.25);
    STATIC_REQUIRE(Q::from_int(3).to_double() == 3.0);
    STATIC_REQUIRE((Q::from_float(1.5) * Q::from_float(-2.0)).to_double() == -3.0);
    auto v = GENERATE(-128.0, -1.0, -0.00390625, 0.0, 0.5, 127.99609375);
    CHECK(Q::from_float(v).to_double() == v);
}

TEST_CASE("Fixed saturates by default and wraps on request") {
    using Sat = Fixed<4, 4>;  // range [-8, 7.9375]
    CHECK(Sat::from_float(100.0).to_double() == 7.9375);
    CHECK(Sat::from_float(-100.0).to_double() == -8.0);
    CHECK(Sat::from_float(INFINITY).to_double() == 7.9375);
    CHECK(Sat::from_float(-INFINITY).to_double() == -8.0);
    CHECK(Sat::from_float(NAN).raw() == 0);
    CHECK((Sat::from_float(7.0) + Sat::from_float(7.0)).to_double() == 7.9375);
    CHECK((Sat::from_float(-8.0) * Sat::from_float(-8.0)).to_double() == 7.9375);
    CHECK((-Sat::lowest()).to_double() == 7.9375);

    using W = Fixed<4, 4, rounding::NearestEven, overflow::Wrap>;
    // 7 + 2 = 9 -> raw 144 wraps to 144 - 256 = -112 -> -7.
    CHECK((W::from_float(7.0) + W::from_float(2.0)).to_double() == -7.0);
    CHECK(W::from_raw(128).raw() == -128);
}

TEST_CASE("Fixed rounding policies resolve halves as documented") {
    using NE = Fixed<8, 0, rounding::NearestEven>;
    using TZ = Fixed<8, 0, rounding::TowardZero>;
    using FL = Fixed<8, 0, rounding::Floor>;
    CHECK(NE::from_float(2.5).raw() == 2);
    CHECK(NE::from_float(3.5).raw() == 4);
    CHECK(NE::from_float(-2.5).raw() == -2);
    CHECK(NE::from_float(-3.5).raw() == -4);
    CHECK(NE::from_float(2.6).raw() == 3);
    CHECK(TZ::from_float(2.9).raw() == 2);
    CHECK(TZ::from_float(-2.9).raw() == -2);
    CHECK(FL::from_float(2.9).raw() == 2);
    CHECK(FL::from_float(-2.1).raw() == -3);
    CHECK(FL::from_float(-2.0).raw() == -2);
}

TEST_CASE("Fixed multiply is within half an LSB of the exact product with nearest rounding") {
    using Q = Fixed<8, 12>;
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> d(-11.0, 11.0);
    for (int i = 0; i < 10000; ++i) {
        const Q a = Q::from_float(d(rng)), b = Q::from_float(d(rng));
        const double exact = a.to_double() * b.to_double();
        const double got = (a * b).to_double();
        REQUIRE(std::abs(got - exact) <= Q::resolution() / 2);
    }
}

TEST_CASE("Fixed converts between formats and multiplies across formats") {
    using A = Fixed<4, 12>;
    using B = Fixed<8, 4>;
    const A a = A::from_float(1.34375);  // 1 + 11/32
    CHECK(a.to<B>().to_double() == 1.375);  // 21.5/16 -> ties to even 22/16
    const B b = B::from_float(-3.0);
    using C = Fixed<12, 8>;
    CHECK(qslm::multiply<C>(a, b).to_double() == -4.03125);
    CHECK(B::from_float(100.0).to<Fixed<4, 4>>().to_double() == 7.9375);  // saturates in the target
}

TEST_CASE("Fixed shift right is a division by a power of two with the rounding policy") {
    using Q = Fixed<16, 8>;
    CHECK(Q::from_float(3.0).shifted_right(1).to_double() == 1.5);
    CHECK(Q::from_raw(3).shifted_right(1).raw() == 2);   // 1.5 -> 2 (ties to even)
    CHECK(Q::from_raw(5).shifted_right(1).raw() == 2);   // 2.5 -> 2
    CHECK(Q::from_raw(-3).shifted_right(1).raw() == -2);
    CHECK(Q::from_scaled_int(3 * 64, 6).to_double() == 3.0);  // 6 fractional bits -> 8
}

TEST_CASE("Fixed division saturates instead of trapping on zero") {
    using Q = Fixed<8, 8>;
    CHECK((Q::from_float(3.0) / Q::from_float(2.0)).to_double() == 1.5);
    CHECK((Q::from_float(1.0) / Q::zero()) == Q::max());
    CHECK((Q::from_float(-1.0) / Q::zero()) == Q::lowest());
}

TEST_CASE("Fixed comparisons follow the real values") {
    using Q = Fixed<8, 8>;
    CHECK(Q::from_float(1.0) < Q::from_float(1.00390625));
    CHECK(Q::from_float(-1.0) < Q::zero());
    CHECK(Q::from_float(2.0) == Q::from_int(2));
}
