#pragma once
// Metrics computed from a model's per-token outputs:
//
//   negative log-likelihood  NLL_t = -ln p(x_{t+1} | x_0..x_t)          (nats)
//   perplexity               exp(mean NLL)                              (per token)
//   bits per character       sum NLL / ln 2 / bytes                     (for a byte-level model
//                                                                        every token is one byte)
//   word-level perplexity    2^(bpc * bytes / words)                    (same total code length,
//                                                                        spread over words)
//   KL divergence            mean over tokens of sum_v p_ref(v) (ln p_ref(v) - ln p(v))
//   top-1 agreement          fraction of tokens whose arg-max equals the reference arg-max
//   accuracy                 fraction of predictions equal to the label
//
// Everything works on log-probabilities (rows of `vocab` floats), computed with log_softmax
// from a model's logits; sums are in double so long evaluations do not lose precision.
// Host-only header.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"

namespace qslm::eval {

/// ln-softmax of one row of logits, in place. Stable for large logits (subtracts the maximum).
inline void log_softmax_in_place(std::span<float> row) {
    if (row.empty()) fail(Status::bad_shape, "log_softmax: empty row of logits");
    float mx = row[0];
    for (const float x : row) {
        // max_element would silently skip a NaN (every comparison with it is false)
        if (!std::isfinite(x)) fail(Status::invalid_argument, "log_softmax: logits contain NaN or infinity");
        mx = std::max(mx, x);
    }
    double sum = 0.0;
    for (const float x : row) sum += std::exp(static_cast<double>(x - mx));
    const auto log_z = static_cast<float>(std::log(sum)) + mx;
    for (float& x : row) x -= log_z;
}

/// Per-token output distributions of one evaluation: `rows` predictions of `vocab`
/// log-probabilities each, row-major. What the KL-divergence sensitivity compares.
struct TokenDistributions {
    std::size_t vocab = 0;
    std::vector<float> log_probs;

    [[nodiscard]] std::size_t rows() const noexcept { return vocab == 0 ? 0 : log_probs.size() / vocab; }
    [[nodiscard]] bool empty() const noexcept { return log_probs.empty(); }
    [[nodiscard]] std::span<const float> row(std::size_t r) const noexcept {
        return std::span<const float>(log_probs).subspan(r * vocab, vocab);
    }
    void append(const TokenDistributions& other) {
        if (other.empty()) return;
        if (vocab == 0) vocab = other.vocab;
        if (vocab != other.vocab)
            fail(Status::bad_shape, "token distributions with vocabularies of " + std::to_string(vocab) + " and " +
                                        std::to_string(other.vocab) + " cannot be joined");
        log_probs.insert(log_probs.end(), other.log_probs.begin(), other.log_probs.end());
    }
};

/// Running negative log-likelihood of a language model over predicted tokens.
class NllAccumulator {
public:
    /// `bytes` is how many bytes of text the token stands for (1 for a byte-level model).
    void add(double nll_nats, std::size_t bytes = 1) {
        if (!std::isfinite(nll_nats) || nll_nats < 0.0)
            fail(Status::invalid_argument, "a token's negative log-likelihood is " + std::to_string(nll_nats) +
                                               " (a model output NaN, infinity or a probability above 1)");
        sum_nats_ += nll_nats;
        ++tokens_;
        bytes_ += bytes;
    }
    void merge(const NllAccumulator& other) noexcept {
        sum_nats_ += other.sum_nats_;
        tokens_ += other.tokens_;
        bytes_ += other.bytes_;
    }

    [[nodiscard]] std::size_t tokens() const noexcept { return tokens_; }
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
    [[nodiscard]] double total_nats() const noexcept { return sum_nats_; }
    [[nodiscard]] double mean_nll() const {
        require_tokens();
        return sum_nats_ / static_cast<double>(tokens_);
    }
    [[nodiscard]] double perplexity() const { return std::exp(mean_nll()); }
    [[nodiscard]] double bits_per_char() const {
        require_tokens();
        return sum_nats_ / std::numbers::ln2 / static_cast<double>(bytes_);
    }

private:
    void require_tokens() const {
        if (tokens_ == 0) fail(Status::invalid_argument, "no tokens were evaluated (empty evaluation set?)");
    }
    double sum_nats_ = 0.0;
    std::size_t tokens_ = 0;
    std::size_t bytes_ = 0;
};

/// Word-level perplexity from bits per character: the text's total code length, bpc * bytes
/// bits, divided over its words instead of its bytes.
inline double word_perplexity(double bits_per_char, std::size_t bytes, std::size_t words) {
    if (words == 0) fail(Status::invalid_argument, "word-level perplexity of a text with no words");
    return std::exp2(bits_per_char * static_cast<double>(bytes) / static_cast<double>(words));
}

/// KL(p_ref || p) of two rows of log-probabilities, in nats. Zero-probability entries of the
/// reference contribute nothing; a token the reference allows but `p` excludes gives +inf.
inline double kl_divergence(std::span<const float> ref_log_probs, std::span<const float> log_probs) {
    if (ref_log_probs.size() != log_probs.size() || ref_log_probs.empty())
        fail(Status::bad_shape, "KL divergence of distributions over " + std::to_string(ref_log_probs.size()) +
                                    " and " + std::to_string(log_probs.size()) + " tokens");
    double kl = 0.0;
    for (std::size_t v = 0; v < ref_log_probs.size(); ++v) {
        const double lr = ref_log_probs[v];
        if (lr == -std::numeric_limits<double>::infinity()) continue;
        kl += std::exp(lr) * (lr - static_cast<double>(log_probs[v]));
    }
    return std::max(kl, 0.0);  // rounding can make a tiny KL of identical rows negative
}

inline void require_same_shape(const TokenDistributions& a, const TokenDistributions& b) {
    if (a.vocab != b.vocab || a.log_probs.size() != b.log_probs.size() || a.empty())
        fail(Status::bad_shape, "distributions differ in shape: " + std::to_string(a.rows()) + " x " +
                                    std::to_string(a.vocab) + " against " + std::to_string(b.rows()) + " x " +
                                    std::to_string(b.vocab) + " (was the same evaluation set used?)");
}

/// Mean KL(p_ref || p) over all predicted tokens.
inline double mean_kl_divergence(const TokenDistributions& reference, const TokenDistributions& other) {
    require_same_shape(reference, other);
    double sum = 0.0;
    for (std::size_t r = 0; r < reference.rows(); ++r) sum += kl_divergence(reference.row(r), other.row(r));
    return sum / static_cast<double>(reference.rows());
}

inline std::size_t arg_max(std::span<const float> row) noexcept {
    return static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

/// Fraction of tokens whose most likely next token is the same in both (ties: the lowest index).
inline double top1_agreement(const TokenDistributions& reference, const TokenDistributions& other) {
    require_same_shape(reference, other);
    std::size_t same = 0;
    for (std::size_t r = 0; r < reference.rows(); ++r) same += arg_max(reference.row(r)) == arg_max(other.row(r));
    return static_cast<double>(same) / static_cast<double>(reference.rows());
}

/// Fraction of predictions that equal their label.
inline double accuracy(std::span<const int> predictions, std::span<const int> labels) {
    if (predictions.size() != labels.size())
        fail(Status::bad_shape, std::to_string(predictions.size()) + " predictions for " +
                                    std::to_string(labels.size()) + " labels");
    if (labels.empty()) fail(Status::invalid_argument, "accuracy of an empty set of examples");
    std::size_t right = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) right += predictions[i] == labels[i];
    return static_cast<double>(right) / static_cast<double>(labels.size());
}

}  // namespace qslm::eval
