#pragma once
// The fixed-point formats of the integer-only inference path (qslm::layers::integer), in one
// place so that the host preparation (io/integer/prepare_spikegpt.hpp), the step loop and
// docs/embedded.md cannot disagree. "Qm.n" = m integer bits (counting the sign) and n
// fractional bits, i.e. qslm::Fixed<m, n>; the value is raw / 2^n.
//
//   what                                        format           why
//   residual stream x                           Residual Q8.16   int32; |x| < 128 keeps the LayerNorm
//                                                                sum of squares inside int64 for C <= 2^14
//   everything else: LIF membranes and inputs,  State Q16.16     int32. 2^-16 resolution everywhere: with
//   LN outputs, token-shift mixes, k, v, r,     (Activation,     16-bit activations (Q6.10, tried first) the
//   WKV state (aa, bb, pp), sigmoid(r) * wkv,    Hidden are the  trained model's LIF inputs were off by ~1e-3,
//   channel-mix hidden relu(k)^2, LN gamma/      same format)    which flipped spikes whose threshold margin
//   beta, time_mix, time_first/decay, logits                     (often 1e-4..1e-3) was smaller; Q16 keeps
//                                                                the logits within ~1e-4 of float
//   exp / sigmoid results                       Unit Q2.30       int32 raw in [0, 2^30] = [0, 1]
//
// Matrix-vector products accumulate level * input in int64 (exact) and requantize once per scale
// group with a 24-bit multiplier, stored in 4 bytes (PackedMultiplier, linear.hpp).
//
// Log-domain values (k of the time mix, u = time_first, w = -exp(time_decay), the WKV
// maximum pp, and the receptances r that feed a sigmoid) are kept in *log2 units*: the host
// folds log2(e) into the projection's requantization multiplier (and into u and w once), so
// exp(a - b) becomes 2^(a' - b'), a shift plus a table lookup, at no run-time cost.

#include <cstdint>

#include "qslm/core/fixed.hpp"

namespace qslm::layers::integer {

using Residual = Fixed<8, 16>;     ///< residual stream (stored in int32)
using State = Fixed<16, 16>;       ///< membranes, projections' outputs, WKV state, logits
using Activation = Fixed<16, 16>;  ///< inputs of every matrix-vector product (int32)
using Hidden = Fixed<16, 16>;      ///< channel-mix hidden activations relu(k)^2 (int32)

using act_t = Activation::storage_type;    ///< storage of matrix-vector inputs
using hidden_t = Hidden::storage_type;     ///< storage of channel-mix hidden activations

inline constexpr int state_frac_bits = State::frac_bits;            // 16
inline constexpr int activation_frac_bits = Activation::frac_bits;  // 16
inline constexpr int hidden_frac_bits = Hidden::frac_bits;          // 16
inline constexpr int unit_frac_bits = 30;                           // exp2 / sigmoid results
inline constexpr std::int64_t unit_one = std::int64_t{1} << unit_frac_bits;

/// The WKV "log of an empty sum" (the float model's pp = -1e38): -16384 in log2 units, whose
/// 2^x is zero in every format here. pp never drops below it (decays saturate there).
inline constexpr std::int32_t log2_floor_raw = -(std::int32_t{1} << 30);

/// Mantissa bits kept in a requantization multiplier (see linear.hpp): 24 bits, i.e. a
/// relative precision of 2^-24, like a float32 scale; an accumulator rounded to 38 significant
/// bits times the multiplier stays below 2^62.
inline constexpr int multiplier_bits = 24;

/// Clamps a 64-bit intermediate into the raw range of Fixed format F (saturation).
template <class F>
[[nodiscard]] constexpr typename F::storage_type saturate_raw(std::int64_t v) noexcept {
    return static_cast<typename F::storage_type>(v < F::raw_min ? F::raw_min : (v > F::raw_max ? F::raw_max : v));
}

}  // namespace qslm::layers::integer
