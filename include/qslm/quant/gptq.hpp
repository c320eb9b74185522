#pragma once
// GPTQ (Frantar et al., 2022) as a WeightRounder: quantize the input columns one at a time and
// push each column's rounding error onto the columns not yet quantized, weighted by the
// inverse Hessian of the layer's output error, so later roundings compensate earlier ones.
//
//   qslm::quant::Gptq gptq{calibration.layer("blocks.0.ffn.key"), {.act_order = true}};
//   auto w4 = qslm::PackedTensor<4>::quantize(weights, rows, cols, spec, gptq);
//   auto w3 = qslm::AnyPackedTensor::quantize(3, weights, rows, cols, spec, gptq);  // same factor
//
// Everything that depends only on the Hessian (dead columns, damping, act-order permutation,
// upper Cholesky factor of H⁻¹) lives in a GptqFactor computed once at construction and shared
// by copies, because the search rounds the same layer at several widths.
//
// Choices, and why:
// - Static groups: the grid (per-channel or per-group scales) is fitted to the original
//   weights before any column is quantized (QuantGrid::fit, then optionally the clipping
//   search), instead of refitting each group's scale from the error-updated weights when the
//   group starts. With act-order this keeps the lookup simple and correct: column j of the
//   permuted order uses the scale of its *original* column perm[j].
// - Dead inputs (H_ii = 0: the input never fired during calibration) are rounded to nearest and
//   not zeroed as in the reference code: a spiking input that stayed silent on the calibration
//   data may still fire in deployment. Their Hessian row is zero, so they neither take nor give
//   error compensation.
// - Damping: λ = damping · mean(diag H) is added to the diagonal; if the Cholesky factorisation
//   still fails (rank-deficient data in float arithmetic), λ grows ×10 up to four times.
// - The factorisation is done in double, the column sweep in float (the sweep is GEMM-bound;
//   float halves its cost) with lazy block updates of `block_size` columns.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/quant/clip_search.hpp"
#include "qslm/quant/input_statistics.hpp"
#include "qslm/quant/layer_error.hpp"
#include "qslm/tensor/quant_grid.hpp"

namespace qslm::quant {

struct GptqOptions {
    double damping = 0.01;          ///< fraction of the mean Hessian diagonal added to the diagonal
    std::size_t block_size = 128;   ///< columns per lazy batch update
    bool act_order = false;         ///< quantize inputs in order of decreasing H_ii
    bool clip_search = true;        ///< shrink scales by search_clipping() before rounding
    ClipSearchOptions clipping{};
};

/// What GPTQ needs from the Hessian, independent of the width and of the weights.
class GptqFactor {
public:
    static GptqFactor compute(const Eigen::MatrixXd& hessian, double damping, bool act_order) {
        check_hessian(hessian, static_cast<std::size_t>(hessian.rows()), "GPTQ");
        if (!(damping >= 0.0)) fail(Status::invalid_argument, "GPTQ: damping must be >= 0");
        const Eigen::Index n = hessian.rows();
        GptqFactor f;
        f.dead_.assign(static_cast<std::size_t>(n), 0);
        Eigen::MatrixXd h = hessian;
        for (Eigen::Index i = 0; i < n; ++i) {
            if (h(i, i) == 0.0) {
                f.dead_[static_cast<std::size_t>(i)] = 1;
                h(i, i) = 1.0;  // decouples the column: its inverse row is a unit vector
            }
        }
        f.perm_.resize(static_cast<std::size_t>(n));
        std::iota(f.perm_.begin(), f.perm_.end(), std::size_t{0});
        if (act_order) {
            // Stable: equal diagonals keep their natural order, so the result is reproducible.
            std::stable_sort(f.perm_.begin(), f.perm_.end(), [&](std::size_t a, std::size_t b) {
                return hessian(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(a)) >
                       hessian(static_cast<Eigen::Index>(b), static_cast<Eigen::Index>(b));
            });
            Eigen::MatrixXd p(n, n);
            for (Eigen::Index i = 0; i < n; ++i)
                for (Eigen::Index j = 0; j < n; ++j)
                    p(i, j) = h(static_cast<Eigen::Index>(f.perm_[static_cast<std::size_t>(i)]),
                                static_cast<Eigen::Index>(f.perm_[static_cast<std::size_t>(j)]));
            h = std::move(p);
        }
        double lambda = damping * h.diagonal().mean();
        if (!(lambda > 0.0)) lambda = 1e-12 * h.diagonal().mean();
        for (int attempt = 0; attempt < 5; ++attempt, lambda *= 10.0) {
            Eigen::MatrixXd damped = h;
            damped.diagonal().array() += lambda;
            Eigen::LLT<Eigen::MatrixXd> llt(damped);
            if (llt.info() != Eigen::Success) continue;
            const Eigen::MatrixXd inverse = llt.solve(Eigen::MatrixXd::Identity(n, n));
            Eigen::LLT<Eigen::MatrixXd> llt_inverse(inverse);
            if (llt_inverse.info() != Eigen::Success) continue;
            // H⁻¹ = Uᵀ U with U upper triangular: row j of U holds how column j's error spreads
            // over the columns after it, and U_jj is the error's normaliser.
            f.upper_ = Eigen::MatrixXd(llt_inverse.matrixU()).cast<float>();
            f.damping_used_ = lambda;
            return f;
        }
        fail(Status::invalid_argument, "GPTQ: the Hessian is not positive definite even with damping " +
                                           std::to_string(lambda / 10.0));
    }

    [[nodiscard]] std::size_t inputs() const noexcept { return perm_.size(); }
    /// perm()[j]: the original input column quantized j-th.
    [[nodiscard]] std::span<const std::size_t> perm() const noexcept { return perm_; }
    [[nodiscard]] bool dead(std::size_t column) const noexcept { return dead_[column] != 0; }
    [[nodiscard]] const Eigen::MatrixXf& inverse_cholesky_upper() const noexcept { return upper_; }
    [[nodiscard]] double damping_used() const noexcept { return damping_used_; }

private:
    std::vector<std::size_t> perm_;
    std::vector<std::uint8_t> dead_;
    Eigen::MatrixXf upper_;
    double damping_used_ = 0.0;
};

class Gptq {
public:
    Gptq(const Eigen::MatrixXd& hessian, GptqOptions options = {})
        : options_(checked(options)),
          factor_(std::make_shared<const GptqFactor>(
              GptqFactor::compute(hessian, options.damping, options.act_order))) {}
    Gptq(const InputStatistics& statistics, GptqOptions options = {}) : Gptq(statistics.hessian(), options) {}
    Gptq(std::shared_ptr<const GptqFactor> factor, GptqOptions options = {})
        : options_(checked(options)), factor_(std::move(factor)) {
        if (!factor_) fail(Status::invalid_argument, "GPTQ: no factor given");
    }

    /// WeightRounder entry point. Throws qslm::Error (bad_shape) when the weight matrix does not
    /// have as many inputs as the Hessian — host-side, so the message can name both sizes.
    Status operator()(QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels) const {
        round(grid, w, levels);
        return Status::ok;
    }

    /// Rounds on `grid` (after the optional clipping search). If `compensated` is given it
    /// receives the error-compensated weights GPTQ actually rounded (rows x cols, in the
    /// original column order): adaptive rounding can start from them.
    void round(QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels,
               Eigen::MatrixXf* compensated = nullptr) const {
        const std::size_t rows = grid.rows(), cols = grid.cols();
        if (cols != factor_->inputs())
            fail(Status::bad_shape, "GPTQ: the Hessian is " + std::to_string(factor_->inputs()) + " x " +
                                        std::to_string(factor_->inputs()) + " but the weight matrix has " +
                                        std::to_string(cols) + " inputs (columns)");
        if (w.size() != rows * cols || levels.size() != rows * cols)
            fail(Status::bad_shape, "GPTQ: weights or levels do not match the grid's shape");
        if (options_.clip_search) search_clipping(grid, w, options_.clipping);

        const auto perm = factor_->perm();
        const Eigen::MatrixXf& u = factor_->inverse_cholesky_upper();
        const auto n_rows = static_cast<Eigen::Index>(rows), n_cols = static_cast<Eigen::Index>(cols);
        // Column-major working copy in the quantization order: a column is contiguous.
        Eigen::MatrixXf work(n_rows, n_cols);
        for (Eigen::Index j = 0; j < n_cols; ++j)
            for (Eigen::Index r = 0; r < n_rows; ++r)
                work(r, j) = w[static_cast<std::size_t>(r) * cols + perm[static_cast<std::size_t>(j)]];

        const auto block = static_cast<Eigen::Index>(options_.block_size);
        Eigen::MatrixXf errors(n_rows, block);
        for (Eigen::Index i1 = 0; i1 < n_cols; i1 += block) {
            const Eigen::Index count = std::min(block, n_cols - i1);
            for (Eigen::Index k = 0; k < count; ++k) {
                const Eigen::Index j = i1 + k;
                const std::size_t c = perm[static_cast<std::size_t>(j)];
                const float d = u(j, j);
                for (Eigen::Index r = 0; r < n_rows; ++r) {
                    const auto rr = static_cast<std::size_t>(r);
                    const int q = grid.nearest_level(work(r, j), rr, c);
                    levels[rr * cols + c] = static_cast<std::int16_t>(q);
                    errors(r, k) = (work(r, j) - grid.dequantize(q, rr, c)) / d;
                }
                // Within the block: immediate rank-1 update of the columns still to come.
                const Eigen::Index rest = count - k - 1;
                if (rest > 0)
                    work.middleCols(j + 1, rest).noalias() -= errors.col(k) * u.block(j, j + 1, 1, rest);
            }
            // After the block: one GEMM carries its accumulated errors to all later columns.
            const Eigen::Index tail = n_cols - i1 - count;
            if (tail > 0)
                work.rightCols(tail).noalias() -= errors.leftCols(count) * u.block(i1, i1 + count, count, tail);
        }
        if (compensated) {
            compensated->resize(n_rows, n_cols);
            for (Eigen::Index j = 0; j < n_cols; ++j)
                compensated->col(static_cast<Eigen::Index>(perm[static_cast<std::size_t>(j)])) = work.col(j);
        }
    }

    [[nodiscard]] const GptqOptions& options() const noexcept { return options_; }
    [[nodiscard]] const std::shared_ptr<const GptqFactor>& factor() const noexcept { return factor_; }

private:
    static GptqOptions checked(GptqOptions o) {
        if (o.block_size == 0) fail(Status::invalid_argument, "GPTQ: block_size must be at least 1");
        return o;
    }

    GptqOptions options_;
    std::shared_ptr<const GptqFactor> factor_;
};

static_assert(WeightRounder<Gptq>);

}  // namespace qslm::quant
