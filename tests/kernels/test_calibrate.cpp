// Crossover calibration: the fitting is checked on made-up measurements (no timing), the timing
// run only for what it returns (its numbers depend on the machine).
#include <catch2/catch.hpp>

#include "kernel_test_support.hpp"
#include "qslm/kernels/calibrate.hpp"

using namespace qslm;
using kernels::Kernel;
using kernels::KernelChoiceInput;

namespace {
constexpr std::size_t MiB = std::size_t{1} << 20;

KernelChoiceInput train(std::size_t bytes, double density, std::size_t steps) {
    KernelChoiceInput in;
    in.weight_bytes = bytes;
    in.density = density;
    in.steps = steps;
    in.bits = 4;
    in.temporal_input = true;
    return in;
}

// Temporal wins: at 16 MiB from T = 8 at every density; at 4 MiB from T = 32 at 50 % only; at
// 1 MiB only at T = 8 (not at 16..64: a win that does not last is noise and makes no rule).
std::vector<kernels::TemporalMeasurement> made_up_temporal() {
    std::vector<kernels::TemporalMeasurement> m;
    for (const std::size_t size : {1 * MiB, 4 * MiB, 16 * MiB})
        for (const double d : {0.1, 0.2, 0.5})
            for (const std::size_t T : {4u, 8u, 16u, 32u, 64u}) {
                bool wins = false;
                if (size == 16 * MiB) wins = T >= 8;
                if (size == 4 * MiB) wins = d == 0.5 && T >= 32;
                if (size == 1 * MiB) wins = T == 8;
                m.push_back({size, d, T, wins ? 1.3 : 0.7});
            }
    return m;
}
}  // namespace

TEST_CASE("fit_crossovers: temporal rules hold where the measurements say temporal wins, and only there") {
    const auto m = made_up_temporal();
    auto x = kernels::fit_crossovers(m, {});
    REQUIRE(x.ok());
    auto temporal = [&](std::size_t bytes, double d, std::size_t T) { return kernels::prefers_temporal(train(bytes, d, T), *x); };
    // Every measured point is reproduced, except the 1 MiB / T = 8 blip.
    for (const auto& p : m) {
        INFO("size " << p.weight_bytes << " density " << p.density << " T " << p.steps);
        const bool expect = p.speedup > 1 && p.weight_bytes != 1 * MiB;
        CHECK(temporal(p.weight_bytes, p.density, p.steps) == expect);
    }
    // Between and beyond the measured points: bands around them, the largest size open-ended.
    CHECK(temporal(12 * MiB, 0.3, 8));     // in the 16 MiB band (from sqrt(4 * 16) = 8 MiB)
    CHECK_FALSE(temporal(7 * MiB, 0.3, 8)); // in the 4 MiB band
    CHECK(temporal(512 * MiB, 0.3, 8));
    CHECK(temporal(16 * MiB, 0.3, 40));    // steps beyond the first lasting win
    CHECK(temporal(4 * MiB, 0.9, 32));     // the 50 % band is open upwards
    CHECK_FALSE(temporal(4 * MiB, 0.3, 64));
    CHECK_FALSE(temporal(16 * MiB, 0.05, 64)); // below half a band under the lowest measured density
    CHECK_FALSE(temporal(MiB / 4, 0.5, 64));   // below half a band under the smallest measured size
    // Nothing else changed.
    CHECK(x->dense_above == kernels::measured_crossovers.dense_above);
    CHECK(x->bitplane_above[4] == kernels::measured_crossovers.bitplane_above[4]);
}

TEST_CASE("fit_crossovers: bit-plane thresholds per width, unmeasured widths take the next wider one") {
    std::vector<kernels::BitplaneMeasurement> m;
    for (const double d : {0.2, 0.35, 0.5, 0.75}) {
        m.push_back({1, d, d >= 0.35 ? 1.5 : 0.8});   // wins from 35 %
        m.push_back({4, d, 0.6});                      // never
        m.push_back({2, d, d == 0.35 ? 1.1 : 0.9});   // a blip: never
    }
    auto x = kernels::fit_crossovers({}, m);
    REQUIRE(x.ok());
    CHECK(x->bitplane_above[1] == Approx(std::sqrt(0.2 * 0.35)));
    CHECK(x->bitplane_above[2] > 1.0);
    CHECK(x->bitplane_above[3] > 1.0);  // as 4-bit
    CHECK(x->bitplane_above[4] > 1.0);
    CHECK(x->bitplane_above[8] == kernels::measured_crossovers.bitplane_above[8]);  // nothing wider measured
    KernelChoiceInput in;
    in.bits = 1;
    in.have_bitplane = true;
    in.density = 0.3;
    CHECK(kernels::choose_kernel(in, *x) == Kernel::bitplane);
    in.density = 0.25;
    CHECK(kernels::choose_kernel(in, *x) == Kernel::event);
}

TEST_CASE("fit_crossovers: a bit-plane threshold must hold at every measured size") {
    std::vector<kernels::BitplaneMeasurement> m;
    for (const double d : {0.2, 0.35, 0.5, 0.75}) {
        m.push_back({1, d, d >= 0.5 ? 1.5 : 0.8, 256});    // small layer: wins from 50 %
        m.push_back({1, d, d >= 0.35 ? 1.5 : 0.8, 1536});  // large layer: from 35 %
    }
    auto x = kernels::fit_crossovers({}, m);
    REQUIRE(x.ok());
    CHECK(x->bitplane_above[1] == Approx(std::sqrt(0.35 * 0.5)));
}

TEST_CASE("fit_crossovers refuses measurements it cannot use") {
    std::vector<kernels::TemporalMeasurement> one_step{{MiB, 0.1, 1, 2.0}};
    CHECK(kernels::fit_crossovers(one_step, {}).status() == Status::invalid_argument);
    std::vector<kernels::TemporalMeasurement> too_many;
    for (std::size_t i = 1; i <= kernels::max_temporal_rules + 1; ++i) too_many.push_back({i * MiB, 0.1, 8, 2.0});
    auto r = kernels::fit_crossovers(too_many, {});
    CHECK(r.status() == Status::invalid_argument);
    CHECK_THAT(std::string(r.message()), Catch::Contains("max_temporal_rules"));
    std::vector<kernels::BitplaneMeasurement> bad_bits{{9, 0.5, 2.0}};
    CHECK(kernels::fit_crossovers({}, bad_bits).status() == Status::invalid_argument);
}

TEST_CASE("calibrate_crossovers measures every requested point and SpikeMatvec uses what it is given") {
    kernels::CalibrationOptions opt;
    opt.temporal_weight_kib = {64, 256};
    opt.temporal_densities = {0.5};
    opt.temporal_steps = {4, 8};
    opt.bitplane_bits = {1, 8};
    opt.bitplane_densities = {0.5};
    opt.bitplane_sizes = {100};
    opt.seconds_per_timing = 0.0;
    opt.repeats = 1;
    auto cal = kernels::calibrate_crossovers(opt);
    REQUIRE(cal.ok());
    REQUIRE(cal->temporal.size() == 4);
    REQUIRE(cal->bitplane.size() == 2);
    for (const auto& m : cal->temporal) {
        CHECK(m.speedup > 0);
        CHECK((m.weight_bytes == 64 * 1024 || m.weight_bytes == 256 * 1024));
    }
    for (const auto& m : cal->bitplane) CHECK(m.speedup > 0);

    // A layer follows the crossovers it is handed (and its copies do too).
    const auto w = test::random_weights<4, encoding::Signed>(64, 256, ScaleLayout::per_channel(), 3);
    auto mv = kernels::SpikeMatvec::prepare(w.view(), {.bitplane = true});
    REQUIRE(mv.ok());
    CHECK(mv->choose(0.5) == Kernel::event);
    kernels::Crossovers always_bitplane = kernels::measured_crossovers;
    for (auto& t : always_bitplane.bitplane_above) t = 0.0;
    mv->use_crossovers(always_bitplane);
    CHECK(mv->choose(0.5) == Kernel::bitplane);
    const kernels::SpikeMatvec copy = *mv;
    CHECK(copy.choose(0.5) == Kernel::bitplane);
    const auto spikes = test::random_spikes(256, 0.5, 4);
    std::vector<std::int16_t> out(64);
    auto info = copy.accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int16_t>(out));
    REQUIRE(info.ok());
    CHECK(info->kernel == Kernel::bitplane);
    CHECK(test::widen(out) == test::naive_accumulate(w.view(), spikes));
}

TEST_CASE("calibrate_crossovers refuses options it cannot measure") {
    auto with = [](auto change) {
        kernels::CalibrationOptions opt;
        opt.temporal_weight_kib = {16};
        opt.bitplane_bits = {1};
        opt.bitplane_sizes = {64};
        opt.seconds_per_timing = 0.0;
        opt.repeats = 1;
        change(opt);
        return kernels::calibrate_crossovers(opt).status();
    };
    CHECK(with([](auto& o) { o.temporal_steps = {1}; }) == Status::out_of_range);
    CHECK(with([](auto& o) { o.temporal_steps = {65}; }) == Status::out_of_range);
    CHECK(with([](auto& o) { o.temporal_densities = {0.0}; }) == Status::out_of_range);
    CHECK(with([](auto& o) { o.bitplane_densities = {1.5}; }) == Status::out_of_range);
    CHECK(with([](auto& o) { o.bitplane_bits = {3}; }) == Status::out_of_range);
    CHECK(with([](auto& o) { o.temporal_weight_kib = {0}; }) == Status::out_of_range);
    CHECK(with([](auto& o) { o.repeats = 0; }) == Status::out_of_range);
    CHECK(with([](auto& o) { o.bitplane_sizes = {0}; }) == Status::out_of_range);
}
