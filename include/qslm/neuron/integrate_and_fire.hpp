#pragma once
// IntegrateAndFire<V>: the IF neuron (no leak), SpikingJelly's IFNode conventions:
//   H = V + X;  S = (H - V_th >= 0);  hard: V = (1 - S)*H + S*V_reset;  subtract: V = H - S*V_th.
// In fixed point the sum is exact before one saturation, so it matches float exactly whenever
// the values are representable.

#include <cstdint>

#include "qslm/core/result.hpp"
#include "qslm/neuron/neuron.hpp"
#include "qslm/neuron/numeric.hpp"

namespace qslm::neuron {

struct IntegrateAndFireParams {
    double v_threshold = 1.0;
    double v_reset = 0.0;
    Reset reset = Reset::hard;
};

template <Numeric V>
class IntegrateAndFire {
public:
    using value_type = V;

    static Result<IntegrateAndFire> make(const IntegrateAndFireParams& p) noexcept {
        if (!(p.v_threshold == p.v_threshold) || p.v_threshold > 1e30 || p.v_threshold < -1e30 ||
            !(p.v_reset == p.v_reset) || p.v_reset > 1e30 || p.v_reset < -1e30)
            return Failure{Status::invalid_argument, "IF threshold and v_reset must be finite"};
        IntegrateAndFire n;
        n.params_ = p;
        n.threshold_ = num::from_double<V>(p.v_threshold);
        n.v_reset_ = num::from_double<V>(p.reset == Reset::hard ? p.v_reset : 0.0);
        return n;
    }

    [[nodiscard]] constexpr const IntegrateAndFireParams& params() const noexcept { return params_; }
    [[nodiscard]] constexpr V threshold() const noexcept { return threshold_; }
    [[nodiscard]] constexpr V initial_state() const noexcept { return params_.reset == Reset::hard ? v_reset_ : num::zero<V>(); }

    constexpr bool step(V x, V& v) const noexcept {
        if constexpr (FloatingNumber<V>) {
            const V h = v + x;
            const bool spike = (h - threshold_) >= V{0};
            const V s = spike ? V{1} : V{0};
            switch (params_.reset) {
                case Reset::hard: v = (V{1} - s) * h + s * v_reset_; break;
                case Reset::subtract: v = h - s * threshold_; break;
                case Reset::none: v = h; break;
            }
            return spike;
        } else {
            const V h = V::from_raw(std::int64_t{v.raw()} + std::int64_t{x.raw()});
            const bool spike = h >= threshold_;
            v = h;
            if (spike && params_.reset == Reset::hard) v = v_reset_;
            if (spike && params_.reset == Reset::subtract) v = V::from_raw(std::int64_t{h.raw()} - std::int64_t{threshold_.raw()});
            return spike;
        }
    }

private:
    IntegrateAndFireParams params_{};
    V threshold_{};
    V v_reset_{};
};

}  // namespace qslm::neuron
