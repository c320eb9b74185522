#pragma once
// Objective policies: one number per candidate, higher is better, from its performance and
// memory relative to the float model. The search picks, among the candidates that satisfy the
// constraints, the one with the highest score.
//
//   PerformanceMemoryTradeoff  score = alpha * (P / P_float) + (1 - alpha) * (1 - M / M_float)
//                              (P / P_float is Performance::relative_to: P_float / P for
//                              lower-is-better metrics). alpha = 1 keeps the most accurate
//                              candidate, alpha = 0 the smallest.
//
// Host-only header.

#include <concepts>
#include <string>

#include "qslm/host/error.hpp"

namespace qslm::objective {

struct PerformanceMemoryTradeoff {
    double alpha = 0.5;

    explicit PerformanceMemoryTradeoff(double a = 0.5) : alpha(a) {
        if (!(alpha >= 0.0 && alpha <= 1.0)) fail(Status::invalid_argument, "trade-off alpha must be in [0, 1]");
    }
    [[nodiscard]] double operator()(double relative_performance, double relative_memory) const noexcept {
        return alpha * relative_performance + (1.0 - alpha) * (1.0 - relative_memory);
    }
    static std::string name() { return "performance_memory_tradeoff"; }
};

}  // namespace qslm::objective

namespace qslm {

template <class O>
concept ObjectivePolicy = std::constructible_from<O, double> && requires(const O& o, double p, double m) {
    { o(p, m) } -> std::convertible_to<double>;
    { O::name() } -> std::convertible_to<std::string>;
};

}  // namespace qslm
