#pragma once
// Event lists: the indices of the ones in a bit vector, ascending. The event-driven kernels walk
// this list instead of the bits. This is the scalar reference; qslm/kernels/event_list.hpp has
// the SIMD version (AVX-512 compress-store, table-driven stores elsewhere), bit-exact with it.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/result.hpp"

namespace qslm::spike {

/// Writes the positions of the set bits of `words` (bit i of word w is position 64 w + i) into
/// `out`, ascending, and returns how many there are. `out` must hold popcount(words) entries;
/// a shorter buffer gives buffer_too_small rather than a truncated list.
inline Result<std::size_t> active_indices_scalar(std::span<const std::uint64_t> words,
                                                    std::span<std::uint32_t> out) noexcept {
    std::size_t n = 0;
    for (std::size_t w = 0; w < words.size(); ++w)
        for (std::uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
            if (n == out.size()) return Failure{Status::buffer_too_small, "event list buffer is smaller than the number of spikes"};
            out[n++] = static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
        }
    return n;
}

}  // namespace qslm::spike
