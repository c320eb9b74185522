#pragma once
// SpikeMatvec: the one entry point the layers call for  y = W · s  with binary s.
//
//   auto mv = qslm::kernels::SpikeMatvec::prepare(weights.view());      // once, host side
//   std::vector<std::int32_t> acc(mv->output_size());
//   auto info = mv->accumulate(spike_words, std::span(acc));           // every step
//   // acc[g * rows + r] = sum over active inputs c of group g of level(r, c)
//
// It returns integer *levels*: the layer applies scale (and zero point) afterwards,
//     y[r] = sum_g scale(r, g) * (acc[g * rows + r] - zero_point(r, g) * spikes_in_group(g)),
// with one group for per-tensor and per-channel scales (then acc[r] is the whole sum). The
// spike count per group is spike::popcount_bit_range(words, g * G, (g + 1) * G); RunInfo.spikes
// has the total. Outputs may be int16 when accumulator_width() says so (twice the SIMD lanes,
// half the memory) or int32 always; a too-narrow output is refused, never silently wrapped.
//
// The kernel is chosen per call from the spike density, width and T (kernel_choice.hpp), and
// the instruction set from what is compiled in and what the CPU has (isa.hpp); RunOptions can
// force either. Nothing here allocates: the per-call scratch (event lists) is on the stack.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "qslm/core/result.hpp"
#include "qslm/kernels/accumulator.hpp"
#include "qslm/kernels/bitplane_weights.hpp"
#include "qslm/kernels/event_list.hpp"
#include "qslm/kernels/isa.hpp"
#include "qslm/kernels/kernel_choice.hpp"
#include "qslm/kernels/panel_weights.hpp"
#include "qslm/kernels/scalar_kernels.hpp"
#include "qslm/kernels/sparse_weights.hpp"
#include "qslm/spike/spike_train.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"
#include "qslm/tensor/scale_layout.hpp"

namespace qslm::kernels {

struct RunOptions {
    Kernel kernel = Kernel::automatic;  ///< force a kernel (its prepared weights must exist)
    Isa isa = Isa::automatic;           ///< force an instruction set (must be compiled in and supported)
};

/// What a call did (for logs, tests and the energy model).
struct RunInfo {
    Kernel kernel = Kernel::automatic;
    Isa isa = Isa::scalar;
    std::size_t spikes = 0;  ///< active inputs, summed over steps
};

/// Which prepared layouts to build. The panel layout serves dense, event-driven and temporal.
struct PrepareOptions {
    bool bitplane = true;  ///< AND + popcount layout (as much memory again as the packed weights)
    bool sparse = false;   ///< bitmap-compressed sparse layout (sparse_weights.hpp), for pruned weights
};

namespace detail {

struct scalar_arch {};

/// Calls fn(arch tag) for a resolved ISA (scalar_arch when no SIMD is compiled in).
template <class Fn>
void on_isa(Isa isa, Fn&& fn) {
    switch (isa) {
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX512BW)
        case Isa::avx512vnni:  // no spike kernel uses VNNI: a VNNI CPU runs the AVX-512BW ones
        case Isa::avx512bw: fn(xsimd::avx512bw{}); return;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX2)
        case Isa::avx2: fn(xsimd::avx2{}); return;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_SSE4_2)
        case Isa::sse4_2: fn(xsimd::sse4_2{}); return;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_NEON64)
        case Isa::neon64: fn(xsimd::neon64{}); return;
#endif
        default: fn(scalar_arch{}); return;
    }
}

#if QSLM_KERNELS_HAVE_SIMD
// The compiled archs, strongest first, for xsimd::dispatch.
using archs0 = xsimd::arch_list<>;
#  if defined(QSLM_KERNELS_WITH_AVX512BW)
using archs1 = archs0::add<xsimd::avx512bw>;
#  else
using archs1 = archs0;
#  endif
#  if defined(QSLM_KERNELS_WITH_AVX2)
using archs2 = archs1::add<xsimd::avx2>;
#  else
using archs2 = archs1;
#  endif
#  if defined(QSLM_KERNELS_WITH_SSE4_2)
using archs3 = archs2::add<xsimd::sse4_2>;
#  else
using archs3 = archs2;
#  endif
#  if defined(QSLM_KERNELS_WITH_NEON64)
using compiled_archs = archs3::add<xsimd::neon64>;
#  else
using compiled_archs = archs3;
#  endif

template <class A>
constexpr Isa isa_of() noexcept {
    if constexpr (std::is_same_v<A, xsimd::avx512bw>) return Isa::avx512bw;
    else if constexpr (std::is_same_v<A, xsimd::avx2>) return Isa::avx2;
    else if constexpr (std::is_same_v<A, xsimd::sse4_2>) return Isa::sse4_2;
    else return Isa::neon64;
}
#endif

/// Calls fn(arch tag) for the ISA asked for: automatic goes through xsimd::dispatch over the
/// compiled archs (when the CPU supports one of them), a forced one through on_isa.
template <class Fn>
void run_on(Isa isa, Fn&& fn) {
#if QSLM_KERNELS_HAVE_SIMD
    if (isa == Isa::automatic) {
        if (best_isa() == Isa::scalar) {
            fn(scalar_arch{});
            return;
        }
        xsimd::dispatch<compiled_archs>([&](auto arch) { fn(arch); })();
        return;
    }
#endif
    on_isa(isa == Isa::automatic ? Isa::scalar : isa, fn);
}

template <class A>
constexpr Isa isa_tag_to_isa() noexcept {
    if constexpr (std::is_same_v<A, scalar_arch>) return Isa::scalar;
#if QSLM_KERNELS_HAVE_SIMD
    else return isa_of<A>();
#else
    else return Isa::scalar;
#endif
}

/// Event list of spike words [w, w + nwords) (indices offset by 64 w) on the given arch.
template <class A>
std::size_t active_indices_on(A, const std::uint64_t* words, std::size_t nwords, std::uint32_t base, std::uint32_t* out) noexcept {
#if QSLM_KERNELS_HAVE_SIMD
    if constexpr (!std::is_same_v<A, scalar_arch>) return simd_kernels<A>::active_indices(words, nwords, base, out);
    else
#endif
    {
        std::size_t n = 0;
        for (std::size_t w = 0; w < nwords; ++w)
            for (std::uint64_t bits = words[w]; bits != 0; bits &= bits - 1)
                out[n++] = base + static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
        return n;
    }
}

/// Event lists of inputs [c0, c1), in chunks that fit a 16 KiB stack buffer:
/// fn(indices, count, first_chunk).
inline constexpr std::size_t event_chunk_words = 64;
template <class A, class Fn>
void for_each_event_chunk(A arch, const std::uint64_t* words, std::size_t c0, std::size_t c1, Fn&& fn) {
    alignas(64) std::uint32_t idx[event_chunk_words * 64];
    const std::size_t w_end = (c1 + 63) / 64;
    bool first = true;
    for (std::size_t w = c0 / 64; w < w_end; w += event_chunk_words) {
        const std::size_t nw = std::min(event_chunk_words, w_end - w);
        const std::size_t n = active_indices_on(arch, words + w, nw, static_cast<std::uint32_t>(w * 64), idx);
        const std::uint32_t* list = idx;
        const std::uint32_t* begin = std::lower_bound(list, list + n, static_cast<std::uint32_t>(c0));
        const std::uint32_t* end = std::lower_bound(begin, list + n, static_cast<std::uint32_t>(c1));
        fn(begin, static_cast<std::size_t>(end - begin), first);
        first = false;
    }
}

}  // namespace detail

/// Event list of a spike vector with the fastest compiled ISA (or a forced one): the indices of
/// the set bits, ascending. `out` must hold 64 * words.size() entries (the SIMD stores write
/// whole vectors); returns the count.
inline Result<std::size_t> active_indices(std::span<const std::uint64_t> words, std::span<std::uint32_t> out,
                                          Isa isa = Isa::automatic) noexcept {
    if (out.size() < words.size() * 64) return Failure{Status::buffer_too_small, "active_indices needs 64 output slots per spike word"};
    if (isa != Isa::automatic && !isa_usable(isa)) return Failure{Status::invalid_argument, "this ISA is not compiled in or not supported by the CPU"};
    std::size_t n = 0;
    detail::run_on(isa, [&](auto arch) { n = detail::active_indices_on(arch, words.data(), words.size(), 0, out.data()); });
    return n;
}

class SpikeMatvec {
public:
    SpikeMatvec() = default;

    /// Prepares the layouts the kernels read from packed weights (allocates; host side or setup).
    template <int Bits, class Encoding>
    static Result<SpikeMatvec> prepare(const PackedTensorView<Bits, Encoding>& w, PrepareOptions opt = {}) {
        SpikeMatvec m;
        auto panel = PanelWeights::prepare(w);
        if (!panel) return panel.failure();
        m.panel_ = std::move(*panel);
        if (opt.bitplane) {
            auto bp = BitplaneWeights::prepare(w);
            if (!bp) return bp.failure();
            m.bitplane_ = std::move(*bp);
        }
        if (opt.sparse) {
            auto sp = SparseWeights::prepare(w);
            if (!sp) return sp.failure();
            m.sparse_ = std::move(*sp);
        }
        m.layout_ = w.layout();
        m.bind();
        return m;
    }

    /// Uses layouts prepared elsewhere (caller buffers, flash): no allocation. At least the panel
    /// view is required; the others may be null.
    static Result<SpikeMatvec> from_views(const PanelWeightsView& panel, const BitplaneWeightsView* bitplane,
                                          const SparseWeightsView* sparse, ScaleLayout layout) noexcept {
        if (panel.data == nullptr || panel.rows == 0 || panel.cols == 0)
            return Failure{Status::invalid_argument, "the panel weights view is empty"};
        if ((bitplane && (bitplane->rows != panel.rows || bitplane->cols != panel.cols)) ||
            (sparse && (sparse->rows != panel.rows || sparse->cols != panel.cols)))
            return Failure{Status::bad_shape, "prepared layouts disagree on the weight shape"};
        if (layout.check() != Status::ok) return Failure{layout.check(), "invalid scale layout"};
        SpikeMatvec m;
        m.panel_view_ = panel;
        if (bitplane) m.bitplane_view_ = *bitplane;
        if (sparse) m.sparse_view_ = *sparse;
        m.layout_ = layout;
        m.cache_choice_facts();
        return m;
    }

    SpikeMatvec(const SpikeMatvec& o)
        : panel_(o.panel_), bitplane_(o.bitplane_), sparse_(o.sparse_), layout_(o.layout_), crossovers_(o.crossovers_) {
        if (o.owns()) bind();
        else {
            panel_view_ = o.panel_view_;
            bitplane_view_ = o.bitplane_view_;
            sparse_view_ = o.sparse_view_;
            cache_choice_facts();
        }
    }
    SpikeMatvec& operator=(const SpikeMatvec& o) {
        if (this != &o) *this = SpikeMatvec(o);
        return *this;
    }
    SpikeMatvec(SpikeMatvec&&) noexcept = default;  // heap blocks move, views stay valid
    SpikeMatvec& operator=(SpikeMatvec&&) noexcept = default;

    [[nodiscard]] std::size_t rows() const noexcept { return panel_view_.rows; }
    [[nodiscard]] std::size_t cols() const noexcept { return panel_view_.cols; }
    [[nodiscard]] int bits() const noexcept { return panel_view_.bits; }
    [[nodiscard]] ScaleLayout layout() const noexcept { return layout_; }
    /// Output groups: cols / group_size rounded up for per-group scales, else 1.
    [[nodiscard]] std::size_t groups() const noexcept { return layout_.groups_per_row(cols()); }
    /// Elements one step writes: groups() * rows().
    [[nodiscard]] std::size_t output_size() const noexcept { return groups() * rows(); }
    /// The narrowest output type that can hold every result (int16 or int32).
    [[nodiscard]] AccumulatorWidth accumulator_width() const noexcept { return panel_view_.width; }
    [[nodiscard]] bool has_bitplane() const noexcept { return bitplane_view_.data != nullptr; }
    [[nodiscard]] bool has_sparse() const noexcept { return sparse_view_.mask != nullptr; }
    [[nodiscard]] const PanelWeightsView& panel() const noexcept { return panel_view_; }
    [[nodiscard]] const BitplaneWeightsView& bitplane() const noexcept { return bitplane_view_; }
    [[nodiscard]] const SparseWeightsView& sparse() const noexcept { return sparse_view_; }

    /// What the dispatcher knows about this layer, for spikes at `density` over `steps` steps.
    [[nodiscard]] KernelChoiceInput choice_input(double density, std::size_t steps = 1, bool temporal_input = false) const noexcept {
        KernelChoiceInput in;
        in.density = density;
        in.bits = bits();
        in.steps = steps;
        in.temporal_input = temporal_input;
        in.have_bitplane = has_bitplane();
        in.bitplane_allowed = bitplane_allowed();
        in.have_sparse = has_sparse();
        in.weight_density = weight_density_;
        in.weight_bytes = weight_bytes_;
        return in;
    }

    /// The kernel the dispatcher would run for one step at this density (or T steps, temporal).
    [[nodiscard]] Kernel choose(double density, std::size_t steps = 1, bool temporal_input = false) const noexcept {
        return choose_kernel(choice_input(density, steps, temporal_input), *crossovers_);
    }

    /// Crossover points the automatic choice uses: measured_crossovers by default, or those a
    /// calibration measured on this machine (calibrate.hpp). The object must outlive this
    /// SpikeMatvec and its copies (it is referenced, not copied: layers share one).
    void use_crossovers(const Crossovers& x) noexcept { crossovers_ = &x; }
    void use_crossovers(const Crossovers&&) = delete;  // a temporary would dangle
    [[nodiscard]] const Crossovers& crossovers() const noexcept { return *crossovers_; }

    /// Whether T steps at this density run faster from a temporal train (one temporal-parallel
    /// call) than as T one-step calls: the layout a layer should hold its spikes in.
    [[nodiscard]] bool prefers_temporal(double density, std::size_t steps) const noexcept {
        return kernels::prefers_temporal(choice_input(density, steps, true), *crossovers_);
    }

    /// One step. `spikes`: the spike vector over the inputs, ceil(cols/64) words (bits past cols
    /// zero). `out`: output_size() elements, int16 or int32.
    template <class Acc>
    Result<RunInfo> accumulate(std::span<const std::uint64_t> spikes, std::span<Acc> out, RunOptions opt = {}) const noexcept {
        if (const Failure f = check_call<Acc>(spikes.size(), spike_words_per_step(cols()), out.size(), output_size()); f.status != Status::ok) return f;
        if (spikes[spikes.size() - 1] & ~spike_tail_mask(cols())) return Failure{Status::corrupt_data, "spike bits past the last input are set"};
        const std::size_t n = popcount_words(spikes);
        const Kernel k = opt.kernel != Kernel::automatic ? opt.kernel : choose(static_cast<double>(n) / static_cast<double>(cols()));
        if (const Failure f = check_kernel(k, false); f.status != Status::ok) return f;
        if (opt.isa != Isa::automatic && !isa_usable(opt.isa)) return Failure{Status::invalid_argument, "this ISA is not compiled in or not supported by the CPU"};
        RunInfo info{k, Isa::scalar, n};
        detail::run_on(opt.isa, [&](auto arch) {
            info.isa = detail::isa_tag_to_isa<decltype(arch)>();
            step_on(arch, k, spikes.data(), make_out(out.data()));
        });
        return info;
    }

    /// One step, one scale group at a time: for each group g (ascending) the group's sums are
    /// written to `group_out` (rows() elements, int16 or int32) and fn(g, spikes in group g) is
    /// called before the next group overwrites them. Same kernels, same integers as accumulate();
    /// for layers with many groups per row this keeps the sums in L1 while the caller applies the
    /// group's scales, instead of writing groups x rows sums (256 KiB at group 64 of 2048 x 2048)
    /// and reading them back.
    template <class Acc, class Fn>
    Result<RunInfo> accumulate_by_group(std::span<const std::uint64_t> spikes, std::span<Acc> group_out, Fn&& fn,
                                        RunOptions opt = {}) const noexcept {
        if (const Failure f = check_call<Acc>(spikes.size(), spike_words_per_step(cols()), group_out.size(), rows()); f.status != Status::ok) return f;
        if (spikes[spikes.size() - 1] & ~spike_tail_mask(cols())) return Failure{Status::corrupt_data, "spike bits past the last input are set"};
        const std::size_t n = popcount_words(spikes);
        const Kernel k = opt.kernel != Kernel::automatic ? opt.kernel : choose(static_cast<double>(n) / static_cast<double>(cols()));
        if (const Failure f = check_kernel(k, false); f.status != Status::ok) return f;
        if (opt.isa != Isa::automatic && !isa_usable(opt.isa)) return Failure{Status::invalid_argument, "this ISA is not compiled in or not supported by the CPU"};
        RunInfo info{k, Isa::scalar, n};
        detail::run_on(opt.isa, [&](auto arch) {
            info.isa = detail::isa_tag_to_isa<decltype(arch)>();
            const OutRef o = make_out(group_out.data());
            for (std::size_t g = 0; g < groups(); ++g) fn(g, group_on(arch, k, spikes.data(), g, o));
        });
        return info;
    }

    /// Whether accumulate_scaled() can run on this layer: every scale group spans at most
    /// scaled_max_group inputs (its event list fits the kernel's stack buffer).
    static constexpr std::size_t scaled_max_group = detail::event_chunk_words * 64;
    [[nodiscard]] bool scaled_supported() const noexcept { return group_size() <= scaled_max_group; }

    /// One step with the scales applied inside the event-driven kernel, float output:
    ///     y[r] = bias[r] (0 if bias is empty); then for every group g, ascending:
    ///     y[r] = y[r] + scales[g * rows + r] * float(sum_g(r) - zero_points[g * rows + r] * n_g)
    /// (one float multiply and one float add per (group, row), never fused; sum_g(r) is what
    /// accumulate() writes to out[g * rows + r], n_g the spikes in group g). This is the scalar
    /// walk of a scaled layer, bit for bit, without the groups x rows integer sums going through
    /// memory: at 2048 x 2048 with 32 or 64 groups per row, writing and re-reading them (and a
    /// separate scale pass) cost more than the accumulation itself. `scales` (and `zero_points`,
    /// empty for none) are group-major, output_size() entries. Runs the event-driven kernel
    /// (RunOptions::kernel: automatic or event) and needs scaled_supported().
    Result<RunInfo> accumulate_scaled(std::span<const std::uint64_t> spikes, std::span<const float> scales,
                                      std::span<const std::int16_t> zero_points, std::span<const float> bias, std::span<float> y,
                                      RunOptions opt = {}) const noexcept {
        if (panel_view_.data == nullptr) return Failure{Status::invalid_argument, "SpikeMatvec used before prepare()"};
        if (spikes.size() != spike_words_per_step(cols())) return Failure{Status::bad_shape, "spike vector length differs from ceil(cols / 64) words"};
        if (scales.size() != output_size() || (!zero_points.empty() && zero_points.size() != output_size()))
            return Failure{Status::bad_shape, "scales (and zero points) need one entry per (group, row)"};
        if (!bias.empty() && bias.size() != rows()) return Failure{Status::bad_shape, "bias length differs from the output size"};
        if (y.size() < rows()) return Failure{Status::buffer_too_small, "the output needs one float per row"};
        if (spikes[spikes.size() - 1] & ~spike_tail_mask(cols())) return Failure{Status::corrupt_data, "spike bits past the last input are set"};
        if (opt.kernel != Kernel::automatic && opt.kernel != Kernel::event)
            return Failure{Status::invalid_argument, "the scaled accumulate runs the event-driven kernel only"};
        if (!scaled_supported()) return Failure{Status::invalid_argument, "a scale group spans more inputs than the scaled kernel's event buffer"};
        if (opt.isa != Isa::automatic && !isa_usable(opt.isa)) return Failure{Status::invalid_argument, "this ISA is not compiled in or not supported by the CPU"};
        RunInfo info{Kernel::event, Isa::scalar, popcount_words(spikes)};
        detail::run_on(opt.isa, [&](auto arch) {
            info.isa = detail::isa_tag_to_isa<decltype(arch)>();
            scaled_on(arch, spikes.data(), scales.data(), zero_points.empty() ? nullptr : zero_points.data(),
                      bias.empty() ? nullptr : bias.data(), y.data());
        });
        return info;
    }

    /// T steps from a spatial train: T one-step calls. out[t * output_size() + i].
    template <class Acc>
    Result<RunInfo> accumulate_steps(SpikeTrainView<SpikeLayout::spatial> spikes, std::span<Acc> out, RunOptions opt = {}) const noexcept {
        if (spikes.neurons() != cols()) return Failure{Status::bad_shape, "the spike train has a different number of neurons than the layer has inputs"};
        if (out.size() != spikes.steps() * output_size()) return Failure{Status::bad_shape, "output size differs from steps x output_size()"};
        RunInfo total{};
        for (std::size_t t = 0; t < spikes.steps(); ++t) {
            auto r = accumulate(std::span<const std::uint64_t>(spikes.step_words(t)), out.subspan(t * output_size(), output_size()), opt);
            if (!r) return r.failure();
            total.kernel = r->kernel;
            total.isa = r->isa;
            total.spikes += r->spikes;
        }
        return total;
    }

    /// T <= 64 steps from a temporal train: the temporal-parallel kernel (one weight fetch for
    /// all steps) or T event-driven passes, as chosen. out[t * output_size() + i].
    template <class Acc>
    Result<RunInfo> accumulate_steps(SpikeTrainView<SpikeLayout::temporal> spikes, std::span<Acc> out, RunOptions opt = {}) const noexcept {
        if (spikes.neurons() != cols()) return Failure{Status::bad_shape, "the spike train has a different number of neurons than the layer has inputs"};
        if (const Failure f = check_call<Acc>(1, 1, out.size(), spikes.steps() * output_size()); f.status != Status::ok) return f;
        if (spikes.check() != Status::ok) return Failure{Status::corrupt_data, "spike bits past the last step are set"};
        const std::size_t steps = spikes.steps();
        const std::size_t n = spikes.count();
        const double density = static_cast<double>(n) / (static_cast<double>(cols()) * static_cast<double>(steps));
        const Kernel k = opt.kernel != Kernel::automatic ? opt.kernel : choose(density, steps, true);
        if (k != Kernel::temporal && k != Kernel::event)
            return Failure{Status::invalid_argument, "a temporal spike train runs on the temporal or the event-driven kernel"};
        if (opt.isa != Isa::automatic && !isa_usable(opt.isa)) return Failure{Status::invalid_argument, "this ISA is not compiled in or not supported by the CPU"};
        RunInfo info{k, Isa::scalar, n};
        detail::run_on(opt.isa, [&](auto arch) {
            info.isa = detail::isa_tag_to_isa<decltype(arch)>();
            if (k == Kernel::temporal) temporal_on(arch, spikes.words().data(), steps, make_out(out.data()));
            else event_steps_on(arch, spikes.words().data(), steps, make_out(out.data()));
        });
        return info;
    }

private:
    [[nodiscard]] bool owns() const noexcept { return panel_view_.data != nullptr && panel_view_.data == panel_.view().data; }
    void bind() noexcept {
        panel_view_ = panel_.view();
        bitplane_view_ = bitplane_.view();
        sparse_view_ = sparse_.view();
        cache_choice_facts();
    }
    // The per-layer facts of the kernel choice, computed once: the choice runs on every call,
    // and on small layers (256², ~50 ns a step) its divisions were a measurable share.
    void cache_choice_facts() noexcept {
        weight_density_ = has_sparse() ? static_cast<double>(sparse_view_.nonzeros) / (static_cast<double>(rows()) * static_cast<double>(cols())) : 1.0;
        weight_bytes_ = panel_view_.bytes();
    }
    [[nodiscard]] bool bitplane_allowed() const noexcept {
        return layout_.granularity != Granularity::per_group || layout_.group_size % 64 == 0;
    }
    [[nodiscard]] std::size_t group_size() const noexcept {
        return layout_.granularity == Granularity::per_group ? layout_.group_size : cols();
    }

    template <class Acc>
    [[nodiscard]] Failure check_call(std::size_t spike_words, std::size_t want_words, std::size_t out_size, std::size_t want_out) const noexcept {
        static_assert(std::is_same_v<Acc, std::int16_t> || std::is_same_v<Acc, std::int32_t>,
                      "SpikeMatvec writes int16 or int32 accumulators");
        if (panel_view_.data == nullptr) return Failure{Status::invalid_argument, "SpikeMatvec used before prepare()"};
        if (spike_words != want_words) return Failure{Status::bad_shape, "spike vector length differs from ceil(cols / 64) words"};
        if (out_size != want_out) return Failure{Status::bad_shape, "output size differs from what the layer writes (groups x rows per step)"};
        if (!accumulator_fits<Acc>(accumulator_width()))
            return Failure{Status::out_of_range, "int16 outputs cannot hold this layer's sums; use int32 (see accumulator_width())"};
        return Failure{Status::ok, ""};
    }
    [[nodiscard]] Failure check_kernel(Kernel k, bool) const noexcept {
        switch (k) {
            case Kernel::dense:
            case Kernel::event: return {Status::ok, ""};
            case Kernel::bitplane:
                if (!has_bitplane()) return {Status::invalid_argument, "bit-plane weights were not prepared (PrepareOptions::bitplane)"};
                if (!bitplane_allowed()) return {Status::invalid_argument, "the bit-plane kernel needs per-group scales with a group size that is a multiple of 64"};
                return {Status::ok, ""};
            case Kernel::dual_sparse:
                if (!has_sparse()) return {Status::invalid_argument, "sparse weights were not prepared (PrepareOptions::sparse)"};
                return {Status::ok, ""};
            case Kernel::temporal: return {Status::invalid_argument, "the temporal kernel takes a temporal spike train (accumulate_steps)"};
            default: return {Status::invalid_argument, "unknown kernel"};
        }
    }
    template <class Acc>
    static OutRef make_out(Acc* p) noexcept {
        if constexpr (std::is_same_v<Acc, std::int16_t>) return {p, nullptr, false};
        else return {nullptr, p, false};
    }

    // --- the kernels on one arch; the scalar tag runs the references ---
    template <class A>
    void dense_on(A, const std::uint64_t* s, std::size_t c0, std::size_t c1, OutRef o) const noexcept {
#if QSLM_KERNELS_HAVE_SIMD
        if constexpr (!std::is_same_v<A, detail::scalar_arch>) detail::simd_kernels<A>::dense(panel_view_, s, c0, c1, o);
        else
#endif
            scalar::dense(panel_view_, s, c0, c1, o);
    }
    template <class A>
    void event_on(A, const std::uint32_t* idx, std::size_t n, OutRef o) const noexcept {
#if QSLM_KERNELS_HAVE_SIMD
        if constexpr (!std::is_same_v<A, detail::scalar_arch>) detail::simd_kernels<A>::event(panel_view_, idx, n, o);
        else
#endif
            scalar::event(panel_view_, idx, n, o);
    }
    template <class A>
    void sparse_on(A, const std::uint32_t* idx, std::size_t n, OutRef o) const noexcept {
#if QSLM_KERNELS_HAVE_SIMD
        if constexpr (!std::is_same_v<A, detail::scalar_arch>) detail::simd_kernels<A>::dual_sparse(sparse_view_, idx, n, o);
        else
#endif
            scalar::dual_sparse(sparse_view_, idx, n, o);
    }
    template <class A>
    void bitplane_on(A, const std::uint64_t* s, std::size_t w0, std::size_t w1, std::size_t n, OutRef o) const noexcept {
#if QSLM_KERNELS_HAVE_SIMD
        if constexpr (!std::is_same_v<A, detail::scalar_arch>) detail::simd_kernels<A>::bitplane(bitplane_view_, s, w0, w1, n, o);
        else
#endif
            scalar::bitplane(bitplane_view_, s, w0, w1, n, o);
    }
    template <class A>
    void temporal_chunk_on(A, const std::uint64_t* tw, std::size_t steps, const std::uint32_t* idx, std::size_t n,
                           const std::uint32_t* counts, OutRef o, std::size_t stride) const noexcept {
#if QSLM_KERNELS_HAVE_SIMD
        if constexpr (!std::is_same_v<A, detail::scalar_arch>) detail::simd_kernels<A>::temporal(panel_view_, tw, steps, idx, n, counts, o, stride);
        else
#endif
            scalar::temporal(panel_view_, tw, steps, idx, n, counts, o, stride);
    }

    template <class A>
    void event_scaled_on(A, const std::uint32_t* idx, const std::uint32_t* bounds, std::size_t ngroups, const float* s,
                         const std::int16_t* z, const float* init, float* y) const noexcept {
#if QSLM_KERNELS_HAVE_SIMD
        if constexpr (!std::is_same_v<A, detail::scalar_arch>) detail::simd_kernels<A>::event_scaled(panel_view_, idx, bounds, ngroups, s, z, rows(), init, y);
        else
#endif
            scalar::event_scaled(panel_view_, idx, bounds, ngroups, s, z, rows(), init, y);
    }

    // accumulate_scaled on one arch: the groups in batches of whole groups whose inputs fit one
    // event buffer (at most max_batch groups), each batch one kernel call that starts from the
    // bias (first batch) or from y (later ones): per row, the groups' float operations in order.
    template <class A>
    void scaled_on(A arch, const std::uint64_t* s, const float* scales, const std::int16_t* zero_points, const float* bias,
                   float* y) const noexcept {
        constexpr std::size_t max_batch = 64;
        constexpr std::size_t cap = scaled_max_group;
        alignas(64) std::uint32_t idx[cap + 64];  // +64: a range not starting on a word boundary reads one more word
        std::uint32_t bounds[max_batch + 1];
        const std::size_t G = group_size(), ngroups = groups(), R = rows();
        const std::size_t per_batch = std::min(max_batch, cap / G);
        for (std::size_t g0 = 0; g0 < ngroups; g0 += per_batch) {
            const std::size_t g1 = std::min(ngroups, g0 + per_batch);
            const std::size_t c0 = g0 * G, c1 = std::min(cols(), g1 * G);
            const std::size_t w0 = c0 / 64, w1 = (c1 + 63) / 64;
            const std::size_t n = detail::active_indices_on(arch, s + w0, w1 - w0, static_cast<std::uint32_t>(w0 * 64), idx);
            const std::uint32_t* begin = std::lower_bound(idx, idx + n, static_cast<std::uint32_t>(c0));
            const auto off = static_cast<std::uint32_t>(begin - idx);
            std::size_t i = off;
            for (std::size_t g = g0; g < g1; ++g) {
                bounds[g - g0] = static_cast<std::uint32_t>(i);
                const auto end = static_cast<std::uint32_t>(std::min(cols(), (g + 1) * G));
                while (i < n && idx[i] < end) ++i;
            }
            bounds[g1 - g0] = static_cast<std::uint32_t>(i);
            event_scaled_on(arch, idx, bounds, g1 - g0, scales + g0 * R, zero_points ? zero_points + g0 * R : nullptr,
                            g0 == 0 ? bias : y, y);
        }
    }

    // Group g (inputs [g G, (g + 1) G)) of one step into `o` (rows() outputs); returns the
    // group's spike count.
    template <class A>
    std::size_t group_on(A arch, Kernel k, const std::uint64_t* s, std::size_t g, OutRef o) const noexcept {
        const std::size_t G = group_size();
        const std::size_t c0 = g * G, c1 = std::min(cols(), c0 + G);
        const std::size_t n = popcount_bit_range(std::span<const std::uint64_t>(s, spike_words_per_step(cols())), c0, c1);
        switch (k) {
            case Kernel::dense: dense_on(arch, s, c0, c1, o); break;
            case Kernel::bitplane: bitplane_on(arch, s, c0 / 64, (c1 + 63) / 64, n, o); break;
            case Kernel::dual_sparse:
                detail::for_each_event_chunk(arch, s, c0, c1, [&](const std::uint32_t* idx, std::size_t m, bool first) {
                    OutRef oo = o;
                    oo.add = !first;
                    sparse_on(arch, idx, m, oo);
                });
                break;
            default:
                detail::for_each_event_chunk(arch, s, c0, c1, [&](const std::uint32_t* idx, std::size_t m, bool first) {
                    OutRef oo = o;
                    oo.add = !first;
                    event_on(arch, idx, m, oo);
                });
                break;
        }
        return n;
    }

    template <class A>
    void step_on(A arch, Kernel k, const std::uint64_t* s, OutRef out) const noexcept {
        for (std::size_t g = 0; g < groups(); ++g) group_on(arch, k, s, g, out.offset(g * rows()));
    }

    // Temporal words of inputs [c0, c1) in chunks: the inputs that fire at any step, and the
    // spike count per step among them.
    template <class A>
    void temporal_on(A arch, const std::uint64_t* tw, std::size_t steps, OutRef out) const noexcept {
        constexpr std::size_t chunk = detail::event_chunk_words * 64;
        alignas(64) std::uint32_t idx[chunk];
        std::uint32_t counts[max_temporal_steps];
        const std::size_t G = group_size(), stride = output_size();
        for (std::size_t g = 0; g < groups(); ++g) {
            const std::size_t c0 = g * G, c1 = std::min(cols(), c0 + G);
            bool first = true;
            for (std::size_t c = c0; c < c1; c += chunk) {
                const std::size_t end = std::min(c1, c + chunk);
                std::size_t n = 0;
                for (std::size_t t = 0; t < steps; ++t) counts[t] = 0;
                for (std::size_t i = c; i < end; ++i) {
                    const std::uint64_t w = tw[i];
                    if (w == 0) continue;
                    idx[n++] = static_cast<std::uint32_t>(i);
                    for (std::uint64_t bits = w; bits != 0; bits &= bits - 1) ++counts[std::countr_zero(bits)];
                }
                OutRef o = out.offset(g * rows());
                o.add = !first;
                temporal_chunk_on(arch, tw, steps, idx, n, counts, o, stride);
                first = false;
            }
        }
    }

    // T event-driven passes over a temporal train (the event list of step t read off bit t).
    template <class A>
    void event_steps_on(A arch, const std::uint64_t* tw, std::size_t steps, OutRef out) const noexcept {
        constexpr std::size_t chunk = detail::event_chunk_words * 64;
        alignas(64) std::uint32_t idx[chunk];
        const std::size_t G = group_size();
        for (std::size_t t = 0; t < steps; ++t)
            for (std::size_t g = 0; g < groups(); ++g) {
                const std::size_t c0 = g * G, c1 = std::min(cols(), c0 + G);
                bool first = true;
                for (std::size_t c = c0; c < c1; c += chunk) {
                    const std::size_t end = std::min(c1, c + chunk);
                    std::size_t n = 0;
                    for (std::size_t i = c; i < end; ++i)
                        if ((tw[i] >> t) & 1u) idx[n++] = static_cast<std::uint32_t>(i);
                    OutRef o = out.offset(t * output_size() + g * rows());
                    o.add = !first;
                    event_on(arch, idx, n, o);
                    first = false;
                }
            }
    }

    PanelWeights panel_;
    BitplaneWeights bitplane_;
    SparseWeights sparse_;
    PanelWeightsView panel_view_{};
    BitplaneWeightsView bitplane_view_{};
    SparseWeightsView sparse_view_{};
    ScaleLayout layout_{};
    const Crossovers* crossovers_ = &measured_crossovers;
    double weight_density_ = 1.0;   // nonzero fraction of the sparse weights (1 without them)
    std::size_t weight_bytes_ = 0;  // bytes of the panel layout
};

}  // namespace qslm::kernels
