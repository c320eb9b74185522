#pragma once
// Which kernel the dispatcher runs, decided from the spike density, the weight width, the number
// of steps and the size of the weights, with crossover points measured by benchmarks/kernels
// (docs/benchmarks.md).
// A pure constexpr function, so the choice can be tested and printed without running anything.

#include <cstddef>
#include <cstdint>
#include <limits>

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
    /// Bytes of the panel layout (rows x cols at the stored field width, panel_weights_bytes):
    /// whether the weights stay in L2 or L3 between steps decides what fetching them once per T
    /// steps (temporal) saves. 0 = unknown: treated as small (the per-step kernels).
    std::size_t weight_bytes = 0;
};

/// One case in which the temporal-parallel kernel beats T one-step calls: weights in
/// [min_weight_bytes, max_weight_bytes) of at least this width, at least this many steps, spike
/// density in [min_density, max_density). (The upper bounds let a calibration, calibrate.hpp,
/// state what it measured per size and density band without extending it to the next band.)
struct TemporalRule {
    std::size_t min_weight_bytes = 0;
    int min_bits = 1;
    std::size_t min_steps = 0;  ///< 0: no rule
    double min_density = 0.0;
    std::size_t max_weight_bytes = std::numeric_limits<std::size_t>::max();
    double max_density = 2.0;
};

/// Room for the rules of a calibration (sizes x densities it measured) or the defaults below.
inline constexpr std::size_t max_temporal_rules = 16;

/// Crossover points. The defaults (measured_crossovers) were measured by benchmarks/kernels on an
/// AVX-512 AMD EPYC (1 MiB L2, fast 32 MiB L3 per CCD); a machine with other caches moves the
/// temporal crossover a lot (on a 2 MiB-L2 Xeon temporal wins from 4 MiB weights and T = 4-16,
/// where the EPYC needs 16 MiB), so host code can measure its own with
/// calibrate_crossovers() (calibrate.hpp) and hand them to SpikeMatvec::use_crossovers().
struct Crossovers {
    /// Bit-plane beats event-driven above this density, per width (index = bits). From the
    /// calibrations (calibrate.hpp) of the runs in docs/benchmarks.md, byte-stripe bit-plane
    /// kernel on the Xeon: 1-bit from 26 % (61 % in another run), 2-bit and 5-8-bit from 61 %,
    /// 3-4-bit never (up to 75 %); a threshold had to hold on 384² and 1536² weights alike (on
    /// 256² the kernel's per-call setup costs more). So it never runs at 2, 4 or 8 bits up to 50 %.
    double bitplane_above[9] = {1.01, 0.26, 0.61, 1.01, 1.01, 0.61, 0.61, 0.61, 0.61};
    /// Dense (masked) beats event-driven above this density (measured: not up to 50 %).
    double dense_above = 1.01;
    /// Temporal-parallel vs T one-step calls: it fetches each active input's weights once per
    /// T steps but adds an L1 read-modify-write per (input, step), while the event kernel keeps
    /// its sums in registers, so it pays only when a fetch is expensive. Fitted on three runs of
    /// the sweep (docs/benchmarks.md; thresholds sit between the measured densities 10/20/50 %
    /// and sizes 1/2/4/8/16 MiB):
    ///  * weights that stay in L2 or fit L3 easily (<= 2 MiB): never, up to T = 64 (temporal was
    ///    1.0-2.8x slower);
    ///  * L3-resident (4-8 MiB): T >= 32 at 50 %, T = 64 at 20 % (temporal/event 0.74-0.99;
    ///    at T = 32, 20 % the runs disagreed, 0.76-1.32, and event-driven is kept);
    ///  * beyond what the caches keep (16 MiB): from T = 16, T = 8 at 20 %, T = 4 at 50 %
    ///    (event-driven up to 5x slower; the T = 4-8 crossover moved between runs with the other
    ///    jobs' use of the shared L3).
    /// The first rule that matches decides; a rule with min_steps 0 ends the list.
    TemporalRule temporal_rules[max_temporal_rules] = {
        {.min_weight_bytes = std::size_t{12} << 20, .min_bits = 1, .min_steps = 16, .min_density = 0.0},
        {.min_weight_bytes = std::size_t{12} << 20, .min_bits = 1, .min_steps = 8, .min_density = 0.15},
        {.min_weight_bytes = std::size_t{12} << 20, .min_bits = 1, .min_steps = 4, .min_density = 0.35},
        {.min_weight_bytes = std::size_t{3} << 20, .min_bits = 1, .min_steps = 32, .min_density = 0.35},
        {.min_weight_bytes = std::size_t{3} << 20, .min_bits = 1, .min_steps = 64, .min_density = 0.15},
        {},
    };
    /// Dual-sparse beats event-driven when density of nonzero weights is below this.
    double sparse_below_weight_density = 0.125;
};

inline constexpr Crossovers measured_crossovers{};

/// Whether T steps run faster through the temporal-parallel kernel (spikes in the temporal
/// layout) than as T one-step calls: a layer that can hold its spikes in either layout asks this
/// (in.steps = T, in.density = spikes / (inputs x T); in.temporal_input is not looked at).
constexpr bool prefers_temporal(const KernelChoiceInput& in, const Crossovers& x = measured_crossovers) noexcept {
    if (in.steps < 2) return false;
    for (const TemporalRule& r : x.temporal_rules) {
        if (r.min_steps == 0) break;
        if (in.weight_bytes >= r.min_weight_bytes && in.weight_bytes < r.max_weight_bytes && in.bits >= r.min_bits &&
            in.steps >= r.min_steps && in.density >= r.min_density && in.density < r.max_density)
            return true;
    }
    return false;
}

constexpr Kernel choose_kernel(const KernelChoiceInput& in, const Crossovers& x = measured_crossovers) noexcept {
    if (in.temporal_input && in.steps > 1) return prefers_temporal(in, x) ? Kernel::temporal : Kernel::event;
    if (in.have_sparse && in.weight_density < x.sparse_below_weight_density) return Kernel::dual_sparse;
    const int b = in.bits < 1 ? 1 : (in.bits > 8 ? 8 : in.bits);
    if (in.have_bitplane && in.bitplane_allowed && in.density > x.bitplane_above[b]) return Kernel::bitplane;
    if (in.density > x.dense_above) return Kernel::dense;
    return Kernel::event;
}

}  // namespace qslm::kernels
