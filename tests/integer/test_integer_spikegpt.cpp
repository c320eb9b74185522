// The integer-only SpikeGPT against the float model running the same (dequantized) weights.
// Documented tolerance (docs/embedded.md), measured on the tiny CI model
// (models/tiny/spikegpt-tiny-s1.safetensors) over its 52 golden tokens: every argmax and every
// per-block spike count equal, every logit within 1e-3 of float (measured: ~1e-4), and the
// bits per byte on WikiText-2 within 1e-3 (when the data set is present). The bundled 6x256
// model at 4 bits on its golden inputs: see its test case for why its tolerance is per step.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/io/integer/prepare_spikegpt.hpp"
#include "qslm/io/spikegpt_model.hpp"
#ifdef QSLM_TEST_NO_FLOAT_TU
#include "integer/no_float_step.hpp"
#include "data_dir.hpp"
#endif

using namespace qslm;

namespace {

const std::filesystem::path tiny_dir = std::filesystem::path(QSLM_SOURCE_DIR) / "models" / "tiny";
const std::filesystem::path tiny_model = tiny_dir / "spikegpt-tiny-s1.safetensors";

io::QslmModel quantized(const std::filesystem::path& path, int bits) {
    const auto fm = models::SpikeGptModel::load(path);
    std::vector<AnyPackedTensor> packed;
    packed.reserve(fm.matrices().size());
    std::vector<const AnyPackedTensor*> ptrs;
    for (std::size_t m = 0; m < fm.matrices().size(); ++m) {
        const auto& info = fm.matrices()[m];
        packed.push_back(value_or_throw(
            AnyPackedTensor::quantize(std::string(info.kind) == "embedding" ? 1 : bits, fm.matrix_weights(m), info.rows, info.cols)));
        ptrs.push_back(&packed.back());
    }
    return fm.to_qslm(ptrs);
}
io::QslmModel quantized_tiny(int bits) { return quantized(tiny_model, bits); }

/// The golden inputs of a model (the tokens of its golden file; default: the tiny model's).
std::vector<std::uint32_t> golden_tokens(const std::filesystem::path& golden = tiny_dir / "spikegpt-tiny-s1.golden.json") {
    std::ifstream in(golden);
    REQUIRE(in.good());
    const auto j = nlohmann::json::parse(in);
    return j.at("tokens").get<std::vector<std::uint32_t>>();
}

std::vector<std::uint32_t> text_tokens(std::size_t n) {
    const std::string text = "The quick brown fox jumps over the lazy dog. Spikes! Once upon a time";
    std::vector<std::uint32_t> t;
    for (const unsigned char c : text.substr(0, n)) t.push_back(c);
    return t;
}

std::string set_config(std::string json, const std::string& key, const std::string& value) {
    auto j = nlohmann::json::parse(json);
    j[key] = nlohmann::json::parse(value);
    return j.dump();
}

/// -log2 softmax(logits)[target], in double (evaluation only).
template <class T>
double bits_of(std::span<const T> logits, std::uint32_t target, double scale) {
    double mx = -1e300;
    for (const T v : logits) mx = std::max(mx, static_cast<double>(v) * scale);
    double sum = 0.0;
    for (const T v : logits) sum += std::exp(static_cast<double>(v) * scale - mx);
    return (std::log(sum) + mx - static_cast<double>(logits[target]) * scale) / std::log(2.0);
}

/// Float (dequantized weights) and integer paths side by side over a token sequence.
struct Agreement {
    std::size_t steps = 0, same_argmax = 0, same_spikes = 0;
    std::size_t first_spike_difference = 0;  ///< first step whose spike counts differ (steps if none)
    double worst_logit = 0.0;
    double worst_logit_before_difference = 0.0;  ///< over the steps before first_spike_difference
    double float_bits = 0.0, integer_bits = 0.0;  ///< summed over predicted tokens
};

Agreement compare_paths(const models::integer::PreparedIntegerSpikeGpt& prepared, const std::vector<std::uint32_t>& tokens) {
    const auto ref_model = models::SpikeGptModel::from_qslm(prepared.qslm(), {.weights = models::WeightForm::float32});
    const auto inst = ref_model.instance();
    const auto& ref = inst.model();
    const auto model = prepared.model();
    REQUIRE(model.check() == Status::ok);
    const std::size_t V = ref.vocab_size(), L = ref.n_layer();
    std::vector<float> state(ref.state_floats(1)), scratch(ref.scratch_floats(1)), ref_logits(V);
    REQUIRE(ref.reset(state, 1) == Status::ok);
    std::vector<std::byte> arena(model.arena_bytes());
    REQUIRE(model.reset(arena) == Status::ok);
    std::vector<std::uint64_t> ref_spikes(L);
    std::vector<std::uint32_t> att(L), ffn(L);
    Agreement a;
    a.first_spike_difference = tokens.size();
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        const std::uint32_t tok = tokens[t];
        std::fill(ref_spikes.begin(), ref_spikes.end(), 0);
        REQUIRE(ref.step({&tok, 1}, state, scratch, ref_logits, nullptr, ref_spikes) == Status::ok);
        models::IntegerStepSpikes spikes{0, att, ffn};
        REQUIRE(model.step(tok, arena, &spikes) == Status::ok);
        const auto logits = model.logits(arena);
        REQUIRE(logits.size() == V);
        double step_worst = 0.0;
        for (std::size_t v = 0; v < V; ++v) step_worst = std::max(step_worst, std::fabs(ref_logits[v] - logits[v] / 65536.0));
        a.worst_logit = std::max(a.worst_logit, step_worst);
        const auto ref_best = std::max_element(ref_logits.begin(), ref_logits.end()) - ref_logits.begin();
        const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
        a.same_argmax += ref_best == best ? 1u : 0u;
        bool spikes_equal = true;
        for (std::size_t i = 0; i < L; ++i) spikes_equal = spikes_equal && ref_spikes[i] == att[i] + ffn[i];
        a.same_spikes += spikes_equal ? 1u : 0u;
        if (!spikes_equal && a.first_spike_difference == tokens.size()) a.first_spike_difference = t;
        if (a.first_spike_difference == tokens.size())
            a.worst_logit_before_difference = std::max(a.worst_logit_before_difference, step_worst);
        if (t + 1 < tokens.size()) {
            a.float_bits += bits_of(std::span<const float>(ref_logits), tokens[t + 1], 1.0);
            a.integer_bits += bits_of(logits, tokens[t + 1], 1.0 / 65536.0);
        }
        ++a.steps;
    }
    return a;
}

}  // namespace

TEST_CASE("the integer SpikeGPT agrees with the float model on the same quantized weights (golden inputs)") {
    const int bits = GENERATE(8, 4, 2);
    const auto prepared = models::integer::PreparedIntegerSpikeGpt::prepare(quantized_tiny(bits));
    const auto tokens = golden_tokens();
    REQUIRE(tokens.size() >= 32);
    const Agreement a = compare_paths(*prepared, tokens);
    INFO("bits " << bits << ": max |logit difference| " << a.worst_logit << ", argmax equal on " << a.same_argmax << "/"
                 << a.steps << ", spike counts equal on " << a.same_spikes);
    CHECK(a.worst_logit < 1e-3);
    CHECK(a.same_argmax == tokens.size());
    CHECK(a.same_spikes == tokens.size());
}

TEST_CASE("the integer SpikeGPT agrees with the float model on the bundled 6x256 model at 4 bits (golden inputs)") {
    // The trained model has LIF inputs within 1e-4 of the threshold (its golden file's
    // min_threshold_margin), so a Q16 rounding difference can flip a spike, after which the two
    // recurrent states differ: logits are compared to 1e-3 up to the first spike-count
    // difference, predictions and bits per byte over all steps. (Measured: no difference at
    // all over the 52 golden steps, logits within 2e-4; docs/embedded.md.)
    const std::filesystem::path model = std::filesystem::path(QSLM_SOURCE_DIR) / "models" / "spikegpt.safetensors";
    const std::filesystem::path golden = std::filesystem::path(QSLM_SOURCE_DIR) / "models" / "spikegpt.golden.json";
    REQUIRE(std::filesystem::exists(model));
    const auto prepared = models::integer::PreparedIntegerSpikeGpt::prepare(quantized(model, 4));
    const auto tokens = golden_tokens(golden);
    REQUIRE(tokens.size() >= 32);
    const Agreement a = compare_paths(*prepared, tokens);
    const double n = static_cast<double>(tokens.size() - 1);
    INFO("argmax equal on " << a.same_argmax << "/" << a.steps << ", spike counts equal on " << a.same_spikes
                            << ", first difference at step " << a.first_spike_difference << ", max |logit difference| "
                            << a.worst_logit << " (" << a.worst_logit_before_difference << " before it), bits per byte float "
                            << a.float_bits / n << ", integer " << a.integer_bits / n);
    CHECK(a.first_spike_difference >= 4);
    CHECK(a.worst_logit_before_difference < 1e-3);
    CHECK(a.same_argmax * 20 >= a.steps * 19);  // 95 %
    CHECK(std::fabs(a.float_bits - a.integer_bits) / n < 0.02);
}

// Needs WikiText-2: its own ctest entry (test_integer_wikitext2), skipped without the data.
TEST_CASE("the integer SpikeGPT's bits per byte on WikiText-2 equal the float model's within 1e-3",
          "[.data-wikitext2]") {
    const std::filesystem::path file = qslm_test::data_file_or_skip("wikitext-2/test.txt");
    std::ifstream in(file, std::ios::binary);
    std::vector<std::uint32_t> tokens;
    for (std::istreambuf_iterator<char> it(in), end; it != end && tokens.size() < 2048; ++it)
        tokens.push_back(static_cast<unsigned char>(*it));
    REQUIRE(tokens.size() == 2048);
    const auto prepared = models::integer::PreparedIntegerSpikeGpt::prepare(quantized_tiny(4));
    const Agreement a = compare_paths(*prepared, tokens);
    const double n = static_cast<double>(tokens.size() - 1);
    INFO("float " << a.float_bits / n << " bpc, integer " << a.integer_bits / n << " bpc, argmax equal on "
                  << a.same_argmax << "/" << a.steps << ", max |logit difference| " << a.worst_logit);
    CHECK(std::fabs(a.float_bits - a.integer_bits) / n < 1e-3);
    CHECK(a.same_argmax >= a.steps - a.steps / 100);  // ties aside, the same prediction
    CHECK(a.worst_logit < 1e-2);
}

#ifdef QSLM_TEST_NO_FLOAT_TU
TEST_CASE("the inference loop compiled without floating-point registers gives the same bits") {
    // no_float_step.cpp is built with -mgeneral-regs-only: had the loop any float or double
    // operation, this test would not have compiled. (The linker may keep either copy of the
    // inline functions both files instantiate; the compilation is the proof, this run checks
    // that the no-float entry points are the model's reset and step.)
    const auto prepared = models::integer::PreparedIntegerSpikeGpt::prepare(quantized_tiny(4));
    const auto model = prepared->model();
    std::vector<std::byte> arena_a(model.arena_bytes()), arena_b(model.arena_bytes());
    REQUIRE(model.reset(arena_a) == Status::ok);
    REQUIRE(qslm_test::integer_no_float::reset(prepared->params(), arena_b) == Status::ok);
    const std::size_t L = model.dims().n_layer;
    std::vector<std::uint32_t> att_a(L), ffn_a(L), att_b(L), ffn_b(L);
    std::size_t steps = 0;
    for (const auto tok : golden_tokens()) {
        models::IntegerStepSpikes sa{0, att_a, ffn_a}, sb{0, att_b, ffn_b};
        REQUIRE(model.step(tok, arena_a, &sa) == Status::ok);
        REQUIRE(qslm_test::integer_no_float::step(prepared->params(), tok, arena_b, &sb) == Status::ok);
        const auto la = model.logits(arena_a), lb = model.logits(arena_b);
        REQUIRE(std::equal(la.begin(), la.end(), lb.begin(), lb.end()));
        REQUIRE(sa.embedding == sb.embedding);
        REQUIRE(att_a == att_b);
        REQUIRE(ffn_a == ffn_b);
        ++steps;
    }
    CHECK(steps >= 32);
}
#endif

TEST_CASE("the integer SpikeGPT is deterministic: a reset reproduces every logit bit") {
    const auto prepared = models::integer::PreparedIntegerSpikeGpt::prepare(quantized_tiny(4));
    const auto model = prepared->model();
    std::vector<std::byte> arena(model.arena_bytes());
    std::vector<std::int32_t> first;
    for (int run = 0; run < 2; ++run) {
        REQUIRE(model.reset(arena) == Status::ok);
        std::vector<std::int32_t> all;
        for (const auto tok : text_tokens(12)) {
            REQUIRE(model.step(tok, arena) == Status::ok);
            const auto l = model.logits(arena);
            all.insert(all.end(), l.begin(), l.end());
        }
        if (run == 0) first = all;
        else CHECK(all == first);
    }
}

TEST_CASE("the integer SpikeGPT reports bad arenas, tokens and spike buffers instead of misbehaving") {
    const auto prepared = models::integer::PreparedIntegerSpikeGpt::prepare(quantized_tiny(4));
    const auto model = prepared->model();
    const auto& d = model.dims();
    CHECK(model.arena_bytes() == models::integer_spikegpt_arena_bytes(d.n_layer, d.n_embd, d.ffn_hidden, d.vocab_size));
    std::vector<std::byte> arena(model.arena_bytes() + 8);
    const auto exact = std::span<std::byte>(arena).first(model.arena_bytes());
    CHECK(model.reset(exact.first(exact.size() - 1)) == Status::buffer_too_small);
    CHECK(model.step(1, exact.first(exact.size() - 1)) == Status::buffer_too_small);
    CHECK(model.reset(std::span<std::byte>(arena).subspan(1, model.arena_bytes())) == Status::invalid_argument);
    REQUIRE(model.reset(exact) == Status::ok);
    CHECK(model.step(static_cast<std::uint32_t>(d.vocab_size), exact) == Status::out_of_range);
    std::vector<std::uint32_t> short_buf(d.n_layer - 1);
    models::IntegerStepSpikes spikes{0, short_buf, {}};
    CHECK(model.step(1, exact, &spikes) == Status::bad_shape);
    CHECK(model.logits(exact.first(10)).empty());
}

TEST_CASE("preparing a model the integer path cannot run fails with a message naming the reason") {
    const io::QslmModel base = quantized_tiny(4);
    SECTION("tau that is not a power of two") {
        io::QslmModel q = base;
        q.config_json = set_config(q.config_json, "tau", "3.0");
        CHECK_THROWS_WITH(models::integer::PreparedIntegerSpikeGpt::prepare(q), Catch::Contains("not a power of two"));
    }
    SECTION("a real-valued embedding") {
        io::QslmModel q = base;
        q.config_json = set_config(q.config_json, "binary_embedding", "false");
        CHECK_THROWS_WITH(models::integer::PreparedIntegerSpikeGpt::prepare(q), Catch::Contains("binary embedding"));
    }
    SECTION("a missing tensor") {
        io::QslmModel q = base;
        q.tensors.erase(std::remove_if(q.tensors.begin(), q.tensors.end(),
                                       [](const io::QslmTensor& t) { return t.name == "blocks.1.att.output.weight"; }),
                        q.tensors.end());
        CHECK_THROWS_WITH(models::integer::PreparedIntegerSpikeGpt::prepare(q), Catch::Contains("blocks.1.att.output.weight"));
    }
    SECTION("a config that is not JSON") {
        io::QslmModel q = base;
        q.config_json = "{not json";
        CHECK_THROWS_AS(models::integer::PreparedIntegerSpikeGpt::prepare(q), Error);
    }
}

TEST_CASE("float32 matrices in a .qslm model are quantized to 8 bits for the integer path") {
    io::QslmModel q = quantized_tiny(4);
    const auto fm = models::SpikeGptModel::from_qslm(q);
    for (auto& t : q.tensors)
        if (t.name == "blocks.0.ffn.value.weight") t = io::QslmTensor::from_floats(t.name, t.rows, t.cols, t.dequantize());
    const auto prepared = models::integer::PreparedIntegerSpikeGpt::prepare(q);
    const auto& t = prepared->qslm().tensor("blocks.0.ffn.value.weight");
    CHECK(t.is_packed());
    CHECK(t.bits == 8);
    CHECK(prepared->model().check() == Status::ok);
}
