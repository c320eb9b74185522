#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "qslm/tensor/packed_tensor.hpp"
#include "tensor_test_support.hpp"

using namespace qslm;

namespace {
struct Shape {
    std::size_t rows, cols;
};
const Shape odd_shapes[] = {{1, 1}, {1, 37}, {29, 1}, {33, 65}, {4, 64}};

ScaleLayout layout_from_index(int i) {
    switch (i) {
        case 0: return ScaleLayout::per_tensor();
        case 1: return ScaleLayout::per_channel();
        case 2: return ScaleLayout::per_group(1);
        case 3: return ScaleLayout::per_group(7);  // never divides the odd shapes evenly
        default: return ScaleLayout::per_group(64);
    }
}
}  // namespace

TEMPLATE_TEST_CASE("packed tensor round-trips every representable level", "[tensor]", QSLM_ALL_WIDTH_CASES) {
    constexpr int B = TestType::bits;
    using E = typename TestType::encoding;
    using T = PackedTensor<B, E>;
    for (const Shape s : odd_shapes) {
        std::vector<std::int16_t> levels(s.rows * s.cols);
        int l = T::min_level;
        for (auto& x : levels) {
            x = static_cast<std::int16_t>(l);
            do {
                l = l == T::max_level ? T::min_level : l + 1;
            } while (!encoding::has_zero_level<E> && l == 0);
        }
        const std::vector<float> scales(s.rows, 0.5f);
        auto t = T::from_levels(levels, s.rows, s.cols, ScaleLayout::per_channel(), scales);
        REQUIRE(t.ok());
        CHECK(t->levels() == levels);
        for (std::size_t i = 0; i < levels.size(); ++i)
            REQUIRE(t->dequantized(i / s.cols, i % s.cols) == 0.5f * static_cast<float>(levels[i]));
    }
}

TEMPLATE_TEST_CASE("round-to-nearest is within half a step inside the grid and saturates outside",
                   "[tensor]", QSLM_ALL_WIDTH_CASES) {
    constexpr int B = TestType::bits;
    using E = typename TestType::encoding;
    using T = PackedTensor<B, E>;
    const int layout_index = GENERATE(0, 1, 2, 3, 4);
    const bool zero_point = GENERATE(false, true);
    const bool pow2 = GENERATE(false, true);
    const QuantSpec spec{layout_from_index(layout_index), zero_point,
                         pow2 ? ScaleFormat::power_of_two : ScaleFormat::float32};
    for (const Shape s : odd_shapes) {
        const auto w = test::random_weights(s.rows * s.cols, static_cast<unsigned>(B * 131 + s.cols), -2.0f, 1.5f);
        auto t = T::quantize(w, s.rows, s.cols, spec);
        REQUIRE(t.ok());
        const auto view = t->view();
        REQUIRE(view.check() == Status::ok);
        for (std::size_t r = 0; r < s.rows; ++r) {
            for (std::size_t c = 0; c < s.cols; ++c) {
                const std::size_t si = view.scale_index(r, c);
                const double scale = view.scale(si);
                const int zp = view.zero_point(si);
                const double x = w[r * s.cols + c];
                const double got = view.dequantized(r, c);
                if constexpr (!encoding::has_zero_level<E>) {
                    // Only two values exist; the nearer one must be chosen.
                    const double a = scale * (-1 - zp), b = scale * (1 - zp);
                    REQUIRE(std::abs(got - x) <= std::min(std::abs(a - x), std::abs(b - x)) + 1e-6);
                } else {
                    const double lo = scale * (T::min_level - zp), hi = scale * (T::max_level - zp);
                    if (x < lo) REQUIRE(got == Approx(lo));
                    else if (x > hi) REQUIRE(got == Approx(hi));
                    else REQUIRE(std::abs(got - x) <= scale / 2 * (1 + 1e-5));
                }
                if (pow2) REQUIRE(std::exp2(std::round(std::log2(scale))) == scale);
            }
        }
    }
}

TEMPLATE_TEST_CASE("symmetric signed grids never clip the weights they were fitted to", "[tensor]",
                   (test::WidthCase<2, encoding::Signed>), (test::WidthCase<3, encoding::Signed>),
                   (test::WidthCase<4, encoding::Signed>), (test::WidthCase<8, encoding::Signed>),
                   (test::WidthCase<2, encoding::Ternary>)) {
    constexpr int B = TestType::bits;
    using T = PackedTensor<B, typename TestType::encoding>;
    const auto w = test::random_weights(33 * 65, 99, -3.0f, 3.0f);
    auto t = T::quantize(w, 33, 65, {ScaleLayout::per_group(7)});
    REQUIRE(t.ok());
    for (std::size_t i = 0; i < w.size(); ++i) {
        const double scale = t->view().scale(t->view().scale_index(i / 65, i % 65));
        REQUIRE(std::abs(t->dequantized(i / 65, i % 65) - w[i]) <= scale / 2 * (1 + 1e-5));
    }
}

TEMPLATE_TEST_CASE("bytes() counts payload, scales and zero points exactly", "[tensor]", QSLM_ALL_WIDTH_CASES) {
    constexpr int B = TestType::bits;
    using T = PackedTensor<B, typename TestType::encoding>;
    const int layout_index = GENERATE(0, 1, 3, 4);
    const bool zero_point = GENERATE(false, true);
    const bool pow2 = GENERATE(false, true);
    for (const Shape s : odd_shapes) {
        const ScaleLayout layout = layout_from_index(layout_index);
        const auto w = test::random_weights(s.rows * s.cols, 5);
        auto t = T::quantize(w, s.rows, s.cols,
                             {layout, zero_point, pow2 ? ScaleFormat::power_of_two : ScaleFormat::float32});
        REQUIRE(t.ok());
        std::size_t scales = 1;
        if (layout.granularity == Granularity::per_channel) scales = s.rows;
        if (layout.granularity == Granularity::per_group)
            scales = s.rows * ((s.cols + layout.group_size - 1) / layout.group_size);
        const std::size_t expected = (s.rows * s.cols * B + 7) / 8 + scales * (pow2 ? 1 : 4) + (zero_point ? scales * 2 : 0);
        REQUIRE(t->bytes() == expected);
        REQUIRE(t->view().payload().size() == (s.rows * s.cols * B + 7) / 8);
    }
}

TEST_CASE("1-bit bipolar weights take the sign and the mean magnitude") {
    const std::vector<float> w = {0.5f, -1.5f, 1.0f, -0.0f, 2.0f, -3.0f};
    auto t = PackedTensor<1>::quantize(w, 2, 3, {ScaleLayout::per_channel()});
    REQUIRE(t.ok());
    CHECK(t->dequantize() == std::vector<float>{1.0f, -1.0f, 1.0f, 5.0f / 3, 5.0f / 3, -5.0f / 3});
    CHECK(t->bytes() == 1 + 2 * 4);
}

TEST_CASE("ternary weights use levels -1, 0, +1 only") {
    const auto w = test::random_weights(100, 11);
    auto t = PackedTensor<2, encoding::Ternary>::quantize(w, 10, 10);
    REQUIRE(t.ok());
    for (auto l : t->levels()) CHECK((l >= -1 && l <= 1));
    // A corrupt code 0b10 (never written by the packer) decodes to -1, not to -2.
    CHECK(encoding::Ternary::decode<2>(2) == -1);
}

TEST_CASE("bad shapes, group sizes, levels and weights give clear errors") {
    const std::vector<float> w(6, 0.25f);
    CHECK(PackedTensor<4>::quantize(w, 0, 6).status() == Status::bad_shape);
    CHECK(PackedTensor<4>::quantize(w, 6, 0).status() == Status::bad_shape);
    CHECK(PackedTensor<4>::quantize(w, 4, 2).status() == Status::bad_shape);
    auto bad_group = PackedTensor<4>::quantize(w, 2, 3, {ScaleLayout::per_group(0)});
    CHECK(bad_group.status() == Status::bad_group_size);
    CHECK(std::string(bad_group.message()).find("group size") != std::string::npos);
    std::vector<float> nan = w;
    nan[3] = std::numeric_limits<float>::quiet_NaN();
    CHECK(PackedTensor<4>::quantize(nan, 2, 3).status() == Status::invalid_argument);
    nan[3] = std::numeric_limits<float>::infinity();
    CHECK(PackedTensor<4>::quantize(nan, 2, 3).status() == Status::invalid_argument);

    const std::vector<std::int16_t> levels = {0, 1, 2, 3, 7, 8};  // 8 does not fit signed 4-bit
    const std::vector<float> scales = {1.0f, 1.0f};
    CHECK(PackedTensor<4>::from_levels(levels, 2, 3, ScaleLayout::per_channel(), scales).status() == Status::out_of_range);
    const std::vector<std::int16_t> with_zero = {1, -1, 0, 1, 1, 1};
    CHECK(PackedTensor<1>::from_levels(with_zero, 2, 3, ScaleLayout::per_channel(), scales).status() == Status::out_of_range);
    const std::vector<std::int16_t> fine = {0, 1, 2, 3, 7, -8};
    const std::vector<float> one_scale = {1.0f};
    CHECK(PackedTensor<4>::from_levels(fine, 2, 3, ScaleLayout::per_channel(), one_scale).status() == Status::corrupt_data);
    const std::vector<std::int16_t> zp = {0, 9};
    CHECK(PackedTensor<4>::from_levels(fine, 2, 3, ScaleLayout::per_channel(), scales, zp).status() == Status::out_of_range);
}

namespace {
// Weights that live in read-only memory (flash on a microcontroller): 2 x 3 signed 3-bit levels
// {1, -2, 3 / -4, 0, 2}, 18 bits -> 3 bytes, one float scale per row.
constexpr std::array<std::uint8_t, 3> flash_payload = {0xF1, 0x08, 0x01};
constexpr std::array<float, 2> flash_scales = {0.5f, 0.25f};
constexpr PackedTensorView<3> flash_view(unchecked, 2, 3, ScaleLayout::per_channel(), flash_payload, flash_scales);
static_assert(flash_view.check() == Status::ok, "the flash tensor is well formed");
static_assert(flash_view.level(0, 1) == -2 && flash_view.level(1, 0) == -4 && flash_view.level(1, 2) == 2);
static_assert(flash_view.bytes() == 3 + 8);
}  // namespace

TEST_CASE("views over caller-owned read-only memory decode without copying") {
    CHECK(flash_view.payload().data() == flash_payload.data());
    CHECK(flash_view.dequantized(0, 2) == 1.5f);
    CHECK(flash_view.dequantized(1, 0) == -1.0f);
    std::array<std::uint8_t, 2> short_payload = {0, 0};
    auto v = PackedTensorView<3>::make(2, 3, ScaleLayout::per_channel(), short_payload, flash_scales);
    CHECK(v.status() == Status::corrupt_data);
    std::array<std::int8_t, 2> one_exponent = {-1, 0};
    auto pow2 = PackedTensorView<3>::make_power_of_two(2, 3, ScaleLayout::per_channel(), flash_payload, one_exponent);
    REQUIRE(pow2.ok());
    CHECK(pow2->dequantized(0, 2) == 1.5f);
    CHECK(pow2->bytes() == 3 + 2);
    std::array<std::int8_t, 1> too_few = {0};
    CHECK(PackedTensorView<3>::make_power_of_two(2, 3, ScaleLayout::per_channel(), flash_payload, too_few).status() ==
          Status::corrupt_data);
}

TEST_CASE("unpacking into a short buffer is refused, not overrun") {
    auto t = PackedTensor<5>::quantize(test::random_weights(12, 1), 3, 4);
    REQUIRE(t.ok());
    std::vector<std::int8_t> small(3);
    CHECK(t->view().unpack_row(0, std::span<std::int8_t>(small)) == Status::buffer_too_small);
    std::vector<std::int8_t> row(4);
    CHECK(t->view().unpack_row(3, std::span<std::int8_t>(row)) == Status::out_of_range);
    CHECK(t->view().unpack_row(2, std::span<std::int8_t>(row)) == Status::ok);
    std::vector<float> out(11);
    CHECK(t->view().dequantize(out) == Status::buffer_too_small);
}
