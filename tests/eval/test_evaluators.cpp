#include <catch2/catch.hpp>

#include <cmath>
#include <span>

#include "qslm/eval/classification_evaluator.hpp"
#include "qslm/eval/data_free.hpp"
#include "qslm/eval/lm_evaluator.hpp"

using namespace qslm;
using namespace qslm::eval;

namespace {
/// A bigram "model" over a vocabulary of 4: after token a it predicts (a + 1) % 4 with
/// probability `confidence`, the rest spread evenly.
struct Bigram {
    double confidence = 0.7;
};
std::vector<float> bigram_logits(const Bigram& m, std::span<const int> tokens) {
    std::vector<float> out;
    for (const int t : tokens)
        for (int v = 0; v < 4; ++v)
            out.push_back(static_cast<float>(std::log(v == (t + 1) % 4 ? m.confidence : (1 - m.confidence) / 3)));
    return out;
}
const auto scorer = [](const Bigram& m, std::span<const int> tokens) { return bigram_logits(m, tokens); };

/// The same bigram as a step-by-step sampler.
struct BigramSampler {
    Bigram m;
    int resets = 0;
    void reset() { ++resets; }
    std::vector<float> step(int token) { return bigram_logits(m, std::span<const int>(&token, 1)); }
};
}  // namespace

TEST_CASE("the language-model evaluator's perplexity equals the hand-computed one, for any thread count") {
    // 0 1 2 3 0 : every transition predicted (p = 0.7); 0 2 : p = 0.1
    LanguageModelEvaluator ev(scorer, 4, {{0, 1, 2, 3, 0}, {0, 2}}, {}, {LmMetric::perplexity, 0.0});
    const unsigned threads = GENERATE(1u, 2u);
    const auto e = ev.evaluate(Bigram{}, {true, false, threads});
    const double mean_nll = -(4 * std::log(0.7) + std::log(0.1)) / 5;
    CHECK(e.performance.metric == "perplexity");
    CHECK_FALSE(e.performance.higher_is_better());
    CHECK(e.performance.value == Approx(std::exp(mean_nll)));
    CHECK(e.distributions.rows() == 5);
    CHECK(std::exp(e.distributions.row(0)[1]) == Approx(0.7));

    LanguageModelEvaluator bpc(scorer, 4, {{0, 1, 2, 3, 0}, {0, 2}});
    CHECK(bpc.evaluate(Bigram{}, {}).performance.value == Approx(mean_nll / std::log(2.0)));
    CHECK(bpc.evaluate(Bigram{}, {}).distributions.empty());
}

TEST_CASE("a worse model scores worse, and KL against the float model grows with the damage") {
    LanguageModelEvaluator ev(scorer, 4, {{0, 1, 2, 3, 0, 1, 2}});
    const auto ref = ev.evaluate(Bigram{0.9}, {true, false, 1});
    const auto a = ev.evaluate(Bigram{0.8}, {true, false, 1});
    const auto b = ev.evaluate(Bigram{0.5}, {true, false, 1});
    CHECK(a.performance.relative_to(ref.performance) < 1.0);
    CHECK(b.performance.relative_to(ref.performance) < a.performance.relative_to(ref.performance));
    CHECK(mean_kl_divergence(ref.distributions, b.distributions) > mean_kl_divergence(ref.distributions, a.distributions));
    CHECK(top1_agreement(ref.distributions, b.distributions) == 1.0);
}

TEST_CASE("the full set is used only when asked for") {
    LanguageModelEvaluator ev(scorer, 4, {{0, 1}}, {{0, 2}});
    CHECK(ev.evaluate(Bigram{}, {false, false, 1}).performance.value == Approx(-std::log(0.7) / std::log(2.0)));
    CHECK(ev.evaluate(Bigram{}, {false, true, 1}).performance.value == Approx(-std::log(0.1) / std::log(2.0)));
}

TEST_CASE("the language-model evaluator rejects bad data and bad model outputs clearly") {
    CHECK_THROWS_WITH(LanguageModelEvaluator(scorer, 4, {}), Catch::Contains("no sequences"));
    CHECK_THROWS_WITH(LanguageModelEvaluator(scorer, 4, {{1}}), Catch::Contains("fewer than 2 tokens"));
    CHECK_THROWS_WITH(LanguageModelEvaluator(scorer, 4, {{1, 4}}), Catch::Contains("token 4 outside the vocabulary"));
    CHECK_THROWS_WITH(LanguageModelEvaluator(scorer, 4, {{1, 2}}, {}, {LmMetric::word_perplexity, 0.0}),
                      Catch::Contains("bytes_per_word"));
    auto short_scorer = [](const Bigram&, std::span<const int>) { return std::vector<float>(3, 0.0f); };
    LanguageModelEvaluator bad(short_scorer, 4, {{1, 2}});
    CHECK_THROWS_WITH(bad.evaluate(Bigram{}, {}), Catch::Contains("returned 3 logits"));
}

TEST_CASE("word-level perplexity spreads the bits over words") {
    LanguageModelEvaluator ev(scorer, 4, {{0, 1, 2}}, {}, {LmMetric::word_perplexity, 5.0});
    const double bpc = -std::log(0.7) / std::log(2.0);
    CHECK(ev.evaluate(Bigram{}, {}).performance.value == Approx(std::exp2(bpc * 5.0)));
}

TEST_CASE("the classification evaluator measures accuracy and class distributions") {
    auto classify = [](const double& bias, std::string_view text) {
        const bool positive = text.find("good") != std::string_view::npos;
        return std::vector<float>{static_cast<float>(positive ? -bias : bias), static_cast<float>(positive ? bias : -bias)};
    };
    ClassificationEvaluator ev(classify, 2, {{1, "good film"}, {0, "bad film"}, {1, "fine, not bad"}, {0, "so good"}});
    const auto e = ev.evaluate(1.0, {true, false, 2});
    CHECK(e.performance.metric == "accuracy");
    CHECK(e.performance.value == Approx(0.5));
    CHECK(e.distributions.rows() == 4);
    CHECK_THROWS_WITH(ClassificationEvaluator(classify, 2, {{2, "x"}}), Catch::Contains("label 2 outside"));
}

TEST_CASE("data-free sampling is reproducible for a seed and follows the model") {
    BigramSampler s;
    SamplingOptions o;
    o.sequences = 3;
    o.length = 50;
    o.seed = 42;
    o.start_tokens = {0};
    const auto a = sample_sequences(s, o);
    const auto b = sample_sequences(s, o);
    CHECK(a == b);
    CHECK(s.resets == 6);
    REQUIRE(a.size() == 3);
    CHECK(a[0].size() == 50);
    CHECK(a[0] != a[1]);  // each sequence has its own stream
    o.seed = 43;
    CHECK(sample_sequences(s, o) != a);
    std::size_t follows = 0, total = 0;
    for (const auto& seq : a)
        for (std::size_t i = 1; i < seq.size(); ++i, ++total) follows += seq[i] == (seq[i - 1] + 1) % 4;
    CHECK(static_cast<double>(follows) / static_cast<double>(total) == Approx(0.7).margin(0.12));

    o.temperature = 0.0;  // greedy: always the successor
    const auto g = sample_sequences(s, o);
    for (std::size_t i = 1; i < g[0].size(); ++i) CHECK(g[0][i] == (g[0][i - 1] + 1) % 4);
    o.sequences = 0;
    CHECK_THROWS_WITH(sample_sequences(s, o), Catch::Contains("at least one sequence"));
}

TEST_CASE("top-k sampling only draws among the k most likely tokens") {
    std::mt19937_64 rng(1);
    const std::vector<float> logits = {0.0f, 5.0f, 4.0f, -1.0f};
    for (int i = 0; i < 200; ++i) {
        const int t = sample_token(logits, 2.0, 2, rng);
        CHECK((t == 1 || t == 2));
    }
}
