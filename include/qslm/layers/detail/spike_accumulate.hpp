#pragma once
// The scalar accumulate SpikingLinear::forward runs over a PackedTensorView's integer levels
// (spikes as one byte per input, no prepared layout needed): for one output row, walk the inputs,
// and for every input that spiked add its weight level to an integer accumulator. Scale groups
// are flushed as they end, so the caller turns (integer sum, active count) into a value with one
// scale multiply per group, in float or in fixed point. SpikingLinear::forward_words gets the
// same (sum, active) pairs from the spike kernels (qslm/kernels/spike_matvec.hpp) instead.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::layers::detail {

/// Calls `flush(scale_index, level_sum, active_count)` once per scale group of row `r`
/// (once for per-tensor / per-channel layouts), summing the levels of the inputs whose spike
/// byte is non-zero.
template <int Bits, class Encoding, class Flush>
constexpr void accumulate_spiking_row(const PackedTensorView<Bits, Encoding>& w, std::size_t r,
                                      std::span<const std::uint8_t> spikes, Flush&& flush) noexcept {
    const std::size_t cols = w.cols();
    const ScaleLayout layout = w.layout();
    const std::size_t group = layout.granularity == Granularity::per_group ? layout.group_size : cols;
    for (std::size_t c0 = 0; c0 < cols; c0 += group) {
        const std::size_t c1 = c0 + group < cols ? c0 + group : cols;
        std::int64_t sum = 0;
        std::int64_t active = 0;
        for (std::size_t c = c0; c < c1; ++c) {
            if (spikes[c] != 0) {
                sum += w.level(r, c);
                ++active;
            }
        }
        flush(w.scale_index(r, c0), sum, active);
    }
}

}  // namespace qslm::layers::detail
