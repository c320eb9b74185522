#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "qslm/hw/builtin_profiles.hpp"
#include "qslm/hw/fit_check.hpp"

using qslm::hw::Footprint;
using qslm::hw::Resource;

namespace {
constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;

bool says_fits(const std::string& s) {
    return s.find(" fits ") != std::string::npos && s.find("does not fit") == std::string::npos;
}
bool says_does_not_fit(const std::string& s) {
    return s.find(" does not fit ") != std::string::npos && s.find("fits") == std::string::npos;
}
}  // namespace

TEST_CASE("a model within flash and SRAM fits, and the sentence says so") {
    const auto m7 = qslm::hw::builtin_profile("cortex-m7");
    const auto r = qslm::hw::check_fit(m7, Footprint{.weight_bytes = 1 * MiB, .arena_bytes = 300 * KiB});
    CHECK(r.fits);
    CHECK(says_fits(r.sentence));
    CHECK(r.bottleneck == Resource::flash);  // (1 MiB + 64 KiB) / 2 MiB is fuller than (300 + 32) KiB / 1 MiB
    REQUIRE(r.find(Resource::flash));
    CHECK(r.find(Resource::flash)->needed == 1 * MiB + 64 * KiB);
    CHECK(r.find(Resource::flash)->spare() == 2 * MiB - (1 * MiB + 64 * KiB));
    CHECK(r.find(Resource::ram)->needed == 332 * KiB);
    CHECK_FALSE(r.find(Resource::neuromorphic_cores));
    CHECK(r.sentence ==
          "the model fits on cortex-m7: flash 1.1 MiB of 2.0 MiB (53%), RAM 332.0 KiB of 1.0 MiB (32%); "
          "bottleneck: flash (960.0 KiB to spare)");
}

TEST_CASE("a model too big for flash does not fit, and flash is the bottleneck") {
    const auto m4 = qslm::hw::builtin_profile("cortex-m4");
    const auto r = qslm::hw::check_fit(m4, Footprint{.weight_bytes = 1 * MiB, .arena_bytes = 10 * KiB}, "spikegpt-tiny");
    CHECK_FALSE(r.fits);
    CHECK(says_does_not_fit(r.sentence));
    CHECK(r.bottleneck == Resource::flash);
    CHECK(r.find(Resource::flash)->shortfall() == 64 * KiB);
    CHECK_THAT(r.sentence, Catch::StartsWith("spikegpt-tiny does not fit on cortex-m4: flash 1.1 MiB of 1.0 MiB (64.0 KiB short)"));
    CHECK_THAT(r.sentence, Catch::EndsWith("bottleneck: flash"));
}

TEST_CASE("an arena too big for SRAM makes RAM the bottleneck") {
    const auto m4 = qslm::hw::builtin_profile("cortex-m4");
    const auto r = qslm::hw::check_fit(m4, Footprint{.weight_bytes = 100 * KiB, .arena_bytes = 250 * KiB});
    CHECK_FALSE(r.fits);
    CHECK(r.bottleneck == Resource::ram);
    CHECK(r.find(Resource::ram)->shortfall() == 10 * KiB);
    CHECK(says_does_not_fit(r.sentence));
}

TEST_CASE("a measured code size replaces the profile's code reserve") {
    const auto m4 = qslm::hw::builtin_profile("cortex-m4");
    Footprint f{.weight_bytes = 1 * MiB - 16 * KiB, .arena_bytes = 0};
    CHECK_FALSE(qslm::hw::check_fit(m4, f).fits);  // + 64 KiB reserve is too much
    f.code_bytes = 16 * KiB;
    CHECK(qslm::hw::check_fit(m4, f).fits);  // exactly full
    CHECK(qslm::hw::check_fit(m4, f).find(Resource::flash)->spare() == 0);
}

TEST_CASE("on a target that runs from RAM, the weights count against RAM too") {
    const auto a53 = qslm::hw::builtin_profile("cortex-a53");
    const auto ok = qslm::hw::check_fit(a53, Footprint{.weight_bytes = 12 * MiB, .arena_bytes = 100 * MiB});
    CHECK(ok.fits);
    CHECK(ok.find(Resource::ram)->needed == 12 * MiB + 100 * MiB + 128 * MiB);
    const auto big = qslm::hw::check_fit(a53, Footprint{.weight_bytes = 12 * MiB, .arena_bytes = 380 * MiB});
    CHECK_FALSE(big.fits);
    CHECK(big.bottleneck == Resource::ram);
}

TEST_CASE("on a neuromorphic target, per-layer core demand and weight bits are checked") {
    const auto loihi = qslm::hw::builtin_profile("loihi-like");
    Footprint f{.weight_bytes = 1 * MiB, .arena_bytes = 64 * KiB, .max_weight_bits = 8};
    // 1025 neurons need 2 cores; 300 Ki synapses need 3 cores of 128 Ki: the layer takes 3.
    f.core_demand = {{"block0", 1025, 300 * 1024}, {"block1", 10, 10}};
    CHECK(qslm::hw::cores_needed(*loihi.neuromorphic, f.core_demand) == 4);
    auto r = qslm::hw::check_fit(loihi, f);
    CHECK(r.fits);
    CHECK(r.find(Resource::neuromorphic_cores)->needed == 4);
    CHECK(r.find(Resource::weight_bits)->needed == 8);

    f.core_demand.assign(130, qslm::hw::CoreDemand{"layer", 1024, 1024});
    r = qslm::hw::check_fit(loihi, f);
    CHECK_FALSE(r.fits);
    CHECK(r.bottleneck == Resource::neuromorphic_cores);
    CHECK_THAT(r.sentence, Catch::Contains("neuromorphic cores 130 of 128 (2 short)"));
    CHECK_THAT(r.sentence, Catch::EndsWith("bottleneck: neuromorphic cores"));

    f.core_demand.clear();
    f.max_weight_bits = 16;
    r = qslm::hw::check_fit(loihi, f);
    CHECK_FALSE(r.fits);
    CHECK(r.bottleneck == Resource::weight_bits);
    CHECK(says_does_not_fit(r.sentence));
}

TEST_CASE("the memory budget is flash minus the code reserve and SRAM minus the RAM reserve") {
    const auto m7 = qslm::hw::memory_budget(qslm::hw::builtin_profile("cortex-m7"));
    CHECK(m7.weight_bytes == 2 * MiB - 64 * KiB);
    CHECK(m7.arena_bytes == 1 * MiB - 32 * KiB);
    const auto m4 = qslm::hw::memory_budget(qslm::hw::builtin_profile("cortex-m4"));
    CHECK(m4.weight_bytes == 1 * MiB - 64 * KiB);
    CHECK(m4.arena_bytes == 240 * KiB);
    // From RAM: the weights also share RAM with the arena.
    const auto a53 = qslm::hw::memory_budget(qslm::hw::builtin_profile("cortex-a53"), 380 * MiB);
    CHECK(a53.weight_bytes == 4 * MiB);
    CHECK(qslm::hw::memory_budget(qslm::hw::builtin_profile("cortex-a53")).weight_bytes == 14 * MiB);
}

TEST_CASE("a footprint fits exactly when it is within the derived memory budget") {
    const auto& builtin = GENERATE(from_range(qslm::hw::builtin_profiles));
    const auto profile = builtin.profile();
    const double weight_fraction = GENERATE(0.0, 0.25, 0.5, 0.9, 0.999, 1.0, 1.001, 1.5);
    const double arena_fraction = GENERATE(0.0, 0.5, 1.0, 1.01);
    const auto capacity = qslm::hw::memory_budget(profile);
    const auto weights = static_cast<std::uint64_t>(weight_fraction * static_cast<double>(capacity.weight_bytes));
    const auto arena = static_cast<std::uint64_t>(arena_fraction * static_cast<double>(capacity.arena_bytes));
    const auto budget = qslm::hw::memory_budget(profile, arena);
    const bool within = weights <= budget.weight_bytes && arena <= budget.arena_bytes;
    const auto r = qslm::hw::check_fit(profile, Footprint{.weight_bytes = weights, .arena_bytes = arena});
    INFO(profile.name << ": weights " << weights << ", arena " << arena << ": " << r.sentence);
    CHECK(r.fits == within);
    CHECK((r.fits ? says_fits(r.sentence) : says_does_not_fit(r.sentence)));
}
