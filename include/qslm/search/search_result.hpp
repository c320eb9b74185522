#pragma once
// SearchResult: everything a search found, for the report, the plot and the packer.
//
// Host-only header.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "qslm/search/candidate.hpp"
#include "qslm/search/constraints.hpp"
#include "qslm/search/hierarchy.hpp"
#include "qslm/search/sensitivity.hpp"
#include "qslm/tensor/quant_grid.hpp"

namespace qslm::search {

/// The answer of one tier (or strategy step), in order.
struct TierAnswer {
    std::string tier;  ///< "global", "block", "module", "allocator"
    Candidate candidate;
};

struct SearchResult {
    Hierarchy hierarchy;
    QuantSpec spec;
    std::string strategy, sensitivity_policy, rounding, granularity, objective;
    std::vector<int> widths;  ///< candidate widths, highest first
    double alpha = 0.5;
    Constraints constraints;
    std::optional<std::size_t> memory_limit;  ///< bytes, from max_bytes / target_bits_per_weight

    Candidate baseline;                      ///< the float model on the calibration set
    std::optional<Candidate> baseline_full;  ///< ... and on the full set, when verification ran
    std::optional<Candidate> chosen;         ///< absent when nothing meets the constraints
    std::optional<Candidate> chosen_full;    ///< the chosen setting on the full set (verification)
    bool satisfied = false;
    std::string message;                     ///< one plain sentence: what was found, or why not

    std::vector<Candidate> candidates;  ///< every setting evaluated on the calibration set
    std::vector<std::size_t> pareto;    ///< indices into candidates, by bytes
    std::vector<std::size_t> closest;   ///< near misses (indices), when not satisfied
    std::vector<TierAnswer> tiers;
    SensitivityTable sensitivity;

    std::size_t evaluations = 0;      ///< evaluations run now (calibration and full)
    std::size_t reused_from_log = 0;  ///< results taken from an earlier run's log
    std::string log_repair;           ///< what loading the log repaired (a torn last line), or empty
    double exhaustive_settings = 0;   ///< widths ^ modules: what an exhaustive search would evaluate
    double seconds = 0;
};

}  // namespace qslm::search
