#pragma once
// Choosing the next token from a row of logits: greedy, temperature, nucleus (top-p), driven by
// a small seeded generator so that a run is reproducible from its seed on any platform.
//
// SmallRng is PCG32 (O'Neill's XSH-RR output on a 64-bit LCG): 8 bytes of state, no tables,
// the same stream on every compiler and CPU. <random>'s engines would do, but its
// distributions are implementation-defined (a seed would not reproduce across standard
// libraries), and firmware builds often leave it out.
//
// No heap: the probabilities and the sort order live in caller spans (vocab entries each).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/result.hpp"

namespace qslm::models {

class SmallRng {
public:
    /// `stream` selects one of 2^63 independent sequences for the same seed.
    constexpr explicit SmallRng(std::uint64_t seed = 0x853c49e6748fea9bULL, std::uint64_t stream = 0xda3e39cb94b95bdbULL) noexcept
        : inc_((stream << 1u) | 1u) {
        (void)next_u32();
        state_ += seed;
        (void)next_u32();
    }

    constexpr std::uint32_t next_u32() noexcept {
        const std::uint64_t old = state_;
        state_ = old * 6364136223846793005ULL + inc_;
        const auto xorshifted = static_cast<std::uint32_t>(((old >> 18u) ^ old) >> 27u);
        const auto rot = static_cast<std::uint32_t>(old >> 59u);
        return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
    }
    /// Uniform in [0, 1) with 24 random bits (every value exactly representable in float).
    constexpr float next_unit() noexcept { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }

private:
    std::uint64_t state_ = 0;
    std::uint64_t inc_ = 1;
};

struct SamplingOptions {
    /// <= 0: greedy (arg max). Otherwise logits are divided by it before the softmax.
    float temperature = 1.0f;
    /// Nucleus sampling: keep the most likely tokens whose probabilities add up to at least
    /// top_p (at least one token). >= 1 keeps the whole vocabulary.
    float top_p = 1.0f;
};

/// Index of the largest logit; the lowest index among equal maxima. NaN logits are never picked
/// (an all-NaN row gives 0).
constexpr std::size_t arg_max(std::span<const float> logits) noexcept {
    std::size_t best = 0;
    bool found = false;
    for (std::size_t i = 0; i < logits.size(); ++i) {
        if (logits[i] != logits[i]) continue;
        if (!found || logits[i] > logits[best]) {
            best = i;
            found = true;
        }
    }
    return best;
}

/// Draws one token id. `probs` and `order` need logits.size() entries each (scratch; `order` is
/// only used when 0 < top_p < 1). Errors: empty logits, small scratch, a NaN temperature/top_p,
/// or logits that give no finite distribution (all -inf or NaN).
inline Result<std::uint32_t> sample_token(std::span<const float> logits, const SamplingOptions& options, SmallRng& rng,
                                          std::span<float> probs, std::span<std::uint32_t> order) noexcept {
    const std::size_t n = logits.size();
    if (n == 0) return Failure{Status::bad_shape, "sample_token: the logits are empty"};
    if (n > 0xFFFFFFFFu) return Failure{Status::bad_shape, "sample_token: more than 2^32 logits"};
    if (!(options.temperature == options.temperature) || !(options.top_p == options.top_p))
        return Failure{Status::invalid_argument, "sample_token: temperature and top_p must be numbers"};
    if (options.temperature <= 0.0f) return static_cast<std::uint32_t>(arg_max(logits));
    if (probs.size() < n) return Failure{Status::buffer_too_small, "sample_token: probs needs one float per logit"};
    const bool nucleus = options.top_p > 0.0f && options.top_p < 1.0f;
    if (nucleus && order.size() < n) return Failure{Status::buffer_too_small, "sample_token: order needs one entry per logit"};

    // Softmax of logits / temperature, shifted by the maximum (no overflow); sums in double so
    // the cut-off does not depend on the vocabulary's order.
    const std::size_t top = arg_max(logits);
    const double max_logit = logits[top];
    if (!std::isfinite(max_logit)) return Failure{Status::invalid_argument, "sample_token: no finite logit"};
    const double inv_t = 1.0 / static_cast<double>(options.temperature);
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double z = (static_cast<double>(logits[i]) - max_logit) * inv_t;
        const float p = logits[i] == logits[i] ? static_cast<float>(std::exp(z)) : 0.0f;
        probs[i] = p;
        total += p;
    }
    if (!(total > 0.0)) return Failure{Status::invalid_argument, "sample_token: the distribution is empty"};

    if (!nucleus) {
        double u = static_cast<double>(rng.next_unit()) * total;
        for (std::size_t i = 0; i < n; ++i) {
            u -= probs[i];
            if (u < 0.0) return static_cast<std::uint32_t>(i);
        }
        return static_cast<std::uint32_t>(top);  // rounding left u >= 0: the remainder is the mode's
    }

    // Nucleus: most likely first (ties by lower id, so the order is fully determined).
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
    std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), [&](std::uint32_t a, std::uint32_t b) {
        return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
    });
    const double want = static_cast<double>(options.top_p) * total;
    double kept = 0.0;
    std::size_t count = 0;
    while (count < n && (count == 0 || kept < want)) kept += probs[order[count++]];
    double u = static_cast<double>(rng.next_unit()) * kept;
    for (std::size_t i = 0; i < count; ++i) {
        u -= probs[order[i]];
        if (u < 0.0) return order[i];
    }
    return order[0];
}

}  // namespace qslm::models
