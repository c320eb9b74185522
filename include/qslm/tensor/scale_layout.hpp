#pragma once
// Which weights share a scale (and zero point). A weight matrix is rows x cols with rows the
// output channels and cols the inputs (PyTorch's nn.Linear layout).
//
//   per_tensor   one scale for everything
//   per_channel  one scale per row (output channel)
//   per_group    one scale per run of `group_size` consecutive inputs within a row; the last
//                group of a row is shorter when cols is not a multiple of group_size

#include <cstddef>
#include <cstdint>

#include "qslm/core/result.hpp"

namespace qslm {

enum class Granularity : std::uint8_t { per_tensor = 0, per_channel = 1, per_group = 2 };

constexpr const char* to_string(Granularity g) noexcept {
    switch (g) {
        case Granularity::per_tensor: return "per_tensor";
        case Granularity::per_channel: return "per_channel";
        case Granularity::per_group: return "per_group";
    }
    return "unknown";
}

/// How scales are stored: float32, or as a power of two (an int8 exponent), which turns
/// dequantization into a shift on integer-only targets.
enum class ScaleFormat : std::uint8_t { float32 = 0, power_of_two = 1 };

struct ScaleLayout {
    Granularity granularity = Granularity::per_channel;
    std::uint32_t group_size = 0;  ///< inputs per group (per_group only)

    static constexpr ScaleLayout per_tensor() noexcept { return {Granularity::per_tensor, 0}; }
    static constexpr ScaleLayout per_channel() noexcept { return {Granularity::per_channel, 0}; }
    static constexpr ScaleLayout per_group(std::uint32_t g) noexcept { return {Granularity::per_group, g}; }

    [[nodiscard]] constexpr Status check() const noexcept {
        if (granularity == Granularity::per_group && group_size == 0) return Status::bad_group_size;
        if (granularity != Granularity::per_tensor && granularity != Granularity::per_channel &&
            granularity != Granularity::per_group)
            return Status::invalid_argument;
        return Status::ok;
    }
    [[nodiscard]] constexpr std::size_t groups_per_row(std::size_t cols) const noexcept {
        return granularity == Granularity::per_group ? (cols + group_size - 1) / group_size : 1;
    }
    /// Number of scales a rows x cols tensor needs.
    [[nodiscard]] constexpr std::size_t scale_count(std::size_t rows, std::size_t cols) const noexcept {
        switch (granularity) {
            case Granularity::per_tensor: return 1;
            case Granularity::per_channel: return rows;
            case Granularity::per_group: return rows * groups_per_row(cols);
        }
        return 0;
    }
    /// Index of the scale that weight (r, c) uses.
    [[nodiscard]] constexpr std::size_t scale_index(std::size_t r, std::size_t c, std::size_t cols) const noexcept {
        switch (granularity) {
            case Granularity::per_tensor: return 0;
            case Granularity::per_channel: return r;
            case Granularity::per_group: return r * groups_per_row(cols) + c / group_size;
        }
        return 0;
    }
    friend constexpr bool operator==(ScaleLayout, ScaleLayout) = default;
};

}  // namespace qslm
