#pragma once
// NumericFormat / LayerFormat: how a layer stores and computes its numbers, which is what the
// energy model prices. A float model and a quantized setting run the same operations in
// different formats; describing the format separately from the operation counts lets one
// estimate compare them side by side.
//
// Host-side header (throws qslm::Error on invalid formats).

#include <cstdint>
#include <string>

#include "qslm/host/error.hpp"

namespace qslm::hw {

/// One number format: an integer of `bits` bits (fixed point prices like an integer of the same
/// width) or an IEEE-style float of `bits` bits.
struct NumericFormat {
    enum class Kind : std::uint8_t { integer, floating };

    Kind kind = Kind::floating;
    unsigned bits = 32;

    [[nodiscard]] static constexpr NumericFormat float32() noexcept { return {Kind::floating, 32}; }
    [[nodiscard]] static constexpr NumericFormat float16() noexcept { return {Kind::floating, 16}; }
    [[nodiscard]] static constexpr NumericFormat integer(unsigned bits) noexcept { return {Kind::integer, bits}; }

    [[nodiscard]] constexpr bool is_floating() const noexcept { return kind == Kind::floating; }

    friend constexpr bool operator==(const NumericFormat&, const NumericFormat&) = default;
};

/// "fp32", "int8", ...: the spelling used in reports.
inline std::string to_string(const NumericFormat& f) {
    return (f.is_floating() ? "fp" : "int") + std::to_string(f.bits);
}

// Integers from 1 bit (binary weights) to 64 bits (wide accumulators); floats from 8 to 64
// bits. Outside these ranges the bit-width scaling of the energy model has no meaning.
inline void validate(const NumericFormat& f, const std::string& what) {
    if (f.is_floating() && (f.bits < 8 || f.bits > 64))
        fail(Status::bad_bit_width, what + ": a floating-point format must have 8..64 bits, got " + std::to_string(f.bits));
    if (!f.is_floating() && (f.bits < 1 || f.bits > 64))
        fail(Status::bad_bit_width, what + ": an integer format must have 1..64 bits, got " + std::to_string(f.bits));
}

/// The formats one layer runs in. The operation counts say *how many* of each operation a layer
/// did; this says *at which width*, which is what changes between the float model and a
/// quantized setting.
struct LayerFormat {
    NumericFormat weights = NumericFormat::float32();      ///< stored weights (b-bit packed -> integer(b))
    NumericFormat activations = NumericFormat::float32();  ///< non-spike operands of MACs and element-wise ops
    NumericFormat accumulator = NumericFormat::float32();  ///< where synaptic accumulates and MACs sum up
    NumericFormat state = NumericFormat::float32();        ///< membrane potentials / recurrent state

    /// The float reference model: everything in fp32.
    [[nodiscard]] static constexpr LayerFormat float32() noexcept { return {}; }

    /// A fixed-point layer: `weight_bits`-bit weights, `activation_bits`-bit activations, sums in
    /// `accumulator_bits`, state in `state_bits`. Defaults follow the runtime: int8 activations,
    /// 32-bit accumulators, Q8.8 (16-bit) membranes.
    [[nodiscard]] static constexpr LayerFormat fixed(unsigned weight_bits, unsigned activation_bits = 8,
                                                     unsigned accumulator_bits = 32,
                                                     unsigned state_bits = 16) noexcept {
        return {NumericFormat::integer(weight_bits), NumericFormat::integer(activation_bits),
                NumericFormat::integer(accumulator_bits), NumericFormat::integer(state_bits)};
    }

    friend constexpr bool operator==(const LayerFormat&, const LayerFormat&) = default;
};

inline void validate(const LayerFormat& f, const std::string& what) {
    validate(f.weights, what + " weights");
    validate(f.activations, what + " activations");
    validate(f.accumulator, what + " accumulator");
    validate(f.state, what + " state");
}

}  // namespace qslm::hw
