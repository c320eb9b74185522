// SpikeGpt (embedded model) and SpikeGptModel (host owner): streaming, batching, options,
// weight replacement, errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include <qslm/io/logits_dump.hpp>
#include <qslm/io/spikegpt_model.hpp>

#include "random_models.hpp"

using namespace qslm;
using models::SpikeGpt;
using models::SpikeGptModel;

namespace {

std::vector<std::uint32_t> token_stream(std::size_t n, std::uint32_t seed, std::size_t vocab) {
    std::vector<std::uint32_t> t(n);
    std::uint32_t x = seed * 2654435761u + 1u;
    for (auto& v : t) {
        x = x * 1664525u + 1013904223u;
        v = (x >> 8) % static_cast<std::uint32_t>(vocab);
    }
    return t;
}

const SpikeGptModel& small_model() {
    static const SpikeGptModel m = SpikeGptModel::from_checkpoint(qslm_test::random_spikegpt(2, 20, 40, 11));
    return m;
}

}  // namespace

TEST_CASE("batched SpikeGPT streams give the same bits as each stream run alone") {
    const auto batch = GENERATE(as<std::size_t>{}, 2, 3, 5);
    const auto inst = small_model().instance();
    const SpikeGpt& m = inst.model();
    const std::size_t V = m.vocab_size(), steps = 12;
    std::vector<std::vector<std::uint32_t>> streams;
    for (std::size_t b = 0; b < batch; ++b) streams.push_back(token_stream(steps, static_cast<std::uint32_t>(b + 3), V));

    std::vector<float> state(m.state_floats(batch)), scratch(m.scratch_floats(batch)), logits(batch * V);
    REQUIRE(m.reset(state, batch) == Status::ok);
    std::vector<std::vector<float>> batched(batch);
    for (std::size_t t = 0; t < steps; ++t) {
        std::vector<std::uint32_t> tokens;
        for (std::size_t b = 0; b < batch; ++b) tokens.push_back(streams[b][t]);
        REQUIRE(m.step(tokens, state, scratch, logits) == Status::ok);
        for (std::size_t b = 0; b < batch; ++b) batched[b].insert(batched[b].end(), logits.begin() + b * V, logits.begin() + (b + 1) * V);
    }
    for (std::size_t b = 0; b < batch; ++b) CHECK(inst.logits(std::span<const std::uint32_t>(streams[b])) == batched[b]);
}

TEST_CASE("logits_many equals logits of each sequence for any thread count and batch size") {
    const auto inst = small_model().instance();
    std::vector<std::vector<int>> seqs;
    for (std::size_t s = 0; s < 9; ++s) {
        const auto t = token_stream(3 + 2 * s % 7, static_cast<std::uint32_t>(s), inst.vocab_size());
        seqs.emplace_back(t.begin(), t.end());
    }
    seqs.push_back({});  // an empty sequence has no logits
    const auto threads = GENERATE(1u, 2u, 3u);
    const auto batch = GENERATE(as<std::size_t>{}, 1, 4, 16);
    const auto many = inst.logits_many(seqs, {.threads = threads, .batch = batch});
    REQUIRE(many.size() == seqs.size());
    for (std::size_t s = 0; s < seqs.size(); ++s) CHECK(many[s] == inst.logits(seqs[s]));
    CHECK(many.back().empty());
}

TEST_CASE("a SpikeGptStream reproduces its logits after reset, and reset_stream touches one stream only") {
    const auto inst = small_model().instance();
    const SpikeGpt& m = inst.model();
    std::vector<float> state(m.state_floats(2)), scratch(m.scratch_floats(2)), logits(2 * m.vocab_size());
    models::SpikeGptStream s(m, state, scratch, logits, 2);
    REQUIRE(s.reset() == Status::ok);
    const std::vector<std::uint32_t> a = {1, 5, 9}, b = {7, 7, 2};
    std::vector<float> first;
    for (std::size_t t = 0; t < 3; ++t) {
        const std::uint32_t tok[2] = {a[t], b[t]};
        auto r = s.step(std::span<const std::uint32_t>(tok, 2));
        REQUIRE(r);
        first.assign(r->begin(), r->end());
    }
    CHECK(s.position() == 3);
    // Reset stream 0 only, then feed stream 0 its sequence again and stream 1 more tokens.
    REQUIRE(m.reset_stream(state, 2, 0) == Status::ok);
    std::vector<float> again;
    for (std::size_t t = 0; t < 3; ++t) {
        const std::uint32_t tok[2] = {a[t], 3};
        auto r = s.step(std::span<const std::uint32_t>(tok, 2));
        REQUIRE(r);
        again.assign(r->begin(), r->end());
    }
    const std::size_t V = m.vocab_size();
    CHECK(std::vector<float>(first.begin(), first.begin() + V) == std::vector<float>(again.begin(), again.begin() + V));
    CHECK(std::vector<float>(first.begin() + V, first.end()) != std::vector<float>(again.begin() + V, again.end()));
    CHECK_FALSE(s.step(1u));  // step(token) needs batch 1
}

TEST_CASE("the binary embedding sees only the signs of the embedding; the float one sees values") {
    auto ck = qslm_test::random_spikegpt(2, 16, 30, 5, true);
    const std::vector<std::uint32_t> tokens = {3, 4, 5, 6};
    const auto base_bin = SpikeGptModel::from_checkpoint(ck).logits(std::span<const std::uint32_t>(tokens));
    const auto base_real = SpikeGptModel::from_checkpoint(ck, {.binary_embedding = false}).logits(std::span<const std::uint32_t>(tokens));
    for (float& v : ck.emb.data) v *= 3.0f;  // same signs, other values
    CHECK(SpikeGptModel::from_checkpoint(ck).logits(std::span<const std::uint32_t>(tokens)) == base_bin);
    CHECK(SpikeGptModel::from_checkpoint(ck, {.binary_embedding = false}).logits(std::span<const std::uint32_t>(tokens)) != base_real);
    CHECK(base_bin != base_real);
    // The default follows the checkpoint.
    ck.config.binary_embedding = false;
    CHECK_FALSE(SpikeGptModel::from_checkpoint(ck).options().binary_embedding);
}

TEST_CASE("the runner rescaling option changes a multi-block model's output") {
    auto ck = qslm_test::random_spikegpt(3, 16, 30, 8);
    const std::vector<std::uint32_t> tokens = {1, 2, 3, 4, 5};
    const auto plain = SpikeGptModel::from_checkpoint(ck).logits(std::span<const std::uint32_t>(tokens));
    const auto runner = SpikeGptModel::from_checkpoint(ck, {.runner_rescale_every = 1}).logits(std::span<const std::uint32_t>(tokens));
    CHECK(plain != runner);
    CHECK(SpikeGptModel::from_checkpoint(ck, {.runner_rescale_every = 6}).logits(std::span<const std::uint32_t>(tokens)) == plain);
}

TEST_CASE("SpikeGPT lists its 7 matrices per block plus embedding and head, with shapes and kinds") {
    const auto model = SpikeGptModel::from_checkpoint(qslm_test::random_spikegpt(3, 12, 50, 2, true, 2));
    const auto& ms = model.matrices();
    REQUIRE(ms.size() == 2 + 7 * 3);
    CHECK(ms.front().name == "emb.weight");
    CHECK(ms.front().block == models::no_block);
    CHECK(ms.back().name == "head.weight");
    CHECK(ms.back().rows == 50);
    CHECK(ms[1].name == "blocks.0.att.key.weight");
    CHECK(std::string(ms[5].kind) == "ffn_key");
    CHECK(ms[5].rows == 24);
    CHECK(ms[5].cols == 12);
    CHECK(ms[7].name == "blocks.0.ffn.value.weight");
    CHECK(ms[7].rows == 12);
    CHECK(ms[7].cols == 24);
    CHECK(ms[8].block == 1);
    CHECK(model.matrix_kind(4) == models::SpikeGptMatrixKind::att_output);
    CHECK(model.find_matrix("blocks.2.ffn.receptance.weight") == 2 + 7 * 2 + 4);
    CHECK_FALSE(model.find_matrix("blocks.3.att.key.weight"));
    for (std::size_t m = 0; m < ms.size(); ++m) CHECK(model.matrix_weights(m).size() == ms[m].rows * ms[m].cols);
}

TEST_CASE("replacing weight matrices: instance replacements equal set_matrix, the rest is untouched") {
    SpikeGptModel model = SpikeGptModel::from_checkpoint(qslm_test::random_spikegpt(2, 16, 30, 9));
    const std::vector<std::uint32_t> tokens = {1, 2, 3, 4, 5, 6};
    const auto original = model.logits(std::span<const std::uint32_t>(tokens));
    const std::size_t m = GENERATE(0u, 4u, 9u, 15u);
    std::vector<float> changed(model.matrix_weights(m).begin(), model.matrix_weights(m).end());
    for (float& v : changed) v = v * 0.5f - 0.01f;

    std::vector<std::span<const float>> repl(model.matrices().size());
    repl[m] = changed;
    const auto via_instance = model.instance(repl).logits(std::span<const std::uint32_t>(tokens));
    CHECK(via_instance != original);
    model.set_matrix(m, changed);
    CHECK(model.logits(std::span<const std::uint32_t>(tokens)) == via_instance);
    model.reset_matrix(m);
    CHECK(model.logits(std::span<const std::uint32_t>(tokens)) == original);
    // An instance made before set_matrix keeps pointing at the original weights.
    const auto before = model.instance();
    model.set_matrix(m, changed);
    CHECK(before.logits(std::span<const std::uint32_t>(tokens)) == original);
    model.reset_all_matrices();
}

TEST_CASE("SpikeGPT refuses bad input with a clear error") {
    const auto& model = small_model();
    const auto inst = model.instance();
    const SpikeGpt& m = inst.model();
    std::vector<float> state(m.state_floats(1)), scratch(m.scratch_floats(1)), logits(m.vocab_size());
    REQUIRE(m.reset(state) == Status::ok);
    const std::uint32_t bad = static_cast<std::uint32_t>(m.vocab_size());
    CHECK(m.step({&bad, 1}, state, scratch, logits) == Status::out_of_range);
    const std::uint32_t ok = 1;
    CHECK(m.step({&ok, 1}, std::span<float>(state).first(3), scratch, logits) == Status::buffer_too_small);
    CHECK(m.step({&ok, 1}, state, std::span<float>(scratch).first(3), logits) == Status::buffer_too_small);
    CHECK(m.step({&ok, 1}, state, scratch, std::span<float>(logits).first(3)) == Status::buffer_too_small);
    CHECK(m.step({}, state, scratch, logits) == Status::bad_shape);

    // Host: messages name the problem.
    const std::vector<std::uint32_t> tokens = {1, 999};
    CHECK_THROWS_WITH(inst.logits(std::span<const std::uint32_t>(tokens)), Catch::Contains("token 1 is 999"));
    CHECK_THROWS_WITH(models::dump_logits_json(model, tokens), Catch::Contains("outside the vocabulary"));
    CHECK_THROWS_WITH(models::dump_logits_json(model, std::span<const std::uint32_t>{}), Catch::Contains("no tokens"));
    std::vector<std::span<const float>> repl(model.matrices().size());
    const std::vector<float> wrong(7, 0.0f);
    repl[3] = wrong;
    CHECK_THROWS_WITH(model.instance(repl), Catch::Contains("blocks.0.att.receptance.weight: replacement has 7 values"));
    CHECK_THROWS_WITH(model.instance(std::vector<std::span<const float>>(2)), Catch::Contains("one per matrix"));
    CHECK_THROWS_AS(model.matrix_weights(999), Error);

    // Model assembly: a block without ln0 at position 0, ln0 on block 1, mismatched sizes.
    const auto w = m.weights();
    CHECK_FALSE(SpikeGpt::make(models::SpikeGptWeights{}));
    models::SpikeGptWeights broken = w;
    broken.head = broken.head.first(broken.head.size() - 1);
    auto r = SpikeGpt::make(broken);
    REQUIRE_FALSE(r);
    CHECK(std::string(r.message()).find("head") != std::string::npos);
    broken = w;
    std::vector<layers::SpikeGptBlockWeights> swapped(w.blocks.begin(), w.blocks.end());
    std::swap(swapped[0], swapped[1]);
    broken.blocks = swapped;
    r = SpikeGpt::make(broken);
    REQUIRE_FALSE(r);
    CHECK(std::string(r.message()).find("ln0") != std::string::npos);

    auto odd = qslm_test::random_spikegpt(1, 8, 10, 1);
    odd.config.att_dim = 6;
    CHECK_THROWS_WITH(SpikeGptModel::from_checkpoint(odd), Catch::Contains("time-mix width"));
    CHECK_THROWS_AS(SpikeGptModel::load("/nonexistent/model.safetensors"), Error);
}

TEST_CASE("dump_logits_json writes one list of vocab floats per token, equal to the streamed logits") {
    const auto& model = small_model();
    const std::vector<std::uint32_t> tokens = {3, 17, 5, 0};
    const auto j = models::dump_logits_json(model, tokens);
    REQUIRE(j.is_array());
    REQUIRE(j.size() == tokens.size());
    const auto expected = model.logits(std::span<const std::uint32_t>(tokens));
    // Through text and back: the floats survive exactly.
    const auto parsed = nlohmann::json::parse(j.dump());
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        REQUIRE(parsed[t].size() == model.vocab_size());
        for (std::size_t v = 0; v < model.vocab_size(); ++v)
            CHECK(parsed[t][v].get<float>() == expected[t * model.vocab_size() + v]);
    }
}
