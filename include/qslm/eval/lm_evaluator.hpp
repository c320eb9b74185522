#pragma once
// LanguageModelEvaluator: scores a language model on token sequences (a calibration set, and
// optionally a larger full set for the final check), by perplexity, bits per character or
// word-level perplexity, and hands out per-token distributions for the KL sensitivity.
//
// The model side is one callable, so an adapter needs no evaluation code of its own:
//
//   auto scorer = [](const SpikeGptVariant& m, std::span<const int> tokens) -> std::vector<float> {
//       return m.logits(tokens);   // tokens.size() x vocab, row t predicts tokens[t + 1]
//   };
//   qslm::eval::LanguageModelEvaluator eval(scorer, 256, calibration_sequences);
//
// Sequences are scored independently (each starts from a fresh model state), split across the
// threads the request allows; sums are merged in sequence order, so the result is the same for
// any thread count.
//
// Host-only header.

#include <cmath>
#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/evaluation.hpp"
#include "qslm/eval/parallel.hpp"
#include "qslm/eval/token_metrics.hpp"

namespace qslm::eval {

enum class LmMetric : unsigned char {
    perplexity,       ///< per token, exp(mean NLL)
    bits_per_char,    ///< sum NLL / ln 2 / bytes; a byte-level model has one byte per token
    word_perplexity,  ///< 2^(bpc * bytes / words); needs bytes_per_word
};

struct LmEvaluatorOptions {
    LmMetric metric = LmMetric::bits_per_char;
    double bytes_per_word = 0.0;  ///< bytes / words of the evaluated text (word_perplexity only)
};

template <class Scorer>
class LanguageModelEvaluator {
public:
    LanguageModelEvaluator(Scorer scorer, std::size_t vocab, std::vector<std::vector<int>> calibration,
                           std::vector<std::vector<int>> full = {}, LmEvaluatorOptions options = {})
        : scorer_(std::move(scorer)), vocab_(vocab), calibration_(std::move(calibration)), full_(std::move(full)),
          options_(options) {
        if (vocab_ < 2) fail(Status::invalid_argument, "language model evaluator: a vocabulary needs at least 2 tokens");
        check_sequences(calibration_, "calibration");
        if (!full_.empty()) check_sequences(full_, "full evaluation");
        if (options_.metric == LmMetric::word_perplexity && !(options_.bytes_per_word > 0.0))
            fail(Status::invalid_argument, "word-level perplexity needs bytes_per_word > 0 (bytes / words of the text)");
    }

    template <class Variant>
        requires std::invocable<const Scorer&, const Variant&, std::span<const int>>
    Evaluation evaluate(const Variant& model, const EvalRequest& request) const {
        const auto& sequences = request.full && !full_.empty() ? full_ : calibration_;
        auto parts = parallel_map(sequences.size(), request.threads, [&](std::size_t s) {
            return score_sequence(model, sequences[s], request.distributions, s);
        });
        NllAccumulator total;
        Evaluation out;
        out.distributions.vocab = vocab_;
        for (auto& p : parts) {
            total.merge(p.first);
            out.distributions.append(p.second);
        }
        out.performance = to_performance(total);
        return out;
    }

    [[nodiscard]] std::size_t vocab() const noexcept { return vocab_; }
    [[nodiscard]] const std::vector<std::vector<int>>& calibration() const noexcept { return calibration_; }

private:
    void check_sequences(const std::vector<std::vector<int>>& seqs, const char* what) const {
        if (seqs.empty()) fail(Status::invalid_argument, std::string("the ") + what + " set has no sequences");
        for (std::size_t s = 0; s < seqs.size(); ++s) {
            if (seqs[s].size() < 2)
                fail(Status::invalid_argument, std::string(what) + " sequence " + std::to_string(s) +
                                                   " has fewer than 2 tokens (nothing to predict)");
            for (const int t : seqs[s])
                if (t < 0 || static_cast<std::size_t>(t) >= vocab_)
                    fail(Status::out_of_range, std::string(what) + " sequence " + std::to_string(s) + " has token " +
                                                   std::to_string(t) + " outside the vocabulary of " +
                                                   std::to_string(vocab_));
        }
    }

    template <class Variant>
    std::pair<NllAccumulator, TokenDistributions> score_sequence(const Variant& model, const std::vector<int>& tokens,
                                                                 bool keep_distributions, std::size_t index) const {
        std::vector<float> logits = scorer_(model, std::span<const int>(tokens));
        const std::size_t predictions = tokens.size() - 1;
        // Row t predicts token t + 1; a scorer may or may not return the row after the last token.
        if (logits.size() != tokens.size() * vocab_ && logits.size() != predictions * vocab_)
            fail(Status::bad_shape, "the model returned " + std::to_string(logits.size()) + " logits for sequence " +
                                        std::to_string(index) + " of " + std::to_string(tokens.size()) +
                                        " tokens; expected tokens x vocab = " +
                                        std::to_string(tokens.size() * vocab_));
        logits.resize(predictions * vocab_);
        NllAccumulator nll;
        for (std::size_t t = 0; t < predictions; ++t) {
            std::span<float> row(logits.data() + t * vocab_, vocab_);
            log_softmax_in_place(row);
            nll.add(-static_cast<double>(row[static_cast<std::size_t>(tokens[t + 1])]));
        }
        TokenDistributions dist;
        if (keep_distributions) {
            dist.vocab = vocab_;
            dist.log_probs = std::move(logits);
        }
        return {nll, std::move(dist)};
    }

    [[nodiscard]] Performance to_performance(const NllAccumulator& nll) const {
        switch (options_.metric) {
            case LmMetric::perplexity: return lower_is_better(nll.perplexity(), "perplexity");
            case LmMetric::bits_per_char: return lower_is_better(nll.bits_per_char(), "bits_per_char");
            case LmMetric::word_perplexity:
                return lower_is_better(std::exp2(nll.bits_per_char() * options_.bytes_per_word), "word_perplexity");
        }
        return lower_is_better(nll.perplexity(), "perplexity");
    }

    Scorer scorer_;
    std::size_t vocab_;
    std::vector<std::vector<int>> calibration_;
    std::vector<std::vector<int>> full_;
    LmEvaluatorOptions options_;
};

}  // namespace qslm::eval
