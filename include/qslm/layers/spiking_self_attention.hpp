#pragma once
// SpikingSelfAttention<V>: Spikformer's spiking self-attention (SSA, Zhou et al. 2023) and
// STAtten's spatial-temporal block attention (Lee et al. 2024), one class: SSA is STAtten with
// a time block of one step.
//
// Q, K, V are binary [T][N][D], split into H heads of D/H channels. For a time step t in the
// block b(t) = [t0, t0 + time_block):
//
//   pre[t][n][d] = scale * sum_{t' in b(t)} sum_{m in M(n)} (Q[t][n] . K[t'][m])_head(d) * V[t'][m][d]
//   out          = LIF(pre)      (one membrane per (n, d), over the T time steps)
//
// with M(n) = all tokens, or m <= n when causal. No softmax: the products of spikes are counts.
// It is computed in the linear-attention order Q (K^T V): per head a (D/H) x (D/H) integer
// matrix KV = sum K^T V over the visible (t', m) — built once per time block, or as a running
// prefix over tokens when causal — and each query spike adds a row of KV. So a step costs
// O(N * D * D/H) additions, never multiplications, and the counts are exact integers; the
// scale is applied once per output (float, or a FixedMultiplier in fixed point).

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/fixed_multiplier.hpp"
#include "qslm/core/op_counts.hpp"
#include "qslm/core/result.hpp"
#include "qslm/neuron/neuron.hpp"
#include "qslm/neuron/spiking_jelly_lif.hpp"

namespace qslm::layers {

struct SpikingSelfAttentionConfig {
    std::size_t tokens = 0;      ///< N
    std::size_t dim = 0;         ///< D
    std::size_t heads = 1;       ///< H, must divide D
    std::size_t time_block = 1;  ///< 1: Spikformer SSA; > 1: STAtten block of neighbouring steps
    bool causal = false;
    double scale = 0.125;        ///< Spikformer's default
    neuron::SpikingJellyParams lif{.tau = 2.0, .v_threshold = 0.5, .v_reset = 0.0};
};

template <Numeric V>
class SpikingSelfAttention {
public:
    using value_type = V;

    static Result<SpikingSelfAttention> make(const SpikingSelfAttentionConfig& c) noexcept {
        if (c.tokens == 0 || c.dim == 0 || c.tokens > (std::size_t{1} << 28) / c.dim)
            return Failure{Status::bad_shape, "spiking self-attention needs tokens >= 1, dim >= 1, tokens * dim <= 2^28"};
        if (c.heads == 0 || c.dim % c.heads != 0) return Failure{Status::bad_shape, "the number of heads must divide dim"};
        if (c.time_block == 0) return Failure{Status::bad_shape, "the time block must hold at least one step"};
        if (!(c.scale > 0.0) || c.scale > 1e6) return Failure{Status::invalid_argument, "attention scale must be in (0, 1e6]"};
        auto lif = neuron::SpikingJellyLIF<V>::make(c.lif);
        if (!lif) return lif.failure();
        SpikingSelfAttention a;
        a.c_ = c;
        a.lif_ = *lif;
        if constexpr (FixedPoint<V>) {
            auto m = FixedMultiplier::from_real(c.scale * static_cast<double>(std::int64_t{1} << V::frac_bits));
            if (!m) return m.failure();
            a.scale_fixed_ = *m;
        }
        return a;
    }
    [[nodiscard]] constexpr const SpikingSelfAttentionConfig& config() const noexcept { return c_; }
    [[nodiscard]] constexpr std::size_t head_dim() const noexcept { return c_.dim / c_.heads; }
    [[nodiscard]] constexpr std::size_t state_size() const noexcept { return c_.tokens * c_.dim; }
    [[nodiscard]] constexpr std::size_t state_bytes() const noexcept { return state_size() * sizeof(V); }
    [[nodiscard]] static constexpr std::size_t parameter_bytes() noexcept { return 0; }
    /// Integer scratch: the per-head KV matrices plus one row of pre-activation counts.
    [[nodiscard]] constexpr std::size_t scratch_size() const noexcept { return c_.heads * head_dim() * head_dim() + c_.dim; }
    constexpr void reset(std::span<V> membranes) const noexcept { neuron::reset_state(lif_, membranes); }

    /// T time steps (T a multiple of time_block is not required: the last block may be short).
    /// q, k, v, out: [T][N][D] bytes (0/1); membranes: N * D (carried across calls).
    Status run(std::size_t steps, std::span<const std::uint8_t> q, std::span<const std::uint8_t> k,
               std::span<const std::uint8_t> v, std::span<V> membranes, std::span<std::uint8_t> out,
               std::span<std::int32_t> scratch, OpCounts* counts = nullptr) const noexcept {
        const std::size_t N = c_.tokens, D = c_.dim, M = N * D, dh = head_dim();
        if (steps == 0 || q.size() != steps * M || k.size() != steps * M || v.size() != steps * M) return Status::bad_shape;
        if (membranes.size() != M) return Status::bad_shape;
        if (out.size() < steps * M || scratch.size() < scratch_size()) return Status::buffer_too_small;
        std::int32_t* kv = scratch.data();
        std::int32_t* row = kv + c_.heads * dh * dh;
        std::uint64_t adds = 0, fired = 0;
        for (std::size_t t0 = 0; t0 < steps; t0 += c_.time_block) {
            const std::size_t t1 = t0 + c_.time_block < steps ? t0 + c_.time_block : steps;
            for (std::size_t i = 0; i < c_.heads * dh * dh; ++i) kv[i] = 0;
            if (!c_.causal)
                for (std::size_t n = 0; n < N; ++n) adds += add_kv(k, v, t0, t1, n, kv);
            // Token-major so that a causal prefix grows with n; every step of the block reads it.
            for (std::size_t n = 0; n < N; ++n) {
                if (c_.causal) adds += add_kv(k, v, t0, t1, n, kv);
                for (std::size_t t = t0; t < t1; ++t) {
                    const std::uint8_t* qn = q.data() + t * M + n * D;
                    for (std::size_t d = 0; d < D; ++d) row[d] = 0;
                    for (std::size_t h = 0; h < c_.heads; ++h)
                        for (std::size_t i = 0; i < dh; ++i) {
                            if (qn[h * dh + i] == 0) continue;
                            const std::int32_t* kvr = kv + (h * dh + i) * dh;
                            for (std::size_t j = 0; j < dh; ++j) row[h * dh + j] += kvr[j];
                            adds += dh;
                        }
                    for (std::size_t d = 0; d < D; ++d) {
                        const bool s = lif_.step(scaled(row[d]), membranes[n * D + d]);
                        out[t * M + n * D + d] = static_cast<std::uint8_t>(s);
                        fired += s ? 1u : 0u;
                    }
                }
            }
        }
        if (counts != nullptr) {
            counts->synaptic_accumulates += adds;
            counts->multiplies += steps * M;  // the scale
            counts->state_updates += steps * M;
            counts->spikes += fired;
        }
        return Status::ok;
    }

private:
    // KV[h][i][j] += K[t'][n][h,i] * V[t'][n][h,j] for t' in [t0, t1): only coincident spikes add.
    std::uint64_t add_kv(std::span<const std::uint8_t> k, std::span<const std::uint8_t> v, std::size_t t0, std::size_t t1,
                         std::size_t n, std::int32_t* kv) const noexcept {
        const std::size_t D = c_.dim, M = c_.tokens * D, dh = head_dim();
        std::uint64_t adds = 0;
        for (std::size_t t = t0; t < t1; ++t) {
            const std::uint8_t* kn = k.data() + t * M + n * D;
            const std::uint8_t* vn = v.data() + t * M + n * D;
            for (std::size_t h = 0; h < c_.heads; ++h)
                for (std::size_t i = 0; i < dh; ++i) {
                    if (kn[h * dh + i] == 0) continue;
                    std::int32_t* kvr = kv + (h * dh + i) * dh;
                    for (std::size_t j = 0; j < dh; ++j) kvr[j] += vn[h * dh + j] != 0 ? 1 : 0;
                    adds += dh;
                }
        }
        return adds;
    }
    V scaled(std::int32_t count) const noexcept {
        if constexpr (FloatingNumber<V>) return static_cast<V>(count) * static_cast<V>(c_.scale);
        else return V::from_raw(scale_fixed_.apply(count));
    }

    SpikingSelfAttentionConfig c_{};
    neuron::SpikingJellyLIF<V> lif_{};
    FixedMultiplier scale_fixed_{};
};

}  // namespace qslm::layers
