#pragma once
// Data-free calibration: text sampled from the float model itself, so the search (and its
// evaluation) can run without any data set. Quantization is then judged by how well the
// quantized model predicts what the float model would say, which is what matters when no task
// data exists.
//
// Sampling is model-specific only in one step: given the previous token, return the logits
// of the next one (recurrent / RNN mode; SpikeGPT runs this way in constant memory):
//
//   struct MySampler {                       // qslm::eval::AutoregressiveModel
//       void reset();                        // fresh state for a new sequence
//       std::vector<float> step(int token);  // logits over the vocabulary for the next token
//   };
//
// The random numbers come from std::mt19937_64 (its output is fixed by the C++ standard) turned
// into uniforms by our own arithmetic, not std::uniform_real_distribution (which differs
// between standard libraries), so a seed gives the same text on every platform.
//
// Host-only header.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/token_metrics.hpp"

namespace qslm::eval {

template <class M>
concept AutoregressiveModel = requires(M& m, int token) {
    m.reset();
    { m.step(token) } -> std::convertible_to<std::vector<float>>;
};

struct SamplingOptions {
    std::size_t sequences = 8;
    std::size_t length = 256;        ///< tokens per sequence, the start token included
    std::uint64_t seed = 0;
    double temperature = 1.0;        ///< 0 = greedy (arg-max)
    std::size_t top_k = 0;           ///< 0 = the whole vocabulary
    std::vector<int> start_tokens = {'\n'};  ///< sequence s starts with start_tokens[s % size]
};

/// A uniform double in [0, 1) from 53 random bits (platform-independent).
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

/// Draws a token from logits at a temperature, optionally among the top-k only.
inline int sample_token(std::span<const float> logits, double temperature, std::size_t top_k, std::mt19937_64& rng) {
    if (logits.empty()) fail(Status::bad_shape, "sampling from an empty row of logits");
    for (const float x : logits)
        if (!std::isfinite(x)) fail(Status::invalid_argument, "sampling from logits that contain NaN or infinity");
    if (temperature == 0.0) return static_cast<int>(arg_max(logits));
    std::vector<std::size_t> order(logits.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::size_t keep = top_k == 0 ? logits.size() : std::min(top_k, logits.size());
    // Stable: equal logits keep index order, so the result does not depend on the sort algorithm.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
    const double top = logits[order[0]];
    std::vector<double> weight(keep);
    double sum = 0.0;
    for (std::size_t i = 0; i < keep; ++i) sum += weight[i] = std::exp((logits[order[i]] - top) / temperature);
    double u = uniform01(rng) * sum;
    for (std::size_t i = 0; i < keep; ++i) {
        if (u < weight[i]) return static_cast<int>(order[i]);
        u -= weight[i];
    }
    return static_cast<int>(order[keep - 1]);
}

/// Samples calibration sequences from a model. Sequence s uses its own generator seeded from
/// (seed, s), so sequences can be drawn in any order or in parallel with the same result.
template <AutoregressiveModel Model>
std::vector<std::vector<int>> sample_sequences(Model& model, const SamplingOptions& options) {
    if (options.sequences == 0 || options.length < 2)
        fail(Status::invalid_argument, "data-free sampling needs at least one sequence of at least 2 tokens");
    if (options.start_tokens.empty()) fail(Status::invalid_argument, "data-free sampling needs a start token");
    if (!(options.temperature >= 0.0)) fail(Status::invalid_argument, "sampling temperature must be >= 0");
    std::vector<std::vector<int>> out;
    for (std::size_t s = 0; s < options.sequences; ++s) {
        std::seed_seq seq{static_cast<std::uint32_t>(options.seed), static_cast<std::uint32_t>(options.seed >> 32),
                          static_cast<std::uint32_t>(s)};
        std::mt19937_64 rng(seq);
        model.reset();
        std::vector<int> tokens{options.start_tokens[s % options.start_tokens.size()]};
        while (tokens.size() < options.length) {
            const std::vector<float> logits = model.step(tokens.back());
            tokens.push_back(sample_token(logits, options.temperature, options.top_k, rng));
        }
        out.push_back(std::move(tokens));
    }
    return out;
}

}  // namespace qslm::eval
