#pragma once
// The QSLM quantizer search, configured at compile time by policies:
//
//   using Search = qslm::search::Tiered<
//       qslm::sensitivity::KLDivergence,           // or TaskMetric, HessianTrace, Fisher
//       qslm::rounding::Nearest,                   // any qslm::WeightRounder
//       qslm::granularity::PerGroup<64>,           // or PerTensor, PerChannel
//       qslm::objective::PerformanceMemoryTradeoff>;
//   qslm::search::SearchResult r = Search{options}.run(model, evaluator,
//       {.max_bytes = 2'000'000, .max_drop = 0.05});
//
// BudgetExact<...> is the same with the knapsack allocator as strategy. The model must satisfy
// QuantizableModel (qslm/search/model.hpp) and the evaluator qslm::eval::Evaluator for the
// model's variant type (qslm/eval/evaluation.hpp).
//
// Host-only header.

#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qslm/eval/evaluation.hpp"
#include "qslm/search/allocator.hpp"
#include "qslm/search/constraints.hpp"
#include "qslm/search/detail/engine.hpp"
#include "qslm/search/granularity.hpp"
#include "qslm/search/model.hpp"
#include "qslm/search/objective.hpp"
#include "qslm/search/options.hpp"
#include "qslm/search/search_result.hpp"
#include "qslm/search/sensitivity.hpp"
#include "qslm/search/tiered.hpp"
#include "qslm/search/weight_cache.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"
#include "qslm/tensor/quant_grid.hpp"

namespace qslm::search {

/// A name for a rounding policy: R::name() when it has one.
template <class R>
std::string rounding_name() {
    if constexpr (std::same_as<R, rounding::Nearest>) return "nearest";
    else if constexpr (requires { { R::name() } -> std::convertible_to<std::string>; }) return R::name();
    else return "custom";
}

template <SensitivityPolicy Sensitivity, WeightRounder Rounding, GranularityPolicy Granularity,
          ObjectivePolicy Objective, class Strategy>
class Searcher {
public:
    using sensitivity_policy = Sensitivity;
    using rounding_policy = Rounding;
    using granularity_policy = Granularity;
    using objective_policy = Objective;
    using strategy = Strategy;

    explicit Searcher(Options options = {}) : options_(std::move(options)) {}

    template <QuantizableModel Model, class Evaluator>
        requires eval::Evaluator<Evaluator, variant_t<Model>>
    SearchResult run(const Model& model, const Evaluator& evaluator, const Constraints& constraints) const {
        detail::Engine<Model, Evaluator, Rounding, Sensitivity, Objective> engine(
            model, evaluator, constraints, options_, Granularity::spec(),
            {Strategy::name(), Sensitivity::name(), rounding_name<Rounding>(), Granularity::name(), Objective::name()});
        engine.start();
        Strategy::explore(engine);
        return engine.finish();
    }

    /// The packed tensors of a setting, quantized exactly as the search quantized them (one per
    /// module; nullopt where the setting keeps the module float). For writing the .qslm file.
    template <QuantizableModel Model>
    std::vector<std::optional<AnyPackedTensor>> materialize(const Model& model, const Setting& setting) const {
        const Hierarchy& h = model.hierarchy();
        if (setting.size() != h.module_count())
            fail(Status::bad_shape, "a setting of " + std::to_string(setting.size()) + " widths for " +
                                        std::to_string(h.module_count()) + " modules");
        WeightCache<Model, Rounding> cache(model, Granularity::spec());
        std::vector<std::optional<AnyPackedTensor>> out(setting.size());
        for (std::size_t m = 0; m < setting.size(); ++m) {
            check_width(setting.widths[m], "module '" + h.module(m).name + "'");
            if (setting.widths[m] != float_width) out[m] = cache.get(m, setting.widths[m]).packed;
        }
        return out;
    }

    [[nodiscard]] static QuantSpec spec() { return Granularity::spec(); }
    [[nodiscard]] const Options& options() const noexcept { return options_; }

private:
    Options options_;
};

template <class Sensitivity, class Rounding, class Granularity, class Objective>
using Tiered = Searcher<Sensitivity, Rounding, Granularity, Objective, strategy::TieredDescent>;

template <class Sensitivity, class Rounding, class Granularity, class Objective>
using BudgetExact = Searcher<Sensitivity, Rounding, Granularity, Objective, strategy::KnapsackAllocator>;

}  // namespace qslm::search
