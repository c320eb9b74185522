#pragma once
// EnergyModel: the policy that prices one arithmetic operation or one bit of memory traffic at
// a given width, and Horowitz45nm, the default: the published 45 nm, 0.9 V figures of
//   M. Horowitz, "Computing's energy problem (and what we can do about it)",
//   IEEE ISSCC 2014, pp. 10-14, doi:10.1109/ISSCC.2014.6757323.
// Widths that the table does not list are scaled (adders linear in width, multipliers in the
// product of the operand widths, memory with the logarithm of its capacity); docs/energy.md
// explains the choices.
//
// Host-side header.

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <span>
#include <string_view>

#include "qslm/hw/numeric_format.hpp"

namespace qslm::hw {

/// What the energy estimate needs from a model of the hardware: picojoules per add and per
/// multiply in a format, per nonlinear evaluation, and per bit read from a memory of a given
/// capacity. Any type with these members can replace Horowitz45nm (e.g. a measured table for a
/// particular microcontroller).
template <class M>
concept EnergyModel = requires(const M& m, NumericFormat a, NumericFormat b, std::uint64_t capacity_bytes) {
    { m.name() } -> std::convertible_to<std::string_view>;
    { m.add_pj(a) } -> std::same_as<double>;
    { m.multiply_pj(a, b) } -> std::same_as<double>;
    { m.nonlinear_pj(a) } -> std::same_as<double>;
    { m.memory_access_pj_per_bit(capacity_bytes) } -> std::same_as<double>;
};

namespace detail {

/// One measured point of an energy curve: the operation at size `x` costs `pj`.
struct EnergyAnchor {
    double x;
    double pj;
};

/// Piecewise linear through the anchors (sorted by x); outside them, proportional to x from the
/// nearest anchor. Proportional extrapolation keeps the curve continuous and monotone and gives
/// zero energy for zero width, which linear extrapolation of two anchors would not.
constexpr double anchored_energy(double x, std::span<const EnergyAnchor> anchors) noexcept {
    const EnergyAnchor& first = anchors.front();
    const EnergyAnchor& last = anchors.back();
    if (x <= first.x) return first.pj * x / first.x;
    if (x >= last.x) return last.pj * x / last.x;
    for (std::size_t i = 1; i < anchors.size(); ++i) {
        const EnergyAnchor& lo = anchors[i - 1];
        const EnergyAnchor& hi = anchors[i];
        if (x <= hi.x) return lo.pj + (hi.pj - lo.pj) * (x - lo.x) / (hi.x - lo.x);
    }
    return last.pj;  // unreachable: x < last.x was handled by the loop
}

}  // namespace detail

/// The default energy model: Horowitz's 45 nm table.
struct Horowitz45nm {
    // --- the published table (45 nm, 0.9 V), in picojoules per operation ---
    static constexpr double int8_add_pj = 0.03;
    static constexpr double int32_add_pj = 0.1;
    static constexpr double int8_mult_pj = 0.2;
    static constexpr double int32_mult_pj = 3.1;
    static constexpr double fp16_add_pj = 0.4;
    static constexpr double fp32_add_pj = 0.9;
    static constexpr double fp16_mult_pj = 1.1;
    static constexpr double fp32_mult_pj = 3.7;
    // 64-bit accesses to an SRAM (cache) of 8 KB, 32 KB and 1 MB, and to DRAM (1.3-2.6 nJ; the
    // low end is kept: it is the cheaper, more favourable bound for large models).
    static constexpr double sram_8k_pj_per_64b = 10.0;
    static constexpr double sram_32k_pj_per_64b = 20.0;
    static constexpr double sram_1m_pj_per_64b = 100.0;
    static constexpr double dram_pj_per_64b = 1300.0;

    /// How many multiply-adds one nonlinear evaluation (exp, sigmoid, division, sqrt) costs. The
    /// table has no entry for them; 4 is a low-order polynomial or an interpolated lookup, the
    /// way fixed-point runtimes evaluate them. A member, so a caller can change the assumption.
    double nonlinear_mac_equivalents = 4.0;

    [[nodiscard]] static constexpr std::string_view name() noexcept { return "horowitz-45nm"; }

    /// An adder's energy grows linearly with its width (a ripple/prefix adder has one cell per bit).
    [[nodiscard]] double add_pj(NumericFormat f) const {
        validate(f, "energy model add");
        static constexpr std::array<detail::EnergyAnchor, 2> integer{{{8, int8_add_pj}, {32, int32_add_pj}}};
        static constexpr std::array<detail::EnergyAnchor, 2> floating{{{16, fp16_add_pj}, {32, fp32_add_pj}}};
        return detail::anchored_energy(f.bits, f.is_floating() ? std::span(floating) : std::span(integer));
    }

    /// An array multiplier has one partial-product cell per pair of operand bits, so its energy
    /// grows with the product of the widths (quadratically for equal widths). A float operand
    /// makes the product a float multiply at the wider float width.
    [[nodiscard]] double multiply_pj(NumericFormat a, NumericFormat b) const {
        validate(a, "energy model multiply");
        validate(b, "energy model multiply");
        if (a.is_floating() || b.is_floating()) {
            const unsigned bits = std::max(a.is_floating() ? a.bits : 0u, b.is_floating() ? b.bits : 0u);
            static constexpr std::array<detail::EnergyAnchor, 2> floating{
                {{16.0 * 16.0, fp16_mult_pj}, {32.0 * 32.0, fp32_mult_pj}}};
            return detail::anchored_energy(double(bits) * bits, floating);
        }
        static constexpr std::array<detail::EnergyAnchor, 2> integer{
            {{8.0 * 8.0, int8_mult_pj}, {32.0 * 32.0, int32_mult_pj}}};
        return detail::anchored_energy(double(a.bits) * b.bits, integer);
    }

    [[nodiscard]] double nonlinear_pj(NumericFormat f) const {
        return nonlinear_mac_equivalents * (multiply_pj(f, f) + add_pj(f));
    }

    /// Energy per bit read from (or written to) a memory of `capacity_bytes`: interpolated in
    /// log2(capacity) between the 8 KB, 32 KB and 1 MB SRAM figures (wire length, hence energy,
    /// grows with the array), constant below 8 KB, extrapolated along the 32 KB-1 MB slope above
    /// 1 MB and capped at the DRAM figure.
    [[nodiscard]] double memory_access_pj_per_bit(std::uint64_t capacity_bytes) const {
        if (capacity_bytes == 0) fail(Status::invalid_argument, "energy model: a memory capacity must be positive");
        const double log_capacity = std::log2(static_cast<double>(capacity_bytes));
        static constexpr std::array<detail::EnergyAnchor, 3> sram{
            {{13.0, sram_8k_pj_per_64b}, {15.0, sram_32k_pj_per_64b}, {20.0, sram_1m_pj_per_64b}}};
        double per_64b = sram_8k_pj_per_64b;
        if (log_capacity >= 20.0) {
            const double slope = (sram_1m_pj_per_64b - sram_32k_pj_per_64b) / (20.0 - 15.0);
            per_64b = std::min(dram_pj_per_64b, sram_1m_pj_per_64b + slope * (log_capacity - 20.0));
        } else if (log_capacity > 13.0) {
            per_64b = detail::anchored_energy(log_capacity, sram);
        }
        return per_64b / 64.0;
    }
};

static_assert(EnergyModel<Horowitz45nm>);

}  // namespace qslm::hw
