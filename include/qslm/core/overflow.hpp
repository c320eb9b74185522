#pragma once
// Overflow policies: what happens when a result does not fit in the fixed-point format.

#include <concepts>
#include <cstdint>

namespace qslm::overflow {

/// Clamp to the nearest representable value. The default: a saturated membrane or
/// accumulator degrades gracefully, a wrapped one flips sign and fires spuriously.
struct Saturate {
    static constexpr std::int64_t apply(std::int64_t v, std::int64_t lo, std::int64_t hi, int /*width*/,
                                        bool /*is_signed*/) noexcept {
        return v < lo ? lo : (v > hi ? hi : v);
    }
};

/// Keep the low `width` bits (two's-complement wrap-around), as plain integer hardware does.
/// Useful to reproduce a device bit for bit, and free of compare instructions.
struct Wrap {
    static constexpr std::int64_t apply(std::int64_t v, std::int64_t /*lo*/, std::int64_t /*hi*/, int width,
                                        bool is_signed) noexcept {
        if (width >= 64) return v;
        const std::uint64_t mask = (std::uint64_t{1} << width) - 1;
        std::uint64_t u = static_cast<std::uint64_t>(v) & mask;
        if (is_signed && (u >> (width - 1)) != 0) u |= ~mask;  // sign-extend
        return static_cast<std::int64_t>(u);
    }
};

}  // namespace qslm::overflow

namespace qslm {

template <class O>
concept OverflowPolicy = requires(std::int64_t v, int w, bool s) {
    { O::apply(v, v, v, w, s) } -> std::same_as<std::int64_t>;
};

}  // namespace qslm
