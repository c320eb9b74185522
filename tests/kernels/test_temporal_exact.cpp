// The temporal-parallel kernel (and T event-driven passes over a temporal train) give, for every
// step, exactly the one-step result, on every usable ISA, width and density.
#include <catch2/catch.hpp>

#include <array>

#include "kernel_test_support.hpp"

using namespace qslm;
using kernels::Isa;
using kernels::Kernel;

TEMPLATE_TEST_CASE("T steps at once match T single steps exactly", "[kernels][temporal]", QSLM_KERNEL_WIDTH_CASES) {
    constexpr int B = TestType::bits;
    using E = typename TestType::encoding;
    const std::size_t rows = GENERATE(1u, 77u, 600u);
    const std::size_t cols = GENERATE(5u, 130u, 4200u);
    const std::size_t steps = GENERATE(1u, 3u, 16u, 64u);
    const std::size_t density_index = GENERATE(0u, 1u, 2u, 3u, 4u);
    const double density = std::array{0.0, 0.01, 0.1, 0.5, 1.0}[density_index];
    const ScaleLayout layout = (cols % 2 == 0) ? ScaleLayout::per_group(64) : ScaleLayout::per_tensor();
    // Shapes above 400 k weight-steps are sampled, not skipped: one (shape, density) in ten per
    // width, chosen by a fixed rule that reaches every big shape (600 x 4200 x 64 included) at
    // some width and density, so the suite stays short under the sanitizers.
    if (rows * cols * steps > 400'000 && (rows + cols + steps + static_cast<std::size_t>(B) + density_index) % 10 != 0)
        return;
    const unsigned seed = static_cast<unsigned>(rows * 13 + cols * 7 + steps + B);
    const auto w = test::random_weights<B, E>(rows, cols, layout, seed);
    auto mv = kernels::SpikeMatvec::prepare(w.view(), {.bitplane = false});
    REQUIRE(mv.ok());

    auto train = TemporalSpikes::zeros(cols, steps);
    REQUIRE(train.ok());
    std::vector<std::int64_t> expect;
    for (std::size_t t = 0; t < steps; ++t) {
        const auto s = test::random_spikes(cols, density, seed + static_cast<unsigned>(t));
        for (std::size_t c = 0; c < cols; ++c)
            if ((s[c / 64] >> (c % 64)) & 1u) train->set(c, t);
        const auto one = test::naive_accumulate(w.view(), s);
        expect.insert(expect.end(), one.begin(), one.end());
    }
    INFO("bits " << B << " " << E::name << " " << rows << "x" << cols << " T=" << steps << " density " << density);
    for (const Kernel k : {Kernel::temporal, Kernel::event})
        for (const Isa isa : test::usable_isas()) {
            INFO("kernel " << kernels::to_string(k) << " isa " << kernels::to_string(isa));
            std::vector<std::int32_t> out(steps * mv->output_size(), -1);
            auto info = mv->accumulate_steps(train->view(), std::span<std::int32_t>(out), {k, isa});
            REQUIRE(info.ok());
            CHECK(info->spikes == train->count());
            CHECK(test::widen(out) == expect);
            if (mv->accumulator_width() == kernels::AccumulatorWidth::int16) {
                std::vector<std::int16_t> out16(steps * mv->output_size(), -1);
                REQUIRE(mv->accumulate_steps(train->view(), std::span<std::int16_t>(out16), {k, isa}).ok());
                CHECK(test::widen(out16) == expect);
            }
        }

    // A spatial train runs step by step and gives the same numbers.
    auto spatial = SpatialSpikes::zeros(cols, steps);
    REQUIRE(spatial.ok());
    REQUIRE(spike::to_spatial(train->view(), spatial->mutable_view()) == Status::ok);
    std::vector<std::int32_t> out(steps * mv->output_size());
    REQUIRE(mv->accumulate_steps(spatial->view(), std::span<std::int32_t>(out)).ok());
    CHECK(test::widen(out) == expect);
}
