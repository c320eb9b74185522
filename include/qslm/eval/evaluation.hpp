#pragma once
// The contract between the quantizer search and whatever scores a model.
//
// An evaluator scores one model variant (the float model, or a quantized copy) on its own
// data and returns an Evaluation. The search never sees the data: calibration size, metric,
// and whether the "full" set is larger are the evaluator's business.
//
//   struct MyEvaluator {
//       qslm::eval::Evaluation evaluate(const MyModelVariant& m, const qslm::eval::EvalRequest& r) const;
//   };
//
// evaluate() must be a pure function of (variant, request) and safe to call from several
// threads at once: the search evaluates independent candidates in parallel and relies on the
// same variant always scoring the same.
//
// Host-only header.

#include <concepts>

#include "qslm/eval/performance.hpp"
#include "qslm/eval/token_metrics.hpp"

namespace qslm::eval {

struct EvalRequest {
    /// Return the per-token output distributions (for KL divergence); costs memory, so only
    /// asked for when needed.
    bool distributions = false;
    /// Use the full evaluation set rather than the (short) calibration set: the search asks
    /// for this once, to verify the point it chose. Evaluators without a separate full set
    /// may ignore it.
    bool full = false;
    /// Threads the evaluator may use for this call (the search passes 1 when it already runs
    /// several evaluations side by side). Results must not depend on it.
    unsigned threads = 1;
};

struct Evaluation {
    Performance performance;
    TokenDistributions distributions;  ///< empty unless requested
};

template <class E, class Variant>
concept Evaluator = requires(const E& e, const Variant& v, const EvalRequest& r) {
    { e.evaluate(v, r) } -> std::same_as<Evaluation>;
};

}  // namespace qslm::eval
