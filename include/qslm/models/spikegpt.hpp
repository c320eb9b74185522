#pragma once
// SpikeGpt: the SpikeGPT language model (spiking RWKV-4) in RNN mode, one token per call per
// stream, over weights it does not own (float spans: reference weights in flash/ROM, a loaded
// checkpoint, or packed weights dequantized once into a caller buffer).
//
//   x = emb[token]                      (binary_embedding: x = (x >= 0) ? 1 : 0)
//   x = block_{L-1}( ... block_0(x))    layers::SpikeGptBlock (block 0 applies ln0 first)
//   logits = head · LN(x; ln_out)
//
// This is tools/train/spikegpt.py's forward (docs/models.md). Two options change it:
//   * binary_embedding: the reference training-mode forward binarises the embedding (the ATan
//     surrogate's forward is a Heaviside step, so block 0 sees spikes); the reference RNN
//     runner does that only for its 77-symbol character model and otherwise feeds the float
//     embedding. Host loaders take the value from the checkpoint ("binary_embedding"
//     metadata / config), i.e. the form the model was trained with.
//   * runner_rescale_every: the RNN runner's 2^-(i/k) rescaling (see layers/spikegpt_block.hpp);
//     0 (default) is the training-mode forward.
//
// No heap: state (state_floats()) and scratch (scratch_floats()) are caller spans. B streams
// run per call ("batch"): each weight row is then read once for several streams, which is
// what makes evaluating many token streams fast; a stream's results are bit-identical whatever
// it is batched with. State layout: [layer][stream][7 * n_embd] (the block's own layout).

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/result.hpp"
#include "qslm/layers/detail/dense_matmul.hpp"
#include "qslm/layers/layer_norm.hpp"
#include "qslm/layers/spikegpt_block.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::models {

/// All tensors of a SpikeGPT model, float, PyTorch layouts. `blocks[0]` carries ln0.
struct SpikeGptWeights {
    std::size_t vocab_size = 0;  ///< V
    std::size_t n_embd = 0;      ///< C
    std::size_t ffn_hidden = 0;  ///< H (4 C in SpikeGPT)
    std::span<const float> emb;  ///< [V][C]; may stay empty when emb_rows is set
    std::span<const layers::SpikeGptBlockWeights> blocks;
    std::span<const float> ln_out_weight, ln_out_bias;  ///< [C]
    std::span<const float> head;                        ///< [V][C]; may stay empty when head_packed is set
    /// Packed forms (not owned), used instead of the float spans above: the embedding as a
    /// row reader over a packed table, the head as a low-bit matrix for the integer GEMV.
    layers::EmbeddingRows emb_rows{};
    const kernels::LowBitMatrix* head_packed = nullptr;

    [[nodiscard]] constexpr layers::Projection head_projection() const noexcept { return {head, head_packed}; }

    [[nodiscard]] constexpr std::size_t n_layer() const noexcept { return blocks.size(); }
};

struct SpikeGptOptions {
    bool binary_embedding = true;           ///< x = (emb[token] >= 0) before block 0
    std::size_t runner_rescale_every = 0;   ///< 0: training-mode forward; 6: the reference RNN runner
    neuron::SpikingJellyParams lif{};       ///< tau 2, v_th 1, hard reset to 0 (SpikeGPT)
    double ln_eps = 1e-5;
    /// Calibration hook; empty (the default) observes nothing. When set, step() reports the
    /// input rows (streams x in) of every weight matrix that is a product, with the matrix's
    /// index in SpikeGptModel::matrices() order as the id: block i's projections are
    /// 1 + 7 i + 0..6 (att.key, att.value, att.receptance, att.output, ffn.key,
    /// ffn.receptance, ffn.value; see layers::SpikeGptOptions), the head (ln_out's output)
    /// is 1 + 7 n_layer. The embedding (id 0) is a row lookup, not a product: never reported.
    layers::ActivationSink observer{};
};

class SpikeGpt {
public:
    static constexpr std::size_t max_layers = 4096;

    static Result<SpikeGpt> make(const SpikeGptWeights& w, const SpikeGptOptions& options = {}) noexcept {
        const std::size_t V = w.vocab_size, C = w.n_embd, H = w.ffn_hidden;
        if (V == 0 || C == 0 || H == 0 || V > max_tensor_elements / C)
            return Failure{Status::bad_shape, "SpikeGPT: vocab_size, n_embd and ffn_hidden must be positive"};
        if (w.blocks.empty() || w.blocks.size() > max_layers)
            return Failure{Status::bad_shape, "SpikeGPT: needs 1..4096 blocks"};
        if (!w.emb_rows.present() && w.emb.size() != V * C)
            return Failure{Status::bad_shape, "SpikeGPT: emb is not vocab_size x n_embd floats"};
        if (!w.head_projection().fits(V, C))
            return Failure{Status::bad_shape, "SpikeGPT: head is not a vocab_size x n_embd matrix"};
        if (w.ln_out_weight.size() != C || w.ln_out_bias.size() != C)
            return Failure{Status::bad_shape, "SpikeGPT: ln_out weight/bias are not n_embd floats"};
        for (std::size_t i = 0; i < w.blocks.size(); ++i) {
            const auto& b = w.blocks[i];
            if (b.n_embd != C || b.ffn_hidden != H)
                return Failure{Status::bad_shape, "SpikeGPT: a block's n_embd / ffn_hidden differ from the model's"};
            if (b.has_ln0() != (i == 0))
                return Failure{Status::bad_shape, "SpikeGPT: block 0 (and only block 0) must carry ln0"};
            auto block = layers::SpikeGptBlock::make(b, block_options(options, i));
            if (!block) return block.failure();
        }
        auto ln = layers::LayerNorm::make(w.ln_out_weight, w.ln_out_bias, options.ln_eps);
        if (!ln) return ln.failure();
        SpikeGpt m;
        m.w_ = w;
        m.options_ = options;
        m.ln_out_ = *ln;
        return m;
    }

    [[nodiscard]] constexpr const SpikeGptWeights& weights() const noexcept { return w_; }
    [[nodiscard]] constexpr const SpikeGptOptions& options() const noexcept { return options_; }
    [[nodiscard]] constexpr std::size_t vocab_size() const noexcept { return w_.vocab_size; }
    [[nodiscard]] constexpr std::size_t n_embd() const noexcept { return w_.n_embd; }
    [[nodiscard]] constexpr std::size_t n_layer() const noexcept { return w_.blocks.size(); }

    /// Floats of recurrent state for `batch` streams (7 per channel per block per stream).
    [[nodiscard]] static constexpr std::size_t state_floats(std::size_t n_layer, std::size_t n_embd, std::size_t batch = 1) noexcept {
        return n_layer * batch * layers::SpikeGptBlock::state_floats(n_embd);
    }
    /// Floats of scratch for one step of `batch` streams.
    [[nodiscard]] static constexpr std::size_t scratch_floats(std::size_t n_embd, std::size_t ffn_hidden, std::size_t batch = 1) noexcept {
        return 2 * batch * n_embd + layers::SpikeGptBlock::scratch_floats(n_embd, ffn_hidden, batch);
    }
    [[nodiscard]] constexpr std::size_t state_floats(std::size_t batch = 1) const noexcept {
        return state_floats(n_layer(), w_.n_embd, batch);
    }
    /// Floats of scratch for one step of `batch` streams with these weights: the static size
    /// above plus, when some projections are packed, the GEMV kernel's activation scratch.
    [[nodiscard]] std::size_t scratch_floats(std::size_t batch = 1) const noexcept {
        std::size_t kernel = w_.head_projection().scratch_bytes(batch);
        for (const auto& b : w_.blocks) kernel = std::max(kernel, b.packed_scratch_bytes(batch));
        return scratch_floats(w_.n_embd, w_.ffn_hidden, batch) + layers::SpikeGptBlock::packed_scratch_floats(kernel);
    }
    /// Bytes of all weights as this model holds them (packed matrices at their prepared size).
    [[nodiscard]] std::size_t weight_bytes() const noexcept {
        std::size_t n = w_.head_projection().weight_bytes() + (w_.ln_out_weight.size() + w_.ln_out_bias.size()) * sizeof(float);
        n += w_.emb_rows.present() ? 0 : w_.emb.size() * sizeof(float);
        for (const auto& b : w_.blocks)
            n += b.projection_bytes() + (b.parameter_count() - 5 * b.n_embd * b.n_embd - 2 * b.n_embd * b.ffn_hidden) * sizeof(float);
        return n;
    }

    /// Fresh state for all `batch` streams.
    Status reset(std::span<float> state, std::size_t batch = 1) const noexcept {
        if (batch == 0) return Status::bad_shape;
        if (state.size() < state_floats(batch)) return Status::buffer_too_small;
        for (std::size_t b = 0; b < batch; ++b)
            if (const Status s = reset_stream(state, batch, b); s != Status::ok) return s;
        return Status::ok;
    }
    /// Fresh state for stream `stream` of a batch, leaving the others alone (a batched
    /// evaluation starts the next sequence in the slot of one that ended).
    Status reset_stream(std::span<float> state, std::size_t batch, std::size_t stream) const noexcept {
        if (stream >= batch) return Status::out_of_range;
        if (state.size() < state_floats(batch)) return Status::buffer_too_small;
        const std::size_t S = layers::SpikeGptBlock::state_floats(w_.n_embd);
        for (std::size_t i = 0; i < n_layer(); ++i) {
            auto block = make_block(i);
            if (!block) return block.status();
            const Status s = block->init_state(state.subspan((i * batch + stream) * S, S), 1);
            if (s != Status::ok) return s;
        }
        return Status::ok;
    }

    /// One token for each of tokens.size() streams: logits (batch * vocab floats, stream-major)
    /// of the next token. Optional: `counts` (all operations), `block_spikes` (n_layer entries:
    /// LIF1 + LIF2 spikes of each block, summed over the streams; added to, not overwritten).
    Status step(std::span<const std::uint32_t> tokens, std::span<float> state, std::span<float> scratch,
                std::span<float> logits, OpCounts* counts = nullptr, std::span<std::uint64_t> block_spikes = {}) const noexcept {
        const std::size_t B = tokens.size(), C = w_.n_embd, V = w_.vocab_size;
        if (B == 0) return Status::bad_shape;
        const std::size_t block_floats = scratch_floats(B) - 2 * B * C;
        if (state.size() < state_floats(B) || scratch.size() < scratch_floats(B) || logits.size() < B * V)
            return Status::buffer_too_small;
        if (!block_spikes.empty() && block_spikes.size() != n_layer()) return Status::bad_shape;
        for (const std::uint32_t t : tokens)
            if (t >= V) return Status::out_of_range;

        const std::span<float> x = scratch.first(B * C);
        const std::span<float> normed = scratch.subspan(B * C, B * C);
        const std::span<float> block_scratch = scratch.subspan(2 * B * C, block_floats);
        std::uint64_t emb_spikes = 0;
        for (std::size_t b = 0; b < B; ++b) {
            float* xb = x.data() + b * C;
            if (w_.emb_rows.present()) w_.emb_rows.read_row(w_.emb_rows.table, tokens[b], xb, C);
            else for (std::size_t i = 0; i < C; ++i) xb[i] = w_.emb[static_cast<std::size_t>(tokens[b]) * C + i];
            if (options_.binary_embedding) {
                for (std::size_t i = 0; i < C; ++i) {
                    const bool s = xb[i] >= 0.0f;  // Heaviside, >=: -0.0 counts as a spike
                    xb[i] = s ? 1.0f : 0.0f;
                    emb_spikes += s ? 1u : 0u;
                }
            }
        }
        const std::size_t S = layers::SpikeGptBlock::state_floats(C);
        for (std::size_t i = 0; i < n_layer(); ++i) {
            auto block = make_block(i);
            if (!block) return block.status();
            OpCounts local;
            const Status s = block->forward(x, state.subspan(i * B * S, B * S), block_scratch, B, &local);
            if (s != Status::ok) return s;
            if (!block_spikes.empty()) block_spikes[i] += local.spikes;
            if (counts != nullptr) *counts += local;
        }
        if (const Status s = ln_out_.forward(x, normed, B, counts); s != Status::ok) return s;
        if (options_.observer) options_.observer.observe(1 + 7 * n_layer(), normed.first(B * C));
        // The head's kernel scratch: the block scratch is free again here.
        if (const Status s = layers::project(w_.head_projection(), V, C, normed.data(), B, logits.data(),
                                             layers::kernel_scratch(block_scratch.subspan(layers::SpikeGptBlock::scratch_floats(C, w_.ffn_hidden, B))));
            s != Status::ok)
            return s;
        if (counts != nullptr) {
            counts->spikes += emb_spikes;
            counts->multiply_accumulates += B * V * C;
            counts->weight_bits_read += (w_.head_projection().weight_bytes() + B * C * sizeof(float)) * 8u;  // head + embedding rows
        }
        return Status::ok;
    }

private:
    static layers::SpikeGptOptions block_options(const SpikeGptOptions& o, std::size_t layer) noexcept {
        layers::SpikeGptOptions b;
        b.lif = o.lif;
        b.ln_eps = o.ln_eps;
        b.layer_id = layer;
        b.runner_rescale_every = o.runner_rescale_every;
        b.observer = o.observer;
        b.observer_first_id = 1 + 7 * layer;
        return b;
    }
    // Blocks are rebuilt per call from their weight spans: a handful of size checks, nothing
    // next to the block's matrix products, and the model then needs no per-block storage.
    [[nodiscard]] Result<layers::SpikeGptBlock> make_block(std::size_t i) const noexcept {
        return layers::SpikeGptBlock::make(w_.blocks[i], block_options(options_, i));
    }

    SpikeGptWeights w_{};
    SpikeGptOptions options_{};
    layers::LayerNorm ln_out_{};
};

/// One or more streams over caller buffers: step(token) -> the logits of the next token.
///
///   static float state[SpikeGpt::state_floats(L, C)], scratch[SpikeGpt::scratch_floats(C, H)], logits[V];
///   SpikeGptStream s(model, state, scratch, logits);
///   s.reset();  auto next = s.step(token);   // Result<span<const float>>
class SpikeGptStream {
public:
    /// `batch` streams; buffers sized for it (logits: batch * vocab).
    SpikeGptStream(const SpikeGpt& model, std::span<float> state, std::span<float> scratch, std::span<float> logits,
                   std::size_t batch = 1) noexcept
        : model_(&model), state_(state), scratch_(scratch), logits_(logits), batch_(batch) {}

    [[nodiscard]] std::size_t batch() const noexcept { return batch_; }
    [[nodiscard]] std::size_t position() const noexcept { return position_; }
    Status reset() noexcept {
        position_ = 0;
        return model_->reset(state_, batch_);
    }
    /// Single stream (batch 1).
    Result<std::span<const float>> step(std::uint32_t token, OpCounts* counts = nullptr) noexcept {
        if (batch_ != 1) return Failure{Status::bad_shape, "SpikeGptStream: step(token) needs batch 1; pass one token per stream"};
        const std::uint32_t t[1] = {token};
        return step(std::span<const std::uint32_t>(t, 1), counts);
    }
    /// One token per stream; the logits of all streams, stream-major.
    Result<std::span<const float>> step(std::span<const std::uint32_t> tokens, OpCounts* counts = nullptr) noexcept {
        if (tokens.size() != batch_) return Failure{Status::bad_shape, "SpikeGptStream: one token per stream is needed"};
        const Status s = model_->step(tokens, state_, scratch_, logits_, counts);
        if (s == Status::out_of_range) return Failure{s, "SpikeGptStream: a token id is not below vocab_size"};
        if (s != Status::ok) return Failure{s, "SpikeGptStream: the model step failed (buffer sizes?)"};
        ++position_;
        return std::span<const float>(logits_.first(batch_ * model_->vocab_size()));
    }

private:
    const SpikeGpt* model_;
    std::span<float> state_, scratch_, logits_;
    std::size_t batch_ = 1;
    std::size_t position_ = 0;
};

}  // namespace qslm::models
