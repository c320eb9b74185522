// SettingEnergy (energy per token of any setting from one measured float run) and energy as the
// search's third objective: hand-counted splits and prices, the split on a real SpikeGPT run,
// clear errors, and every candidate scored with its energy.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "qslm/hw/performance_memory_energy.hpp"
#include "qslm/search/adapters/spikegpt.hpp"
#include "qslm/search/report.hpp"
#include "qslm/search/searcher.hpp"
#include "qslm/search/setting_energy.hpp"
#include "synthetic_model.hpp"

using namespace qslm;
using namespace qslm::search;
using Catch::Matchers::Contains;

namespace {
// Two modules: 4 x 8 and 2 x 8 weights.
Hierarchy two_modules() {
    Hierarchy h("toy");
    const std::size_t b = h.add_block("blocks.0");
    h.add_module(b, "a", 4, 8);
    h.add_module(b, "b", 2, 8);
    return h;
}

// 10 tokens in one stream: the matrices do 48 MACs and read 48 fp32 weights per token; the
// rest of the model did 7 MACs, 100 state updates and read 64 bits of other parameters.
MeasuredRun toy_run() {
    MeasuredRun r;
    r.tokens = r.weight_fetches = 10;
    r.counts.multiply_accumulates = 48 * 10 + 7;
    r.counts.weight_bits_read = 48 * 10 * 32 + 64;
    r.counts.state_updates = 100;
    r.counts.additions = 30;
    return r;
}

const hw::Horowitz45nm model{};
const hw::MemoryContext memory{};
}  // namespace

TEST_CASE("a setting's workload splits the float run into its modules at their widths and the rest") {
    const SettingEnergy energy(two_modules(), toy_run());
    const auto w = energy.workload(Setting{{4, 8}});
    REQUIRE(w.layers.size() == 3);
    CHECK(w.tokens == 10);
    CHECK(w.layers[0].name == "a");
    CHECK(w.layers[0].counts.multiply_accumulates == 320);
    CHECK(w.layers[0].counts.weight_bits_read == 320 * 4);
    CHECK(w.layers[0].format == hw::LayerFormat{hw::NumericFormat::integer(4), hw::NumericFormat::integer(32),
                                                hw::NumericFormat::integer(32), hw::NumericFormat::integer(32)});
    CHECK(w.layers[1].counts.multiply_accumulates == 160);
    CHECK(w.layers[1].counts.weight_bits_read == 160 * 8);
    CHECK(w.layers[2].name == "other");
    CHECK(w.layers[2].counts.multiply_accumulates == 7);
    CHECK(w.layers[2].counts.weight_bits_read == 64);
    CHECK(w.layers[2].counts.state_updates == 100);

    const auto f = energy.workload(Setting::all_float(2));
    for (const auto& layer : f.layers) CHECK(layer.format == hw::LayerFormat::float32());
    CHECK(f.layers[0].counts.weight_bits_read == 320 * 32);
}

TEST_CASE("the float model's energy is the hand-priced float run, and narrower widths cost less") {
    const MeasuredRun run = toy_run();
    const SettingEnergy energy(two_modules(), run);
    const auto p = hw::price_ops(model, hw::LayerFormat::float32(), memory);
    const double by_hand = static_cast<double>(run.counts.multiply_accumulates) * p.multiply_accumulate +
                           static_cast<double>(run.counts.weight_bits_read) * p.weight_bit +
                           100.0 * p.state_update + 30.0 * p.addition;
    CHECK(energy.float_per_token_pj() == Approx(by_hand / 10.0));
    CHECK(energy.relative(Setting::all_float(2)) == Approx(1.0));
    const double e8 = energy.per_token_pj(Setting::uniform(2, 8));
    const double e4 = energy.per_token_pj(Setting::uniform(2, 4));
    const double e2 = energy.per_token_pj(Setting::uniform(2, 2));
    CHECK(e8 < energy.float_per_token_pj());
    CHECK(e4 < e8);
    CHECK(e2 < e4);
    // Mixed: one module in float keeps its fp32 price.
    CHECK(energy.per_token_pj(Setting{{float_width, 4}}) > e4);

    const auto c = energy.compare(Setting::uniform(2, 4));
    CHECK(c.reference.per_token_pj() == Approx(energy.float_per_token_pj()));
    CHECK(c.energy_ratio() == Approx(e4 / energy.float_per_token_pj()));
}

TEST_CASE("setting energy refuses runs and settings that do not fit the model") {
    MeasuredRun too_little = toy_run();
    too_little.counts.multiply_accumulates = 100;  // fewer than the matrices' 480
    CHECK_THROWS_WITH(SettingEnergy(two_modules(), too_little), Contains("is it a run of this model"));
    MeasuredRun empty = toy_run();
    empty.tokens = 0;
    CHECK_THROWS_WITH(SettingEnergy(two_modules(), empty), Contains("no tokens"));
    const SettingEnergy energy(two_modules(), toy_run());
    CHECK_THROWS_WITH(energy.per_token_pj(Setting::uniform(3, 4)), Contains("has 2 modules"));
    CHECK_THROWS_WITH(energy.per_token_pj(Setting{{4, 12}}), Contains("width 12"));
}

TEST_CASE("on a real SpikeGPT run every multiply-accumulate belongs to a searched matrix") {
    const auto m = models::SpikeGptModel::load(std::string(QSLM_SOURCE_DIR) + "/models/tiny/spikegpt-tiny-s1.safetensors");
    const SpikeGptSearchModel subject(m);
    std::vector<int> tokens;
    for (int t = 0; t < 24; ++t) tokens.push_back((t * 37 + 11) % 256);
    const MeasuredRun run = measure_float_run(subject, tokens);
    CHECK(run.tokens == 24);
    const SettingEnergy energy(subject.hierarchy(), run);
    const auto w = energy.workload(Setting::uniform(subject.hierarchy().module_count(), 4));
    CHECK(w.layers.back().name == "other");
    CHECK(w.layers.back().counts.multiply_accumulates == 0);  // the split is exact for SpikeGPT
    CHECK(w.layers.back().counts.state_updates > 0);          // the LIF neurons ran
    CHECK(energy.relative(Setting::uniform(subject.hierarchy().module_count(), 4)) < 0.5);
    CHECK_THROWS_WITH(measure_float_run(subject, std::vector<int>{}), Contains("no tokens"));
}

TEST_CASE("with an energy estimate the search scores every candidate on performance, memory and energy") {
    using EnergySearch =
        Tiered<sensitivity::TaskMetric, rounding::Nearest, granularity::PerChannel, objective::PerformanceMemoryEnergy>;
    const auto model = test::small_model();
    // Energy: the toy price of a setting, with module 0 (the "embedding") made expensive.
    auto energy_of = [](const Setting& s) {
        double e = 10.0;
        for (std::size_t m = 0; m < s.size(); ++m) e += (m == 0 ? 50.0 : 1.0) * s.widths[m];
        return e;
    };
    Options o;
    o.widths = {8, 6, 4, 2};
    o.threads = 1;
    o.alpha = 0.4;
    Constraints c;
    c.max_drop = 0.05;
    SECTION("every candidate carries its energy and the three-objective score") {
        o.energy_per_token = energy_of;
        const auto r = EnergySearch{o}.run(model, test::SyntheticEvaluator{}, c);
        REQUIRE(r.chosen);
        const objective::PerformanceMemoryEnergy pme(0.4);
        const double e_float = energy_of(Setting::all_float(model.h.module_count()));
        for (const auto& cand : r.candidates) {
            REQUIRE(cand.energy_pj);
            CHECK(*cand.energy_pj == energy_of(cand.setting));
            CHECK(cand.score == Approx(pme(cand.relative_performance, cand.relative_memory, *cand.energy_pj / e_float)));
        }
        const auto j = to_json(r);
        CHECK(j["chosen"]["energy_per_token_pj"].get<double>() == energy_of(r.chosen->setting));
        CHECK(j["baseline"]["energy_per_token_pj"].get<double>() == e_float);
    }
    SECTION("an energy objective without an estimate is an error, not a silent two-objective search") {
        CHECK_THROWS_WITH(EnergySearch{o}.run(model, test::SyntheticEvaluator{}, c), Contains("energy estimate"));
    }
}
