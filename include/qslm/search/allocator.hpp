#pragma once
// Budget-exact allocation (in the spirit of HAWQ-V3's ILP): choose one width per module to
// minimise the summed sensitivity subject to the memory budget,
//
//   minimise  sum_m s_m(w_m)   subject to   sum_m bytes_m(w_m) <= budget,
//
// a multiple-choice knapsack, solved exactly by dynamic programming over the budget. Bytes are
// counted in units of ceil(budget / 65536) and each option's bytes are rounded *up* to whole
// units, so the answer never exceeds the budget and is optimal when the budget is below 65536
// bytes (otherwise it can leave at most one unit per module unused). Among equally sensitive
// answers the one using more bytes wins, so the budget is used as fully as it can be.
//
// As a search strategy it reads the budget from max_bytes / target_bits_per_weight, evaluates
// the uniform settings (for comparison and as fall-backs) and the allocation, and lets the
// objective choose among what meets the constraints.
//
// Sensitivities are made monotone first (a lower width is never less sensitive than a higher
// one; measured noise can say otherwise) and clamped at zero.
//
// Host-only header.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/search/candidate.hpp"
#include "qslm/search/memory.hpp"
#include "qslm/search/sensitivity.hpp"
#include "qslm/search/setting.hpp"

namespace qslm::search {

/// One option per module and choice: its cost and its bytes.
struct AllocationOption {
    double cost = 0.0;
    std::size_t bytes = 0;
};

/// The multiple-choice knapsack solved for every capacity up to a budget at once: the least
/// cost within u units for each u, and the choice that reaches it. The tiered search's refine
/// step reads the whole curve (cost against bytes) from one table.
class AllocationTable {
public:
    /// `options[m]` lists module m's choices, preferred first on ties.
    AllocationTable(const std::vector<std::vector<AllocationOption>>& options, std::size_t budget,
                    std::size_t max_units = 65536)
        : options_(options), unit_(std::max<std::size_t>(1, (budget + max_units - 1) / max_units)),
          cap_(budget / unit_), best_(cap_ + 1, 0.0),
          choice_(options.size(), std::vector<std::uint8_t>(cap_ + 1, 0)) {
        std::vector<double> next(cap_ + 1);
        for (std::size_t m = 0; m < options_.size(); ++m) {
            if (options_[m].empty() || options_[m].size() > 255)
                fail(Status::invalid_argument, "allocate: each module needs 1..255 options");
            std::fill(next.begin(), next.end(), infinity);
            for (std::size_t o = 0; o < options_[m].size(); ++o) {
                const std::size_t units = units_of(m, o);
                if (units > cap_) continue;
                for (std::size_t u = units; u <= cap_; ++u) {
                    const double c = best_[u - units] + options_[m][o].cost;
                    if (c < next[u]) {
                        next[u] = c;
                        choice_[m][u] = static_cast<std::uint8_t>(o);
                    }
                }
            }
            best_.swap(next);
        }
    }

    static constexpr double infinity = std::numeric_limits<double>::infinity();

    [[nodiscard]] std::size_t unit() const noexcept { return unit_; }
    [[nodiscard]] std::size_t capacity_units() const noexcept { return cap_; }
    /// Least total cost within u units (infinity when nothing fits).
    [[nodiscard]] double min_cost(std::size_t u) const { return best_.at(u); }

    /// The option chosen per module for capacity u. Precondition: min_cost(u) is finite.
    [[nodiscard]] std::vector<std::size_t> choose(std::size_t u) const {
        std::vector<std::size_t> out(options_.size());
        for (std::size_t m = options_.size(); m-- > 0;) {
            out[m] = choice_[m][u];
            u -= units_of(m, out[m]);
        }
        return out;
    }

private:
    [[nodiscard]] std::size_t units_of(std::size_t m, std::size_t o) const {
        return (options_[m][o].bytes + unit_ - 1) / unit_;  // rounded up: never over the budget
    }

    std::vector<std::vector<AllocationOption>> options_;
    std::size_t unit_, cap_;
    std::vector<double> best_;
    std::vector<std::vector<std::uint8_t>> choice_;
};

/// Index of the chosen option per module, or nullopt when even the smallest options exceed
/// the budget. `options[m]` lists module m's choices, preferred first on ties.
inline std::optional<std::vector<std::size_t>> allocate(const std::vector<std::vector<AllocationOption>>& options,
                                                         std::size_t budget, std::size_t max_units = 65536) {
    const AllocationTable table(options, budget, max_units);
    if (table.min_cost(table.capacity_units()) == AllocationTable::infinity) return std::nullopt;
    return table.choose(table.capacity_units());
}

/// Sensitivities per module and width, monotone in width and non-negative.
inline std::vector<std::vector<double>> monotone_sensitivities(const SensitivityTable& t) {
    std::vector<std::vector<double>> out(t.modules, std::vector<double>(t.widths.size()));
    std::vector<std::size_t> order(t.widths.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return t.widths[a] > t.widths[b]; });
    for (std::size_t m = 0; m < t.modules; ++m) {
        double running = 0.0;
        for (const std::size_t w : order) out[m][w] = running = std::max(running, std::max(0.0, t.at(m, w)));
    }
    return out;
}

/// Options for every module at every candidate width (highest first), with monotone sensitivities.
template <class Engine>
std::vector<std::vector<AllocationOption>> allocation_options(const Engine& e) {
    const auto sens = monotone_sensitivities(e.sensitivity());
    const auto& widths = e.widths();
    std::vector<std::vector<AllocationOption>> options(e.hierarchy().module_count());
    for (std::size_t m = 0; m < options.size(); ++m)
        for (std::size_t w = 0; w < widths.size(); ++w)  // highest width first: preferred on ties
            options[m].push_back({sens[m][w], module_bytes(e.hierarchy().module(m), widths[w], e.spec())});
    return options;
}

namespace strategy {

struct KnapsackAllocator {
    static std::string name() { return "budget_allocator"; }

    template <class Engine>
    static void explore(Engine& e) {
        const auto limit = e.memory_limit();
        if (!limit)
            fail(Status::invalid_argument,
                 "the budget allocator needs a memory budget: set max_bytes or target_bits_per_weight");
        const std::size_t n = e.hierarchy().module_count();
        const auto& widths = e.widths();
        e.plan(widths.size() + 1);
        std::vector<Setting> uniform;
        for (const int w : widths) uniform.push_back(Setting::uniform(n, w));
        (void)e.evaluate_batch(uniform, "global");

        if (*limit < e.unsearched_bytes()) {
            e.note("The memory budget is smaller than the unsearched part of the model alone");
            return;
        }
        const auto pick = allocate(allocation_options(e), *limit - e.unsearched_bytes());
        if (!pick) {
            e.note("Even " + std::to_string(widths.back()) + "-bit weights everywhere exceed the memory budget");
            return;
        }
        Setting s = Setting::uniform(n, 0);
        for (std::size_t m = 0; m < n; ++m) s.widths[m] = widths[(*pick)[m]];
        e.record_tier("allocator", e.evaluate(s, "allocator"));
    }
};

}  // namespace strategy
}  // namespace qslm::search
