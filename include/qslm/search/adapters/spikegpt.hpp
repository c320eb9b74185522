#pragma once
// SpikeGPT as a search subject: the QuantizableModel adapter and a batched evaluator.
//
//   auto model = qslm::models::SpikeGptModel::load("models/spikegpt.safetensors");
//   qslm::search::SpikeGptSearchModel subject(model);           // hierarchy from the checkpoint
//   qslm::search::SpikeGptEvaluator evaluator(calibration, full, {.metric = LmMetric::word_perplexity, ...});
//   auto result = qslm::search::Tiered<...>{options}.run(subject, evaluator, constraints);
//
// The hierarchy comes from the model's own matrix table (checkpoint names): `emb` and `head`
// are units of their own, `blocks.N` holds that block's time-mix {key, value, receptance,
// output} and channel-mix {key, receptance, value}. A binary embedding is not searched (see
// the constructor): it is kept as its 1-bit sign code, which is exact for that model.
//
// The evaluator runs every sequence through SpikeGptInstance::logits_many, which batches
// streams (much faster per token than one stream at a time) and splits them over threads; the
// result is bit-identical for any thread count.
//
// Host-only header.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/evaluation.hpp"
#include "qslm/eval/lm_evaluator.hpp"
#include "qslm/eval/performance.hpp"
#include "qslm/eval/token_metrics.hpp"
#include "qslm/io/spikegpt_model.hpp"
#include "qslm/search/hierarchy.hpp"
#include "qslm/search/model.hpp"
#include "qslm/search/setting_energy.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::search {

class SpikeGptSearchModel {
public:
    /// `model` must outlive the adapter and every variant it hands out.
    explicit SpikeGptSearchModel(const models::SpikeGptModel& model)
        : model_(model), binary_embedding_(model.options().binary_embedding), first_(binary_embedding_ ? 1 : 0) {
        const auto& matrices = model.matrices();
        std::vector<NamedShape> shapes;
        for (std::size_t i = first_; i < matrices.size(); ++i) shapes.push_back({matrices[i].name, matrices[i].rows, matrices[i].cols});
        hierarchy_ = Hierarchy::from_tensor_names("spikegpt", shapes, 2);
        // Everything that is not a searched matrix (LayerNorms, time-mix/decay vectors) stays
        // in float32: a few KB that the budget must still pay for.
        std::size_t all_values = 0;
        model.checkpoint().for_each_tensor(
            [&](const std::string&, const io::FloatTensor& t) { all_values += t.values().size(); });
        std::size_t matrix_values = 0;
        for (const auto& m : matrices) matrix_values += m.rows * m.cols;
        unsearched_bytes_ = (all_values - matrix_values) * sizeof(float);
        if (binary_embedding_) {
            // A binary embedding feeds the first block (emb >= 0): only the signs matter. A
            // 1-bit ±1 code keeps every sign (w >= 0 <=> level +1, -0.0 included) and is
            // therefore lossless, while a multi-bit grid rounds small negative weights to 0,
            // which flips them into spikes. So the embedding is not searched: it is stored
            // as its sign bits.
            const auto& e = matrices[0];
            sign_embedding_ = value_or_throw(
                AnyPackedTensor::quantize(1, model.matrix_weights(0), e.rows, e.cols, {ScaleLayout::per_tensor()}),
                "SpikeGPT adapter: sign code of " + e.name);
            sign_embedding_values_ = sign_embedding_->dequantize();
            unsearched_bytes_ += sign_embedding_->bytes();
        }
    }

    [[nodiscard]] const Hierarchy& hierarchy() const noexcept { return hierarchy_; }
    [[nodiscard]] std::span<const float> module_weights(std::size_t m) const {
        return model_.matrix_weights(matrix_index(m));
    }
    [[nodiscard]] std::size_t unsearched_bytes() const noexcept { return unsearched_bytes_; }

    /// A runnable model whose quantized modules read the dequantized weights of `w` (which must
    /// outlive the returned instance; the search keeps them alive while it evaluates).
    [[nodiscard]] models::SpikeGptInstance quantized(const QuantizedWeights& w) const {
        if (w.size() != hierarchy_.module_count())
            fail(Status::bad_shape, "SpikeGPT adapter: setting has " + std::to_string(w.size()) + " modules, expected " +
                                        std::to_string(hierarchy_.module_count()));
        std::vector<std::span<const float>> replacements(model_.matrices().size());
        if (binary_embedding_) replacements[0] = sign_embedding_values_;
        for (std::size_t m = 0; m < w.size(); ++m)
            if (!w.is_float(m)) replacements[matrix_index(m)] = w.dequantized(m);
        return model_.instance(replacements);
    }

    /// The model's matrix index of searched module m.
    [[nodiscard]] std::size_t matrix_index(std::size_t module) const noexcept { return module + first_; }
    /// The 1-bit sign code of a binary embedding (stored, not searched); null otherwise.
    [[nodiscard]] const AnyPackedTensor* fixed_embedding() const noexcept {
        return sign_embedding_ ? &*sign_embedding_ : nullptr;
    }
    [[nodiscard]] const models::SpikeGptModel& model() const noexcept { return model_; }

private:
    const models::SpikeGptModel& model_;
    bool binary_embedding_ = false;
    std::size_t first_ = 0;
    Hierarchy hierarchy_{"spikegpt"};
    std::size_t unsearched_bytes_ = 0;
    std::optional<AnyPackedTensor> sign_embedding_;
    std::vector<float> sign_embedding_values_;
};
static_assert(QuantizableModel<SpikeGptSearchModel>);

/// The float model's operation counts over `tokens` fed to one stream, for SettingEnergy (energy
/// per token of any setting, float and chosen side by side in the report).
inline MeasuredRun measure_float_run(const SpikeGptSearchModel& subject, std::span<const int> tokens) {
    if (tokens.empty()) fail(Status::invalid_argument, "SpikeGPT energy run: no tokens to run");
    MeasuredRun run;
    run.counts = subject.model().instance().count_ops(tokens);
    run.tokens = run.weight_fetches = tokens.size();
    return run;
}

/// Token-by-token stepping over one stream, for data-free sampling (eval::AutoregressiveModel).
class SpikeGptSampler {
public:
    explicit SpikeGptSampler(models::SpikeGptInstance instance)
        : instance_(std::move(instance)),
          state_(instance_.model().state_floats()),
          scratch_(instance_.model().scratch_floats()),
          logits_(instance_.model().vocab_size()),
          stream_(instance_.model(), state_, scratch_, logits_) {}
    SpikeGptSampler(const SpikeGptSampler&) = delete;
    SpikeGptSampler& operator=(const SpikeGptSampler&) = delete;

    void reset() { throw_if_failed(stream_.reset(), "SpikeGPT sampler: cannot reset the state"); }
    std::vector<float> step(int token) {
        if (token < 0) fail(Status::out_of_range, "SpikeGPT sampler: negative token id");
        auto r = stream_.step(static_cast<std::uint32_t>(token));
        if (!r) fail(r.status(), r.message());
        return {r->begin(), r->end()};
    }

private:
    models::SpikeGptInstance instance_;
    std::vector<float> state_, scratch_, logits_;
    models::SpikeGptStream stream_;
};

struct SpikeGptEvaluatorOptions {
    eval::LmMetric metric = eval::LmMetric::bits_per_char;
    double bytes_per_word = 0.0;  ///< bytes / words of the text (word_perplexity only)
    std::size_t batch = 8;        ///< streams run in lock step per thread
};

/// Scores a SpikeGptInstance on byte-token sequences (calibration set, and a larger full set
/// for the search's final check). Each sequence starts from a fresh state; row t of its logits
/// predicts token t + 1.
class SpikeGptEvaluator {
public:
    SpikeGptEvaluator(std::vector<std::vector<int>> calibration, std::vector<std::vector<int>> full = {},
                      SpikeGptEvaluatorOptions options = {})
        : calibration_(std::move(calibration)), full_(std::move(full)), options_(options) {
        check(calibration_, "calibration");
        if (!full_.empty()) check(full_, "full evaluation");
        if (options_.metric == eval::LmMetric::word_perplexity && !(options_.bytes_per_word > 0.0))
            fail(Status::invalid_argument, "word-level perplexity needs bytes_per_word > 0");
    }

    [[nodiscard]] eval::Evaluation evaluate(const models::SpikeGptInstance& model, const eval::EvalRequest& request) const {
        const auto& sequences = request.full && !full_.empty() ? full_ : calibration_;
        const auto logits = model.logits_many(sequences, {.threads = std::max(1u, request.threads), .batch = options_.batch});
        const std::size_t V = model.vocab_size();
        eval::NllAccumulator nll;
        eval::Evaluation out;
        out.distributions.vocab = V;
        for (std::size_t s = 0; s < sequences.size(); ++s) {
            const auto& tokens = sequences[s];
            std::vector<float> rows(logits[s].begin(), logits[s].begin() + static_cast<std::ptrdiff_t>((tokens.size() - 1) * V));
            for (std::size_t t = 0; t + 1 < tokens.size(); ++t) {
                std::span<float> row(rows.data() + t * V, V);
                eval::log_softmax_in_place(row);
                nll.add(-static_cast<double>(row[static_cast<std::size_t>(tokens[t + 1])]));
            }
            if (request.distributions)
                out.distributions.log_probs.insert(out.distributions.log_probs.end(), rows.begin(), rows.end());
        }
        out.performance = to_performance(nll);
        return out;
    }

    [[nodiscard]] const std::vector<std::vector<int>>& calibration() const noexcept { return calibration_; }
    [[nodiscard]] const std::vector<std::vector<int>>& full() const noexcept { return full_; }

private:
    static void check(const std::vector<std::vector<int>>& seqs, const char* what) {
        if (seqs.empty()) fail(Status::invalid_argument, std::string("the ") + what + " set has no sequences");
        for (std::size_t s = 0; s < seqs.size(); ++s)
            if (seqs[s].size() < 2)
                fail(Status::invalid_argument, std::string(what) + " sequence " + std::to_string(s) +
                                                   " has fewer than 2 tokens (nothing to predict)");
    }
    [[nodiscard]] eval::Performance to_performance(const eval::NllAccumulator& nll) const {
        switch (options_.metric) {
            case eval::LmMetric::perplexity: return eval::lower_is_better(nll.perplexity(), "perplexity");
            case eval::LmMetric::bits_per_char: return eval::lower_is_better(nll.bits_per_char(), "bits_per_char");
            case eval::LmMetric::word_perplexity:
                return eval::lower_is_better(std::exp2(nll.bits_per_char() * options_.bytes_per_word), "word_perplexity");
        }
        return eval::lower_is_better(nll.perplexity(), "perplexity");
    }

    std::vector<std::vector<int>> calibration_;
    std::vector<std::vector<int>> full_;
    SpikeGptEvaluatorOptions options_;
};

}  // namespace qslm::search
