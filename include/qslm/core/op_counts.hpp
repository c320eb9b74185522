#pragma once
// OpCounts: what a layer actually did during one step, counted as it runs (not assumed from the
// shape), so the energy model can price spike-driven work (accumulates triggered by spikes) and
// dense work (multiply-accumulates) differently, and memory traffic by weight width.

#include <cstdint>

namespace qslm {

struct OpCounts {
    std::uint64_t synaptic_accumulates = 0;   ///< additions of a weight triggered by an input spike (AC)
    std::uint64_t multiply_accumulates = 0;   ///< weight x activation products on non-spiking inputs (MAC)
    std::uint64_t multiplies = 0;             ///< other element-wise multiplies (gates, norms, scales)
    std::uint64_t additions = 0;              ///< other additions (residuals, biases, reductions)
    std::uint64_t nonlinear = 0;              ///< exp / sigmoid / sqrt / division evaluations
    std::uint64_t state_updates = 0;          ///< neuron membrane updates (one per neuron per step)
    std::uint64_t spikes = 0;                 ///< output spikes emitted
    std::uint64_t weight_bits_read = 0;       ///< bits of weight storage fetched
    std::uint64_t activation_bytes_moved = 0; ///< bytes of activations/state read or written

    constexpr OpCounts& operator+=(const OpCounts& o) noexcept {
        synaptic_accumulates += o.synaptic_accumulates;
        multiply_accumulates += o.multiply_accumulates;
        multiplies += o.multiplies;
        additions += o.additions;
        nonlinear += o.nonlinear;
        state_updates += o.state_updates;
        spikes += o.spikes;
        weight_bits_read += o.weight_bits_read;
        activation_bytes_moved += o.activation_bytes_moved;
        return *this;
    }
    friend constexpr OpCounts operator+(OpCounts a, const OpCounts& b) noexcept { return a += b; }
    friend constexpr bool operator==(const OpCounts&, const OpCounts&) = default;
};

}  // namespace qslm
