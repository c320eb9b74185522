#pragma once
// PerformanceMemoryEnergy: the search's trade-off score with energy as a third objective,
//   score = alpha * P/P_f + beta * (1 - M/M_f) + gamma * (1 - E/E_f),
// where _f marks the float model, P is performance (higher is better, already made
// direction-aware, e.g. eval::Performance::relative_to()), M the weight memory and E the energy
// per token. With gamma = 0 it is the two-objective performance/memory trade-off of QSLM.
// Also the three-objective dominance test for reporting a Pareto front.
//
// Same shape as the search's objective policies (qslm/search/objective.hpp): the engine scores
// candidates that already meet its memory and accuracy constraints and keeps the highest.
// Host-side header.

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "qslm/host/error.hpp"

namespace qslm::objective {

/// One candidate as the trade-off sees it.
struct TradeoffMeasurement {
    double relative_performance = 1.0;  ///< P / P_f: 1 = as good as the float model
    double memory_bytes = 0.0;          ///< M: weight memory of the candidate
    double energy_pj = 0.0;             ///< E: energy per token of the candidate
};

/// The float model's memory and energy, against which candidates are normalised.
struct TradeoffReference {
    double memory_bytes = 0.0;  ///< M_f
    double energy_pj = 0.0;     ///< E_f
};

/// Satisfies the search's qslm::ObjectivePolicy (constructible from alpha, called with relative
/// performance and memory, named by name()) and adds the three-objective call. A search engine
/// that estimates energy calls operator()(p, m, e); one that does not calls operator()(p, m),
/// which scores every candidate as using the float model's energy (E = E_f), so the ranking is
/// the two-objective one with weights alpha : beta.
struct PerformanceMemoryEnergy {
    double alpha = 0.5;   ///< weight of performance
    double beta = 0.25;   ///< weight of memory saving
    double gamma = 0.25;  ///< weight of energy saving

    /// Tells a search engine that candidates should get an energy estimate before scoring.
    static constexpr bool needs_energy = true;

    PerformanceMemoryEnergy() = default;
    /// The search's single knob: alpha for performance, the rest split evenly between memory
    /// and energy.
    explicit PerformanceMemoryEnergy(double a) : alpha(a), beta((1.0 - a) / 2.0), gamma((1.0 - a) / 2.0) {
        if (!(a >= 0.0 && a <= 1.0)) fail(Status::invalid_argument, "trade-off alpha must be in [0, 1]");
    }
    PerformanceMemoryEnergy(double a, double b, double g) : alpha(a), beta(b), gamma(g) {
        auto ok = [](double w) { return std::isfinite(w) && w >= 0.0; };
        if (!ok(alpha) || !ok(beta) || !ok(gamma))
            fail(Status::invalid_argument, "performance-memory-energy trade-off: alpha, beta and gamma must be finite and non-negative");
        if (alpha + beta + gamma <= 0.0)
            fail(Status::invalid_argument, "performance-memory-energy trade-off: at least one of alpha, beta, gamma must be positive");
    }

    static std::string name() { return "performance_memory_energy"; }

    /// Higher is better. p = P/P_f, m = M/M_f, e = E/E_f.
    [[nodiscard]] double operator()(double relative_performance, double relative_memory,
                                    double relative_energy) const noexcept {
        return alpha * relative_performance + beta * (1.0 - relative_memory) + gamma * (1.0 - relative_energy);
    }
    [[nodiscard]] double operator()(double relative_performance, double relative_memory) const noexcept {
        return (*this)(relative_performance, relative_memory, 1.0);
    }

    /// The same score from absolute measurements, with the float model as reference; checks
    /// its inputs, since a zero reference would silently give infinities.
    [[nodiscard]] double score(const TradeoffMeasurement& m, const TradeoffReference& ref) const {
        if (!(std::isfinite(ref.memory_bytes) && ref.memory_bytes > 0.0))
            fail(Status::invalid_argument, "performance-memory-energy trade-off: the float model's memory must be positive");
        if (gamma > 0.0 && !(std::isfinite(ref.energy_pj) && ref.energy_pj > 0.0))
            fail(Status::invalid_argument, "performance-memory-energy trade-off: the float model's energy per token must be positive when gamma > 0");
        if (!std::isfinite(m.relative_performance) || !(std::isfinite(m.memory_bytes) && m.memory_bytes >= 0.0) ||
            !(std::isfinite(m.energy_pj) && m.energy_pj >= 0.0))
            fail(Status::invalid_argument, "performance-memory-energy trade-off: a candidate's performance, memory and energy must be finite (memory and energy non-negative)");
        const double relative_energy = gamma > 0.0 ? m.energy_pj / ref.energy_pj : 1.0;
        return (*this)(m.relative_performance, m.memory_bytes / ref.memory_bytes, relative_energy);
    }
};

/// a dominates b: at least as good in performance, memory and energy, and strictly better in one.
constexpr bool dominates(const TradeoffMeasurement& a, const TradeoffMeasurement& b) noexcept {
    const bool no_worse = a.relative_performance >= b.relative_performance && a.memory_bytes <= b.memory_bytes &&
                          a.energy_pj <= b.energy_pj;
    const bool better = a.relative_performance > b.relative_performance || a.memory_bytes < b.memory_bytes ||
                        a.energy_pj < b.energy_pj;
    return no_worse && better;
}

/// Indices of the candidates no other candidate dominates (the performance/memory/energy
/// Pareto front), in input order. Quadratic: fronts are built from tens to hundreds of candidates.
inline std::vector<std::size_t> pareto_front(const std::vector<TradeoffMeasurement>& candidates) {
    std::vector<std::size_t> front;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        bool dominated = false;
        for (std::size_t j = 0; j < candidates.size() && !dominated; ++j)
            dominated = j != i && dominates(candidates[j], candidates[i]);
        if (!dominated) front.push_back(i);
    }
    return front;
}

}  // namespace qslm::objective
