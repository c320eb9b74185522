#pragma once
// Helpers shared by the tensor tests: the (width, encoding) combinations every property is
// swept over, and reproducible random weights.

#include <cstddef>
#include <random>
#include <vector>

#include "qslm/tensor/encoding.hpp"

namespace qslm::test {

template <int Bits, class Encoding>
struct WidthCase {
    static constexpr int bits = Bits;
    using encoding = Encoding;
};

inline std::vector<float> random_weights(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> w(n);
    for (auto& x : w) x = d(rng);
    return w;
}

}  // namespace qslm::test

// Every width with each encoding that supports it.
#define QSLM_ALL_WIDTH_CASES                                                                      \
    (qslm::test::WidthCase<1, qslm::encoding::Bipolar>), (qslm::test::WidthCase<1, qslm::encoding::Unsigned>), \
    (qslm::test::WidthCase<1, qslm::encoding::Signed>), (qslm::test::WidthCase<2, qslm::encoding::Signed>),   \
    (qslm::test::WidthCase<2, qslm::encoding::Unsigned>), (qslm::test::WidthCase<2, qslm::encoding::Ternary>), \
    (qslm::test::WidthCase<3, qslm::encoding::Signed>), (qslm::test::WidthCase<3, qslm::encoding::Unsigned>), \
    (qslm::test::WidthCase<4, qslm::encoding::Signed>), (qslm::test::WidthCase<4, qslm::encoding::Unsigned>), \
    (qslm::test::WidthCase<5, qslm::encoding::Signed>), (qslm::test::WidthCase<5, qslm::encoding::Unsigned>), \
    (qslm::test::WidthCase<6, qslm::encoding::Signed>), (qslm::test::WidthCase<6, qslm::encoding::Unsigned>), \
    (qslm::test::WidthCase<7, qslm::encoding::Signed>), (qslm::test::WidthCase<7, qslm::encoding::Unsigned>), \
    (qslm::test::WidthCase<8, qslm::encoding::Signed>), (qslm::test::WidthCase<8, qslm::encoding::Unsigned>)
