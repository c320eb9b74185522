#pragma once
// Bit-packed spike trains: N neurons x T time steps of 0/1, packed in 64-bit words.
//
//   spatial   one word holds 64 neurons of one step; step t occupies words
//             [t * words_per_step, (t + 1) * words_per_step). This is what the one-step kernels
//             read: a spike vector is a run of words, the event list is built from it.
//   temporal  one word holds all T <= 64 steps of one neuron (bit t = step t). This is the layout
//             of LoAS's fully temporal-parallel dataflow: one look at word n says whether input n
//             fires in any of the T steps, so one weight fetch can serve them all.
//
// Invariant (checked by check(), kept by every mutator): bits that stand for no neuron (spatial,
// past N in a step's last word) or no step (temporal, past T) are zero. Kernels rely on it, so a
// popcount of the words is the spike count.
//
// SpikeTrainView wraps caller-owned words (no allocation, usable on firmware); SpikeTrain owns
// its words in a std::vector for host code and tests.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "qslm/core/result.hpp"

namespace qslm {

enum class SpikeLayout : std::uint8_t { spatial = 0, temporal = 1 };

constexpr const char* to_string(SpikeLayout l) noexcept {
    return l == SpikeLayout::spatial ? "spatial" : "temporal";
}

inline constexpr std::size_t spike_word_bits = 64;
/// The temporal layout keeps all steps of a neuron in one word.
inline constexpr std::size_t max_temporal_steps = 64;

/// Words needed to hold `neurons` bits of one step.
constexpr std::size_t spike_words_per_step(std::size_t neurons) noexcept {
    return (neurons + spike_word_bits - 1) / spike_word_bits;
}

/// Words a spike train of this shape needs in this layout.
constexpr std::size_t spike_train_words(SpikeLayout layout, std::size_t neurons, std::size_t steps) noexcept {
    return layout == SpikeLayout::spatial ? steps * spike_words_per_step(neurons) : neurons;
}

/// Mask of the valid bits in the last word of a step (all ones when neurons % 64 == 0).
constexpr std::uint64_t spike_tail_mask(std::size_t neurons) noexcept {
    const std::size_t rem = neurons % spike_word_bits;
    return rem == 0 ? ~std::uint64_t{0} : (std::uint64_t{1} << rem) - 1;
}

/// Mask of the valid step bits of a temporal word.
constexpr std::uint64_t temporal_step_mask(std::size_t steps) noexcept {
    return steps >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << steps) - 1;
}

/// Number of ones in a run of words.
constexpr std::size_t popcount_words(std::span<const std::uint64_t> words) noexcept {
    std::size_t n = 0;
    for (const std::uint64_t w : words) n += static_cast<std::size_t>(std::popcount(w));
    return n;
}

/// Number of ones among bits [first, last) of a bit vector stored in words.
constexpr std::size_t popcount_bit_range(std::span<const std::uint64_t> words, std::size_t first,
                                         std::size_t last) noexcept {
    std::size_t n = 0;
    while (first < last) {
        const std::size_t w = first / 64, b = first % 64;
        const std::size_t take = (last - first < 64 - b) ? last - first : 64 - b;
        const std::uint64_t mask = (take == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << take) - 1)) << b;
        n += static_cast<std::size_t>(std::popcount(words[w] & mask));
        first += take;
    }
    return n;
}

/// A spike train over caller-owned words. `Word` is `const std::uint64_t` for a read-only view
/// (the default) or `std::uint64_t` for one that can set spikes.
template <SpikeLayout Layout, class Word = const std::uint64_t>
class SpikeTrainView {
    static_assert(std::is_same_v<std::remove_const_t<Word>, std::uint64_t>,
                  "SpikeTrainView: spikes are packed in std::uint64_t words.");
    static constexpr bool is_mutable = !std::is_const_v<Word>;

public:
    static constexpr SpikeLayout layout = Layout;

    constexpr SpikeTrainView() noexcept = default;

    /// Checks that `words` has exactly the size the shape needs (and T <= 64 for temporal).
    /// Unused padding bits are not scanned here (O(1)); call check() to verify them.
    static constexpr Result<SpikeTrainView> make(std::span<Word> words, std::size_t neurons,
                                                 std::size_t steps) noexcept {
        if (neurons == 0 || steps == 0) return Failure{Status::bad_shape, "a spike train needs at least one neuron and one step"};
        if (Layout == SpikeLayout::temporal && steps > max_temporal_steps)
            return Failure{Status::bad_shape, "the temporal spike layout holds at most 64 steps per word"};
        if (words.size() != spike_train_words(Layout, neurons, steps))
            return Failure{Status::buffer_too_small, "spike word buffer size differs from what the shape needs"};
        return SpikeTrainView(words, neurons, steps);
    }

    /// A view that can only read (implicit, like span<T> to span<const T>).
    constexpr operator SpikeTrainView<Layout, const std::uint64_t>() const noexcept  // NOLINT
        requires is_mutable
    {
        return SpikeTrainView<Layout, const std::uint64_t>::make(std::span<const std::uint64_t>(words_), neurons_, steps_)
            .value();
    }

    [[nodiscard]] constexpr std::size_t neurons() const noexcept { return neurons_; }
    [[nodiscard]] constexpr std::size_t steps() const noexcept { return steps_; }
    [[nodiscard]] constexpr std::size_t words_per_step() const noexcept { return spike_words_per_step(neurons_); }
    [[nodiscard]] constexpr std::span<Word> words() const noexcept { return words_; }

    /// Status::ok when every padding bit is zero (the invariant the kernels rely on).
    [[nodiscard]] constexpr Status check() const noexcept {
        if (Layout == SpikeLayout::spatial) {
            const std::size_t wps = words_per_step();
            const std::uint64_t tail = spike_tail_mask(neurons_);
            for (std::size_t t = 0; t < steps_; ++t)
                if (words_[t * wps + wps - 1] & ~tail) return Status::corrupt_data;
        } else {
            const std::uint64_t valid = temporal_step_mask(steps_);
            for (const std::uint64_t w : words_)
                if (w & ~valid) return Status::corrupt_data;
        }
        return Status::ok;
    }

    [[nodiscard]] constexpr bool test(std::size_t neuron, std::size_t step) const noexcept {
        if (Layout == SpikeLayout::spatial)
            return (words_[step * words_per_step() + neuron / 64] >> (neuron % 64)) & 1u;
        return (words_[neuron] >> step) & 1u;
    }

    constexpr void set(std::size_t neuron, std::size_t step, bool spike = true) const noexcept
        requires is_mutable
    {
        std::uint64_t* w = nullptr;
        unsigned bit = 0;
        if (Layout == SpikeLayout::spatial) {
            w = &words_[step * words_per_step() + neuron / 64];
            bit = static_cast<unsigned>(neuron % 64);
        } else {
            w = &words_[neuron];
            bit = static_cast<unsigned>(step);
        }
        *w = spike ? (*w | (std::uint64_t{1} << bit)) : (*w & ~(std::uint64_t{1} << bit));
    }

    constexpr void clear() const noexcept
        requires is_mutable
    {
        for (auto& w : words_) w = 0;
    }

    /// The words of one step (spatial layout only): the spike vector the one-step kernels take.
    [[nodiscard]] constexpr std::span<Word> step_words(std::size_t step) const noexcept
        requires(Layout == SpikeLayout::spatial)
    {
        return words_.subspan(step * words_per_step(), words_per_step());
    }

    /// Total number of spikes.
    [[nodiscard]] constexpr std::size_t count() const noexcept { return popcount_words(words_); }

    /// Number of spikes at one step.
    [[nodiscard]] constexpr std::size_t count_step(std::size_t step) const noexcept {
        if (Layout == SpikeLayout::spatial) return popcount_words(step_words_const(step));
        std::size_t n = 0;
        for (const std::uint64_t w : words_) n += (w >> step) & 1u;
        return n;
    }

    /// Fraction of ones, in [0, 1].
    [[nodiscard]] constexpr double density() const noexcept {
        return static_cast<double>(count()) / (static_cast<double>(neurons_) * static_cast<double>(steps_));
    }

private:
    constexpr SpikeTrainView(std::span<Word> words, std::size_t neurons, std::size_t steps) noexcept
        : words_(words), neurons_(neurons), steps_(steps) {}

    [[nodiscard]] constexpr std::span<const std::uint64_t> step_words_const(std::size_t step) const noexcept {
        return std::span<const std::uint64_t>(words_).subspan(step * words_per_step(), words_per_step());
    }

    std::span<Word> words_{};
    std::size_t neurons_ = 0;
    std::size_t steps_ = 0;
};

/// A spike train that owns its words (host code, tests, preparation).
template <SpikeLayout Layout>
class SpikeTrain {
public:
    static constexpr SpikeLayout layout = Layout;
    using view_type = SpikeTrainView<Layout, const std::uint64_t>;
    using mutable_view_type = SpikeTrainView<Layout, std::uint64_t>;

    SpikeTrain() = default;

    /// All-silent train of the given shape.
    static Result<SpikeTrain> zeros(std::size_t neurons, std::size_t steps) {
        if (neurons == 0 || steps == 0) return Failure{Status::bad_shape, "a spike train needs at least one neuron and one step"};
        if (Layout == SpikeLayout::temporal && steps > max_temporal_steps)
            return Failure{Status::bad_shape, "the temporal spike layout holds at most 64 steps per word"};
        SpikeTrain s;
        s.neurons_ = neurons;
        s.steps_ = steps;
        s.words_.assign(spike_train_words(Layout, neurons, steps), 0);
        return s;
    }

    [[nodiscard]] view_type view() const noexcept {
        return view_type::make(std::span<const std::uint64_t>(words_), neurons_, steps_).value();
    }
    [[nodiscard]] mutable_view_type mutable_view() noexcept {
        return mutable_view_type::make(std::span<std::uint64_t>(words_), neurons_, steps_).value();
    }
    operator view_type() const noexcept { return view(); }  // NOLINT: usable wherever a view is

    [[nodiscard]] std::size_t neurons() const noexcept { return neurons_; }
    [[nodiscard]] std::size_t steps() const noexcept { return steps_; }
    [[nodiscard]] std::span<const std::uint64_t> words() const noexcept { return words_; }
    [[nodiscard]] bool test(std::size_t neuron, std::size_t step) const noexcept { return view().test(neuron, step); }
    void set(std::size_t neuron, std::size_t step, bool spike = true) noexcept { mutable_view().set(neuron, step, spike); }
    [[nodiscard]] std::size_t count() const noexcept { return view().count(); }
    [[nodiscard]] double density() const noexcept { return view().density(); }

private:
    std::vector<std::uint64_t> words_;
    std::size_t neurons_ = 0;
    std::size_t steps_ = 0;
};

using SpatialSpikes = SpikeTrain<SpikeLayout::spatial>;
using TemporalSpikes = SpikeTrain<SpikeLayout::temporal>;

}  // namespace qslm
