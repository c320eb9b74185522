#pragma once
// Host side of the integer-only SpikeGPT: turns a quantized model (.qslm, io::QslmModel) into
// the integer parameters that models::IntegerSpikeGpt runs. Every real number is converted here,
// once, so the device never touches floating point:
//
//   LayerNorm gamma/beta, time_mix_*           Q16   round(x * 2^16)
//   u2 = time_first * log2 e                   Q16   log2 units (formats.hpp)
//   w2 = -exp(time_decay) * log2 e             Q16   clamped to [-2^30, 0]
//   LayerNorm eps                              Q32   round(eps * 2^32)
//   LIF tau, V_th, V_reset                     tau must be a power of two (a shift); Q16
//   per scale group of every matrix            FixedMultiplier of scale * 2^(F_out - F_in) (* log2 e
//                                              for att.key, att.receptance, ffn.receptance), reduced
//                                              to 24 mantissa bits (formats.hpp), stored in 4 bytes
//                                              (layers::integer::PackedMultiplier)
//
// Matrices stored as float32 in the .qslm file (a setting that keeps one at full precision)
// cannot run on integer hardware: they are quantized here to 8-bit per-channel (the embedding,
// whose signs are all that is used, to 1-bit bipolar, which keeps every sign). prepared.qslm()
// is the model actually run, so a float reference should be built from it.
//
// Host-only header (exceptions, std::vector, nlohmann-json, <cmath>).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/core/fixed_multiplier.hpp"
#include "qslm/io/qslm_model.hpp"
#include "qslm/models/integer/footprint.hpp"
#include "qslm/models/integer_spikegpt.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::models::integer {

// RuntimeMatrix, RuntimeBlock, RuntimeParams and RuntimeIntegerSpikeGpt are declared in
// models/integer_spikegpt.hpp (embedded-safe), so that a firmware can run a model it loads itself.

// ---- conversions ---------------------------------------------------------------------------

/// round(x * 2^16), saturated to int32.
inline std::int32_t to_q16(double x) {
    const double r = std::nearbyint(x * 65536.0);
    if (!(r == r)) fail(Status::invalid_argument, "integer SpikeGPT: a parameter is NaN");
    if (r >= 2147483647.0) return 2147483647;
    if (r <= -2147483648.0) return -2147483647 - 1;
    return static_cast<std::int32_t>(r);
}

/// The requantization multiplier for a real factor, with `multiplier_bits` mantissa bits.
/// Factors below 2^-31 (far below any output LSB) become the zero multiplier.
inline FixedMultiplier requantization_multiplier(double real) {
    if (!(real >= 0.0) || std::isinf(real)) fail(Status::invalid_argument, "integer SpikeGPT: a weight scale is negative, NaN or infinite");
    if (real < 0x1p-31) return FixedMultiplier{0, 0};
    FixedMultiplier m = value_or_throw(FixedMultiplier::from_real(real), "integer SpikeGPT: requantization multiplier");
    constexpr int drop = 31 - layers::integer::multiplier_bits;
    m.multiplier = static_cast<std::int32_t>((std::int64_t{m.multiplier} + (std::int64_t{1} << (drop - 1))) >> drop);
    m.shift -= drop;
    if (!layers::integer::PackedMultiplier::fits(m))
        fail(Status::out_of_range, "integer SpikeGPT: a requantization factor is outside the packed multiplier's range");
    return m;
}

/// LIF constants; tau must be a power of two so that the leak is a shift.
inline layers::integer::LifParams lif_params(double tau, double v_threshold, double v_reset) {
    layers::integer::LifParams p;
    p.tau_shift = -1;
    for (int k = 0; k <= 30; ++k)
        if (tau == std::ldexp(1.0, k)) p.tau_shift = k;
    if (p.tau_shift < 0)
        fail(Status::invalid_argument, "integer SpikeGPT: LIF tau = " + std::to_string(tau) +
                                           " is not a power of two; the integer path divides by tau with a shift");
    p.threshold_raw = to_q16(v_threshold);
    p.v_reset_raw = to_q16(v_reset);
    return p;
}

/// Real factor folded into a matrix's multipliers: 2^(F_out - F_in), times log2 e where the
/// output is an exponent (formats.hpp).
inline double matrix_factor(std::string_view kind) {
    const double log2e = 1.4426950408889634;
    const double act = std::ldexp(1.0, layers::integer::state_frac_bits - layers::integer::activation_frac_bits);
    if (kind == "att_key" || kind == "att_receptance" || kind == "ffn_receptance") return act * log2e;
    if (kind == "ffn_value") return std::ldexp(1.0, layers::integer::state_frac_bits - layers::integer::hidden_frac_bits);
    return act;  // att_value, att_output, ffn_key, head
}

/// The per-block matrices, in the order of SpikeGptBlockParams, with their tensor suffixes.
inline constexpr const char* block_matrix_kinds[7] = {"att_key", "att_value", "att_receptance", "att_output",
                                                      "ffn_key", "ffn_receptance", "ffn_value"};
inline constexpr const char* block_matrix_suffix[7] = {"att.key.weight", "att.value.weight", "att.receptance.weight",
                                                       "att.output.weight", "ffn.key.weight", "ffn.receptance.weight",
                                                       "ffn.value.weight"};

// ---- the prepared model --------------------------------------------------------------------

/// Everything IntegerSpikeGpt reads, owned; params() points into it, so it neither copies nor moves.
class PreparedIntegerSpikeGpt {
public:
    PreparedIntegerSpikeGpt(const PreparedIntegerSpikeGpt&) = delete;
    PreparedIntegerSpikeGpt& operator=(const PreparedIntegerSpikeGpt&) = delete;

    /// Prepares a SpikeGPT .qslm model (the SpikeGPT tensor names of docs/models.md).
    static std::unique_ptr<PreparedIntegerSpikeGpt> prepare(const io::QslmModel& model) {
        std::unique_ptr<PreparedIntegerSpikeGpt> p(new PreparedIntegerSpikeGpt());
        p->build(model);
        return p;
    }

    /// The model the integer path runs (float32 matrices replaced by packed ones).
    [[nodiscard]] const io::QslmModel& qslm() const noexcept { return q_; }
    [[nodiscard]] const RuntimeParams& params() const noexcept { return params_; }
    [[nodiscard]] RuntimeIntegerSpikeGpt model() const noexcept { return RuntimeIntegerSpikeGpt(params_); }
    [[nodiscard]] const IntegerSpikeGptDims& dims() const noexcept { return params_.dims; }

    /// Each weight matrix's storage format, in SpikeGptModel::matrices() order (footprint.hpp).
    [[nodiscard]] std::vector<IntegerMatrixFormat> matrix_formats() const {
        std::vector<IntegerMatrixFormat> f;
        const auto add = [&](const std::string& name) {
            const io::QslmTensor& t = q_.tensor(name);
            f.push_back({t.bits, t.layout, !t.zero_points.empty()});
        };
        add("emb.weight");
        for (std::size_t i = 0; i < params_.dims.n_layer; ++i)
            for (const char* s : block_matrix_suffix) add(block_name(i, s));
        add("head.weight");
        return f;
    }
    /// Flash (constant data) and RAM (arena) this model needs on a device (footprint.hpp).
    [[nodiscard]] IntegerSpikeGptFootprint footprint() const {
        const auto formats = matrix_formats();
        return value_or_throw(integer_spikegpt_footprint(params_.dims, formats), "integer SpikeGPT footprint");
    }

    /// The Q16 vector stored under a tensor name (e.g. "blocks.0.att.time_first" holds u2).
    [[nodiscard]] const std::vector<std::int32_t>& vector(const std::string& name) const {
        const auto it = vectors_.find(name);
        if (it == vectors_.end()) fail(Status::not_found, "integer SpikeGPT: no integer vector for '" + name + "'");
        return it->second;
    }
    /// The multipliers of a matrix (empty for the embedding).
    [[nodiscard]] const std::vector<layers::integer::PackedMultiplier>& multipliers(const std::string& name) const {
        const auto it = multipliers_.find(name);
        if (it == multipliers_.end()) fail(Status::not_found, "integer SpikeGPT: no matrix named '" + name + "'");
        return it->second;
    }

private:
    PreparedIntegerSpikeGpt() = default;

    static std::string block_name(std::size_t i, const char* suffix) { return "blocks." + std::to_string(i) + "." + suffix; }

    void build(const io::QslmModel& source) {
        q_ = source;
        nlohmann::json cfg;
        try {
            cfg = q_.config();
        } catch (const std::exception& e) {
            fail(Status::corrupt_data, std::string("integer SpikeGPT: the .qslm config is not JSON: ") + e.what());
        }
        if (!cfg.is_object()) fail(Status::corrupt_data, "integer SpikeGPT: the .qslm config is not a JSON object");
        if (cfg.contains("model_type") && cfg["model_type"] != "spikegpt")
            fail(Status::invalid_argument, "integer SpikeGPT: the .qslm file holds a " + cfg["model_type"].dump() + " model");
        const auto number = [&](const char* key, double fallback) {
            if (!cfg.contains(key)) return fallback;
            if (!cfg[key].is_number()) fail(Status::corrupt_data, std::string("integer SpikeGPT: config '") + key + "' is not a number");
            return cfg[key].get<double>();
        };
        if (cfg.contains("binary_embedding") && !(cfg["binary_embedding"].is_boolean() && cfg["binary_embedding"].get<bool>()))
            fail(Status::invalid_argument, "integer SpikeGPT: only the binary embedding (binary_embedding = true) is supported");
        if (cfg.contains("runner_rescale_every") && cfg["runner_rescale_every"] != 0)
            fail(Status::invalid_argument, "integer SpikeGPT: runner_rescale_every must be 0 (training-mode forward)");

        const io::QslmTensor& emb = q_.tensor("emb.weight");
        IntegerSpikeGptDims& d = params_.dims;
        d.vocab_size = emb.rows;
        d.n_embd = emb.cols;
        while (q_.find(block_name(d.n_layer, "ln1.weight")) != nullptr) ++d.n_layer;
        if (d.n_layer == 0) fail(Status::bad_shape, "integer SpikeGPT: the model has no blocks ('blocks.0.ln1.weight' missing)");
        d.ffn_hidden = q_.tensor(block_name(0, "ffn.key.weight")).rows;

        params_.lif = lif_params(number("tau", 2.0), number("v_threshold", 1.0), number("v_reset", 0.0));
        const double eps = number("ln_eps", 1e-5);
        if (!(eps >= 0.0) || eps > 1e6) fail(Status::invalid_argument, "integer SpikeGPT: ln_eps must be in [0, 1e6]");
        params_.ln_eps_q32 = static_cast<std::int64_t>(std::nearbyint(std::ldexp(eps, 32)));

        ensure_packed("emb.weight", true);
        ensure_packed("head.weight", false);
        for (std::size_t i = 0; i < d.n_layer; ++i)
            for (const char* s : block_matrix_suffix) ensure_packed(block_name(i, s), false);

        params_.emb = matrix("emb.weight", "");
        params_.head = matrix("head.weight", "head");
        params_.ln0 = layer_norm("blocks.0.ln0");
        params_.ln_out = layer_norm("ln_out");
        blocks_.resize(d.n_layer);
        for (std::size_t i = 0; i < d.n_layer; ++i) {
            RuntimeBlock& b = blocks_[i];
            const std::string p = "blocks." + std::to_string(i) + ".";
            b.ln1 = layer_norm(p + "ln1");
            b.ln2 = layer_norm(p + "ln2");
            b.att_mix_k = q16_vector(p + "att.time_mix_k", [](double x) { return x; });
            b.att_mix_v = q16_vector(p + "att.time_mix_v", [](double x) { return x; });
            b.att_mix_r = q16_vector(p + "att.time_mix_r", [](double x) { return x; });
            b.ffn_mix_k = q16_vector(p + "ffn.time_mix_k", [](double x) { return x; });
            b.ffn_mix_r = q16_vector(p + "ffn.time_mix_r", [](double x) { return x; });
            const double log2e = 1.4426950408889634;
            b.att_u2 = q16_vector(p + "att.time_first", [&](double u) { return u * log2e; });
            b.att_w2 = q16_vector(p + "att.time_decay", [&](double decay) {
                const double w2 = -std::exp(decay) * log2e;
                return w2 < -16384.0 ? -16384.0 : w2;  // log2_floor: 2^-16384 is 0 in every format
            });
            RuntimeMatrix* mats[7] = {&b.att_key, &b.att_value, &b.att_receptance, &b.att_output,
                                      &b.ffn_key, &b.ffn_receptance, &b.ffn_value};
            for (int m = 0; m < 7; ++m) *mats[m] = matrix(block_name(i, block_matrix_suffix[m]), block_matrix_kinds[m]);
        }
        params_.blocks = std::span<const RuntimeBlock>(blocks_);
        if (const Status s = model().check(); s != Status::ok)
            fail(s, "integer SpikeGPT: the prepared model is inconsistent (a tensor's shape does not match the config)");
    }

    // A float32 matrix cannot run on integer hardware: quantize it here (documented above).
    void ensure_packed(const std::string& name, bool embedding) {
        io::QslmTensor* t = nullptr;
        for (auto& x : q_.tensors)
            if (x.name == name) t = &x;
        if (t == nullptr) fail(Status::not_found, "integer SpikeGPT: the model has no tensor named '" + name + "'");
        if (t->is_packed()) return;
        const std::vector<float> w = t->float_values();
        auto packed = value_or_throw(AnyPackedTensor::quantize(embedding ? 1 : 8, w, t->rows, t->cols),
                                     "integer SpikeGPT: quantizing float32 tensor '" + name + "'");
        *t = io::QslmTensor::from_any(name, packed);
    }

    RuntimeMatrix matrix(const std::string& name, std::string_view kind) {
        const io::QslmTensor& t = q_.tensor(name);
        RuntimeMatrix m;
        m.bits = t.bits;
        m.code = static_cast<layers::integer::LevelCode>(static_cast<std::uint8_t>(t.encoding));
        m.n_rows = t.rows;
        m.n_cols = t.cols;
        m.layout = t.layout;
        m.payload = t.payload;
        m.scales = t.scales;
        m.exponents = t.scale_exponents;
        m.zero_points = t.zero_points;
        std::vector<layers::integer::PackedMultiplier>& mult = multipliers_[name];
        if (!kind.empty()) {
            const double factor = matrix_factor(kind);
            const std::size_t n = t.layout.scale_count(t.rows, t.cols);
            for (std::size_t s = 0; s < n; ++s) {
                const double scale = t.scale_format == ScaleFormat::power_of_two
                                         ? std::ldexp(1.0, s < t.scale_exponents.size() ? t.scale_exponents[s] : 0)
                                         : (s < t.scales.size() ? static_cast<double>(t.scales[s]) : 0.0);
                mult.push_back(layers::integer::PackedMultiplier::pack(requantization_multiplier(scale * factor)));
            }
        }
        m.multipliers = mult;
        Status view_status = Status::ok;
        const Status s0 = m.visit([&](const auto& v) { view_status = v.check(); });
        const Status s1 = kind.empty() ? view_status : m.check();  // the embedding has no multipliers
        if (const Status s = s0 != Status::ok ? s0 : s1; s != Status::ok)
            fail(s, "integer SpikeGPT: tensor '" + name + "' (" + t.describe() + ") is not a valid packed matrix");
        return m;
    }

    template <class F>
    std::span<const std::int32_t> q16_vector(const std::string& name, F&& f) {
        const io::QslmTensor& t = q_.tensor(name);
        if (t.is_packed()) fail(Status::invalid_argument, "integer SpikeGPT: vector '" + name + "' must be float32, not packed");
        std::vector<std::int32_t>& v = vectors_[name];
        for (const float x : t.float_values()) v.push_back(to_q16(f(static_cast<double>(x))));
        return v;
    }
    layers::integer::LayerNormParams layer_norm(const std::string& prefix) {
        layers::integer::LayerNormParams p;
        p.gamma = q16_vector(prefix + ".weight", [](double x) { return x; });
        p.beta = q16_vector(prefix + ".bias", [](double x) { return x; });
        return p;
    }

    io::QslmModel q_;
    std::map<std::string, std::vector<std::int32_t>> vectors_;        // node-based: spans stay valid
    std::map<std::string, std::vector<layers::integer::PackedMultiplier>> multipliers_;
    std::vector<RuntimeBlock> blocks_;
    RuntimeParams params_{};
};

}  // namespace qslm::models::integer
