// The dispatcher's decisions (kernel_choice.hpp) at the points measured by bench_spike_kernels
// (docs/benchmarks.md, "Dispatcher"): a change to the crossovers shows up here as a changed
// decision, next to the measurement it has to agree with. choose_kernel is constexpr, so the
// decisions are also checked at compile time.
#include <catch2/catch.hpp>

#include "kernel_test_support.hpp"
#include "qslm/kernels/kernel_choice.hpp"
#include "qslm/kernels/panel_weights.hpp"

using namespace qslm::kernels;

namespace {
constexpr std::size_t MiB = std::size_t{1} << 20;

constexpr KernelChoiceInput one_step(double density, int bits, std::size_t rows, std::size_t cols) {
    KernelChoiceInput in;
    in.density = density;
    in.bits = bits;
    in.have_bitplane = true;
    in.weight_bytes = panel_weights_bytes(rows, cols, bits);
    return in;
}
constexpr KernelChoiceInput train(double density, int bits, std::size_t steps, std::size_t rows, std::size_t cols) {
    KernelChoiceInput in = one_step(density, bits, rows, cols);
    in.steps = steps;
    in.temporal_input = true;
    return in;
}
}  // namespace

// Compile-time: the function is usable in constant expressions.
static_assert(choose_kernel(one_step(0.1, 4, 2048, 2048)) == Kernel::event);
static_assert(choose_kernel(train(0.5, 8, 16, 8192, 2048)) == Kernel::temporal);
static_assert(choose_kernel(train(0.5, 8, 16, 2048, 2048)) == Kernel::event);

TEST_CASE("one step: event-driven at every swept width and density, bit-plane only where calibration saw it win", "[kernels][choice]") {
    for (const int bits : {2, 4, 8})
        for (const double d : {0.0, 0.01, 0.05, 0.1, 0.2, 0.5})
            for (const std::size_t n : {256u, 1024u, 2048u}) {
                INFO("bits " << bits << " density " << d << " size " << n);
                CHECK(choose_kernel(one_step(d, bits, n, n)) == Kernel::event);
            }
    // Above 61 % the bit-plane kernel won at 2 and 8 bits, never at 4 (calibration, kernel_choice.hpp).
    CHECK(choose_kernel(one_step(0.75, 2, 1024, 1024)) == Kernel::bitplane);
    CHECK(choose_kernel(one_step(0.75, 8, 1024, 1024)) == Kernel::bitplane);
    CHECK(choose_kernel(one_step(1.0, 4, 1024, 1024)) == Kernel::event);
    CHECK(choose_kernel(one_step(0.5, 1, 1024, 1024)) == Kernel::bitplane);
    CHECK(choose_kernel(one_step(0.2, 1, 1024, 1024)) == Kernel::event);
    KernelChoiceInput no_planes = one_step(0.5, 1, 1024, 1024);
    no_planes.have_bitplane = false;
    CHECK(choose_kernel(no_planes) == Kernel::event);
    no_planes.have_bitplane = true;
    no_planes.bitplane_allowed = false;
    CHECK(choose_kernel(no_planes) == Kernel::event);
}

TEST_CASE("heavily pruned weights with a sparse layout go to dual-sparse", "[kernels][choice]") {
    KernelChoiceInput in = one_step(0.1, 4, 2048, 2048);
    in.have_sparse = true;
    in.weight_density = 0.5;
    CHECK(choose_kernel(in) == Kernel::event);  // the sweep's half-pruned weights: event won everywhere
    in.weight_density = 0.1;
    CHECK(choose_kernel(in) == Kernel::dual_sparse);
    in.have_sparse = false;
    CHECK(choose_kernel(in) == Kernel::event);
}

TEST_CASE("temporal-parallel only where one weight fetch per T steps pays", "[kernels][choice]") {
    // Weights that stay in L2 (256², 1024² up to 8-bit = 1 MiB): never, up to T = 64.
    for (const std::size_t n : {256u, 1024u})
        for (const int bits : {2, 4, 8})
            for (const std::size_t T : {4u, 16u, 64u})
                for (const double d : {0.01, 0.2, 0.5}) {
                    INFO("n " << n << " bits " << bits << " T " << T << " density " << d);
                    CHECK(choose_kernel(train(d, bits, T, n, n)) == Kernel::event);
                }
    // 2 MiB (4-bit 2048² / 4096×1024): never, up to T = 64.
    CHECK(choose_kernel(train(0.5, 4, 64, 2048, 2048)) == Kernel::event);
    CHECK(choose_kernel(train(0.5, 4, 64, 4096, 1024)) == Kernel::event);
    // L3-resident, 4 MiB (8-bit 2048²) and 8 MiB (4-bit 8192×2048): T = 32 at 50 %, T = 64 at 20 %.
    CHECK(choose_kernel(train(0.5, 8, 16, 2048, 2048)) == Kernel::event);
    CHECK(choose_kernel(train(0.2, 8, 32, 2048, 2048)) == Kernel::event);
    CHECK(choose_kernel(train(0.5, 8, 32, 2048, 2048)) == Kernel::temporal);
    CHECK(choose_kernel(train(0.1, 8, 64, 4096, 1024)) == Kernel::event);
    CHECK(choose_kernel(train(0.2, 8, 64, 4096, 1024)) == Kernel::temporal);
    CHECK(choose_kernel(train(0.5, 4, 16, 8192, 2048)) == Kernel::event);
    CHECK(choose_kernel(train(0.5, 4, 32, 8192, 2048)) == Kernel::temporal);
    CHECK(choose_kernel(train(0.2, 4, 64, 8192, 2048)) == Kernel::temporal);
    // Beyond the caches (8-bit 8192×2048, 16 MiB): from T = 16; T = 8 at 20 %; T = 4 at 50 %.
    CHECK(choose_kernel(train(0.01, 8, 16, 8192, 2048)) == Kernel::temporal);
    CHECK(choose_kernel(train(0.1, 8, 8, 8192, 2048)) == Kernel::event);
    CHECK(choose_kernel(train(0.2, 8, 8, 8192, 2048)) == Kernel::temporal);
    CHECK(choose_kernel(train(0.2, 8, 4, 8192, 2048)) == Kernel::event);
    CHECK(choose_kernel(train(0.5, 8, 4, 8192, 2048)) == Kernel::temporal);
    // One step is never temporal; an unknown size is treated as small.
    CHECK(choose_kernel(train(0.5, 8, 1, 8192, 2048)) == Kernel::event);
    KernelChoiceInput unknown = train(0.5, 8, 64, 8192, 2048);
    unknown.weight_bytes = 0;
    CHECK(choose_kernel(unknown) == Kernel::event);
    // prefers_temporal answers the same question for a layer choosing its spike layout.
    KernelChoiceInput spatial = train(0.5, 8, 64, 2048, 2048);
    spatial.temporal_input = false;
    CHECK(prefers_temporal(spatial));
    CHECK(choose_kernel(spatial) == Kernel::event);  // a spatial train still runs step by step
}

TEST_CASE("the crossovers can be replaced (another machine's measurement)", "[kernels][choice]") {
    Crossovers x;
    x.dense_above = 0.3;
    x.bitplane_above[2] = 0.2;
    x.temporal_rules[0] = {.min_weight_bytes = 0, .min_bits = 1, .min_steps = 2, .min_density = 0.0};
    KernelChoiceInput in = one_step(0.25, 2, 1024, 1024);
    CHECK(choose_kernel(in, x) == Kernel::bitplane);
    in.have_bitplane = false;
    CHECK(choose_kernel(in, x) == Kernel::event);
    in.density = 0.4;
    CHECK(choose_kernel(in, x) == Kernel::dense);
    CHECK(choose_kernel(train(0.01, 4, 2, 256, 256), x) == Kernel::temporal);
    CHECK(MiB == panel_weights_bytes(1024, 1024, 8));
}

TEST_CASE("SpikeMatvec passes the weight size and pruning to the choice, also in copies", "[kernels][choice]") {
    const auto w = qslm::test::random_weights<8, qslm::encoding::Signed>(100, 300, qslm::ScaleLayout::per_channel(), 5, 0.95);
    auto mv = SpikeMatvec::prepare(w.view(), {.bitplane = false, .sparse = true});
    REQUIRE(mv.ok());
    const KernelChoiceInput in = mv->choice_input(0.3, 64, true);
    CHECK(in.weight_bytes == mv->panel().bytes());
    CHECK(in.weight_bytes == panel_weights_bytes(100, 300, 8));
    CHECK(in.weight_density < 0.125);  // 95 % pruned
    CHECK(in.bits == 8);
    CHECK(mv->choose(0.1) == Kernel::dual_sparse);
    CHECK(mv->prefers_temporal(0.3, 64) == prefers_temporal(in));
    const SpikeMatvec copy = *mv;  // owning copy: the cached facts follow the new storage
    CHECK(copy.choice_input(0.3, 64, true).weight_bytes == in.weight_bytes);
    CHECK(copy.choose(0.1) == Kernel::dual_sparse);
    const SpikeMatvec views = SpikeMatvec::from_views(mv->panel(), nullptr, &mv->sparse(), mv->layout()).value();
    CHECK(views.choice_input(0.3).weight_bytes == in.weight_bytes);
    CHECK(views.choose(0.1) == Kernel::dual_sparse);
}
