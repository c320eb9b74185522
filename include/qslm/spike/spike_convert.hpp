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

/// Packs one step of byte spikes (one byte per neuron, what the neuron layers' step_layer
/// writes; any non-zero byte is a spike, as SpikingLinear::forward reads them) into spike words:
/// bit n % 64 of word n / 64 is neuron n, the bits past the last neuron zero. `words` must hold
/// spike_words_per_step(bytes.size()) words.
///
/// Eight bytes at a time with a word trick instead of a bit loop: OR-fold each byte onto its
/// low bit, then one multiply gathers the eight low bits into the top byte (bit 8i + 7j + 7
/// lands on 56 + i when i + j = 7, and no other product reaches bits 56-63). Portable (Cortex-M
/// included) and about 8 operations per 8 neurons; compilers vectorise the fold.
constexpr Status pack_spike_bytes(std::span<const std::uint8_t> bytes, std::span<std::uint64_t> words) noexcept {
    if (words.size() < spike_words_per_step(bytes.size())) return Status::buffer_too_small;
    const std::size_t n = bytes.size();
    std::size_t w = 0;
    for (std::size_t c = 0; c < n; c += 64, ++w) {
        std::uint64_t out = 0;
        const std::size_t end = c + 64 < n ? c + 64 : n;
        std::size_t i = c;
        for (; i + 8 <= end; i += 8) {
            std::uint64_t x = 0;
            for (std::size_t k = 0; k < 8; ++k) x |= static_cast<std::uint64_t>(bytes[i + k]) << (8 * k);  // one load (little-endian)
            x |= x >> 4;
            x |= x >> 2;
            x |= x >> 1;
            x &= 0x0101010101010101ull;
            out |= ((x * 0x0102040810204080ull) >> 56) << (i - c);
        }
        for (; i < end; ++i) out |= static_cast<std::uint64_t>(bytes[i] != 0) << (i - c);
        words[w] = out;
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
