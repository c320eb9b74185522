// SpikeDrivenEncoder and SdtModel: tokenizer, forward invariants, errors.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <qslm/models/sdt_model.hpp>

#include "random_models.hpp"

using namespace qslm;

TEST_CASE("the SDT tokenizer splits text as sdt.py's regex does") {
    using V = std::vector<std::string>;
    CHECK(models::sdt_words("It 's not the BEST film , but it is n't bad.") ==
          V{"it", "'s", "not", "the", "best", "film", ",", "but", "it", "is", "n't", "bad", "."});
    CHECK(models::sdt_words("a well-made, don't-miss movie!!") == V{"a", "well-made", ",", "don't-miss", "movie", "!", "!"});
    CHECK(models::sdt_words("  '90s ' -- x-") == V{"'", "90s", "'", "-", "-", "x", "-"});
    CHECK(models::sdt_words("café\xC2\xA0ok") == V{"caf", "\xC3\xA9", "ok"});  // NBSP is whitespace, é one token
    CHECK(models::sdt_words("").empty());
}

TEST_CASE("the SDT tokenizer maps unknown words to <unk>, truncates, and never returns nothing") {
    const models::SdtTokenizer tok({"<pad>", "<unk>", "good", "film", "."}, 3);
    CHECK(tok.encode("Good film .") == std::vector<std::uint32_t>{2, 3, 4});
    CHECK(tok.encode("good bad film . good") == std::vector<std::uint32_t>{2, 1, 3});
    CHECK(tok.encode("   ") == std::vector<std::uint32_t>{1});
    CHECK_THROWS_AS(models::SdtTokenizer({"<pad>"}, 3), Error);
}

TEST_CASE("the SDT encoder classifies, fires, and refuses bad sentences") {
    const auto model = models::SdtModel::from_checkpoint(qslm_test::random_sdt(2, 16, 30, 8, 4));
    CHECK(model.matrices().size() == 2 + 6 * 2);
    CHECK(model.matrices()[1].name == "blocks.0.attn.q.weight");
    CHECK(std::string(model.matrices()[5].kind) == "fc1");
    CHECK(model.matrices()[5].rows == 64);
    const auto inst = model.instance();
    const std::vector<std::uint32_t> tokens = {2, 5, 9, 3};
    std::vector<std::uint32_t> counts;
    const auto logits = inst.logits(tokens, &counts);
    REQUIRE(logits.size() == 2);
    std::uint64_t total = 0;
    for (auto c : counts) total += c;
    CHECK(total > 0);
    CHECK(model.classify_tokens(tokens).logits == logits);
    CHECK(model.classify("w2 w5 w9 w3").logits == logits);
    CHECK(model.classify("w2 w5 w9 w3").label_name == (logits[1] > logits[0] ? "positive" : "negative"));

    CHECK_THROWS_WITH(inst.logits(std::vector<std::uint32_t>{}), Catch::Contains("1..8 tokens"));
    CHECK_THROWS_WITH(inst.logits(std::vector<std::uint32_t>(9, 2)), Catch::Contains("got 9"));
    CHECK_THROWS_WITH(inst.logits(std::vector<std::uint32_t>{2, 30}), Catch::Contains("token 1 is 30"));

    // Embedded API: buffer and shape errors are statuses.
    const auto& enc = inst.encoder();
    std::vector<float> work(enc.work_floats(4)), out(2);
    std::vector<std::uint8_t> spikes(enc.spike_bytes(4));
    CHECK(enc.forward(tokens, std::span<float>(work).first(10), spikes, out) == Status::buffer_too_small);
    CHECK(enc.forward(tokens, work, std::span<std::uint8_t>(spikes).first(10), out) == Status::buffer_too_small);
    std::vector<std::uint32_t> wrong_counts(3);
    CHECK(enc.forward(tokens, work, spikes, out, nullptr, wrong_counts) == Status::bad_shape);
    CHECK(enc.forward(tokens, work, spikes, out) == Status::ok);
    CHECK(out == logits);

    models::SdtWeights broken = enc.weights();
    broken.head_bias = {};
    CHECK_FALSE(models::SpikeDrivenEncoder::make(broken));
    CHECK_FALSE(models::SpikeDrivenEncoder::make(enc.weights(), {.time_steps = 0}));
}

TEST_CASE("replacing an SDT matrix changes the logits; the replacement must have the right size") {
    auto model = models::SdtModel::from_checkpoint(qslm_test::random_sdt(1, 16, 30, 8, 6));
    const std::vector<std::uint32_t> tokens = {2, 5, 9};
    const auto base = model.instance().logits(tokens);
    std::vector<float> zero(model.matrices().back().rows * model.matrices().back().cols, 0.0f);
    model.set_matrix(model.matrices().size() - 1, zero);
    const auto z = model.instance().logits(tokens);
    CHECK(z[0] == model.checkpoint().head_bias.data[0]);
    CHECK(z != base);
    CHECK_THROWS_WITH(model.set_matrix(1, std::vector<float>(3)), Catch::Contains("blocks.0.attn.q.weight"));
}
