#pragma once
// Granularity policies: which weights share a scale. Each yields the qslm::QuantSpec every
// module is quantized with, so the search's memory accounting and the packed tensors it
// produces always agree.
//
//   qslm::granularity::PerTensor     one scale per matrix
//   qslm::granularity::PerChannel    one scale per output row
//   qslm::granularity::PerGroup<64>  one scale per 64 consecutive inputs of a row
//
// Host-only header (the embedded half uses ScaleLayout directly).

#include <concepts>
#include <cstdint>
#include <string>

#include "qslm/tensor/quant_grid.hpp"

namespace qslm::granularity {

struct PerTensor {
    static QuantSpec spec() { return {ScaleLayout::per_tensor()}; }
    static std::string name() { return "per_tensor"; }
};

struct PerChannel {
    static QuantSpec spec() { return {ScaleLayout::per_channel()}; }
    static std::string name() { return "per_channel"; }
};

template <std::uint32_t GroupSize>
struct PerGroup {
    static_assert(GroupSize >= 1, "granularity::PerGroup<G>: the group size G must be at least 1.");
    static QuantSpec spec() { return {ScaleLayout::per_group(GroupSize)}; }
    static std::string name() { return "per_group_" + std::to_string(GroupSize); }
};

}  // namespace qslm::granularity

namespace qslm {

template <class G>
concept GranularityPolicy = requires {
    { G::spec() } -> std::same_as<QuantSpec>;
    { G::name() } -> std::convertible_to<std::string>;
};

}  // namespace qslm
