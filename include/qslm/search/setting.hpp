#pragma once
// Setting: the width of every searched module (indexed like Hierarchy::modules()). A width of
// float_width keeps that module in float32 — the float baseline is the all-float setting, and
// the KL / task-metric sensitivities quantize one module while the rest stay float.
//
// Host-only header.

#include <cstddef>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"

namespace qslm::search {

/// The width that means "not quantized, float32".
inline constexpr int float_width = 32;

struct Setting {
    std::vector<int> widths;

    static Setting uniform(std::size_t modules, int width) { return {std::vector<int>(modules, width)}; }
    static Setting all_float(std::size_t modules) { return uniform(modules, float_width); }

    [[nodiscard]] std::size_t size() const noexcept { return widths.size(); }
    [[nodiscard]] bool is_float(std::size_t m) const { return widths.at(m) == float_width; }

    /// "8,8,4,32": the memo and log key.
    [[nodiscard]] std::string key() const {
        std::string k;
        for (std::size_t i = 0; i < widths.size(); ++i) {
            if (i) k += ',';
            k += std::to_string(widths[i]);
        }
        return k;
    }

    friend bool operator==(const Setting&, const Setting&) = default;
};

/// A width the search may assign: 1..8 bits or float.
inline void check_width(int width, const std::string& context) {
    if (width != float_width && (width < 1 || width > 8))
        fail(Status::bad_bit_width, context + ": width " + std::to_string(width) + " is not 1..8 (or float)");
}

}  // namespace qslm::search
