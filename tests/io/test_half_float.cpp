#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "qslm/io/half_float.hpp"

using namespace qslm::io;

namespace {
// Reference value of a binary16 pattern, computed with ldexp in double.
double f16_reference(std::uint16_t h) {
    const int sign = (h & 0x8000) ? -1 : 1;
    const int e = (h >> 10) & 0x1F;
    const int m = h & 0x3FF;
    if (e == 0) return sign * std::ldexp(static_cast<double>(m), -24);
    if (e == 31) return m ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
    return sign * std::ldexp(static_cast<double>(m + 1024), e - 25);
}

// Reference narrowing: the nearest binary16 (ties to even) found by comparing candidates in
// double arithmetic, which is exact for these magnitudes.
std::uint16_t f16_nearest_reference(float f) {
    if (std::isnan(f)) return 0x7E00;
    const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    const double a = std::fabs(static_cast<double>(f));
    if (a >= 65520.0) return sign | 0x7C00;
    std::uint16_t best = 0;
    double best_err = std::numeric_limits<double>::infinity();
    // Binary search over the monotone positive finite codes 0..0x7BFF.
    std::uint16_t lo = 0, hi = 0x7BFF;
    while (hi - lo > 1) {
        const auto mid = static_cast<std::uint16_t>((lo + hi) / 2);
        (f16_reference(mid) <= a ? lo : hi) = mid;
    }
    for (const std::uint16_t c : {lo, hi}) {
        const double err = std::fabs(f16_reference(c) - a);
        if (err < best_err || (err == best_err && (c & 1) == 0)) {
            best = c;
            best_err = err;
        }
    }
    return static_cast<std::uint16_t>(sign | best);
}
}  // namespace

TEST_CASE("every binary16 value widens to float32 exactly") {
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        const float f = f16_bits_to_f32(static_cast<std::uint16_t>(h));
        const double ref = f16_reference(static_cast<std::uint16_t>(h));
        if (std::isnan(ref)) {
            REQUIRE(std::isnan(f));
        } else {
            REQUIRE(static_cast<double>(f) == ref);
            REQUIRE(std::signbit(f) == ((h & 0x8000) != 0));  // -0 stays -0
        }
    }
}

TEST_CASE("every binary16 value survives the round trip through float32") {
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        const auto bits = static_cast<std::uint16_t>(h);
        const std::uint16_t back = f32_to_f16_bits(f16_bits_to_f32(bits));
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) {
            REQUIRE((back & 0x7C00) == 0x7C00);  // NaN stays NaN (quieted)
            REQUIRE((back & 0x3FF) != 0);
            REQUIRE((back & 0x8000) == (h & 0x8000));
        } else {
            REQUIRE(back == bits);
        }
    }
}

TEST_CASE("narrowing to binary16 rounds to nearest with ties to even, including subnormals and overflow") {
    // Midpoints between neighbouring halves are the hard cases: test them and their neighbours.
    for (std::uint32_t h = 0; h < 0x7BFF; ++h) {
        const double a = f16_reference(static_cast<std::uint16_t>(h));
        const double b = f16_reference(static_cast<std::uint16_t>(h + 1));
        const auto mid = static_cast<float>((a + b) / 2);  // exact in float for these ranges
        for (const float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f), -mid}) {
            REQUIRE(f32_to_f16_bits(f) == f16_nearest_reference(f));
        }
    }
    std::mt19937 rng(42);
    for (int i = 0; i < 200000; ++i) {
        const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
        if (std::isnan(f)) continue;
        REQUIRE(f32_to_f16_bits(f) == f16_nearest_reference(f));
    }
    CHECK(f32_to_f16_bits(65504.0f) == 0x7BFF);
    CHECK(f32_to_f16_bits(65519.996f) == 0x7BFF);
    CHECK(f32_to_f16_bits(65520.0f) == 0x7C00);  // the tie rounds to even, which is infinity
    CHECK(f32_to_f16_bits(std::numeric_limits<float>::infinity()) == 0x7C00);
    CHECK(f32_to_f16_bits(-std::numeric_limits<float>::infinity()) == 0xFC00);
    CHECK(f32_to_f16_bits(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
    CHECK(f32_to_f16_bits(std::ldexp(1.0f, -25)) == 0x0000);  // tie between 0 and 2^-24: even
    CHECK(f32_to_f16_bits(std::ldexp(1.5f, -25)) == 0x0001);
    CHECK(f32_to_f16_bits(-0.0f) == 0x8000);
    CHECK(f32_to_f16_bits(std::numeric_limits<float>::denorm_min()) == 0x0000);
}

TEST_CASE("a NaN never narrows to infinity") {
    for (const std::uint32_t payload : {0x7F800001u, 0x7FC00000u, 0x7F802000u, 0xFFFFFFFFu, 0x7FFFE000u}) {
        const float nan = std::bit_cast<float>(payload);
        REQUIRE(std::isnan(nan));
        CHECK(std::isnan(f16_bits_to_f32(f32_to_f16_bits(nan))));
        CHECK(std::isnan(bf16_bits_to_f32(f32_to_bf16_bits(nan))));
    }
}

#if defined(__FLT16_MAX__) && !defined(__clang__)
TEST_CASE("the binary16 conversions agree with the compiler's _Float16") {
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        const auto bits = static_cast<std::uint16_t>(h);
        const _Float16 c = std::bit_cast<_Float16>(bits);
        const float f = f16_bits_to_f32(bits);
        if (std::isnan(f)) continue;
        REQUIRE(f == static_cast<float>(c));
    }
    std::mt19937 rng(7);
    for (int i = 0; i < 100000; ++i) {
        const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
        if (std::isnan(f)) continue;
        REQUIRE(f32_to_f16_bits(f) == std::bit_cast<std::uint16_t>(static_cast<_Float16>(f)));
    }
}
#endif

TEST_CASE("bfloat16 widens exactly and narrows to nearest with ties to even") {
    for (std::uint32_t b = 0; b < 0x10000; ++b) {
        const float f = bf16_bits_to_f32(static_cast<std::uint16_t>(b));
        REQUIRE(std::bit_cast<std::uint32_t>(f) == b << 16);
        if (!std::isnan(f)) REQUIRE(f32_to_bf16_bits(f) == b);
    }
    CHECK(f32_to_bf16_bits(std::bit_cast<float>(0x3F808000u)) == 0x3F80);  // tie, even stays
    CHECK(f32_to_bf16_bits(std::bit_cast<float>(0x3F818000u)) == 0x3F82);  // tie, odd rounds up
    CHECK(f32_to_bf16_bits(std::bit_cast<float>(0x3F808001u)) == 0x3F81);
    CHECK(f32_to_bf16_bits(std::numeric_limits<float>::max()) == 0x7F80);  // overflow to inf
    CHECK(f32_to_bf16_bits(std::bit_cast<float>(0x00000001u)) == 0x0000);  // subnormal rounds to 0
    CHECK(f32_to_bf16_bits(std::bit_cast<float>(0x00018000u)) == 0x0002);  // subnormal tie to even
}

TEST_CASE("the 8-bit float formats decode to their defined values") {
    CHECK(f8e4m3fn_bits_to_f32(0x7E) == 448.0f);  // largest finite
    CHECK(std::isnan(f8e4m3fn_bits_to_f32(0x7F)));
    CHECK(std::isnan(f8e4m3fn_bits_to_f32(0xFF)));
    CHECK(f8e4m3fn_bits_to_f32(0x78) == 256.0f);  // exponent 15 is finite in the fn variant
    CHECK(f8e4m3fn_bits_to_f32(0x01) == std::ldexp(1.0f, -9));  // smallest subnormal
    CHECK(f8e4m3fn_bits_to_f32(0x07) == 7 * std::ldexp(1.0f, -9));
    CHECK(f8e4m3fn_bits_to_f32(0x08) == std::ldexp(1.0f, -6));  // smallest normal
    CHECK(f8e4m3fn_bits_to_f32(0x38) == 1.0f);
    CHECK(f8e4m3fn_bits_to_f32(0xB8) == -1.0f);
    CHECK(std::signbit(f8e4m3fn_bits_to_f32(0x80)));
    CHECK(f8e5m2_bits_to_f32(0x3C) == 1.0f);
    CHECK(f8e5m2_bits_to_f32(0x7B) == 57344.0f);
    CHECK(std::isinf(f8e5m2_bits_to_f32(0x7C)));
    CHECK(std::isnan(f8e5m2_bits_to_f32(0x7D)));
    CHECK(f8e5m2_bits_to_f32(0x01) == std::ldexp(1.0f, -16));
    // Every E4M3 value: (-1)^s * 2^(e-7) * (1 + m/8), subnormal 2^-6 * m/8.
    for (int b = 0; b < 256; ++b) {
        const int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
        if (e == 15 && m == 7) continue;
        const double ref = (s ? -1 : 1) * (e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1 + m / 8.0, e - 7));
        REQUIRE(static_cast<double>(f8e4m3fn_bits_to_f32(static_cast<std::uint8_t>(b))) == ref);
    }
}

TEST_CASE("the conversions are usable at compile time") {
    static_assert(f16_bits_to_f32(0x3C00) == 1.0f);
    static_assert(f32_to_f16_bits(1.0f) == 0x3C00);
    static_assert(bf16_bits_to_f32(0x3F80) == 1.0f);
    SUCCEED();
}
