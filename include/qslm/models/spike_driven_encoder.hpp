#pragma once
// SpikeDrivenEncoder: the spike-driven transformer classifier (SDT v1 structure, Yao et al.
// 2023) as tools/train/sdt.py deploys it (`forward_deployed`, docs/models.md): BatchNorm folded
// into every linear (so each linear is y = W s + b), membrane-shortcut residuals, SDSA attention.
//
//   e[n] = embed[tok[n]] + pos_embed[n];  x[t] = e for t = 0..T-1
//   per block:  s = LIF(x);  Q, K, V = LIF(q(s)), LIF(k(s)), LIF(v(s))
//               A = LIF_attn(sum_n Q AND K)  (per channel, threshold attn_threshold)
//               x = x + proj(A AND V)
//               s = LIF(x);  h = LIF(fc1(s));  x = x + fc2(h)
//   s = LIF(x);  rate = mean over t, n of s;  logits = head · rate + head_bias
//
// Every LIF runs over the time-step axis with its own membranes, so the network can be run one
// time step at a time with all its membranes kept: memory does not grow with T. Every linear
// consumes spikes, so a linear is event-driven: for each output, the weights of the inputs that
// fired are summed (no multiplications).
//
// Float weights it does not own (reference weights, or packed weights dequantized once by the
// host). No heap: membranes and activations live in caller spans (work_floats(),
// spike_bytes()).

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/result.hpp"
#include "qslm/layers/spike_driven_attention.hpp"
#include "qslm/neuron/spiking_jelly_lif.hpp"
#include "qslm/spike/spike_convert.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::models {

/// One encoder block's tensors (BatchNorm already folded), nn.Linear layout [out][in].
struct SdtBlockWeights {
    std::span<const float> q_weight, q_bias, k_weight, k_bias, v_weight, v_bias;  ///< [D][D], [D]
    std::span<const float> proj_weight, proj_bias;                                ///< [D][D], [D]
    std::span<const float> fc1_weight, fc1_bias;                                  ///< [H][D], [H]
    std::span<const float> fc2_weight, fc2_bias;                                  ///< [D][H], [D]
    /// Optional: the same six matrices transposed, [in][out] (transpose_sdt_weight). When all
    /// six are given the linears run event-driven over the columns of the inputs that fired
    /// (see SpikeDrivenEncoder::linear); when all are empty, over the rows. Same outputs.
    std::span<const float> q_columns, k_columns, v_columns, proj_columns, fc1_columns, fc2_columns;

    [[nodiscard]] constexpr bool has_columns() const noexcept {
        return !q_columns.empty() || !k_columns.empty() || !v_columns.empty() || !proj_columns.empty() || !fc1_columns.empty() ||
               !fc2_columns.empty();
    }
};

/// Host/setup side: out[c * rows + r] = w[r * cols + c] (out: rows * cols floats).
inline Status transpose_sdt_weight(std::span<const float> w, std::size_t rows, std::size_t cols, std::span<float> out) noexcept {
    if (w.size() != rows * cols) return Status::bad_shape;
    if (out.size() < rows * cols) return Status::buffer_too_small;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) out[c * rows + r] = w[r * cols + c];
    return Status::ok;
}

struct SdtWeights {
    std::size_t vocab_size = 0, max_len = 0, dim = 0, mlp_hidden = 0, n_classes = 0;
    std::span<const float> embed;      ///< [V][D]
    std::span<const float> pos_embed;  ///< [max_len][D]
    std::span<const SdtBlockWeights> blocks;
    std::span<const float> head_weight, head_bias;  ///< [K][D], [K]

    [[nodiscard]] constexpr std::size_t n_layer() const noexcept { return blocks.size(); }
};

struct SdtOptions {
    std::size_t time_steps = 4;  ///< T: the input is presented T times
    neuron::SpikingJellyParams lif{};  ///< every LIF but the attention one (tau 2, v_th 1, hard reset 0)
    double attn_threshold = 0.5;  ///< threshold of the attention LIF
};

/// Where spikes are counted, in sdt.py's golden-file order.
enum class SdtSite : std::uint8_t { attn_in = 0, q, k, v, attn, mlp_in, mlp_hidden };

class SpikeDrivenEncoder {
public:
    static constexpr std::size_t sites = 7;
    static constexpr std::size_t max_time_steps = 1024;

    static Result<SpikeDrivenEncoder> make(const SdtWeights& w, const SdtOptions& options = {}) noexcept {
        const std::size_t V = w.vocab_size, L = w.max_len, D = w.dim, H = w.mlp_hidden, K = w.n_classes;
        if (V == 0 || L == 0 || D == 0 || H == 0 || K == 0 || V > max_tensor_elements / D || L > max_tensor_elements / D ||
            H > max_tensor_elements / D || K > max_tensor_elements / D)
            return Failure{Status::bad_shape, "spike-driven encoder: sizes must be positive and below 2^28 elements"};
        if (w.blocks.empty()) return Failure{Status::bad_shape, "spike-driven encoder: needs at least one block"};
        if (w.embed.size() != V * D) return Failure{Status::bad_shape, "spike-driven encoder: embed is not vocab_size x dim"};
        if (w.pos_embed.size() != L * D) return Failure{Status::bad_shape, "spike-driven encoder: pos_embed is not max_len x dim"};
        if (w.head_weight.size() != K * D || w.head_bias.size() != K)
            return Failure{Status::bad_shape, "spike-driven encoder: head is not n_classes x dim (+ n_classes bias)"};
        for (const auto& b : w.blocks) {
            for (const auto* m : {&b.q_weight, &b.k_weight, &b.v_weight, &b.proj_weight})
                if (m->size() != D * D) return Failure{Status::bad_shape, "spike-driven encoder: an attention weight is not dim x dim"};
            for (const auto* v : {&b.q_bias, &b.k_bias, &b.v_bias, &b.proj_bias, &b.fc2_bias})
                if (v->size() != D) return Failure{Status::bad_shape, "spike-driven encoder: a bias is not dim floats"};
            if (b.fc1_weight.size() != H * D || b.fc1_bias.size() != H || b.fc2_weight.size() != D * H)
                return Failure{Status::bad_shape, "spike-driven encoder: an MLP tensor does not match dim / mlp_hidden"};
            if (b.has_columns() && (b.q_columns.size() != D * D || b.k_columns.size() != D * D || b.v_columns.size() != D * D ||
                                    b.proj_columns.size() != D * D || b.fc1_columns.size() != H * D || b.fc2_columns.size() != D * H))
                return Failure{Status::bad_shape, "spike-driven encoder: the transposed weights must be given for all six matrices, each in x out"};
        }
        if (options.time_steps == 0 || options.time_steps > max_time_steps)
            return Failure{Status::invalid_argument, "spike-driven encoder: time_steps must be in 1..1024"};
        auto lif = neuron::SpikingJellyLIF<float>::make(options.lif);
        if (!lif) return lif.failure();
        neuron::SpikingJellyParams attn = options.lif;
        attn.v_threshold = options.attn_threshold;
        if (!neuron::SpikingJellyLIF<float>::make(attn)) return Failure{Status::invalid_argument, "spike-driven encoder: bad attention threshold"};
        SpikeDrivenEncoder e;
        e.w_ = w;
        e.options_ = options;
        e.lif_ = *lif;
        return e;
    }

    [[nodiscard]] constexpr const SdtWeights& weights() const noexcept { return w_; }
    [[nodiscard]] constexpr const SdtOptions& options() const noexcept { return options_; }
    [[nodiscard]] constexpr std::size_t n_classes() const noexcept { return w_.n_classes; }
    [[nodiscard]] constexpr std::size_t max_tokens() const noexcept { return w_.max_len; }

    /// Floats of membranes and activations for a sentence of `tokens` tokens.
    [[nodiscard]] static constexpr std::size_t work_floats(std::size_t n_layer, std::size_t tokens, std::size_t dim,
                                                           std::size_t hidden) noexcept {
        const std::size_t ND = tokens * dim, NH = tokens * hidden;
        const std::size_t widest = hidden > dim ? hidden : dim;
        return n_layer * (5 * ND + dim + NH) + ND  // membranes: per block 5 x [N][D], attention [D], [N][H]; head
               + 2 * ND + tokens * widest + dim;   // e, x, one linear's output, spike counts per channel
    }
    /// Bytes of spikes (0/1) for a sentence of `tokens` tokens.
    [[nodiscard]] static constexpr std::size_t spike_bytes(std::size_t tokens, std::size_t dim, std::size_t hidden) noexcept {
        return 5 * tokens * dim + tokens * hidden;
    }
    [[nodiscard]] constexpr std::size_t work_floats(std::size_t tokens) const noexcept {
        return work_floats(w_.n_layer(), tokens, w_.dim, w_.mlp_hidden);
    }
    [[nodiscard]] constexpr std::size_t spike_bytes(std::size_t tokens) const noexcept {
        return spike_bytes(tokens, w_.dim, w_.mlp_hidden);
    }
    /// Entries of the optional spike-count output: [(block * sites + site) * T + t], then the
    /// head LIF's counts at [n_layer * sites * T + t].
    [[nodiscard]] constexpr std::size_t spike_count_entries() const noexcept {
        return (w_.n_layer() * sites + 1) * options_.time_steps;
    }

    /// Class logits for one sentence (1..max_len token ids, no padding).
    Status forward(std::span<const std::uint32_t> tokens, std::span<float> work, std::span<std::uint8_t> spikes,
                   std::span<float> logits, OpCounts* counts = nullptr, std::span<std::uint32_t> spike_counts = {}) const noexcept {
        const std::size_t N = tokens.size(), D = w_.dim, H = w_.mlp_hidden, T = options_.time_steps;
        if (N == 0 || N > w_.max_len) return Status::bad_shape;
        if (work.size() < work_floats(N) || spikes.size() < spike_bytes(N) || logits.size() < w_.n_classes)
            return Status::buffer_too_small;
        if (!spike_counts.empty() && spike_counts.size() != spike_count_entries()) return Status::bad_shape;
        for (const std::uint32_t t : tokens)
            if (t >= w_.vocab_size) return Status::out_of_range;
        auto attention = layers::SpikeDrivenSelfAttention<float>::make(
            {.tokens = N, .dim = D, .causal = false, .lif = attention_lif()});
        if (!attention) return attention.status();

        const std::size_t ND = N * D, NH = N * H, widest = H > D ? H : D;
        const std::size_t per_block = 5 * ND + D + NH;
        float* membranes = work.data();
        float* e = membranes + w_.n_layer() * per_block + ND;
        float* x = e + ND;
        float* y = x + ND;
        float* rate = y + N * widest;
        std::uint8_t* s = spikes.data();
        std::uint8_t* q = s + ND;
        std::uint8_t* k = q + ND;
        std::uint8_t* v = k + ND;
        std::uint8_t* av = v + ND;
        std::uint8_t* h = av + ND;

        const float v0 = lif_.initial_state();
        for (std::size_t i = 0; i < w_.n_layer() * per_block + ND; ++i) membranes[i] = v0;
        for (std::size_t i = 0; i < D; ++i) rate[i] = 0.0f;
        for (std::uint32_t& c : spike_counts) c = 0;
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t d = 0; d < D; ++d)
                e[n * D + d] = w_.embed[tokens[n] * D + d] + w_.pos_embed[n * D + d];

        auto count = [&](std::size_t block, SdtSite site, std::size_t t, std::uint64_t fired) {
            if (!spike_counts.empty())
                spike_counts[(block * sites + static_cast<std::size_t>(site)) * T + t] = static_cast<std::uint32_t>(fired);
        };
        std::uint64_t total_spikes = 0;
        for (std::size_t t = 0; t < T; ++t) {
            for (std::size_t i = 0; i < ND; ++i) x[i] = e[i];
            for (std::size_t bi = 0; bi < w_.n_layer(); ++bi) {
                const SdtBlockWeights& b = w_.blocks[bi];
                float* m = membranes + bi * per_block;
                float *m_in = m, *m_q = m + ND, *m_k = m + 2 * ND, *m_v = m + 3 * ND, *m_mlp = m + 4 * ND,
                      *m_attn = m + 5 * ND, *m_h = m + 5 * ND + D;
                // --- SDSA ---
                std::uint64_t f = fire(x, m_in, s, ND);
                count(bi, SdtSite::attn_in, t, f);
                total_spikes += f;
                linear(b.q_weight, b.q_columns, b.q_bias, D, D, s, N, y, counts);
                count(bi, SdtSite::q, t, f = fire(y, m_q, q, ND));
                total_spikes += f;
                linear(b.k_weight, b.k_columns, b.k_bias, D, D, s, N, y, counts);
                count(bi, SdtSite::k, t, f = fire(y, m_k, k, ND));
                total_spikes += f;
                linear(b.v_weight, b.v_columns, b.v_bias, D, D, s, N, y, counts);
                count(bi, SdtSite::v, t, f = fire(y, m_v, v, ND));
                total_spikes += f;
                OpCounts attn_counts;
                const Status st = attention->step({q, ND}, {k, ND}, {v, ND}, {}, {m_attn, D}, {av, ND}, &attn_counts);
                if (st != Status::ok) return st;
                count(bi, SdtSite::attn, t, attn_counts.spikes);
                if (counts != nullptr) *counts += attn_counts;
                linear(b.proj_weight, b.proj_columns, b.proj_bias, D, D, av, N, y, counts);
                for (std::size_t i = 0; i < ND; ++i) x[i] += y[i];
                // --- MLP ---
                count(bi, SdtSite::mlp_in, t, f = fire(x, m_mlp, s, ND));
                total_spikes += f;
                linear(b.fc1_weight, b.fc1_columns, b.fc1_bias, H, D, s, N, y, counts);
                count(bi, SdtSite::mlp_hidden, t, f = fire(y, m_h, h, NH));
                total_spikes += f;
                linear(b.fc2_weight, b.fc2_columns, b.fc2_bias, D, H, h, N, y, counts);
                for (std::size_t i = 0; i < ND; ++i) x[i] += y[i];
            }
            float* m_head = membranes + w_.n_layer() * per_block;
            const std::uint64_t f = fire(x, m_head, s, ND);
            total_spikes += f;
            if (!spike_counts.empty()) spike_counts[w_.n_layer() * sites * T + t] = static_cast<std::uint32_t>(f);
            for (std::size_t n = 0; n < N; ++n)
                for (std::size_t d = 0; d < D; ++d) rate[d] += static_cast<float>(s[n * D + d]);
        }
        // rate = spike count / (T N): counts are exact integers in float (< 2^24).
        const float denom = static_cast<float>(T * N);
        for (std::size_t d = 0; d < D; ++d) rate[d] /= denom;
        for (std::size_t c = 0; c < w_.n_classes; ++c) {
            float acc = 0.0f;
            for (std::size_t d = 0; d < D; ++d) acc += w_.head_weight[c * D + d] * rate[d];
            logits[c] = acc + w_.head_bias[c];
        }
        if (counts != nullptr) {
            counts->spikes += total_spikes;
            counts->state_updates += T * (w_.n_layer() * (5 * ND + NH) + ND);
            counts->additions += T * w_.n_layer() * 2 * ND + N * D;
            counts->multiply_accumulates += w_.n_classes * D;
        }
        return Status::ok;
    }

private:
    [[nodiscard]] neuron::SpikingJellyParams attention_lif() const noexcept {
        neuron::SpikingJellyParams p = options_.lif;
        p.v_threshold = options_.attn_threshold;
        return p;
    }
    // LIF step for n neurons: in -> spikes out (0/1), membranes mem. Returns the spike count.
    std::uint64_t fire(const float* in, float* mem, std::uint8_t* out, std::size_t n) const noexcept {
        std::uint64_t fired = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const bool sp = lif_.step(in[i], mem[i]);
            out[i] = sp ? 1 : 0;
            fired += sp ? 1u : 0u;
        }
        return fired;
    }
    // y[n][r] = (sum of W[r][c] over inputs c of token n that spiked) + b[r]: event-driven,
    // additions only. The sum is formed first and the bias added last, as sdt.py's
    // `s @ W.t() + b` does.
    //
    // With the transposed weights (`columns`, [in][out]) the spikes of a token are packed into
    // words (spike::pack_spike_bytes) and, for each input that fired (ascending), its column is
    // added to all outputs at once: a contiguous, vectorised pass per spike instead of a
    // branch per weight. Each output still receives 0 + W[r][c] for the active c in ascending
    // order, then + b[r]: the same float additions in the same order as the row walk, so the
    // outputs (and predictions) are bit-identical (tested on the whole SST-2 dev set).
    static void linear(std::span<const float> w, std::span<const float> columns, std::span<const float> bias, std::size_t rows,
                       std::size_t cols, const std::uint8_t* in, std::size_t tokens, float* y, OpCounts* counts) noexcept {
        std::uint64_t adds = 0;
        for (std::size_t n = 0; n < tokens; ++n) {
            const std::uint8_t* sn = in + n * cols;
            float* yn = y + n * rows;
            if (!columns.empty()) {
                for (std::size_t r = 0; r < rows; ++r) yn[r] = 0.0f;
                for (std::size_t c0 = 0; c0 < cols; c0 += 64) {
                    std::uint64_t word = 0;
                    (void)spike::pack_spike_bytes({sn + c0, cols - c0 < 64 ? cols - c0 : 64}, {&word, 1});
                    for (; word != 0; word &= word - 1) {
                        const float* wc = columns.data() + (c0 + static_cast<std::size_t>(std::countr_zero(word))) * rows;
                        for (std::size_t r = 0; r < rows; ++r) yn[r] += wc[r];
                        adds += rows;
                    }
                }
                for (std::size_t r = 0; r < rows; ++r) yn[r] = yn[r] + bias[r];
                continue;
            }
            for (std::size_t r = 0; r < rows; ++r) {
                const float* wr = w.data() + r * cols;
                float acc = 0.0f;
                for (std::size_t c = 0; c < cols; ++c)
                    if (sn[c] != 0) acc += wr[c];
                yn[r] = acc + bias[r];
            }
            for (std::size_t c = 0; c < cols; ++c) adds += sn[c] != 0 ? rows : 0;
        }
        if (counts != nullptr) {
            counts->synaptic_accumulates += adds;
            counts->additions += tokens * rows;
            counts->weight_bits_read += rows * cols * 32u;
        }
    }

    SdtWeights w_{};
    SdtOptions options_{};
    neuron::SpikingJellyLIF<float> lif_{};
};

}  // namespace qslm::models
