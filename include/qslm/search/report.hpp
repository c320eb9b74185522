#pragma once
// report.json: a SearchResult as JSON, for scripts and for the lead's CLI.
//
//   baseline   {bytes, score, metric, ...}            the float model
//   chosen     {bytes, score, bits_per_weight, widths: {module: width}, tradeoff, ...} or null
//   memory_reduction  1 - chosen.bytes / baseline.bytes (null when nothing was chosen)
//   constraints, satisfied, message, evaluations, reused_from_log, exhaustive_settings, seconds
//   pareto     [{bytes, score, widths}] by bytes     closest  (when not satisfied)
//   energy_per_token_pj on baseline, chosen and Pareto points when the search estimated energy
//   tiers, sensitivity
//
// "score" is the evaluator's metric (accuracy, perplexity, bits per char: see "metric"); the
// objective's value is "tradeoff". Where verification ran, baseline.score and chosen.score are
// the full-set numbers and "calibration_score" keeps the calibration-set one.
//
// Host-only header.

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "qslm/search/memory.hpp"
#include "qslm/search/search_result.hpp"

namespace qslm::search {

inline nlohmann::json widths_by_name(const Hierarchy& h, const Setting& s) {
    nlohmann::json j = nlohmann::json::object();
    for (std::size_t m = 0; m < s.size(); ++m)
        j[h.module(m).name] = s.widths[m] == float_width ? nlohmann::json("float") : nlohmann::json(s.widths[m]);
    return j;
}

inline nlohmann::json to_json(const Constraints& c) {
    nlohmann::json j = nlohmann::json::object();
    if (c.max_bytes) j["max_bytes"] = *c.max_bytes;
    if (c.target_bits_per_weight) j["target_bits_per_weight"] = *c.target_bits_per_weight;
    if (c.min_score) j["min_score"] = *c.min_score;
    if (c.max_ppl) j["max_ppl"] = *c.max_ppl;
    if (c.max_drop) j["max_drop"] = *c.max_drop;
    return j;
}

inline nlohmann::json candidate_json(const SearchResult& r, const Candidate& c) {
    nlohmann::json j = {{"bytes", c.bytes},
            {"score", c.performance.value},
            {"relative_performance", c.relative_performance},
            {"relative_memory", c.relative_memory},
            {"tradeoff", c.score},
            {"bits_per_weight", bits_per_weight(r.hierarchy, c.setting, r.spec)},
            {"feasible", c.feasible()},
            {"origin", c.origin},
            {"widths", widths_by_name(r.hierarchy, c.setting)}};
    if (c.energy_pj) j["energy_per_token_pj"] = *c.energy_pj;
    return j;
}

inline nlohmann::json to_json(const SearchResult& r) {
    nlohmann::json j;
    j["model"] = r.hierarchy.name();
    j["strategy"] = r.strategy;
    j["sensitivity_policy"] = r.sensitivity_policy;
    j["rounding"] = r.rounding;
    j["granularity"] = r.granularity;
    j["objective"] = {{"name", r.objective}, {"alpha", r.alpha}};
    j["widths"] = r.widths;
    j["metric"] = r.baseline.performance.metric;
    j["higher_is_better"] = r.baseline.performance.higher_is_better();

    j["baseline"] = {{"bytes", r.baseline.bytes},
                     {"score", r.baseline_full ? r.baseline_full->performance.value : r.baseline.performance.value},
                     {"calibration_score", r.baseline.performance.value}};
    if (r.baseline.energy_pj) j["baseline"]["energy_per_token_pj"] = *r.baseline.energy_pj;
    if (r.chosen) {
        nlohmann::json c = candidate_json(r, *r.chosen);
        c["calibration_score"] = r.chosen->performance.value;
        if (r.chosen_full) {
            c["score"] = r.chosen_full->performance.value;
            c["verified"] = true;
        }
        j["chosen"] = c;
        j["memory_reduction"] = 1.0 - static_cast<double>(r.chosen->bytes) / static_cast<double>(r.baseline.bytes);
    } else {
        j["chosen"] = nullptr;
        j["memory_reduction"] = nullptr;
    }
    j["constraints"] = to_json(r.constraints);
    if (r.memory_limit) j["constraints"]["memory_limit_bytes"] = *r.memory_limit;
    j["satisfied"] = r.satisfied;
    j["message"] = r.message;
    j["evaluations"] = r.evaluations;
    j["reused_from_log"] = r.reused_from_log;
    if (!r.log_repair.empty()) j["log_repair"] = r.log_repair;
    j["evaluated_settings"] = r.candidates.size();
    j["exhaustive_settings"] = r.exhaustive_settings;
    j["seconds"] = r.seconds;

    j["pareto"] = nlohmann::json::array();
    for (const std::size_t i : r.pareto)
    {
        nlohmann::json p = {{"bytes", r.candidates[i].bytes},
                             {"score", r.candidates[i].performance.value},
                             {"widths", r.candidates[i].setting.widths}};
        if (r.candidates[i].energy_pj) p["energy_per_token_pj"] = *r.candidates[i].energy_pj;
        j["pareto"].push_back(std::move(p));
    }
    j["closest"] = nlohmann::json::array();
    for (const std::size_t i : r.closest) j["closest"].push_back(candidate_json(r, r.candidates[i]));
    j["tiers"] = nlohmann::json::array();
    for (const auto& t : r.tiers)
        j["tiers"].push_back({{"tier", t.tier},
                              {"bytes", t.candidate.bytes},
                              {"score", t.candidate.performance.value},
                              {"tradeoff", t.candidate.score},
                              {"feasible", t.candidate.feasible()}});
    nlohmann::json sens = {{"policy", r.sensitivity.policy}, {"widths", r.sensitivity.widths}};
    nlohmann::json per_module = nlohmann::json::object();
    for (std::size_t m = 0; m < r.sensitivity.modules; ++m) {
        nlohmann::json row = nlohmann::json::array();
        for (std::size_t w = 0; w < r.sensitivity.widths.size(); ++w) row.push_back(r.sensitivity.at(m, w));
        per_module[r.hierarchy.module(m).name] = row;
    }
    sens["modules"] = per_module;
    j["sensitivity"] = sens;
    return j;
}

}  // namespace qslm::search
