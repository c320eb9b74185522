// Every one-step kernel, on every ISA this binary has and this CPU runs, at every width, five
// densities and odd shapes, gives exactly the integers of the scalar reference, and the scalar
// reference gives exactly the naive sum of levels.
#include <catch2/catch.hpp>

#include "kernel_test_support.hpp"

using namespace qslm;
using kernels::Isa;
using kernels::Kernel;

namespace {
struct Shape {
    std::size_t rows, cols;
};

template <class Acc>
std::vector<std::int64_t> run(const kernels::SpikeMatvec& mv, const std::vector<std::uint64_t>& spikes, Kernel k, Isa isa) {
    std::vector<Acc> out(mv.output_size(), Acc{0x55});  // garbage: the kernel must overwrite
    auto info = mv.accumulate(std::span<const std::uint64_t>(spikes), std::span<Acc>(out), {k, isa});
    INFO("kernel " << kernels::to_string(k) << " isa " << kernels::to_string(isa) << ": " << info.message());
    REQUIRE(info.ok());
    CHECK(info->kernel == k);
    CHECK(info->isa == isa);
    return test::widen(out);
}
}  // namespace

TEMPLATE_TEST_CASE("every one-step kernel on every usable ISA matches the scalar reference exactly", "[kernels]",
                   QSLM_KERNEL_WIDTH_CASES) {
    constexpr int B = TestType::bits;
    using E = typename TestType::encoding;
    const Shape shape = GENERATE(Shape{1, 1}, Shape{3, 67}, Shape{129, 200}, Shape{515, 64}, Shape{40, 4500});
    const double density = GENERATE(0.0, 0.01, 0.1, 0.5, 1.0);
    const ScaleLayout layout = GENERATE(ScaleLayout::per_channel(), ScaleLayout::per_group(64), ScaleLayout::per_group(48));
    const unsigned seed = static_cast<unsigned>(shape.rows * 7919 + shape.cols * 31 + B + static_cast<unsigned>(density * 1000));
    const auto w = test::random_weights<B, E>(shape.rows, shape.cols, layout, seed, 0.5);
    const auto spikes = test::random_spikes(shape.cols, density, seed + 1);
    auto mv = kernels::SpikeMatvec::prepare(w.view(), {.bitplane = true, .sparse = true});
    REQUIRE(mv.ok());
    const auto truth = test::naive_accumulate(w.view(), spikes);
    INFO("bits " << B << " " << E::name << " shape " << shape.rows << "x" << shape.cols << " density " << density
                 << " groups " << mv->groups());

    std::vector<Kernel> ks{Kernel::dense, Kernel::event, Kernel::dual_sparse};
    if (layout.granularity != Granularity::per_group || layout.group_size % 64 == 0) ks.push_back(Kernel::bitplane);
    for (const Kernel k : ks) {
        const auto reference = run<std::int32_t>(*mv, spikes, k, Isa::scalar);
        INFO("kernel " << kernels::to_string(k));
        REQUIRE(reference == truth);
        for (const Isa isa : test::usable_isas()) {
            INFO("isa " << kernels::to_string(isa));
            CHECK(run<std::int32_t>(*mv, spikes, k, isa) == reference);
            if (mv->accumulator_width() == kernels::AccumulatorWidth::int16) CHECK(run<std::int16_t>(*mv, spikes, k, isa) == reference);
        }
    }
}

TEST_CASE("the automatic choice runs a kernel whose result matches the reference") {
    const auto w = test::random_weights<4, encoding::Signed>(300, 1000, ScaleLayout::per_channel(), 3);
    auto mv = kernels::SpikeMatvec::prepare(w.view());
    REQUIRE(mv.ok());
    for (const double density : {0.0, 0.05, 0.3, 0.9}) {
        const auto spikes = test::random_spikes(1000, density, 11);
        std::vector<std::int16_t> out(mv->output_size());
        auto info = mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int16_t>(out));
        REQUIRE(info.ok());
        CHECK(info->kernel == mv->choose(static_cast<double>(info->spikes) / 1000.0));
        CHECK(info->isa == kernels::best_isa());
        CHECK(test::widen(out) == test::naive_accumulate(w.view(), spikes));
    }
}

TEST_CASE("int16 accumulators are chosen exactly when cols x max|level| fits in int16") {
    CHECK(kernels::accumulator_width_for(2048, 8).value() == kernels::AccumulatorWidth::int16);   // 4-bit, 2048 inputs
    CHECK(kernels::accumulator_width_for(4095, 8).value() == kernels::AccumulatorWidth::int16);
    CHECK(kernels::accumulator_width_for(4096, 8).value() == kernels::AccumulatorWidth::int32);
    CHECK(kernels::accumulator_width_for(2048, 128).value() == kernels::AccumulatorWidth::int32); // 8-bit
    CHECK(kernels::accumulator_width_for(std::size_t{1} << 28, 128).status() == Status::bad_shape);
}

TEST_CASE("results at the accumulator's extremes are exact (no intermediate overflow)") {
    // All levels at the most negative value and every input active: the sum is -cols * 8 for
    // 4-bit, which is the int16 bound; the biased fields sum to cols * 15, which wraps int16.
    const std::size_t cols = 4095;
    std::vector<std::int16_t> levels(2 * cols, -8);
    for (std::size_t c = 0; c < cols; ++c) levels[cols + c] = 7;
    std::vector<float> scales(2, 1.0f);
    auto w = PackedTensor<4>::from_levels(levels, 2, cols, ScaleLayout::per_channel(), scales);
    REQUIRE(w.ok());
    auto mv = kernels::SpikeMatvec::prepare(w->view(), {.bitplane = true, .sparse = true});
    REQUIRE(mv.ok());
    REQUIRE(mv->accumulator_width() == kernels::AccumulatorWidth::int16);
    const auto spikes = test::random_spikes(cols, 1.0, 1);
    for (const Kernel k : {Kernel::dense, Kernel::event, Kernel::bitplane, Kernel::dual_sparse})
        for (const Isa isa : test::usable_isas()) {
            std::vector<std::int16_t> out(2);
            REQUIRE(mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int16_t>(out), {k, isa}).ok());
            CHECK(out[0] == -8 * 4095);
            CHECK(out[1] == 7 * 4095);
        }
}

TEMPLATE_TEST_CASE("dense and event-driven stay exact when every field holds its largest value", "[kernels]",
                   QSLM_KERNEL_WIDTH_CASES) {
    // The SIMD panel kernels sum narrow fields in byte-wide slots and spread them out every
    // 255 / (2^F - 1) inputs: all-maximal fields with every input active fill each byte exactly
    // to 255 before a spread, so a wrong flush period would carry into the next field here.
    constexpr int B = TestType::bits;
    using E = typename TestType::encoding;
    using T = PackedTensor<B, E>;
    const std::size_t rows = GENERATE(130u, 515u);
    const std::size_t cols = GENERATE(17u, 18u, 300u, 4500u);
    std::vector<std::int16_t> levels(rows * cols, static_cast<std::int16_t>(T::max_level));
    const ScaleLayout layout = ScaleLayout::per_channel();
    const auto w = T::from_levels(levels, rows, cols, layout, std::vector<float>(layout.scale_count(rows, cols), 0.5f)).value();
    auto mv = kernels::SpikeMatvec::prepare(w.view(), {.bitplane = false});
    REQUIRE(mv.ok());
    const auto spikes = test::random_spikes(cols, 1.0, 1);
    const auto truth = test::naive_accumulate(w.view(), spikes);
    INFO("bits " << B << " " << E::name << " shape " << rows << "x" << cols);
    for (const Kernel k : {Kernel::dense, Kernel::event})
        for (const Isa isa : test::usable_isas()) {
            INFO("kernel " << kernels::to_string(k) << " isa " << kernels::to_string(isa));
            CHECK(run<std::int32_t>(*mv, spikes, k, isa) == truth);
            if (mv->accumulator_width() == kernels::AccumulatorWidth::int16) CHECK(run<std::int16_t>(*mv, spikes, k, isa) == truth);
        }
}

TEMPLATE_TEST_CASE("bit-plane: byte counters and long spike vectors stay exact", "[kernels]", (PackedTensor<1, encoding::Bipolar>),
                   (PackedTensor<4, encoding::Signed>), (PackedTensor<8, encoding::Unsigned>)) {
    // The SIMD bit-plane kernel counts in byte lanes folded every 31 spike bytes and lists at
    // most 1024 nonzero spike bytes at a time (8192 inputs): all-maximal fields with every input
    // active fill the byte counters to exactly 248 before a fold, and 9000 inputs take two lists
    // (the bias must be added once, the second list's sums added to the first's).
    using T = TestType;
    constexpr int B = T::bits;
    const std::size_t rows = GENERATE(70u, 130u);
    const std::size_t cols = GENERATE(248u, 9000u);
    const bool maximal = GENERATE(true, false);
    const double density = GENERATE(1.0, 0.5);
    const auto w = maximal ? T::from_levels(std::vector<std::int16_t>(rows * cols, static_cast<std::int16_t>(T::max_level)), rows, cols,
                                            ScaleLayout::per_channel(), std::vector<float>(rows, 0.5f))
                                 .value()
                           : test::random_weights<B, typename T::encoding>(rows, cols, ScaleLayout::per_channel(), 77, 0.3);
    auto mv = kernels::SpikeMatvec::prepare(w.view(), {.bitplane = true, .sparse = true});
    REQUIRE(mv.ok());
    const auto spikes = test::random_spikes(cols, density, 5);
    const auto truth = test::naive_accumulate(w.view(), spikes);
    INFO("bits " << B << " shape " << rows << "x" << cols << " maximal " << maximal << " density " << density);
    for (const Kernel k : {Kernel::bitplane, Kernel::dual_sparse}) {
        REQUIRE(run<std::int32_t>(*mv, spikes, k, Isa::scalar) == truth);
        for (const Isa isa : test::usable_isas()) {
            INFO("kernel " << kernels::to_string(k) << " isa " << kernels::to_string(isa));
            CHECK(run<std::int32_t>(*mv, spikes, k, isa) == truth);
            if (mv->accumulator_width() == kernels::AccumulatorWidth::int16) CHECK(run<std::int16_t>(*mv, spikes, k, isa) == truth);
        }
    }
}
