#pragma once
// SpikingJellyLIF<V>: the LIF neuron as SpikingJelly's LIFNode computes it, bit for bit in float.
//
//   charge   decay_input:     H = V + (X - (V - V_reset)) / tau
//            not decay_input: H = V - (V - V_reset) / tau + X
//            (with V_reset = 0 or a soft reset SpikingJelly uses the algebraically equal
//             "reset0" forms V + (X - V)/tau and V*(1 - 1/tau) + X; so do we, because the
//             float results differ in the last bit)
//   fire     S = (H - V_th >= 0)
//   reset    hard:     V = (1 - S)*H + S*V_reset
//            subtract: V = H - S*V_th                       (SpikingJelly's v_reset=None)
//
// In fixed point (V = qslm::Fixed<...>) the charge is computed on the raw integers in 64 bits:
// the difference is exact, the division by tau is one rounding (a right shift when tau is a
// power of two, tau = 2 being the common case; otherwise a multiply by 1/tau held with 30
// fractional bits), then one saturation. So each step is within half an LSB (plus, for tau
// not a power of two, the reciprocal's 2^-30 relative error) of the exact real update from the
// same state, and exact whenever that update is representable. The threshold and V_reset are
// converted with V's rounding; thresholds() says whether they were exact.

#include <cstdint>

#include "qslm/core/result.hpp"
#include "qslm/neuron/neuron.hpp"
#include "qslm/neuron/numeric.hpp"

namespace qslm::neuron {

struct SpikingJellyParams {
    double tau = 2.0;           ///< membrane time constant, >= 1
    double v_threshold = 1.0;
    double v_reset = 0.0;       ///< target of a hard reset (ignored for subtract / none)
    Reset reset = Reset::hard;
    bool decay_input = true;
};

template <Numeric V>
class SpikingJellyLIF {
public:
    using value_type = V;
    static constexpr int reciprocal_frac_bits = 30;

    /// Validates the parameters: tau finite and >= 1, threshold and reset finite.
    static Result<SpikingJellyLIF> make(const SpikingJellyParams& p) noexcept {
        if (!(p.tau >= 1.0) || p.tau > 1e9) return Failure{Status::invalid_argument, "LIF tau must be a finite number >= 1"};
        if (!(p.v_threshold == p.v_threshold) || p.v_threshold > 1e30 || p.v_threshold < -1e30)
            return Failure{Status::invalid_argument, "LIF threshold must be finite"};
        if (!(p.v_reset == p.v_reset) || p.v_reset > 1e30 || p.v_reset < -1e30)
            return Failure{Status::invalid_argument, "LIF v_reset must be finite"};
        SpikingJellyLIF n;
        n.params_ = p;
        n.keep_ = 1.0 - 1.0 / p.tau;
        n.threshold_ = num::from_double<V>(p.v_threshold);
        n.v_reset_ = num::from_double<V>(p.reset == Reset::hard ? p.v_reset : 0.0);
        n.reset0_ = p.reset != Reset::hard || p.v_reset == 0.0;
        n.shift_ = -1;
        for (int k = 0; k <= 30; ++k)
            if (p.tau == static_cast<double>(std::int64_t{1} << k)) n.shift_ = k;
        n.inv_tau_raw_ = rounding::NearestEven::from_double(static_cast<double>(std::int64_t{1} << reciprocal_frac_bits) / p.tau);
        return n;
    }

    /// SpikingJelly's defaults: tau 2, threshold 1, hard reset to 0, decay_input.
    static SpikingJellyLIF standard() noexcept { return make(SpikingJellyParams{}).value(); }

    [[nodiscard]] constexpr const SpikingJellyParams& params() const noexcept { return params_; }
    [[nodiscard]] constexpr V threshold() const noexcept { return threshold_; }
    [[nodiscard]] constexpr V reset_value() const noexcept { return v_reset_; }
    /// True when threshold and v_reset are represented exactly in V.
    [[nodiscard]] constexpr bool thresholds_exact() const noexcept {
        return num::to_double(threshold_) == params_.v_threshold &&
               (params_.reset != Reset::hard || num::to_double(v_reset_) == params_.v_reset);
    }
    /// True when the division by tau is a shift in fixed point (tau a power of two).
    [[nodiscard]] constexpr bool tau_is_shift() const noexcept { return shift_ >= 0; }
    [[nodiscard]] constexpr V initial_state() const noexcept { return params_.reset == Reset::hard ? v_reset_ : num::zero<V>(); }

    /// H from input x and membrane v (no fire, no reset).
    [[nodiscard]] constexpr V charge(V x, V v) const noexcept {
        if constexpr (FloatingNumber<V>) {
            const V tau = static_cast<V>(params_.tau);  // PyTorch casts a Python float to the tensor's dtype
            if (params_.decay_input) return reset0_ ? v + (x - v) / tau : v + (x - (v - v_reset_)) / tau;
            return reset0_ ? v * static_cast<V>(keep_) + x : v - (v - v_reset_) / tau + x;
        } else {
            const std::int64_t xv = x.raw(), vv = v.raw(), rv = v_reset_.raw();
            const std::int64_t leak = divide_by_tau(params_.decay_input ? xv - (vv - rv) : vv - rv);
            return V::from_raw(params_.decay_input ? vv + leak : vv - leak + xv);
        }
    }
    [[nodiscard]] constexpr bool fire(V h) const noexcept {
        if constexpr (FloatingNumber<V>) return (h - threshold_) >= V{0};  // SpikingJelly's heaviside(H - V_th)
        else return h >= threshold_;
    }
    [[nodiscard]] constexpr V after_spike(V h, bool spike) const noexcept {
        if constexpr (FloatingNumber<V>) {
            const V s = spike ? V{1} : V{0};
            switch (params_.reset) {
                case Reset::hard: return (V{1} - s) * h + s * v_reset_;
                case Reset::subtract: return h - s * threshold_;
                case Reset::none: return h;
            }
            return h;
        } else {
            if (!spike) return h;
            switch (params_.reset) {
                case Reset::hard: return v_reset_;
                case Reset::subtract: return V::from_raw(std::int64_t{h.raw()} - std::int64_t{threshold_.raw()});
                case Reset::none: return h;
            }
            return h;
        }
    }
    /// One update of membrane v with input x; returns the spike.
    constexpr bool step(V x, V& v) const noexcept {
        const V h = charge(x, v);
        const bool s = fire(h);
        v = after_spike(h, s);
        return s;
    }

private:
    constexpr std::int64_t divide_by_tau(std::int64_t d) const noexcept {
        using R = typename V::rounding_policy;
        if (shift_ >= 0) return R::shift_right(d, shift_);
        // |d| < 2^34 and inv_tau_raw_ <= 2^30, so the product stays below 2^64.
        return R::shift_right(d * inv_tau_raw_, reciprocal_frac_bits);
    }

    SpikingJellyParams params_{};
    double keep_ = 0.5;  // 1 - 1/tau computed in double, as SpikingJelly does in Python
    V threshold_{};
    V v_reset_{};
    bool reset0_ = true;
    int shift_ = 1;
    std::int64_t inv_tau_raw_ = 0;
};

}  // namespace qslm::neuron
