#pragma once
// Sensitivity policies: how much a module suffers at a width, measured with only that module
// quantized (all others float). The search uses these numbers to order its moves (and the
// budget allocator as additive costs); constraint checks always use real evaluations.
//
//   TaskMetric    relative drop of the evaluator's metric: 1 - P/P_float (direction-aware).
//                 One evaluation per module x width.
//   KLDivergence  mean over tokens of KL(p_float || p_quantized), from the evaluator's
//                 per-token distributions. One evaluation per module x width; more sensitive
//                 than the task metric on a short calibration set (it sees every token's whole
//                 distribution, not only the probability of the right token).
//   HessianTrace  no evaluation at all: an OBS-style second-order proxy of the loss increase,
//                   sum_ij H_jj (w_q,ij - w_ij)^2,   H_jj = E[x_j^2]
//                 the diagonal of the layer-wise reconstruction Hessian E[x x^T] (x = the
//                 module's input over the calibration set; for spiking inputs E[x_j^2] is just
//                 input j's firing rate). Needs model.input_second_moments(m).
//   Fisher        the same with a per-weight diagonal Fisher estimate F_ij (mean squared
//                 gradient): sum_ij F_ij (w_q,ij - w_ij)^2. Needs model.fisher_diagonal(m).
//
// The proxies rank modules within one model well when layers contribute comparably to the
// loss; they do not know the network's downstream amplification, which is why the tiers still
// check every move with an evaluation.
//
// Host-only header.

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/evaluation.hpp"
#include "qslm/eval/token_metrics.hpp"
#include "qslm/search/model.hpp"
#include "qslm/search/setting.hpp"

namespace qslm::search {

/// Sensitivity of each module at each candidate width (row-major modules x widths).
struct SensitivityTable {
    std::string policy;
    std::vector<int> widths;     ///< candidate widths, in the order the columns use
    std::size_t modules = 0;
    std::vector<double> values;  ///< modules x widths

    [[nodiscard]] double at(std::size_t module, std::size_t width_index) const {
        return values.at(module * widths.size() + width_index);
    }
    /// Sensitivity at a width (float = 0: the reference).
    [[nodiscard]] double at_width(std::size_t module, int width) const {
        if (width == float_width) return 0.0;
        for (std::size_t w = 0; w < widths.size(); ++w)
            if (widths[w] == width) return at(module, w);
        fail(Status::bad_bit_width, "no sensitivity was measured at width " + std::to_string(width));
    }
};

}  // namespace qslm::search

namespace qslm::sensitivity {

struct TaskMetric {
    static constexpr bool needs_evaluation = true;
    static constexpr bool needs_distributions = false;
    static std::string name() { return "task_metric"; }
    static double measure(const eval::Evaluation& reference, const eval::Evaluation& quantized) {
        return quantized.performance.drop_from(reference.performance);
    }
};

struct KLDivergence {
    static constexpr bool needs_evaluation = true;
    static constexpr bool needs_distributions = true;
    static std::string name() { return "kl_divergence"; }
    static double measure(const eval::Evaluation& reference, const eval::Evaluation& quantized) {
        if (reference.distributions.empty() || quantized.distributions.empty())
            fail(Status::invalid_argument,
                 "the KL-divergence sensitivity needs per-token distributions, but the evaluator returned none "
                 "(it must fill Evaluation::distributions when EvalRequest::distributions is set)");
        return eval::mean_kl_divergence(reference.distributions, quantized.distributions);
    }
};

namespace detail {
inline void check_size(std::span<const float> v, std::size_t expected, const std::string& what,
                       const search::ModuleInfo& info) {
    if (v.size() != expected)
        fail(Status::bad_shape, "module '" + info.name + "': " + what + " has " + std::to_string(v.size()) +
                                    " values, expected " + std::to_string(expected));
}
}  // namespace detail

struct HessianTrace {
    static constexpr bool needs_evaluation = false;
    static std::string name() { return "hessian_trace"; }

    template <class Model>
    static double proxy(const Model& model, std::size_t m, std::span<const float> w, std::span<const float> wq) {
        static_assert(search::HasInputSecondMoments<Model>,
                      "sensitivity::HessianTrace needs the model to provide "
                      "std::span<const float> input_second_moments(std::size_t module) const (E[x_j^2] per input).");
        const auto& info = model.hierarchy().module(m);
        const std::span<const float> h = model.input_second_moments(m);
        detail::check_size(h, info.cols, "input_second_moments", info);
        double sum = 0.0;
        for (std::size_t r = 0; r < info.rows; ++r)
            for (std::size_t c = 0; c < info.cols; ++c) {
                const double d = static_cast<double>(wq[r * info.cols + c]) - w[r * info.cols + c];
                sum += static_cast<double>(h[c]) * d * d;
            }
        return sum;
    }
};

struct Fisher {
    static constexpr bool needs_evaluation = false;
    static std::string name() { return "fisher"; }

    template <class Model>
    static double proxy(const Model& model, std::size_t m, std::span<const float> w, std::span<const float> wq) {
        static_assert(search::HasFisherDiagonal<Model>,
                      "sensitivity::Fisher needs the model to provide "
                      "std::span<const float> fisher_diagonal(std::size_t module) const (rows x cols values).");
        const auto& info = model.hierarchy().module(m);
        const std::span<const float> f = model.fisher_diagonal(m);
        detail::check_size(f, info.weights(), "fisher_diagonal", info);
        double sum = 0.0;
        for (std::size_t i = 0; i < w.size(); ++i) {
            const double d = static_cast<double>(wq[i]) - w[i];
            sum += static_cast<double>(f[i]) * d * d;
        }
        return sum;
    }
};

}  // namespace qslm::sensitivity

namespace qslm {

template <class S>
concept SensitivityPolicy = requires {
    { S::name() } -> std::convertible_to<std::string>;
    { S::needs_evaluation } -> std::convertible_to<bool>;
} && (!S::needs_evaluation || requires(const eval::Evaluation& reference, const eval::Evaluation& quantized) {
    // A policy measured by evaluations says whether it reads per-token distributions (they are
    // gathered only when asked) and how it turns two evaluations into a number. Checked here so
    // that a custom policy without them fails at the Searcher's template argument, in one line,
    // not deep inside the engine.
    { S::needs_distributions } -> std::convertible_to<bool>;
    { S::measure(reference, quantized) } -> std::convertible_to<double>;
});

}  // namespace qslm
