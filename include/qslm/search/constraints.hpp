#pragma once
// Constraints: what a chosen setting must satisfy.
//
//   max_bytes               whole-model memory (searched + unsearched bytes) <= max_bytes
//   target_bits_per_weight  searched bytes <= bpw * weights / 8 (a memory limit too; the budget
//                           allocator additionally tries to use it fully)
//   min_score               performance >= min_score        (higher-is-better metrics: accuracy)
//   max_ppl                 performance <= max_ppl          (lower-is-better metrics: perplexity,
//                                                            bits per char)
//   max_drop                relative drop against the float model <= max_drop (0.05 = 5 %;
//                           drop = 1 - P/P_float, or 1 - P_float/P for lower-is-better metrics)
//
// Any may be absent; with none the search just maximises the trade-off score. A performance
// bound whose direction does not match the metric (min_score for perplexity) is an error,
// not a silent no-op.
//
// Host-only header.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>

#include "qslm/host/error.hpp"
#include "qslm/eval/performance.hpp"
#include "qslm/search/hierarchy.hpp"

namespace qslm::search {

struct Constraints {
    std::optional<std::size_t> max_bytes;
    std::optional<double> target_bits_per_weight;
    std::optional<double> min_score;
    std::optional<double> max_ppl;
    std::optional<double> max_drop;

    [[nodiscard]] bool has_performance_bound() const noexcept {
        return min_score.has_value() || max_ppl.has_value() || max_drop.has_value();
    }
    [[nodiscard]] bool has_memory_bound() const noexcept {
        return max_bytes.has_value() || target_bits_per_weight.has_value();
    }

    /// Throws invalid_argument for bounds that cannot apply to a metric of this direction.
    void validate(const eval::Performance& baseline) const {
        if (min_score && !baseline.higher_is_better())
            fail(Status::invalid_argument, "min_score bounds a higher-is-better metric, but the evaluator reports " +
                                               baseline.metric + " (lower is better); use max_ppl");
        if (max_ppl && baseline.higher_is_better())
            fail(Status::invalid_argument, "max_ppl bounds a lower-is-better metric, but the evaluator reports " +
                                               baseline.metric + " (higher is better); use min_score");
        if (max_drop && !(*max_drop >= 0.0 && *max_drop < 1.0))
            fail(Status::invalid_argument, "max_drop must be in [0, 1) (a fraction: 0.05 = 5 %)");
        if (target_bits_per_weight && !(*target_bits_per_weight > 0.0 && *target_bits_per_weight <= 32.0))
            fail(Status::invalid_argument, "target_bits_per_weight must be in (0, 32]");
    }

    /// The memory limit in bytes for the whole model, or nullopt when memory is unbounded.
    [[nodiscard]] std::optional<std::size_t> memory_limit(const Hierarchy& h, std::size_t unsearched_bytes) const {
        std::optional<std::size_t> limit = max_bytes;
        if (target_bits_per_weight) {
            const auto searched = static_cast<std::size_t>(
                std::floor(*target_bits_per_weight * static_cast<double>(h.total_weights()) / 8.0));
            limit = std::min(limit.value_or(std::numeric_limits<std::size_t>::max()), searched + unsearched_bytes);
        }
        return limit;
    }

    [[nodiscard]] bool performance_ok(const eval::Performance& p, const eval::Performance& baseline) const {
        if (min_score && p.value < *min_score) return false;
        if (max_ppl && !(p.value <= *max_ppl)) return false;
        if (max_drop && p.drop_from(baseline) > *max_drop + 1e-12) return false;
        return true;
    }

    /// How far a performance misses the bounds, as a fraction of the bound (0 when it meets them).
    [[nodiscard]] double performance_shortfall(const eval::Performance& p, const eval::Performance& baseline) const {
        double miss = 0.0;
        if (min_score && p.value < *min_score) miss = std::max(miss, (*min_score - p.value) / std::abs(*min_score));
        if (max_ppl && p.value > *max_ppl) miss = std::max(miss, (p.value - *max_ppl) / std::abs(*max_ppl));
        if (max_drop) miss = std::max(miss, p.drop_from(baseline) - *max_drop);
        return miss;
    }
};

}  // namespace qslm::search
