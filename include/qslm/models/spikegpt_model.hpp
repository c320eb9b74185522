#pragma once
// SpikeGptModel: host-side owner of a SpikeGPT model's float weights, loaded from a
// safetensors checkpoint (reference tensor names, any depth/width/vocabulary) or a .qslm file
// (packed weights are dequantized once). It hands out SpikeGptInstance objects: cheap,
// non-owning runnable views in which any subset of the weight matrices can be replaced by other
// float buffers (e.g. quantized-then-dequantized weights) without copying the rest. That is
// what the quantizer search needs:
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
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/core/error.hpp"
#include "qslm/io/qslm_model.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/safetensors_writer.hpp"
#include "qslm/io/spikegpt_checkpoint.hpp"
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

struct SpikeGptLoadOptions {
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
    SpikeGptInstance(SpikeGptWeights weights, std::vector<layers::SpikeGptBlockWeights> blocks, SpikeGptOptions options)
        : weights_(weights), blocks_(std::move(blocks)), options_(options) {
        rebuild();
    }
    SpikeGptInstance(const SpikeGptInstance& o) : weights_(o.weights_), blocks_(o.blocks_), options_(o.options_) { rebuild(); }
    SpikeGptInstance(SpikeGptInstance&& o) noexcept = default;  // the vector's buffer moves with it
    SpikeGptInstance& operator=(const SpikeGptInstance& o) {
        if (this != &o) {
            weights_ = o.weights_;
            blocks_ = o.blocks_;
            options_ = o.options_;
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
    SpikeGpt model_{};
};

class SpikeGptModel {
public:
    /// A SpikeGPT .safetensors checkpoint (reference names) or a .qslm file, told apart by the
    /// file's first bytes (not its extension).
    static SpikeGptModel load(const std::filesystem::path& path, const SpikeGptLoadOptions& options = {}) {
        if (is_qslm_file(path)) {
            io::QslmLoadOptions lo;
            io::QslmModel q = io::load_qslm(path, lo);
            SpikeGptModel m = from_qslm(q, options);
            if (options.verify_test_vector && q.test_vector) m.verify(q, path.string());
            return m;
        }
        return from_checkpoint(io::load_spikegpt_checkpoint(path), options);
    }

    static SpikeGptModel from_checkpoint(io::SpikeGptCheckpoint ck, const SpikeGptLoadOptions& options = {}) {
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
        (void)m.instance();  // validates the whole model once, with the library's messages
        return m;
    }

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
        io::SpikeGptCheckpoint ck = checkpoint_from_qslm(q, cfg);
        SpikeGptLoadOptions o = options;
        if (!o.runner_rescale_every && cfg.contains("runner_rescale_every") && cfg["runner_rescale_every"].is_number_unsigned())
            o.runner_rescale_every = cfg["runner_rescale_every"].get<std::size_t>();
        return from_checkpoint(std::move(ck), o);
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
    /// The weights as loaded.
    [[nodiscard]] std::span<const float> original_weights(std::size_t m) const {
        check_index(m);
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
        if (!replacements.empty() && replacements.size() != matrices_.size())
            fail(Status::bad_shape, "SpikeGPT instance: " + std::to_string(replacements.size()) +
                                        " replacements given; pass none or one per matrix (" +
                                        std::to_string(matrices_.size()) + ")");
        auto pick = [&](std::size_t m) {
            if (!replacements.empty() && !replacements[m].empty()) {
                check_replacement(m, replacements[m]);
                return replacements[m];
            }
            return matrix_weights(m);
        };
        const auto& c = ck_.config;
        SpikeGptWeights w;
        w.vocab_size = c.vocab_size;
        w.n_embd = c.n_embd;
        w.ffn_hidden = c.ffn_hidden;
        w.emb = pick(0);
        w.ln_out_weight = ck_.ln_out_weight.values();
        w.ln_out_bias = ck_.ln_out_bias.values();
        w.head = pick(matrices_.size() - 1);
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
            o.att_key = pick(base + 0);
            o.att_value = pick(base + 1);
            o.att_receptance = pick(base + 2);
            o.att_output = pick(base + 3);
            o.ffn_key = pick(base + 4);
            o.ffn_receptance = pick(base + 5);
            o.ffn_value = pick(base + 6);
        }
        return SpikeGptInstance(w, std::move(blocks), options_);
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
        SpikeGptModel copy = *this;
        io::QslmModel q;
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
        q.config_json = cfg.dump();
        if (config().vocab_size == 256) q.tokenizer_json = R"({"type": "bytes"})";
        std::size_t next_matrix = 0;
        ck_.for_each_tensor([&](const std::string& name, const io::FloatTensor& t) {
            const bool is_matrix = next_matrix < matrices_.size() && matrices_[next_matrix].name == name;
            if (is_matrix) {
                const std::size_t m = next_matrix++;
                if (!packed.empty() && packed[m] != nullptr) {
                    q.add(io::QslmTensor::from_any(name, *packed[m]));
                    copy.set_matrix(m, *packed[m]);
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
            const auto all = copy.logits(std::span<const std::uint32_t>(test_tokens));
            io::QslmTestVector tv;
            tv.input = test_tokens;
            tv.expected.assign(all.end() - static_cast<std::ptrdiff_t>(vocab_size()), all.end());
            tv.abs_tolerance = 1e-4f;
            tv.rel_tolerance = 1e-4f;
            q.test_vector = std::move(tv);
        }
        return q;
    }

    /// Runs a .qslm file's test vector through this model (corrupt_data when it differs).
    void verify(const io::QslmModel& q, const std::string& name = "model") const {
        io::verify_qslm(
            q,
            [&](const io::QslmModel&, std::span<const std::uint32_t> input) {
                const auto all = logits(input);
                if (all.empty()) return std::vector<float>{};
                return std::vector<float>(all.end() - static_cast<std::ptrdiff_t>(vocab_size()), all.end());
            },
            name);
    }

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

    io::SpikeGptCheckpoint ck_;
    SpikeGptOptions options_{};
    std::vector<MatrixInfo> matrices_;
    std::vector<SpikeGptMatrixKind> kinds_;
    std::vector<std::optional<std::vector<float>>> overrides_;
};

}  // namespace qslm::models
