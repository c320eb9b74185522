// Both embedding paths of SpikeGPT against logits produced by the reference implementation's own
// RNN runner (github.com/ridgerchu/SpikeGPT, src/model_run.py), not by our PyTorch re-implementation.
//
// tests/models/data/reference/ holds three random-weight checkpoints in the reference tensor
// naming with no __metadata__ at all (vocabulary 77, vocabulary 256, and a 7-block one for the
// runner's rescaling), and per step the reference logits, LIF spike counts and the
// smallest distance of any LIF charge (or binarised embedding entry) to its threshold; they are
// written by tools/reference/make_reference_logits.py (docs/models.md, "Checked against the
// reference code"). The runner binarises the embedding for its 77-symbol character model and
// feeds every other model the float embedding; a file that states nothing must be read the same
// way. Token ids go straight in on both sides (the runner takes ids; no tokenizer is involved).
//
// Tolerance. Both sides run float32; they differ only in summation order and in the exp/sqrt of
// their libraries. A float32 dot product of length n is off by at most n * u * sum|a_i b_i|
// (u = 2^-24). One token's forward is a chain of such operations: per block 2 LayerNorms, 7
// matrix-vector products and the WKV update, then ln_out and the head. Two blocks of width 32
// (n <= 128): about 20 operations, worst case 20 * 128 * u = 1.5e-4 of the magnitudes involved
// (O(1) for these weights); seven blocks of width 16 (n <= 64): about 75, worst case 2.9e-4.
// Rounding errors of different orders have random signs, so the typical error is smaller by
// about sqrt(n * operations), i.e. below 1e-5. We check |cpp - ref| <= 1e-4 * max(1, max |ref
// logit| of the step) per logit (the bound of the golden tests, golden_compare.hpp): between the
// typical and the worst case, tight enough to catch any real difference in the forward, and
// far below what the wrong embedding mode gives (checked below to exceed 100 times it).
// Measured: <= 3.6e-7.
//
// Spikes. A LIF input off by the error above (<= 2.9e-4 relative, inputs O(1)) cannot flip a
// neuron whose charge is farther than that from its threshold; the generator refuses seeds with
// any margin below 1e-3, and the test checks the stored margins, so the spike counts must match
// exactly.
#include "golden_compare.hpp"

#include <filesystem>
#include <string>

namespace fs = std::filesystem;
using namespace qslm;

namespace {

constexpr double reference_rel_tolerance = 1e-4;  // derived in the file comment
constexpr double min_margin = 1e-3;               // >> the LIF input error bound above
constexpr double wrong_mode_min_difference = 100 * reference_rel_tolerance;

fs::path reference_dir() { return fs::path(QSLM_SOURCE_DIR) / "tests" / "models" / "data" / "reference"; }

struct Comparison {
    double max_rel_error = 0.0;  ///< max over steps and logits of |cpp - ref| / max(1, max |ref| of the step)
    bool spikes_equal = true;
};

// Runs the reference tokens through `owner` one step at a time; compares the logits and the
// per-node spike counts (LIF1 of block i, a fired neuron is reset to exactly 0 as in
// golden_compare.hpp; LIF2 = the block's count minus LIF1's).
Comparison compare(const models::SpikeGptModel& owner, const nlohmann::json& g) {
    const auto inst = owner.instance();
    const models::SpikeGpt& m = inst.model();
    const std::size_t V = m.vocab_size(), C = m.n_embd(), L = m.n_layer();
    const auto tokens = g["tokens"].get<std::vector<std::uint32_t>>();
    REQUIRE(tokens.size() == g["logits"].size());
    REQUIRE(tokens.size() == g["lif_spikes"].size());
    std::vector<float> state(m.state_floats(1)), scratch(m.scratch_floats(1)), logits(V);
    REQUIRE(m.reset(state, 1) == Status::ok);
    const std::size_t S = layers::SpikeGptBlock::state_floats(C);
    Comparison out;
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        std::vector<std::uint64_t> block_spikes(L, 0);
        REQUIRE(m.step({&tokens[t], 1}, state, scratch, logits, nullptr, block_spikes) == Status::ok);
        const auto& ref_spikes = g["lif_spikes"][t];
        REQUIRE(ref_spikes.size() == 2 * L);
        for (std::size_t i = 0; i < L; ++i) {
            const float* v1 = state.data() + i * S + 5 * C;
            const auto att = static_cast<std::uint64_t>(std::count(v1, v1 + C, 0.0f));
            if (att != ref_spikes[2 * i].get<std::uint64_t>() || block_spikes[i] - att != ref_spikes[2 * i + 1].get<std::uint64_t>())
                out.spikes_equal = false;
        }
        double scale = 1.0;
        for (const auto& v : g["logits"][t]) scale = std::max(scale, std::abs(v.get<double>()));
        REQUIRE(g["logits"][t].size() == V);
        for (std::size_t v = 0; v < V; ++v) {
            const double err = std::abs(static_cast<double>(logits[v]) - g["logits"][t][v].get<double>());
            out.max_rel_error = std::max(out.max_rel_error, err / scale);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("SpikeGPT checkpoints without metadata reproduce the reference runner's logits on both embedding paths") {
    const std::string stem = GENERATE(std::string("spikegpt-ref-v77"), std::string("spikegpt-ref-v256"));
    const auto g = qslm_test::read_json(reference_dir() / (stem + ".json"));
    INFO(stem << ": reference commit " << g["reference"]["commit"].get<std::string>());
    REQUIRE(g["format"].get<std::string>() == "qslm-reference-logits-v1");
    const bool ref_binary = g["reference_binary_embedding"].get<bool>();
    // The runner's rule: binary exactly for the 77-symbol vocabulary; one file of each kind.
    REQUIRE(ref_binary == (g["config"]["vocab_size"].get<std::size_t>() == 77));

    // No tie the float32 run could legitimately resolve the other way.
    for (const auto& margin : g["min_threshold_margin"]) REQUIRE(margin.get<double>() >= min_margin);

    const fs::path model_path = reference_dir() / g["model"].get<std::string>();
    const auto model = models::SpikeGptModel::load(model_path);  // default options: the file decides
    REQUIRE(model.checkpoint().metadata.empty());  // nothing stated: the reference rule must decide
    CHECK(model.checkpoint().config.binary_embedding_source.starts_with("not stated in the file"));
    CHECK(model.config().vocab_size == g["config"]["vocab_size"].get<std::size_t>());
    CHECK(model.config().n_layer == g["config"]["n_layer"].get<std::size_t>());
    CHECK(model.config().n_embd == g["config"]["n_embd"].get<std::size_t>());
    REQUIRE(model.options().binary_embedding == ref_binary);

    const auto right = compare(model, g);
    WARN(stem << " (" << (ref_binary ? "binary" : "float") << " embedding): max relative logit difference from the reference runner "
              << right.max_rel_error);
    CHECK(right.spikes_equal);
    CHECK(right.max_rel_error <= reference_rel_tolerance);

    // The comparison can fail: the other embedding mode (what --embedding would force) gives
    // logits far outside the tolerance.
    models::SpikeGptLoadOptions wrong_options;
    wrong_options.binary_embedding = !ref_binary;
    const auto wrong_model = models::SpikeGptModel::load(model_path, wrong_options);
    REQUIRE(wrong_model.options().binary_embedding == !ref_binary);
    const auto wrong = compare(wrong_model, g);
    WARN(stem << " with the " << (ref_binary ? "float" : "binary") << " embedding forced: max relative logit difference "
              << wrong.max_rel_error);
    CHECK(wrong.max_rel_error > wrong_mode_min_difference);
}

// The runner also divides att.output / ffn.value of block i by 2^(i / 6) and halves the residual
// stream after every 6th block (RWKV_RESCALE_LAYER = 6). qslm's default is the training-mode
// forward (layers/spikegpt_block.hpp says why); SpikeGptLoadOptions::runner_rescale_every = 6
// asks for the runner's. A 7-block model is the smallest on which that acts.
TEST_CASE("a 7-block SpikeGPT checkpoint reproduces the reference runner's logits with runner_rescale_every = 6") {
    const auto g = qslm_test::read_json(reference_dir() / "spikegpt-ref-v64-l7.json");
    REQUIRE(g["config"]["n_layer"].get<std::size_t>() > g["reference_rescale_layer"].get<std::size_t>());
    for (const auto& margin : g["min_threshold_margin"]) REQUIRE(margin.get<double>() >= min_margin);
    const fs::path model_path = reference_dir() / g["model"].get<std::string>();

    models::SpikeGptLoadOptions options;
    options.runner_rescale_every = g["reference_rescale_layer"].get<std::size_t>();
    const auto model = models::SpikeGptModel::load(model_path, options);
    REQUIRE(model.options().binary_embedding == g["reference_binary_embedding"].get<bool>());  // float: vocabulary 64
    const auto runner = compare(model, g);
    WARN("spikegpt-ref-v64-l7 with runner_rescale_every = 6: max relative logit difference " << runner.max_rel_error);
    CHECK(runner.spikes_equal);
    CHECK(runner.max_rel_error <= reference_rel_tolerance);

    // The file exercises the rescaling: the default (training-mode) forward differs from the runner's.
    const auto training_mode = compare(models::SpikeGptModel::load(model_path), g);
    WARN("spikegpt-ref-v64-l7 with the default training-mode forward: max relative logit difference "
         << training_mode.max_rel_error);
    CHECK(training_mode.max_rel_error > wrong_mode_min_difference);
}
