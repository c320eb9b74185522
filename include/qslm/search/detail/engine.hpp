#pragma once
// The machinery every search strategy shares: the float baseline, memoised and logged
// evaluations (in parallel where independent), the sensitivity table, progress, cancellation,
// and the final choice with verification. A strategy (tiered descent, budget allocator) only
// decides which settings to evaluate.
//
// Host-only header.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/evaluation.hpp"
#include "qslm/eval/parallel.hpp"
#include "qslm/search/candidate.hpp"
#include "qslm/search/constraints.hpp"
#include "qslm/search/evaluation_log.hpp"
#include "qslm/search/memory.hpp"
#include "qslm/search/model.hpp"
#include "qslm/search/options.hpp"
#include "qslm/search/pareto.hpp"
#include "qslm/search/search_result.hpp"
#include "qslm/search/sensitivity.hpp"
#include "qslm/search/weight_cache.hpp"

namespace qslm::search::detail {

/// Names of the policies a search was built with (for the report and the log fingerprint).
struct PolicyNames {
    std::string strategy, sensitivity, rounding, granularity, objective;
};

template <class Model, class Evaluator, class Rounding, class Sensitivity, class Objective>
class Engine {
public:
    Engine(const Model& model, const Evaluator& evaluator, const Constraints& constraints, const Options& options,
           const QuantSpec& spec, PolicyNames names)
        : model_(model), evaluator_(evaluator), constraints_(constraints), options_(options), spec_(spec),
          names_(std::move(names)), hierarchy_(model.hierarchy()), objective_(options.alpha), cache_(model, spec),
          start_time_(std::chrono::steady_clock::now()) {
        hierarchy_.validate();
        widths_ = options.widths;
        if (widths_.empty()) fail(Status::invalid_argument, "the search needs at least one candidate width");
        for (const int w : widths_) {
            if (w < 1 || w > 8) fail(Status::bad_bit_width, "candidate width " + std::to_string(w) + " is not 1..8");
        }
        std::sort(widths_.begin(), widths_.end(), std::greater<>());
        widths_.erase(std::unique(widths_.begin(), widths_.end()), widths_.end());
        threads_ = eval::effective_threads(options.threads, 1u << 20);
        unsearched_ = model.unsearched_bytes();
        memory_limit_ = constraints.memory_limit(hierarchy_, unsearched_);
        if constexpr (requires { Objective::needs_energy; }) {
            if (Objective::needs_energy && !options.energy_per_token)
                fail(Status::invalid_argument, "the objective " + Objective::name() +
                                                   " needs an energy estimate per setting (Options::energy_per_token)");
        }
        if (options.energy_per_token) {
            float_energy_ = options.energy_per_token(Setting::all_float(hierarchy_.module_count()));
            if (!(std::isfinite(float_energy_) && float_energy_ > 0.0))
                fail(Status::invalid_argument, "the float model's energy per token must be positive and finite");
        }
        if (!options.log_path.empty())
            log_ = std::make_unique<EvaluationLog>(options.log_path, fingerprint(), hierarchy_.name(),
                                                    hierarchy_.module_count());
    }

    // ----- what strategies use -------------------------------------------------------------
    [[nodiscard]] const Hierarchy& hierarchy() const noexcept { return hierarchy_; }
    [[nodiscard]] const std::vector<int>& widths() const noexcept { return widths_; }  ///< highest first
    [[nodiscard]] const Constraints& constraints() const noexcept { return constraints_; }
    [[nodiscard]] const QuantSpec& spec() const noexcept { return spec_; }
    [[nodiscard]] const SensitivityTable& sensitivity() const noexcept { return sensitivity_; }
    [[nodiscard]] std::optional<std::size_t> memory_limit() const noexcept { return memory_limit_; }
    [[nodiscard]] std::size_t unsearched_bytes() const noexcept { return unsearched_; }
    [[nodiscard]] std::size_t bytes(const Setting& s) const { return setting_bytes(hierarchy_, s, spec_, unsearched_); }
    [[nodiscard]] const Candidate& baseline() const { return candidates_.at(0); }
    [[nodiscard]] const std::deque<Candidate>& candidates() const noexcept { return candidates_; }

    /// The objective for a relative performance and a size (for predictions; a prediction has
    /// no setting yet, so an energy objective sees the float model's energy there and the true
    /// energy once the proposed setting is evaluated).
    [[nodiscard]] double score(double relative_performance, std::size_t bytes) const {
        return objective_(relative_performance, static_cast<double>(bytes) / static_cast<double>(baseline_bytes_));
    }

    /// The largest relative drop (1 - P/P_float) the performance bounds allow, or nullopt when
    /// performance is unbounded.
    [[nodiscard]] std::optional<double> allowed_drop() const {
        std::optional<double> d = constraints_.max_drop;
        auto tighten = [&](double x) { d = std::min(d.value_or(x), x); };
        const double pf = baseline_perf_.value;
        if (constraints_.min_score) tighten(pf != 0.0 ? 1.0 - *constraints_.min_score / pf : 0.0);
        if (constraints_.max_ppl) tighten(*constraints_.max_ppl > 0.0 ? 1.0 - pf / *constraints_.max_ppl : 0.0);
        return d;
    }

    /// The next lower candidate width below `width` (float counts as above every width), or
    /// nullopt at the lowest.
    [[nodiscard]] std::optional<int> lower_width(int width) const {
        for (const int w : widths_)
            if (w < width) return w;
        return std::nullopt;
    }

    /// Evaluates one setting on the calibration set (memoised; logged).
    const Candidate& evaluate(const Setting& s, const std::string& origin) {
        return *evaluate_batch({s}, origin).front();
    }

    /// Evaluates settings that do not depend on each other, side by side. Results come back
    /// in the order given, whatever the thread count.
    std::vector<const Candidate*> evaluate_batch(const std::vector<Setting>& settings, const std::string& origin,
                                                 bool want_kl = false) {
        std::vector<std::size_t> todo;  // indices into `settings` still to evaluate
        {
            std::set<std::string> seen;
            for (std::size_t i = 0; i < settings.size(); ++i) {
                const auto it = memo_.find(settings[i].key());
                const bool have = it != memo_.end() && (!want_kl || candidates_[it->second].kl);
                if (!have && seen.insert(settings[i].key()).second) todo.push_back(i);
            }
        }
        if (!todo.empty()) {
            set_phase(origin);
            std::vector<std::pair<std::size_t, int>> needed;
            for (const std::size_t i : todo)
                for (std::size_t m = 0; m < settings[i].size(); ++m) needed.emplace_back(m, settings[i].widths[m]);
            cache_.prepare(needed, threads_);
            const unsigned eval_threads = todo.size() > 1 ? 1u : threads_;
            auto outcomes = eval::parallel_map(todo.size(), todo.size() > 1 ? threads_ : 1u, [&](std::size_t k) {
                return run_one(settings[todo[k]], false, want_kl, eval_threads);
            });
            for (std::size_t k = 0; k < todo.size(); ++k) add_candidate(settings[todo[k]], outcomes[k], origin);
        }
        std::vector<const Candidate*> out;
        for (const auto& s : settings) out.push_back(&candidates_[memo_.at(s.key())]);
        return out;
    }

    /// Adds to the number of evaluations the progress bar expects.
    void plan(std::size_t more) { planned_ += more; }
    void record_tier(std::string tier, const Candidate& c) { tiers_.push_back({std::move(tier), c}); }
    void note(std::string sentence) { notes_.push_back(std::move(sentence)); }

    // ----- run ------------------------------------------------------------------------------
    /// Baseline and sensitivity table; call before the strategy.
    void start() {
        const std::size_t n = hierarchy_.module_count();
        plan(1 + (Sensitivity::needs_evaluation ? n * widths_.size() : 0));
        const Setting all_float = Setting::all_float(n);
        const Outcome base = run_one(all_float, false, false, threads_);
        baseline_perf_ = base.performance;
        baseline_known_ = true;
        constraints_.validate(baseline_perf_);
        baseline_bytes_ = bytes(all_float);
        add_candidate(all_float, base, "baseline");
        compute_sensitivity();
    }

    SearchResult finish() {
        SearchResult r;
        r.hierarchy = hierarchy_;
        r.spec = spec_;
        r.strategy = names_.strategy;
        r.sensitivity_policy = names_.sensitivity;
        r.rounding = names_.rounding;
        r.granularity = names_.granularity;
        r.objective = names_.objective;
        r.widths = widths_;
        r.alpha = options_.alpha;
        r.constraints = constraints_;
        r.memory_limit = memory_limit_;
        r.baseline = candidates_.front();
        r.candidates.assign(candidates_.begin(), candidates_.end());
        r.pareto = pareto_front(r.candidates);
        r.tiers = tiers_;
        r.sensitivity = sensitivity_;
        r.exhaustive_settings = std::pow(static_cast<double>(widths_.size()), static_cast<double>(hierarchy_.module_count()));

        std::vector<std::size_t> feasible;
        for (std::size_t i = 0; i < r.candidates.size(); ++i)
            if (r.candidates[i].feasible()) feasible.push_back(i);
        std::stable_sort(feasible.begin(), feasible.end(), [&](std::size_t a, std::size_t b) {
            const Candidate &x = r.candidates[a], &y = r.candidates[b];
            if (x.score != y.score) return x.score > y.score;
            if (x.bytes != y.bytes) return x.bytes < y.bytes;
            return x.setting.key() < y.setting.key();
        });

        std::string why;
        if (feasible.empty()) {
            why = "no evaluated setting meets the constraints";
        } else if (!options_.verify) {
            r.chosen = r.candidates[feasible.front()];
            r.satisfied = true;
        } else {
            set_phase("verify");
            const std::size_t budget = std::min(options_.max_verifications, feasible.size());
            plan(1 + budget);
            const Candidate base_full = verify_one(Setting::all_float(hierarchy_.module_count()), std::nullopt);
            r.baseline_full = base_full;
            std::size_t used = 0;
            // Verifies candidate idx; a pass becomes the choice if it has the best trade-off
            // of the passes so far.
            const auto passes = [&](std::size_t idx) {
                ++used;
                Candidate full = verify_one(r.candidates[idx].setting, base_full.performance);
                if (!full.feasible()) return false;
                if (!r.chosen || r.candidates[idx].score > r.chosen->score) {
                    r.chosen = r.candidates[idx];
                    r.chosen_full = std::move(full);
                }
                r.satisfied = true;
                return true;
            };
            if (!passes(feasible.front()) && used < budget) {
                // The calibration set under-estimated the loss of the best setting, and its
                // runners-up are usually near copies of it. So walk towards safety instead:
                // bisect the other feasible settings, ordered by memory (more bytes = more
                // precision), for the smallest one that passes on the full set.
                std::vector<std::size_t> by_bytes(feasible.begin() + 1, feasible.end());
                std::stable_sort(by_bytes.begin(), by_bytes.end(), [&](std::size_t a, std::size_t b) {
                    return r.candidates[a].bytes < r.candidates[b].bytes;
                });
                std::size_t lo = 0, hi = by_bytes.size();  // the smallest pass is in [lo, hi)
                while (lo < hi && used < budget) {
                    const std::size_t mid = lo + (hi - lo) / 2;
                    if (passes(by_bytes[mid])) hi = mid;
                    else lo = mid + 1;
                }
            }
            if (!r.satisfied) {
                why = "none of the " + std::to_string(used) +
                      " settings verified (the best by trade-off, then a bisection by memory) meets the constraints "
                      "on the full evaluation set, although all meet them on the calibration set";
                for (std::size_t k = 0; k < feasible.size() && k < options_.closest_count; ++k)
                    r.closest.push_back(feasible[k]);
            }
        }
        if (!r.satisfied && r.closest.empty()) r.closest = closest(r.candidates);

        r.evaluations = evaluations_;
        r.reused_from_log = reused_;
        if (log_) r.log_repair = log_->repair_note();
        r.seconds = elapsed();
        r.message = message(r, why);
        return r;
    }

private:
    struct Outcome {
        eval::Performance performance;
        std::optional<double> kl;
    };

    [[nodiscard]] std::string fingerprint() const {
        std::uint64_t h = hierarchy_.fingerprint();
        const std::string extra = names_.rounding + "|" + names_.granularity + "|" +
                                  std::to_string(static_cast<int>(spec_.zero_point)) + "|" +
                                  std::to_string(static_cast<int>(spec_.scale_format)) + "|" + options_.log_tag;
        for (const char c : extra) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
        return buf;
    }

    [[nodiscard]] double elapsed() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
    }

    void set_phase(const std::string& phase) {
        std::lock_guard lock(progress_mutex_);
        phase_ = phase;
        report_progress_locked();
    }

    void report_progress_locked() {
        if (!options_.progress) return;
        Progress p;
        p.phase = phase_;
        p.done = evaluations_;
        p.planned = std::max(planned_, evaluations_ + reused_) - reused_;
        p.elapsed_seconds = elapsed();
        p.eta_seconds = evaluations_ == 0 ? 0.0
                                          : p.elapsed_seconds / static_cast<double>(evaluations_) *
                                                static_cast<double>(p.planned - std::min(p.planned, p.done));
        options_.progress(p);
    }

    /// One evaluation (thread-safe): from the log when possible, else quantize, build, score.
    Outcome run_one(const Setting& s, bool full, bool want_kl, unsigned eval_threads) {
        if (log_) {
            if (auto logged = log_->find(s, full); logged && (!want_kl || logged->kl)) {
                if (baseline_known_) check_same_metric(logged->performance);
                std::lock_guard lock(progress_mutex_);
                ++reused_;
                return {logged->performance, logged->kl};
            }
        }
        if (options_.cancel && options_.cancel->load())
            fail(Status::cancelled, std::string("search interrupted") +
                                        (log_ ? "; rerun with the same log to resume where it stopped" : ""));
        const QuantizedWeights weights = cache_.weights_for(s);
        const auto variant = model_.quantized(weights);
        eval::Evaluation e = evaluator_.evaluate(variant, eval::EvalRequest{want_kl, full, eval_threads});
        if (!std::isfinite(e.performance.value))
            fail(Status::invalid_argument, "the evaluator returned a non-finite " + e.performance.metric +
                                               " for setting [" + s.key() + "]");
        if (baseline_known_) check_same_metric(e.performance);
        Outcome o{e.performance, std::nullopt};
        if constexpr (requires { Sensitivity::measure(baseline_eval_, e); }) {
            if (want_kl) o.kl = Sensitivity::measure(baseline_eval_, e);  // only the KL policy asks
        }
        if (log_) log_->append(s, full, {o.performance, o.kl}, bytes(s));
        std::lock_guard lock(progress_mutex_);
        ++evaluations_;
        report_progress_locked();
        return o;
    }

    void check_same_metric(const eval::Performance& p) const {
        if (p.direction != baseline_perf_.direction || p.metric != baseline_perf_.metric)
            fail(Status::invalid_argument, "the evaluator changed its metric from " + baseline_perf_.metric + " to " +
                                               p.metric + " between evaluations");
    }

    Candidate make_candidate(const Setting& s, const Outcome& o, const eval::Performance& reference,
                             std::string origin, bool full) const {
        Candidate c;
        c.setting = s;
        c.bytes = bytes(s);
        c.performance = o.performance;
        c.relative_performance = o.performance.relative_to(reference);
        c.relative_memory = static_cast<double>(c.bytes) / static_cast<double>(baseline_bytes_);
        c.score = objective_value(s, c.relative_performance, c.relative_memory, c.energy_pj);
        c.performance_ok = constraints_.performance_ok(o.performance, reference);
        c.memory_ok = !memory_limit_ || c.bytes <= *memory_limit_;
        c.full = full;
        c.kl = o.kl;
        c.origin = std::move(origin);
        return c;
    }

    /// The objective of a candidate; with an energy estimate, records it and passes
    /// E / E_float to objectives that take it.
    double objective_value(const Setting& s, double relative_performance, double relative_memory,
                           std::optional<double>& energy) const {
        if (options_.energy_per_token) {
            energy = options_.energy_per_token(s);
            if (!(std::isfinite(*energy) && *energy >= 0.0))
                fail(Status::invalid_argument, "the energy estimate of setting [" + s.key() + "] is not a finite, non-negative number");
            if constexpr (requires(const Objective& o) {
                              { o(relative_performance, relative_memory, 1.0) } -> std::convertible_to<double>;
                          })
                return objective_(relative_performance, relative_memory, *energy / float_energy_);
        }
        return objective_(relative_performance, relative_memory);
    }

    void add_candidate(const Setting& s, const Outcome& o, const std::string& origin) {
        const std::string key = s.key();
        if (const auto it = memo_.find(key); it != memo_.end()) {
            if (o.kl) candidates_[it->second].kl = o.kl;  // re-evaluated only to add the KL
            return;
        }
        memo_.emplace(key, candidates_.size());
        candidates_.push_back(make_candidate(s, o, baseline_perf_, origin, false));
    }

    Candidate verify_one(const Setting& s, const std::optional<eval::Performance>& full_baseline) {
        const Outcome o = run_one(s, true, false, threads_);
        if (!full_baseline) return make_candidate(s, o, o.performance, "verify", true);
        return make_candidate(s, o, *full_baseline, "verify", true);
    }

    void compute_sensitivity() {
        const std::size_t n = hierarchy_.module_count();
        sensitivity_.policy = names_.sensitivity;
        sensitivity_.widths = widths_;
        sensitivity_.modules = n;
        sensitivity_.values.assign(n * widths_.size(), 0.0);
        std::vector<Setting> singles;
        for (std::size_t m = 0; m < n; ++m)
            for (const int w : widths_) {
                Setting s = Setting::all_float(n);
                s.widths[m] = w;
                singles.push_back(std::move(s));
            }
        if constexpr (Sensitivity::needs_evaluation) {
            if constexpr (Sensitivity::needs_distributions) {
                // The float model's distributions are the reference; only needed when some
                // single-module result (with its KL) is not in the log already.
                bool all_logged = log_ != nullptr;
                for (std::size_t i = 0; all_logged && i < singles.size(); ++i) {
                    const auto e = log_->find(singles[i], false);
                    all_logged = e && e->kl;
                }
                if (!all_logged) {
                    const QuantizedWeights weights = cache_.weights_for(Setting::all_float(n));
                    const auto variant = model_.quantized(weights);
                    baseline_eval_ = evaluator_.evaluate(variant, eval::EvalRequest{true, false, threads_});
                    if (baseline_eval_.distributions.empty())
                        fail(Status::invalid_argument,
                             "the KL-divergence sensitivity needs per-token distributions, but the evaluator returned "
                             "none for the float model");
                }
            }
            const auto cands = evaluate_batch(singles, "sensitivity", Sensitivity::needs_distributions);
            baseline_eval_ = {};  // the reference distributions can be large; no longer needed
            for (std::size_t i = 0; i < cands.size(); ++i) {
                if constexpr (Sensitivity::needs_distributions) {
                    sensitivity_.values[i] = *cands[i]->kl;
                } else {
                    sensitivity_.values[i] = Sensitivity::measure(eval::Evaluation{baseline_perf_, {}},
                                                                  eval::Evaluation{cands[i]->performance, {}});
                }
            }
        } else {
            set_phase("sensitivity");
            std::vector<std::pair<std::size_t, int>> needed;
            for (std::size_t m = 0; m < n; ++m)
                for (const int w : widths_) needed.emplace_back(m, w);
            cache_.prepare(needed, threads_);
            const auto values = eval::parallel_map(needed.size(), threads_, [&](std::size_t i) {
                const auto [m, w] = needed[i];
                return Sensitivity::proxy(model_, m, model_.module_weights(m), cache_.get(m, w).dequantized);
            });
            sensitivity_.values = values;
        }
    }

    /// Candidates nearest to feasibility: memory excess and performance shortfall, as fractions.
    std::vector<std::size_t> closest(const std::vector<Candidate>& cands) const {
        std::vector<std::pair<double, std::size_t>> miss;
        for (std::size_t i = 0; i < cands.size(); ++i) {
            double m = constraints_.performance_shortfall(cands[i].performance, baseline_perf_);
            if (memory_limit_ && cands[i].bytes > *memory_limit_)
                m += static_cast<double>(cands[i].bytes - *memory_limit_) / static_cast<double>(*memory_limit_);
            miss.emplace_back(m, i);
        }
        std::stable_sort(miss.begin(), miss.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<std::size_t> out;
        for (std::size_t k = 0; k < miss.size() && k < options_.closest_count; ++k) out.push_back(miss[k].second);
        return out;
    }

    std::string message(const SearchResult& r, const std::string& why) const {
        std::string text;
        for (const auto& n : notes_) text += n + ". ";
        if (r.satisfied) {
            const Candidate& c = *r.chosen;
            char buf[256];
            std::snprintf(buf, sizeof buf, "Constraints met: %zu bytes (%.1f%% of float), %s %.4g (float %.4g)",
                          c.bytes, 100.0 * c.relative_memory, c.performance.metric.c_str(), c.performance.value,
                          r.baseline.performance.value);
            return text + buf + (r.chosen_full ? ", verified on the full evaluation set." : ".");
        }
        text += "The constraints cannot be met: " + why + ". The closest settings are listed; none of them is a valid answer.";
        return text;
    }

    const Model& model_;
    const Evaluator& evaluator_;
    Constraints constraints_;
    const Options& options_;
    QuantSpec spec_;
    PolicyNames names_;
    Hierarchy hierarchy_;
    Objective objective_;
    double float_energy_ = 0.0;  ///< energy per token of the all-float setting (with an energy estimate)
    WeightCache<Model, Rounding> cache_;
    std::chrono::steady_clock::time_point start_time_;
    std::vector<int> widths_;
    unsigned threads_ = 1;
    std::size_t unsearched_ = 0;
    std::optional<std::size_t> memory_limit_;
    std::unique_ptr<EvaluationLog> log_;

    eval::Performance baseline_perf_;
    bool baseline_known_ = false;  // set before any parallel work starts
    eval::Evaluation baseline_eval_;
    std::size_t baseline_bytes_ = 1;
    std::deque<Candidate> candidates_;  // deque: strategies hold pointers while more are added
    std::unordered_map<std::string, std::size_t> memo_;
    SensitivityTable sensitivity_;
    std::vector<TierAnswer> tiers_;
    std::vector<std::string> notes_;

    std::mutex progress_mutex_;
    std::string phase_ = "baseline";
    std::size_t evaluations_ = 0, reused_ = 0, planned_ = 0;
};

}  // namespace qslm::search::detail
