#include <catch2/catch.hpp>

#include "qslm/search/granularity.hpp"
#include "qslm/search/hierarchy.hpp"
#include "qslm/search/memory.hpp"
#include "qslm/search/objective.hpp"
#include "qslm/search/pareto.hpp"
#include "qslm/search/searcher.hpp"
#include "synthetic_model.hpp"

using namespace qslm;
using namespace qslm::search;

TEST_CASE("a hierarchy is derived from SpikeGPT state-dict names") {
    const std::vector<NamedShape> tensors = {
        {"emb.weight", 256, 64},           {"blocks.0.att.key.weight", 64, 64}, {"blocks.0.att.value.weight", 64, 64},
        {"blocks.0.ffn.key.weight", 256, 64}, {"blocks.1.att.key.weight", 64, 64}, {"head.weight", 256, 64}};
    const Hierarchy h = Hierarchy::from_tensor_names("spikegpt", tensors);
    REQUIRE(h.block_count() == 4);
    CHECK(h.block(0).name == "emb");
    CHECK(h.block(1).name == "blocks.0");
    CHECK(h.block(1).modules == std::vector<std::size_t>{1, 2, 3});
    CHECK(h.block(2).name == "blocks.1");
    CHECK(h.block(3).name == "head");
    CHECK(h.module(3).name == "blocks.0.ffn.key.weight");
    CHECK(h.module(3).block == 1);
    CHECK(h.total_weights() == 256 * 64 * 3 + 64 * 64 * 3 + 0 * 1);
    CHECK(h.find_module("head.weight") == 5);
}

TEST_CASE("a hierarchy rejects duplicates, empty shapes and empty models with a clear error") {
    Hierarchy h;
    const auto b = h.add_block("blocks.0");
    h.add_module(b, "a", 2, 2);
    CHECK_THROWS_WITH(h.add_module(b, "a", 2, 2), Catch::Contains("'a' added twice"));
    CHECK_THROWS_WITH(h.add_module(b, "z", 0, 2), Catch::Contains("shape 0 x 2"));
    CHECK_THROWS_WITH(h.add_module(7, "y", 1, 1), Catch::Contains("block 7"));
    CHECK_THROWS_WITH(h.add_block("blocks.0"), Catch::Contains("added twice"));
    CHECK_THROWS_WITH(Hierarchy("empty").validate(), Catch::Contains("no modules"));
    Hierarchy g;
    g.add_block("lonely");
    g.add_block("x");
    g.add_module(1, "m", 1, 1);
    CHECK_THROWS_WITH(g.validate(), Catch::Contains("'lonely' has no modules"));
}

TEST_CASE("the memory of a setting equals the bytes of the packed tensors the search produces") {
    const auto model = test::small_model();
    const int width = GENERATE(2, 3, 4, 5, 6, 8);
    using S = Tiered<sensitivity::TaskMetric, rounding::Nearest, granularity::PerGroup<8>,
                     objective::PerformanceMemoryTradeoff>;
    Setting s = Setting::uniform(model.h.module_count(), width);
    s.widths[1] = float_width;  // one module kept float: 4 bytes a weight
    const auto packed = S{}.materialize(model, s);
    std::size_t total = model.unsearched_bytes();
    for (std::size_t m = 0; m < packed.size(); ++m) {
        if (s.widths[m] == float_width) {
            CHECK_FALSE(packed[m].has_value());
            total += model.h.module(m).weights() * 4;
        } else {
            REQUIRE(packed[m].has_value());
            CHECK(packed[m]->bits() == width);
            total += packed[m]->bytes();
        }
    }
    CHECK(setting_bytes(model.h, s, S::spec(), model.unsearched_bytes()) == total);
}

TEST_CASE("bits per weight counts scales as overhead") {
    Hierarchy h;
    h.add_module(h.add_block("b"), "m", 4, 64);
    // 4-bit payload + one float scale per 64 weights = 4 + 32/64 bits per weight.
    CHECK(bits_per_weight(h, Setting::uniform(1, 4), granularity::PerGroup<64>::spec()) == Approx(4.5));
    CHECK(bits_per_weight(h, Setting::uniform(1, 4), granularity::PerTensor::spec()) == Approx(4.0 + 32.0 / 256));
    CHECK(bits_per_weight(h, Setting::all_float(1), granularity::PerTensor::spec()) == Approx(32.0));
    CHECK_THROWS_WITH(module_bytes(h.module(0), 9, {}), Catch::Contains("width 9"));
    CHECK_THROWS_WITH(searched_bytes(h, Setting::uniform(2, 4), {}), Catch::Contains("2 widths for 1 modules"));
}

TEST_CASE("the trade-off score weighs relative performance against relative memory") {
    const objective::PerformanceMemoryTradeoff o(0.25);
    CHECK(o(1.0, 1.0) == Approx(0.25));
    CHECK(o(0.8, 0.25) == Approx(0.25 * 0.8 + 0.75 * 0.75));
    CHECK_THROWS_WITH(objective::PerformanceMemoryTradeoff(1.5), Catch::Contains("alpha"));
}

TEST_CASE("relative performance inverts lower-is-better metrics") {
    const auto ppl = eval::lower_is_better(20.0, "perplexity");
    CHECK(eval::lower_is_better(40.0, "perplexity").relative_to(ppl) == Approx(0.5));
    CHECK(eval::higher_is_better(0.45, "accuracy").relative_to(eval::higher_is_better(0.9, "accuracy")) == Approx(0.5));
    CHECK(eval::lower_is_better(25.0, "perplexity").drop_from(ppl) == Approx(0.2));
}

TEST_CASE("the Pareto front keeps exactly the undominated candidates, by bytes") {
    auto c = [](std::size_t bytes, double rel) {
        Candidate x;
        x.bytes = bytes;
        x.relative_performance = rel;
        return x;
    };
    const std::vector<Candidate> cands = {c(100, 0.9), c(50, 0.95), c(80, 0.97), c(50, 0.5), c(200, 1.0), c(120, 0.96)};
    CHECK(pareto_front(cands) == std::vector<std::size_t>{1, 2, 4});
}
