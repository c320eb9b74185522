#include <catch2/catch.hpp>

#include <random>

#include "exhaustive.hpp"
#include "qslm/search/allocator.hpp"
#include "qslm/search/granularity.hpp"
#include "qslm/search/objective.hpp"
#include "qslm/search/searcher.hpp"
#include "synthetic_model.hpp"

using namespace qslm;
using namespace qslm::search;

TEST_CASE("the knapsack allocation is the exact minimum-cost choice within the budget") {
    const unsigned seed = GENERATE(range(1u, 21u));
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> bytes(1, 60);
    std::uniform_real_distribution<double> cost(0.0, 1.0);
    std::vector<std::vector<AllocationOption>> options(5);
    for (auto& o : options)
        for (int k = 0; k < 3; ++k) o.push_back({cost(rng), static_cast<std::size_t>(bytes(rng))});
    const std::size_t budget = 60 + seed * 5;

    double best = 1e300;
    bool any = false;
    for (int code = 0; code < 243; ++code) {
        double c = 0;
        std::size_t b = 0;
        for (int m = 0, x = code; m < 5; ++m, x /= 3) c += options[m][x % 3].cost, b += options[m][x % 3].bytes;
        if (b <= budget && c < best) best = c, any = true;
    }
    const auto pick = allocate(options, budget);
    REQUIRE(pick.has_value() == any);
    if (any) {
        double c = 0;
        std::size_t b = 0;
        for (std::size_t m = 0; m < 5; ++m) c += options[m][(*pick)[m]].cost, b += options[m][(*pick)[m]].bytes;
        CHECK(b <= budget);
        CHECK(c == Approx(best));
    }
}

TEST_CASE("the allocation never exceeds a large budget, even when bytes are counted in coarse units") {
    std::vector<std::vector<AllocationOption>> options(40, {{0.0, 300'001}, {1.0, 150'001}, {5.0, 75'001}});
    const std::size_t budget = 40 * 150'001 + 1'000;
    const auto pick = allocate(options, budget, 1000);  // units of ~6 KB
    REQUIRE(pick.has_value());
    std::size_t b = 0;
    for (std::size_t m = 0; m < 40; ++m) b += options[m][(*pick)[m]].bytes;
    CHECK(b <= budget);
    CHECK(allocate(options, 40 * 75'000) == std::nullopt);
}

TEST_CASE("the budget allocator hits its bits-per-weight target and meets it exactly") {
    const auto model = test::small_model();
    using Allocator = BudgetExact<sensitivity::TaskMetric, rounding::Nearest, granularity::PerTensor,
                                  objective::PerformanceMemoryTradeoff>;
    Options o;
    o.widths = {8, 6, 5, 4, 3, 2};
    o.threads = 2;
    const double bpw = GENERATE(3.0, 4.25, 5.5, 7.0);
    Constraints c;
    c.target_bits_per_weight = bpw;
    const auto r = Allocator{o}.run(model, test::SyntheticEvaluator{}, c);
    REQUIRE(r.tiers.size() == 1);
    const Candidate& a = r.tiers[0].candidate;
    const double got = bits_per_weight(model.h, a.setting, Allocator::spec());
    INFO("target " << bpw << " bpw, allocated " << got);
    CHECK(got <= bpw);
    CHECK(got >= bpw - 0.25);  // widths come in steps; the knapsack fills the budget as far as they allow
    REQUIRE(r.satisfied);
    CHECK(bits_per_weight(model.h, r.chosen->setting, Allocator::spec()) <= bpw);

}

TEST_CASE("with additive sensitivities the allocation is the least damaging setting within the budget") {
    const auto model = test::small_model();
    using Allocator = BudgetExact<sensitivity::TaskMetric, rounding::Nearest, granularity::PerTensor,
                                  objective::PerformanceMemoryTradeoff>;
    Options o;
    o.widths = {8, 4, 3, 2};
    const double bpw = GENERATE(2.5, 3.3, 5.0);
    Constraints c;
    c.target_bits_per_weight = bpw;
    const auto r = Allocator{o}.run(model, test::SyntheticEvaluator{}, c);
    REQUIRE(r.tiers.size() == 1);
    Constraints only_memory;
    only_memory.max_bytes = *c.memory_limit(model.h, model.unsearched);
    // alpha = 1: the exhaustive optimum is the best performance within the budget
    const auto truth = test::exhaustive(model, o.widths, only_memory, Allocator::spec(), 1.0);
    REQUIRE(truth.setting.has_value());
    CHECK(model.performance(r.tiers[0].candidate.setting.widths) == Approx(model.p_float * truth.score));
}

TEST_CASE("the budget allocator needs a budget and says when it is too small") {
    const auto model = test::small_model();
    using Allocator = BudgetExact<sensitivity::HessianTrace, rounding::Nearest, granularity::PerChannel,
                                  objective::PerformanceMemoryTradeoff>;
    CHECK_THROWS_WITH(Allocator{}.run(model, test::SyntheticEvaluator{}, {}), Catch::Contains("needs a memory budget"));
    Constraints c;
    c.max_bytes = 300;
    const auto r = Allocator{}.run(model, test::SyntheticEvaluator{}, c);
    CHECK_FALSE(r.satisfied);
    CHECK_THAT(r.message, Catch::Contains("exceed the memory budget"));
}
