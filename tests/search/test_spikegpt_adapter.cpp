// The SpikeGPT search adapter on the committed tiny checkpoint: the hierarchy comes from the
// checkpoint, the float setting reproduces the model exactly, the binary embedding is kept as
// a lossless sign code, and a real (small) search runs end to end within its constraints.

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "qslm/search/adapters/spikegpt.hpp"
#include "qslm/search/searcher.hpp"

using namespace qslm;

namespace {
const std::string tiny_path = std::string(QSLM_SOURCE_DIR) + "/models/tiny/spikegpt-tiny-s1.safetensors";

std::vector<std::vector<int>> sequences(std::size_t count, std::size_t length, int salt) {
    std::vector<std::vector<int>> out(count);
    for (std::size_t s = 0; s < count; ++s)
        for (std::size_t t = 0; t < length; ++t)
            out[s].push_back(static_cast<int>((s * 131 + t * 17 + static_cast<std::size_t>(salt) * 7 + t * t) % 256));
    return out;
}
}  // namespace

TEST_CASE("the SpikeGPT hierarchy has the embedding, every block's seven matrices and the head") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    const search::SpikeGptSearchModel subject(model);
    const auto& h = subject.hierarchy();
    const std::size_t L = model.n_layer();
    // A binary embedding is stored as signs, not searched.
    REQUIRE(model.options().binary_embedding);
    CHECK(h.module_count() == 7 * L + 1);
    CHECK(h.blocks().size() == L + 1);
    CHECK(h.blocks().front().name == "blocks.0");
    CHECK(h.blocks().back().name == "head");
    CHECK(h.module(0).name == "blocks.0.att.key.weight");
    REQUIRE(subject.fixed_embedding() != nullptr);
    CHECK(subject.fixed_embedding()->bits() == 1);
}

TEST_CASE("an all-float setting reproduces the model, and the sign-coded embedding changes nothing") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    const search::SpikeGptSearchModel subject(model);
    std::vector<search::QuantizedWeights::Entry> entries(subject.hierarchy().module_count());
    for (std::size_t m = 0; m < entries.size(); ++m) entries[m].dequantized = subject.module_weights(m);
    const search::QuantizedWeights w(entries);
    const std::vector<int> tokens = {84, 104, 101, 32, 113, 117, 105, 99, 107};
    CHECK(subject.quantized(w).logits(tokens) == model.logits(tokens));
}

TEST_CASE("the evaluator's bits per char match a direct computation and do not depend on threads") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    const auto seqs = sequences(3, 20, 1);
    const search::SpikeGptEvaluator evaluator(seqs);
    const auto inst = model.instance();
    const auto one = evaluator.evaluate(inst, {.threads = 1});
    const auto two = evaluator.evaluate(inst, {.distributions = false, .threads = 2});
    CHECK(one.performance.value == two.performance.value);
    double nats = 0.0;
    std::size_t n = 0;
    for (const auto& s : seqs) {
        const auto logits = model.logits(s);
        for (std::size_t t = 0; t + 1 < s.size(); ++t) {
            double mx = -1e300, z = 0.0;
            for (std::size_t v = 0; v < 256; ++v) mx = std::max(mx, static_cast<double>(logits[t * 256 + v]));
            for (std::size_t v = 0; v < 256; ++v) z += std::exp(logits[t * 256 + v] - mx);
            nats += std::log(z) + mx - logits[t * 256 + static_cast<std::size_t>(s[t + 1])];
            ++n;
        }
    }
    CHECK(one.performance.value == Approx(nats / std::log(2.0) / static_cast<double>(n)).epsilon(1e-5));
    CHECK_THROWS_WITH(search::SpikeGptEvaluator(std::vector<std::vector<int>>{{5}}), Catch::Contains("fewer than 2 tokens"));
}

TEST_CASE("a tiered search on the tiny SpikeGPT honours its memory budget and perplexity bound") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    const search::SpikeGptSearchModel subject(model);
    const search::SpikeGptEvaluator evaluator(sequences(4, 24, 2), sequences(4, 32, 3));
    search::Options options;
    options.widths = {8, 4, 2};
    options.threads = 2;
    using Search = search::Tiered<sensitivity::KLDivergence, rounding::Nearest, granularity::PerChannel,
                                  objective::PerformanceMemoryTradeoff>;
    search::Constraints constraints;
    constraints.target_bits_per_weight = 6.0;
    constraints.max_drop = 0.05;
    const auto r = Search(options).run(subject, evaluator, constraints);
    INFO(r.message);
    // The search is deterministic and these bounds are met on this model (6 bits per weight
    // leaves room for 8-bit matrices), so a search that finds nothing is a failure.
    REQUIRE(r.chosen);
    CHECK(r.satisfied);
    std::size_t weights = 0;
    for (std::size_t m = 0; m < subject.hierarchy().module_count(); ++m) weights += subject.hierarchy().module(m).weights();
    CHECK(r.chosen->bytes - subject.unsearched_bytes() <= static_cast<std::size_t>(6.0 * static_cast<double>(weights) / 8.0));
    CHECK(r.chosen->performance.value <= r.baseline.performance.value / (1.0 - 0.05) + 1e-12);
    // The packed tensors it would write are the ones it measured.
    const auto packed = Search(options).materialize(subject, r.chosen->setting);
    for (std::size_t m = 0; m < packed.size(); ++m)
        if (packed[m]) CHECK(packed[m]->bits() == r.chosen->setting.widths[m]);
}
