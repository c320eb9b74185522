// The spike-driven transformer search adapter: the hierarchy comes from the checkpoint names,
// the float setting reproduces the model exactly, 8-bit weights stay close to float, the
// accuracy evaluator agrees with a direct count, the .qslm round trip keeps what was searched,
// and a real (small) search on the tiny model ends within its constraints.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "qslm/io/model_kind.hpp"
#include "qslm/io/qslm_writer.hpp"
#include "qslm/search/adapters/sdt.hpp"
#include "qslm/search/searcher.hpp"
#include "data_dir.hpp"

using namespace qslm;

namespace {
const std::string tiny_path = std::string(QSLM_SOURCE_DIR) + "/models/tiny/sdt-tiny-s1.safetensors";
const std::string bundled_path = std::string(QSLM_SOURCE_DIR) + "/models/sdt-sst2.safetensors";

/// The setting that keeps every module float.
search::QuantizedWeights all_float(const search::SdtSearchModel& subject) {
    std::vector<search::QuantizedWeights::Entry> entries(subject.hierarchy().module_count());
    for (std::size_t m = 0; m < entries.size(); ++m) entries[m].dequantized = subject.module_weights(m);
    return search::QuantizedWeights(entries);
}

/// Every module at `bits` per channel (the tensors are kept in `store`).
search::QuantizedWeights all_at(const search::SdtSearchModel& subject, int bits, std::vector<AnyPackedTensor>& store,
                                std::vector<std::vector<float>>& values) {
    const auto& h = subject.hierarchy();
    store.clear();
    values.clear();
    for (std::size_t m = 0; m < h.module_count(); ++m) {
        store.push_back(value_or_throw(AnyPackedTensor::quantize(bits, subject.module_weights(m), h.module(m).rows,
                                                                 h.module(m).cols, {ScaleLayout::per_channel()})));
        values.push_back(store.back().dequantize());
    }
    std::vector<search::QuantizedWeights::Entry> entries(h.module_count());
    for (std::size_t m = 0; m < entries.size(); ++m) entries[m] = {bits, values[m], &store[m]};
    return search::QuantizedWeights(entries);
}

/// Sentences made of the tiny model's vocabulary, labelled by the float model itself (so
/// float accuracy is 1 and a drop is what quantization does).
std::vector<eval::LabelledText> self_labelled(const models::SdtModel& model, std::size_t count, std::size_t salt) {
    const auto& vocab = model.tokenizer().vocab();
    std::vector<eval::LabelledText> out;
    for (std::size_t s = 0; s < count; ++s) {
        std::string text;
        const std::size_t words = 3 + (s * 7 + salt) % 9;
        for (std::size_t w = 0; w < words; ++w) {
            const std::size_t id = 2 + (s * 131 + w * 17 + salt * 7 + w * w) % (vocab.size() - 2);
            text += (w ? " " : "") + vocab[id];
        }
        out.push_back({static_cast<int>(model.classify(text).label), text});
    }
    return out;
}
}  // namespace

TEST_CASE("the SDT hierarchy has the embedding, every block's six matrices and the head") {
    const auto model = models::SdtModel::load(tiny_path);
    const search::SdtSearchModel subject(model);
    const auto& h = subject.hierarchy();
    const std::size_t L = model.config().n_layer;
    REQUIRE(L == 2);
    CHECK(h.name() == "sdt");
    CHECK(h.module_count() == 6 * L + 2);
    REQUIRE(h.block_count() == L + 2);
    CHECK(h.block(0).name == "embed");
    CHECK(h.block(1).name == "blocks.0");
    CHECK(h.block(2).name == "blocks.1");
    CHECK(h.block(3).name == "head");
    CHECK(h.block(1).modules.size() == 6);
    CHECK(h.module(0).name == "embed.weight");
    CHECK(h.module(1).name == "blocks.0.attn.q.weight");
    CHECK(h.module(5).name == "blocks.0.mlp.fc1.weight");
    CHECK(h.module(5).rows == model.config().mlp_hidden);
    CHECK(h.module(h.module_count() - 1).name == "head.weight");
    // Not searched: pos_embed and the 6 biases per block and the head's, at 4 bytes a value.
    const auto& c = model.config();
    const std::size_t biases = L * (4 * c.dim + c.mlp_hidden + c.dim) + c.n_classes;
    CHECK(subject.unsearched_bytes() == (c.max_len * c.dim + biases) * 4);
    CHECK(h.total_weights() == c.vocab_size * c.dim + L * (4 * c.dim * c.dim + 2 * c.dim * c.mlp_hidden) + c.n_classes * c.dim);
}

TEST_CASE("an all-float SDT setting gives exactly the model's logits") {
    const auto model = models::SdtModel::load(tiny_path);
    const search::SdtSearchModel subject(model);
    const auto variant = subject.quantized(all_float(subject));
    for (const auto& tokens : std::vector<std::vector<std::uint32_t>>{{2, 5, 9}, {1}, {3, 3, 7, 11, 2, 4, 8, 15}})
        CHECK(variant.logits(tokens) == model.classify_tokens(tokens).logits);
    // A setting for another model is refused with the counts.
    const search::QuantizedWeights short_setting(std::vector<search::QuantizedWeights::Entry>(3));
    CHECK_THROWS_WITH(subject.quantized(short_setting), Catch::Contains("3 modules, expected 14"));
}

TEST_CASE("the bundled SDT at 8 bits per channel keeps its logits and labels") {
    const auto model = models::SdtModel::load(bundled_path);
    const search::SdtSearchModel subject(model);
    std::vector<AnyPackedTensor> store8, store2;  // the variants read these: one store each
    std::vector<std::vector<float>> values8, values2;
    const auto q8 = subject.quantized(all_at(subject, 8, store8, values8));
    const auto q2 = subject.quantized(all_at(subject, 2, store2, values2));
    const std::vector<std::string> sentences = {
        "a gorgeous , witty , seductive movie .", "the plot is thin and the acting worse .",
        "one long string of cliches .", "an utterly charming and hilarious film that reaches beyond its tired premise .",
        "it 's a bad sign when you 're rooting for the film to end ."};
    // A spiking network is discontinuous: a weight that moves a membrane across the threshold
    // flips a spike and moves the logits by a step. So "close" is judged on average over the
    // sentences, against what 2 bits does, and by the labels.
    double change8 = 0.0, change2 = 0.0;
    for (const auto& s : sentences) {
        const auto tokens = model.tokenizer().encode(s);
        const auto f = model.classify_tokens(tokens);
        const auto l8 = q8.logits(tokens), l2 = q2.logits(tokens);
        const double scale = std::max(1.0, static_cast<double>(std::max(std::abs(f.logits[0]), std::abs(f.logits[1]))));
        for (std::size_t k = 0; k < 2; ++k) {
            change8 += std::abs(static_cast<double>(l8[k] - f.logits[k])) / scale / 2.0 / static_cast<double>(sentences.size());
            change2 += std::abs(static_cast<double>(l2[k] - f.logits[k])) / scale / 2.0 / static_cast<double>(sentences.size());
        }
        CHECK((l8[1] > l8[0]) == (f.label == 1));
    }
    INFO("mean relative logit change: 8 bits " << change8 << ", 2 bits " << change2);
    CHECK(change8 < 0.2);
    CHECK(change8 < 0.5 * change2);  // the comparison can fail: 2 bits moves the logits much more
}

TEST_CASE("the SDT evaluator's accuracy is the fraction of matching labels, for any thread count") {
    const auto model = models::SdtModel::load(tiny_path);
    auto examples = self_labelled(model, 12, 1);
    // Flip three labels: accuracy 9/12.
    for (std::size_t i : {0u, 4u, 7u}) examples[i].label = 1 - examples[i].label;
    const auto evaluator = search::make_sdt_evaluator(model, examples);
    const auto inst = model.instance();
    const auto one = evaluator.evaluate(inst, {.distributions = true, .threads = 1});
    const auto three = evaluator.evaluate(inst, {.distributions = true, .threads = 3});
    CHECK(one.performance.metric == "accuracy");
    CHECK(one.performance.higher_is_better());
    CHECK(one.performance.value == Approx(9.0 / 12.0));
    CHECK(three.performance.value == one.performance.value);
    CHECK(three.distributions.log_probs == one.distributions.log_probs);
    CHECK(one.distributions.vocab == 2);
    CHECK(one.distributions.log_probs.size() == 2 * examples.size());
    // The full set is used only when asked for.
    const auto both = search::make_sdt_evaluator(model, examples, self_labelled(model, 5, 2));
    CHECK(both.evaluate(inst, {.full = true}).performance.value == Approx(1.0));
    CHECK(both.evaluate(inst, {}).performance.value == Approx(9.0 / 12.0));
    // Labels the model cannot produce are an error, not a silent miss.
    CHECK_THROWS_WITH(search::make_sdt_evaluator(model, {{2, "good film"}}), Catch::Contains("label 2 outside [0, 2)"));
}

TEST_CASE("spread_examples picks an even, ordered slice") {
    std::vector<eval::LabelledText> all;
    for (int i = 0; i < 10; ++i) all.push_back({i % 2, std::to_string(i)});
    const auto four = search::spread_examples(all, 4);
    REQUIRE(four.size() == 4);
    CHECK(four[0].text == "0");
    CHECK(four[1].text == "2");
    CHECK(four[2].text == "5");
    CHECK(four[3].text == "7");
    CHECK(search::spread_examples(all, 0).size() == 10);
    CHECK(search::spread_examples(all, 99).size() == 10);
}

TEST_CASE("model kinds are told apart by what the files say") {
    CHECK(io::detect_model_kind(tiny_path) == io::ModelKind::sdt);
    CHECK(io::detect_model_kind(bundled_path) == io::ModelKind::sdt);
    CHECK(io::detect_model_kind(std::string(QSLM_SOURCE_DIR) + "/models/tiny/spikegpt-tiny-s1.safetensors") ==
          io::ModelKind::spikegpt);
    CHECK_THROWS_WITH(io::detect_model_kind(std::string(QSLM_SOURCE_DIR) + "/models/no-such.safetensors"),
                      Catch::Contains("does not exist"));
}

TEST_CASE("a quantized SDT written as .qslm loads back, passes its test vector and classifies the same") {
    const auto model = models::SdtModel::load(tiny_path);
    const search::SdtSearchModel subject(model);
    std::vector<AnyPackedTensor> store;
    std::vector<std::vector<float>> values;
    const auto w = all_at(subject, 4, store, values);
    std::vector<const AnyPackedTensor*> packed(model.matrices().size(), nullptr);
    for (std::size_t m = 0; m + 1 < store.size(); ++m) packed[m] = &store[m];  // the head stays float
    const auto q = model.to_qslm(packed);
    const auto dir = std::filesystem::path(QSLM_BINARY_DIR) / "tests" / "search" / "sdt_qslm";
    std::filesystem::create_directories(dir);
    const auto path = dir / "tiny-4bit.qslm";
    io::save_qslm(path, q);
    CHECK(io::detect_model_kind(path) == io::ModelKind::sdt);

    const auto back = models::SdtModel::load(path);  // verifies the test vector
    CHECK(back.config().n_layer == model.config().n_layer);
    CHECK(back.config().time_steps == model.config().time_steps);
    CHECK(back.tokenizer().vocab() == model.tokenizer().vocab());
    CHECK(back.label_name(1) == model.label_name(1));
    // Same weights as the variant the search scored: the 13 quantized matrices and the float head.
    std::vector<search::QuantizedWeights::Entry> entries(store.size());
    for (std::size_t m = 0; m < entries.size(); ++m)
        entries[m] = m + 1 < store.size() ? search::QuantizedWeights::Entry{4, values[m], &store[m]}
                                          : search::QuantizedWeights::Entry{search::float_width, subject.module_weights(m), nullptr};
    const auto variant = subject.quantized(search::QuantizedWeights(entries));
    for (const auto& tokens : std::vector<std::vector<std::uint32_t>>{{2, 5, 9}, {3, 3, 7, 11, 2, 4, 8, 15}})
        CHECK(back.classify_tokens(tokens).logits == variant.logits(tokens));

    // A SpikeGPT .qslm is not mistaken for a classifier.
    auto wrong = q;
    wrong.config_json = R"({"model_type": "spikegpt"})";
    CHECK_THROWS_WITH(models::SdtModel::from_qslm(wrong), Catch::Contains("not a spike-driven transformer"));
}

TEST_CASE("a tiered search on the tiny SDT honours its memory budget and accuracy bound") {
    const auto model = models::SdtModel::load(tiny_path);
    const search::SdtSearchModel subject(model);
    const auto evaluator = search::make_sdt_evaluator(model, self_labelled(model, 24, 3), self_labelled(model, 40, 4));
    search::Options options;
    options.widths = {8, 4, 2};
    options.threads = 2;
    using Search = search::Tiered<sensitivity::KLDivergence, rounding::Nearest, granularity::PerChannel,
                                  objective::PerformanceMemoryTradeoff>;
    search::Constraints constraints;
    constraints.target_bits_per_weight = 6.0;
    constraints.max_drop = 0.1;
    const auto r = Search(options).run(subject, evaluator, constraints);
    INFO(r.message);
    CHECK(r.baseline.performance.metric == "accuracy");
    CHECK(r.baseline.performance.value == Approx(1.0));  // labelled by the float model
    // Deterministic, and met on this model: finding nothing is a failure.
    REQUIRE(r.chosen);
    CHECK(r.satisfied);
    CHECK(r.chosen->bytes - subject.unsearched_bytes() <=
          static_cast<std::size_t>(6.0 * static_cast<double>(subject.hierarchy().total_weights()) / 8.0));
    const auto& final_score = r.chosen_full ? *r.chosen_full : *r.chosen;
    CHECK(final_score.performance.value >= 0.9 - 1e-12);
    const auto packed = Search(options).materialize(subject, r.chosen->setting);
    for (std::size_t m = 0; m < packed.size(); ++m)
        if (packed[m]) CHECK(packed[m]->bits() == r.chosen->setting.widths[m]);
}

// Needs SST-2: its own ctest entry (test_search_sst2), skipped without the data.
TEST_CASE("the bundled SDT's float accuracy on SST-2 dev is the one its training reported", "[.data-sst2]") {
    const std::filesystem::path dev = qslm_test::data_file_or_skip("sst2/dev.tsv");
    const auto model = models::SdtModel::load(bundled_path);
    const auto evaluator = search::make_sdt_evaluator(model, eval::read_sst2_tsv(dev.string()));
    const auto e = evaluator.evaluate(model.instance(), {.threads = 2});
    // 78.1 % in the checkpoint's "scores" (float64 forward of the same float16 weights); one
    // sentence either way is 0.11 points.
    CHECK(e.performance.value == Approx(0.781).margin(0.002));
}
