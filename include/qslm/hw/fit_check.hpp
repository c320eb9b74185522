#pragma once
// Fit check and memory budget: "does this model fit on that device, and if not, what is in the
// way?" and, the other way round, "how many bytes of weights may the search spend on it?".
// Both use the same accounting, so a setting within memory_budget() always passes check_fit():
//   flash needed = weights + code               (code: measured, else the profile's code reserve)
//   RAM needed   = arena + RAM reserve (+ weights when the target runs from RAM)
//   neuromorphic = sum over layers of max(ceil(neurons / per core), ceil(synapses / per core)) cores,
//                  and the widest weight against the cores' weight bits
//
// Host-side header.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qslm/hw/device_profile.hpp"

namespace qslm::hw {

/// One layer's demand on a neuromorphic chip. A layer occupies whole cores (cores are not
/// shared between layers), so demands are rounded up per layer before they are summed.
struct CoreDemand {
    std::string layer;
    std::uint64_t neurons = 0;
    std::uint64_t synapses = 0;
};

/// What a model needs on a device, in the numbers the embedded export reports.
struct Footprint {
    std::uint64_t weight_bytes = 0;            ///< packed weights, scales and constants (flash)
    std::optional<std::uint64_t> code_bytes = std::nullopt; ///< measured program size; absent: the profile's code reserve
    std::uint64_t arena_bytes = 0;             ///< membranes, spike buffers, activations, recurrent state (RAM)
    unsigned max_weight_bits = 0;              ///< widest weight; 0: not checked
    std::vector<CoreDemand> core_demand = {};  ///< per layer; empty: neuromorphic mapping not checked
};

enum class Resource : std::uint8_t { flash, ram, neuromorphic_cores, weight_bits };

constexpr std::string_view to_string(Resource r) noexcept {
    switch (r) {
        case Resource::flash: return "flash";
        case Resource::ram: return "RAM";
        case Resource::neuromorphic_cores: return "neuromorphic cores";
        case Resource::weight_bits: return "weight bits";
    }
    return "unknown";
}

struct ResourceUse {
    Resource resource = Resource::flash;
    std::uint64_t needed = 0;
    std::uint64_t available = 0;

    [[nodiscard]] bool fits() const noexcept { return needed <= available; }
    [[nodiscard]] std::uint64_t spare() const noexcept { return fits() ? available - needed : 0; }
    [[nodiscard]] std::uint64_t shortfall() const noexcept { return fits() ? 0 : needed - available; }
    /// needed / available: above 1 does not fit; the largest one is the bottleneck.
    [[nodiscard]] double utilisation() const noexcept {
        if (available == 0) return needed == 0 ? 0.0 : std::numeric_limits<double>::infinity();
        return static_cast<double>(needed) / static_cast<double>(available);
    }
};

struct FitResult {
    bool fits = false;
    Resource bottleneck = Resource::flash;  ///< the most used resource (the one that overflows most when not fitting)
    std::vector<ResourceUse> resources;     ///< every resource that was checked
    std::string sentence;                   ///< one line containing "fits" or "does not fit"

    [[nodiscard]] const ResourceUse* find(Resource r) const noexcept {
        for (const ResourceUse& u : resources)
            if (u.resource == r) return &u;
        return nullptr;
    }
};

namespace detail {

constexpr std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
    return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

inline std::string human_bytes(std::uint64_t bytes) {
    if (bytes < 1024) return std::to_string(bytes) + " B";
    const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes) / 1024.0;
    std::size_t u = 0;
    while (v >= 1024.0 && u + 1 < std::size(units)) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

inline std::string amount(const ResourceUse& u, std::uint64_t value) {
    return (u.resource == Resource::flash || u.resource == Resource::ram) ? human_bytes(value) : std::to_string(value);
}

inline std::string describe(const ResourceUse& u) {
    std::string s = std::string(to_string(u.resource)) + " " + amount(u, u.needed) + " of " + amount(u, u.available);
    if (u.fits()) {
        char pct[16];
        std::snprintf(pct, sizeof pct, " (%.0f%%)", 100.0 * u.utilisation());
        return s + pct;
    }
    return s + " (" + amount(u, u.shortfall()) + " short)";
}

constexpr std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) noexcept { return a / b + (a % b != 0); }

}  // namespace detail

/// Flash the footprint needs on this device (weights + code, or the code reserve).
inline std::uint64_t flash_needed(const DeviceProfile& p, const Footprint& f) noexcept {
    return detail::saturating_add(f.weight_bytes, f.code_bytes.value_or(p.code_reserve_bytes));
}

/// RAM the footprint needs on this device (arena + reserve, + weights when run from RAM).
inline std::uint64_t ram_needed(const DeviceProfile& p, const Footprint& f) noexcept {
    const std::uint64_t ram = detail::saturating_add(f.arena_bytes, p.ram_reserve_bytes);
    return p.weights_in_ram ? detail::saturating_add(ram, f.weight_bytes) : ram;
}

/// Neuromorphic cores the per-layer demand occupies on this device (0 without limits or demand).
inline std::uint64_t cores_needed(const NeuromorphicLimits& limits, const std::vector<CoreDemand>& demand) noexcept {
    std::uint64_t cores = 0;
    for (const CoreDemand& d : demand)
        cores = detail::saturating_add(cores, std::max(detail::ceil_div(d.neurons, limits.neurons_per_core),
                                                       detail::ceil_div(d.synapses, limits.synapses_per_core)));
    return cores;
}

/// "Does it fit, and what is the bottleneck?" `subject` starts the sentence ("the model",
/// a file name, ...).
inline FitResult check_fit(const DeviceProfile& profile, const Footprint& footprint,
                           std::string_view subject = "the model") {
    validate(profile, "device profile '" + profile.name + "'");
    FitResult r;
    r.resources.push_back({Resource::flash, flash_needed(profile, footprint), profile.flash_bytes});
    r.resources.push_back({Resource::ram, ram_needed(profile, footprint), profile.sram_bytes});
    if (profile.neuromorphic) {
        if (!footprint.core_demand.empty())
            r.resources.push_back({Resource::neuromorphic_cores, cores_needed(*profile.neuromorphic, footprint.core_demand),
                                   profile.neuromorphic->cores});
        if (footprint.max_weight_bits != 0)
            r.resources.push_back({Resource::weight_bits, footprint.max_weight_bits, profile.neuromorphic->weight_bits});
    }

    r.fits = std::all_of(r.resources.begin(), r.resources.end(), [](const ResourceUse& u) { return u.fits(); });
    const ResourceUse& tightest = *std::max_element(
        r.resources.begin(), r.resources.end(),
        [](const ResourceUse& a, const ResourceUse& b) { return a.utilisation() < b.utilisation(); });
    r.bottleneck = tightest.resource;

    std::string details;
    for (const ResourceUse& u : r.resources) details += (details.empty() ? "" : ", ") + detail::describe(u);
    r.sentence = std::string(subject) + (r.fits ? " fits on " : " does not fit on ") + profile.name + ": " + details +
                 "; bottleneck: " + std::string(to_string(tightest.resource));
    if (r.fits && (tightest.resource == Resource::flash || tightest.resource == Resource::ram))
        r.sentence += " (" + detail::human_bytes(tightest.spare()) + " to spare)";
    return r;
}

/// What the search may spend on this device.
struct MemoryBudget {
    std::uint64_t weight_bytes = 0;  ///< bytes of packed weights + scales (the search's memory number)
    std::uint64_t arena_bytes = 0;   ///< largest arena the RAM leaves room for
};

/// The budget derived from a profile: flash minus the code reserve for the weights (and, on a
/// target that runs from RAM, no more than the RAM left after the reserve and `arena_bytes`);
/// RAM minus its reserve for the arena. A model with weights <= weight_bytes and an arena
/// <= arena_bytes passes check_fit() (neuromorphic limits aside), and the other way round.
inline MemoryBudget memory_budget(const DeviceProfile& profile, std::uint64_t arena_bytes = 0) {
    validate(profile, "device profile '" + profile.name + "'");
    MemoryBudget b;
    b.weight_bytes = profile.flash_bytes - profile.code_reserve_bytes;
    b.arena_bytes = profile.sram_bytes - profile.ram_reserve_bytes;
    if (profile.weights_in_ram)
        b.weight_bytes = std::min(b.weight_bytes, b.arena_bytes >= arena_bytes ? b.arena_bytes - arena_bytes : 0);
    return b;
}

}  // namespace qslm::hw
