#pragma once
// SpikeGptBlock: one SpikeGPT block (spiking RWKV-4) in RNN mode — one token per call, constant
// memory per generated token — following the training-mode forward of tools/train/spikegpt.py
// (documented in docs/models.md and docs/layers.md):
//
//   if block 0:  x = LN0(x)
//   xa = LN1(x);  xx = previous token's xa (zeros at t = 0)
//   xk = xa*mix_k + xx*(1 - mix_k)   (likewise xv, xr)
//   k = Wk xk;  v = Wv xv;  r = Wr xr
//   wkv with w = -exp(time_decay), u = time_first, numerically stable state (aa, bb, pp)
//   x = x + LIF1(Wo (sigmoid(r) * wkv))                    LIF1's time axis = the tokens
//   xf = LN2(x);  xk, xr mixed with the previous token's xf
//   x = x + LIF2(sigmoid(Wr' xr) * Wv' (relu(Wk' xk))^2)
//
// LIF = SpikingJelly LIF (tau 2, v_th 1, hard reset to 0, decay_input, spike when H >= v_th).
//
// The reference RNN runner of the SpikeGPT code divides att.output / ffn.value of block i by
// 2^(i / k) and halves the residual stream after every k-th block (k = RESCALE_LAYER = 6), to
// keep float16 in range. That is exact for RWKV, but not here: the LIF behind those projections
// sees a smaller input and fires differently. So it is off by default (training-mode forward,
// what the Python model and its golden files compute) and offered as
// SpikeGptOptions::runner_rescale_every = 6 for users who want the runner's outputs.
//
// Two forms per projection (layers/projection.hpp): float spans (the reference weights, or
// weights dequantized into a caller buffer — see layers/dequantize.hpp), or low-bit matrices
// prepared for the integer GEMV kernel (`packed`, what a model loaded from a .qslm runs: int8
// activations per block, integer dot products). B streams are processed per call so each
// weight row is loaded once per group of streams; the results of a stream are bit-identical
// whatever it is batched with, in both forms (detail/dense_matmul.hpp, kernels/lowbit_gemv.hpp).
//
// No heap: per-stream state (7 * n_embd floats) and per-call scratch live in caller spans whose
// sizes come from state_floats() and scratch_floats().

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/result.hpp"
#include "qslm/layers/detail/dense_matmul.hpp"
#include "qslm/layers/layer_norm.hpp"
#include "qslm/layers/projection.hpp"
#include "qslm/neuron/spiking_jelly_lif.hpp"
#include "qslm/layers/activation_observer.hpp"

namespace qslm::layers {

/// The tensors of one block, float, PyTorch layouts ([out, in] for the projections); names as
/// in the SpikeGPT state dict ("blocks.i.att.key.weight" is att_key).
struct SpikeGptBlockWeights {
    std::size_t n_embd = 0;      ///< C
    std::size_t ffn_hidden = 0;  ///< H (ffn_mult * C)
    std::span<const float> ln0_weight, ln0_bias;  ///< block 0 only; leave empty elsewhere
    std::span<const float> ln1_weight, ln1_bias, ln2_weight, ln2_bias;
    std::span<const float> att_time_decay, att_time_first;
    std::span<const float> att_time_mix_k, att_time_mix_v, att_time_mix_r;
    std::span<const float> att_key, att_value, att_receptance, att_output;  ///< [C][C]
    std::span<const float> ffn_time_mix_k, ffn_time_mix_r;
    std::span<const float> ffn_key;         ///< [H][C]
    std::span<const float> ffn_value;       ///< [C][H]
    std::span<const float> ffn_receptance;  ///< [C][C]

    /// Prepared low-bit forms of the seven projections (not owned). A non-null entry is used
    /// instead of the float span of the same name, which may then be left empty.
    struct Packed {
        const kernels::LowBitMatrix* att_key = nullptr;
        const kernels::LowBitMatrix* att_value = nullptr;
        const kernels::LowBitMatrix* att_receptance = nullptr;
        const kernels::LowBitMatrix* att_output = nullptr;
        const kernels::LowBitMatrix* ffn_key = nullptr;
        const kernels::LowBitMatrix* ffn_receptance = nullptr;
        const kernels::LowBitMatrix* ffn_value = nullptr;
    } packed{};

    [[nodiscard]] constexpr Projection att_key_projection() const noexcept { return {att_key, packed.att_key}; }
    [[nodiscard]] constexpr Projection att_value_projection() const noexcept { return {att_value, packed.att_value}; }
    [[nodiscard]] constexpr Projection att_receptance_projection() const noexcept {
        return {att_receptance, packed.att_receptance};
    }
    [[nodiscard]] constexpr Projection att_output_projection() const noexcept { return {att_output, packed.att_output}; }
    [[nodiscard]] constexpr Projection ffn_key_projection() const noexcept { return {ffn_key, packed.ffn_key}; }
    [[nodiscard]] constexpr Projection ffn_receptance_projection() const noexcept {
        return {ffn_receptance, packed.ffn_receptance};
    }
    [[nodiscard]] constexpr Projection ffn_value_projection() const noexcept { return {ffn_value, packed.ffn_value}; }

    /// Bytes of packed-kernel scratch one call for `batch` streams needs (0 on the float path).
    [[nodiscard]] std::size_t packed_scratch_bytes(std::size_t batch) const noexcept {
        std::size_t n = 0;
        for (const Projection& p : {att_key_projection(), att_value_projection(), att_receptance_projection(),
                                    att_output_projection(), ffn_key_projection(), ffn_receptance_projection(),
                                    ffn_value_projection()})
            n = p.scratch_bytes(batch) > n ? p.scratch_bytes(batch) : n;
        return n;
    }
    /// Bytes of the seven projections' weights as stored (float32 or packed).
    [[nodiscard]] std::size_t projection_bytes() const noexcept {
        std::size_t n = 0;
        for (const Projection& p : {att_key_projection(), att_value_projection(), att_receptance_projection(),
                                    att_output_projection(), ffn_key_projection(), ffn_receptance_projection(),
                                    ffn_value_projection()})
            n += p.weight_bytes();
        return n;
    }

    [[nodiscard]] constexpr bool has_ln0() const noexcept { return !ln0_weight.empty(); }
    [[nodiscard]] constexpr Status check() const noexcept {
        const std::size_t C = n_embd, H = ffn_hidden;
        if (C == 0 || H == 0 || C > (std::size_t{1} << 14) || H > (std::size_t{1} << 16)) return Status::bad_shape;
        for (const auto* s : {&ln1_weight, &ln1_bias, &ln2_weight, &ln2_bias, &att_time_decay, &att_time_first,
                              &att_time_mix_k, &att_time_mix_v, &att_time_mix_r, &ffn_time_mix_k, &ffn_time_mix_r})
            if (s->size() != C) return Status::bad_shape;
        if (has_ln0() && (ln0_weight.size() != C || ln0_bias.size() != C)) return Status::bad_shape;
        if (!has_ln0() && !ln0_bias.empty()) return Status::bad_shape;
        for (const Projection& p : {att_key_projection(), att_value_projection(), att_receptance_projection(),
                                    att_output_projection(), ffn_receptance_projection()})
            if (!p.fits(C, C)) return Status::bad_shape;
        if (!ffn_key_projection().fits(H, C) || !ffn_value_projection().fits(C, H)) return Status::bad_shape;
        return Status::ok;
    }
    /// Float32 bytes of all tensors.
    [[nodiscard]] constexpr std::size_t parameter_count() const noexcept {
        return (has_ln0() ? 2 * n_embd : 0) + 9 * n_embd + 5 * n_embd * n_embd + 2 * n_embd * ffn_hidden;
    }
};

struct SpikeGptOptions {
    neuron::SpikingJellyParams lif{};  ///< LIF1 and LIF2 (SpikeGPT: tau 2, v_th 1, hard reset to 0)
    double ln_eps = 1e-5;
    std::size_t layer_id = 0;          ///< block index (only used by the runner option)
    std::size_t runner_rescale_every = 0;  ///< 0: training-mode forward; k: reference RNN runner's rescaling
    /// Calibration hook; empty (the default) observes nothing. When set, forward() reports the
    /// input rows (batch x in) of each projection just before its product, with ids
    /// observer_first_id + 0..6 in the order att.key, att.value, att.receptance, att.output,
    /// ffn.key, ffn.receptance, ffn.value (the model's matrix order, see SpikeGptModel).
    ActivationSink observer{};
    std::size_t observer_first_id = 0;
};

class SpikeGptBlock {
public:
    static constexpr std::size_t state_vectors = 7;  // att_x, aa, bb, pp, ffn_x, v1, v2

    static Result<SpikeGptBlock> make(const SpikeGptBlockWeights& w, const SpikeGptOptions& options = {}) noexcept {
        if (w.check() != Status::ok)
            return Failure{Status::bad_shape, "SpikeGPT block: a tensor's size does not match n_embd / ffn_hidden"};
        auto lif = neuron::SpikingJellyLIF<float>::make(options.lif);
        if (!lif) return lif.failure();
        SpikeGptBlock b;
        b.w_ = w;
        b.options_ = options;
        b.lif_ = *lif;
        auto ln1 = LayerNorm::make(w.ln1_weight, w.ln1_bias, options.ln_eps);
        auto ln2 = LayerNorm::make(w.ln2_weight, w.ln2_bias, options.ln_eps);
        if (!ln1 || !ln2) return Failure{Status::invalid_argument, "SpikeGPT block: bad LayerNorm parameters"};
        b.ln1_ = *ln1;
        b.ln2_ = *ln2;
        if (w.has_ln0()) {
            auto ln0 = LayerNorm::make(w.ln0_weight, w.ln0_bias, options.ln_eps);
            if (!ln0) return ln0.failure();
            b.ln0_ = *ln0;
        }
        if (options.runner_rescale_every > 0) {
            const std::size_t e = options.layer_id / options.runner_rescale_every;
            b.output_scale_ = std::ldexp(1.0f, -static_cast<int>(e < 120 ? e : 120));
            b.halve_after_ = (options.layer_id + 1) % options.runner_rescale_every == 0;
        }
        return b;
    }

    [[nodiscard]] static constexpr std::size_t state_floats(std::size_t n_embd) noexcept { return state_vectors * n_embd; }
    [[nodiscard]] static constexpr std::size_t scratch_floats(std::size_t n_embd, std::size_t ffn_hidden, std::size_t batch) noexcept {
        return batch * (8 * n_embd + ffn_hidden) + n_embd;
    }
    /// What forward() needs for `batch` streams with these weights: scratch_floats(C, H, batch)
    /// plus, for packed projections, room for the GEMV kernel's int8 activations (64-byte
    /// aligned inside the span).
    [[nodiscard]] std::size_t scratch_floats(std::size_t batch) const noexcept {
        return scratch_floats(w_.n_embd, w_.ffn_hidden, batch) + packed_scratch_floats(w_.packed_scratch_bytes(batch));
    }
    /// Floats that hold `bytes` of kernel scratch at a 64-byte boundary (0 for none).
    [[nodiscard]] static constexpr std::size_t packed_scratch_floats(std::size_t bytes) noexcept {
        return bytes == 0 ? 0 : (bytes + sizeof(float) - 1) / sizeof(float) + 64 / sizeof(float);
    }
    [[nodiscard]] constexpr std::size_t n_embd() const noexcept { return w_.n_embd; }
    [[nodiscard]] constexpr std::size_t ffn_hidden() const noexcept { return w_.ffn_hidden; }
    [[nodiscard]] constexpr std::size_t parameter_bytes() const noexcept { return w_.parameter_count() * sizeof(float); }
    [[nodiscard]] constexpr std::size_t state_bytes() const noexcept { return state_floats(w_.n_embd) * sizeof(float); }
    [[nodiscard]] constexpr const SpikeGptBlockWeights& weights() const noexcept { return w_; }

    /// Fresh state for `batch` streams: zeros, pp = -1e38 (the log of an empty sum).
    Status init_state(std::span<float> state, std::size_t batch = 1) const noexcept {
        const std::size_t C = w_.n_embd;
        if (state.size() < batch * state_floats(C)) return Status::buffer_too_small;
        for (std::size_t b = 0; b < batch; ++b) {
            float* s = state.data() + b * state_floats(C);
            for (std::size_t i = 0; i < state_floats(C); ++i) s[i] = 0.0f;
            for (std::size_t i = 0; i < C; ++i) s[3 * C + i] = -1e38f;
            const float v0 = lif_.initial_state();
            for (std::size_t i = 0; i < 2 * C; ++i) s[5 * C + i] = v0;
        }
        return Status::ok;
    }

    /// One token for `batch` independent streams: x (batch * C, the residual stream) is updated
    /// in place; state holds batch * state_floats(C); scratch at least scratch_floats(batch).
    Status forward(std::span<float> x, std::span<float> state, std::span<float> scratch, std::size_t batch = 1,
                   OpCounts* counts = nullptr) const noexcept {
        const std::size_t C = w_.n_embd, H = w_.ffn_hidden, S = state_floats(C);
        if (batch == 0 || x.size() != batch * C) return Status::bad_shape;
        if (state.size() < batch * S || scratch.size() < scratch_floats(batch)) return Status::buffer_too_small;
        const std::span<std::byte> gemv_scratch = kernel_scratch(scratch.subspan(scratch_floats(C, H, batch)));
        float* xa = scratch.data();
        float* xk = xa + batch * C;
        float* xv = xk + batch * C;
        float* xr = xv + batch * C;
        float* k = xr + batch * C;
        float* v = k + batch * C;
        float* r = v + batch * C;
        float* y = r + batch * C;
        float* hidden = y + batch * C;
        float* w_decay = hidden + batch * H;
        const std::span<float> xa_span(xa, batch * C);

        // ---- time mix -------------------------------------------------------------------
        if (w_.has_ln0()) (void)ln0_.forward(x, x, batch, counts);
        (void)ln1_.forward(x, xa_span, batch, counts);
        for (std::size_t b = 0; b < batch; ++b) {
            float* prev = state.data() + b * S;  // att_x
            for (std::size_t i = 0; i < C; ++i) {
                const std::size_t j = b * C + i;
                xk[j] = mix(xa[j], prev[i], w_.att_time_mix_k[i]);
                xv[j] = mix(xa[j], prev[i], w_.att_time_mix_v[i]);
                xr[j] = mix(xa[j], prev[i], w_.att_time_mix_r[i]);
                prev[i] = xa[j];
            }
        }
        if (options_.observer) {
            options_.observer.observe(options_.observer_first_id + 0, {xk, batch * C});
            options_.observer.observe(options_.observer_first_id + 1, {xv, batch * C});
            options_.observer.observe(options_.observer_first_id + 2, {xr, batch * C});
        }
        if (const Status st = project(w_.att_key_projection(), C, C, xk, batch, k, gemv_scratch); st != Status::ok) return st;
        if (const Status st = project(w_.att_value_projection(), C, C, xv, batch, v, gemv_scratch); st != Status::ok) return st;
        if (const Status st = project(w_.att_receptance_projection(), C, C, xr, batch, r, gemv_scratch); st != Status::ok) return st;
        for (std::size_t i = 0; i < C; ++i) w_decay[i] = -std::exp(w_.att_time_decay[i]);
        for (std::size_t b = 0; b < batch; ++b) {
            float* aa = state.data() + b * S + C;
            float* bb = aa + C;
            float* pp = bb + C;
            for (std::size_t i = 0; i < C; ++i) {
                const std::size_t j = b * C + i;
                y[j] = sigmoid(r[j]) * wkv_step(w_decay[i], w_.att_time_first[i], k[j], v[j], aa[i], bb[i], pp[i]);
            }
        }
        if (options_.observer) options_.observer.observe(options_.observer_first_id + 3, {y, batch * C});
        if (const Status st = project(w_.att_output_projection(), C, C, y, batch, k, gemv_scratch); st != Status::ok) return st;  // k: LIF1 input
        std::uint64_t fired = lif_into_residual(k, x.data(), state, batch, 5 * C);

        // ---- channel mix ----------------------------------------------------------------
        (void)ln2_.forward(x, xa_span, batch, counts);
        for (std::size_t b = 0; b < batch; ++b) {
            float* prev = state.data() + b * S + 4 * C;  // ffn_x
            for (std::size_t i = 0; i < C; ++i) {
                const std::size_t j = b * C + i;
                xk[j] = mix(xa[j], prev[i], w_.ffn_time_mix_k[i]);
                xr[j] = mix(xa[j], prev[i], w_.ffn_time_mix_r[i]);
                prev[i] = xa[j];
            }
        }
        if (const Status st = project(w_.ffn_key_projection(), H, C, xk, batch, hidden, gemv_scratch); st != Status::ok) return st;
        for (std::size_t j = 0; j < batch * H; ++j) {
            const float h = hidden[j] > 0.0f ? hidden[j] : 0.0f;
            hidden[j] = h * h;
        }
        if (options_.observer) {
            options_.observer.observe(options_.observer_first_id + 4, {xk, batch * C});
            options_.observer.observe(options_.observer_first_id + 5, {xr, batch * C});
            options_.observer.observe(options_.observer_first_id + 6, {hidden, batch * H});
        }
        if (const Status st = project(w_.ffn_receptance_projection(), C, C, xr, batch, r, gemv_scratch); st != Status::ok) return st;
        if (const Status st = project(w_.ffn_value_projection(), C, H, hidden, batch, v, gemv_scratch); st != Status::ok) return st;
        for (std::size_t j = 0; j < batch * C; ++j) k[j] = sigmoid(r[j]) * (v[j] * output_scale_);
        fired += lif_into_residual(k, x.data(), state, batch, 6 * C);
        if (halve_after_)
            for (float& e : x) e *= 0.5f;

        if (counts != nullptr) {
            counts->multiply_accumulates += batch * (5 * C * C + 2 * C * H);
            counts->multiplies += batch * (9 * C + H + 2 * C);
            counts->additions += batch * (7 * C + 6 * C);
            counts->nonlinear += batch * (4 * C) + C;  // two exp in WKV, two sigmoids; -exp(decay)
            counts->state_updates += batch * 2 * C;
            counts->spikes += fired;
            counts->synaptic_accumulates += fired;  // residual adds of spikes
            counts->weight_bits_read += w_.projection_bytes() * 8u;
            // Per stream: the recurrent state read and written, plus every vector above written
            // once and read once: time mix 21 C-vectors (LN, three mixes, k/v/r, WKV, output, LIF
            // and the residual), channel mix 15 C-vectors and 4 H-vectors (key, relu^2, value).
            counts->activation_bytes_moved += batch * (2 * S + 36 * C + 4 * H) * sizeof(float);
        }
        return Status::ok;
    }

    /// A single stream over `tokens` inputs one after another (x: tokens * C, each row replaced
    /// by the block's output for that token): streaming over a sequence.
    Status forward_sequence(std::span<float> x, std::size_t tokens, std::span<float> state, std::span<float> scratch,
                            OpCounts* counts = nullptr) const noexcept {
        const std::size_t C = w_.n_embd;
        if (tokens == 0 || x.size() != tokens * C) return Status::bad_shape;
        for (std::size_t t = 0; t < tokens; ++t) {
            const Status s = forward(x.subspan(t * C, C), state, scratch, 1, counts);
            if (s != Status::ok) return s;
        }
        return Status::ok;
    }

    // Exposed for tests and for other layers that need the same float expressions.
    static float mix(float cur, float prev, float m) noexcept { return cur * m + prev * (1.0f - m); }
    static float sigmoid(float z) noexcept { return 1.0f / (1.0f + std::exp(-z)); }
    /// One token of the stable WKV recurrence; updates (aa, bb, pp) and returns wkv.
    /// q = max(a, b) makes one of exp(a - q), exp(b - q) exactly 1, so only one exp is evaluated.
    static float wkv_step(float w, float u, float k, float v, float& aa, float& bb, float& pp) noexcept {
        const float uk = u + k;
        float e1, e2;
        if (pp >= uk) { e1 = 1.0f; e2 = std::exp(uk - pp); }
        else { e1 = std::exp(pp - uk); e2 = 1.0f; }
        const float out = (e1 * aa + e2 * v) / (e1 * bb + e2);
        const float wp = w + pp;
        if (wp >= k) { e1 = 1.0f; e2 = std::exp(k - wp); pp = wp; }
        else { e1 = std::exp(wp - k); e2 = 1.0f; pp = k; }
        aa = e1 * aa + e2 * v;
        bb = e1 * bb + e2;
        return out;
    }

private:
    // LIF over the block's input `in` (batch * C), membranes at state offset `offset`; spikes
    // added to the residual stream. Returns the number of spikes.
    std::uint64_t lif_into_residual(const float* in, float* x, std::span<float> state, std::size_t batch,
                                    std::size_t offset) const noexcept {
        const std::size_t C = w_.n_embd, S = state_floats(C);
        std::uint64_t fired = 0;
        for (std::size_t b = 0; b < batch; ++b) {
            float* mem = state.data() + b * S + offset;
            for (std::size_t i = 0; i < C; ++i) {
                const float a = options_.runner_rescale_every > 0 && offset == 5 * C ? in[b * C + i] * output_scale_ : in[b * C + i];
                if (lif_.step(a, mem[i])) {
                    x[b * C + i] += 1.0f;
                    ++fired;
                }
            }
        }
        return fired;
    }

    SpikeGptBlockWeights w_{};
    SpikeGptOptions options_{};
    neuron::SpikingJellyLIF<float> lif_{};
    LayerNorm ln0_{}, ln1_{}, ln2_{};
    float output_scale_ = 1.0f;
    bool halve_after_ = false;
};

}  // namespace qslm::layers
