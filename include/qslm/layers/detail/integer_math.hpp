#pragma once
// Integer helpers for integer-only layers: rounded division and square root, constexpr and
// free of floating point, so they run on cores without an FPU.

#include <cstdint>

namespace qslm::layers::detail {

/// a / b rounded to nearest, halves away from zero; b > 0.
constexpr std::int64_t div_round(std::int64_t a, std::int64_t b) noexcept {
    return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

/// floor(sqrt(v)) by the bit-by-bit method (no division, 32 iterations).
constexpr std::uint64_t isqrt(std::uint64_t v) noexcept {
    std::uint64_t res = 0;
    std::uint64_t bit = std::uint64_t{1} << 62;
    while (bit > v) bit >>= 2;
    while (bit != 0) {
        if (v >= res + bit) {
            v -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}

/// sqrt(v) rounded to nearest: floor, plus one when v exceeds r^2 + r (the midpoint (r+1/2)^2).
constexpr std::uint64_t isqrt_round(std::uint64_t v) noexcept {
    const std::uint64_t r = isqrt(v);
    return v > r * r + r ? r + 1 : r;
}

}  // namespace qslm::layers::detail
