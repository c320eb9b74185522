#pragma once
// SpikeDrivenSelfAttention<V>: the attention of the Spike-driven Transformer (SDT v1, Yao et
// al. 2023, "SDSA"), with no multiplication and no softmax. For one time step, with Q, K, V
// binary [N tokens][D channels]:
//
//   a[d]      = sum over valid tokens n of Q[n][d] AND K[n][d]     (column sum: a count)
//   A[d]      = LIF_attn(a[d])                                     (membrane per channel, over time)
//   out[n][d] = A[d] AND V[n][d]                                   (A masks V column-wise)
//
// as tools/train/sdt.py computes it (LIF_attn threshold 0.5 there). Heads do not change SDSA:
// every channel is its own column sum, so a multi-head split is the identity and is not a
// parameter. Causal option (language modelling): token n only sees tokens m <= n, so
//   a[n][d] = sum_{m <= n} Q[m][d] AND K[m][d], with one LIF per (n, d).
// The counts are integers, so the fixed-point path is exact up to the LIF's own rounding.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/result.hpp"
#include "qslm/neuron/neuron.hpp"
#include "qslm/neuron/spiking_jelly_lif.hpp"

namespace qslm::layers {

struct SpikeDrivenAttentionConfig {
    std::size_t tokens = 0;  ///< N
    std::size_t dim = 0;     ///< D
    bool causal = false;
    neuron::SpikingJellyParams lif{.tau = 2.0, .v_threshold = 0.5, .v_reset = 0.0};
};

template <Numeric V>
class SpikeDrivenSelfAttention {
public:
    using value_type = V;

    static Result<SpikeDrivenSelfAttention> make(const SpikeDrivenAttentionConfig& c) noexcept {
        if (c.tokens == 0 || c.dim == 0 || c.tokens > (std::size_t{1} << 28) / c.dim)
            return Failure{Status::bad_shape, "SDSA needs tokens >= 1, dim >= 1 and tokens * dim <= 2^28"};
        auto lif = neuron::SpikingJellyLIF<V>::make(c.lif);
        if (!lif) return lif.failure();
        SpikeDrivenSelfAttention a;
        a.c_ = c;
        a.lif_ = *lif;
        return a;
    }
    [[nodiscard]] constexpr const SpikeDrivenAttentionConfig& config() const noexcept { return c_; }
    /// Membranes kept across time steps: D (or N * D when causal).
    [[nodiscard]] constexpr std::size_t state_size() const noexcept { return c_.causal ? c_.tokens * c_.dim : c_.dim; }
    [[nodiscard]] constexpr std::size_t state_bytes() const noexcept { return state_size() * sizeof(V); }
    [[nodiscard]] static constexpr std::size_t parameter_bytes() noexcept { return 0; }
    constexpr void reset(std::span<V> membranes) const noexcept { neuron::reset_state(lif_, membranes); }

    /// One time step. q, k, v, out: N * D bytes (0/1); valid: empty (all tokens) or N bytes.
    constexpr Status step(std::span<const std::uint8_t> q, std::span<const std::uint8_t> k, std::span<const std::uint8_t> v,
                          std::span<const std::uint8_t> valid, std::span<V> membranes, std::span<std::uint8_t> out,
                          OpCounts* counts = nullptr) const noexcept {
        const std::size_t N = c_.tokens, D = c_.dim;
        if (q.size() != N * D || k.size() != N * D || v.size() != N * D) return Status::bad_shape;
        if (!valid.empty() && valid.size() != N) return Status::bad_shape;
        if (membranes.size() != state_size()) return Status::bad_shape;
        if (out.size() < N * D) return Status::buffer_too_small;
        std::uint64_t adds = 0, fired = 0;
        if (!c_.causal) {
            for (std::size_t d = 0; d < D; ++d) {
                std::int64_t a = 0;
                for (std::size_t n = 0; n < N; ++n)
                    if (valid.empty() || valid[n] != 0) a += (q[n * D + d] & k[n * D + d]) != 0 ? 1 : 0;
                adds += static_cast<std::uint64_t>(a);
                const bool s = lif_.step(count_to_value(a), membranes[d]);
                fired += s ? 1u : 0u;
                for (std::size_t n = 0; n < N; ++n) out[n * D + d] = static_cast<std::uint8_t>(s && v[n * D + d] != 0);
            }
        } else {
            for (std::size_t d = 0; d < D; ++d) {
                std::int64_t a = 0;
                for (std::size_t n = 0; n < N; ++n) {
                    if (valid.empty() || valid[n] != 0) a += (q[n * D + d] & k[n * D + d]) != 0 ? 1 : 0;
                    const bool s = lif_.step(count_to_value(a), membranes[n * D + d]);
                    fired += s ? 1u : 0u;
                    out[n * D + d] = static_cast<std::uint8_t>(s && v[n * D + d] != 0);
                }
                adds += static_cast<std::uint64_t>(a);
            }
        }
        if (counts != nullptr) {
            counts->synaptic_accumulates += adds;  // AND + count: an addition per coincident spike
            counts->state_updates += state_size();
            counts->spikes += fired;
        }
        return Status::ok;
    }

    /// T time steps at once: q, k, v, out are [T][N][D].
    constexpr Status run(std::size_t steps, std::span<const std::uint8_t> q, std::span<const std::uint8_t> k,
                         std::span<const std::uint8_t> v, std::span<const std::uint8_t> valid, std::span<V> membranes,
                         std::span<std::uint8_t> out, OpCounts* counts = nullptr) const noexcept {
        const std::size_t M = c_.tokens * c_.dim;
        if (steps == 0 || q.size() != steps * M || k.size() != steps * M || v.size() != steps * M) return Status::bad_shape;
        if (out.size() < steps * M) return Status::buffer_too_small;
        for (std::size_t t = 0; t < steps; ++t) {
            const Status s = step(q.subspan(t * M, M), k.subspan(t * M, M), v.subspan(t * M, M), valid, membranes,
                                  out.subspan(t * M, M), counts);
            if (s != Status::ok) return s;
        }
        return Status::ok;
    }

private:
    static constexpr V count_to_value(std::int64_t a) noexcept {
        if constexpr (FloatingNumber<V>) return static_cast<V>(a);
        else return V::from_int(a);
    }
    SpikeDrivenAttentionConfig c_{};
    neuron::SpikingJellyLIF<V> lif_{};
};

}  // namespace qslm::layers
