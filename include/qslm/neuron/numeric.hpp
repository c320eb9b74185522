#pragma once
// The numeric types a neuron or layer can run in, and the few conversions that generic code
// needs. A layer is written once against `Numeric V` and instantiated twice: with float (the
// reference that calibration and the quantizer search run, and that matches PyTorch) and with
// a qslm::Fixed<> format (what a device runs). Fixed-point code paths do their arithmetic on
// the raw integers in 64 bits and round/saturate once per update, so the error budget of each
// update is stated in LSBs rather than accumulated over several narrowings.

#include <concepts>
#include <cstdint>

#include "qslm/core/fixed.hpp"

namespace qslm {

/// float or double: the reference numeric types.
template <class T>
concept FloatingNumber = std::same_as<T, float> || std::same_as<T, double>;

/// Anything a membrane, an activation or a layer output may be stored in.
template <class T>
concept Numeric = FloatingNumber<T> || FixedPoint<T>;

namespace num {

/// Converts a real number to V (rounded and saturated by V's policies for fixed point).
template <Numeric V>
[[nodiscard]] constexpr V from_double(double x) noexcept {
    if constexpr (FloatingNumber<V>) return static_cast<V>(x);
    else return V::from_float(x);
}

template <Numeric V>
[[nodiscard]] constexpr double to_double(V v) noexcept {
    if constexpr (FloatingNumber<V>) return static_cast<double>(v);
    else return v.to_double();
}

template <Numeric V>
[[nodiscard]] constexpr V zero() noexcept {
    if constexpr (FloatingNumber<V>) return V{0};
    else return V::zero();
}

/// True when `x` converts to V without rounding or saturation.
template <Numeric V>
[[nodiscard]] constexpr bool is_exact(double x) noexcept {
    return to_double(from_double<V>(x)) == x;
}

/// Saturating sum in V (plain + for floating point).
template <Numeric V>
[[nodiscard]] constexpr V add(V a, V b) noexcept {
    return a + b;
}

}  // namespace num
}  // namespace qslm
