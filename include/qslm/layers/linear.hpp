#pragma once
// Linear layers, y = W x + b with W in PyTorch's [out, in] layout.
//
//   DenseLinear         float weights, float input: the reference / calibration path and the
//                       fast host path (weights dequantized once into a caller buffer).
//   SpikingLinear<B,E>  packed B-bit weights, spike input: integer accumulation of weight
//                       levels over the inputs that spiked (no multiplies), then one scale per
//                       group; output in float or in a Fixed<> format (membrane input). The
//                       accumulation runs either as a scalar walk over one byte per input
//                       (forward) or on the spike kernels, SIMD where compiled in, over packed
//                       spike words (use_kernels + forward_words): the same integers, so the
//                       same outputs bit for bit.
//   linear_dequantized  packed weights, float input (for the few layers whose input is not
//                       spikes), dequantizing on the fly: slow, exact, allocation-free.
//
// Every layer reports parameter_bytes(), state_bytes() (0: linear layers are stateless) and
// adds what one call did to an optional OpCounts.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "qslm/core/fixed_multiplier.hpp"
#include "qslm/core/op_counts.hpp"
#include "qslm/core/result.hpp"
#include "qslm/layers/detail/dense_matmul.hpp"
#include "qslm/kernels/spike_matvec.hpp"
#include "qslm/layers/detail/spike_accumulate.hpp"
#include "qslm/spike/spike_convert.hpp"
#include "qslm/spike/spike_train.hpp"
#include "qslm/neuron/numeric.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::layers {

class DenseLinear {
public:
    /// weights: rows*cols floats, row-major; bias: empty or rows floats.
    static Result<DenseLinear> make(std::span<const float> weights, std::size_t rows, std::size_t cols,
                                              std::span<const float> bias = {}) noexcept {
        if (rows == 0 || cols == 0 || rows > max_tensor_elements / cols)
            return Failure{Status::bad_shape, "linear layer shape is empty or too large"};
        if (weights.size() != rows * cols) return Failure{Status::bad_shape, "linear weights are not rows x cols floats"};
        if (!bias.empty() && bias.size() != rows) return Failure{Status::bad_shape, "linear bias length differs from the output size"};
        DenseLinear l;
        l.w_ = weights;
        l.b_ = bias;
        l.rows_ = rows;
        l.cols_ = cols;
        return l;
    }

    [[nodiscard]] constexpr std::size_t in_features() const noexcept { return cols_; }
    [[nodiscard]] constexpr std::size_t out_features() const noexcept { return rows_; }
    [[nodiscard]] constexpr std::size_t parameter_bytes() const noexcept { return (w_.size() + b_.size()) * sizeof(float); }
    [[nodiscard]] static constexpr std::size_t state_bytes() noexcept { return 0; }

    /// y[b] = W x[b] + bias for `batch` streams (x: batch*cols, y: batch*rows).
    Status forward(std::span<const float> x, std::span<float> y, std::size_t batch = 1, OpCounts* counts = nullptr) const noexcept {
        if (batch == 0 || x.size() != batch * cols_) return Status::bad_shape;
        if (y.size() < batch * rows_) return Status::buffer_too_small;
        detail::matmul(w_.data(), rows_, cols_, x.data(), batch, y.data());
        if (!b_.empty())
            for (std::size_t b = 0; b < batch; ++b)
                for (std::size_t r = 0; r < rows_; ++r) y[b * rows_ + r] += b_[r];
        if (counts != nullptr) {
            counts->multiply_accumulates += batch * rows_ * cols_;
            counts->additions += b_.empty() ? 0 : batch * rows_;
            counts->weight_bits_read += static_cast<std::uint64_t>(w_.size()) * 32u;
        }
        return Status::ok;
    }

private:
    std::span<const float> w_{};
    std::span<const float> b_{};
    std::size_t rows_ = 0, cols_ = 0;
};

template <int Bits, class Encoding = default_encoding_t<Bits>>
class SpikingLinear {
public:
    using weight_view = PackedTensorView<Bits, Encoding>;
    /// Extra fractional bits carried between the per-group products and the final rounding,
    /// so a fixed-point output is rounded once (within half an LSB of the exact sum).
    static constexpr int guard_bits = 16;

    /// weights: a checked view; bias: empty or rows floats; multipliers: for fixed-point output
    /// with float32 scales, one FixedMultiplier per scale equal to the scale itself (from
    /// prepare_multipliers); not needed for float output or power-of-two scales.
    static Result<SpikingLinear> make(weight_view weights, std::span<const float> bias = {},
                                                std::span<const FixedMultiplier> multipliers = {}) noexcept {
        if (const Status s = weights.check(); s != Status::ok) return Failure{s, "spiking linear: the weight view is inconsistent"};
        if (!bias.empty() && bias.size() != weights.rows())
            return Failure{Status::bad_shape, "spiking linear: bias length differs from the output size"};
        if (!multipliers.empty() && multipliers.size() != weights.scale_count())
            return Failure{Status::bad_shape, "spiking linear: one multiplier per scale is needed"};
        SpikingLinear l;
        l.w_ = weights;
        l.b_ = bias;
        l.m_ = multipliers;
        return l;
    }

    /// Host-side: the integer form of every float32 scale (out: scale_count() entries).
    static Status prepare_multipliers(const weight_view& w, std::span<FixedMultiplier> out) noexcept {
        if (out.size() < w.scale_count()) return Status::buffer_too_small;
        for (std::size_t i = 0; i < w.scale_count(); ++i) {
            auto m = FixedMultiplier::from_real(static_cast<double>(w.scale(i) < 0 ? -w.scale(i) : w.scale(i)));
            if (!m) return m.status();
            out[i] = *m;
        }
        return Status::ok;
    }

    [[nodiscard]] constexpr std::size_t in_features() const noexcept { return w_.cols(); }
    [[nodiscard]] constexpr std::size_t out_features() const noexcept { return w_.rows(); }
    [[nodiscard]] constexpr std::size_t parameter_bytes() const noexcept { return w_.bytes() + b_.size() * sizeof(float); }
    [[nodiscard]] static constexpr std::size_t state_bytes() noexcept { return 0; }

    /// y = W s + bias for one time step of spikes s (one byte per input, 0 or 1).
    template <Numeric V>
    constexpr Status forward(std::span<const std::uint8_t> spikes, std::span<V> y, OpCounts* counts = nullptr) const noexcept {
        const std::size_t rows = w_.rows(), cols = w_.cols();
        if (spikes.size() != cols) return Status::bad_shape;
        if (y.size() < rows) return Status::buffer_too_small;
        if constexpr (FixedPoint<V>) {
            if (w_.scale_format() == ScaleFormat::float32 && m_.empty()) return Status::invalid_argument;
        }
        std::uint64_t active_inputs = 0;
        for (const std::uint8_t s : spikes) active_inputs += s != 0 ? 1u : 0u;
        for (std::size_t r = 0; r < rows; ++r)
            y[r] = output<V>(r, [&](auto&& flush) { detail::accumulate_spiking_row(w_, r, spikes, flush); });
        count(counts, active_inputs);
        return Status::ok;
    }

    /// Lets forward_words() accumulate on the spike kernels. `mv` must be prepared from these
    /// weights (same shape, width and scale layout: kernels::SpikeMatvec::prepare(view) or
    /// from_views over prepared buffers) and outlive this layer.
    ///
    /// Per-group layouts (more than one group per row) should also pass the scales (and zero
    /// points, if the weights have them) regrouped group-major by prepare_group_major(): the
    /// kernels write one sum per (group, row) group-major, and the view stores the scales
    /// row-major, so applying them from the view reads scales at a stride of groups_per_row
    /// floats (a cache line each at group 64 of 2048 columns), which cost ~100x the matvec.
    /// From the group-major copy the scale pass is contiguous and vectorised. Without it the
    /// layer still gives the same outputs, slower. The spans must outlive this layer.
    Status use_kernels(const kernels::SpikeMatvec& mv, std::span<const float> group_major_scales = {},
                       std::span<const std::int16_t> group_major_zero_points = {}) noexcept {
        if (mv.rows() != w_.rows() || mv.cols() != w_.cols() || mv.bits() != Bits || !(mv.layout() == w_.layout()))
            return Status::bad_shape;
        if (!group_major_scales.empty() && group_major_scales.size() != group_major_size()) return Status::bad_shape;
        if (!group_major_zero_points.empty() && (group_major_zero_points.size() != group_major_size() || !w_.has_zero_points()))
            return Status::bad_shape;
        if (!group_major_scales.empty() && w_.has_zero_points() && group_major_zero_points.empty()) return Status::invalid_argument;
        mv_ = &mv;
        gm_scales_ = group_major_scales;
        gm_zero_points_ = group_major_zero_points;
        return Status::ok;
    }

    /// Entries of the group-major scale (and zero-point) copy: groups x rows for per-group
    /// layouts with more than one group per row, else 0 (per-tensor / per-channel scales are
    /// already contiguous per row).
    [[nodiscard]] constexpr std::size_t group_major_size() const noexcept { return group_major_size(w_); }
    [[nodiscard]] static constexpr std::size_t group_major_size(const weight_view& w) noexcept {
        const std::size_t groups = w.layout().groups_per_row(w.cols());
        return w.layout().granularity == Granularity::per_group && groups > 1 ? groups * w.rows() : 0;
    }
    /// Setup side: scales[g * rows + r] = scale of (row r, group g) as a float (power-of-two
    /// scales as their value), and the same for zero points when the weights have them (pass an
    /// empty span otherwise).
    static constexpr Status prepare_group_major(const weight_view& w, std::span<float> scales,
                                                std::span<std::int16_t> zero_points = {}) noexcept {
        const std::size_t n = group_major_size(w);
        if (n == 0) return Status::invalid_argument;  // nothing to regroup: pass no copy to use_kernels
        if (scales.size() < n || (w.has_zero_points() && zero_points.size() < n)) return Status::buffer_too_small;
        const std::size_t rows = w.rows(), groups = n / rows;
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t g = 0; g < groups; ++g) {
                const std::size_t si = r * groups + g;  // ScaleLayout::scale_index of per_group
                scales[g * rows + r] = w.scale(si);
                if (w.has_zero_points()) zero_points[g * rows + r] = static_cast<std::int16_t>(w.zero_point(si));
            }
        return Status::ok;
    }

    /// int32 scratch forward_words() needs: one sum per (scale group, row) and a spike count per group.
    [[nodiscard]] constexpr std::size_t kernel_scratch_size() const noexcept {
        const std::size_t groups = w_.layout().groups_per_row(w_.cols());
        return groups * w_.rows() + groups;
    }

    /// y = W s + bias for one time step of packed spikes (spike_words_per_step(cols) words, bit c
    /// of word c/64 = input c), accumulated by the spike kernels: the same result as forward().
    ///
    /// float outputs with per-channel float32 scales (or per-group ones with the group-major copy)
    /// run SpikeMatvec::accumulate_scaled when the dispatcher picks the event-driven kernel: the
    /// scales applied inside the kernel, the same float operations per row as the walk.
    /// Otherwise the float output is applied group by group over all rows (y[r] = bias, then y[r] +=
    /// scale * centred sum for g = 0, 1, ...): per row the same float operations in the same
    /// order as the scalar walk, hence bit-identical, but as contiguous passes the compiler
    /// vectorises. Fixed-point outputs keep the per-row form (64-bit multiplier arithmetic).
    template <Numeric V>
    Status forward_words(std::span<const std::uint64_t> spike_words, std::span<V> y, std::span<std::int32_t> scratch,
                         OpCounts* counts = nullptr) const noexcept {
        if (mv_ == nullptr) return Status::invalid_argument;
        const std::size_t rows = w_.rows(), cols = w_.cols();
        if (spike_words.size() != spike_words_per_step(cols)) return Status::bad_shape;
        if (y.size() < rows || scratch.size() < kernel_scratch_size()) return Status::buffer_too_small;
        if constexpr (FixedPoint<V>) {
            if (w_.scale_format() == ScaleFormat::float32 && m_.empty()) return Status::invalid_argument;
        }
        if constexpr (std::is_same_v<V, float>) {
            // The scales applied inside the event-driven kernel (SpikeMatvec::accumulate_scaled):
            // the same float operations per row as below, without the integer sums going
            // through memory, where the dispatcher picks the event-driven kernel anyway.
            if (const auto gs = group_major_scales(); !gs.scales.empty() && mv_->scaled_supported()) {
                const double density = static_cast<double>(popcount_words(spike_words)) / static_cast<double>(cols);
                if (mv_->choose(density) == kernels::Kernel::event) {
                    auto info = mv_->accumulate_scaled(spike_words, gs.scales, gs.zero_points, b_, y);
                    if (!info) return info.status();
                    count(counts, info->spikes);
                    return Status::ok;
                }
            }
        }
        if constexpr (FloatingNumber<V>) {
            // Group by group: the kernel leaves group g's sums in scratch[0, rows) (L1) and the
            // scale pass adds them to y before the next group is accumulated.
            for (std::size_t r = 0; r < rows; ++r) y[r] = b_.empty() ? V{0} : static_cast<V>(b_[r]);
            auto info = mv_->accumulate_by_group(spike_words, scratch.first(rows), [&](std::size_t g, std::size_t active) {
                add_group_float(g, scratch.data(), static_cast<std::int64_t>(active), y.data());
            });
            if (!info) return info.status();
            count(counts, info->spikes);
        } else {
            const std::size_t groups = w_.layout().groups_per_row(cols);
            const std::size_t G = w_.layout().granularity == Granularity::per_group ? w_.layout().group_size : cols;
            auto info = mv_->accumulate(spike_words, scratch.first(groups * rows));
            if (!info) return info.status();
            std::int32_t* active = scratch.data() + groups * rows;
            for (std::size_t g = 0; g < groups; ++g)
                active[g] = static_cast<std::int32_t>(popcount_bit_range(spike_words, g * G, (g + 1) * G < cols ? (g + 1) * G : cols));
            for (std::size_t r = 0; r < rows; ++r)
                y[r] = output<V>(r, [&](auto&& flush) {
                    for (std::size_t g = 0; g < groups; ++g) flush(w_.scale_index(r, g * G), scratch[g * rows + r], active[g]);
                });
            count(counts, info->spikes);
        }
        return Status::ok;
    }

    /// y = W s + bias for one time step of byte spikes (one byte per input, non-zero = spike, what
    /// neuron::step_layer writes) on the spike kernels: packs them into `spike_words`
    /// (spike_words_per_step(cols) words, spike::pack_spike_bytes) and runs forward_words. Same
    /// outputs as forward(spikes, y), bit for bit.
    template <Numeric V>
    Status forward(std::span<const std::uint8_t> spikes, std::span<V> y, std::span<std::uint64_t> spike_words,
                   std::span<std::int32_t> scratch, OpCounts* counts = nullptr) const noexcept {
        if (spikes.size() != w_.cols()) return Status::bad_shape;
        if (spike_words.size() < spike_words_per_step(w_.cols())) return Status::buffer_too_small;
        const auto words = spike_words.first(spike_words_per_step(w_.cols()));
        if (const Status s = spike::pack_spike_bytes(spikes, words); s != Status::ok) return s;
        return forward_words<V>(words, y, scratch, counts);
    }

    /// int32 scratch forward_steps() needs for T steps: kernel_scratch_size() per step.
    [[nodiscard]] constexpr std::size_t steps_scratch_size(std::size_t steps) const noexcept { return steps * kernel_scratch_size(); }

    /// T steps at once (a temporal batch: T time steps, or several tokens of one step) from a
    /// temporal spike train over the inputs (T <= 64; bit t of word c = input c at step t):
    /// y[t * rows + r] = W s_t + bias. When the kernels' dispatcher prefers it
    /// (SpikeMatvec::prefers_temporal at this density and T: the weights are fetched once for all
    /// steps), the whole train goes to accumulate_steps (the temporal-parallel kernel) and the
    /// scales are applied per step; otherwise T forward_words calls, each step's spike words
    /// extracted into `step_words` (spike_words_per_step(cols) words). Either way every step's
    /// outputs equal forward_words on that step, bit for bit (the same integer sums).
    /// `scratch`: steps_scratch_size(T) int32.
    template <Numeric V>
    Status forward_steps(SpikeTrainView<SpikeLayout::temporal> spikes, std::span<V> y, std::span<std::int32_t> scratch,
                         std::span<std::uint64_t> step_words, OpCounts* counts = nullptr) const noexcept {
        if (mv_ == nullptr) return Status::invalid_argument;
        const std::size_t rows = w_.rows(), cols = w_.cols(), T = spikes.steps();
        if (spikes.neurons() != cols || T == 0) return Status::bad_shape;
        if (spikes.check() != Status::ok) return Status::corrupt_data;
        if (y.size() < T * rows || scratch.size() < steps_scratch_size(T) || step_words.size() < spike_words_per_step(cols))
            return Status::buffer_too_small;
        if constexpr (FixedPoint<V>) {
            if (w_.scale_format() == ScaleFormat::float32 && m_.empty()) return Status::invalid_argument;
        }
        const std::uint64_t* tw = spikes.words().data();
        const double density = static_cast<double>(spikes.count()) / (static_cast<double>(cols) * static_cast<double>(T));
        if (!mv_->prefers_temporal(density, T)) {
            const auto words = step_words.first(spike_words_per_step(cols));
            for (std::size_t t = 0; t < T; ++t) {
                for (auto& wd : words) wd = 0;
                for (std::size_t c = 0; c < cols; ++c) words[c / 64] |= ((tw[c] >> t) & 1u) << (c % 64);
                if (const Status st = forward_words<V>(words, y.subspan(t * rows, rows), scratch.first(kernel_scratch_size()), counts);
                    st != Status::ok)
                    return st;
            }
            return Status::ok;
        }
        const std::size_t groups = w_.layout().groups_per_row(cols);
        const std::size_t G = w_.layout().granularity == Granularity::per_group ? w_.layout().group_size : cols;
        const std::size_t per_step = groups * rows;
        auto info = mv_->accumulate_steps(spikes, scratch.first(T * per_step));
        if (!info) return info.status();
        // Spikes per (step, group), after the sums: scratch[T * per_step + t * groups + g].
        std::int32_t* active = scratch.data() + T * per_step;
        for (std::size_t i = 0; i < T * groups; ++i) active[i] = 0;
        for (std::size_t c = 0; c < cols; ++c)
            for (std::uint64_t bits = tw[c]; bits != 0; bits &= bits - 1)
                ++active[static_cast<std::size_t>(std::countr_zero(bits)) * groups + c / G];
        for (std::size_t t = 0; t < T; ++t) {
            const std::int32_t* acc = scratch.data() + t * per_step;
            const std::int32_t* act = active + t * groups;
            V* yt = y.data() + t * rows;
            if constexpr (FloatingNumber<V>) {
                for (std::size_t r = 0; r < rows; ++r) yt[r] = b_.empty() ? V{0} : static_cast<V>(b_[r]);
                for (std::size_t g = 0; g < groups; ++g) add_group_float(g, acc + g * rows, static_cast<std::int64_t>(act[g]), yt);
            } else {
                for (std::size_t r = 0; r < rows; ++r)
                    yt[r] = output<V>(r, [&](auto&& flush) {
                        for (std::size_t g = 0; g < groups; ++g) flush(w_.scale_index(r, g * G), acc[g * rows + r], act[g]);
                    });
            }
        }
        count(counts, info->spikes);
        return Status::ok;
    }

private:
    // Output r from its per-group (level sum, active inputs): `groups(flush)` calls
    // flush(scale index, sum, active) once per scale group of row r.
    template <Numeric V, class Groups>
    constexpr V output(std::size_t r, Groups&& groups) const noexcept {
        if constexpr (FloatingNumber<V>) {
            V acc = b_.empty() ? V{0} : static_cast<V>(b_[r]);
            groups([&](std::size_t si, std::int64_t sum, std::int64_t active) {
                const std::int64_t centred = sum - static_cast<std::int64_t>(w_.zero_point(si)) * active;
                acc += static_cast<V>(w_.scale(si)) * static_cast<V>(centred);
            });
            return acc;
        } else {
            using R = typename V::rounding_policy;
            constexpr int ext = V::frac_bits + guard_bits;  // fractional bits of the wide sum
            std::int64_t acc = b_.empty() ? 0 : R::from_double(static_cast<double>(b_[r]) * static_cast<double>(std::int64_t{1} << ext));
            groups([&](std::size_t si, std::int64_t sum, std::int64_t active) {
                const std::int64_t centred = sum - static_cast<std::int64_t>(w_.zero_point(si)) * active;
                acc += scaled(si, centred, ext);
            });
            return V::from_raw(R::shift_right(acc, guard_bits));
        }
    }
    // The scales (and zero points) as float32 group-major arrays (scale of (row r, group g) at
    // g * rows + r), where the layer has them: per-channel float32 scales and single-group
    // layouts are already in that order, per-group ones with the copy from prepare_group_major.
    // Empty scales where there is no such array (per-tensor, power-of-two per-channel, per-group
    // without the copy).
    struct GroupMajor {
        std::span<const float> scales;
        std::span<const std::int16_t> zero_points;
    };
    [[nodiscard]] GroupMajor group_major_scales() const noexcept {
        const Granularity gran = w_.layout().granularity;
        if (gran == Granularity::per_group && !gm_scales_.empty()) return {gm_scales_, gm_zero_points_};
        const bool one_group = gran == Granularity::per_channel || (gran == Granularity::per_group && w_.layout().groups_per_row(w_.cols()) == 1);
        if (one_group && w_.scale_format() == ScaleFormat::float32) return {w_.scales(), w_.zero_points()};
        return {};
    }
    // Adds group g's share to the float outputs: y[r] += scale * (sum - zero_point * active),
    // the scalar walk's operation (output<V>) for this group, over all rows at once; y starts
    // at the bias (or 0) and the groups come in ascending order, so every row sees the same
    // float operations in the same order as the walk. Scales come from the group-major copy,
    // the view's per-row scales (per-channel), one constant (per-tensor), or, without a copy,
    // the view at a stride.
    template <FloatingNumber V>
    void add_group_float(std::size_t g, const std::int32_t* a, std::int64_t n, V* y) const noexcept {
        const std::size_t rows = w_.rows(), groups = w_.layout().groups_per_row(w_.cols());
        const bool zp = w_.has_zero_points();
        const Granularity gran = w_.layout().granularity;
        if (gran == Granularity::per_tensor) {
            const V s = static_cast<V>(w_.scale(0));
            const std::int64_t z = static_cast<std::int64_t>(w_.zero_point(0)) * n;
            for (std::size_t r = 0; r < rows; ++r) y[r] += s * static_cast<V>(static_cast<std::int64_t>(a[r]) - z);
        } else if (gran == Granularity::per_channel || !gm_scales_.empty()) {
            // per-channel: scale index r; per-group with the copy: index g * rows + r.
            const float* s = gran == Granularity::per_channel ? w_.scales().data() : gm_scales_.data() + g * rows;
            if (gran == Granularity::per_channel && w_.scale_format() == ScaleFormat::power_of_two) {
                for (std::size_t r = 0; r < rows; ++r)
                    y[r] += static_cast<V>(w_.scale(r)) * static_cast<V>(static_cast<std::int64_t>(a[r]) - static_cast<std::int64_t>(w_.zero_point(r)) * n);
            } else if (!zp) {
                for (std::size_t r = 0; r < rows; ++r) y[r] += static_cast<V>(s[r]) * static_cast<V>(a[r]);
            } else {
                const std::int16_t* z = gran == Granularity::per_channel ? w_.zero_points().data() : gm_zero_points_.data() + g * rows;
                for (std::size_t r = 0; r < rows; ++r)
                    y[r] += static_cast<V>(s[r]) * static_cast<V>(static_cast<std::int64_t>(a[r]) - static_cast<std::int64_t>(z[r]) * n);
            }
        } else {
            for (std::size_t r = 0; r < rows; ++r) {
                const std::size_t si = r * groups + g;
                y[r] += static_cast<V>(w_.scale(si)) * static_cast<V>(static_cast<std::int64_t>(a[r]) - static_cast<std::int64_t>(w_.zero_point(si)) * n);
            }
        }
    }
    constexpr void count(OpCounts* counts, std::uint64_t active_inputs) const noexcept {
        if (counts == nullptr) return;
        const std::size_t rows = w_.rows(), cols = w_.cols();
        counts->synaptic_accumulates += active_inputs * rows;
        counts->multiplies += rows * w_.layout().groups_per_row(cols);
        counts->additions += b_.empty() ? 0 : rows;
        counts->weight_bits_read += static_cast<std::uint64_t>(w_.size()) * Bits;
    }

    // centred * scale(si) expressed with `ext` fractional bits.
    constexpr std::int64_t scaled(std::size_t si, std::int64_t centred, int ext) const noexcept {
        using R = rounding::NearestEven;
        if (w_.scale_format() == ScaleFormat::power_of_two) {
            const int e = w_.scale_exponents()[si];
            return R::shift_right(centred, -(e + ext));
        }
        const FixedMultiplier m = m_[si];
        const std::int64_t v = R::shift_right(centred * m.multiplier, m.shift - ext);
        return w_.scale(si) < 0 ? -v : v;
    }

    weight_view w_{};
    std::span<const float> b_{};
    std::span<const FixedMultiplier> m_{};
    const kernels::SpikeMatvec* mv_ = nullptr;
    std::span<const float> gm_scales_{};          // group-major scales (per-group layouts), optional
    std::span<const std::int16_t> gm_zero_points_{};
};

/// y = W x + bias with packed weights and float input, dequantizing each weight as it is used.
template <int Bits, class Encoding>
constexpr Status linear_dequantized(const PackedTensorView<Bits, Encoding>& w, std::span<const float> bias,
                                    std::span<const float> x, std::span<float> y, OpCounts* counts = nullptr) noexcept {
    if (x.size() != w.cols() || (!bias.empty() && bias.size() != w.rows())) return Status::bad_shape;
    if (y.size() < w.rows()) return Status::buffer_too_small;
    for (std::size_t r = 0; r < w.rows(); ++r) {
        float acc = bias.empty() ? 0.0f : bias[r];
        for (std::size_t c = 0; c < w.cols(); ++c) acc += w.dequantized(r, c) * x[c];
        y[r] = acc;
    }
    if (counts != nullptr) {
        counts->multiply_accumulates += w.size();
        counts->weight_bits_read += static_cast<std::uint64_t>(w.size()) * Bits;
    }
    return Status::ok;
}

}  // namespace qslm::layers
