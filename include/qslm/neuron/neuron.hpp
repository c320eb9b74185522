#pragma once
// What every spiking neuron model in qslm provides, and the loops that run one over a layer
// (single step, for streaming token by token) or over T steps at once (multi-step).
//
// A neuron model is a small value type holding its parameters (threshold, decay, reset) in
// its numeric type V; the membrane state lives outside it, in a caller-provided span, so one
// model object serves a whole layer and the inference path never allocates.

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/status.hpp"
#include "qslm/neuron/numeric.hpp"

namespace qslm::neuron {

/// What happens to the membrane after a spike.
enum class Reset : std::uint8_t {
    hard,      ///< set to v_reset (SpikingJelly's default; snnTorch's reset_mechanism="zero")
    subtract,  ///< subtract the threshold (SpikingJelly v_reset=None; snnTorch's default)
    none,      ///< keep integrating (snnTorch reset_mechanism="none")
};

/// A neuron model: one membrane update per call. `step(x, v)` charges membrane `v` with input
/// `x`, fires, resets, and returns whether it spiked.
template <class N>
concept NeuronModel = requires(const N& n, typename N::value_type x, typename N::value_type& v) {
    requires Numeric<typename N::value_type>;
    { n.step(x, v) } -> std::same_as<bool>;
    { n.initial_state() } -> std::same_as<typename N::value_type>;
};

/// Sets every membrane of a layer to the model's initial value (v_reset or 0).
template <NeuronModel N>
constexpr void reset_state(const N& model, std::span<typename N::value_type> v) noexcept {
    for (auto& m : v) m = model.initial_state();
}

/// State bytes of a layer of `n` neurons of model N (one membrane each).
template <NeuronModel N>
constexpr std::size_t state_bytes(std::size_t n) noexcept {
    return n * sizeof(typename N::value_type);
}

/// One time step of a layer: x[i] charges v[i]; spikes[i] receives 0 or 1.
/// Errors: bad_shape when x and v differ in length, buffer_too_small when spikes is shorter.
template <NeuronModel N>
constexpr Status step_layer(const N& model, std::span<const typename N::value_type> x,
                            std::span<typename N::value_type> v, std::span<std::uint8_t> spikes,
                            OpCounts* counts = nullptr) noexcept {
    if (x.size() != v.size()) return Status::bad_shape;
    if (spikes.size() < x.size()) return Status::buffer_too_small;
    std::uint64_t fired = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const bool s = model.step(x[i], v[i]);
        spikes[i] = static_cast<std::uint8_t>(s);
        fired += s ? 1u : 0u;
    }
    if (counts != nullptr) {
        counts->state_updates += x.size();
        counts->spikes += fired;
    }
    return Status::ok;
}

/// One time step of a layer with the spikes written packed: bit i % 64 of words[i / 64] is
/// neuron i (bits past the last neuron zero), the input SpikingLinear::forward_words and the
/// spike kernels take, so no byte per neuron is stored and packed again. Same membranes and
/// spikes as step_layer. `words` needs (n + 63) / 64 entries.
template <NeuronModel N>
constexpr Status step_layer_words(const N& model, std::span<const typename N::value_type> x,
                                  std::span<typename N::value_type> v, std::span<std::uint64_t> words,
                                  OpCounts* counts = nullptr) noexcept {
    if (x.size() != v.size()) return Status::bad_shape;
    if (words.size() < (x.size() + 63) / 64) return Status::buffer_too_small;
    std::uint64_t fired = 0;
    for (std::size_t w = 0; w * 64 < x.size(); ++w) {
        std::uint64_t bits = 0;
        const std::size_t end = (w + 1) * 64 < x.size() ? (w + 1) * 64 : x.size();
        for (std::size_t i = w * 64; i < end; ++i) bits |= static_cast<std::uint64_t>(model.step(x[i], v[i])) << (i - w * 64);
        words[w] = bits;
        fired += static_cast<std::uint64_t>(std::popcount(bits));
    }
    if (counts != nullptr) {
        counts->state_updates += x.size();
        counts->spikes += fired;
    }
    return Status::ok;
}

/// T time steps at once (multi-step mode): x is [T][n] time-major, v holds n membranes
/// (initial on entry, final on return), spikes receives [T][n].
template <NeuronModel N>
constexpr Status run_steps(const N& model, std::size_t steps, std::span<const typename N::value_type> x,
                           std::span<typename N::value_type> v, std::span<std::uint8_t> spikes,
                           OpCounts* counts = nullptr) noexcept {
    const std::size_t n = v.size();
    if (steps == 0 || n == 0 || x.size() != steps * n) return Status::bad_shape;
    if (spikes.size() < steps * n) return Status::buffer_too_small;
    for (std::size_t t = 0; t < steps; ++t) {
        const Status s = step_layer(model, x.subspan(t * n, n), v, spikes.subspan(t * n, n), counts);
        if (s != Status::ok) return s;
    }
    return Status::ok;
}

}  // namespace qslm::neuron
