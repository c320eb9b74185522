#pragma once
// The SpikingJelly LIF neuron (decay_input, hard reset) on Q16.16 membranes, with the division
// by tau a rounded right shift (tau = 2^tau_shift; SpikeGPT's tau = 2 is one shift):
//
//   H = V + round((X - (V - V_reset)) / 2^tau_shift)      one rounding (half to even), saturated
//   S = H >= V_th
//   V = S ? V_reset : H
//
// This is exactly neuron::SpikingJellyLIF<Fixed<16, 16>> (tests/integer checks every step bit for
// bit), written over plain constants so that a firmware image holds it as constexpr data:
// SpikingJellyLIF::make() validates its real-valued parameters in double, which the integer-only
// build must not link. The host converts the parameters (io/integer/prepare_spikegpt.hpp).

#include <cstdint>

#include "qslm/layers/integer/formats.hpp"

namespace qslm::layers::integer {

struct LifParams {
    std::int32_t threshold_raw = std::int32_t{1} << 16;  ///< V_th in Q16 (1.0)
    std::int32_t v_reset_raw = 0;                        ///< V_reset in Q16
    int tau_shift = 1;                                   ///< tau = 2^tau_shift
};

/// One membrane update; returns the spike.
[[nodiscard]] constexpr bool lif_step(const LifParams& p, std::int32_t x, std::int32_t& v) noexcept {
    using R = State::rounding_policy;
    const std::int64_t leak = R::shift_right(std::int64_t{x} - (std::int64_t{v} - p.v_reset_raw), p.tau_shift);
    const std::int32_t h = saturate_raw<State>(std::int64_t{v} + leak);
    const bool spike = h >= p.threshold_raw;
    v = spike ? p.v_reset_raw : h;
    return spike;
}

}  // namespace qslm::layers::integer
