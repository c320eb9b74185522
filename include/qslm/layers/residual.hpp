#pragma once
// Residual adds. Spike-driven models keep the residual stream real-valued ("membrane
// shortcut", Spike-driven Transformer / SpikeGPT): the branch's output — spikes (SpikeGPT adds
// the LIF's 0/1 output) or a linear layer's membrane input (SDT) — is added to the stream, and
// the next LIF reads the stream as its input current. In fixed point the add saturates.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/status.hpp"
#include "qslm/neuron/numeric.hpp"

namespace qslm::layers {

/// x += branch (saturating for fixed point).
template <Numeric V>
constexpr Status residual_add(std::span<V> x, std::span<const V> branch, OpCounts* counts = nullptr) noexcept {
    if (x.size() != branch.size()) return Status::bad_shape;
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = x[i] + branch[i];
    if (counts != nullptr) counts->additions += x.size();
    return Status::ok;
}

/// x += spikes (each spike adds 1.0): SpikeGPT's x = x + LIF(branch). Only the spikes cost an
/// addition, so only they are counted (as synaptic accumulates).
template <Numeric V>
constexpr Status residual_add_spikes(std::span<V> x, std::span<const std::uint8_t> spikes, OpCounts* counts = nullptr) noexcept {
    if (x.size() != spikes.size()) return Status::bad_shape;
    const V one = num::from_double<V>(1.0);
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (spikes[i] != 0) {
            x[i] = x[i] + one;
            ++n;
        }
    if (counts != nullptr) counts->synaptic_accumulates += n;
    return Status::ok;
}

}  // namespace qslm::layers
