#pragma once
// Measures the dispatcher's crossover points on the machine it runs on (meant for hosts: it
// allocates and times with std::chrono; it compiles for any target, but kernels.hpp and
// runtime.hpp leave it out).
//
// Why: where the temporal-parallel kernel starts to beat T one-step calls depends on how fast the
// caches beyond L2 serve a column of weights, and that differs between CPUs by a factor of four in
// weight size (kernel_choice.hpp). The compile-time defaults are one machine's; a research run on
// another machine calibrates once (a few seconds) and hands the result to its layers:
//
//     static const auto cal = qslm::kernels::calibrate_crossovers().value();
//     layer.use_crossovers(cal.crossovers);
//
// What is measured (the sizes, densities and step counts are options):
//  * temporal: 4-bit weights of 1024 inputs and 1, 2, 4, 8, 16 MiB of panel, spike densities 10/20/50 %,
//    T = 4..64: one temporal-parallel call vs T event-driven calls;
//  * bit-plane: 384² and 1536² weights of 1, 2, 4 and 8 bits at 20-75 % density: bit-plane vs
//    event-driven, one step (a width's threshold must hold at both sizes).
// Each time is the best of `repeats` batches of at least `seconds_per_timing`. fit_crossovers()
// turns the measurements into rules; it is pure, so the fitting is tested without timing.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "qslm/core/result.hpp"
#include "qslm/kernels/kernel_choice.hpp"
#include "qslm/kernels/spike_matvec.hpp"
#include "qslm/spike/spike_train.hpp"
#include "qslm/tensor/packed_tensor.hpp"

namespace qslm::kernels {

struct CalibrationOptions {
    std::vector<std::size_t> temporal_weight_kib = {1024, 2048, 4096, 8192, 16384};  ///< panel sizes (4-bit, 1024 inputs)
    std::vector<double> temporal_densities = {0.1, 0.2, 0.5};
    std::vector<std::size_t> temporal_steps = {4, 8, 16, 32, 64};
    std::vector<int> bitplane_bits = {1, 2, 4, 8};
    std::vector<double> bitplane_densities = {0.2, 0.35, 0.5, 0.75};
    std::vector<std::size_t> bitplane_sizes = {384, 1536};  ///< square layers n x n; a width's threshold must hold at all
    double seconds_per_timing = 0.004;  ///< one batch of calls lasts at least this long
    int repeats = 3;                    ///< the best of this many batches is kept
    unsigned seed = 1;
};

/// T steps through the temporal-parallel kernel vs T event-driven calls: speedup = event time /
/// temporal time (> 1: temporal wins).
struct TemporalMeasurement {
    std::size_t weight_bytes = 0;
    double density = 0;
    std::size_t steps = 0;
    double speedup = 0;
};
/// One step through the bit-plane kernel vs event-driven: speedup = event time / bit-plane time.
struct BitplaneMeasurement {
    int bits = 0;
    double density = 0;
    double speedup = 0;
    std::size_t size = 0;  ///< the layer measured (n x n); thresholds are fitted per size, the highest kept
};

struct Calibration {
    Crossovers crossovers;
    std::vector<TemporalMeasurement> temporal;
    std::vector<BitplaneMeasurement> bitplane;
};

namespace detail {
// Sorted distinct values.
template <class T>
std::vector<T> distinct(std::vector<T> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}
// Band edges around sorted points: geometric midpoints between neighbours; the first band
// reaches half a band below the first point (mirrored), the last is open.
inline std::vector<double> band_edges(const std::vector<double>& points, double open_end) {
    std::vector<double> e(points.size() + 1);
    e[0] = points.size() > 1 ? points[0] * points[0] / std::sqrt(points[0] * points[1]) : points[0] / std::sqrt(2.0);
    for (std::size_t i = 1; i < points.size(); ++i) e[i] = std::sqrt(points[i - 1] * points[i]);
    e[points.size()] = open_end;
    return e;
}
// The smallest x (ascending list) from which `wins` holds at x and every larger measured x; none: npos.
template <class T, class Wins>
std::size_t first_lasting_win(const std::vector<T>& xs, Wins wins) {
    std::size_t first = xs.size();
    for (std::size_t i = xs.size(); i-- > 0;) {
        if (!wins(xs[i])) break;
        first = i;
    }
    return first;
}
}  // namespace detail

/// Crossovers from measurements; everything not measured keeps `base`'s value. Temporal: one rule
/// per (size band, density band) in which temporal won at some T and at every larger measured T.
/// Bit-plane: per measured width, the density band from which it won at every larger measured
/// density (else never); an unmeasured width takes the next wider measured width's threshold.
inline Result<Crossovers> fit_crossovers(std::span<const TemporalMeasurement> temporal, std::span<const BitplaneMeasurement> bitplane,
                                         const Crossovers& base = measured_crossovers) {
    Crossovers x = base;
    if (!temporal.empty()) {
        std::vector<double> sizes, dens;
        std::vector<std::size_t> steps;
        for (const auto& m : temporal) {
            if (m.weight_bytes == 0 || !(m.density > 0) || m.steps < 2 || !(m.speedup > 0))
                return Failure{Status::invalid_argument, "a temporal measurement has a zero size, density, speedup or fewer than 2 steps"};
            sizes.push_back(static_cast<double>(m.weight_bytes));
            dens.push_back(m.density);
            steps.push_back(m.steps);
        }
        sizes = detail::distinct(sizes);
        dens = detail::distinct(dens);
        steps = detail::distinct(steps);
        if (sizes.size() * dens.size() > max_temporal_rules)
            return Failure{Status::invalid_argument, "more (size, density) cells than Crossovers can hold rules for (max_temporal_rules)"};
        const auto size_edges = detail::band_edges(sizes, 0.0);
        const auto dens_edges = detail::band_edges(dens, 2.0);
        for (auto& r : x.temporal_rules) r = TemporalRule{};
        std::size_t n = 0;
        for (std::size_t i = 0; i < sizes.size(); ++i)
            for (std::size_t j = 0; j < dens.size(); ++j) {
                auto speedup = [&](std::size_t T) {
                    for (const auto& m : temporal)
                        if (static_cast<double>(m.weight_bytes) == sizes[i] && m.density == dens[j] && m.steps == T) return m.speedup;
                    return 0.0;  // not measured: not a win
                };
                const std::size_t k = detail::first_lasting_win(steps, [&](std::size_t T) { return speedup(T) > 1.0; });
                if (k == steps.size()) continue;
                TemporalRule r;
                r.min_weight_bytes = static_cast<std::size_t>(size_edges[i]);
                r.max_weight_bytes = i + 1 < sizes.size() ? static_cast<std::size_t>(size_edges[i + 1]) : std::numeric_limits<std::size_t>::max();
                r.min_steps = steps[k];
                r.min_density = dens_edges[j];
                r.max_density = dens_edges[j + 1];
                x.temporal_rules[n++] = r;
            }
    }
    if (!bitplane.empty()) {
        std::vector<int> widths;
        for (const auto& m : bitplane) {
            if (m.bits < 1 || m.bits > 8 || !(m.density > 0) || !(m.speedup > 0))
                return Failure{Status::invalid_argument, "a bit-plane measurement has bits outside 1..8 or a zero density or speedup"};
            widths.push_back(m.bits);
        }
        widths = detail::distinct(widths);
        double at[9] = {};
        bool measured[9] = {};
        for (const int b : widths) {
            // Per measured size the density band from which bit-plane lasts as the winner; the
            // width's threshold is the highest of them (small layers pay its per-call setup).
            std::vector<std::size_t> sizes;
            for (const auto& m : bitplane)
                if (m.bits == b) sizes.push_back(m.size);
            at[b] = 0.0;
            for (const std::size_t size : detail::distinct(sizes)) {
                std::vector<double> ds;
                for (const auto& m : bitplane)
                    if (m.bits == b && m.size == size) ds.push_back(m.density);
                ds = detail::distinct(ds);
                auto wins = [&](double d) {
                    for (const auto& m : bitplane)
                        if (m.bits == b && m.size == size && m.density == d) return m.speedup > 1.0;
                    return false;
                };
                const std::size_t k = detail::first_lasting_win(ds, wins);
                at[b] = std::max(at[b], k == ds.size() ? 1.01 : detail::band_edges(ds, 2.0)[k]);
            }
            measured[b] = true;
        }
        for (int b = 1; b <= 8; ++b) {
            int m = b;
            while (m <= 8 && !measured[m]) ++m;
            if (m <= 8) x.bitplane_above[b] = at[m];
        }
    }
    return x;
}

namespace detail {
// Best of `repeats` batches: seconds per call of fn.
template <class Fn>
double time_per_call(Fn&& fn, double min_seconds, int repeats) {
    using clock = std::chrono::steady_clock;
    double best = 1e300;
    for (int r = 0; r < repeats; ++r) {
        std::size_t calls = 0;
        const auto t0 = clock::now();
        double elapsed = 0;
        do {
            fn();
            ++calls;
            elapsed = std::chrono::duration<double>(clock::now() - t0).count();
        } while (elapsed < min_seconds);
        best = std::min(best, elapsed / static_cast<double>(calls));
    }
    return best;
}

template <int Bits>
Result<SpikeMatvec> calibration_layer(std::size_t rows, std::size_t cols, bool bitplane, std::mt19937& rng) {
    using T = PackedTensor<Bits>;
    // Uniform stored fields mapped to levels: valid for every encoding (Bipolar has no level 0).
    constexpr LevelMap map = level_map<Bits, typename T::encoding>();
    std::uniform_int_distribution<unsigned> field(0, (1u << Bits) - 1u);
    std::vector<std::int16_t> levels(rows * cols);
    for (auto& l : levels) l = static_cast<std::int16_t>(map.level(field(rng)));
    auto w = T::from_levels(levels, rows, cols, ScaleLayout::per_channel(), std::vector<float>(rows, 1.0f));
    if (!w) return w.failure();
    return SpikeMatvec::prepare(w->view(), {.bitplane = bitplane, .sparse = false});
}

template <SpikeLayout L>
SpikeTrain<L> random_train(std::size_t neurons, std::size_t steps, double density, std::mt19937& rng) {
    auto s = SpikeTrain<L>::zeros(neurons, steps).value();
    std::bernoulli_distribution fire(density);
    for (std::size_t t = 0; t < steps; ++t)
        for (std::size_t c = 0; c < neurons; ++c)
            if (fire(rng)) s.set(c, t);
    return s;
}
}  // namespace detail

/// Times the kernels on this machine and fits crossovers to the result (a few seconds with the
/// default options). Fails on options it cannot measure (empty lists, T outside 2..64, densities
/// outside (0, 1], widths other than 1, 2, 4, 8).
inline Result<Calibration> calibrate_crossovers(const CalibrationOptions& opt = {}) {
    for (const std::size_t T : opt.temporal_steps)
        if (T < 2 || T > max_temporal_steps) return Failure{Status::out_of_range, "calibration steps must be in 2..64"};
    for (const double d : opt.temporal_densities)
        if (!(d > 0 && d <= 1)) return Failure{Status::out_of_range, "calibration densities must be in (0, 1]"};
    for (const double d : opt.bitplane_densities)
        if (!(d > 0 && d <= 1)) return Failure{Status::out_of_range, "calibration densities must be in (0, 1]"};
    for (const std::size_t kib : opt.temporal_weight_kib)
        if (kib == 0) return Failure{Status::out_of_range, "calibration weight sizes must be at least 1 KiB"};
    if (opt.repeats < 1 || !(opt.seconds_per_timing >= 0)) return Failure{Status::out_of_range, "calibration needs repeats >= 1 and a time per batch >= 0"};
    Calibration cal;
    std::mt19937 rng(opt.seed);
    constexpr std::size_t cols = 1024;
    for (const std::size_t kib : opt.temporal_weight_kib) {
        // 4-bit panel: 512 bytes per row of 1024 inputs.
        const std::size_t rows = std::max<std::size_t>(1, kib * 1024 / (cols / 2));
        auto layer = detail::calibration_layer<4>(rows, cols, false, rng);
        if (!layer) return layer.failure();
        const std::size_t bytes = layer->panel().bytes();
        for (const double d : opt.temporal_densities)
            for (const std::size_t T : opt.temporal_steps) {
                const auto spatial = detail::random_train<SpikeLayout::spatial>(cols, T, d, rng);
                const auto temporal = detail::random_train<SpikeLayout::temporal>(cols, T, d, rng);
                std::vector<std::int32_t> out(T * layer->output_size());
                bool ok = true;
                const double t_event = detail::time_per_call(
                    [&] { ok &= layer->accumulate_steps(spatial.view(), std::span<std::int32_t>(out), {Kernel::event}).ok(); },
                    opt.seconds_per_timing, opt.repeats);
                const double t_temporal = detail::time_per_call(
                    [&] { ok &= layer->accumulate_steps(temporal.view(), std::span<std::int32_t>(out), {Kernel::temporal}).ok(); },
                    opt.seconds_per_timing, opt.repeats);
                if (!ok) return Failure{Status::invalid_argument, "a calibration kernel call failed"};
                cal.temporal.push_back({bytes, d, T, t_event / t_temporal});
            }
    }
    for (const std::size_t n : opt.bitplane_sizes)
        for (const int bits : opt.bitplane_bits) {
            Result<SpikeMatvec> layer = Failure{Status::out_of_range, "calibration bit-plane widths must be 1, 2, 4 or 8"};
            if (n == 0) return Failure{Status::out_of_range, "calibration bit-plane sizes must be at least 1"};
            if (bits == 1) layer = detail::calibration_layer<1>(n, n, true, rng);
            else if (bits == 2) layer = detail::calibration_layer<2>(n, n, true, rng);
            else if (bits == 4) layer = detail::calibration_layer<4>(n, n, true, rng);
            else if (bits == 8) layer = detail::calibration_layer<8>(n, n, true, rng);
            if (!layer) return layer.failure();
            for (const double d : opt.bitplane_densities) {
                const auto spikes = detail::random_train<SpikeLayout::spatial>(n, 1, d, rng);
                std::vector<std::int32_t> out(layer->output_size());
                bool ok = true;
                auto run = [&](Kernel k) {
                    return detail::time_per_call(
                        [&] { ok &= layer->accumulate_steps(spikes.view(), std::span<std::int32_t>(out), {k}).ok(); },
                        opt.seconds_per_timing, opt.repeats);
                };
                const double t_event = run(Kernel::event), t_bitplane = run(Kernel::bitplane);
                if (!ok) return Failure{Status::invalid_argument, "a calibration kernel call failed"};
                cal.bitplane.push_back({bits, d, t_event / t_bitplane, n});
            }
        }
    auto x = fit_crossovers(cal.temporal, cal.bitplane);
    if (!x) return x.failure();
    cal.crossovers = *x;
    return cal;
}

}  // namespace qslm::kernels
