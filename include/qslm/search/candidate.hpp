#pragma once
// Candidate: one evaluated setting, with everything the choice and the report need.
//
// Host-only header.

#include <cstddef>
#include <optional>
#include <string>

#include "qslm/eval/performance.hpp"
#include "qslm/search/setting.hpp"

namespace qslm::search {

struct Candidate {
    Setting setting;
    std::size_t bytes = 0;
    eval::Performance performance;
    double relative_performance = 0.0;  ///< P / P_float (direction-aware)
    double relative_memory = 0.0;       ///< M / M_float
    double score = 0.0;                 ///< the objective
    bool performance_ok = false;
    bool memory_ok = false;
    bool full = false;                  ///< scored on the full evaluation set (verification)
    std::optional<double> kl;           ///< KL divergence to the float model, when measured
    std::optional<double> energy_pj;    ///< energy per token, when the search estimates energy
    std::string origin;                 ///< "baseline", "sensitivity", "global", "block", "module", ...

    [[nodiscard]] bool feasible() const noexcept { return performance_ok && memory_ok; }
};

}  // namespace qslm::search
