#include <catch2/catch.hpp>

#include "qslm/search/granularity.hpp"
#include "qslm/search/objective.hpp"
#include "qslm/search/searcher.hpp"
#include "synthetic_model.hpp"

using namespace qslm;
using namespace qslm::search;

namespace {
template <class Sens>
using Search = Tiered<Sens, rounding::Nearest, granularity::PerChannel, objective::PerformanceMemoryTradeoff>;

Options quiet_options() {
    Options o;
    o.widths = {8, 6, 4, 2};
    o.threads = 2;
    return o;
}
}  // namespace

TEST_CASE("the task-metric sensitivity of each module equals its analytic relative drop") {
    const auto model = test::small_model();
    const auto r = Search<sensitivity::TaskMetric>{quiet_options()}.run(model, test::SyntheticEvaluator{}, {});
    REQUIRE(r.sensitivity.widths == std::vector<int>{8, 6, 4, 2});
    for (std::size_t m = 0; m < model.h.module_count(); ++m)
        for (std::size_t w = 0; w < 4; ++w)
            CHECK(r.sensitivity.at(m, w) == Approx(model.s[m] * test::damage(r.sensitivity.widths[w]) / model.p_float));
    CHECK(r.sensitivity.at_width(0, float_width) == 0.0);
    CHECK_THROWS_WITH(r.sensitivity.at_width(0, 5), Catch::Contains("width 5"));
}

TEST_CASE("the KL sensitivity grows with lower widths and orders modules like their true sensitivity") {
    const auto model = test::small_model();
    const auto r = Search<sensitivity::KLDivergence>{quiet_options()}.run(model, test::SyntheticEvaluator{}, {});
    for (std::size_t m = 0; m < model.h.module_count(); ++m)
        for (std::size_t w = 1; w < 4; ++w) CHECK(r.sensitivity.at(m, w) > r.sensitivity.at(m, w - 1));
    // head (s = 0.004) hurts more than blocks.0.m1 (s = 0.0001) at every width
    const std::size_t head = model.h.find_module("head.m0"), quiet = model.h.find_module("blocks.0.m1");
    for (std::size_t w = 0; w < 4; ++w) CHECK(r.sensitivity.at(head, w) > r.sensitivity.at(quiet, w));
}

TEST_CASE("the KL sensitivity says plainly when the evaluator gives no distributions") {
    struct NoDistributions {
        eval::Evaluation evaluate(const test::SyntheticModel::Variant& v, const eval::EvalRequest&) const {
            return {eval::higher_is_better(v.model->performance(v.widths), "accuracy"), {}};
        }
    };
    const auto model = test::small_model();
    CHECK_THROWS_WITH(Search<sensitivity::KLDivergence>{quiet_options()}.run(model, NoDistributions{}, {}),
                      Catch::Contains("needs per-token distributions"));
}

TEST_CASE("the Hessian-trace proxy is the second-moment-weighted squared weight error and needs no evaluation") {
    const auto model = test::small_model();
    test::SyntheticEvaluator ev;
    const auto r = Search<sensitivity::HessianTrace>{quiet_options()}.run(model, ev, {});
    using S = Search<sensitivity::HessianTrace>;
    for (std::size_t m = 0; m < model.h.module_count(); ++m) {
        for (std::size_t w = 0; w < 4; ++w) {
            Setting s = Setting::all_float(model.h.module_count());
            s.widths[m] = r.sensitivity.widths[w];
            const auto q = S{}.materialize(model, s)[m]->dequantize();
            const auto& info = model.h.module(m);
            double expect = 0.0;
            for (std::size_t i = 0; i < q.size(); ++i) {
                const double d = static_cast<double>(q[i]) - model.weights[m][i];
                expect += model.second_moments[m][i % info.cols] * d * d;
            }
            CHECK(r.sensitivity.at(m, w) == Approx(expect));
            if (w > 0) CHECK(r.sensitivity.at(m, w) > r.sensitivity.at(m, w - 1));
        }
    }
    // no single-module evaluations: only baseline, global tier, the tiers' moves and verification
    CHECK(std::none_of(r.candidates.begin(), r.candidates.end(),
                       [](const Candidate& c) { return c.origin == "sensitivity"; }));
}

TEST_CASE("a proxy rejects second moments of the wrong length") {
    auto model = test::small_model();
    model.second_moments[2].pop_back();
    CHECK_THROWS_WITH(Search<sensitivity::HessianTrace>{quiet_options()}.run(model, test::SyntheticEvaluator{}, {}),
                      Catch::Contains("input_second_moments has 15 values, expected 16"));
}

namespace {
/// The synthetic model with a per-weight diagonal Fisher estimate: a different value for every
/// weight (so a per-column or per-row shortcut would be caught), zero for one module.
struct FisherModel : test::SyntheticModel {
    std::vector<std::vector<float>> fisher;
    std::size_t silent = 0;  ///< the module whose Fisher is all zero
    std::span<const float> fisher_diagonal(std::size_t m) const { return fisher.at(m); }
};

FisherModel fisher_model() {
    FisherModel model{test::small_model(), {}, 1};
    for (std::size_t m = 0; m < model.h.module_count(); ++m) {
        std::vector<float> f(model.weights[m].size());
        for (std::size_t i = 0; i < f.size(); ++i)
            f[i] = m == model.silent ? 0.0f : 0.01f * static_cast<float>((i * 7 + m * 3) % 11 + 1);
        model.fisher.push_back(std::move(f));
    }
    return model;
}
}  // namespace

TEST_CASE("the Fisher proxy is the Fisher-weighted squared weight error, per weight, and needs no evaluation") {
    const auto model = fisher_model();
    const auto r = Search<sensitivity::Fisher>{quiet_options()}.run(model, test::SyntheticEvaluator{}, {});
    using S = Search<sensitivity::Fisher>;
    CHECK(r.sensitivity.policy == "fisher");
    for (std::size_t m = 0; m < model.h.module_count(); ++m) {
        for (std::size_t w = 0; w < 4; ++w) {
            Setting s = Setting::all_float(model.h.module_count());
            s.widths[m] = r.sensitivity.widths[w];
            const auto q = S{}.materialize(model, s)[m]->dequantize();
            double expect = 0.0;
            for (std::size_t i = 0; i < q.size(); ++i) {
                const double d = static_cast<double>(q[i]) - model.weights[m][i];
                expect += static_cast<double>(model.fisher[m][i]) * d * d;
            }
            CHECK(r.sensitivity.at(m, w) == Approx(expect));
            if (m == model.silent) {
                CHECK(r.sensitivity.at(m, w) == 0.0);  // a module the loss does not feel costs nothing
            } else if (w > 0) {
                CHECK(r.sensitivity.at(m, w) > r.sensitivity.at(m, w - 1));
            }
        }
    }
    CHECK(std::none_of(r.candidates.begin(), r.candidates.end(),
                       [](const Candidate& c) { return c.origin == "sensitivity"; }));
}

TEST_CASE("the Fisher proxy rejects a diagonal of the wrong length") {
    auto model = fisher_model();
    model.fisher[3].pop_back();
    CHECK_THROWS_WITH(Search<sensitivity::Fisher>{quiet_options()}.run(model, test::SyntheticEvaluator{}, {}),
                      Catch::Contains("fisher_diagonal has"));
}

namespace {
// A custom evaluation-based policy that forgot needs_distributions (the engine needs it to know
// whether to gather per-token distributions), and one that forgot measure().
struct NoDistributions {
    static constexpr bool needs_evaluation = true;
    static std::string name() { return "no_distributions"; }
    static double measure(const eval::Evaluation&, const eval::Evaluation&) { return 0.0; }
};
struct NoMeasure {
    static constexpr bool needs_evaluation = true;
    static constexpr bool needs_distributions = false;
    static std::string name() { return "no_measure"; }
};
}  // namespace

// Compile-time checks: an incomplete policy is refused by the concept (a one-line error at the
// Searcher's template argument), the library's own policies are accepted.
static_assert(!SensitivityPolicy<NoDistributions>);
static_assert(!SensitivityPolicy<NoMeasure>);
static_assert(SensitivityPolicy<sensitivity::TaskMetric> && SensitivityPolicy<sensitivity::KLDivergence> &&
              SensitivityPolicy<sensitivity::HessianTrace> && SensitivityPolicy<sensitivity::Fisher>);
