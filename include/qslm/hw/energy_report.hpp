#pragma once
// EnergyComparison: the float model next to the chosen quantized setting, energy next to
// memory, as QSLM reports them; serialised to JSON for report.json.
//
// Host-side header.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "qslm/hw/energy_estimate.hpp"

namespace qslm::hw {

struct EnergyComparison {
    std::string reference_label = "float32";
    std::string candidate_label = "quantized";
    EnergyEstimate reference;
    EnergyEstimate candidate;
    std::optional<std::uint64_t> reference_memory_bytes;  ///< weights in bytes, when known
    std::optional<std::uint64_t> candidate_memory_bytes;
    std::optional<double> tokens_per_second;  ///< when set, the report adds average power

    /// Candidate energy per token as a fraction of the reference's (below 1 = saves energy).
    [[nodiscard]] double energy_ratio() const {
        const double ref = reference.per_token_pj();
        if (!(ref > 0.0)) fail(Status::invalid_argument, "energy comparison: the reference run used no energy");
        return candidate.per_token_pj() / ref;
    }
    [[nodiscard]] double energy_savings() const { return 1.0 - energy_ratio(); }
};

/// Prices two measured runs (normally the float model and the quantized setting, on the same
/// text) with the same model and memory placement.
template <EnergyModel Model = Horowitz45nm>
EnergyComparison compare_energy(const Workload& reference, const Workload& candidate, const Model& model = {},
                                const MemoryContext& memory = {}, const EnergyOverrides& overrides = {}) {
    EnergyComparison c;
    c.reference = estimate_energy(reference, model, memory, overrides);
    c.candidate = estimate_energy(candidate, model, memory, overrides);
    return c;
}

inline void to_json(nlohmann::json& j, const NumericFormat& f) { j = to_string(f); }

inline void to_json(nlohmann::json& j, const LayerFormat& f) {
    j = {{"weights", f.weights}, {"activations", f.activations}, {"accumulator", f.accumulator}, {"state", f.state}};
}

inline void to_json(nlohmann::json& j, const EnergyBreakdown& e) {
    j = {{"synaptic_accumulates_pj", e.synaptic_accumulates},
         {"multiply_accumulates_pj", e.multiply_accumulates},
         {"multiplies_pj", e.multiplies},
         {"additions_pj", e.additions},
         {"nonlinear_pj", e.nonlinear},
         {"state_updates_pj", e.state_updates},
         {"spikes_pj", e.spikes},
         {"weight_reads_pj", e.weight_reads},
         {"activation_traffic_pj", e.activation_traffic},
         {"compute_pj", e.compute_pj()},
         {"memory_pj", e.memory_pj()},
         {"total_pj", e.total_pj()}};
}

inline void to_json(nlohmann::json& j, const EnergyEstimate& e) {
    j = {{"energy_model", e.model}, {"tokens", e.tokens}, {"sentences", e.sentences}, {"total_pj", e.total_pj()},
         {"breakdown", e.total}};
    // Per-token and per-sentence figures only where the run covered any; null says "not measured".
    j["per_token_pj"] = e.tokens ? nlohmann::json(e.per_token_pj()) : nlohmann::json(nullptr);
    j["per_sentence_pj"] = e.sentences ? nlohmann::json(e.per_sentence_pj()) : nlohmann::json(nullptr);
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerEnergy& l : e.layers)
        layers.push_back({{"name", l.name}, {"format", l.format}, {"total_pj", l.energy.total_pj()}, {"breakdown", l.energy}});
    j["layers"] = std::move(layers);
}

inline void to_json(nlohmann::json& j, const EnergyComparison& c) {
    auto side = [&](const std::string& label, const EnergyEstimate& e, const std::optional<std::uint64_t>& bytes) {
        nlohmann::json s = e;
        s["label"] = label;
        s["memory_bytes"] = bytes ? nlohmann::json(*bytes) : nlohmann::json(nullptr);
        if (c.tokens_per_second && e.tokens) s["average_power_w"] = e.average_power_watts(*c.tokens_per_second);
        return s;
    };
    j = {{"reference", side(c.reference_label, c.reference, c.reference_memory_bytes)},
         {"candidate", side(c.candidate_label, c.candidate, c.candidate_memory_bytes)}};
    j["tokens_per_second"] = c.tokens_per_second ? nlohmann::json(*c.tokens_per_second) : nlohmann::json(nullptr);
    const bool comparable = c.reference.tokens && c.candidate.tokens && c.reference.per_token_pj() > 0.0;
    j["energy_ratio"] = comparable ? nlohmann::json(c.energy_ratio()) : nlohmann::json(nullptr);
    j["energy_savings"] = comparable ? nlohmann::json(c.energy_savings()) : nlohmann::json(nullptr);
    const bool memory_known = c.reference_memory_bytes && c.candidate_memory_bytes && *c.reference_memory_bytes > 0;
    j["memory_ratio"] = memory_known ? nlohmann::json(static_cast<double>(*c.candidate_memory_bytes) /
                                                       static_cast<double>(*c.reference_memory_bytes))
                                     : nlohmann::json(nullptr);
}

}  // namespace qslm::hw
