#pragma once
// ActivationObserver: how a model's calibration forward pass hands each layer's input to the
// quantizer. A model takes any observer as a template parameter and calls
//
//     observer.observe(layer_id, inputs);   // inputs: rows x input_dim floats, row-major
//
// once per linear layer per batch (spikes as 0/1 floats). The inference path passes
// NullObserver, which compiles to nothing; calibration passes a qslm::quant::CalibrationSet.
//
// The hook is defined here, on the device side (no Eigen, no exceptions, no heap), so that the
// layers and models can take it without knowing the host half; quant/input_statistics.hpp
// implements it (CalibrationSet) and re-exports these names as qslm::quant::*.

#include <concepts>
#include <cstddef>
#include <span>

namespace qslm::layers {

template <class O>
concept ActivationObserver = requires(O& o, std::size_t layer_id, std::span<const float> inputs) {
    o.observe(layer_id, inputs);
};

/// Observes nothing: the default for inference.
struct NullObserver {
    constexpr void observe(std::size_t, std::span<const float>) const noexcept {}
};

static_assert(ActivationObserver<NullObserver>);

/// A type-erased observer for forward paths that are not templates (the float SpikeGPT step
/// takes it through its options): a context pointer and a plain function, so an empty sink
/// costs one branch per linear layer and nothing is instantiated per observer type.
///
/// The sink is called from noexcept code, so the function must not throw: a host observer
/// that can fail (CalibrationSet throws on non-finite inputs) catches inside its function and
/// keeps the error for the caller to rethrow after the step (see
/// search/adapters/spikegpt_calibration.hpp).
struct ActivationSink {
    void* context = nullptr;
    void (*function)(void* context, std::size_t layer_id, std::span<const float> inputs) noexcept = nullptr;

    [[nodiscard]] constexpr explicit operator bool() const noexcept { return function != nullptr; }
    void observe(std::size_t layer_id, std::span<const float> inputs) const noexcept {
        if (function != nullptr) function(context, layer_id, inputs);
    }
};

static_assert(ActivationObserver<ActivationSink>);

}  // namespace qslm::layers
