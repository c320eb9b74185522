#pragma once
// WeightCache: every (module, width) the search touches is quantized once, with the chosen
// rounding and granularity policies, and kept as a packed tensor plus its dequantized floats.
// A search evaluates hundreds of settings built from at most modules x widths quantized
// matrices, so this turns repeated quantization (expensive for GPTQ-like rounding) into lookups.
//
// Rounding policies that need per-module data (GPTQ needs the layer's input Hessian) provide
//   static R for_module(const Model& model, std::size_t module);
// otherwise R is default-constructed.
//
// Host-only header.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/parallel.hpp"
#include "qslm/search/model.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::search {

struct QuantizedModule {
    AnyPackedTensor packed;
    std::vector<float> dequantized;
};

template <class R, class Model>
R make_rounder(const Model& model, std::size_t module) {
    if constexpr (requires { { R::for_module(model, module) } -> std::convertible_to<R>; })
        return R::for_module(model, module);
    else
        return R{};
}

template <class Model, class Rounding>
class WeightCache {
public:
    WeightCache(const Model& model, QuantSpec spec) : model_(model), spec_(spec) {}

    /// Quantizes the given (module, width) pairs that are not cached yet, in parallel.
    void prepare(const std::vector<std::pair<std::size_t, int>>& needed, unsigned threads) {
        std::vector<std::pair<std::size_t, int>> todo;
        {
            std::lock_guard lock(mutex_);
            for (const auto& p : needed)
                if (p.second != float_width && !cache_.contains(p) &&
                    std::find(todo.begin(), todo.end(), p) == todo.end())
                    todo.push_back(p);
        }
        auto made = eval::parallel_map(todo.size(), threads, [&](std::size_t i) { return quantize(todo[i]); });
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < todo.size(); ++i) cache_.emplace(todo[i], std::move(made[i]));
    }

    /// The quantized module (quantizing it now if needed). Thread-safe; entries never move.
    const QuantizedModule& get(std::size_t module, int width) {
        const auto key = std::make_pair(module, width);
        {
            std::lock_guard lock(mutex_);
            if (auto it = cache_.find(key); it != cache_.end()) return *it->second;
        }
        auto made = quantize(key);
        std::lock_guard lock(mutex_);
        return *cache_.emplace(key, std::move(made)).first->second;
    }

    /// The weights a model needs to build the variant of `setting`.
    QuantizedWeights weights_for(const Setting& setting) {
        std::vector<QuantizedWeights::Entry> entries(setting.size());
        for (std::size_t m = 0; m < setting.size(); ++m) {
            entries[m].width = setting.widths[m];
            if (setting.widths[m] == float_width) {
                entries[m].dequantized = model_.module_weights(m);
            } else {
                const QuantizedModule& q = get(m, setting.widths[m]);
                entries[m].dequantized = q.dequantized;
                entries[m].packed = &q.packed;
            }
        }
        return QuantizedWeights(std::move(entries));
    }

    /// Drops everything (used when the cache would hold too much).
    void clear() {
        std::lock_guard lock(mutex_);
        cache_.clear();
    }

private:
    std::unique_ptr<QuantizedModule> quantize(std::pair<std::size_t, int> key) const {
        const auto& info = model_.hierarchy().module(key.first);
        const std::span<const float> w = model_.module_weights(key.first);
        if (w.size() != info.weights())
            fail(Status::bad_shape, "module '" + info.name + "': the model returned " + std::to_string(w.size()) +
                                        " weights for a " + std::to_string(info.rows) + " x " +
                                        std::to_string(info.cols) + " matrix");
        auto packed = value_or_throw(AnyPackedTensor::quantize(key.second, w, info.rows, info.cols, spec_,
                                                               make_rounder<Rounding>(model_, key.first)),
                                     "quantizing module '" + info.name + "' to " + std::to_string(key.second) +
                                         " bits");
        auto q = std::make_unique<QuantizedModule>();
        q->dequantized = packed.dequantize();
        q->packed = std::move(packed);
        return q;
    }

    const Model& model_;
    QuantSpec spec_;
    std::mutex mutex_;
    std::map<std::pair<std::size_t, int>, std::unique_ptr<QuantizedModule>> cache_;
};

}  // namespace qslm::search
