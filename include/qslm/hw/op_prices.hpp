#pragma once
// OpPrices: what each counted operation of one layer costs, in picojoules. Pricing is the only
// place where the energy model, the layer's numeric formats, where the data lives and a
// device's measured overrides meet; the estimate itself is then a dot product with OpCounts.
//
// How an operation is priced (docs/energy.md has the reasoning):
//   synaptic accumulate (AC)  = add(accumulator)
//   multiply-accumulate (MAC) = multiply(weights, activations) + add(accumulator)
//   multiply / addition       = multiply(activations, activations) / add(activations)
//   nonlinear                 = model.nonlinear_pj(activations)
//   state update              = multiply(state, state) + 2 add(state)   (leak, integrate, compare)
//   spike                     = 0 (its bit is in activation traffic), unless overridden
//   weight bit read           = memory_access_pj_per_bit(weight memory)
//   activation byte moved     = 8 memory_access_pj_per_bit(activation memory)
//
// Host-side header.

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "qslm/core/op_counts.hpp"
#include "qslm/hw/energy_model.hpp"
#include "qslm/hw/numeric_format.hpp"

namespace qslm::hw {

/// Where weights and activations live, by capacity (memory energy grows with capacity). The
/// defaults, when no device profile is given, are Horowitz's largest SRAM (1 MB) for weights and
/// a 32 KB SRAM for activations and state.
struct MemoryContext {
    std::uint64_t weight_memory_bytes = std::uint64_t{1} << 20;
    std::uint64_t activation_memory_bytes = std::uint64_t{32} << 10;
};

/// Device-measured prices that replace the model's where present (a device profile's "energy"
/// object). Each is in picojoules; absent means "use the energy model".
struct EnergyOverrides {
    std::optional<double> synaptic_accumulate_pj = std::nullopt;      ///< per AC
    std::optional<double> multiply_accumulate_pj = std::nullopt;      ///< per MAC
    std::optional<double> state_update_pj = std::nullopt;             ///< per neuron update
    std::optional<double> spike_pj = std::nullopt;                    ///< per emitted spike (routing on a neuromorphic chip)
    std::optional<double> weight_read_pj_per_bit = std::nullopt;      ///< e.g. flash or DRAM, which Horowitz's table prices only roughly
    std::optional<double> activation_access_pj_per_bit = std::nullopt;

    friend constexpr bool operator==(const EnergyOverrides&, const EnergyOverrides&) = default;
};

/// Picojoules per counted event, one member per OpCounts field.
struct OpPrices {
    double synaptic_accumulate = 0;
    double multiply_accumulate = 0;
    double multiply = 0;
    double addition = 0;
    double nonlinear = 0;
    double state_update = 0;
    double spike = 0;
    double weight_bit = 0;
    double activation_byte = 0;
};

/// Energy in picojoules, split the way OpCounts is, so a report can say where it goes.
struct EnergyBreakdown {
    double synaptic_accumulates = 0;
    double multiply_accumulates = 0;
    double multiplies = 0;
    double additions = 0;
    double nonlinear = 0;
    double state_updates = 0;
    double spikes = 0;
    double weight_reads = 0;
    double activation_traffic = 0;

    [[nodiscard]] constexpr double compute_pj() const noexcept {
        return synaptic_accumulates + multiply_accumulates + multiplies + additions + nonlinear + state_updates + spikes;
    }
    [[nodiscard]] constexpr double memory_pj() const noexcept { return weight_reads + activation_traffic; }
    [[nodiscard]] constexpr double total_pj() const noexcept { return compute_pj() + memory_pj(); }

    constexpr EnergyBreakdown& operator+=(const EnergyBreakdown& o) noexcept {
        synaptic_accumulates += o.synaptic_accumulates;
        multiply_accumulates += o.multiply_accumulates;
        multiplies += o.multiplies;
        additions += o.additions;
        nonlinear += o.nonlinear;
        state_updates += o.state_updates;
        spikes += o.spikes;
        weight_reads += o.weight_reads;
        activation_traffic += o.activation_traffic;
        return *this;
    }
};

inline void validate(const EnergyOverrides& o, const std::string& what) {
    auto check = [&](const std::optional<double>& v, const char* field) {
        if (v && !(std::isfinite(*v) && *v >= 0.0))
            fail(Status::invalid_argument,
                 what + ": energy override '" + field + "' must be a finite, non-negative number of picojoules");
    };
    check(o.synaptic_accumulate_pj, "synaptic_accumulate_pj");
    check(o.multiply_accumulate_pj, "multiply_accumulate_pj");
    check(o.state_update_pj, "state_update_pj");
    check(o.spike_pj, "spike_pj");
    check(o.weight_read_pj_per_bit, "weight_read_pj_per_bit");
    check(o.activation_access_pj_per_bit, "activation_access_pj_per_bit");
}

/// Prices the operations of one layer running in `format`, with data placed as in `memory`.
template <EnergyModel Model>
OpPrices price_ops(const Model& model, const LayerFormat& format, const MemoryContext& memory = {},
                   const EnergyOverrides& overrides = {}) {
    validate(format, "layer format");
    validate(overrides, "energy overrides");
    OpPrices p;
    p.synaptic_accumulate = overrides.synaptic_accumulate_pj.value_or(model.add_pj(format.accumulator));
    p.multiply_accumulate = overrides.multiply_accumulate_pj.value_or(
        model.multiply_pj(format.weights, format.activations) + model.add_pj(format.accumulator));
    p.multiply = model.multiply_pj(format.activations, format.activations);
    p.addition = model.add_pj(format.activations);
    p.nonlinear = model.nonlinear_pj(format.activations);
    p.state_update = overrides.state_update_pj.value_or(model.multiply_pj(format.state, format.state) +
                                                        2.0 * model.add_pj(format.state));
    p.spike = overrides.spike_pj.value_or(0.0);
    p.weight_bit = overrides.weight_read_pj_per_bit.value_or(model.memory_access_pj_per_bit(memory.weight_memory_bytes));
    p.activation_byte = 8.0 * overrides.activation_access_pj_per_bit.value_or(
                                  model.memory_access_pj_per_bit(memory.activation_memory_bytes));
    return p;
}

/// Counts times prices.
constexpr EnergyBreakdown energy_of(const OpCounts& c, const OpPrices& p) noexcept {
    auto d = [](std::uint64_t n) { return static_cast<double>(n); };
    EnergyBreakdown e;
    e.synaptic_accumulates = d(c.synaptic_accumulates) * p.synaptic_accumulate;
    e.multiply_accumulates = d(c.multiply_accumulates) * p.multiply_accumulate;
    e.multiplies = d(c.multiplies) * p.multiply;
    e.additions = d(c.additions) * p.addition;
    e.nonlinear = d(c.nonlinear) * p.nonlinear;
    e.state_updates = d(c.state_updates) * p.state_update;
    e.spikes = d(c.spikes) * p.spike;
    e.weight_reads = d(c.weight_bits_read) * p.weight_bit;
    e.activation_traffic = d(c.activation_bytes_moved) * p.activation_byte;
    return e;
}

}  // namespace qslm::hw
