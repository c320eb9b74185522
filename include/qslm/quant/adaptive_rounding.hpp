#pragma once
// Adaptive rounding in the spirit of TesseraQ (Li et al., 2024) — progressive adaptive
// rounding (PAR) plus dequantization-scale tuning — on the layer-wise objective.
//
// Each weight may take one of two neighbouring levels lo / hi; a soft variable h ∈ [0, 1]
// (AdaRound's rectified sigmoid of a free parameter V) blends them:
//
//   Ŵ = s · (lo + h·(hi − lo) − zero_point),   loss = tr((Ŵ − W) H (Ŵ − W)ᵀ)
//
// with H = 2/N Σ x xᵀ from the calibration data, i.e. exactly the output reconstruction error
// over every calibration input seen (not only a stored sample). The relaxed problem is convex,
// so a penalty towards 0/1 (AdaRound) is replaced by TesseraQ's progressive hardening: each
// round fixes the most confident soft variables (largest |h − ½|) to 0 or 1 until a growing
// fraction of them is hard (schedule, e.g. 50 % → 70 % → … → 100 %), then optimises the ones
// still soft with Adam on a hand-written gradient (2·(Ŵ − W)·H, one GEMM per step) so they
// compensate the error just frozen. Finally the scales are refitted by least squares on the
// same objective given the hard levels (per row for per-channel and per-group scales, where
// groups of a row are coupled through H; one scalar for a per-tensor scale).
//
// Guarantees and choices:
// - The GPTQ solution on the same grid is computed too, and the better of the two (lower
//   objective) is kept before the scale refit, which is accepted only if it lowers the
//   objective — so the result is never worse than GPTQ on the calibration data.
// - No randomness: ties are broken by index, so a run is a pure function of its inputs. A
//   wall-time cap (max_seconds > 0) hardens everything left when it expires; that makes the
//   result depend on machine speed, so it is off by default (the iteration count is the bound).
// - Starting point: `nearest` places the level pair around W/s with h at the fractional part
//   (AdaRound); `gptq` places it around GPTQ's error-compensated weights instead, so hardening
//   starts next to GPTQ's own choice.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/quant/clip_search.hpp"
#include "qslm/quant/gptq.hpp"
#include "qslm/quant/input_statistics.hpp"
#include "qslm/quant/layer_error.hpp"
#include "qslm/tensor/quant_grid.hpp"

namespace qslm::quant {

enum class AdaptiveInit : std::uint8_t { nearest, gptq };

struct AdaptiveRoundingOptions {
    GptqOptions gptq{};  ///< damping / act-order of the GPTQ baseline; its clipping search shapes the grid
    AdaptiveInit init = AdaptiveInit::nearest;
    /// Fraction of the soft variables that is hard after each round (non-decreasing, ≤ 1).
    std::vector<double> schedule = {0.5, 0.65, 0.75, 0.85, 0.9, 0.95, 0.98, 1.0};
    int iterations_per_round = 60;  ///< Adam steps on the variables still soft
    double learning_rate = 0.05;    ///< Adam step on V (h = clamp(1.2·sigmoid(V) − 0.1, 0, 1))
    bool tune_scales = true;        ///< least-squares refit of float32 scales given the levels
    int polish_sweeps = 4;          ///< ±1-level local search sweeps after hardening (0: none)
    bool keep_better_of_gptq = true;
    double max_seconds = 0.0;       ///< 0: no wall-time cap
};

/// What one call did (for logs and tests): objectives are output_mse() values.
struct AdaptiveRoundingReport {
    double gptq_mse = 0.0;      ///< GPTQ on the same grid (0 when keep_better_of_gptq is off)
    double adaptive_mse = 0.0;  ///< progressive adaptive rounding before the scale refit
    double final_mse = 0.0;     ///< what was returned
    bool kept_gptq = false;
    bool scales_tuned = false;
    std::size_t polish_moves = 0;  ///< levels changed by the local search
    std::size_t rounds = 0;
    bool stopped_by_time = false;
};

class AdaptiveRounding {
public:
    AdaptiveRounding(const Eigen::MatrixXd& hessian, AdaptiveRoundingOptions options = {})
        : options_(checked(std::move(options))), hessian_(hessian), gptq_(hessian, without_clipping(options_.gptq)) {
        hessian_f_ = hessian_.cast<float>();
    }
    AdaptiveRounding(const InputStatistics& statistics, AdaptiveRoundingOptions options = {})
        : AdaptiveRounding(statistics.hessian(), std::move(options)) {}
    /// Shares an existing GPTQ factor (same Hessian) instead of factorising again.
    AdaptiveRounding(const Eigen::MatrixXd& hessian, std::shared_ptr<const GptqFactor> factor,
                     AdaptiveRoundingOptions options = {})
        : options_(checked(std::move(options))), hessian_(hessian),
          gptq_(std::move(factor), without_clipping(options_.gptq)) {
        check_hessian(hessian_, gptq_.factor()->inputs(), "adaptive rounding");
        hessian_f_ = hessian_.cast<float>();
    }

    Status operator()(QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels) const {
        (void)round(grid, w, levels);
        return Status::ok;
    }

    AdaptiveRoundingReport round(QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels) const {
        const auto start = std::chrono::steady_clock::now();
        const std::size_t rows = grid.rows(), cols = grid.cols();
        if (cols != static_cast<std::size_t>(hessian_.rows()))
            fail(Status::bad_shape, "adaptive rounding: the Hessian is " + std::to_string(hessian_.rows()) + " x " +
                                        std::to_string(hessian_.cols()) + " but the weight matrix has " +
                                        std::to_string(cols) + " inputs (columns)");
        if (w.size() != rows * cols || levels.size() != rows * cols)
            fail(Status::bad_shape, "adaptive rounding: weights or levels do not match the grid's shape");
        if (options_.gptq.clip_search) search_clipping(grid, w, options_.gptq.clipping);

        AdaptiveRoundingReport report;
        const auto R = static_cast<Eigen::Index>(rows), C = static_cast<Eigen::Index>(cols);
        Eigen::MatrixXf target(R, C);
        for (Eigen::Index r = 0; r < R; ++r)
            for (Eigen::Index c = 0; c < C; ++c) target(r, c) = w[static_cast<std::size_t>(r * C + c)];

        std::vector<std::int16_t> gptq_levels;
        Eigen::MatrixXf compensated;
        if (options_.keep_better_of_gptq || options_.init == AdaptiveInit::gptq) {
            gptq_levels.resize(rows * cols);
            gptq_.round(grid, w, gptq_levels, options_.init == AdaptiveInit::gptq ? &compensated : nullptr);
        }
        const Eigen::MatrixXf& base = options_.init == AdaptiveInit::gptq ? compensated : target;

        // Level pairs and the affine map h -> Ŵ = lo_value + h * step.
        Eigen::ArrayXXf lo_value(R, C), step(R, C), h(R, C), v(R, C);
        Eigen::Array<std::int16_t, Eigen::Dynamic, Eigen::Dynamic> lo_level(R, C), hi_level(R, C);
        Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> soft(R, C);
        const LevelRange range = grid.range();
        for (Eigen::Index c = 0; c < C; ++c) {
            for (Eigen::Index r = 0; r < R; ++r) {
                const auto rr = static_cast<std::size_t>(r), cc = static_cast<std::size_t>(c);
                const double s = grid.scale(rr, cc);
                const int zp = grid.zero_point(rr, cc);
                const double x = base(r, c) / s + zp;
                int lo = 0, hi = 0;
                double frac = 0.0;
                if (range.skips_zero) {
                    lo = -1, hi = 1, frac = std::clamp((x + 1.0) / 2.0, 0.0, 1.0);
                } else {
                    const double b = std::floor(x);
                    if (b + 1.0 <= range.min_level) lo = hi = range.min_level;
                    else if (b >= range.max_level) lo = hi = range.max_level;
                    else lo = static_cast<int>(b), hi = lo + 1, frac = x - b;
                }
                lo_level(r, c) = static_cast<std::int16_t>(lo);
                hi_level(r, c) = static_cast<std::int16_t>(hi);
                lo_value(r, c) = static_cast<float>(s * (lo - zp));
                step(r, c) = static_cast<float>(s * (hi - lo));
                soft(r, c) = hi != lo;
                h(r, c) = static_cast<float>(frac);
                // Inverse of the rectified sigmoid, kept off the flat ends so gradients flow.
                const double p = std::clamp((frac + 0.1) / 1.2, 1e-3, 1.0 - 1e-3);
                v(r, c) = static_cast<float>(std::log(p / (1.0 - p)));
            }
        }

        const auto initially_soft = static_cast<std::size_t>(soft.count());
        std::size_t hardened = 0;
        std::vector<Eigen::Index> candidates;
        for (const double fraction : options_.schedule) {
            if (!report.stopped_by_time && options_.max_seconds > 0.0 &&
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > options_.max_seconds)
                report.stopped_by_time = true;
            const double f = report.stopped_by_time ? 1.0 : fraction;
            const auto goal = static_cast<std::size_t>(std::ceil(f * static_cast<double>(initially_soft)));
            if (goal > hardened) {
                // Freeze the most confident soft variables (stable: ties by index).
                candidates.clear();
                for (Eigen::Index i = 0; i < h.size(); ++i)
                    if (soft(i)) candidates.push_back(i);
                const std::size_t count = std::min(goal - hardened, candidates.size());
                std::stable_sort(candidates.begin(), candidates.end(), [&](Eigen::Index a, Eigen::Index b) {
                    return std::abs(h(a) - 0.5f) > std::abs(h(b) - 0.5f);
                });
                for (std::size_t k = 0; k < count; ++k) {
                    const Eigen::Index i = candidates[k];
                    h(i) = h(i) >= 0.5f ? 1.0f : 0.0f;
                    soft(i) = false;
                }
                hardened += count;
            }
            ++report.rounds;
            if (hardened >= initially_soft || report.stopped_by_time) break;
            optimise(target, lo_value, step, soft, h, v);
        }
        for (Eigen::Index i = 0; i < h.size(); ++i)
            if (soft(i)) h(i) = h(i) >= 0.5f ? 1.0f : 0.0f;

        std::vector<std::int16_t> adaptive_levels(rows * cols);
        for (Eigen::Index r = 0; r < R; ++r)
            for (Eigen::Index c = 0; c < C; ++c)
                adaptive_levels[static_cast<std::size_t>(r * C + c)] = h(r, c) >= 0.5f ? hi_level(r, c) : lo_level(r, c);
        report.adaptive_mse = objective(grid, w, adaptive_levels);
        std::vector<std::int16_t>* chosen = &adaptive_levels;
        report.final_mse = report.adaptive_mse;
        if (options_.keep_better_of_gptq) {
            report.gptq_mse = objective(grid, w, gptq_levels);
            if (report.gptq_mse < report.adaptive_mse) {
                chosen = &gptq_levels;
                report.kept_gptq = true;
                report.final_mse = report.gptq_mse;
            }
        }
        // Polish, refit the scales, and polish again on the refitted grid: each step only ever
        // lowers the objective (the refit is undone if it does not).
        for (int pass = 0; pass < 2; ++pass) {
            const std::size_t moves = polish(grid, target, *chosen);
            report.polish_moves += moves;
            if (moves > 0) report.final_mse = objective(grid, w, *chosen);
            if (pass == 1 || !options_.tune_scales || grid.spec().scale_format != ScaleFormat::float32) break;
            const std::vector<float> before(grid.scales().begin(), grid.scales().end());
            refit_scales(grid, target, *chosen);
            const double tuned = objective(grid, w, *chosen);
            if (!(tuned < report.final_mse)) {
                std::copy(before.begin(), before.end(), grid.mutable_scales().begin());
                break;
            }
            report.final_mse = tuned;
            report.scales_tuned = true;
        }
        std::copy(chosen->begin(), chosen->end(), levels.begin());
        return report;
    }

    [[nodiscard]] const AdaptiveRoundingOptions& options() const noexcept { return options_; }
    [[nodiscard]] const Gptq& gptq() const noexcept { return gptq_; }

private:
    static GptqOptions without_clipping(GptqOptions o) {
        o.clip_search = false;  // the grid is clipped once, before GPTQ and PAR both use it
        return o;
    }
    static AdaptiveRoundingOptions checked(AdaptiveRoundingOptions o) {
        if (o.schedule.empty()) fail(Status::invalid_argument, "adaptive rounding: the hardening schedule is empty");
        double previous = 0.0;
        for (const double f : o.schedule) {
            if (!(f > 0.0) || f > 1.0 || f < previous)
                fail(Status::invalid_argument,
                     "adaptive rounding: the hardening schedule must be non-decreasing fractions in (0, 1]");
            previous = f;
        }
        if (o.polish_sweeps < 0) fail(Status::invalid_argument, "adaptive rounding: negative polish sweep count");
        if (o.iterations_per_round < 0) fail(Status::invalid_argument, "adaptive rounding: negative iteration count");
        if (!(o.learning_rate > 0.0)) fail(Status::invalid_argument, "adaptive rounding: learning rate must be > 0");
        return o;
    }

    double objective(const QuantGrid& grid, std::span<const float> w, std::span<const std::int16_t> levels) const {
        std::vector<float> w_hat(levels.size());
        const std::size_t cols = grid.cols();
        for (std::size_t i = 0; i < levels.size(); ++i) w_hat[i] = grid.dequantize(levels[i], i / cols, i % cols);
        return output_mse(hessian_, w, w_hat, grid.rows(), cols);
    }

    // Adam on V for the soft variables; hard ones keep their 0/1 value in h.
    void optimise(const Eigen::MatrixXf& target, const Eigen::ArrayXXf& lo_value, const Eigen::ArrayXXf& step,
                  const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& soft, Eigen::ArrayXXf& h,
                  Eigen::ArrayXXf& v) const {
        constexpr float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
        const auto lr = static_cast<float>(options_.learning_rate);
        Eigen::ArrayXXf m = Eigen::ArrayXXf::Zero(v.rows(), v.cols());
        Eigen::ArrayXXf second = m;
        const Eigen::ArrayXXf soft_mask = soft.cast<float>();
        Eigen::MatrixXf diff(v.rows(), v.cols()), grad(v.rows(), v.cols());
        float bias1 = 1.0f, bias2 = 1.0f;
        for (int t = 0; t < options_.iterations_per_round; ++t) {
            const Eigen::ArrayXXf p = (1.0f + (-v).exp()).inverse();
            const Eigen::ArrayXXf stretched = 1.2f * p - 0.1f;
            h = soft.select(stretched.max(0.0f).min(1.0f), h);
            diff = (lo_value + h * step).matrix() - target;
            grad.noalias() = diff * hessian_f_;  // dloss/dŴ = 2·(Ŵ − W)·H; the 2 is absorbed by Adam
            const Eigen::ArrayXXf inside = ((stretched > 0.0f) && (stretched < 1.0f)).cast<float>();
            const Eigen::ArrayXXf g = grad.array() * step * (1.2f * p * (1.0f - p)) * inside * soft_mask;
            m = beta1 * m + (1.0f - beta1) * g;
            second = beta2 * second + (1.0f - beta2) * g.square();
            bias1 *= beta1;
            bias2 *= beta2;
            v -= lr * (m / (1.0f - bias1)) / ((second / (1.0f - bias2)).sqrt() + epsilon);
        }
        const Eigen::ArrayXXf p = (1.0f + (-v).exp()).inverse();
        h = soft.select((1.2f * p - 0.1f).max(0.0f).min(1.0f), h);
    }

    // Local search on the integer levels: move a weight one level up or down (or flip a ±1
    // weight) when that lowers tr(E H Eᵀ). With G = E·H kept up to date, the change of the
    // objective for moving weight (r, c) by δ is 2·δ·G(r, c) + δ²·H(c, c), so a sweep costs one
    // rank-1 update of G per column that moved. It turns a good rounding into a local optimum
    // with respect to single-level moves, which neither GPTQ nor hardening guarantees.
    std::size_t polish(const QuantGrid& grid, const Eigen::MatrixXf& target, std::span<std::int16_t> levels) const {
        const std::size_t rows = grid.rows(), cols = grid.cols();
        const auto R = static_cast<Eigen::Index>(rows), C = static_cast<Eigen::Index>(cols);
        const LevelRange range = grid.range();
        Eigen::MatrixXd e(R, C);
        for (Eigen::Index r = 0; r < R; ++r)
            for (Eigen::Index c = 0; c < C; ++c)
                e(r, c) = static_cast<double>(grid.dequantize(levels[static_cast<std::size_t>(r * C + c)],
                                                              static_cast<std::size_t>(r), static_cast<std::size_t>(c))) -
                          target(r, c);
        Eigen::MatrixXd g = e * hessian_;
        Eigen::VectorXd delta(R);
        std::size_t moves = 0;
        for (int sweep = 0; sweep < options_.polish_sweeps; ++sweep) {
            std::size_t moved_this_sweep = 0;
            for (Eigen::Index c = 0; c < C; ++c) {
                const double hcc = hessian_(c, c);
                bool any = false;
                for (Eigen::Index r = 0; r < R; ++r) {
                    const auto rr = static_cast<std::size_t>(r), cc = static_cast<std::size_t>(c);
                    const int q = levels[rr * cols + cc];
                    const double s = grid.scale(rr, cc);
                    double best = 0.0;
                    int best_level = q;
                    const int candidates[2] = {range.skips_zero ? -q : q - 1, range.skips_zero ? -q : q + 1};
                    for (const int next : candidates) {
                        if (next < range.min_level || next > range.max_level || next == q) continue;
                        const double d = s * (next - q);
                        const double change = 2.0 * d * g(r, c) + d * d * hcc;
                        if (change < best - 1e-12 * d * d * hcc) best = change, best_level = next;
                    }
                    delta(r) = 0.0;
                    if (best_level != q) {
                        delta(r) = s * (best_level - q);
                        levels[rr * cols + cc] = static_cast<std::int16_t>(best_level);
                        any = true;
                        ++moved_this_sweep;
                    }
                }
                if (any) {
                    g.noalias() += delta * hessian_.row(c);
                }
            }
            moves += moved_this_sweep;
            if (moved_this_sweep == 0) break;
        }
        return moves;
    }

    // Least-squares scales given the levels: for each row, minimise (A s − w)ᵀ H (A s − w) over
    // that row's scales s (A spreads s over the row's groups); a tiny ridge towards the old
    // scale keeps groups whose levels are all at the zero point where they were.
    void refit_scales(QuantGrid& grid, const Eigen::MatrixXf& target, std::span<const std::int16_t> levels) const {
        const std::size_t rows = grid.rows(), cols = grid.cols();
        const auto R = static_cast<Eigen::Index>(rows), C = static_cast<Eigen::Index>(cols);
        Eigen::MatrixXd a(R, C);
        for (Eigen::Index r = 0; r < R; ++r)
            for (Eigen::Index c = 0; c < C; ++c)
                a(r, c) = levels[static_cast<std::size_t>(r * C + c)] -
                          grid.zero_point(static_cast<std::size_t>(r), static_cast<std::size_t>(c));
        const Eigen::MatrixXd wd = target.cast<double>();
        const std::span<float> scales = grid.mutable_scales();
        const ScaleLayout layout = grid.spec().layout;
        if (layout.granularity == Granularity::per_tensor) {
            const Eigen::MatrixXd ah = a * hessian_;
            const double den = ah.cwiseProduct(a).sum(), num = ah.cwiseProduct(wd).sum();
            const double s = num / den;
            if (den > 0.0 && std::isfinite(s) && s > 0.0) scales[0] = static_cast<float>(s);
            return;
        }
        const std::size_t group = layout.granularity == Granularity::per_group ? layout.group_size : cols;
        const auto groups = static_cast<Eigen::Index>(layout.groups_per_row(cols));
        std::vector<Eigen::MatrixXd> normal(rows, Eigen::MatrixXd::Zero(groups, groups));
        Eigen::MatrixXd rhs(R, groups);
        auto first = [&](Eigen::Index g) { return static_cast<Eigen::Index>(static_cast<std::size_t>(g) * group); };
        auto width = [&](Eigen::Index g) { return std::min(static_cast<Eigen::Index>(group), C - first(g)); };
        for (Eigen::Index g2 = 0; g2 < groups; ++g2) {
            // Row r of p: Σ_{c in group g2} a(r, c) · H(c, :)
            const Eigen::MatrixXd p = a.middleCols(first(g2), width(g2)) * hessian_.middleRows(first(g2), width(g2));
            rhs.col(g2) = p.cwiseProduct(wd).rowwise().sum();
            for (Eigen::Index r = 0; r < R; ++r)
                for (Eigen::Index g1 = 0; g1 < groups; ++g1)
                    normal[static_cast<std::size_t>(r)](g1, g2) =
                        a.row(r).segment(first(g1), width(g1)).dot(p.row(r).segment(first(g1), width(g1)));
        }
        for (Eigen::Index r = 0; r < R; ++r) {
            Eigen::MatrixXd& k = normal[static_cast<std::size_t>(r)];
            Eigen::VectorXd old(groups);
            for (Eigen::Index g = 0; g < groups; ++g)
                old(g) = scales[grid.scale_index(static_cast<std::size_t>(r), static_cast<std::size_t>(first(g)))];
            const double ridge = 1e-9 * (k.trace() / static_cast<double>(groups)) + 1e-30;
            k.diagonal().array() += ridge;
            const Eigen::VectorXd s = k.ldlt().solve(rhs.row(r).transpose() + ridge * old);
            if (!s.allFinite() || (s.array() <= 0.0).any()) continue;  // keep this row's old scales
            for (Eigen::Index g = 0; g < groups; ++g)
                scales[grid.scale_index(static_cast<std::size_t>(r), static_cast<std::size_t>(first(g)))] =
                    static_cast<float>(s(g));
        }
    }

    AdaptiveRoundingOptions options_;
    Eigen::MatrixXd hessian_;
    Eigen::MatrixXf hessian_f_;
    Gptq gptq_;
};

static_assert(WeightRounder<AdaptiveRounding>);

}  // namespace qslm::quant
