#pragma once
// A synthetic linear layer whose inputs are strongly correlated (x = A z + noise with a
// low-rank mixing A), the setting where error-compensating rounding pays off, plus an
// output-error measure computed straight from the samples (independent of the Hessian path).

#include <Eigen/Core>
#include <cstddef>
#include <random>
#include <span>
#include <vector>

#include "qslm/quant/input_statistics.hpp"

namespace qslm::test {

struct SyntheticLayer {
    std::size_t rows = 0, cols = 0, samples = 0;
    std::vector<float> weights;  ///< rows x cols, row-major
    std::vector<float> inputs;   ///< samples x cols, row-major
};

inline SyntheticLayer make_correlated_layer(std::size_t rows, std::size_t cols, std::size_t samples,
                                            unsigned seed = 7, std::size_t rank = 8, float noise = 0.1f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    SyntheticLayer l{rows, cols, samples, std::vector<float>(rows * cols), std::vector<float>(samples * cols)};
    for (auto& w : l.weights) w = normal(rng) / 8.0f;
    std::vector<float> mixing(cols * rank);
    for (auto& a : mixing) a = normal(rng);
    std::vector<float> z(rank);
    for (std::size_t n = 0; n < samples; ++n) {
        for (auto& v : z) v = normal(rng);
        for (std::size_t c = 0; c < cols; ++c) {
            float x = noise * normal(rng);
            for (std::size_t k = 0; k < rank; ++k) x += mixing[c * rank + k] * z[k];
            l.inputs[n * cols + c] = x;
        }
    }
    return l;
}

inline quant::InputStatistics statistics_of(const SyntheticLayer& l, quant::InputStatisticsOptions o = {}) {
    quant::InputStatistics s(l.cols, o);
    s.observe(l.inputs);
    return s;
}

/// mean over samples and outputs of ((Ŵ − W) x)², from the stored samples.
inline double sample_output_mse(const SyntheticLayer& l, std::span<const float> w_hat) {
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    RowMajor e(static_cast<Eigen::Index>(l.rows), static_cast<Eigen::Index>(l.cols));
    for (std::size_t i = 0; i < l.weights.size(); ++i) e.data()[i] = double{w_hat[i]} - double{l.weights[i]};
    const RowMajor x = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                           l.inputs.data(), static_cast<Eigen::Index>(l.samples), static_cast<Eigen::Index>(l.cols))
                           .cast<double>();
    const RowMajor out = x * e.transpose();
    return out.squaredNorm() / static_cast<double>(l.samples * l.rows);
}

}  // namespace qslm::test
