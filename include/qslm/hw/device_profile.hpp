#pragma once
// DeviceProfile: what a deployment target offers — flash, SRAM, word width, SIMD extension,
// clock, optional neuromorphic core limits and optional measured energy figures — read from a
// small JSON file (format in docs/profiles.md) or taken from the built-ins
// (qslm/hw/builtin_profiles.hpp). Parsing is strict: a missing field, a wrong type, a zero or
// negative size, an unknown SIMD name or an unknown (misspelt) field is an error that names the
// file and the field, because a silently ignored "flash_byte" would give a wrong fit answer.
//
// Host-side header.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/hw/op_prices.hpp"

namespace qslm::hw {

/// The vector extension a target has, which decides the kernels worth generating for it.
enum class Simd : std::uint8_t { none, dsp, helium, neon, sse, avx2, avx512 };

inline constexpr std::string_view simd_names[] = {"none", "dsp", "helium", "neon", "sse", "avx2", "avx512"};

constexpr std::string_view to_string(Simd s) noexcept { return simd_names[static_cast<std::size_t>(s)]; }

constexpr std::optional<Simd> simd_from_string(std::string_view name) noexcept {
    for (std::size_t i = 0; i < std::size(simd_names); ++i)
        if (simd_names[i] == name) return static_cast<Simd>(i);
    return std::nullopt;
}

/// A neuromorphic chip's mapping limits: a layer occupies whole cores, each holding at most
/// `neurons_per_core` neurons and `synapses_per_core` synapses, with weights of at most
/// `weight_bits` bits.
struct NeuromorphicLimits {
    std::uint64_t cores = 0;
    std::uint64_t neurons_per_core = 0;
    std::uint64_t synapses_per_core = 0;
    unsigned weight_bits = 0;

    friend constexpr bool operator==(const NeuromorphicLimits&, const NeuromorphicLimits&) = default;
};

struct DeviceProfile {
    std::string name;
    std::string description;
    std::uint64_t flash_bytes = 0;  ///< read-only storage for weights and code
    std::uint64_t sram_bytes = 0;   ///< RAM for the arena (and for the weights when weights_in_ram)
    unsigned word_bits = 32;
    Simd simd = Simd::none;
    double clock_hz = 0;
    std::uint64_t code_reserve_bytes = 0;  ///< flash kept for the program when its size is not measured
    std::uint64_t ram_reserve_bytes = 0;   ///< RAM kept for stack, runtime statics, operating system
    bool weights_in_ram = false;           ///< the target copies the weights to RAM to run (application processors)
    std::optional<NeuromorphicLimits> neuromorphic;
    EnergyOverrides energy;

    friend bool operator==(const DeviceProfile&, const DeviceProfile&) = default;
};

/// Reserves used when a profile file does not give them: room for a firmware around the
/// runtime (64 KiB of code) and its stack and statics (16 KiB), but never more than a quarter
/// of a small device, so that tiny targets remain usable.
constexpr std::uint64_t default_code_reserve_bytes(std::uint64_t flash_bytes) noexcept {
    return std::min<std::uint64_t>(std::uint64_t{64} << 10, flash_bytes / 4);
}
constexpr std::uint64_t default_ram_reserve_bytes(std::uint64_t sram_bytes) noexcept {
    return std::min<std::uint64_t>(std::uint64_t{16} << 10, sram_bytes / 4);
}

/// Where the energy model should think weights and activations live on this device.
inline MemoryContext memory_context(const DeviceProfile& p) {
    return {p.weights_in_ram ? p.sram_bytes : p.flash_bytes, p.sram_bytes};
}

namespace detail {

[[noreturn]] inline void profile_error(const std::string& source, const std::string& what) {
    fail(Status::corrupt_data, source + ": " + what);
}

inline void reject_unknown_fields(const nlohmann::json& object, std::initializer_list<std::string_view> known,
                                  const std::string& source, const std::string& prefix) {
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
        std::string list;
        for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        profile_error(source, "unknown field '" + prefix + it.key() + "' (known fields: " + list + ")");
    }
}

/// A whole number of at least `minimum`. JSON writers may spell 2000000 as 2e6, so an integral
/// float is accepted too.
inline std::uint64_t read_count(const nlohmann::json& v, const std::string& field, std::uint64_t minimum,
                                const std::string& source) {
    const std::string expected = minimum > 0 ? "a positive integer" : "a non-negative integer";
    // Parsed text stores non-negative integers as unsigned, but a json built in code may hold
    // them signed; both are accepted when not negative.
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
        const auto n = v.get<std::uint64_t>();
        if (n < minimum) profile_error(source, "field '" + field + "' must be " + expected + ", got " + v.dump());
        return n;
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(minimum) && d < 1.8e19)
            return static_cast<std::uint64_t>(d);
    }
    profile_error(source, "field '" + field + "' must be " + expected + ", got " + v.dump());
}

inline const nlohmann::json& required(const nlohmann::json& object, const std::string& key, const std::string& prefix,
                                      const std::string& source) {
    auto it = object.find(key);
    if (it == object.end()) profile_error(source, "missing required field '" + prefix + key + "'");
    return *it;
}

}  // namespace detail

/// Checks the relations between fields that the parser cannot check one field at a time;
/// built-in profiles go through it too.
inline void validate(const DeviceProfile& p, const std::string& source) {
    using detail::profile_error;
    if (p.name.empty()) profile_error(source, "field 'name' must not be empty");
    if (p.flash_bytes == 0) profile_error(source, "field 'flash_bytes' must be a positive integer, got 0");
    if (p.sram_bytes == 0) profile_error(source, "field 'sram_bytes' must be a positive integer, got 0");
    if (p.word_bits != 8 && p.word_bits != 16 && p.word_bits != 32 && p.word_bits != 64)
        profile_error(source, "field 'word_bits' must be 8, 16, 32 or 64, got " + std::to_string(p.word_bits));
    if (!(std::isfinite(p.clock_hz) && p.clock_hz > 0.0))
        profile_error(source, "field 'clock_hz' must be a positive number of hertz");
    if (p.code_reserve_bytes >= p.flash_bytes)
        profile_error(source, "field 'code_reserve_bytes' (" + std::to_string(p.code_reserve_bytes) +
                                  ") must be smaller than 'flash_bytes' (" + std::to_string(p.flash_bytes) + ")");
    if (p.ram_reserve_bytes >= p.sram_bytes)
        profile_error(source, "field 'ram_reserve_bytes' (" + std::to_string(p.ram_reserve_bytes) +
                                  ") must be smaller than 'sram_bytes' (" + std::to_string(p.sram_bytes) + ")");
    if (p.neuromorphic) {
        const NeuromorphicLimits& n = *p.neuromorphic;
        if (n.cores == 0) profile_error(source, "field 'neuromorphic.cores' must be a positive integer, got 0");
        if (n.neurons_per_core == 0)
            profile_error(source, "field 'neuromorphic.neurons_per_core' must be a positive integer, got 0");
        if (n.synapses_per_core == 0)
            profile_error(source, "field 'neuromorphic.synapses_per_core' must be a positive integer, got 0");
        if (n.weight_bits < 1 || n.weight_bits > 32)
            profile_error(source, "field 'neuromorphic.weight_bits' must be 1..32, got " + std::to_string(n.weight_bits));
    }
    validate(p.energy, source);
}

/// Reads a profile from parsed JSON; `source` names where it came from in every error
/// (e.g. "device profile 'boards/h7.json'").
inline DeviceProfile parse_profile(const nlohmann::json& j, const std::string& source) {
    using detail::profile_error;
    using detail::read_count;
    using detail::required;
    if (!j.is_object()) profile_error(source, "a device profile must be a JSON object, got " + std::string(j.type_name()));
    detail::reject_unknown_fields(j,
                                  {"name", "description", "flash_bytes", "sram_bytes", "word_bits", "simd", "clock_hz",
                                   "code_reserve_bytes", "ram_reserve_bytes", "weights_in_ram", "neuromorphic", "energy"},
                                  source, "");
    DeviceProfile p;

    const nlohmann::json& name = required(j, "name", "", source);
    if (!name.is_string() || name.get<std::string>().empty())
        profile_error(source, "field 'name' must be a non-empty string, got " + name.dump());
    p.name = name.get<std::string>();

    if (auto it = j.find("description"); it != j.end()) {
        if (!it->is_string()) profile_error(source, "field 'description' must be a string, got " + it->dump());
        p.description = it->get<std::string>();
    }

    p.flash_bytes = read_count(required(j, "flash_bytes", "", source), "flash_bytes", 1, source);
    p.sram_bytes = read_count(required(j, "sram_bytes", "", source), "sram_bytes", 1, source);
    p.word_bits = static_cast<unsigned>(std::min<std::uint64_t>(
        read_count(required(j, "word_bits", "", source), "word_bits", 1, source), 1024));

    const nlohmann::json& simd = required(j, "simd", "", source);
    std::optional<Simd> parsed_simd = simd.is_string() ? simd_from_string(simd.get<std::string>()) : std::nullopt;
    if (!parsed_simd) {
        std::string list;
        for (std::string_view s : simd_names) list += (list.empty() ? "" : ", ") + std::string(s);
        profile_error(source, "field 'simd' must be one of " + list + ", got " + simd.dump());
    }
    p.simd = *parsed_simd;

    const nlohmann::json& clock = required(j, "clock_hz", "", source);
    if (!clock.is_number() || !(clock.get<double>() > 0.0) || !std::isfinite(clock.get<double>()))
        profile_error(source, "field 'clock_hz' must be a positive number of hertz, got " + clock.dump());
    p.clock_hz = clock.get<double>();

    auto reserve = [&](const char* key, std::uint64_t fallback) {
        auto it = j.find(key);
        return it == j.end() ? fallback : read_count(*it, key, 0, source);
    };
    p.code_reserve_bytes = reserve("code_reserve_bytes", default_code_reserve_bytes(p.flash_bytes));
    p.ram_reserve_bytes = reserve("ram_reserve_bytes", default_ram_reserve_bytes(p.sram_bytes));

    if (auto it = j.find("weights_in_ram"); it != j.end()) {
        if (!it->is_boolean()) profile_error(source, "field 'weights_in_ram' must be true or false, got " + it->dump());
        p.weights_in_ram = it->get<bool>();
    }

    if (auto it = j.find("neuromorphic"); it != j.end()) {
        const nlohmann::json& n = *it;
        if (!n.is_object()) profile_error(source, "field 'neuromorphic' must be a JSON object, got " + n.dump());
        detail::reject_unknown_fields(n, {"cores", "neurons_per_core", "synapses_per_core", "weight_bits"}, source,
                                      "neuromorphic.");
        NeuromorphicLimits limits;
        limits.cores = read_count(required(n, "cores", "neuromorphic.", source), "neuromorphic.cores", 1, source);
        limits.neurons_per_core = read_count(required(n, "neurons_per_core", "neuromorphic.", source),
                                             "neuromorphic.neurons_per_core", 1, source);
        limits.synapses_per_core = read_count(required(n, "synapses_per_core", "neuromorphic.", source),
                                              "neuromorphic.synapses_per_core", 1, source);
        limits.weight_bits = static_cast<unsigned>(std::min<std::uint64_t>(
            read_count(required(n, "weight_bits", "neuromorphic.", source), "neuromorphic.weight_bits", 1, source),
            1024));
        p.neuromorphic = limits;
    }

    if (auto it = j.find("energy"); it != j.end()) {
        const nlohmann::json& e = *it;
        if (!e.is_object()) profile_error(source, "field 'energy' must be a JSON object, got " + e.dump());
        detail::reject_unknown_fields(e,
                                      {"synaptic_accumulate_pj", "multiply_accumulate_pj", "state_update_pj", "spike_pj",
                                       "weight_read_pj_per_bit", "activation_access_pj_per_bit"},
                                      source, "energy.");
        auto energy = [&](const char* key, std::optional<double>& out) {
            auto f = e.find(key);
            if (f == e.end()) return;
            if (!f->is_number() || !(f->get<double>() >= 0.0) || !std::isfinite(f->get<double>()))
                profile_error(source, std::string("field 'energy.") + key +
                                          "' must be a non-negative number of picojoules, got " + f->dump());
            out = f->get<double>();
        };
        energy("synaptic_accumulate_pj", p.energy.synaptic_accumulate_pj);
        energy("multiply_accumulate_pj", p.energy.multiply_accumulate_pj);
        energy("state_update_pj", p.energy.state_update_pj);
        energy("spike_pj", p.energy.spike_pj);
        energy("weight_read_pj_per_bit", p.energy.weight_read_pj_per_bit);
        energy("activation_access_pj_per_bit", p.energy.activation_access_pj_per_bit);
    }

    validate(p, source);
    return p;
}

/// Parses profile text (the contents of a .json file).
inline DeviceProfile parse_profile_text(std::string_view text, const std::string& source) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        fail(Status::corrupt_data, source + " is not valid JSON: " + e.what());
    }
    return parse_profile(j, source);
}

/// Loads a profile file; every error names the file.
inline DeviceProfile load_profile(const std::filesystem::path& path) {
    const std::string source = "device profile '" + path.string() + "'";
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(Status::io_error, "cannot open " + source + " for reading");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) fail(Status::io_error, "cannot read " + source);
    return parse_profile_text(text.str(), source);
}

/// The profile as the JSON a file would hold (every field written out, reserves included), so
/// `qslm info` can show it and a built-in can be copied and edited.
inline void to_json(nlohmann::json& j, const DeviceProfile& p) {
    j = nlohmann::json::object();
    j["name"] = p.name;
    if (!p.description.empty()) j["description"] = p.description;
    j["flash_bytes"] = p.flash_bytes;
    j["sram_bytes"] = p.sram_bytes;
    j["word_bits"] = p.word_bits;
    j["simd"] = std::string(to_string(p.simd));
    j["clock_hz"] = p.clock_hz;
    j["code_reserve_bytes"] = p.code_reserve_bytes;
    j["ram_reserve_bytes"] = p.ram_reserve_bytes;
    j["weights_in_ram"] = p.weights_in_ram;
    if (p.neuromorphic) {
        j["neuromorphic"] = {{"cores", p.neuromorphic->cores},
                             {"neurons_per_core", p.neuromorphic->neurons_per_core},
                             {"synapses_per_core", p.neuromorphic->synapses_per_core},
                             {"weight_bits", p.neuromorphic->weight_bits}};
    }
    nlohmann::json energy = nlohmann::json::object();
    auto put = [&](const char* key, const std::optional<double>& v) {
        if (v) energy[key] = *v;
    };
    put("synaptic_accumulate_pj", p.energy.synaptic_accumulate_pj);
    put("multiply_accumulate_pj", p.energy.multiply_accumulate_pj);
    put("state_update_pj", p.energy.state_update_pj);
    put("spike_pj", p.energy.spike_pj);
    put("weight_read_pj_per_bit", p.energy.weight_read_pj_per_bit);
    put("activation_access_pj_per_bit", p.energy.activation_access_pj_per_bit);
    if (!energy.empty()) j["energy"] = std::move(energy);
}

}  // namespace qslm::hw
