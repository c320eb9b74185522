#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include "qslm/hw/performance_memory_energy.hpp"
#include "qslm/search/objective.hpp"  // the search's ObjectivePolicy concept, which ours must satisfy

using qslm::objective::PerformanceMemoryEnergy;
using qslm::objective::TradeoffMeasurement;
using qslm::objective::TradeoffReference;

TEST_CASE("the trade-off score is alpha P/Pf + beta (1 - M/Mf) + gamma (1 - E/Ef)") {
    const PerformanceMemoryEnergy objective(0.6, 0.3, 0.1);
    const TradeoffReference ref{.memory_bytes = 1000, .energy_pj = 200};
    const TradeoffMeasurement m{.relative_performance = 0.95, .memory_bytes = 250, .energy_pj = 50};
    CHECK(objective.score(m, ref) == Approx(0.6 * 0.95 + 0.3 * 0.75 + 0.1 * 0.75));
    // The float model itself scores alpha.
    CHECK(objective.score({1.0, 1000, 200}, ref) == Approx(0.6));
}

TEST_CASE("with gamma = 0 energy is ignored and may be unknown") {
    const PerformanceMemoryEnergy two_objectives(0.5, 0.5, 0.0);
    const TradeoffReference no_energy{.memory_bytes = 1000, .energy_pj = 0};
    CHECK(two_objectives.score({0.9, 500, 0}, no_energy) == Approx(0.5 * 0.9 + 0.5 * 0.5));
    const PerformanceMemoryEnergy three{};
    CHECK_THROWS_WITH(three.score({0.9, 500, 0}, no_energy), Catch::Contains("energy per token must be positive"));
}

TEST_CASE("with energy weighted, the candidate that saves more energy wins a tie on the other objectives") {
    const PerformanceMemoryEnergy objective{};
    const TradeoffReference ref{1000, 100};
    const TradeoffMeasurement frugal{0.9, 300, 20};
    const TradeoffMeasurement hungry{0.9, 300, 60};
    CHECK(objective.score(frugal, ref) > objective.score(hungry, ref));
}

TEST_CASE("invalid weights or measurements are rejected with a sentence") {
    const TradeoffReference ref{1000, 100};
    CHECK_THROWS_WITH(PerformanceMemoryEnergy(-1, 0.5, 0.5), Catch::Contains("non-negative"));
    CHECK_THROWS_WITH(PerformanceMemoryEnergy(0, 0, 0), Catch::Contains("at least one"));
    CHECK_THROWS_WITH(PerformanceMemoryEnergy(1.5), Catch::Contains("alpha must be in [0, 1]"));
    CHECK_THROWS_WITH(PerformanceMemoryEnergy{}.score({1, 1, 1}, {0, 100}), Catch::Contains("memory must be positive"));
    CHECK_THROWS_WITH(PerformanceMemoryEnergy{}.score({std::numeric_limits<double>::quiet_NaN(), 1, 1}, ref),
                      Catch::Contains("must be finite"));
}

TEST_CASE("the energy objective plugs into the search as an objective policy") {
    static_assert(qslm::ObjectivePolicy<PerformanceMemoryEnergy>);
    const PerformanceMemoryEnergy from_alpha(0.6);
    CHECK(from_alpha.beta == Approx(0.2));
    CHECK(from_alpha.gamma == Approx(0.2));
    CHECK(from_alpha(0.9, 0.25, 0.5) == Approx(0.6 * 0.9 + 0.2 * 0.75 + 0.2 * 0.5));
    // Without an energy estimate every candidate counts as using the float model's energy, so
    // the ranking is the search's two-objective one.
    const qslm::objective::PerformanceMemoryTradeoff two(0.6 / 0.8);
    const double a = from_alpha(0.95, 0.5);
    const double b = from_alpha(0.90, 0.25);
    CHECK((a < b) == (two(0.95, 0.5) < two(0.90, 0.25)));
    CHECK(from_alpha(0.9, 0.25) == Approx(0.6 * 0.9 + 0.2 * 0.75));
    CHECK(PerformanceMemoryEnergy::name() == "performance_memory_energy");
}

TEST_CASE("the three-objective Pareto front keeps exactly the non-dominated candidates") {
    const std::vector<TradeoffMeasurement> candidates{
        {1.00, 1000, 100},  // float: best performance
        {0.98, 500, 60},    // on the front
        {0.97, 600, 70},    // dominated by the one above
        {0.90, 250, 65},    // smallest memory
        {0.90, 300, 30},    // least energy: only energy puts it on the front
        {0.90, 300, 30},    // a tie dominates nothing and is kept
    };
    CHECK(qslm::objective::dominates(candidates[1], candidates[2]));
    CHECK_FALSE(qslm::objective::dominates(candidates[4], candidates[5]));
    CHECK(qslm::objective::pareto_front(candidates) == std::vector<std::size_t>{0, 1, 3, 4, 5});
}
