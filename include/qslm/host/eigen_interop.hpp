#pragma once
// Host-side bridge between PackedTensor and Eigen: map caller memory as a row-major matrix
// without copying, and dequantize a packed tensor into an Eigen matrix for float reference work.
// Not part of the embedded half (Eigen is never required there).

#include <Eigen/Core>
#include <span>

#include "qslm/host/error.hpp"
#include "qslm/tensor/packed_tensor.hpp"

namespace qslm {

using RowMajorMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMajorMap = Eigen::Map<const RowMajorMatrixXf>;

/// Views rows x cols row-major floats (PyTorch layout) as an Eigen matrix, without a copy.
inline ConstRowMajorMap as_eigen(std::span<const float> data, Eigen::Index rows, Eigen::Index cols) {
    if (rows <= 0 || cols <= 0 || static_cast<std::size_t>(rows * cols) != data.size())
        fail(Status::bad_shape, "as_eigen: span of " + std::to_string(data.size()) + " floats is not " +
                                    std::to_string(rows) + " x " + std::to_string(cols));
    return ConstRowMajorMap(data.data(), rows, cols);
}

/// The dequantized weights of a packed tensor as an Eigen matrix.
template <int Bits, class Encoding>
RowMajorMatrixXf to_eigen(const PackedTensorView<Bits, Encoding>& view) {
    RowMajorMatrixXf m(static_cast<Eigen::Index>(view.rows()), static_cast<Eigen::Index>(view.cols()));
    (void)view.dequantize(std::span<float>(m.data(), view.size()));
    return m;
}

/// Quantizes an Eigen matrix (any storage order) with a rounding policy; throws qslm::Error.
template <int Bits, class Encoding = default_encoding_t<Bits>, WeightRounder Rounder = rounding::Nearest>
PackedTensor<Bits, Encoding> quantize_eigen(const Eigen::Ref<const RowMajorMatrixXf>& m, const QuantSpec& spec = {},
                                            Rounder&& rounder = {}) {
    const RowMajorMatrixXf dense = m;  // contiguous row-major copy (Ref may be strided)
    return value_or_throw(PackedTensor<Bits, Encoding>::quantize(
                              std::span<const float>(dense.data(), static_cast<std::size_t>(dense.size())),
                              static_cast<std::size_t>(dense.rows()), static_cast<std::size_t>(dense.cols()), spec,
                              std::forward<Rounder>(rounder)),
                          "quantize_eigen");
}

}  // namespace qslm
