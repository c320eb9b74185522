#pragma once
// Accumulator width: chosen so that no overflow is possible for the given shape.
//
// Any partial sum over a subset of the inputs satisfies |sum| <= cols * max|level|. When that
// bound is at most 32767 the kernels accumulate (and may return) int16, which doubles the SIMD
// lanes; otherwise int32. A shape whose bound exceeds int32 is rejected when the weights are
// prepared, so the check happens once, on construction, never in the hot loop.

#include <cstddef>
#include <cstdint>

#include "qslm/core/result.hpp"

namespace qslm::kernels {

enum class AccumulatorWidth : std::uint8_t { int16 = 16, int32 = 32 };

constexpr const char* to_string(AccumulatorWidth w) noexcept { return w == AccumulatorWidth::int16 ? "int16" : "int32"; }

/// The narrowest accumulator that cannot overflow for `cols` inputs of levels in [-max_abs, max_abs].
inline Result<AccumulatorWidth> accumulator_width_for(std::size_t cols, int max_abs_level) noexcept {
    const std::uint64_t bound = static_cast<std::uint64_t>(cols) * static_cast<std::uint64_t>(max_abs_level);
    if (bound <= 32767u) return AccumulatorWidth::int16;
    if (bound <= 2147483647u) return AccumulatorWidth::int32;
    return Failure{Status::bad_shape, "cols x max|level| exceeds int32: this layer's sums could overflow any accumulator"};
}

/// Whether an output of type Acc can hold results that need `needed`.
template <class Acc>
constexpr bool accumulator_fits(AccumulatorWidth needed) noexcept {
    return sizeof(Acc) * 8 >= static_cast<std::size_t>(needed);
}

/// Where a kernel writes: an int16 or int32 array, either overwritten or added to. Writes are
/// done modulo 2^width, which is exact because every partial sum fits (see above).
struct OutRef {
    std::int16_t* i16 = nullptr;
    std::int32_t* i32 = nullptr;
    bool add = false;  ///< true: out[r] += value (a later chunk or group); false: out[r] = value

    [[nodiscard]] constexpr OutRef offset(std::size_t elements) const noexcept {
        return {i16 ? i16 + elements : nullptr, i32 ? i32 + elements : nullptr, add};
    }
    constexpr void put(std::size_t r, std::int32_t v) const noexcept {
        if (i16) {
            const auto old = add ? static_cast<std::uint16_t>(i16[r]) : std::uint16_t{0};
            i16[r] = static_cast<std::int16_t>(static_cast<std::uint16_t>(old + static_cast<std::uint16_t>(v)));
        } else {
            const auto old = add ? static_cast<std::uint32_t>(i32[r]) : std::uint32_t{0};
            i32[r] = static_cast<std::int32_t>(old + static_cast<std::uint32_t>(v));
        }
    }
};

}  // namespace qslm::kernels
