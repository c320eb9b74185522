#pragma once
// A tiny synthetic model whose quality is known in closed form, so search results can be
// checked against exhaustive enumeration:
//
//   performance(setting) = P_float - sum_m s_m * f(width_m),   f(b) = 4^(4 - b), f(float) = 0
//
// (4^-b is how round-to-nearest error energy falls with the width). It is "accuracy"-like
// (higher is better). Its weights are random, only used for memory, packing and the
// second-order proxy.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "qslm/eval/evaluation.hpp"
#include "qslm/search/hierarchy.hpp"
#include "qslm/search/memory.hpp"
#include "qslm/search/model.hpp"

namespace qslm::test {

inline double damage(int width) { return width == search::float_width ? 0.0 : std::pow(4.0, 4 - width); }

struct SyntheticModel {
    search::Hierarchy h{"synthetic"};
    std::vector<std::vector<float>> weights;
    std::vector<std::vector<float>> second_moments;
    std::vector<double> s;  ///< sensitivity coefficient per module
    double p_float = 0.9;
    std::size_t unsearched = 100;

    struct Variant {
        std::vector<int> widths;
        const SyntheticModel* model;
    };

    const search::Hierarchy& hierarchy() const { return h; }
    std::span<const float> module_weights(std::size_t m) const { return weights.at(m); }
    std::size_t unsearched_bytes() const { return unsearched; }
    std::span<const float> input_second_moments(std::size_t m) const { return second_moments.at(m); }
    Variant quantized(const search::QuantizedWeights& w) const {
        Variant v{{}, this};
        for (std::size_t m = 0; m < w.size(); ++m) v.widths.push_back(w.width(m));
        return v;
    }

    double performance(const std::vector<int>& widths, double scale = 1.0) const {
        double p = p_float;
        for (std::size_t m = 0; m < widths.size(); ++m) p -= scale * s[m] * damage(widths[m]);
        return p;
    }

    /// Adds a block of modules with the given shapes and sensitivity coefficients.
    void add_block(const std::string& name, const std::vector<std::pair<std::size_t, std::size_t>>& shapes,
                   const std::vector<double>& sens, unsigned seed) {
        const std::size_t b = h.add_block(name);
        std::mt19937 rng(seed);
        std::normal_distribution<float> d(0.0f, 1.0f);
        std::uniform_real_distribution<float> u(0.1f, 1.0f);
        for (std::size_t i = 0; i < shapes.size(); ++i) {
            h.add_module(b, name + ".m" + std::to_string(i), shapes[i].first, shapes[i].second);
            std::vector<float> w(shapes[i].first * shapes[i].second);
            for (auto& x : w) x = d(rng);
            weights.push_back(std::move(w));
            std::vector<float> h2(shapes[i].second);
            for (auto& x : h2) x = u(rng);
            second_moments.push_back(std::move(h2));
            s.push_back(sens[i]);
        }
    }
};

/// Scores a SyntheticModel::Variant analytically. The full set can be made harsher than the
/// calibration set (full_scale > 1) to exercise verification. Counts its calls.
struct SyntheticEvaluator {
    double full_scale = 1.0;
    std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> full_calls = std::make_shared<std::atomic<int>>(0);

    eval::Evaluation evaluate(const SyntheticModel::Variant& v, const eval::EvalRequest& r) const {
        ++*calls;
        if (r.full) ++*full_calls;
        eval::Evaluation e;
        const double p = v.model->performance(v.widths, r.full ? full_scale : 1.0);
        e.performance = eval::higher_is_better(p, "accuracy");
        if (r.distributions) {
            // Two tokens, two classes; the damage shifts a logit by 8 sqrt(damage), so the KL
            // (about shift^2 / 8 for small shifts) grows in proportion to the damage and stays
            // well above float rounding even for 8-bit modules.
            e.distributions.vocab = 2;
            const double d = std::max(0.0, v.model->p_float - p);
            for (int t = 0; t < 2; ++t) {
                std::vector<float> row = {0.0f, static_cast<float>((t + 1) * 8.0 * std::sqrt(d))};
                eval::log_softmax_in_place(row);
                e.distributions.log_probs.insert(e.distributions.log_probs.end(), row.begin(), row.end());
            }
        }
        return e;
    }
};

/// Three blocks (embedding-like, two layers of 3 modules, head-like) with separated sensitivities.
inline SyntheticModel small_model(unsigned seed = 1) {
    SyntheticModel m;
    m.add_block("emb", {{64, 16}}, {0.0004}, seed);
    m.add_block("blocks.0", {{16, 16}, {16, 16}, {32, 16}}, {0.002, 0.0001, 0.0005}, seed + 1);
    m.add_block("blocks.1", {{16, 16}, {16, 16}, {32, 16}}, {0.003, 0.0002, 0.0001}, seed + 2);
    m.add_block("head", {{64, 16}}, {0.004}, seed + 3);
    return m;
}

/// A random model with `blocks` blocks of `per_block` modules (sizes and sensitivities random).
inline SyntheticModel random_model(unsigned seed, std::size_t blocks, std::size_t per_block) {
    SyntheticModel m;
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> rows(1, 6);
    std::uniform_real_distribution<double> sens(-9.0, -5.0);
    for (std::size_t b = 0; b < blocks; ++b) {
        std::vector<std::pair<std::size_t, std::size_t>> shapes;
        std::vector<double> ss;
        for (std::size_t i = 0; i < per_block; ++i) {
            shapes.emplace_back(static_cast<std::size_t>(8 * rows(rng)), 64);
            ss.push_back(std::exp2(sens(rng)));
        }
        m.add_block("blocks." + std::to_string(b), shapes, ss, seed * 31 + static_cast<unsigned>(b));
    }
    return m;
}

}  // namespace qslm::test
