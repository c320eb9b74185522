#pragma once
// Helpers for the kernel tests: random packed weights of any width/encoding, random spikes of a
// given density, the naive sum straight from PackedTensorView levels (the ground truth), and the
// list of ISAs this test binary can run.

#include <cstdint>
#include <random>
#include <vector>

#include "qslm/kernels.hpp"
#include "qslm/spike.hpp"
#include "qslm/tensor.hpp"

namespace qslm::test {

template <int Bits, class Encoding>
struct WidthCase {
    static constexpr int bits = Bits;
    using encoding = Encoding;
};

/// Random levels over the whole range, with about `zero_fraction` of them 0 (pruned).
template <int Bits, class Encoding>
PackedTensor<Bits, Encoding> random_weights(std::size_t rows, std::size_t cols, ScaleLayout layout, unsigned seed,
                                            double zero_fraction = 0.0) {
    using T = PackedTensor<Bits, Encoding>;
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> lv(T::min_level, T::max_level);
    std::bernoulli_distribution zero(zero_fraction);
    std::vector<std::int16_t> levels(rows * cols);
    for (auto& l : levels) {
        int v = lv(rng);
        if (qslm::encoding::has_zero_level<Encoding> && zero(rng)) v = 0;
        if (!qslm::encoding::has_zero_level<Encoding> && v == 0) v = 1;
        l = static_cast<std::int16_t>(v);
    }
    std::vector<float> scales(layout.scale_count(rows, cols), 0.5f);
    return T::from_levels(levels, rows, cols, layout, scales).value();
}

inline std::vector<std::uint64_t> random_spikes(std::size_t cols, double density, unsigned seed) {
    std::mt19937 rng(seed);
    std::bernoulli_distribution d(density);
    std::vector<std::uint64_t> w(spike_words_per_step(cols), 0);
    for (std::size_t c = 0; c < cols; ++c)
        if (d(rng)) w[c / 64] |= std::uint64_t{1} << (c % 64);
    return w;
}

/// out[g * rows + r] = sum over active c in group g of level(r, c), in int64 (cannot overflow).
template <int Bits, class Encoding>
std::vector<std::int64_t> naive_accumulate(const PackedTensorView<Bits, Encoding>& w, const std::vector<std::uint64_t>& spikes) {
    const std::size_t groups = w.layout().groups_per_row(w.cols());
    const std::size_t G = w.layout().granularity == Granularity::per_group ? w.layout().group_size : w.cols();
    std::vector<std::int64_t> out(groups * w.rows(), 0);
    for (std::size_t r = 0; r < w.rows(); ++r)
        for (std::size_t c = 0; c < w.cols(); ++c)
            if ((spikes[c / 64] >> (c % 64)) & 1u) out[(c / G) * w.rows() + r] += w.level(r, c);
    return out;
}

/// Scalar plus every SIMD ISA compiled in that this CPU runs.
inline std::vector<kernels::Isa> usable_isas() {
    std::vector<kernels::Isa> v;
    for (const kernels::Isa i : kernels::all_isas)
        if (kernels::isa_usable(i)) v.push_back(i);
    return v;
}

template <class Acc>
std::vector<std::int64_t> widen(const std::vector<Acc>& v) {
    return std::vector<std::int64_t>(v.begin(), v.end());
}

}  // namespace qslm::test

// Every width with the default encoding, plus the other encodings at a few widths.
#define QSLM_KERNEL_WIDTH_CASES                                                                                      \
    (qslm::test::WidthCase<1, qslm::encoding::Bipolar>), (qslm::test::WidthCase<1, qslm::encoding::Unsigned>),       \
        (qslm::test::WidthCase<2, qslm::encoding::Signed>), (qslm::test::WidthCase<2, qslm::encoding::Ternary>),      \
        (qslm::test::WidthCase<3, qslm::encoding::Signed>), (qslm::test::WidthCase<4, qslm::encoding::Signed>),       \
        (qslm::test::WidthCase<4, qslm::encoding::Unsigned>), (qslm::test::WidthCase<5, qslm::encoding::Signed>),     \
        (qslm::test::WidthCase<6, qslm::encoding::Signed>), (qslm::test::WidthCase<7, qslm::encoding::Signed>),       \
        (qslm::test::WidthCase<8, qslm::encoding::Signed>), (qslm::test::WidthCase<8, qslm::encoding::Unsigned>)
