#pragma once
// How a `Bits`-wide code stands for an integer level. The level, times the scale (minus the
// zero point), is the weight: w = scale * (level - zero_point).
//
//   Signed    two's complement, levels [-2^(B-1), 2^(B-1) - 1]           (the default for B >= 2)
//   Unsigned  levels [0, 2^B - 1]                                        (1 bit: {0, 1})
//   Bipolar   1 bit, levels {-1, +1}: code 0 is -1, code 1 is +1         (the default for B = 1)
//   Ternary   2 bits, levels {-1, 0, +1} in two's complement; the unused code 0b10 decodes as -1
//
// Each encoding also says how a symmetric scale is chosen, because the optimum differs:
// for a contiguous grid it is absmax / max_level (no clipping); for ±1 weights it is mean|w|,
// the least-squares optimum (XNOR-Net).

#include <concepts>
#include <cstdint>
#include <type_traits>

namespace qslm::encoding {

struct Signed {
    template <int Bits> static constexpr int min_level = -(1 << (Bits - 1));
    template <int Bits> static constexpr int max_level = (1 << (Bits - 1)) - 1;
    template <int Bits> static constexpr bool supports = Bits >= 1 && Bits <= 8;
    template <int Bits> static constexpr std::uint8_t encode(int level) noexcept {
        return static_cast<std::uint8_t>(static_cast<unsigned>(level) & ((1u << Bits) - 1u));
    }
    template <int Bits> static constexpr int decode(std::uint8_t code) noexcept {
        const int sign_bit = 1 << (Bits - 1);
        return (static_cast<int>(code) ^ sign_bit) - sign_bit;  // sign-extend
    }
    static constexpr const char* name = "signed";
};

struct Unsigned {
    template <int Bits> static constexpr int min_level = 0;
    template <int Bits> static constexpr int max_level = (1 << Bits) - 1;
    template <int Bits> static constexpr bool supports = Bits >= 1 && Bits <= 8;
    template <int Bits> static constexpr std::uint8_t encode(int level) noexcept {
        return static_cast<std::uint8_t>(level);
    }
    template <int Bits> static constexpr int decode(std::uint8_t code) noexcept { return code; }
    static constexpr const char* name = "unsigned";
};

struct Bipolar {
    template <int Bits> static constexpr int min_level = -1;
    template <int Bits> static constexpr int max_level = 1;
    template <int Bits> static constexpr bool supports = Bits == 1;
    template <int Bits> static constexpr std::uint8_t encode(int level) noexcept { return level > 0 ? 1 : 0; }
    template <int Bits> static constexpr int decode(std::uint8_t code) noexcept { return (code & 1) ? 1 : -1; }
    static constexpr const char* name = "bipolar";
};

struct Ternary {
    template <int Bits> static constexpr int min_level = -1;
    template <int Bits> static constexpr int max_level = 1;
    template <int Bits> static constexpr bool supports = Bits == 2;
    template <int Bits> static constexpr std::uint8_t encode(int level) noexcept {
        return static_cast<std::uint8_t>(static_cast<unsigned>(level) & 3u);
    }
    template <int Bits> static constexpr int decode(std::uint8_t code) noexcept {
        return (code & 3u) == 0 ? 0 : ((code & 3u) == 1 ? 1 : -1);
    }
    static constexpr const char* name = "ternary";
};

/// Levels that can be represented: a contiguous range except for Bipolar, which skips 0.
template <class E>
constexpr bool has_zero_level = !std::same_as<E, Bipolar>;

}  // namespace qslm::encoding

namespace qslm {

template <class E, int Bits>
concept WeightEncoding = requires(std::uint8_t code, int level) {
    { E::template encode<Bits>(level) } -> std::same_as<std::uint8_t>;
    { E::template decode<Bits>(code) } -> std::same_as<int>;
    { E::template min_level<Bits> } -> std::convertible_to<int>;
    { E::template max_level<Bits> } -> std::convertible_to<int>;
} && E::template supports<Bits>;

/// The encoding a bare PackedTensor<Bits> uses: ±1 for one bit, two's complement otherwise.
template <int Bits>
using default_encoding_t = std::conditional_t<Bits == 1, encoding::Bipolar, encoding::Signed>;

}  // namespace qslm
