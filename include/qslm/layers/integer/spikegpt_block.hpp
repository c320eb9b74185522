#pragma once
// One SpikeGPT block (spiking RWKV-4) in RNN mode with integer arithmetic only: the same
// computation as the float layers::SpikeGptBlock (training-mode forward of
// tools/train/spikegpt.py), in the formats of formats.hpp:
//
//   [block 0: x = LN0(x)]                                   Residual Q8.16
//   xa = LN1(x)                                             Activation Q16.16
//   xk = prev + (xa - prev) * mix_k  (likewise xv, xr)      Activation; prev = att_x (last token's xa)
//   k2 = Wk xk * log2e;  v = Wv xv;  r2 = Wr xr * log2e     State Q16 (log2e folded into the multipliers)
//   wkv = WKV(w2, u2, k2, v; aa, bb, pp)                    State Q16 (wkv.hpp)
//   y = sigmoid(r2) * wkv                                   Activation
//   x += LIF1(Wo y)                                         membranes State Q16, spike adds 1.0
//   xf = LN2(x);  xk, xr mixed with ffn_x                   Activation
//   h = relu(Wk' xk)^2                                      Hidden Q16.16
//   x += LIF2(sigmoid(Wr' xr * log2e) * (Wv' h))            State Q16
//
// The token-shift mix is computed as prev + (cur - prev) * m, algebraically the float model's
// cur * m + prev * (1 - m), with one rounding. Everything is int16/int32 storage and int64
// intermediates; no floating point, no <cmath>, no heap (state and scratch are caller arrays).

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/rounding.hpp"
#include "qslm/core/status.hpp"
#include "qslm/layers/integer/exp2.hpp"
#include "qslm/layers/integer/formats.hpp"
#include "qslm/layers/integer/layer_norm.hpp"
#include "qslm/layers/integer/lif.hpp"
#include "qslm/layers/integer/linear.hpp"
#include "qslm/layers/integer/wkv.hpp"

namespace qslm::layers::integer {

/// The integer parameters of one block. Vectors are Q16 raws (time_first / time_decay already
/// turned into u2 = u * log2e and w2 = -exp(time_decay) * log2e). Matrix types are StaticMatrix<>
/// (compile-time widths) or RuntimeMatrix.
template <class AttKey, class AttValue, class AttReceptance, class AttOutput, class FfnKey, class FfnReceptance,
          class FfnValue>
struct SpikeGptBlockParams {
    LayerNormParams ln1, ln2;
    std::span<const std::int32_t> att_mix_k, att_mix_v, att_mix_r;
    std::span<const std::int32_t> att_u2, att_w2;
    AttKey att_key;                ///< [C][C], multipliers: scale * 2^(16 - F_act) * log2e
    AttValue att_value;            ///< [C][C], scale * 2^(16 - F_act)
    AttReceptance att_receptance;  ///< [C][C], scale * 2^(16 - F_act) * log2e
    AttOutput att_output;          ///< [C][C], scale * 2^(16 - F_act)
    std::span<const std::int32_t> ffn_mix_k, ffn_mix_r;
    FfnKey ffn_key;                ///< [H][C], scale * 2^(16 - F_act)
    FfnReceptance ffn_receptance;  ///< [C][C], scale * 2^(16 - F_act) * log2e
    FfnValue ffn_value;            ///< [C][H], scale * 2^(16 - F_hidden)

    /// Shapes of every tensor for n_embd C and hidden H, and each matrix's own consistency.
    [[nodiscard]] constexpr Status check(std::size_t C, std::size_t H) const noexcept {
        for (const auto* s : {&ln1.gamma, &ln1.beta, &ln2.gamma, &ln2.beta, &att_mix_k, &att_mix_v, &att_mix_r, &att_u2,
                              &att_w2, &ffn_mix_k, &ffn_mix_r})
            if (s->size() != C) return Status::bad_shape;
        if (!shaped(att_key, C, C) || !shaped(att_value, C, C) || !shaped(att_receptance, C, C) ||
            !shaped(att_output, C, C) || !shaped(ffn_key, H, C) || !shaped(ffn_receptance, C, C) ||
            !shaped(ffn_value, C, H))
            return Status::bad_shape;
        for (const Status s : {att_key.check(), att_value.check(), att_receptance.check(), att_output.check(),
                               ffn_key.check(), ffn_receptance.check(), ffn_value.check()})
            if (s != Status::ok) return s;
        return Status::ok;
    }
    /// Stored bytes of the packed matrices (payload + scales + zero points).
    [[nodiscard]] constexpr std::size_t matrix_bytes() const noexcept {
        return att_key.bytes() + att_value.bytes() + att_receptance.bytes() + att_output.bytes() + ffn_key.bytes() +
               ffn_receptance.bytes() + ffn_value.bytes();
    }

private:
    template <class M>
    static constexpr bool shaped(const M& m, std::size_t rows, std::size_t cols) noexcept {
        return m.rows() == rows && m.cols() == cols;
    }
};

/// Per-block recurrent state, in caller memory (see models::IntegerSpikeGptLayout).
struct SpikeGptBlockState {
    act_t* att_x;  ///< previous token's LN1 output, Activation
    act_t* ffn_x;  ///< previous token's LN2 output, Activation
    std::int32_t* aa;     ///< WKV numerator, Q16
    std::int32_t* bb;     ///< WKV denominator, Q16
    std::int32_t* pp;     ///< WKV running maximum exponent, Q16 log2 units
    std::int32_t* v1;     ///< LIF1 membranes, Q16
    std::int32_t* v2;     ///< LIF2 membranes, Q16
};

/// Per-call scratch shared by all blocks.
struct SpikeGptBlockScratch {
    act_t* xa;      ///< [C] LN output
    act_t* xk;      ///< [C]
    act_t* xv;      ///< [C]
    act_t* xr;      ///< [C]
    act_t* y;       ///< [C] sigmoid(r) * wkv
    hidden_t* hidden;  ///< [H]
    std::int32_t* k;       ///< [max(C, H)]
    std::int32_t* v;       ///< [C]
    std::int32_t* r;       ///< [C]
};

/// Fresh state: zeros, pp at the log2 floor, membranes at V_reset.
inline void reset_block_state(const SpikeGptBlockState& s, std::size_t C, const LifParams& lif) noexcept {
    for (std::size_t i = 0; i < C; ++i) {
        s.att_x[i] = 0;
        s.ffn_x[i] = 0;
        s.aa[i] = 0;
        s.bb[i] = 0;
        s.pp[i] = log2_floor_raw;
        s.v1[i] = lif.v_reset_raw;
        s.v2[i] = lif.v_reset_raw;
    }
}

namespace detail {
/// prev + (cur - prev) * m, m in Q16; Activation raws in and out.
constexpr act_t token_shift_mix(act_t cur, act_t prev, std::int32_t m) noexcept {
    const std::int64_t d = std::int64_t{cur} - prev;
    return saturate_raw<Activation>(prev + rounding::NearestEven::shift_right(d * m, state_frac_bits));
}
/// x += 1.0 for every spike; returns the number of spikes.
inline std::uint32_t lif_into_residual(const LifParams& lif, const std::int32_t* in, std::int32_t* membranes,
                                       std::int32_t* x, std::size_t C) noexcept {
    constexpr std::int64_t one = std::int64_t{1} << Residual::frac_bits;
    std::uint32_t fired = 0;
    for (std::size_t i = 0; i < C; ++i) {
        if (lif_step(lif, in[i], membranes[i])) {
            x[i] = saturate_raw<Residual>(std::int64_t{x[i]} + one);
            ++fired;
        }
    }
    return fired;
}
}  // namespace detail

struct BlockSpikes {
    std::uint32_t att = 0;  ///< LIF1 spikes
    std::uint32_t ffn = 0;  ///< LIF2 spikes
};

/// One token through one block: x (C Residual raws) updated in place. `ln0` is applied first
/// when its gamma is non-empty (block 0). Shapes are the caller's responsibility (check()).
template <class Block>
BlockSpikes spikegpt_block_forward(const Block& p, const LayerNormParams& ln0, std::size_t C, std::size_t H,
                                   const LifParams& lif, std::int64_t ln_eps_q32, std::int32_t* x,
                                   const SpikeGptBlockState& s, const SpikeGptBlockScratch& t,
                                   OpCounts* counts = nullptr) noexcept {
    using R = rounding::NearestEven;
    BlockSpikes fired;
    // ---- time mix -----------------------------------------------------------------------
    if (!ln0.gamma.empty()) layer_norm<Residual>(x, C, ln0, ln_eps_q32, x, counts);
    layer_norm<Activation>(x, C, p.ln1, ln_eps_q32, t.xa, counts);
    for (std::size_t i = 0; i < C; ++i) {
        const act_t prev = s.att_x[i];
        t.xk[i] = detail::token_shift_mix(t.xa[i], prev, p.att_mix_k[i]);
        t.xv[i] = detail::token_shift_mix(t.xa[i], prev, p.att_mix_v[i]);
        t.xr[i] = detail::token_shift_mix(t.xa[i], prev, p.att_mix_r[i]);
        s.att_x[i] = t.xa[i];
    }
    (void)matvec(p.att_key, t.xk, t.k, counts);
    (void)matvec(p.att_value, t.xv, t.v, counts);
    (void)matvec(p.att_receptance, t.xr, t.r, counts);
    for (std::size_t i = 0; i < C; ++i) {
        const std::int64_t wkv = wkv_step(p.att_w2[i], p.att_u2[i], t.k[i], t.v[i], s.aa[i], s.bb[i], s.pp[i]);
        const std::int64_t gate = sigmoid_q30(t.r[i]);
        // Q30 * Q16 -> Activation: shift by 30 + 16 - F_act.
        t.y[i] = saturate_raw<Activation>(R::shift_right(gate * wkv, unit_frac_bits + state_frac_bits - activation_frac_bits));
    }
    (void)matvec(p.att_output, t.y, t.k, counts);  // k now holds the LIF1 input (Q16)
    fired.att = detail::lif_into_residual(lif, t.k, s.v1, x, C);

    // ---- channel mix --------------------------------------------------------------------
    layer_norm<Activation>(x, C, p.ln2, ln_eps_q32, t.xa, counts);
    for (std::size_t i = 0; i < C; ++i) {
        const act_t prev = s.ffn_x[i];
        t.xk[i] = detail::token_shift_mix(t.xa[i], prev, p.ffn_mix_k[i]);
        t.xr[i] = detail::token_shift_mix(t.xa[i], prev, p.ffn_mix_r[i]);
        s.ffn_x[i] = t.xa[i];
    }
    (void)matvec(p.ffn_key, t.xk, t.k, counts);
    for (std::size_t j = 0; j < H; ++j) {
        const std::int64_t h = t.k[j] > 0 ? t.k[j] : 0;
        // (Q16)^2 = Q32 -> Hidden: shift by 32 - F_hidden.
        t.hidden[j] = saturate_raw<Hidden>(R::shift_right(h * h, 2 * state_frac_bits - hidden_frac_bits));
    }
    (void)matvec(p.ffn_receptance, t.xr, t.r, counts);
    (void)matvec(p.ffn_value, t.hidden, t.v, counts);
    for (std::size_t i = 0; i < C; ++i) {
        const std::int64_t gate = sigmoid_q30(t.r[i]);
        t.k[i] = saturate_raw<State>(R::shift_right(gate * t.v[i], unit_frac_bits));
    }
    fired.ffn = detail::lif_into_residual(lif, t.k, s.v2, x, C);

    if (counts != nullptr) {
        counts->multiplies += 9 * C + H + 2 * C;
        counts->additions += 13 * C;
        counts->nonlinear += 4 * C;  // two exp2 in WKV, two sigmoids
        counts->state_updates += 2 * C;
        counts->spikes += fired.att + fired.ffn;
        counts->synaptic_accumulates += fired.att + fired.ffn;
    }
    return fired;
}

}  // namespace qslm::layers::integer
