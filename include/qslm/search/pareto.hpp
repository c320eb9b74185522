#pragma once
// The Pareto front of evaluated candidates: those no other candidate beats on both memory
// (fewer bytes) and performance (higher relative performance). Returned sorted by bytes.
//
// Host-only header.

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

#include "qslm/search/candidate.hpp"

namespace qslm::search {

inline std::vector<std::size_t> pareto_front(const std::vector<Candidate>& candidates) {
    std::vector<std::size_t> order(candidates.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    // By bytes ascending, then best performance first, so one sweep keeps each new best.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (candidates[a].bytes != candidates[b].bytes) return candidates[a].bytes < candidates[b].bytes;
        return candidates[a].relative_performance > candidates[b].relative_performance;
    });
    std::vector<std::size_t> front;
    for (const std::size_t i : order) {
        if (front.empty() || candidates[i].relative_performance > candidates[front.back()].relative_performance)
            front.push_back(i);
    }
    return front;
}

}  // namespace qslm::search
