#pragma once
// IntegerSpikeGpt<Params>: the SpikeGPT language model (models/spikegpt.hpp) with integer
// arithmetic only — what a microcontroller without an FPU runs. One token per step:
//
//   spikes = (level(emb[token]) - zp >= 0)     binary embedding straight from the packed table
//   x = spikes (Q8.16: 0 or 1.0)
//   x = block_{L-1}( ... block_0(x))           layers::integer::spikegpt_block_forward
//   logits = head · LN_out(x)                  int32, Q16.16 (logit * 65536)
//
// Params is an IntegerSpikeGptParams<Emb, Head, Blocks>:
//   * generated firmware headers: Blocks = std::tuple<SpikeGptBlockParams<StaticMatrix<...>...>...>,
//     so every matrix's width is a compile-time constant (io/integer/header_model.hpp emits it);
//   * a loaded .qslm model: Blocks = std::span<const SpikeGptBlockParams<RuntimeMatrix...>>
//     (io/integer/prepare_spikegpt.hpp builds it; one switch per matrix per step).
//
// Memory: all mutable data lives in one caller arena of integer_spikegpt_arena_bytes(L, C, H, V)
// bytes (a constexpr function, so firmware declares `alignas(8) static std::byte arena[N]`);
// IntegerSpikeGptLayout says where each buffer is. No heap, no exceptions, no floating point.

#include <cstddef>
#include <cstdint>
#include <span>
#include <tuple>
#include <type_traits>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/status.hpp"
#include "qslm/layers/integer/spikegpt_block.hpp"

namespace qslm::models {

struct IntegerSpikeGptDims {
    std::size_t vocab_size = 0;  ///< V
    std::size_t n_embd = 0;      ///< C
    std::size_t ffn_hidden = 0;  ///< H
    std::size_t n_layer = 0;     ///< L
};

/// Byte offsets of every buffer in the arena. Per block: att_x, ffn_x (act_t [C]); aa, bb, pp,
/// v1, v2 (int32 [C]). Shared: x (int32 [C]); k (int32 [max(C, H)]); v, r (int32 [C]);
/// logits (int32 [V]); xa, xk, xv, xr, y (act_t [C]); hidden (hidden_t [H]).
struct IntegerSpikeGptLayout {
    std::size_t C = 0, H = 0, V = 0, L = 0;

    static constexpr std::size_t align4(std::size_t n) noexcept { return (n + 3) / 4 * 4; }
    static constexpr std::size_t act_bytes = sizeof(layers::integer::act_t);
    static constexpr std::size_t hidden_bytes = sizeof(layers::integer::hidden_t);
    [[nodiscard]] constexpr std::size_t act_vector() const noexcept { return align4(act_bytes * C); }
    [[nodiscard]] constexpr std::size_t block_state_bytes() const noexcept { return 2 * act_vector() + 5 * 4 * C; }
    /// Of the state: the LIF membranes (v1, v2 of every block).
    [[nodiscard]] constexpr std::size_t membrane_bytes() const noexcept { return L * 2 * 4 * C; }
    /// Of the state: the RWKV recurrent state (token-shift inputs and aa, bb, pp of every block).
    [[nodiscard]] constexpr std::size_t rwkv_state_bytes() const noexcept { return L * (2 * act_vector() + 3 * 4 * C); }
    [[nodiscard]] constexpr std::size_t state_bytes() const noexcept { return L * block_state_bytes(); }
    [[nodiscard]] constexpr std::size_t kmax() const noexcept { return C > H ? C : H; }
    /// Per-step activations (residual stream, projections, logits).
    [[nodiscard]] constexpr std::size_t activation_bytes() const noexcept {
        return 4 * (C + kmax() + 2 * C + V) + 5 * act_vector() + align4(hidden_bytes * H);
    }
    /// Spike buffers: none — spikes are added to the residual stream as they are produced.
    [[nodiscard]] static constexpr std::size_t spike_buffer_bytes() noexcept { return 0; }
    [[nodiscard]] constexpr std::size_t total_bytes() const noexcept { return state_bytes() + activation_bytes(); }

    // Offsets (state first, then activations).
    [[nodiscard]] constexpr std::size_t block_offset(std::size_t i) const noexcept { return i * block_state_bytes(); }
    [[nodiscard]] constexpr std::size_t x_offset() const noexcept { return state_bytes(); }
    [[nodiscard]] constexpr std::size_t k_offset() const noexcept { return x_offset() + 4 * C; }
    [[nodiscard]] constexpr std::size_t v_offset() const noexcept { return k_offset() + 4 * kmax(); }
    [[nodiscard]] constexpr std::size_t r_offset() const noexcept { return v_offset() + 4 * C; }
    [[nodiscard]] constexpr std::size_t logits_offset() const noexcept { return r_offset() + 4 * C; }
    /// xa, xk, xv, xr, y (n = 0..4).
    [[nodiscard]] constexpr std::size_t act_offset(std::size_t n) const noexcept {
        return logits_offset() + 4 * V + n * act_vector();
    }
    [[nodiscard]] constexpr std::size_t hidden_offset() const noexcept { return act_offset(5); }
};

/// Arena bytes for a model of L blocks, n_embd C, hidden H, vocabulary V.
constexpr std::size_t integer_spikegpt_arena_bytes(std::size_t L, std::size_t C, std::size_t H, std::size_t V) noexcept {
    return IntegerSpikeGptLayout{C, H, V, L}.total_bytes();
}
/// The arena's required alignment.
inline constexpr std::size_t integer_spikegpt_arena_alignment = 4;

/// Everything the integer model reads; all of it may live in flash (constexpr).
template <class Emb, class Head, class Blocks>
struct IntegerSpikeGptParams {
    IntegerSpikeGptDims dims{};
    layers::integer::LifParams lif{};
    std::int64_t ln_eps_q32 = 42950;  ///< LayerNorm eps in Q32 (1e-5 * 2^32)
    Emb emb;                          ///< [V][C]; only the sign of each weight is used (binary embedding)
    layers::integer::LayerNormParams ln0{};
    Blocks blocks{};
    layers::integer::LayerNormParams ln_out{};
    Head head;                        ///< [V][C], multipliers scale * 2^(16 - F_act): logits in Q16
};

/// Spike counts of one step: embedding and per block (arrays of n_layer, optional).
struct IntegerStepSpikes {
    std::uint32_t embedding = 0;
    std::span<std::uint32_t> att{};  ///< LIF1 spikes per block
    std::span<std::uint32_t> ffn{};  ///< LIF2 spikes per block
};

namespace detail {
template <class T>
struct is_tuple : std::false_type {};
template <class... T>
struct is_tuple<std::tuple<T...>> : std::true_type {};

/// Calls f(index, block) for every block in order; stops at the first non-ok Status.
template <class Blocks, class F>
constexpr Status for_each_block(const Blocks& blocks, F&& f) noexcept {
    if constexpr (is_tuple<Blocks>::value) {
        Status s = Status::ok;
        std::size_t i = 0;
        std::apply([&](const auto&... b) { ((s = (s == Status::ok ? f(i++, b) : s)), ...); }, blocks);
        return s;
    } else {
        for (std::size_t i = 0; i < blocks.size(); ++i)
            if (const Status s = f(i, blocks[i]); s != Status::ok) return s;
        return Status::ok;
    }
}
template <class Blocks>
constexpr std::size_t block_count(const Blocks& blocks) noexcept {
    if constexpr (is_tuple<Blocks>::value) return std::tuple_size_v<Blocks>;
    else return blocks.size();
}
}  // namespace detail

template <class Params>
class IntegerSpikeGpt {
public:
    constexpr explicit IntegerSpikeGpt(const Params& params) noexcept : p_(&params) {}

    [[nodiscard]] constexpr const Params& params() const noexcept { return *p_; }
    [[nodiscard]] constexpr const IntegerSpikeGptDims& dims() const noexcept { return p_->dims; }
    [[nodiscard]] constexpr IntegerSpikeGptLayout layout() const noexcept {
        return {p_->dims.n_embd, p_->dims.ffn_hidden, p_->dims.vocab_size, p_->dims.n_layer};
    }
    [[nodiscard]] constexpr std::size_t arena_bytes() const noexcept { return layout().total_bytes(); }

    /// Shapes and consistency of everything (constexpr: a generated header static_asserts it).
    [[nodiscard]] constexpr Status check() const noexcept {
        const auto& d = p_->dims;
        const std::size_t C = d.n_embd, H = d.ffn_hidden, V = d.vocab_size;
        if (V == 0 || C == 0 || H == 0 || C > layers::integer::layer_norm_max_dim || H > (std::size_t{1} << 16) ||
            V > (std::size_t{1} << 24) || d.n_layer == 0 || detail::block_count(p_->blocks) != d.n_layer)
            return Status::bad_shape;
        if (p_->lif.tau_shift < 0 || p_->lif.tau_shift > 30 || p_->ln_eps_q32 < 0) return Status::invalid_argument;
        if (p_->emb.rows() != V || p_->emb.cols() != C || p_->head.rows() != V || p_->head.cols() != C)
            return Status::bad_shape;
        // The embedding only needs its levels and zero points (no multipliers).
        Status emb_status = Status::ok;
        if (const Status s = p_->emb.visit([&](const auto& e) { emb_status = layers::integer::check_levels(e); });
            s != Status::ok)
            return s;
        if (emb_status != Status::ok) return emb_status;
        if (const Status s = p_->head.check(); s != Status::ok) return s;
        for (const auto* v : {&p_->ln0.gamma, &p_->ln0.beta, &p_->ln_out.gamma, &p_->ln_out.beta})
            if (v->size() != C) return Status::bad_shape;
        return detail::for_each_block(p_->blocks, [&](std::size_t, const auto& b) { return b.check(C, H); });
    }

    /// Stored bytes of all packed matrices (embedding, blocks, head): payloads and zero points,
    /// not the real-valued scales, which the integer path never reads (see vector_bytes() for
    /// the rest of the constant data; models/integer/footprint.hpp computes both from a shape).
    [[nodiscard]] constexpr std::size_t matrix_bytes() const noexcept {
        std::size_t n = p_->emb.bytes() + p_->head.bytes();
        (void)detail::for_each_block(p_->blocks, [&](std::size_t, const auto& b) {
            n += b.matrix_bytes();
            return Status::ok;
        });
        return n;
    }
    /// Bytes of the integer vectors (LN gamma/beta, mixes, u2, w2: 4 bytes each) and of the
    /// requantization multipliers (4-byte PackedMultiplier per scale group of every matrix but
    /// the embedding).
    [[nodiscard]] constexpr std::size_t vector_bytes() const noexcept {
        const std::size_t C = p_->dims.n_embd;
        std::size_t n = 4 * (4 * C) + 4 * C * 11 * p_->dims.n_layer;
        n += sizeof(layers::integer::PackedMultiplier) * (p_->emb.multipliers.size() + p_->head.multipliers.size());
        (void)detail::for_each_block(p_->blocks, [&](std::size_t, const auto& b) {
            n += sizeof(layers::integer::PackedMultiplier) *
                 (b.att_key.multipliers.size() + b.att_value.multipliers.size() + b.att_receptance.multipliers.size() +
                  b.att_output.multipliers.size() + b.ffn_key.multipliers.size() + b.ffn_receptance.multipliers.size() +
                  b.ffn_value.multipliers.size());
            return Status::ok;
        });
        return n;
    }

    /// Fresh recurrent state. buffer_too_small / invalid_argument (misaligned) on a bad arena.
    Status reset(std::span<std::byte> arena) const noexcept {
        if (const Status s = check_arena(arena); s != Status::ok) return s;
        const IntegerSpikeGptLayout l = layout();
        for (std::size_t i = 0; i < l.L; ++i) layers::integer::reset_block_state(block_state(arena, i), l.C, p_->lif);
        return Status::ok;
    }

    /// One token: the logits of the next token end up in logits(arena) (V int32, Q16).
    /// out_of_range for token >= vocab_size; spikes (optional) receives the spike counts.
    Status step(std::uint32_t token, std::span<std::byte> arena, IntegerStepSpikes* spikes = nullptr,
                OpCounts* counts = nullptr) const noexcept {
        if (const Status s = check_arena(arena); s != Status::ok) return s;
        const IntegerSpikeGptLayout l = layout();
        if (token >= l.V) return Status::out_of_range;
        if (spikes != nullptr && ((!spikes->att.empty() && spikes->att.size() != l.L) ||
                                  (!spikes->ffn.empty() && spikes->ffn.size() != l.L)))
            return Status::bad_shape;
        std::byte* base = arena.data();
        auto* x = at<std::int32_t>(base, l.x_offset());

        // Binary embedding: the spike is the sign of the stored weight (scales are positive).
        std::uint32_t emb_spikes = 0;
        const Status es = p_->emb.visit([&](const auto& e) {
            for (std::size_t i = 0; i < l.C; ++i) {
                const bool s = e.level(token, i) - e.zero_point(e.scale_index(token, i)) >= 0;
                x[i] = s ? (std::int32_t{1} << layers::integer::Residual::frac_bits) : 0;
                emb_spikes += s ? 1u : 0u;
            }
        });
        if (es != Status::ok) return es;

        const layers::integer::SpikeGptBlockScratch t = scratch(base);
        const Status bs = detail::for_each_block(p_->blocks, [&](std::size_t i, const auto& b) {
            const layers::integer::LayerNormParams ln0 = i == 0 ? p_->ln0 : layers::integer::LayerNormParams{};
            const auto fired = layers::integer::spikegpt_block_forward(b, ln0, l.C, l.H, p_->lif, p_->ln_eps_q32, x,
                                                                       block_state(arena, i), t, counts);
            if (spikes != nullptr) {
                if (!spikes->att.empty()) spikes->att[i] = fired.att;
                if (!spikes->ffn.empty()) spikes->ffn[i] = fired.ffn;
            }
            return Status::ok;
        });
        if (bs != Status::ok) return bs;
        layers::integer::layer_norm<layers::integer::Activation>(x, l.C, p_->ln_out, p_->ln_eps_q32, t.xa, counts);
        const Status hs = layers::integer::matvec(p_->head, t.xa, at<std::int32_t>(base, l.logits_offset()), counts);
        if (hs != Status::ok) return hs;
        if (spikes != nullptr) spikes->embedding = emb_spikes;
        if (counts != nullptr) counts->spikes += emb_spikes;
        return Status::ok;
    }

    /// The logits of the last step (V int32 raws, Q16: logit = raw / 65536).
    [[nodiscard]] std::span<const std::int32_t> logits(std::span<const std::byte> arena) const noexcept {
        const IntegerSpikeGptLayout l = layout();
        if (arena.size() < l.total_bytes()) return {};
        return {reinterpret_cast<const std::int32_t*>(arena.data() + l.logits_offset()), l.V};
    }

private:
    template <class T>
    static T* at(std::byte* base, std::size_t offset) noexcept {
        return reinterpret_cast<T*>(base + offset);
    }
    Status check_arena(std::span<std::byte> arena) const noexcept {
        if (arena.size() < arena_bytes()) return Status::buffer_too_small;
        if (reinterpret_cast<std::uintptr_t>(arena.data()) % integer_spikegpt_arena_alignment != 0)
            return Status::invalid_argument;
        return Status::ok;
    }
    layers::integer::SpikeGptBlockState block_state(std::span<std::byte> arena, std::size_t i) const noexcept {
        const IntegerSpikeGptLayout l = layout();
        std::byte* b = arena.data() + l.block_offset(i);
        using layers::integer::act_t;
        const std::size_t a = l.act_vector();
        return {at<act_t>(b, 0),                 at<act_t>(b, a),
                at<std::int32_t>(b, 2 * a),      at<std::int32_t>(b, 2 * a + 4 * l.C),
                at<std::int32_t>(b, 2 * a + 8 * l.C), at<std::int32_t>(b, 2 * a + 12 * l.C),
                at<std::int32_t>(b, 2 * a + 16 * l.C)};
    }
    layers::integer::SpikeGptBlockScratch scratch(std::byte* base) const noexcept {
        const IntegerSpikeGptLayout l = layout();
        using layers::integer::act_t;
        using layers::integer::hidden_t;
        return {at<act_t>(base, l.act_offset(0)),         at<act_t>(base, l.act_offset(1)),
                at<act_t>(base, l.act_offset(2)),         at<act_t>(base, l.act_offset(3)),
                at<act_t>(base, l.act_offset(4)),         at<hidden_t>(base, l.hidden_offset()),
                at<std::int32_t>(base, l.k_offset()),      at<std::int32_t>(base, l.v_offset()),
                at<std::int32_t>(base, l.r_offset())};
    }

    const Params* p_;
};

namespace integer {
/// The run-time-width form: every matrix's width and encoding known only at run time (a loaded
/// .qslm model; io/integer/prepare_spikegpt.hpp builds its parameters on the host).
using RuntimeMatrix = layers::integer::RuntimeMatrix;
using RuntimeBlock = layers::integer::SpikeGptBlockParams<RuntimeMatrix, RuntimeMatrix, RuntimeMatrix, RuntimeMatrix,
                                                          RuntimeMatrix, RuntimeMatrix, RuntimeMatrix>;
using RuntimeParams = IntegerSpikeGptParams<RuntimeMatrix, RuntimeMatrix, std::span<const RuntimeBlock>>;
using RuntimeIntegerSpikeGpt = IntegerSpikeGpt<RuntimeParams>;
}  // namespace integer

}  // namespace qslm::models
