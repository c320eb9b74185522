#pragma once
// Options of a search run (the policies are template parameters; these are the run-time knobs).
//
// Host-only header.

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "qslm/search/progress.hpp"
#include "qslm/search/setting.hpp"

namespace qslm::search {

struct Options {
    /// Candidate widths (1..8), any order; the search uses them highest first.
    std::vector<int> widths = {8, 6, 5, 4, 3, 2};
    /// Weight of performance in the trade-off score (1 - alpha weighs memory).
    double alpha = 0.5;
    /// Threads for evaluations (0 = all hardware threads). Independent evaluations (sensitivity,
    /// global tier) run side by side; a single evaluation gets them all through
    /// EvalRequest::threads. Results do not depend on it.
    unsigned threads = 0;
    /// JSON-lines log of every evaluation (empty = none). An existing log is reused: logged
    /// results are not evaluated again, so an interrupted search resumes where it stopped.
    std::string log_path;
    /// Names the evaluator and its data in the log's fingerprint, so a log made with other
    /// data is refused instead of mixed in (e.g. "wikitext2-test:4096 bits_per_char").
    std::string log_tag;
    /// Re-evaluate candidates on the evaluator's full set (EvalRequest::full): the best one,
    /// then, if it fails there, a bisection by memory over the other feasible ones for the
    /// smallest that passes; at most max_verifications full evaluations (plus the baseline's).
    bool verify = true;
    std::size_t max_verifications = 6;
    /// How many near misses to report when the constraints cannot be met.
    std::size_t closest_count = 3;
    /// Energy per token (pJ) of a setting, e.g. SettingEnergy::per_token_pj. When set, every
    /// candidate records its energy, and an objective that takes a third argument (relative
    /// energy E / E_float, e.g. objective::PerformanceMemoryEnergy) is scored with it. Must be
    /// thread-safe and cheap: it is called once per candidate.
    std::function<double(const Setting&)> energy_per_token;
    /// Called after every evaluation (and at phase changes).
    ProgressCallback progress;
    /// Set (e.g. from a SIGINT handler) to stop: the search throws qslm::Error(cancelled) after
    /// the evaluations in flight; everything evaluated so far is in the log.
    const std::atomic<bool>* cancel = nullptr;
};

}  // namespace qslm::search
