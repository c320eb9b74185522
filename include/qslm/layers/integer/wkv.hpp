#pragma once
// One token of the RWKV-4 WKV recurrence in fixed point, in the numerically stable form of the
// float model (layers/spikegpt_block.hpp), with every exponent in log2 units (formats.hpp):
//
//   q  = max(pp, u + k);   e1 = 2^(pp - q);   e2 = 2^(u + k - q)        (one of them is 1)
//   wkv = (e1 aa + e2 v) / (e1 bb + e2)
//   q' = max(w + pp, k);   e1 = 2^(w + pp - q');  e2 = 2^(k - q')
//   aa = e1 aa + e2 v;  bb = e1 bb + e2;  pp = q'
//
// Because q is the maximum, every exponent handed to exp2_neg() is <= 0 and every e is in
// (0, 1] (Q30). k, u, w, pp are Q16 log2 units; v, aa, bb, wkv are Q16. Products e * aa are
// exact in int64 (< 2^61) and rounded once; the division is one 64-bit integer division.
// pp starts at log2_floor_raw (an empty sum) and never drops below it, so 2^(pp - q) is exactly
// 0 there, as exp(-1e38) is in float. aa and bb saturate at int32 (|aa|, bb < 32768): bb is at
// most about 1 / (1 - 2^w) + 2^u, far below that for SpikeGPT's decays.

#include <cstdint>

#include "qslm/core/rounding.hpp"
#include "qslm/layers/detail/integer_math.hpp"
#include "qslm/layers/integer/exp2.hpp"
#include "qslm/layers/integer/formats.hpp"

namespace qslm::layers::integer {

/// Updates (aa, bb, pp) with the token's k2 (log2 units) and v, returns wkv in Q16.
[[nodiscard]] constexpr std::int32_t wkv_step(std::int32_t w2, std::int32_t u2, std::int32_t k2, std::int32_t v,
                                              std::int32_t& aa, std::int32_t& bb, std::int32_t& pp) noexcept {
    using R = rounding::NearestEven;
    constexpr std::int64_t one_q16 = std::int64_t{1} << state_frac_bits;
    const std::int64_t uk = std::int64_t{u2} + k2;
    std::int64_t e1 = unit_one, e2 = unit_one;
    if (pp >= uk) e2 = exp2_neg(pp - uk);
    else e1 = exp2_neg(uk - pp);
    const std::int64_t num = R::shift_right(e1 * aa + e2 * v, unit_frac_bits);         // Q16
    const std::int64_t den = R::shift_right(e1 * bb + e2 * one_q16, unit_frac_bits);   // Q16
    const std::int64_t out = den > 0 ? layers::detail::div_round(num * one_q16, den) : 0;

    std::int64_t wp = std::int64_t{w2} + pp;
    if (wp < log2_floor_raw) wp = log2_floor_raw;
    if (wp >= k2) {
        e1 = unit_one;
        e2 = exp2_neg(wp - k2);
        pp = static_cast<std::int32_t>(wp);
    } else {
        e1 = exp2_neg(k2 - wp);
        e2 = unit_one;
        pp = k2 < log2_floor_raw ? log2_floor_raw : k2;
    }
    aa = saturate_raw<State>(R::shift_right(e1 * aa + e2 * v, unit_frac_bits));
    bb = saturate_raw<State>(R::shift_right(e1 * bb + e2 * one_q16, unit_frac_bits));
    return saturate_raw<State>(out);
}

}  // namespace qslm::layers::integer
