#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "qslm/hw/builtin_profiles.hpp"
#include "qslm/hw/device_profile.hpp"

using nlohmann::json;
using qslm::hw::DeviceProfile;
using qslm::hw::Simd;

namespace {

json minimal_profile() {
    return {{"name", "board"}, {"flash_bytes", 524288}, {"sram_bytes", 131072},
            {"word_bits", 32},  {"simd", "helium"},      {"clock_hz", 2e8}};
}

std::string error_of(const json& j) {
    try {
        (void)qslm::hw::parse_profile(j, "device profile 'board.json'");
    } catch (const qslm::Error& e) {
        CHECK(e.code() == qslm::Status::corrupt_data);
        return e.what();
    }
    return "no error";
}

std::filesystem::path scratch_file(const std::string& name, const std::string& text) {
    const auto path = std::filesystem::path(QSLM_BINARY_DIR) / "test_hw_scratch" / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

}  // namespace

TEST_CASE("the built-in profiles describe the targets the issue names") {
    const DeviceProfile m7 = qslm::hw::builtin_profile("cortex-m7");
    CHECK(m7.flash_bytes == 2 * 1024 * 1024);
    CHECK(m7.sram_bytes == 1024 * 1024);
    CHECK(m7.simd == Simd::dsp);
    const DeviceProfile m4 = qslm::hw::builtin_profile("cortex-m4");
    CHECK(m4.flash_bytes == 1024 * 1024);
    CHECK(m4.sram_bytes == 256 * 1024);
    const DeviceProfile a53 = qslm::hw::builtin_profile("cortex-a53");
    CHECK(a53.simd == Simd::neon);
    CHECK(a53.word_bits == 64);
    CHECK(a53.weights_in_ram);
    const DeviceProfile loihi = qslm::hw::builtin_profile("loihi-like");
    REQUIRE(loihi.neuromorphic);
    CHECK(loihi.neuromorphic->cores == 128);
    CHECK(loihi.neuromorphic->weight_bits == 8);
}

TEST_CASE("every built-in profile is valid and equals its file in docs/profiles/") {
    for (const auto& builtin : qslm::hw::builtin_profiles) {
        const DeviceProfile p = builtin.profile();
        INFO(p.name);
        CHECK_NOTHROW(qslm::hw::validate(p, "built-in profile"));
        const auto path = std::filesystem::path(QSLM_SOURCE_DIR) / "docs" / "profiles" / (p.name + ".json");
        CHECK(qslm::hw::load_profile(path) == p);
    }
    CHECK(qslm::hw::builtin_profile_names() == "cortex-m4, cortex-m7, cortex-a53, loihi-like");
}

TEST_CASE("a profile survives a round trip through JSON") {
    for (const auto& builtin : qslm::hw::builtin_profiles) {
        const DeviceProfile p = builtin.profile();
        INFO(p.name);
        const json j = p;
        CHECK(qslm::hw::parse_profile(j, "round trip") == p);
    }
}

TEST_CASE("a minimal profile gets documented default reserves") {
    const DeviceProfile p = qslm::hw::parse_profile(minimal_profile(), "minimal");
    CHECK(p.name == "board");
    CHECK(p.simd == Simd::helium);
    CHECK(p.clock_hz == 2e8);
    CHECK(p.code_reserve_bytes == 64 * 1024);
    CHECK(p.ram_reserve_bytes == 16 * 1024);
    CHECK_FALSE(p.weights_in_ram);
    CHECK_FALSE(p.neuromorphic);
    CHECK(p.energy == qslm::hw::EnergyOverrides{});

    json tiny = minimal_profile();
    tiny["flash_bytes"] = 32768;
    tiny["sram_bytes"] = 8192;
    const DeviceProfile t = qslm::hw::parse_profile(tiny, "tiny");
    CHECK(t.code_reserve_bytes == 8192);  // a quarter of a small flash, not 64 KiB
    CHECK(t.ram_reserve_bytes == 2048);

    json spelled_as_float = minimal_profile();
    spelled_as_float["flash_bytes"] = 2e6;
    CHECK(qslm::hw::parse_profile(spelled_as_float, "float").flash_bytes == 2000000);
}

TEST_CASE("optional neuromorphic limits and energy overrides are read") {
    json j = minimal_profile();
    j["neuromorphic"] = {{"cores", 4}, {"neurons_per_core", 256}, {"synapses_per_core", 65536}, {"weight_bits", 4}};
    j["energy"] = {{"synaptic_accumulate_pj", 23.6}, {"state_update_pj", 52}};
    const DeviceProfile p = qslm::hw::parse_profile(j, "neuro");
    REQUIRE(p.neuromorphic);
    CHECK(p.neuromorphic->synapses_per_core == 65536);
    CHECK(p.energy.synaptic_accumulate_pj == 23.6);
    CHECK(p.energy.state_update_pj == 52.0);
    CHECK_FALSE(p.energy.spike_pj);
}

TEST_CASE("malformed profiles give an error naming the file and the field") {
    using Edit = std::pair<std::function<void(json&)>, std::string>;
    const auto [edit, expected] = GENERATE(
        Edit{[](json& j) { j.erase("flash_bytes"); }, "missing required field 'flash_bytes'"},
        Edit{[](json& j) { j.erase("simd"); }, "missing required field 'simd'"},
        Edit{[](json& j) { j["sram_bytes"] = -5; }, "field 'sram_bytes' must be a positive integer, got -5"},
        Edit{[](json& j) { j["sram_bytes"] = 0; }, "field 'sram_bytes' must be a positive integer, got 0"},
        Edit{[](json& j) { j["flash_bytes"] = "2MB"; }, "field 'flash_bytes' must be a positive integer, got \"2MB\""},
        Edit{[](json& j) { j["flash_bytes"] = 1.5; }, "field 'flash_bytes' must be a positive integer, got 1.5"},
        Edit{[](json& j) { j["word_bits"] = 12; }, "field 'word_bits' must be 8, 16, 32 or 64, got 12"},
        Edit{[](json& j) { j["simd"] = "sve"; },
             "field 'simd' must be one of none, dsp, helium, neon, sse, avx2, avx512, got \"sve\""},
        Edit{[](json& j) { j["simd"] = 3; }, "field 'simd' must be one of"},
        Edit{[](json& j) { j["clock_hz"] = 0; }, "field 'clock_hz' must be a positive number of hertz, got 0"},
        Edit{[](json& j) { j["clock_hz"] = "fast"; }, "field 'clock_hz' must be a positive number"},
        Edit{[](json& j) { j["name"] = ""; }, "field 'name' must be a non-empty string"},
        Edit{[](json& j) { j["name"] = 7; }, "field 'name' must be a non-empty string, got 7"},
        Edit{[](json& j) { j["flash_byte"] = 1; }, "unknown field 'flash_byte'"},
        Edit{[](json& j) { j["weights_in_ram"] = "yes"; }, "field 'weights_in_ram' must be true or false"},
        Edit{[](json& j) { j["code_reserve_bytes"] = 524288; },
             "field 'code_reserve_bytes' (524288) must be smaller than 'flash_bytes' (524288)"},
        Edit{[](json& j) { j["ram_reserve_bytes"] = -1; }, "field 'ram_reserve_bytes' must be a non-negative integer"},
        Edit{[](json& j) { j["neuromorphic"] = 5; }, "field 'neuromorphic' must be a JSON object"},
        Edit{[](json& j) { j["neuromorphic"] = {{"cores", 4}, {"neurons_per_core", 8}, {"synapses_per_core", 8}}; },
             "missing required field 'neuromorphic.weight_bits'"},
        Edit{[](json& j) {
                 j["neuromorphic"] = {{"cores", 0}, {"neurons_per_core", 8}, {"synapses_per_core", 8}, {"weight_bits", 8}};
             },
             "field 'neuromorphic.cores' must be a positive integer, got 0"},
        Edit{[](json& j) {
                 j["neuromorphic"] = {{"cores", 1}, {"neurons_per_core", 8}, {"synapses_per_core", 8}, {"weight_bits", 64}};
             },
             "field 'neuromorphic.weight_bits' must be 1..32, got 64"},
        Edit{[](json& j) {
                 j["neuromorphic"] = {
                     {"cores", 1}, {"neurons_per_core", 8}, {"synapse_per_core", 8}, {"weight_bits", 8}};
             },
             "unknown field 'neuromorphic.synapse_per_core'"},
        Edit{[](json& j) { j["energy"] = {{"spike_pj", -2}}; }, "field 'energy.spike_pj' must be a non-negative number"},
        Edit{[](json& j) { j["energy"] = {{"flash_pj", 2}}; }, "unknown field 'energy.flash_pj'"});
    json j = minimal_profile();
    edit(j);
    INFO(j.dump());
    const std::string message = error_of(j);
    CHECK_THAT(message, Catch::Contains(expected));
    CHECK_THAT(message, Catch::StartsWith("qslm.corrupt_data: device profile 'board.json': "));
}

TEST_CASE("a profile that is not a JSON object is rejected") {
    CHECK_THAT(error_of(json::array({1, 2})), Catch::Contains("must be a JSON object, got array"));
}

TEST_CASE("profile files: broken JSON and missing files name the file") {
    const auto broken = scratch_file("broken.json", "{ \"name\": \"x\", ");
    CHECK_THROWS_WITH(qslm::hw::load_profile(broken),
                      Catch::Contains("device profile '" + broken.string() + "' is not valid JSON"));
    const auto missing = std::filesystem::path(QSLM_BINARY_DIR) / "test_hw_scratch" / "no_such_profile.json";
    try {
        (void)qslm::hw::load_profile(missing);
        FAIL("load_profile accepted a missing file");
    } catch (const qslm::Error& e) {
        CHECK(e.code() == qslm::Status::io_error);
        CHECK_THAT(std::string(e.what()), Catch::Contains(missing.string()));
    }
    const auto wrong_field = scratch_file("wrong.json", R"({"name": "w", "flash_bytes": 1024, "sram_bytes": -1,
        "word_bits": 32, "simd": "none", "clock_hz": 1e6})");
    CHECK_THROWS_WITH(qslm::hw::load_profile(wrong_field),
                      Catch::Contains("device profile '" + wrong_field.string() + "': field 'sram_bytes'"));
}

TEST_CASE("a target is a built-in name or a profile file, and anything else is a clear error") {
    CHECK(qslm::hw::resolve_profile("cortex-m4").name == "cortex-m4");
    const auto file = scratch_file("custom.json", minimal_profile().dump());
    CHECK(qslm::hw::resolve_profile(file.string()).name == "board");
    try {
        (void)qslm::hw::resolve_profile("cortex-m9");
        FAIL("resolve_profile accepted an unknown target");
    } catch (const qslm::Error& e) {
        CHECK(e.code() == qslm::Status::not_found);
        CHECK_THAT(std::string(e.what()), Catch::Contains("unknown target 'cortex-m9'") &&
                                              Catch::Contains("cortex-m4, cortex-m7, cortex-a53, loihi-like"));
    }
    CHECK_THROWS_WITH(qslm::hw::builtin_profile("nope"), Catch::Contains("no built-in device profile named 'nope'"));
}

TEST_CASE("the energy model sees weights in flash on a microcontroller and in RAM on an application processor") {
    const auto m7 = qslm::hw::memory_context(qslm::hw::builtin_profile("cortex-m7"));
    CHECK(m7.weight_memory_bytes == 2 * 1024 * 1024);
    CHECK(m7.activation_memory_bytes == 1024 * 1024);
    const auto a53 = qslm::hw::memory_context(qslm::hw::builtin_profile("cortex-a53"));
    CHECK(a53.weight_memory_bytes == 512ull * 1024 * 1024);
}
