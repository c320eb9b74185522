#pragma once
// Exhaustive search over every setting of a SyntheticModel: the ground truth the strategies
// are compared against.

#include <cstddef>
#include <optional>
#include <vector>

#include "qslm/search/constraints.hpp"
#include "qslm/search/memory.hpp"
#include "qslm/search/objective.hpp"
#include "synthetic_model.hpp"

namespace qslm::test {

struct ExhaustiveBest {
    std::optional<search::Setting> setting;
    double score = 0.0;
    std::size_t feasible = 0;
    std::size_t total = 0;
};

inline ExhaustiveBest exhaustive(const SyntheticModel& model, const std::vector<int>& widths,
                                 const search::Constraints& c, const QuantSpec& spec, double alpha) {
    const std::size_t n = model.h.module_count();
    const objective::PerformanceMemoryTradeoff objective(alpha);
    const auto base_perf = eval::higher_is_better(model.p_float, "accuracy");
    const auto float_bytes =
        static_cast<double>(search::setting_bytes(model.h, search::Setting::all_float(n), spec, model.unsearched));
    const auto limit = c.memory_limit(model.h, model.unsearched);
    ExhaustiveBest best;
    std::vector<std::size_t> idx(n, 0);
    search::Setting s = search::Setting::uniform(n, widths[0]);
    for (;;) {
        for (std::size_t m = 0; m < n; ++m) s.widths[m] = widths[idx[m]];
        ++best.total;
        const auto bytes = search::setting_bytes(model.h, s, spec, model.unsearched);
        const auto perf = eval::higher_is_better(model.performance(s.widths), "accuracy");
        if (c.performance_ok(perf, base_perf) && (!limit || bytes <= *limit)) {
            ++best.feasible;
            const double score = objective(perf.relative_to(base_perf), static_cast<double>(bytes) / float_bytes);
            if (!best.setting || score > best.score) best = {s, score, best.feasible, best.total};
        }
        std::size_t m = 0;
        while (m < n && ++idx[m] == widths.size()) idx[m++] = 0;
        if (m == n) break;
    }
    return best;
}

}  // namespace qslm::test
