#pragma once
// Packed weights of a run-time width dequantized once into a caller buffer, so the float layers
// (DenseLinear, SpikeGptBlock) run quantized models at float speed. This is what the quantizer
// search does per candidate on the host (dequantize, then evaluate in float); the function
// itself is device-safe (no heap, no exceptions).

#include <cstddef>
#include <span>

#include "qslm/core/status.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::layers {

template <int Bits, class Encoding>
Status dequantize_into(const PackedTensorView<Bits, Encoding>& w, std::span<float> out) noexcept {
    if (out.size() != w.size()) return out.size() < w.size() ? Status::buffer_too_small : Status::bad_shape;
    return w.dequantize(out);
}

inline Status dequantize_into(const AnyPackedTensor& w, std::span<float> out) noexcept {
    return w.visit([&](const auto& t) { return dequantize_into(t.view(), out); });
}

}  // namespace qslm::layers
