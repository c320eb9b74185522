#pragma once
// Tiered descent, the QSLM search strategy:
//
//   global tier  every candidate width uniformly (evaluated side by side). The start point is
//                the best-scoring uniform setting that meets all constraints; when none meets
//                the memory limit, the lowest uniform width that still meets the performance
//                bound (the paper's rule). When not even the highest width meets the performance
//                bound, the search stops there: lowering widths never helps performance.
//   block tier   from the global answer, lower one block by one width step at a time.
//   module tier  from the block answer, the same per module.
//   refine       (beyond the paper) greedy descent only ever lowers widths, so it cannot trade
//                a wider sensitive module for narrower harmless ones. The refine step fits one
//                factor k so that k * (sum of module sensitivities) predicts the measured drop of
//                everything evaluated so far (least squares through the origin), solves the
//                knapsack of qslm/search/allocator.hpp for every byte budget at once, and
//                evaluates the setting with the best *predicted* score whose predicted drop is
//                within the bound. When the evaluation disagrees (the bound is missed), the
//                allowed predicted drop is halved and it tries again (at most 4 evaluations).
//                It is kept only if it really is feasible and scores better.
//
// Within a tier, the candidate moves are ordered by sensitivity increase per byte saved
// (cheapest damage per byte first; the paper orders by sensitivity alone, which tries a big
// sensitive embedding before a small harmless projection). A move is evaluated and accepted
// when the performance bound still holds and either the memory limit is not met yet or the
// trade-off score improves; a rejected unit is frozen for the rest of the tier (lowering it
// further would only hurt more). After each accepted move the order is recomputed.
//
// Evaluations per tier are at most units x (widths + 1); every one is memoised and logged.
// The decisions depend only on evaluation results, never on timing or thread count.
//
// Host-only header.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "qslm/search/allocator.hpp"
#include "qslm/search/candidate.hpp"
#include "qslm/search/setting.hpp"

namespace qslm::search::strategy {

struct TieredDescent {
    static std::string name() { return "tiered"; }

    template <class Engine>
    static void explore(Engine& e) {
        const std::size_t n = e.hierarchy().module_count();
        e.plan(e.widths().size());
        std::vector<Setting> uniform;
        for (const int w : e.widths()) uniform.push_back(Setting::uniform(n, w));
        const auto global = e.evaluate_batch(uniform, "global");

        const Candidate* start = nullptr;
        for (const Candidate* c : global)  // best score among the feasible; ties: the wider
            if (c->feasible() && (!start || c->score > start->score)) start = c;
        if (!start)
            for (const Candidate* c : global)  // widths run highest first: keep the last that passes
                if (c->performance_ok) start = c;
        if (!start) {
            e.record_tier("global", *global.front());
            e.note("Even " + std::to_string(e.widths().front()) +
                   "-bit weights everywhere miss the performance bound, so no lower setting can meet it");
            return;
        }
        e.record_tier("global", *start);

        std::vector<std::vector<std::size_t>> blocks;
        for (const auto& b : e.hierarchy().blocks()) blocks.push_back(b.modules);
        Candidate current = descend(e, *start, blocks, "block");
        e.record_tier("block", current);

        std::vector<std::vector<std::size_t>> modules;
        for (std::size_t m = 0; m < n; ++m) modules.push_back({m});
        current = descend(e, current, modules, "module");
        e.record_tier("module", current);

        if (const auto refined = refine(e, current)) e.record_tier("refine", *refined);
    }

    /// Whether a move from `current` to `next` is kept.
    static bool accept(const Candidate& next, const Candidate& current) {
        if (!next.performance_ok) return false;
        if (!current.memory_ok) return true;  // still over budget: any step that keeps performance is progress
        return next.memory_ok && next.score > current.score;
    }

private:
    template <class Engine>
    static std::optional<Candidate> refine(Engine& e, const Candidate& current) {
        const auto sens = monotone_sensitivities(e.sensitivity());
        auto predicted_cost = [&](const Setting& s) {
            double c = 0.0;
            for (std::size_t m = 0; m < s.size(); ++m)
                for (std::size_t w = 0; w < e.widths().size(); ++w)
                    if (e.widths()[w] == s.widths[m]) c += sens[m][w];
            return c;
        };
        const auto allowed = e.allowed_drop();
        // Least squares through the origin, drop ~ k * cost, over the candidates in the regime
        // that matters (drop within twice the bound): far beyond it, KL and proxies saturate or
        // explode and would skew k. Refitted after every attempt, which adds a point.
        auto fit = [&]() -> std::optional<double> {
            double sc = 0.0, cc = 0.0;
            for (const Candidate& c : e.candidates()) {
                const double drop = 1.0 - c.relative_performance;
                if (allowed && drop > 2.0 * *allowed) continue;
                const double cost = predicted_cost(c.setting);
                sc += cost * drop;
                cc += cost * cost;
            }
            if (!(cc > 0.0) || !(sc > 0.0)) return std::nullopt;
            return sc / cc;
        };
        const std::size_t searched_float = e.bytes(Setting::all_float(e.hierarchy().module_count())) - e.unsearched_bytes();
        const auto limit = e.memory_limit();
        if (limit && *limit < e.unsearched_bytes()) return std::nullopt;
        const AllocationTable table(allocation_options(e), limit ? std::min(*limit - e.unsearched_bytes(), searched_float)
                                                                 : searched_float);
        double margin = 1.0;
        e.plan(1);
        for (int attempt = 0; attempt < 4; ++attempt, margin *= 0.5) {
            const auto fitted = fit();
            if (!fitted) return std::nullopt;
            const double k = *fitted;
            std::optional<std::size_t> best_u;
            double best_score = 0.0;
            for (std::size_t u = 0; u <= table.capacity_units(); ++u) {
                const double cost = table.min_cost(u);
                if (cost == AllocationTable::infinity) continue;
                if (allowed && k * cost > margin * *allowed) continue;
                const double predicted = e.score(1.0 - k * cost, u * table.unit() + e.unsearched_bytes());
                if (!best_u || predicted > best_score) best_u = u, best_score = predicted;
            }
            if (!best_u) return std::nullopt;
            const auto pick = table.choose(*best_u);
            Setting s = current.setting;
            for (std::size_t m = 0; m < s.size(); ++m) s.widths[m] = e.widths()[pick[m]];
            const Candidate& c = e.evaluate(s, "refine");
            if (c.feasible() && (!current.feasible() || c.score > current.score)) return c;
            if (c.performance_ok) return std::nullopt;  // the prediction held but did not beat the tiers
            e.plan(1);
        }
        return std::nullopt;
    }

    template <class Engine>
    static Candidate descend(Engine& e, Candidate current, const std::vector<std::vector<std::size_t>>& units,
                             const std::string& tier) {
        std::vector<bool> frozen(units.size(), false);
        e.plan(units.size());
        for (;;) {
            struct Move {
                std::size_t unit;
                Setting setting;
                double cost_per_byte;
            };
            std::vector<Move> moves;
            const std::size_t current_bytes = e.bytes(current.setting);
            for (std::size_t u = 0; u < units.size(); ++u) {
                if (frozen[u]) continue;
                Setting s = current.setting;
                double cost = 0.0;
                bool changed = false;
                for (const std::size_t m : units[u]) {
                    if (const auto lower = e.lower_width(s.widths[m])) {
                        cost += e.sensitivity().at_width(m, *lower) - e.sensitivity().at_width(m, s.widths[m]);
                        s.widths[m] = *lower;
                        changed = true;
                    }
                }
                if (!changed) continue;
                const std::size_t saved = current_bytes - e.bytes(s);
                moves.push_back({u, std::move(s), cost / static_cast<double>(std::max<std::size_t>(saved, 1))});
            }
            if (moves.empty()) break;
            std::stable_sort(moves.begin(), moves.end(),
                             [](const Move& a, const Move& b) { return a.cost_per_byte < b.cost_per_byte; });
            bool accepted = false;
            for (const Move& mv : moves) {
                const Candidate& c = e.evaluate(mv.setting, tier);
                if (accept(c, current)) {
                    current = c;
                    accepted = true;
                    e.plan(1);
                    break;
                }
                frozen[mv.unit] = true;
            }
            if (!accepted) break;
        }
        return current;
    }
};

}  // namespace qslm::search::strategy
