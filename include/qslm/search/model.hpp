#pragma once
// What the search needs from a model (QuantizableModel), and what it gives back
// (QuantizedWeights). The adapter for a real model is small: list the searched matrices,
// hand out their float weights, and build a variant with some of them replaced.
//
//   struct MyModel {
//       const qslm::search::Hierarchy& hierarchy() const;              // model -> blocks -> modules
//       std::span<const float> module_weights(std::size_t m) const;     // float, rows x cols row-major
//       std::size_t unsearched_bytes() const;                          // everything not searched
//       MyVariant quantized(const qslm::search::QuantizedWeights& w) const;  // a scorable copy
//   };
//
// quantized() is called with all-float weights for the baseline, with one module quantized for
// the sensitivities, and with whole settings during the search; it must be const and safe to
// call from several threads at once. A variant may use w.dequantized(m) (fake quantization,
// the float path) or w.packed(m) (the real packed tensor, for fixed-point kernels).
//
// Optional, for the second-order sensitivity proxies (detected by concept):
//   std::span<const float> input_second_moments(std::size_t m) const;  // E[x_j^2], cols values
//   std::span<const float> fisher_diagonal(std::size_t m) const;       // rows x cols values
//
// Host-only header.

#include <concepts>
#include <type_traits>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "qslm/search/hierarchy.hpp"
#include "qslm/search/setting.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::search {

/// The weights of every searched module for one setting: float modules point at the model's
/// own weights, quantized ones at the packed tensor and its dequantized copy.
class QuantizedWeights {
public:
    struct Entry {
        int width = float_width;
        std::span<const float> dequantized;    ///< rows x cols floats (the float weights if width is float)
        const AnyPackedTensor* packed = nullptr;  ///< null for float modules
    };

    explicit QuantizedWeights(std::vector<Entry> entries) : entries_(std::move(entries)) {}

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    [[nodiscard]] int width(std::size_t m) const { return entries_.at(m).width; }
    [[nodiscard]] bool is_float(std::size_t m) const { return entries_.at(m).width == float_width; }
    [[nodiscard]] std::span<const float> dequantized(std::size_t m) const { return entries_.at(m).dequantized; }
    [[nodiscard]] const AnyPackedTensor* packed(std::size_t m) const { return entries_.at(m).packed; }

private:
    std::vector<Entry> entries_;
};

template <class M>
concept QuantizableModel = requires(const M& m, const QuantizedWeights& w, std::size_t i) {
    { m.hierarchy() } -> std::convertible_to<const Hierarchy&>;
    { m.module_weights(i) } -> std::convertible_to<std::span<const float>>;
    { m.unsearched_bytes() } -> std::convertible_to<std::size_t>;
    m.quantized(w);
};

/// The type a model's quantized() returns, which the evaluator scores.
template <class M>
using variant_t = std::decay_t<decltype(std::declval<const M&>().quantized(std::declval<const QuantizedWeights&>()))>;

template <class M>
concept HasInputSecondMoments = requires(const M& m, std::size_t i) {
    { m.input_second_moments(i) } -> std::convertible_to<std::span<const float>>;
};

template <class M>
concept HasFisherDiagonal = requires(const M& m, std::size_t i) {
    { m.fisher_diagonal(i) } -> std::convertible_to<std::span<const float>>;
};

}  // namespace qslm::search
