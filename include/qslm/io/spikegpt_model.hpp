#pragma once
// SpikeGptModel: host-side owner of a SpikeGPT model's weights, loaded from a safetensors
// checkpoint (reference tensor names, any depth/width/vocabulary; float) or a .qslm file. A
// .qslm's packed matrices stay packed: each is prepared once for the low-bit GEMV kernel
// (kernels/lowbit_gemv.hpp, int8 activations) and the file's bytes are released, so the model
// holds its packed weights plus the small float vectors, never the float matrices
// (SpikeGptLoadOptions::weights = float32 dequantizes them instead, e.g. to search or
// re-quantize a .qslm). It hands out SpikeGptInstance objects: cheap runnable views in which
// any subset of the weight matrices can be replaced by other float buffers (e.g.
// quantized-then-dequantized weights) without copying the rest, or by packed tensors that run
// on the integer kernel (packed_instance()). That is what the quantizer search needs:
//
//   auto model = qslm::models::SpikeGptModel::load("models/spikegpt.safetensors");
//   for (const auto& m : model.matrices()) ...                  // name, rows, cols, block, kind
//   std::vector<std::span<const float>> repl(model.matrices().size());
//   repl[3] = my_dequantized_att_output;                          // empty span = model's own
//   auto inst = model.instance(repl);                             // no copy of the weights
//   auto logits = inst.logits(tokens);                            // tokens x vocab
//   auto many = inst.logits_many(sequences, {.threads = 2, .batch = 8});
//
// Host-only header (exceptions, std::vector, threads).

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/io/qslm_model.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/safetensors_writer.hpp"
#include "qslm/io/spikegpt_checkpoint.hpp"
#include "qslm/kernels/lowbit_gemv.hpp"
#include "qslm/models/spikegpt.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::models {

/// What a searched weight matrix is. The 7 per-block matrices follow the reference names.
enum class SpikeGptMatrixKind : std::uint8_t {
    embedding,       ///< emb.weight [V, C]
    att_key,         ///< blocks.N.att.key.weight [C, C]
    att_value,       ///< blocks.N.att.value.weight [C, C]
    att_receptance,  ///< blocks.N.att.receptance.weight [C, C]
    att_output,      ///< blocks.N.att.output.weight [C, C]
    ffn_key,         ///< blocks.N.ffn.key.weight [H, C]
    ffn_receptance,  ///< blocks.N.ffn.receptance.weight [C, C]
    ffn_value,       ///< blocks.N.ffn.value.weight [C, H]
    head,            ///< head.weight [V, C]
};

constexpr const char* to_string(SpikeGptMatrixKind k) noexcept {
    switch (k) {
        case SpikeGptMatrixKind::embedding: return "embedding";
        case SpikeGptMatrixKind::att_key: return "att_key";
        case SpikeGptMatrixKind::att_value: return "att_value";
        case SpikeGptMatrixKind::att_receptance: return "att_receptance";
        case SpikeGptMatrixKind::att_output: return "att_output";
        case SpikeGptMatrixKind::ffn_key: return "ffn_key";
        case SpikeGptMatrixKind::ffn_receptance: return "ffn_receptance";
        case SpikeGptMatrixKind::ffn_value: return "ffn_value";
        case SpikeGptMatrixKind::head: return "head";
    }
    return "unknown";
}

/// `block` of the embedding and the head (they belong to no SpikeGPT block).
inline constexpr std::size_t no_block = std::numeric_limits<std::size_t>::max();

/// One weight matrix a model exposes for quantization (rows = outputs, cols = inputs).
struct MatrixInfo {
    std::string name;  ///< checkpoint name, e.g. "blocks.2.att.key.weight"
    std::size_t rows = 0, cols = 0;
    std::size_t block = no_block;  ///< block index, or no_block (embedding, head)
    const char* kind = "";         ///< module kind: "embedding", "att_key", ..., "head" (SDT: "q", ..., "fc2")
};

/// How a .qslm file's packed matrices are held (float checkpoints are always float).
enum class WeightForm : std::uint8_t {
    packed,   ///< prepared for the low-bit GEMV kernel; runs with int8 activations (default)
    float32,  ///< dequantized to float at load; runs on the float path
};

struct SpikeGptLoadOptions {
    WeightForm weights = WeightForm::packed;
    std::optional<bool> binary_embedding{};          ///< override the file's (default: as trained)
    std::optional<std::size_t> runner_rescale_every{}; ///< override the file's (default 0)
    bool verify_test_vector = true;                  ///< .qslm: run the stored test vector
};

/// How logits_many() spreads sequences: `threads` workers (0 = hardware concurrency), each
/// running up to `batch` streams in lock step (a finished stream's slot takes the next sequence).
struct BatchOptions {
    unsigned threads = 0;
    std::size_t batch = 8;
};

namespace detail {
template <class Token>
void check_tokens(std::span<const Token> tokens, std::size_t vocab) {
    for (std::size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || static_cast<std::uint64_t>(tokens[i]) >= vocab)
            fail(Status::out_of_range, "token " + std::to_string(i) + " is " + std::to_string(tokens[i]) +
                                           ", outside the vocabulary of " + std::to_string(vocab) + " ids");
}
inline void check_tokens(std::span<const std::uint32_t> tokens, std::size_t vocab) {
    for (std::size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] >= vocab)
            fail(Status::out_of_range, "token " + std::to_string(i) + " is " + std::to_string(tokens[i]) +
                                           ", outside the vocabulary of " + std::to_string(vocab) + " ids");
}
}  // namespace detail

/// A runnable SpikeGPT over weights owned elsewhere (a SpikeGptModel and, for replaced
/// matrices, the caller's buffers — both must outlive the instance). Copyable and cheap
/// (one small struct per block). Const methods are safe to call from several threads.
class SpikeGptInstance {
public:
    /// `keep_alive` owns whatever the weights point to that the model does not (packed matrices
    /// prepared for this instance alone).
    SpikeGptInstance(SpikeGptWeights weights, std::vector<layers::SpikeGptBlockWeights> blocks, SpikeGptOptions options,
                     std::shared_ptr<const void> keep_alive = {})
        : weights_(weights), blocks_(std::move(blocks)), options_(options), keep_alive_(std::move(keep_alive)) {
        rebuild();
    }
    SpikeGptInstance(const SpikeGptInstance& o)
        : weights_(o.weights_), blocks_(o.blocks_), options_(o.options_), keep_alive_(o.keep_alive_) {
        rebuild();
    }
    SpikeGptInstance(SpikeGptInstance&& o) noexcept = default;  // the vector's buffer moves with it
    SpikeGptInstance& operator=(const SpikeGptInstance& o) {
        if (this != &o) {
            weights_ = o.weights_;
            blocks_ = o.blocks_;
            options_ = o.options_;
            keep_alive_ = o.keep_alive_;
            rebuild();
        }
        return *this;
    }
    SpikeGptInstance& operator=(SpikeGptInstance&& o) noexcept = default;

    [[nodiscard]] const SpikeGpt& model() const noexcept { return model_; }
    [[nodiscard]] std::size_t vocab_size() const noexcept { return model_.vocab_size(); }

    /// Feeds `tokens` one by one from a fresh state: row t (vocab floats) holds the logits after
    /// token t, i.e. the prediction of token t + 1. Throws out_of_range for a token >= vocab.
    template <class Token>
    [[nodiscard]] std::vector<float> logits(std::span<const Token> tokens) const {
        detail::check_tokens(tokens, vocab_size());
        const std::size_t V = vocab_size();
        std::vector<float> state(model_.state_floats(1)), scratch(model_.scratch_floats(1)), out(tokens.size() * V);
        throw_if_failed(model_.reset(state, 1), "SpikeGPT: cannot reset the state");
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            const std::uint32_t tok = static_cast<std::uint32_t>(tokens[t]);
            throw_if_failed(model_.step({&tok, 1}, state, scratch, std::span<float>(out).subspan(t * V, V)),
                            "SpikeGPT: step failed");
        }
        return out;
    }
    [[nodiscard]] std::vector<float> logits(const std::vector<int>& tokens) const {
        return logits(std::span<const int>(tokens));
    }

    /// What the layers did while feeding `tokens` one by one to a single stream from a fresh
    /// state (the embedded case: every weight is fetched once per token), counted as they ran.
    template <class Token>
    [[nodiscard]] OpCounts count_ops(std::span<const Token> tokens) const {
        detail::check_tokens(tokens, vocab_size());
        std::vector<float> state(model_.state_floats(1)), scratch(model_.scratch_floats(1)), out(vocab_size());
        throw_if_failed(model_.reset(state, 1), "SpikeGPT: cannot reset the state");
        OpCounts counts;
        for (const Token t : tokens) {
            const std::uint32_t tok = static_cast<std::uint32_t>(t);
            throw_if_failed(model_.step({&tok, 1}, state, scratch, out, &counts), "SpikeGPT: step failed");
        }
        return counts;
    }

    /// logits() of every sequence, batched and threaded; results are bit-identical to logits()
    /// of each sequence alone, whatever the thread count and batch size.
    template <class Token>
    [[nodiscard]] std::vector<std::vector<float>> logits_many(const std::vector<std::vector<Token>>& sequences,
                                                              const BatchOptions& options = {}) const {
        for (std::size_t s = 0; s < sequences.size(); ++s) {
            try {
                detail::check_tokens(std::span<const Token>(sequences[s]), vocab_size());
            } catch (const Error& e) {
                fail(e.code(), "sequence " + std::to_string(s) + ": " + e.what());
            }
        }
        std::vector<std::vector<float>> out(sequences.size());
        if (sequences.empty()) return out;
        const std::size_t batch = std::max<std::size_t>(1, options.batch);
        unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
        threads = static_cast<unsigned>(std::min<std::size_t>(threads, (sequences.size() + batch - 1) / batch));
        std::atomic<std::size_t> next{0};
        std::vector<std::exception_ptr> errors(threads);
        auto worker = [&](unsigned w) {
            try {
                run_worker(sequences, out, next, batch);
            } catch (...) {
                errors[w] = std::current_exception();
            }
        };
        if (threads <= 1) {
            worker(0);
        } else {
            std::vector<std::thread> pool;
            for (unsigned w = 0; w < threads; ++w) pool.emplace_back(worker, w);
            for (auto& t : pool) t.join();
        }
        for (auto& e : errors)
            if (e) std::rethrow_exception(e);
        return out;
    }

private:
    void rebuild() {
        weights_.blocks = blocks_;
        model_ = value_or_throw(SpikeGpt::make(weights_, options_), "SpikeGPT");
    }

    template <class Token>
    void run_worker(const std::vector<std::vector<Token>>& sequences, std::vector<std::vector<float>>& out,
                    std::atomic<std::size_t>& next, std::size_t max_batch) const {
        const std::size_t V = vocab_size();
        struct Slot {
            std::size_t sequence = 0, position = 0;
        };
        std::vector<Slot> slots;
        auto take = [&]() -> std::optional<std::size_t> {
            for (;;) {
                const std::size_t s = next.fetch_add(1);
                if (s >= sequences.size()) return std::nullopt;
                out[s].assign(sequences[s].size() * V, 0.0f);
                if (!sequences[s].empty()) return s;  // an empty sequence has no logits
            }
        };
        while (slots.size() < max_batch)
            if (auto s = take()) slots.push_back({*s, 0});
            else break;
        std::size_t B = slots.size();
        if (B == 0) return;
        std::vector<float> state(model_.state_floats(B)), scratch(model_.scratch_floats(B)), logits(B * V);
        std::vector<std::uint32_t> tokens(B);
        throw_if_failed(model_.reset(state, B), "SpikeGPT: cannot reset the state");
        const std::size_t S = model_.state_floats(1) / model_.n_layer();
        while (B > 0) {
            for (std::size_t b = 0; b < B; ++b)
                tokens[b] = static_cast<std::uint32_t>(sequences[slots[b].sequence][slots[b].position]);
            throw_if_failed(model_.step(std::span<const std::uint32_t>(tokens.data(), B), state, scratch, logits),
                            "SpikeGPT: step failed");
            std::vector<std::size_t> finished;
            for (std::size_t b = 0; b < B; ++b) {
                Slot& sl = slots[b];
                std::copy_n(logits.begin() + static_cast<std::ptrdiff_t>(b * V), V,
                            out[sl.sequence].begin() + static_cast<std::ptrdiff_t>(sl.position * V));
                if (++sl.position == sequences[sl.sequence].size()) {
                    if (auto s = take()) {
                        sl = {*s, 0};
                        throw_if_failed(model_.reset_stream(state, B, b), "SpikeGPT: cannot reset a stream");
                    } else {
                        finished.push_back(b);
                    }
                }
            }
            if (finished.empty()) continue;
            // Drop finished streams: rebuild the [layer][stream] state without them.
            std::vector<Slot> kept;
            std::vector<std::size_t> kept_index;
            for (std::size_t b = 0; b < B; ++b)
                if (std::find(finished.begin(), finished.end(), b) == finished.end()) {
                    kept.push_back(slots[b]);
                    kept_index.push_back(b);
                }
            const std::size_t nb = kept.size();
            std::vector<float> compact(model_.state_floats(std::max<std::size_t>(nb, 1)));
            for (std::size_t l = 0; l < model_.n_layer(); ++l)
                for (std::size_t j = 0; j < nb; ++j)
                    std::copy_n(state.begin() + static_cast<std::ptrdiff_t>((l * B + kept_index[j]) * S), S,
                                compact.begin() + static_cast<std::ptrdiff_t>((l * nb + j) * S));
            state = std::move(compact);
            slots = std::move(kept);
            B = nb;
        }
    }

    SpikeGptWeights weights_{};
    std::vector<layers::SpikeGptBlockWeights> blocks_;
    SpikeGptOptions options_{};
    std::shared_ptr<const void> keep_alive_;
    SpikeGpt model_{};
};

class SpikeGptModel {
public:
    /// A SpikeGPT .safetensors checkpoint (reference names) or a .qslm file, told apart by the
    /// file's first bytes (not its extension).
    static SpikeGptModel load(const std::filesystem::path& path, const SpikeGptLoadOptions& options = {}) {
        if (is_qslm_file(path)) {
            io::QslmLoadOptions lo;
            SpikeGptModel m;
            {
                // The parsed file (and its mapping) lives only in this scope: once the packed
                // matrices are prepared, the model refers to none of its bytes.
                io::QslmModel q = io::load_qslm(path, lo);
                m = from_qslm(q, options);
                if (options.verify_test_vector && q.test_vector) m.verify(q, path.string());
            }
            return m;
        }
        return from_checkpoint(io::load_spikegpt_checkpoint(path), options);
    }

    static SpikeGptModel from_checkpoint(io::SpikeGptCheckpoint ck, const SpikeGptLoadOptions& options = {}) {
        return from_parts(std::move(ck), options, {});
    }

private:
    /// `packed`: empty, or one entry per matrix (matrices() order): a non-null entry is a
    /// packed tensor of the .qslm to prepare for the low-bit kernel; its float tensor in `ck`
    /// has its shape but no values.
    static SpikeGptModel from_parts(io::SpikeGptCheckpoint ck, const SpikeGptLoadOptions& options,
                                    const std::vector<const io::QslmTensor*>& packed) {
        SpikeGptModel m;
        m.ck_ = std::move(ck);
        const auto& c = m.ck_.config;
        if (c.att_dim != c.n_embd)
            fail(Status::bad_shape, "SpikeGPT: the time-mix width (" + std::to_string(c.att_dim) +
                                        ") differs from n_embd (" + std::to_string(c.n_embd) +
                                        "); this implementation needs them equal, as in SpikeGPT");
        m.options_.binary_embedding = options.binary_embedding.value_or(c.binary_embedding);
        m.options_.runner_rescale_every = options.runner_rescale_every.value_or(m.runner_rescale_from_metadata());
        m.options_.lif.tau = c.tau;
        m.options_.lif.v_threshold = c.v_threshold;
        m.options_.lif.v_reset = c.v_reset;
        m.options_.ln_eps = c.ln_eps;
        m.build_matrix_table();
        if (!packed.empty()) m.attach_packed(packed);
        (void)m.instance();  // validates the whole model once, with the library's messages
        return m;
    }

public:

    /// From a parsed .qslm (the SpikeGPT convention of docs/models_cpp.md): packed tensors are
    /// dequantized, float32 ones copied.
    static SpikeGptModel from_qslm(const io::QslmModel& q, const SpikeGptLoadOptions& options = {}) {
        nlohmann::json cfg;
        try {
            cfg = q.config();
        } catch (const std::exception& e) {
            fail(Status::corrupt_data, std::string(".qslm config is not JSON: ") + e.what());
        }
        if (!cfg.is_object()) fail(Status::corrupt_data, ".qslm config is not a JSON object");
        if (cfg.contains("model_type") && cfg["model_type"] != "spikegpt")
            fail(Status::invalid_argument, ".qslm file holds a '" + cfg["model_type"].dump() + "' model, not spikegpt");
        SpikeGptLoadOptions o = options;
        if (!o.runner_rescale_every && cfg.contains("runner_rescale_every") && cfg["runner_rescale_every"].is_number_unsigned())
            o.runner_rescale_every = cfg["runner_rescale_every"].get<std::size_t>();
        if (options.weights == WeightForm::float32) return from_checkpoint(checkpoint_from_qslm(q, cfg), o);
        std::vector<const io::QslmTensor*> packed;
        io::SpikeGptCheckpoint ck = packed_checkpoint_from_qslm(q, cfg, packed);
        return from_parts(std::move(ck), o, packed);
    }

    /// Whether matrix m is held packed (prepared for the low-bit kernel) rather than as floats.
    [[nodiscard]] bool is_packed(std::size_t m) const {
        check_index(m);
        return m == 0 ? emb_packed_ != nullptr : packed_[m] != nullptr;
    }
    /// Whether any matrix is held packed.
    [[nodiscard]] bool holds_packed() const noexcept {
        return emb_packed_ != nullptr || std::any_of(packed_.begin(), packed_.end(), [](const auto& p) { return p != nullptr; });
    }
    /// Parameters (all tensors, every matrix weight counted once).
    [[nodiscard]] std::size_t parameter_count() const noexcept {
        std::size_t n = 0;
        ck_.for_each_tensor([&](const std::string&, const io::FloatTensor& t) { n += t.rows() * t.cols(); });
        return n;
    }
    /// Bytes of the weights as held in memory: packed matrices at their prepared size, the
    /// embedding table at its packed size, everything else float32.
    [[nodiscard]] std::size_t resident_weight_bytes() const noexcept {
        std::size_t n = 0, next = 0;
        ck_.for_each_tensor([&](const std::string& name, const io::FloatTensor& t) {
            const bool matrix = next < matrices_.size() && matrices_[next].name == name;
            const std::size_t m = matrix ? next++ : 0;
            if (matrix && m == 0 && emb_packed_) n += emb_packed_->bytes();
            else if (matrix && packed_[m]) n += packed_[m]->bytes();
            else n += t.rows() * t.cols() * sizeof(float);
        });
        return n;
    }
    /// "avx512vnni", "avx2", ...: the instruction set the low-bit kernel runs on here
    /// ("float" when nothing is packed).
    [[nodiscard]] std::string packed_isa() const {
        for (const auto& p : packed_)
            if (p) return kernels::to_string(p->resolved_isa());
        return "float";
    }

    /// A runnable view in which the matrices given in `packed` (empty, or one entry per
    /// matrix: non-null = that tensor) run packed on the low-bit kernel, with int8
    /// activations — what a .qslm holding these tensors runs after loading. The instance owns
    /// the prepared forms (it does not refer to the tensors afterwards).
    [[nodiscard]] SpikeGptInstance packed_instance(const std::vector<const AnyPackedTensor*>& packed) const {
        if (!packed.empty() && packed.size() != matrices_.size())
            fail(Status::bad_shape, "packed_instance: pass no packed tensors or one (possibly null) per matrix");
        struct Owned {
            std::vector<std::shared_ptr<const kernels::LowBitMatrix>> matrices;
            std::shared_ptr<const AnyPackedTensor> emb;
            std::vector<std::vector<float>> floats;
        };
        auto owned = std::make_shared<Owned>();
        owned->matrices = packed_;  // null entries keep the model's own form
        owned->emb = emb_packed_;
        owned->floats.resize(matrices_.size());
        std::vector<std::span<const float>> floats(matrices_.size());
        for (std::size_t m = 0; m < packed.size(); ++m) {
            if (packed[m] == nullptr) continue;
            if (packed[m]->rows() != matrices_[m].rows || packed[m]->cols() != matrices_[m].cols)
                fail(Status::bad_shape, matrices_[m].name + ": the packed tensor is " + std::to_string(packed[m]->rows()) +
                                            " x " + std::to_string(packed[m]->cols()) + ", the model needs " +
                                            std::to_string(matrices_[m].rows) + " x " + std::to_string(matrices_[m].cols));
            if (m == 0) {
                owned->emb = std::make_shared<const AnyPackedTensor>(*packed[m]);
            } else if (!(owned->matrices[m] = prepare_lowbit(*packed[m]))) {
                owned->floats[m] = packed[m]->dequantize();  // a width the kernel does not take: as the loader does
                floats[m] = owned->floats[m];
            }
        }
        const bool any_float = std::any_of(floats.begin(), floats.end(), [](const auto& f) { return !f.empty(); });
        return build_instance(any_float ? std::span<const std::span<const float>>(floats) : std::span<const std::span<const float>>{},
                              owned->matrices, owned->emb, owned);
    }

    [[nodiscard]] const io::SpikeGptConfig& config() const noexcept { return ck_.config; }
    [[nodiscard]] const SpikeGptOptions& options() const noexcept { return options_; }
    [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept { return ck_.metadata; }
    [[nodiscard]] const io::SpikeGptCheckpoint& checkpoint() const noexcept { return ck_; }
    [[nodiscard]] std::size_t vocab_size() const noexcept { return ck_.config.vocab_size; }
    [[nodiscard]] std::size_t n_layer() const noexcept { return ck_.config.n_layer; }

    // ----- the weight matrices the quantizer searches -----------------------------------
    /// emb, then per block att.key/value/receptance/output, ffn.key/receptance/value, then head.
    [[nodiscard]] const std::vector<MatrixInfo>& matrices() const noexcept { return matrices_; }
    [[nodiscard]] SpikeGptMatrixKind matrix_kind(std::size_t m) const {
        check_index(m);
        return kinds_[m];
    }
    [[nodiscard]] std::optional<std::size_t> find_matrix(std::string_view name) const noexcept {
        for (std::size_t i = 0; i < matrices_.size(); ++i)
            if (matrices_[i].name == name) return i;
        return std::nullopt;
    }
    /// Current weights of matrix m (an override if set, else the loaded ones), rows x cols.
    [[nodiscard]] std::span<const float> matrix_weights(std::size_t m) const {
        check_index(m);
        return overrides_[m] ? std::span<const float>(*overrides_[m]) : original_weights(m);
    }
    /// The weights as loaded. A matrix held packed has no float values: load the .qslm with
    /// WeightForm::float32 to read them (invalid_argument names the matrix).
    [[nodiscard]] std::span<const float> original_weights(std::size_t m) const {
        check_index(m);
        if (is_packed(m))
            fail(Status::invalid_argument, matrices_[m].name +
                                               " is held packed (loaded from a .qslm for the low-bit kernel) and has no "
                                               "float values; load the file with WeightForm::float32 to read or re-quantize them");
        return tensor_of(const_cast<io::SpikeGptCheckpoint&>(ck_), m).values();
    }
    /// Replaces matrix m in this model (kept until reset_matrix); values: rows x cols floats.
    void set_matrix(std::size_t m, std::vector<float> values) {
        check_index(m);
        check_replacement(m, values);
        overrides_[m] = std::move(values);
    }
    /// Replaces matrix m by its dequantized packed form.
    void set_matrix(std::size_t m, const AnyPackedTensor& packed) {
        check_index(m);
        if (packed.rows() != matrices_[m].rows || packed.cols() != matrices_[m].cols)
            fail(Status::bad_shape, matrices_[m].name + ": the packed tensor is " + std::to_string(packed.rows()) + " x " +
                                        std::to_string(packed.cols()) + ", the model needs " +
                                        std::to_string(matrices_[m].rows) + " x " + std::to_string(matrices_[m].cols));
        std::vector<float> v(packed.rows() * packed.cols());
        throw_if_failed(packed.visit([&](const auto& t) { return t.view().dequantize(std::span<float>(v)); }),
                        "cannot dequantize", matrices_[m].name);
        overrides_[m] = std::move(v);
    }
    void reset_matrix(std::size_t m) {
        check_index(m);
        overrides_[m].reset();
    }
    void reset_all_matrices() {
        for (auto& o : overrides_) o.reset();
    }

    /// A runnable view. `replacements` is empty or one span per matrix (matrices() order):
    /// a non-empty span replaces that matrix (rows x cols floats, owned by the caller), an
    /// empty one keeps the model's current weights.
    [[nodiscard]] SpikeGptInstance instance(std::span<const std::span<const float>> replacements = {}) const {
        return build_instance(replacements, packed_, emb_packed_, {});
    }

    /// Shortcuts on the current weights.
    template <class Token>
    [[nodiscard]] std::vector<float> logits(std::span<const Token> tokens) const {
        return instance().logits(tokens);
    }
    [[nodiscard]] std::vector<float> logits(const std::vector<int>& tokens) const { return instance().logits(tokens); }

    /// The model as a .qslm image (docs/models_cpp.md's SpikeGPT convention). `packed` is empty
    /// or one entry per matrix: a non-null entry is stored packed, the others as float32
    /// (current weights). The test vector: `test_tokens` (default: the bytes of "The quick")
    /// and the logits after the last one, computed from what the file will hold.
    [[nodiscard]] io::QslmModel to_qslm(const std::vector<const AnyPackedTensor*>& packed = {},
                                        std::vector<std::uint32_t> test_tokens = {}) const {
        if (test_tokens.empty())  // "The quick" as bytes (folded into a smaller vocabulary)
            for (const char ch : std::string_view("The quick"))
                test_tokens.push_back(static_cast<std::uint32_t>(static_cast<unsigned char>(ch)) % static_cast<std::uint32_t>(vocab_size()));
        if (!packed.empty() && packed.size() != matrices_.size())
            fail(Status::bad_shape, "to_qslm: pass no packed tensors or one (possibly null) per matrix");
        io::QslmModel q;
        const bool any_packed = std::any_of(packed.begin(), packed.end(), [](const auto* p) { return p != nullptr; });
        nlohmann::json cfg = {{"model_type", "spikegpt"},
                              {"format", "qslm-spikegpt-v1"},
                              {"vocab_size", config().vocab_size},
                              {"n_layer", config().n_layer},
                              {"n_embd", config().n_embd},
                              {"ffn_hidden", config().ffn_hidden},
                              {"binary_embedding", options_.binary_embedding},
                              {"runner_rescale_every", options_.runner_rescale_every},
                              {"tau", options_.lif.tau},
                              {"v_threshold", options_.lif.v_threshold},
                              {"v_reset", options_.lif.v_reset},
                              {"ln_eps", options_.ln_eps},
                              {"tokenizer", "bytes"}};
        // The test vector is computed with the arithmetic the file will run with after loading
        // (packed matrices on the low-bit kernel, int8 activations), so a loader knows which
        // path to check it against; files without the key were written by the float path.
        if (any_packed) cfg["test_vector_arithmetic"] = lowbit_arithmetic;
        q.config_json = cfg.dump();
        if (config().vocab_size == 256) q.tokenizer_json = R"({"type": "bytes"})";
        std::size_t next_matrix = 0;
        ck_.for_each_tensor([&](const std::string& name, const io::FloatTensor& t) {
            const bool is_matrix = next_matrix < matrices_.size() && matrices_[next_matrix].name == name;
            if (is_matrix) {
                const std::size_t m = next_matrix++;
                if (!packed.empty() && packed[m] != nullptr) {
                    q.add(io::QslmTensor::from_any(name, *packed[m]));
                    return;
                }
                const auto w = matrix_weights(m);
                q.add(io::QslmTensor::from_floats(name, matrices_[m].rows, matrices_[m].cols, w));
                return;
            }
            q.add(io::QslmTensor::from_floats(name, t.rows(), t.cols(), t.values()));
        });
        detail::check_tokens(std::span<const std::uint32_t>(test_tokens), vocab_size());
        {
            const auto all = any_packed ? packed_instance(packed).logits(std::span<const std::uint32_t>(test_tokens))
                                        : logits(std::span<const std::uint32_t>(test_tokens));
            io::QslmTestVector tv;
            tv.input = test_tokens;
            tv.expected.assign(all.end() - static_cast<std::ptrdiff_t>(vocab_size()), all.end());
            tv.abs_tolerance = 1e-4f;
            tv.rel_tolerance = 1e-4f;
            q.test_vector = std::move(tv);
        }
        return q;
    }

    /// Runs a .qslm file's test vector through this model (corrupt_data when it differs), with
    /// the arithmetic the vector was computed with: if this model holds the file's packed
    /// matrices in the other form, the check runs on a model loaded the other way.
    void verify(const io::QslmModel& q, const std::string& name = "model") const {
        const bool file_packed = std::any_of(q.tensors.begin(), q.tensors.end(), [](const auto& t) { return t.is_packed(); });
        bool vector_lowbit = false;
        try {
            const auto cfg = q.config();
            vector_lowbit = cfg.is_object() && cfg.value("test_vector_arithmetic", std::string()) == lowbit_arithmetic;
        } catch (const std::exception&) {
        }
        if (file_packed && vector_lowbit != holds_packed()) {
            SpikeGptLoadOptions o;
            o.weights = vector_lowbit ? WeightForm::packed : WeightForm::float32;
            o.binary_embedding = options_.binary_embedding;
            o.runner_rescale_every = options_.runner_rescale_every;
            o.verify_test_vector = false;
            from_qslm(q, o).verify_as_held(q, name);
            return;
        }
        verify_as_held(q, name);
    }

private:
    void verify_as_held(const io::QslmModel& q, const std::string& name) const {
        io::verify_qslm(
            q,
            [&](const io::QslmModel&, std::span<const std::uint32_t> input) {
                const auto all = logits(input);
                if (all.empty()) return std::vector<float>{};
                return std::vector<float>(all.end() - static_cast<std::ptrdiff_t>(vocab_size()), all.end());
            },
            name);
    }

public:
    /// The config value that marks a test vector computed on the low-bit kernel.
    static constexpr const char* lowbit_arithmetic = "lowbit-gemv-int8-activations";

private:
    static bool is_qslm_file(const std::filesystem::path& path) {
        std::ifstream f(path, std::ios::binary);
        if (!f) fail(Status::io_error, "cannot open " + path.string());
        char magic[8] = {};
        f.read(magic, 8);
        return f.gcount() == 8 && std::memcmp(magic, io::qslm_magic, 8) == 0;
    }

    std::size_t runner_rescale_from_metadata() const {
        const auto it = ck_.metadata.find("runner_rescale_every");
        if (it == ck_.metadata.end()) return 0;
        try {
            return static_cast<std::size_t>(std::stoul(it->second));
        } catch (const std::exception&) {
            fail(Status::corrupt_data, "metadata 'runner_rescale_every' is '" + it->second + "', not a count");
        }
    }

    static io::FloatTensor& tensor_of(io::SpikeGptCheckpoint& ck, std::size_t m) {
        if (m == 0) return ck.emb;
        const std::size_t last = 1 + 7 * ck.blocks.size();
        if (m == last) return ck.head;
        auto& b = ck.blocks[(m - 1) / 7];
        switch ((m - 1) % 7) {
            case 0: return b.att_key;
            case 1: return b.att_value;
            case 2: return b.att_receptance;
            case 3: return b.att_output;
            case 4: return b.ffn_key;
            case 5: return b.ffn_receptance;
            default: return b.ffn_value;
        }
    }

    void build_matrix_table() {
        const auto& c = ck_.config;
        matrices_.clear();
        matrices_.push_back({"emb.weight", c.vocab_size, c.n_embd, no_block, to_string(SpikeGptMatrixKind::embedding)});
        kinds_.assign(1, SpikeGptMatrixKind::embedding);
        static constexpr std::pair<const char*, SpikeGptMatrixKind> per_block[7] = {
            {"att.key.weight", SpikeGptMatrixKind::att_key},
            {"att.value.weight", SpikeGptMatrixKind::att_value},
            {"att.receptance.weight", SpikeGptMatrixKind::att_receptance},
            {"att.output.weight", SpikeGptMatrixKind::att_output},
            {"ffn.key.weight", SpikeGptMatrixKind::ffn_key},
            {"ffn.receptance.weight", SpikeGptMatrixKind::ffn_receptance},
            {"ffn.value.weight", SpikeGptMatrixKind::ffn_value}};
        for (std::size_t i = 0; i < c.n_layer; ++i)
            for (const auto& [suffix, kind] : per_block) {
                const std::size_t m = matrices_.size();
                const auto& t = tensor_of(ck_, m);
                matrices_.push_back({"blocks." + std::to_string(i) + "." + suffix, t.rows(), t.cols(), i, to_string(kind)});
                kinds_.push_back(kind);
            }
        matrices_.push_back({"head.weight", c.vocab_size, c.n_embd, no_block, to_string(SpikeGptMatrixKind::head)});
        kinds_.push_back(SpikeGptMatrixKind::head);
        overrides_.assign(matrices_.size(), std::nullopt);
        packed_.assign(matrices_.size(), nullptr);
    }

    void check_index(std::size_t m) const {
        if (m >= matrices_.size())
            fail(Status::out_of_range, "SpikeGPT has " + std::to_string(matrices_.size()) + " weight matrices; index " +
                                           std::to_string(m) + " does not exist");
    }
    void check_replacement(std::size_t m, std::span<const float> values) const {
        if (values.size() != matrices_[m].rows * matrices_[m].cols)
            fail(Status::bad_shape, matrices_[m].name + ": replacement has " + std::to_string(values.size()) +
                                        " values, the matrix is " + std::to_string(matrices_[m].rows) + " x " +
                                        std::to_string(matrices_[m].cols));
    }

    static bool is_matrix_name(std::string_view name) {
        if (name == "emb.weight" || name == "head.weight") return true;
        for (const char* s : {".att.key.weight", ".att.value.weight", ".att.receptance.weight", ".att.output.weight",
                              ".ffn.key.weight", ".ffn.value.weight", ".ffn.receptance.weight"})
            if (name.ends_with(s)) return true;
        return false;
    }

    // The .qslm tensors, dequantized, are presented to the safetensors checkpoint builder under
    // the same names, so both file kinds get the same validation and the same messages
    // (every missing or mis-shaped tensor listed at once).
    static io::SpikeGptCheckpoint checkpoint_from_qslm(const io::QslmModel& q, const nlohmann::json& cfg) {
        io::SafetensorsWriter w;
        for (const auto& t : q.tensors) {
            std::vector<float> values;
            try {
                values = t.dequantize();
            } catch (const Error& e) {
                fail(e.code(), "tensor '" + t.name + "': " + e.what());
            }
            std::vector<std::uint64_t> shape;
            if (t.rows == 1 && !is_matrix_name(t.name)) shape = {t.cols};
            else shape = {t.rows, t.cols};
            w.add_f32(t.name, shape, values);
        }
        nlohmann::json config = nlohmann::json::object();
        for (const char* key : {"vocab_size", "n_layer", "n_embd", "tau", "v_threshold", "v_reset", "ln_eps", "binary_embedding"})
            if (cfg.contains(key)) config[key] = cfg[key];
        w.set_metadata("config", config.dump());
        const std::vector<std::uint8_t> bytes = w.to_bytes();
        return io::load_spikegpt_checkpoint(io::SafetensorsFile::parse(std::span<const std::uint8_t>(bytes), ".qslm model"));
    }

    // ----- packed weights ------------------------------------------------------------------
    using LowBitPtr = std::shared_ptr<const kernels::LowBitMatrix>;

    /// The prepared low-bit form of t, or null when the kernel does not take its width or
    /// encoding (that matrix then runs on floats; `why` says why).
    static LowBitPtr prepare_lowbit(const AnyPackedTensor& t, std::string* why = nullptr) {
        auto r = t.visit([](const auto& p) { return kernels::LowBitMatrix::prepare(p.view()); });
        if (!r) {
            if (why) *why = r.message();
            return nullptr;
        }
        return std::make_shared<const kernels::LowBitMatrix>(std::move(*r));
    }
    static LowBitPtr prepare_lowbit(const io::QslmTensor& t, std::string* why = nullptr) {
        auto r = t.visit_view([](const auto& v) { return kernels::LowBitMatrix::prepare(v); });
        if (!r) {
            if (why) *why = r.message();
            return nullptr;
        }
        return std::make_shared<const kernels::LowBitMatrix>(std::move(*r));
    }

    static void read_packed_row(const void* table, std::size_t r, float* out, std::size_t cols) noexcept {
        static_cast<const AnyPackedTensor*>(table)->visit([&](const auto& t) {
            const auto v = t.view();
            for (std::size_t c = 0; c < cols; ++c) out[c] = v.dequantized(r, c);
        });
    }

    /// Prepares the .qslm's packed matrices (one entry per matrix, null = float in ck_).
    void attach_packed(const std::vector<const io::QslmTensor*>& sources) {
        packed_.assign(matrices_.size(), nullptr);
        for (std::size_t m = 0; m < sources.size() && m < matrices_.size(); ++m) {
            const io::QslmTensor* t = sources[m];
            if (t == nullptr) continue;
            std::string why;
            if (m == 0) {
                // The embedding is a row lookup: its packed table is read a row per token.
                try {
                    emb_packed_ = std::make_shared<const AnyPackedTensor>(t->to_any_packed());
                    continue;
                } catch (const Error& e) {
                    why = e.what();
                }
            } else if ((packed_[m] = prepare_lowbit(*t, &why))) {
                continue;
            }
            tensor_of(ck_, m).data = t->dequantize();
            float_fallbacks_.push_back(matrices_[m].name + ": " + why);
        }
    }

    /// The instance of instance() / packed_instance(): per matrix, a float replacement or
    /// override wins, then a packed form, then the loaded float weights.
    SpikeGptInstance build_instance(std::span<const std::span<const float>> replacements, const std::vector<LowBitPtr>& packed,
                                    const std::shared_ptr<const AnyPackedTensor>& emb_packed,
                                    std::shared_ptr<const void> keep_alive) const {
        if (!replacements.empty() && replacements.size() != matrices_.size())
            fail(Status::bad_shape, "SpikeGPT instance: " + std::to_string(replacements.size()) +
                                        " replacements given; pass none or one per matrix (" +
                                        std::to_string(matrices_.size()) + ")");
        auto pick = [&](std::size_t m) -> layers::Projection {
            if (!replacements.empty() && !replacements[m].empty()) {
                check_replacement(m, replacements[m]);
                return {replacements[m], nullptr};
            }
            if (overrides_[m]) return {std::span<const float>(*overrides_[m]), nullptr};
            if (m < packed.size() && packed[m]) return {{}, packed[m].get()};
            return {tensor_of(const_cast<io::SpikeGptCheckpoint&>(ck_), m).values(), nullptr};
        };
        const auto& c = ck_.config;
        SpikeGptWeights w;
        w.vocab_size = c.vocab_size;
        w.n_embd = c.n_embd;
        w.ffn_hidden = c.ffn_hidden;
        const bool emb_replaced = (!replacements.empty() && !replacements[0].empty()) || overrides_[0];
        if (emb_packed && !emb_replaced) w.emb_rows = {emb_packed.get(), &read_packed_row};
        else w.emb = pick(0).dense;
        w.ln_out_weight = ck_.ln_out_weight.values();
        w.ln_out_bias = ck_.ln_out_bias.values();
        const layers::Projection head = pick(matrices_.size() - 1);
        w.head = head.dense;
        w.head_packed = head.packed;
        std::vector<layers::SpikeGptBlockWeights> blocks(c.n_layer);
        for (std::size_t i = 0; i < c.n_layer; ++i) {
            const auto& b = ck_.blocks[i];
            auto& o = blocks[i];
            o.n_embd = c.n_embd;
            o.ffn_hidden = c.ffn_hidden;
            if (i == 0) {
                o.ln0_weight = ck_.ln0_weight.values();
                o.ln0_bias = ck_.ln0_bias.values();
            }
            o.ln1_weight = b.ln1_weight.values();
            o.ln1_bias = b.ln1_bias.values();
            o.ln2_weight = b.ln2_weight.values();
            o.ln2_bias = b.ln2_bias.values();
            o.att_time_decay = b.att_time_decay.values();
            o.att_time_first = b.att_time_first.values();
            o.att_time_mix_k = b.att_time_mix_k.values();
            o.att_time_mix_v = b.att_time_mix_v.values();
            o.att_time_mix_r = b.att_time_mix_r.values();
            o.ffn_time_mix_k = b.ffn_time_mix_k.values();
            o.ffn_time_mix_r = b.ffn_time_mix_r.values();
            const std::size_t base = 1 + 7 * i;
            const layers::Projection p[7] = {pick(base + 0), pick(base + 1), pick(base + 2), pick(base + 3),
                                             pick(base + 4), pick(base + 5), pick(base + 6)};
            o.att_key = p[0].dense;
            o.att_value = p[1].dense;
            o.att_receptance = p[2].dense;
            o.att_output = p[3].dense;
            o.ffn_key = p[4].dense;
            o.ffn_receptance = p[5].dense;
            o.ffn_value = p[6].dense;
            o.packed = {p[0].packed, p[1].packed, p[2].packed, p[3].packed, p[4].packed, p[5].packed, p[6].packed};
        }
        return SpikeGptInstance(w, std::move(blocks), options_, std::move(keep_alive));
    }

    /// Expected [rows, cols] of a matrix name (0 where the config is unknown).
    static std::pair<std::size_t, std::size_t> matrix_shape(std::string_view name, const io::SpikeGptConfig& c) {
        if (name == "emb.weight" || name == "head.weight") return {c.vocab_size, c.n_embd};
        if (name.ends_with(".ffn.key.weight")) return {c.ffn_hidden, c.n_embd};
        if (name.ends_with(".ffn.value.weight")) return {c.n_embd, c.ffn_hidden};
        return {c.n_embd, c.n_embd};
    }

    // A .qslm whose packed matrices stay packed: the same names, shapes and messages as the
    // safetensors builder (every missing or mis-shaped tensor listed at once), checked on the
    // tensors' declared shapes; only the float tensors' values are copied.
    static io::SpikeGptCheckpoint packed_checkpoint_from_qslm(const io::QslmModel& q, const nlohmann::json& cfg,
                                                              std::vector<const io::QslmTensor*>& packed) {
        std::vector<std::string> missing, problems;
        io::SpikeGptCheckpoint ck;
        auto& c = ck.config;
        if (const auto* t = q.find("emb.weight") ? q.find("emb.weight") : q.find("head.weight")) {
            c.vocab_size = t->rows;
            c.n_embd = t->cols;
        }
        for (const auto& t : q.tensors) {
            const auto i = io::CheckpointAssembler::block_index(t.name);
            if (!i) continue;
            if (*i >= io::checkpoint_max_layers) problems.push_back("'" + t.name + "' has a block index above the supported " + std::to_string(io::checkpoint_max_layers));
            else c.n_layer = std::max(c.n_layer, *i + 1);
        }
        if (const auto* k = q.find("blocks.0.ffn.key.weight")) c.ffn_hidden = k->rows;
        c.att_dim = c.n_embd;
        ck.blocks.resize(c.n_layer);
        packed.assign(2 + 7 * c.n_layer, nullptr);
        std::set<std::string, std::less<>> used;
        std::size_t next_matrix = 0;
        ck.for_each_tensor([&](const std::string& name, io::FloatTensor& t) {
            const bool matrix = is_matrix_name(name);
            const std::size_t m = matrix ? next_matrix++ : 0;
            const io::QslmTensor* src = q.find(name);
            if (src == nullptr) {
                missing.push_back(name);
                return;
            }
            used.insert(name);
            if (matrix) {
                const auto [rows, cols] = matrix_shape(name, c);
                if (src->rows != rows || src->cols != cols) {
                    problems.push_back("'" + name + "' is [" + std::to_string(src->rows) + ", " + std::to_string(src->cols) +
                                       "], expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
                    return;
                }
                t.shape = {rows, cols};
                if (src->is_packed()) {
                    packed[m] = src;
                    return;
                }
                t.data = src->float_values();
            } else {
                if (src->rows != 1 || src->cols != c.n_embd) {
                    problems.push_back("'" + name + "' is [" + std::to_string(src->rows) + ", " + std::to_string(src->cols) +
                                       "], expected [" + std::to_string(c.n_embd) + "]");
                    return;
                }
                t.shape = {c.n_embd};
                t.data = src->dequantize();
            }
            if (std::any_of(t.data.begin(), t.data.end(), [](float v) { return !std::isfinite(v); }))
                problems.push_back("'" + name + "' holds NaN or infinite values");
        });
        auto size_matches = [&](const char* key, std::size_t inferred) {
            if (cfg.contains(key) && (!cfg[key].is_number_unsigned() || cfg[key].get<std::uint64_t>() != inferred))
                problems.push_back("config says " + std::string(key) + " = " + cfg[key].dump() + " but the tensor shapes give " +
                                   std::to_string(inferred));
        };
        size_matches("vocab_size", c.vocab_size);
        size_matches("n_layer", c.n_layer);
        size_matches("n_embd", c.n_embd);
        size_matches("ffn_hidden", c.ffn_hidden);
        auto number = [&](const char* key, float& out) {
            if (!cfg.contains(key)) return;
            if (!cfg[key].is_number() || !std::isfinite(cfg[key].get<double>()))
                problems.push_back("config entry '" + std::string(key) + "' is " + cfg[key].dump() + ", not a finite number");
            else out = static_cast<float>(cfg[key].get<double>());
        };
        number("ln_eps", c.ln_eps);
        number("tau", c.tau);
        number("v_threshold", c.v_threshold);
        number("v_reset", c.v_reset);
        if (cfg.contains("binary_embedding")) {
            if (cfg["binary_embedding"].is_boolean()) c.binary_embedding = cfg["binary_embedding"].get<bool>();
            else problems.push_back("config entry 'binary_embedding' is not true or false");
        }
        if (!(c.tau > 0.0f)) problems.push_back("LIF tau must be positive");
        if (!(c.ln_eps > 0.0f)) problems.push_back("ln_eps must be positive");
        if (!missing.empty() || !problems.empty()) {
            std::string msg = ".qslm model: not a usable SpikeGPT model:";
            auto join = [](const std::vector<std::string>& v) {
                std::string out;
                for (std::size_t i = 0; i < v.size() && i < 20; ++i) out += (i ? ", " : " ") + v[i];
                if (v.size() > 20) out += ", ... (" + std::to_string(v.size() - 20) + " more)";
                return out;
            };
            if (!missing.empty()) msg += " missing " + std::to_string(missing.size()) + " tensor(s):" + join(missing) + ";";
            if (!problems.empty()) msg += " " + std::to_string(problems.size()) + " problem(s):" + join(problems);
            if (msg.back() == ';') msg.pop_back();
            fail(missing.empty() ? Status::bad_shape : Status::not_found, msg);
        }
        nlohmann::json config = nlohmann::json::object();
        for (const char* key : {"vocab_size", "n_layer", "n_embd", "tau", "v_threshold", "v_reset", "ln_eps", "binary_embedding"})
            if (cfg.contains(key)) config[key] = cfg[key];
        ck.metadata["config"] = config.dump();
        for (const auto& t : q.tensors)
            if (!used.count(t.name)) ck.unused_tensors.push_back(t.name);
        return ck;
    }

    io::SpikeGptCheckpoint ck_;
    SpikeGptOptions options_{};
    std::vector<MatrixInfo> matrices_;
    std::vector<SpikeGptMatrixKind> kinds_;
    std::vector<std::optional<std::vector<float>>> overrides_;
    std::vector<LowBitPtr> packed_;                     ///< per matrix; null = float
    std::shared_ptr<const AnyPackedTensor> emb_packed_;  ///< the embedding table, when packed
    std::vector<std::string> float_fallbacks_;           ///< packed matrices the kernel did not take

public:
    /// Packed matrices of the loaded .qslm that run on floats because the low-bit kernel does
    /// not take their width or encoding ("name: reason").
    [[nodiscard]] const std::vector<std::string>& float_fallbacks() const noexcept { return float_fallbacks_; }
};

}  // namespace qslm::models
