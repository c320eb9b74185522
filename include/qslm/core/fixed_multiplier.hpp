#pragma once
// FixedMultiplier: a positive real factor m represented as an integer multiplier and a right
// shift, m ~= multiplier * 2^-shift, with multiplier in [2^30, 2^31) for full precision.
// This is how an integer-only target applies a float scale (dequantization, requantization of
// an accumulator into a membrane) without touching floating point at run time.

#include <cmath>
#include <cstdint>

#include "qslm/core/result.hpp"
#include "qslm/core/rounding.hpp"

namespace qslm {

struct FixedMultiplier {
    std::int32_t multiplier = 0;  ///< in [2^30, 2^31), or 0 for a zero factor
    int shift = 0;                ///< right shift applied after the multiply (may be negative)

    /// Host-side construction from a real factor. Fails for negative, NaN, infinite factors or
    /// ones too large or too small for a shift within [-31, 62].
    static Result<FixedMultiplier> from_real(double m) noexcept {
        if (!(m >= 0.0) || std::isinf(m)) return Failure{Status::invalid_argument, "multiplier must be finite and >= 0"};
        if (m == 0.0) return FixedMultiplier{0, 0};
        int exponent = 0;
        const double fraction = std::frexp(m, &exponent);  // m = fraction * 2^exponent, fraction in [0.5, 1)
        std::int64_t q = rounding::NearestEven::from_double(fraction * 2147483648.0);  // * 2^31
        if (q == (std::int64_t{1} << 31)) {  // rounding carried into the next power of two
            q /= 2;
            ++exponent;
        }
        const int shift = 31 - exponent;
        if (shift < -31 || shift > 62) return Failure{Status::out_of_range, "multiplier outside the representable range"};
        return FixedMultiplier{static_cast<std::int32_t>(q), shift};
    }

    /// value * m, rounded with the given policy, in 64-bit arithmetic.
    template <RoundingPolicy Rounding = rounding::NearestEven>
    [[nodiscard]] constexpr std::int64_t apply(std::int64_t value) const noexcept {
        return Rounding::shift_right(value * multiplier, shift);
    }
    [[nodiscard]] double to_double() const noexcept { return std::ldexp(static_cast<double>(multiplier), -shift); }
};

}  // namespace qslm
