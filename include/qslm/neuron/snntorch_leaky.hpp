#pragma once
// SnnTorchLeaky<V>: snnTorch's Leaky neuron (reset_delay=True, the default), bit for bit in float.
//
//   R[t] = (U[t-1] - thr > 0)                 reset flag, recomputed from the previous membrane
//   subtract: U[t] = beta*U[t-1] + I[t] - R[t]*thr
//   zero:     U[t] = beta*((1 - R[t])*U[t-1]) + I[t]
//   none:     U[t] = beta*U[t-1] + I[t]
//   S[t] = (U[t] - thr > 0)                   note the strict '>', unlike SpikingJelly
//
// So the reset lands one step after the spike, and the membrane that snnTorch returns (and
// this class keeps) is the one *before* that reset: no extra state is needed, because R[t] is
// a function of U[t-1]. Reset::hard selects snnTorch's "zero" mechanism.
//
// Fixed point: beta is held with beta_frac_bits = 16 fractional bits (exact for betas such as
// 0.5, 0.75, 0.9375; otherwise rounded to nearest, see effective_beta()); beta*U is one
// rounding of V's policy, the sum one saturation. Each step is therefore within half an LSB of
// the exact update with the effective beta from the same state.

#include <cstdint>

#include "qslm/core/result.hpp"
#include "qslm/neuron/neuron.hpp"
#include "qslm/neuron/numeric.hpp"

namespace qslm::neuron {

struct SnnTorchParams {
    double beta = 0.9;        ///< decay in [0, 1] (snnTorch clamps; we reject values outside)
    double threshold = 1.0;
    Reset reset = Reset::subtract;
};

template <Numeric V>
class SnnTorchLeaky {
public:
    using value_type = V;
    static constexpr int beta_frac_bits = 16;

    static Result<SnnTorchLeaky> make(const SnnTorchParams& p) noexcept {
        if (!(p.beta >= 0.0 && p.beta <= 1.0)) return Failure{Status::invalid_argument, "snnTorch beta must lie in [0, 1]"};
        if (!(p.threshold == p.threshold) || p.threshold > 1e30 || p.threshold < -1e30)
            return Failure{Status::invalid_argument, "snnTorch threshold must be finite"};
        SnnTorchLeaky n;
        n.params_ = p;
        n.threshold_ = num::from_double<V>(p.threshold);
        n.beta_raw_ = rounding::NearestEven::from_double(p.beta * static_cast<double>(std::int64_t{1} << beta_frac_bits));
        return n;
    }

    [[nodiscard]] constexpr const SnnTorchParams& params() const noexcept { return params_; }
    [[nodiscard]] constexpr V threshold() const noexcept { return threshold_; }
    [[nodiscard]] constexpr double effective_beta() const noexcept {
        if constexpr (FloatingNumber<V>) return static_cast<double>(static_cast<V>(params_.beta));
        else return static_cast<double>(beta_raw_) / static_cast<double>(std::int64_t{1} << beta_frac_bits);
    }
    [[nodiscard]] constexpr bool thresholds_exact() const noexcept {
        return num::to_double(threshold_) == params_.threshold;
    }
    [[nodiscard]] constexpr V initial_state() const noexcept { return num::zero<V>(); }

    [[nodiscard]] constexpr bool fire(V u) const noexcept {
        if constexpr (FloatingNumber<V>) return (u - threshold_) > V{0};
        else return u > threshold_;
    }

    /// One update of membrane u with input x; returns the spike.
    constexpr bool step(V x, V& u) const noexcept {
        const bool r = fire(u);  // reset flag from the previous membrane (reset_delay=True)
        if constexpr (FloatingNumber<V>) {
            const V beta = static_cast<V>(params_.beta);
            const V rf = r ? V{1} : V{0};
            switch (params_.reset) {
                case Reset::subtract: u = beta * u + x - rf * threshold_; break;
                case Reset::hard: u = (V{1} - rf) * u; u = beta * u + x; break;
                case Reset::none: u = beta * u + x; break;
            }
        } else {
            using R = typename V::rounding_policy;
            std::int64_t prev = u.raw();
            if (params_.reset == Reset::hard && r) prev = 0;
            std::int64_t next = R::shift_right(beta_raw_ * prev, beta_frac_bits) + std::int64_t{x.raw()};
            if (params_.reset == Reset::subtract && r) next -= threshold_.raw();
            u = V::from_raw(next);
        }
        return fire(u);
    }

private:
    SnnTorchParams params_{};
    V threshold_{};
    std::int64_t beta_raw_ = 0;
};

}  // namespace qslm::neuron
