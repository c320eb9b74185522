#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include "qslm/eval/parallel.hpp"
#include "qslm/eval/token_metrics.hpp"

using namespace qslm;
using namespace qslm::eval;

TEST_CASE("log-softmax normalises rows and survives huge logits") {
    std::vector<float> row = {1000.0f, 1000.0f, 1000.0f + std::log(2.0f)};
    log_softmax_in_place(row);
    CHECK(row[0] == Approx(std::log(0.25)).epsilon(1e-4));  // float logits near 1000: ~1e-4 resolution
    CHECK(row[2] == Approx(std::log(0.5)).epsilon(1e-4));
    std::vector<float> bad = {0.0f, NAN};
    CHECK_THROWS_WITH(log_softmax_in_place(bad), Catch::Contains("NaN or infinity"));
    std::vector<float> empty;
    CHECK_THROWS_WITH(log_softmax_in_place(empty), Catch::Contains("empty row"));
}

TEST_CASE("perplexity, bits per char and word perplexity follow from the token NLLs") {
    NllAccumulator nll;
    nll.add(std::log(2.0));  // p = 1/2
    nll.add(std::log(8.0));  // p = 1/8
    CHECK(nll.mean_nll() == Approx(std::log(4.0)));
    CHECK(nll.perplexity() == Approx(4.0));
    CHECK(nll.bits_per_char() == Approx(2.0));  // (1 + 3) bits over 2 bytes
    // 2 bits per char, 10 bytes over 2 words: 20 bits per 2 words -> 2^10 per word
    CHECK(word_perplexity(2.0, 10, 2) == Approx(1024.0));
    NllAccumulator other;
    other.add(0.0, 3);
    nll.merge(other);
    CHECK(nll.tokens() == 3);
    CHECK(nll.bytes() == 5);
    CHECK(nll.bits_per_char() == Approx(4.0 / 5.0));
    CHECK_THROWS_WITH(NllAccumulator{}.perplexity(), Catch::Contains("no tokens"));
    CHECK_THROWS_WITH(nll.add(-1.0), Catch::Contains("negative log-likelihood"));
    CHECK_THROWS_WITH(word_perplexity(1.0, 5, 0), Catch::Contains("no words"));
}

TEST_CASE("KL divergence and top-1 agreement compare distributions token by token") {
    TokenDistributions p, q;
    p.vocab = q.vocab = 2;
    p.log_probs = {std::log(0.5f), std::log(0.5f), std::log(0.9f), std::log(0.1f)};
    q.log_probs = {std::log(0.25f), std::log(0.75f), std::log(0.9f), std::log(0.1f)};
    const double kl0 = 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75);
    CHECK(mean_kl_divergence(p, q) == Approx(kl0 / 2));
    CHECK(mean_kl_divergence(p, p) == Approx(0.0).margin(1e-12));
    CHECK(top1_agreement(p, q) == Approx(0.5));  // row 0: 0 vs 1 (tie picks index 0); row 1 agrees
    TokenDistributions r;
    r.vocab = 3;
    r.log_probs.assign(6, 0.0f);
    CHECK_THROWS_WITH(mean_kl_divergence(p, r), Catch::Contains("differ in shape"));
}

TEST_CASE("accuracy counts matching predictions and rejects mismatched lengths") {
    const std::vector<int> pred = {1, 0, 1, 1}, labels = {1, 1, 1, 0};
    CHECK(accuracy(pred, labels) == Approx(0.5));
    CHECK_THROWS_WITH(accuracy(std::vector<int>{1}, labels), Catch::Contains("1 predictions for 4 labels"));
    CHECK_THROWS_WITH(accuracy(std::vector<int>{}, std::vector<int>{}), Catch::Contains("empty"));
}

TEST_CASE("parallel_map returns results in index order for any thread count and rethrows errors") {
    const unsigned threads = GENERATE(1u, 2u, 3u, 8u);
    const auto out = parallel_map(100, threads, [](std::size_t i) { return static_cast<int>(i * i); });
    REQUIRE(out.size() == 100);
    for (std::size_t i = 0; i < 100; ++i) CHECK(out[i] == static_cast<int>(i * i));
    CHECK_THROWS_WITH(parallel_map(10, threads,
                                   [](std::size_t i) -> int {
                                       if (i == 7) fail(Status::invalid_argument, "seven");
                                       return 0;
                                   }),
                      Catch::Contains("seven"));
    CHECK(parallel_map(0, threads, [](std::size_t) { return 1; }).empty());
}
