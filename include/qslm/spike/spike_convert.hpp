#pragma once
// Conversions of spike trains: between the spatial and temporal layouts, and from/to dense
// bool or float tensors (step-major: element [t * neurons + n] is neuron n at step t, the order
// a layer produces spikes in and PyTorch's [T, N] tensors use).
//
// Float input must be exactly 0 or 1: anything else is not a spike train, and rounding it
// silently would hide a bug upstream (a membrane potential passed where spikes were meant).

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/result.hpp"
#include "qslm/spike/spike_train.hpp"

namespace qslm::spike {

namespace detail {
template <SpikeLayout A, SpikeLayout B>
constexpr Status same_shape(const SpikeTrainView<A>& a, const SpikeTrainView<B, std::uint64_t>& b) noexcept {
    return (a.neurons() == b.neurons() && a.steps() == b.steps()) ? Status::ok : Status::bad_shape;
}
}  // namespace detail

/// Spatial -> temporal (T <= 64). Cost: one pass over the set bits of the source.
constexpr Status to_temporal(SpikeTrainView<SpikeLayout::spatial> in,
                             SpikeTrainView<SpikeLayout::temporal, std::uint64_t> out) noexcept {
    if (detail::same_shape(in, out) != Status::ok) return Status::bad_shape;
    out.clear();
    const std::size_t wps = in.words_per_step();
    for (std::size_t t = 0; t < in.steps(); ++t)
        for (std::size_t w = 0; w < wps; ++w)
            for (std::uint64_t bits = in.words()[t * wps + w]; bits != 0; bits &= bits - 1) {
                const std::size_t n = w * 64 + static_cast<std::size_t>(std::countr_zero(bits));
                out.words()[n] |= std::uint64_t{1} << t;
            }
    return Status::ok;
}

/// Temporal -> spatial.
constexpr Status to_spatial(SpikeTrainView<SpikeLayout::temporal> in,
                            SpikeTrainView<SpikeLayout::spatial, std::uint64_t> out) noexcept {
    if (detail::same_shape(in, out) != Status::ok) return Status::bad_shape;
    out.clear();
    const std::size_t wps = out.words_per_step();
    for (std::size_t n = 0; n < in.neurons(); ++n)
        for (std::uint64_t bits = in.words()[n]; bits != 0; bits &= bits - 1) {
            const std::size_t t = static_cast<std::size_t>(std::countr_zero(bits));
            out.words()[t * wps + n / 64] |= std::uint64_t{1} << (n % 64);
        }
    return Status::ok;
}

/// Packs step-major bools (size neurons * steps) into `out`.
template <SpikeLayout Layout>
constexpr Status from_bools(std::span<const bool> in, SpikeTrainView<Layout, std::uint64_t> out) noexcept {
    if (in.size() != out.neurons() * out.steps()) return Status::bad_shape;
    out.clear();
    for (std::size_t t = 0; t < out.steps(); ++t)
        for (std::size_t n = 0; n < out.neurons(); ++n)
            if (in[t * out.neurons() + n]) out.set(n, t);
    return Status::ok;
}

/// Packs step-major floats that are exactly 0 or 1; anything else gives invalid_argument.
template <SpikeLayout Layout>
constexpr Status from_floats(std::span<const float> in, SpikeTrainView<Layout, std::uint64_t> out) noexcept {
    if (in.size() != out.neurons() * out.steps()) return Status::bad_shape;
    out.clear();
    for (std::size_t t = 0; t < out.steps(); ++t)
        for (std::size_t n = 0; n < out.neurons(); ++n) {
            const float v = in[t * out.neurons() + n];
            if (v == 1.0f) out.set(n, t);
            else if (v != 0.0f) return Status::invalid_argument;
        }
    return Status::ok;
}

/// Unpacks into step-major bools.
template <SpikeLayout Layout>
constexpr Status to_bools(SpikeTrainView<Layout> in, std::span<bool> out) noexcept {
    if (out.size() != in.neurons() * in.steps()) return Status::bad_shape;
    for (std::size_t t = 0; t < in.steps(); ++t)
        for (std::size_t n = 0; n < in.neurons(); ++n) out[t * in.neurons() + n] = in.test(n, t);
    return Status::ok;
}

/// Unpacks into step-major floats (0.0f / 1.0f).
template <SpikeLayout Layout>
constexpr Status to_floats(SpikeTrainView<Layout> in, std::span<float> out) noexcept {
    if (out.size() != in.neurons() * in.steps()) return Status::bad_shape;
    for (std::size_t t = 0; t < in.steps(); ++t)
        for (std::size_t n = 0; n < in.neurons(); ++n) out[t * in.neurons() + n] = in.test(n, t) ? 1.0f : 0.0f;
    return Status::ok;
}

}  // namespace qslm::spike
