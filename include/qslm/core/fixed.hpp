#pragma once
// Fixed<IntBits, FracBits, Rounding, Overflow, Signed>: a binary fixed-point number.
//
//   value = raw / 2^FracBits,  raw an integer of IntBits + FracBits bits.
//
// For signed numbers IntBits counts the sign bit (ARM's Q notation: Fixed<1, 15> is Q15,
// range [-1, 1 - 2^-15]). Storage is the smallest standard integer that holds the width.
// Rounding and overflow are policies (see rounding.hpp, overflow.hpp); the defaults, round
// half to even and saturate, are what a LIF membrane wants. Arithmetic is done in 64 bits and
// narrowed once, so products of two 32-bit values are exact before rescaling.

#include <compare>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "qslm/core/overflow.hpp"
#include "qslm/core/rounding.hpp"

namespace qslm {

namespace detail {
template <int Width, bool Signed>
using fixed_storage_t = std::conditional_t<
    Signed,
    std::conditional_t<(Width <= 8), std::int8_t,
                       std::conditional_t<(Width <= 16), std::int16_t, std::int32_t>>,
    std::conditional_t<(Width <= 8), std::uint8_t,
                       std::conditional_t<(Width <= 16), std::uint16_t, std::uint32_t>>>;
}  // namespace detail

template <int IntBits, int FracBits, RoundingPolicy Rounding = rounding::NearestEven,
          OverflowPolicy Overflow = overflow::Saturate, bool Signed = true>
class Fixed {
    static_assert(IntBits >= 0 && FracBits >= 0,
                  "Fixed<IntBits, FracBits>: both IntBits and FracBits must be zero or positive.");
    static_assert(!Signed || IntBits >= 1,
                  "Fixed<IntBits, FracBits>: a signed format needs IntBits >= 1, because IntBits counts the sign bit.");
    static_assert(IntBits + FracBits >= 1, "Fixed<IntBits, FracBits>: the total width must be at least one bit.");
    static_assert(IntBits + FracBits <= (Signed ? 32 : 31),
                  "Fixed<IntBits, FracBits>: the total width is limited to 32 bits (31 unsigned) so that the "
                  "product of two values is exact in 64-bit arithmetic.");

public:
    static constexpr int int_bits = IntBits;
    static constexpr int frac_bits = FracBits;
    static constexpr int width = IntBits + FracBits;
    static constexpr bool is_signed = Signed;
    using rounding_policy = Rounding;
    using overflow_policy = Overflow;
    using storage_type = detail::fixed_storage_t<width, Signed>;

    static constexpr std::int64_t raw_min = Signed ? -(std::int64_t{1} << (width - 1)) : 0;
    static constexpr std::int64_t raw_max =
        Signed ? (std::int64_t{1} << (width - 1)) - 1 : (std::int64_t{1} << width) - 1;
    static constexpr double one_raw = static_cast<double>(std::int64_t{1} << FracBits);

    constexpr Fixed() noexcept = default;

    /// From a raw integer (the value times 2^FracBits), applying the overflow policy.
    static constexpr Fixed from_raw(std::int64_t raw) noexcept {
        Fixed f;
        f.raw_ = static_cast<storage_type>(Overflow::apply(raw, raw_min, raw_max, width, Signed));
        return f;
    }

    /// From a real number, rounded by the rounding policy. NaN maps to zero; infinities and
    /// out-of-range values go through the overflow policy (saturate by default).
    static constexpr Fixed from_float(double x) noexcept {
        if (x != x) return from_raw(0);
        const double scaled = x * one_raw;
        // Values beyond +-2^62 cannot be converted to int64 without undefined behaviour;
        constexpr double limit = 4.611686018427387904e18;  // 2^62
        // they are far outside any format here, so they become max()/lowest() whatever the policy.
        if (scaled >= limit) return from_raw(raw_max);
        if (scaled <= -limit) return from_raw(raw_min);
        return from_raw(Rounding::from_double(scaled));
    }

    /// From an integer value (not raw): Fixed<8,8>::from_int(3) == 3.0.
    static constexpr Fixed from_int(std::int64_t v) noexcept {
        // Shift in 64 bits, then let the overflow policy handle what does not fit.
        constexpr std::int64_t lim = std::int64_t{1} << (62 - FracBits);
        if (v >= lim) return from_raw(raw_max);
        if (v <= -lim) return from_raw(raw_min);
        return from_raw(v * (std::int64_t{1} << FracBits));
    }

    static constexpr Fixed max() noexcept { return from_raw(raw_max); }
    static constexpr Fixed lowest() noexcept { return from_raw(raw_min); }
    static constexpr Fixed epsilon() noexcept { return from_raw(1); }  ///< one LSB
    static constexpr Fixed zero() noexcept { return from_raw(0); }
    static constexpr double resolution() noexcept { return 1.0 / one_raw; }

    [[nodiscard]] constexpr storage_type raw() const noexcept { return raw_; }
    [[nodiscard]] constexpr double to_double() const noexcept { return static_cast<double>(raw_) / one_raw; }
    [[nodiscard]] constexpr float to_float() const noexcept { return static_cast<float>(to_double()); }
    explicit constexpr operator double() const noexcept { return to_double(); }

    /// Converts to another fixed-point format, rounding with *this* format's policy when
    /// fractional bits are dropped and saturating/wrapping per the target's policy.
    template <class Target>
    [[nodiscard]] constexpr Target to() const noexcept {
        return Target::from_raw(Rounding::shift_right(raw_, FracBits - Target::frac_bits));
    }

    // ---- arithmetic (same format) --------------------------------------------------------
    friend constexpr Fixed operator+(Fixed a, Fixed b) noexcept {
        return from_raw(std::int64_t{a.raw_} + std::int64_t{b.raw_});
    }
    friend constexpr Fixed operator-(Fixed a, Fixed b) noexcept {
        return from_raw(std::int64_t{a.raw_} - std::int64_t{b.raw_});
    }
    constexpr Fixed operator-() const noexcept { return from_raw(-std::int64_t{raw_}); }
    /// Product rescaled by FracBits with the rounding policy: exact before the one rounding.
    friend constexpr Fixed operator*(Fixed a, Fixed b) noexcept {
        return from_raw(Rounding::shift_right(std::int64_t{a.raw_} * std::int64_t{b.raw_}, FracBits));
    }
    /// Quotient rounded toward zero (division is rare on the inference path; kept simple and exact).
    friend constexpr Fixed operator/(Fixed a, Fixed b) noexcept {
        if (b.raw_ == 0) return from_raw(a.raw_ >= 0 ? raw_max : raw_min);  // saturate, never trap
        const std::int64_t num = std::int64_t{a.raw_} * (std::int64_t{1} << FracBits);
        return from_raw(num / std::int64_t{b.raw_});
    }
    constexpr Fixed& operator+=(Fixed o) noexcept { return *this = *this + o; }
    constexpr Fixed& operator-=(Fixed o) noexcept { return *this = *this - o; }
    constexpr Fixed& operator*=(Fixed o) noexcept { return *this = *this * o; }

    /// Multiplies by 2^-n with the rounding policy: how tau = 2 becomes a shift in a LIF neuron.
    [[nodiscard]] constexpr Fixed shifted_right(int n) const noexcept {
        return from_raw(Rounding::shift_right(raw_, n));
    }

    /// Adds an integer accumulator expressed in another number of fractional bits (e.g. the
    /// int32 output of a spike kernel whose LSB is 2^-acc_frac_bits), rounding once.
    [[nodiscard]] static constexpr Fixed from_scaled_int(std::int64_t value, int value_frac_bits) noexcept {
        return from_raw(Rounding::shift_right(value, value_frac_bits - FracBits));
    }

    friend constexpr bool operator==(Fixed a, Fixed b) noexcept { return a.raw_ == b.raw_; }
    friend constexpr auto operator<=>(Fixed a, Fixed b) noexcept { return a.raw_ <=> b.raw_; }

private:
    storage_type raw_ = 0;
};

/// Product of two different formats, delivered in a third; one rounding, exact before it.
template <class Result, int I1, int F1, class R1, class O1, bool S1, int I2, int F2, class R2, class O2, bool S2>
[[nodiscard]] constexpr Result multiply(Fixed<I1, F1, R1, O1, S1> a, Fixed<I2, F2, R2, O2, S2> b) noexcept {
    const std::int64_t product = std::int64_t{a.raw()} * std::int64_t{b.raw()};
    return Result::from_raw(Result::rounding_policy::shift_right(product, F1 + F2 - Result::frac_bits));
}

/// Unsigned fixed point with the same conventions.
template <int IntBits, int FracBits, RoundingPolicy Rounding = rounding::NearestEven,
          OverflowPolicy Overflow = overflow::Saturate>
using UFixed = Fixed<IntBits, FracBits, Rounding, Overflow, false>;

template <class T>
struct is_fixed : std::false_type {};
template <int I, int F, class R, class O, bool S>
struct is_fixed<Fixed<I, F, R, O, S>> : std::true_type {};
template <class T>
inline constexpr bool is_fixed_v = is_fixed<T>::value;

/// A fixed-point type of any format.
template <class T>
concept FixedPoint = is_fixed_v<T>;

}  // namespace qslm
