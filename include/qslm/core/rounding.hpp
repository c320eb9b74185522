#pragma once
// Rounding policies for fixed-point arithmetic: how a value that falls between two
// representable numbers is resolved, both when shifting an integer right (rescaling after a
// multiply) and when converting a real number. All are constexpr and branch-light, so they
// cost nothing on a microcontroller.

#include <concepts>
#include <cstdint>

namespace qslm::rounding {

namespace detail {
/// Arithmetic shift right that is floor division by 2^s for every int64 (including negatives).
constexpr std::int64_t floor_shift(std::int64_t v, int s) noexcept {
    return s >= 63 ? (v < 0 ? -1 : 0) : (v >> s);  // >> on negative values is arithmetic since C++20
}
/// Truncates a finite double that fits in int64 toward zero (static_cast does exactly that).
constexpr std::int64_t trunc_to_int(double x) noexcept { return static_cast<std::int64_t>(x); }
}  // namespace detail

/// Round half to even (IEEE default, "banker's rounding"): unbiased on average, so repeated
/// rescaling in a LIF membrane does not drift.
struct NearestEven {
    static constexpr std::int64_t shift_right(std::int64_t v, int s) noexcept {
        if (s <= 0) return v * (std::int64_t{1} << -s);
        const std::int64_t q = detail::floor_shift(v, s);
        if (s >= 63) return q;
        const std::int64_t rem = v - q * (std::int64_t{1} << s);  // in [0, 2^s)
        const std::int64_t half = std::int64_t{1} << (s - 1);
        return (rem > half || (rem == half && (q & 1) != 0)) ? q + 1 : q;
    }
    static constexpr std::int64_t from_double(double x) noexcept {
        const std::int64_t t = detail::trunc_to_int(x);
        const double frac = x - static_cast<double>(t);  // exact for |x| < 2^52
        if (frac > 0.5 || (frac == 0.5 && (t & 1) != 0)) return t + 1;
        if (frac < -0.5 || (frac == -0.5 && (t & 1) != 0)) return t - 1;
        return t;
    }
};

/// Round toward zero (truncation), what a C cast does; symmetric around zero.
struct TowardZero {
    static constexpr std::int64_t shift_right(std::int64_t v, int s) noexcept {
        if (s <= 0) return v * (std::int64_t{1} << -s);
        return v >= 0 ? detail::floor_shift(v, s) : -detail::floor_shift(-v, s);
    }
    static constexpr std::int64_t from_double(double x) noexcept { return detail::trunc_to_int(x); }
};

/// Round toward minus infinity: a bare arithmetic shift, the cheapest choice on any core.
struct Floor {
    static constexpr std::int64_t shift_right(std::int64_t v, int s) noexcept {
        if (s <= 0) return v * (std::int64_t{1} << -s);
        return detail::floor_shift(v, s);
    }
    static constexpr std::int64_t from_double(double x) noexcept {
        const std::int64_t t = detail::trunc_to_int(x);
        return (static_cast<double>(t) > x) ? t - 1 : t;
    }
};

}  // namespace qslm::rounding

namespace qslm {

/// What a rounding policy must provide.
template <class R>
concept RoundingPolicy = requires(std::int64_t v, int s, double x) {
    { R::shift_right(v, s) } -> std::same_as<std::int64_t>;
    { R::from_double(x) } -> std::same_as<std::int64_t>;
};

}  // namespace qslm
