#pragma once
// Memory of a setting, computed exactly as the packed tensors will be stored:
//   quantized module  qslm::packed_tensor_bytes(rows, cols, width, layout, scale format, zero points)
//                     (payload bits, padded to whole bytes, plus scales and zero points)
//   float module      rows * cols * 4
//   everything else   the model's unsearched_bytes(): embeddings of norms, biases, neuron
//                     parameters... whatever the model keeps outside the searched matrices
//                     (float or fixed 8-bit: the model decides and reports the bytes).
//
// bits per weight = 8 * (bytes of the searched modules) / (their number of weights): scales
// and zero points count, so per-group scales show up as the overhead they are.
//
// Host-only header.

#include <cstddef>

#include "qslm/search/hierarchy.hpp"
#include "qslm/search/setting.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"
#include "qslm/tensor/quant_grid.hpp"

namespace qslm::search {

inline std::size_t module_bytes(const ModuleInfo& m, int width, const QuantSpec& spec) {
    check_width(width, "module '" + m.name + "'");
    if (width == float_width) return m.weights() * sizeof(float);
    return packed_tensor_bytes(m.rows, m.cols, width, spec.layout, spec.scale_format, spec.zero_point);
}

/// Bytes of the searched modules only.
inline std::size_t searched_bytes(const Hierarchy& h, const Setting& s, const QuantSpec& spec) {
    if (s.size() != h.module_count())
        fail(Status::bad_shape, "a setting of " + std::to_string(s.size()) + " widths for " +
                                    std::to_string(h.module_count()) + " modules");
    std::size_t total = 0;
    for (std::size_t m = 0; m < s.size(); ++m) total += module_bytes(h.module(m), s.widths[m], spec);
    return total;
}

/// The whole model: searched modules plus what the model keeps unsearched.
inline std::size_t setting_bytes(const Hierarchy& h, const Setting& s, const QuantSpec& spec,
                                 std::size_t unsearched_bytes) {
    return searched_bytes(h, s, spec) + unsearched_bytes;
}

inline double bits_per_weight(const Hierarchy& h, const Setting& s, const QuantSpec& spec) {
    return 8.0 * static_cast<double>(searched_bytes(h, s, spec)) / static_cast<double>(h.total_weights());
}

}  // namespace qslm::search
