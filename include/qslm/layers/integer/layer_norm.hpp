#pragma once
// Integer-only LayerNorm of the residual stream (torch semantics: biased variance, eps inside
// the square root), for inputs wider than IntegerLayerNorm<> (layers/layer_norm.hpp) accepts:
// the residual stream is Q8.16 in int32.
//
//   mean  = round(sum x / C)                                    Q16
//   var   = round(sum (x - mean)^2 / C) + eps                    Q32, exact sum in int64
//   sd    = round(sqrt(var))                                     Q16, integer square root
//   inv   = round(2^40 / sd)                                     1/sd with 24 extra bits
//   n_i   = round((x_i - mean) * inv / 2^24)                     Q16, normalised value
//   y_i   = round(n_i * gamma_i / 2^16) + beta_i                 Q16, then rounded to Out
//
// One division for the inverse standard deviation, none per element. Bounds: |x| < 2^23 (the
// Residual format) gives |x - mean| < 2^24, a sum of squares below 2^62 for C <= 2^14, and
// |x - mean| * inv <= sqrt(C) * 2^40 (since |x - mean| <= sqrt(C) * sd). A constant input
// (sd = 0, only possible with eps = 0) normalises to 0, as float LayerNorm with eps > 0 does.
// eps arrives as an integer in Q32 (converted on the host), so nothing here is floating point.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/rounding.hpp"
#include "qslm/core/status.hpp"
#include "qslm/layers/detail/integer_math.hpp"
#include "qslm/layers/integer/formats.hpp"

namespace qslm::layers::integer {

inline constexpr std::size_t layer_norm_max_dim = std::size_t{1} << 14;

/// gamma, beta in Q16 (raw int32), one per channel.
struct LayerNormParams {
    std::span<const std::int32_t> gamma;
    std::span<const std::int32_t> beta;
};

/// y = LN(x) in format Out (its raw storage type); x holds `dim` Residual raws.
template <class Out>
constexpr void layer_norm(const std::int32_t* x, std::size_t dim, LayerNormParams p, std::int64_t eps_q32,
                          typename Out::storage_type* y, OpCounts* counts = nullptr) noexcept {
    using R = rounding::NearestEven;
    const auto n = static_cast<std::int64_t>(dim);
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < dim; ++i) sum += x[i];
    const std::int64_t mean = layers::detail::div_round(sum, n);
    std::int64_t sq = 0;
    for (std::size_t i = 0; i < dim; ++i) {
        const std::int64_t c = x[i] - mean;
        sq += c * c;
    }
    const std::int64_t var = layers::detail::div_round(sq, n) + eps_q32;
    const auto sd = static_cast<std::int64_t>(layers::detail::isqrt_round(static_cast<std::uint64_t>(var)));
    const std::int64_t inv = sd == 0 ? 0 : layers::detail::div_round(std::int64_t{1} << 40, sd);
    for (std::size_t i = 0; i < dim; ++i) {
        const std::int64_t norm = R::shift_right((x[i] - mean) * inv, 24);
        const std::int64_t out = R::shift_right(norm * p.gamma[i], 16) + p.beta[i];  // Q16
        y[i] = saturate_raw<Out>(R::shift_right(out, state_frac_bits - Out::frac_bits));
    }
    if (counts != nullptr) {
        counts->additions += dim * 3;
        counts->multiplies += dim * 3;
        counts->nonlinear += 2;  // one square root, one division
    }
}

}  // namespace qslm::layers::integer
