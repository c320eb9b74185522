#pragma once
// The layer-wise objective every rounding policy here minimises, computed from calibration
// statistics instead of stored activations: with H = 2/N Σ x xᵀ (InputStatistics::hessian)
// and E = Ŵ − W (outputs x inputs),
//
//   output_mse = mean over inputs x_n and output channels of ((Ŵ − W) x_n)²  =  tr(E H Eᵀ) / (2·rows)
//
// so two roundings of the same layer compare exactly as their outputs on the calibration data.

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "qslm/host/error.hpp"

namespace qslm::quant {

/// Throws (bad_shape / invalid_argument, with `who` in the message) unless `h` is a finite,
/// symmetric, inputs x inputs matrix with a non-negative diagonal.
inline void check_hessian(const Eigen::MatrixXd& h, std::size_t inputs, const std::string& who) {
    if (h.rows() != h.cols())
        fail(Status::bad_shape, who + ": the Hessian is " + std::to_string(h.rows()) + " x " +
                                    std::to_string(h.cols()) + ", not square");
    if (static_cast<std::size_t>(h.rows()) != inputs)
        fail(Status::bad_shape, who + ": the Hessian is " + std::to_string(h.rows()) + " x " +
                                    std::to_string(h.cols()) + " but the weight matrix has " +
                                    std::to_string(inputs) + " inputs (columns)");
    if (inputs == 0) fail(Status::bad_shape, who + ": the Hessian is empty");
    if (!h.allFinite()) fail(Status::invalid_argument, who + ": the Hessian contains NaN or infinity");
    const double tolerance = 1e-6 * (h.diagonal().cwiseAbs().maxCoeff() + 1e-30);
    if ((h - h.transpose()).cwiseAbs().maxCoeff() > tolerance)
        fail(Status::invalid_argument, who + ": the Hessian is not symmetric");
    if (h.diagonal().minCoeff() < 0.0)
        fail(Status::invalid_argument, who + ": the Hessian has a negative diagonal entry (not X Xᵀ of any data)");
}

/// Mean squared output error of weights `w_hat` against `w` (both rows x cols, row-major) on
/// the calibration data summarised by `h`.
inline double output_mse(const Eigen::MatrixXd& h, std::span<const float> w, std::span<const float> w_hat,
                         std::size_t rows, std::size_t cols) {
    if (rows == 0 || w.size() != rows * cols || w_hat.size() != w.size())
        fail(Status::bad_shape, "output_mse: weights are not " + std::to_string(rows) + " x " + std::to_string(cols));
    check_hessian(h, cols, "output_mse");
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    RowMajor e(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    for (std::size_t i = 0; i < w.size(); ++i) e.data()[i] = static_cast<double>(w_hat[i]) - static_cast<double>(w[i]);
    const double trace = (e * h).cwiseProduct(e).sum();
    return trace / (2.0 * static_cast<double>(rows));
}

}  // namespace qslm::quant
