#pragma once
// Which kernel the dispatcher runs, decided from the spike density, the weight width and the
// number of steps, with crossover points measured by benchmarks/kernels (docs/benchmarks.md).
// A pure constexpr function, so the choice can be tested and printed without running anything.

#include <cstddef>
#include <cstdint>

namespace qslm::kernels {

enum class Kernel : std::uint8_t { automatic = 0, dense, event, bitplane, temporal, dual_sparse };

constexpr const char* to_string(Kernel k) noexcept {
    switch (k) {
        case Kernel::automatic: return "automatic";
        case Kernel::dense: return "dense";
        case Kernel::event: return "event";
        case Kernel::bitplane: return "bitplane";
        case Kernel::temporal: return "temporal";
        case Kernel::dual_sparse: return "dual_sparse";
    }
    return "unknown";
}

/// What the dispatcher knows when it chooses.
struct KernelChoiceInput {
    double density = 0.0;          ///< fraction of active inputs (per step, averaged over steps)
    int bits = 4;                  ///< weight width
    std::size_t steps = 1;         ///< T (> 1 only for accumulate_steps on a temporal train)
    bool temporal_input = false;   ///< spikes given in the temporal layout
    bool have_bitplane = false;    ///< bit-plane weights were prepared
    bool bitplane_allowed = true;  ///< per-group scales with a group size that is a multiple of 64
    bool have_sparse = false;      ///< compressed sparse weights were prepared
    double weight_density = 1.0;   ///< fraction of nonzero weights (sparse weights only)
};

/// Crossover points (measured; see docs/benchmarks.md for the run they come from).
struct Crossovers {
    /// Bit-plane beats event-driven above this density, per width (index = bits).
    double bitplane_above[9] = {1.01, 0.10, 0.30, 1.01, 1.01, 1.01, 1.01, 1.01, 1.01};
    /// Dense (masked) beats event-driven above this density.
    double dense_above = 1.01;
    /// Temporal-parallel beats T one-step calls only with many steps at a middling density:
    /// it saves weight fetches but adds an L1 read-modify-write per (input, step), so with few
    /// steps or sparse spikes the per-step event kernel (accumulators in registers) wins, and
    /// at high density nearly every column is fetched anyway.
    std::size_t temporal_min_steps = 16;
    double temporal_min_density = 0.08;
    double temporal_max_density = 0.25;
    /// Dual-sparse beats event-driven when density of nonzero weights is below this.
    double sparse_below_weight_density = 0.125;
};

inline constexpr Crossovers measured_crossovers{};

/// Whether T steps at this density run faster through the temporal-parallel kernel than as T
/// one-step calls (a layer that can hold its spikes in either layout asks this).
constexpr bool prefers_temporal(double density, std::size_t steps, const Crossovers& x = measured_crossovers) noexcept {
    return steps >= x.temporal_min_steps && density >= x.temporal_min_density && density <= x.temporal_max_density;
}

constexpr Kernel choose_kernel(const KernelChoiceInput& in, const Crossovers& x = measured_crossovers) noexcept {
    if (in.temporal_input && in.steps > 1) return prefers_temporal(in.density, in.steps, x) ? Kernel::temporal : Kernel::event;
    if (in.have_sparse && in.weight_density < x.sparse_below_weight_density) return Kernel::dual_sparse;
    const int b = in.bits < 1 ? 1 : (in.bits > 8 ? 8 : in.bits);
    if (in.have_bitplane && in.bitplane_allowed && in.density > x.bitplane_above[b]) return Kernel::bitplane;
    if (in.density > x.dense_above) return Kernel::dense;
    return Kernel::event;
}

}  // namespace qslm::kernels
