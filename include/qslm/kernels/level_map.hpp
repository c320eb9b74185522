#pragma once
// How the kernels store a weight level: as an unsigned "biased" field u with level = a*u + z0.
//
// Every encoding maps onto this with a in {1, 2}: Signed z0 = -2^(B-1); Unsigned z0 = 0;
// Bipolar (±1) a = 2, z0 = -1; Ternary z0 = -1 (u in {0,1,2}). Storing u instead of the two's
// complement code means the SIMD unpack is a shift and a mask (no sign extension), and the
// kernels add the bias once per output: sum_{active c} level = a * sum u + z0 * (spike count).
// All sums are done modulo 2^W (W = accumulator width); the result is exact because the true
// sum is known to fit in W bits (see accumulator.hpp).

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qslm/tensor/encoding.hpp"

namespace qslm::kernels {

struct LevelMap {
    std::int32_t scale = 1;   ///< a: 1, or 2 for Bipolar
    std::int32_t offset = 0;  ///< z0: the level of u = 0
    [[nodiscard]] constexpr int level(unsigned u) const noexcept { return scale * static_cast<int>(u) + offset; }
    [[nodiscard]] constexpr unsigned field(int level) const noexcept {
        return static_cast<unsigned>((level - offset) / scale);
    }
};

template <int Bits, class Encoding>
constexpr LevelMap level_map() noexcept {
    if constexpr (std::is_same_v<Encoding, encoding::Bipolar>) return {2, -1};
    else return {1, Encoding::template min_level<Bits>};
}

/// Largest |level| an encoding can produce at this width (bounds the accumulators).
template <int Bits, class Encoding>
constexpr int max_abs_level() noexcept {
    const int lo = Encoding::template min_level<Bits>, hi = Encoding::template max_level<Bits>;
    return (-lo > hi) ? -lo : hi;
}

/// Bits per stored field: widths are rounded up to a divisor of 8 so a field never straddles a
/// byte and a SIMD unpack is one shift and one AND (3-bit is stored as 4, 5..7 as 8).
constexpr int field_bits_for(int bits) noexcept { return bits <= 1 ? 1 : bits == 2 ? 2 : bits <= 4 ? 4 : 8; }

}  // namespace qslm::kernels
