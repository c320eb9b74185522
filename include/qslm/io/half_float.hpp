#pragma once
// Conversions between float32 and the narrow float formats that checkpoints use: IEEE binary16
// (F16), bfloat16 (BF16), and the two 8-bit formats of safetensors (F8_E5M2, F8_E4M3 "fn").
//
// Written on the bit patterns, not through a compiler's _Float16, so that the results are the
// same on every compiler and target: every narrow value (subnormals, ±0, ±inf, NaN) widens to
// float32 exactly, and narrowing rounds to nearest, ties to even, overflows to ±inf, and keeps a
// NaN a (quiet) NaN instead of letting rounding carry it into infinity.
//
// No exceptions, no allocation: usable on either half.

#include <bit>
#include <cstdint>

namespace qslm::io {

/// Widens an IEEE binary16 bit pattern to float32 (exact for every input).
constexpr float f16_bits_to_f32(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exponent = (h >> 10) & 0x1Fu;
    std::uint32_t mantissa = h & 0x3FFu;
    if (exponent == 0x1F) {  // inf or NaN: keep the payload (shifted into float's wider mantissa)
        return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
    }
    if (exponent == 0) {
        if (mantissa == 0) return std::bit_cast<float>(sign);  // ±0
        // Subnormal half: mantissa * 2^-24. Normalise it; float32 has the range to hold it
        // as a normal number, so the result is exact.
        int e = 1;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            --e;
        }
        mantissa &= 0x3FFu;
        return std::bit_cast<float>(sign | (static_cast<std::uint32_t>(e + 112) << 23) | (mantissa << 13));
    }
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

/// Narrows float32 to binary16: round to nearest, ties to even; overflow gives ±inf; NaN stays
/// a quiet NaN (top payload bits kept).
constexpr std::uint16_t f32_to_f16_bits(float f) noexcept {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    const std::uint32_t a = x & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));  // NaN
    if (a >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to inf
    if (a >= 0x38800000u) {  // a normal half (>= 2^-14)
        const std::uint32_t odd = (a >> 13) & 1u;
        const std::uint32_t rounded = a + 0xFFFu + odd;  // carry into the exponent is the right answer
        return static_cast<std::uint16_t>(sign | ((rounded - (112u << 23)) >> 13));
    }
    if (a <= 0x33000000u) return sign;  // <= 2^-25: rounds to ±0 (2^-25 itself is a tie, even is 0)
    // Subnormal half: value / 2^-24 = m * 2^(e - 126), with e <= 112, so shift m right by 126 - e.
    const std::uint32_t e = a >> 23;
    const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t shift = 126u - e;  // 14..24
    std::uint32_t q = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u) != 0)) ++q;  // may become 0x400, the smallest normal: correct
    return static_cast<std::uint16_t>(sign | q);
}

/// Widens a bfloat16 bit pattern (the top half of a float32) to float32: exact.
constexpr float bf16_bits_to_f32(std::uint16_t b) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

/// Narrows float32 to bfloat16: round to nearest, ties to even; NaN stays a quiet NaN.
constexpr std::uint16_t f32_to_bf16_bits(float f) noexcept {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
    const std::uint32_t rounded = x + 0x7FFFu + ((x >> 16) & 1u);
    return static_cast<std::uint16_t>(rounded >> 16);
}

/// F8_E5M2: the top byte of a binary16 value, so it widens through the F16 path (exact).
constexpr float f8e5m2_bits_to_f32(std::uint8_t b) noexcept {
    return f16_bits_to_f32(static_cast<std::uint16_t>(b << 8));
}

/// F8_E4M3 in the "fn" variant used by PyTorch and safetensors: bias 7, no infinities, and only
/// S.1111.111 is NaN (so 448 is the largest finite value).
constexpr float f8e4m3fn_bits_to_f32(std::uint8_t b) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(b & 0x80u) << 24;
    const std::uint32_t exponent = (b >> 3) & 0xFu;
    std::uint32_t mantissa = b & 0x7u;
    if (exponent == 0xF && mantissa == 0x7) return std::bit_cast<float>(sign | 0x7FC00000u);
    if (exponent == 0) {
        if (mantissa == 0) return std::bit_cast<float>(sign);
        int e = 1;  // subnormal: mantissa * 2^-9
        while ((mantissa & 0x8u) == 0) {
            mantissa <<= 1;
            --e;
        }
        mantissa &= 0x7u;
        return std::bit_cast<float>(sign | (static_cast<std::uint32_t>(e + 120) << 23) | (mantissa << 20));
    }
    return std::bit_cast<float>(sign | ((exponent + 120u) << 23) | (mantissa << 20));
}

}  // namespace qslm::io
