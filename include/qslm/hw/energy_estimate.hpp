#pragma once
// Energy of an evaluation run: the per-layer operation counts the layers measured while the
// model ran (qslm::OpCounts, summed over every token and time step of the run), priced by an
// EnergyModel, and turned into energy per token, per sentence and average power at a token rate.
//
// Host-side header.

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qslm/core/op_counts.hpp"
#include "qslm/hw/energy_model.hpp"
#include "qslm/hw/op_prices.hpp"

namespace qslm::hw {

/// What one layer did during the run and in which formats it did it.
struct LayerActivity {
    std::string name;
    OpCounts counts;  ///< summed over the whole run (all tokens, all time steps)
    LayerFormat format;
};

/// A measured run: every layer's activity plus how much text it covered.
struct Workload {
    std::vector<LayerActivity> layers;
    std::uint64_t tokens = 0;     ///< tokens processed during the run
    std::uint64_t sentences = 0;  ///< sentences (or samples) processed; 0 when not meaningful
};

struct LayerEnergy {
    std::string name;
    LayerFormat format;
    OpPrices prices;
    EnergyBreakdown energy;
};

/// The priced run. Dynamic energy only: leakage and the idle core are not modelled.
struct EnergyEstimate {
    std::string model;  ///< the energy model's name, for the report
    std::vector<LayerEnergy> layers;
    EnergyBreakdown total;
    std::uint64_t tokens = 0;
    std::uint64_t sentences = 0;

    [[nodiscard]] double total_pj() const noexcept { return total.total_pj(); }

    [[nodiscard]] double per_token_pj() const {
        if (tokens == 0) fail(Status::invalid_argument, "energy per token: the run covered no tokens");
        return total_pj() / static_cast<double>(tokens);
    }
    [[nodiscard]] double per_sentence_pj() const {
        if (sentences == 0) fail(Status::invalid_argument, "energy per sentence: the run covered no sentences");
        return total_pj() / static_cast<double>(sentences);
    }
    /// Average power (watts) when tokens arrive at `tokens_per_second`: energy per token times
    /// the rate (pJ/token * token/s = pW).
    [[nodiscard]] double average_power_watts(double tokens_per_second) const {
        if (!(std::isfinite(tokens_per_second) && tokens_per_second > 0.0))
            fail(Status::invalid_argument, "average power: the token rate must be a positive, finite number of tokens per second");
        return per_token_pj() * 1e-12 * tokens_per_second;
    }
};

/// Prices every layer of `workload`. Layer names need not be unique; the order is kept.
template <EnergyModel Model = Horowitz45nm>
EnergyEstimate estimate_energy(const Workload& workload, const Model& model = {}, const MemoryContext& memory = {},
                               const EnergyOverrides& overrides = {}) {
    EnergyEstimate estimate;
    estimate.model = std::string(model.name());
    estimate.tokens = workload.tokens;
    estimate.sentences = workload.sentences;
    estimate.layers.reserve(workload.layers.size());
    for (const LayerActivity& layer : workload.layers) {
        validate(layer.format, "layer '" + layer.name + "'");  // names the layer in the error
        const OpPrices prices = price_ops(model, layer.format, memory, overrides);
        const EnergyBreakdown energy = energy_of(layer.counts, prices);
        estimate.total += energy;
        estimate.layers.push_back({layer.name, layer.format, prices, energy});
    }
    return estimate;
}

/// The weight traffic the same run would have at another weight width: weight_bits_read scaled
/// from `counted_bits` to `target_bits`. For a what-if when only one run was measured; a
/// measured run of the other setting is better, because quantization also changes how often
/// neurons spike.
inline OpCounts with_weight_width(OpCounts counts, unsigned counted_bits, unsigned target_bits) {
    if (counted_bits == 0 || target_bits == 0 || counted_bits > 64 || target_bits > 64)
        fail(Status::bad_bit_width, "with_weight_width: weight widths must be 1..64 bits, got " +
                                        std::to_string(counted_bits) + " and " + std::to_string(target_bits));
    if (counts.weight_bits_read % counted_bits != 0)
        fail(Status::invalid_argument, "with_weight_width: " + std::to_string(counts.weight_bits_read) +
                                           " weight bits read is not a whole number of " +
                                           std::to_string(counted_bits) + "-bit weights");
    counts.weight_bits_read = counts.weight_bits_read / counted_bits * target_bits;
    return counts;
}

}  // namespace qslm::hw
