#include <catch2/catch.hpp>

#include <vector>

#include "qslm/tensor/packed_tensor.hpp"
#include "tensor_test_support.hpp"

using namespace qslm;

TEST_CASE("symmetric grids use absmax over the top level") {
    const std::vector<float> w = {0.7f, -1.4f, 0.1f, 0.2f};
    auto g = QuantGrid::fit(w, 2, 2, {ScaleLayout::per_channel()}, LevelRange::of<4, encoding::Signed>());
    REQUIRE(g.ok());
    CHECK(g->scale(0, 0) == Approx(1.4f / 7));
    CHECK(g->scale(1, 0) == Approx(0.2f / 7));
    CHECK(g->zero_point(0, 0) == 0);
    CHECK(g->nearest_level(-1.4f, 0, 1) == -7);
    CHECK(g->nearest_level(100.0f, 0, 1) == 7);    // saturates at the top level
    CHECK(g->nearest_level(-100.0f, 0, 1) == -8);  // and at the bottom one
}

TEST_CASE("asymmetric grids keep zero exactly representable") {
    const std::vector<float> w = {0.5f, 1.0f, 2.0f, 3.0f};  // all positive: the range still includes 0
    auto g = QuantGrid::fit(w, 1, 4, {ScaleLayout::per_tensor(), true}, LevelRange::of<2, encoding::Unsigned>());
    REQUIRE(g.ok());
    CHECK(g->scale(0, 0) == Approx(1.0f));
    CHECK(g->zero_point(0, 0) == 0);
    CHECK(g->dequantize(g->nearest_level(0.0f, 0, 0), 0, 0) == 0.0f);
    CHECK(g->dequantize(g->nearest_level(3.0f, 0, 0), 0, 0) == 3.0f);
}

TEST_CASE("an all-zero group quantizes to exact zeros") {
    const std::vector<float> w(8, 0.0f);
    auto t = PackedTensor<3>::quantize(w, 2, 4, {ScaleLayout::per_group(2)});
    REQUIRE(t.ok());
    for (float x : t->dequantize()) CHECK(x == 0.0f);
}

TEST_CASE("a custom rounding policy plugs into packing") {
    // Always rounds toward zero: the packer must store exactly what the policy chose.
    struct TowardZeroLevels {
        Status operator()(QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels) const {
            for (std::size_t i = 0; i < w.size(); ++i) {
                const std::size_t r = i / grid.cols(), c = i % grid.cols();
                levels[i] = static_cast<std::int16_t>(grid.clamp_level(
                    std::trunc(static_cast<double>(w[i]) / grid.scale(r, c))));
            }
            return Status::ok;
        }
    };
    STATIC_REQUIRE(WeightRounder<TowardZeroLevels>);
    // absmax 1.2 -> scale 0.4 on a signed 3-bit grid: 0.85 -> 2.125, -0.7 -> -1.75, 0.5 -> 1.25.
    const std::vector<float> w = {0.85f, -0.7f, 0.5f, 1.2f};
    auto t = PackedTensor<3>::quantize(w, 1, 4, {ScaleLayout::per_tensor()}, TowardZeroLevels{});
    REQUIRE(t.ok());
    const auto levels = t->levels();
    CHECK(std::vector<std::int16_t>(levels.begin(), levels.begin() + 3) == std::vector<std::int16_t>{2, -1, 1});
    auto nearest = PackedTensor<3>::quantize(w, 1, 4, {ScaleLayout::per_tensor()});
    CHECK(nearest->levels()[1] == -2);  // the default policy differs where it should

    struct Failing {
        Status operator()(QuantGrid&, std::span<const float>, std::span<std::int16_t>) const {
            return Status::cancelled;
        }
    };
    CHECK(PackedTensor<3>::quantize(w, 1, 4, {}, Failing{}).status() == Status::cancelled);
}
