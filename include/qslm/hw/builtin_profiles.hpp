#pragma once
// The built-in device profiles, compiled in as constexpr data so that `--target cortex-m7`
// works without any file. docs/profiles/*.json holds the same descriptions as files to copy and
// edit; a test keeps the two in step. The assumptions behind each number are in
// docs/profiles.md.
//
// Host-side header.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "qslm/hw/device_profile.hpp"

namespace qslm::hw {

/// A profile as compile-time data (string_view instead of std::string).
struct BuiltinProfile {
    std::string_view name;
    std::string_view description;
    std::uint64_t flash_bytes;
    std::uint64_t sram_bytes;
    unsigned word_bits;
    Simd simd;
    double clock_hz;
    std::uint64_t code_reserve_bytes;
    std::uint64_t ram_reserve_bytes;
    bool weights_in_ram = false;
    std::optional<NeuromorphicLimits> neuromorphic = std::nullopt;
    EnergyOverrides energy = {};

    [[nodiscard]] DeviceProfile profile() const {
        return {std::string(name), std::string(description), flash_bytes, sram_bytes, word_bits, simd, clock_hz,
                code_reserve_bytes, ram_reserve_bytes, weights_in_ram, neuromorphic, energy};
    }
};

namespace detail {
inline constexpr std::uint64_t KiB = 1024;
inline constexpr std::uint64_t MiB = 1024 * KiB;
}  // namespace detail

inline constexpr std::array<BuiltinProfile, 4> builtin_profiles{{
    {.name = "cortex-m4",
     .description = "Cortex-M4F microcontroller (STM32F4-class): 1 MiB on-chip flash, 256 KiB SRAM, DSP extension",
     .flash_bytes = 1 * detail::MiB,
     .sram_bytes = 256 * detail::KiB,
     .word_bits = 32,
     .simd = Simd::dsp,
     .clock_hz = 168e6,
     .code_reserve_bytes = 64 * detail::KiB,
     .ram_reserve_bytes = 16 * detail::KiB},
    {.name = "cortex-m7",
     .description = "Cortex-M7 microcontroller (STM32H7-class): 2 MiB on-chip flash, 1 MiB SRAM, DSP extension",
     .flash_bytes = 2 * detail::MiB,
     .sram_bytes = 1 * detail::MiB,
     .word_bits = 32,
     .simd = Simd::dsp,
     .clock_hz = 480e6,
     .code_reserve_bytes = 64 * detail::KiB,
     .ram_reserve_bytes = 32 * detail::KiB},
    {.name = "cortex-a53",
     .description = "Cortex-A53 application processor (Raspberry-Pi-3-class, Linux): 16 MiB storage budget for "
                    "the model, 512 MiB DRAM, NEON; weights are loaded into DRAM to run",
     .flash_bytes = 16 * detail::MiB,
     .sram_bytes = 512 * detail::MiB,
     .word_bits = 64,
     .simd = Simd::neon,
     .clock_hz = 1.2e9,
     .code_reserve_bytes = 2 * detail::MiB,
     .ram_reserve_bytes = 128 * detail::MiB,
     .weights_in_ram = true,
     // Weights stream from DRAM (Horowitz: 1.3 nJ per 64-bit access); activations stay in the
     // 512 KB L2 (priced as his 1 MB SRAM, 100 pJ per 64 bits).
     .energy = {.weight_read_pj_per_bit = 1300.0 / 64.0, .activation_access_pj_per_bit = 100.0 / 64.0}},
    {.name = "loihi-like",
     .description = "Illustrative neuromorphic chip after Intel Loihi: 128 cores of 1,024 neurons and 128 Ki "
                    "8-bit synapses each; flash stands for the synaptic memory, SRAM for neuron state",
     .flash_bytes = 16 * detail::MiB,
     .sram_bytes = 2 * detail::MiB,
     .word_bits = 32,
     .simd = Simd::none,
     .clock_hz = 1e8,
     .code_reserve_bytes = 0,
     .ram_reserve_bytes = 0,
     .neuromorphic = NeuromorphicLimits{.cores = 128, .neurons_per_core = 1024, .synapses_per_core = 128 * 1024,
                                        .weight_bits = 8}},
}};

/// "cortex-m4, cortex-m7, ...": for error messages and --help.
inline std::string builtin_profile_names() {
    std::string list;
    for (const BuiltinProfile& b : builtin_profiles) list += (list.empty() ? "" : ", ") + std::string(b.name);
    return list;
}

inline std::optional<DeviceProfile> find_builtin_profile(std::string_view name) {
    for (const BuiltinProfile& b : builtin_profiles)
        if (b.name == name) return b.profile();
    return std::nullopt;
}

inline DeviceProfile builtin_profile(std::string_view name) {
    if (auto p = find_builtin_profile(name)) return *p;
    fail(Status::not_found,
         "no built-in device profile named '" + std::string(name) + "' (built-ins: " + builtin_profile_names() + ")");
}

/// What `--target NAME` accepts: a built-in name, or else the path of a profile file.
inline DeviceProfile resolve_profile(std::string_view name_or_path) {
    if (auto p = find_builtin_profile(name_or_path)) return *p;
    std::error_code ec;
    const std::filesystem::path path{std::string(name_or_path)};
    if (std::filesystem::exists(path, ec)) return load_profile(path);
    fail(Status::not_found, "unknown target '" + std::string(name_or_path) +
                                "': not a built-in device profile (" + builtin_profile_names() +
                                ") and no profile file at that path");
}

}  // namespace qslm::hw
