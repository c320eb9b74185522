#pragma once
// Table-based fixed-point 2^-t (t >= 0) and the logistic sigmoid built on it: the only
// transcendental functions the integer SpikeGPT needs (the WKV recurrence and the receptance
// gates), with no floating point at run time or at compile time.
//
//   exp2_neg(t):  t >= 0 in Q16 log2 units  ->  2^-t in Q2.30 (raw in [0, 2^30])
//     t = n + f (n integer, f in [0, 1)); 2^-f from a 257-entry table of 2^(-i/256) (Q30) with
//     linear interpolation between entries (8 bits of f between two entries), then >> n with
//     rounding. Interpolation error <= (ln2/256)^2/8 ~ 9.2e-7 relative (about 2^-20); t >= 31
//     returns 0 (2^-31 is below half an LSB of Q30 only after rounding; we return 0 from n > 30).
//     The stable WKV form only ever needs exponents <= 0, so one side of the table suffices.
//   sigmoid_q30(z2): z2 = z * log2(e) in Q16  ->  1 / (1 + 2^-z2) in Q30, one 64-bit division,
//     using the exp2 table on -|z2| so the table is never asked for a positive exponent.
//
// The table is computed at compile time in integer arithmetic (a Taylor series of e^-x in
// Q62), so host and firmware use the same constants bit for bit.

#include <array>
#include <cstddef>
#include <cstdint>

#include "qslm/layers/integer/formats.hpp"

namespace qslm::layers::integer {

namespace detail {

inline constexpr int exp2_table_log2_size = 8;
inline constexpr std::size_t exp2_table_size = std::size_t{1} << exp2_table_log2_size;  // 256 steps

/// floor(a * b / 2^60) for a, b in [0, 2^61), without overflow: split both into 30-bit halves.
constexpr std::int64_t mul_q60(std::int64_t a, std::int64_t b) noexcept {
    constexpr std::int64_t lo_mask = (std::int64_t{1} << 30) - 1;
    const std::int64_t ah = a >> 30, al = a & lo_mask, bh = b >> 30, bl = b & lo_mask;
    return ah * bh + ((ah * bl + al * bh) >> 30) + ((al * bl) >> 60);
}

/// 2^62 * e^-x (to within a few units of Q62) for x = x_q62 / 2^62 in [0, 1], by the Taylor
/// series: the terms alternate and shrink, so 30 of them are more than enough.
constexpr std::int64_t exp_neg_q62(std::int64_t x_q62) noexcept {
    const std::int64_t x = x_q62 >> 2;  // Q60: headroom for the partial sums
    std::int64_t term = std::int64_t{1} << 60;  // x^k / k!, positive
    std::int64_t sum = term;
    for (int k = 1; k <= 30 && term != 0; ++k) {
        term = mul_q60(term, x) / k;
        sum += (k % 2 != 0) ? -term : term;
    }
    return sum << 2;  // e^-x <= 1, so sum <= 2^60 and the shift fits
}

/// ln(2) in Q62.
inline constexpr std::int64_t ln2_q62 = 3196577161300663915;  // round(ln 2 * 2^62)

constexpr std::array<std::int32_t, exp2_table_size + 1> make_exp2_table() noexcept {
    std::array<std::int32_t, exp2_table_size + 1> t{};
    for (std::size_t i = 0; i <= exp2_table_size; ++i) {
        // 2^(-i/256) = e^(-(i/256) ln 2); x = i * ln2 / 256 in Q62 (<= ln 2 < 1).
        const std::int64_t x = static_cast<std::int64_t>(i) * (ln2_q62 >> exp2_table_log2_size);
        const std::int64_t v = exp_neg_q62(x);
        t[i] = static_cast<std::int32_t>((v + (std::int64_t{1} << 31)) >> 32);  // Q62 -> Q30, rounded
    }
    return t;
}

}  // namespace detail

/// 2^(-i/256) in Q30 for i = 0..256 (entry 0 is exactly 2^30, entry 256 exactly 2^29).
inline constexpr std::array<std::int32_t, detail::exp2_table_size + 1> exp2_table = detail::make_exp2_table();

/// log2(e) in Q30: what the host folds into multipliers to move e-based exponents to base 2.
inline constexpr std::int64_t log2e_q30 = 1549082005;  // round(1.4426950408889634 * 2^30)

/// 2^-t for t >= 0 given in Q16 (log2 units); result in Q30. Negative t is treated as 0.
[[nodiscard]] constexpr std::int32_t exp2_neg(std::int64_t t_q16) noexcept {
    if (t_q16 <= 0) return static_cast<std::int32_t>(unit_one);
    const std::int64_t n = t_q16 >> 16;
    if (n > 30) return 0;
    const auto f = static_cast<std::uint32_t>(t_q16 & 0xFFFF);
    const std::uint32_t idx = f >> 8, frac = f & 0xFF;
    const std::int64_t a = exp2_table[idx], b = exp2_table[idx + 1];
    const std::int64_t v = a - (((a - b) * frac + 128) >> 8);  // interpolated 2^-f, Q30
    return static_cast<std::int32_t>(n == 0 ? v : (v + (std::int64_t{1} << (n - 1))) >> n);
}

/// The logistic sigmoid 1 / (1 + e^-z) from z2 = z * log2(e) in Q16; result in Q30.
[[nodiscard]] constexpr std::int32_t sigmoid_q30(std::int64_t z2_q16) noexcept {
    const std::int64_t e = exp2_neg(z2_q16 >= 0 ? z2_q16 : -z2_q16);  // 2^-|z2| in Q30
    const std::int64_t den = unit_one + e;                            // in [2^30, 2^31]
    const std::int64_t num = z2_q16 >= 0 ? (unit_one << 30) : (e << 30);
    return static_cast<std::int32_t>((num + den / 2) / den);
}

}  // namespace qslm::layers::integer
