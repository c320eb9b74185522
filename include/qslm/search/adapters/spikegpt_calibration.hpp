#pragma once
// Calibration-aware rounding for SpikeGPT: capture every weight matrix's inputs during a float
// forward pass, then round each matrix with GPTQ / adaptive rounding on its own statistics,
// both for a one-off uniform quantization (`qslm eval --rounding`) and inside the search
// (`qslm search --rounding`).
//
//   auto calibration = qslm::quant::calibrate_spikegpt(model, sequences);      // H per matrix
//   qslm::search::SpikeGptRounding rounding(model, RoundingMethod::gptq, &calibration);
//   auto packed = rounding.quantize(m, 3, spec);                                // one matrix
//
//   qslm::search::CalibratedSpikeGptSearchModel subject(model, rounding);       // for the search
//   qslm::search::Tiered<KL, qslm::search::LayerRounder, Granularity, Objective>{o}.run(subject, ...);
//
// Why a model subclass and a rounder type: the search's WeightCache builds one rounder per
// module through `R::for_module(model, module)` (search/weight_cache.hpp). LayerRounder asks the
// model for that module's LayerRounding, so the per-layer statistics reach the rounder without
// global state and without changing the engine, and the cache still quantizes each
// (module, width) once — which matters, since GPTQ costs milliseconds and adaptive rounding
// seconds per matrix.
//
// The embedding is a row lookup, not a product: it has no input statistics and is always
// rounded to nearest (a binary embedding is not searched at all; see adapters/spikegpt.hpp).
//
// Host-only header.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/parallel.hpp"
#include "qslm/io/spikegpt_model.hpp"
#include "qslm/layers/activation_observer.hpp"
#include "qslm/quant/input_statistics.hpp"
#include "qslm/quant/layer_rounding.hpp"
#include "qslm/search/adapters/spikegpt.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::quant {

struct SpikeGptCalibrationOptions {
    std::size_t batch = 8;                ///< sequences of equal length run in lock step
    InputStatisticsOptions statistics{};  ///< passed to every layer's InputStatistics
};

/// The input statistics of every product matrix of `model` (all of matrices() but the
/// embedding, registered under their checkpoint names in matrices() order, so layer id =
/// matrix index - 1), from a float forward pass over `sequences` (token ids, each from a fresh
/// state). Throws for an empty set, a token outside the vocabulary, or non-finite activations
/// (naming the layer).
inline CalibrationSet calibrate_spikegpt(const models::SpikeGptModel& model, const std::vector<std::vector<int>>& sequences,
                                         const SpikeGptCalibrationOptions& options = {}) {
    std::size_t tokens = 0;
    for (std::size_t s = 0; s < sequences.size(); ++s) {
        try {
            models::detail::check_tokens(std::span<const int>(sequences[s]), model.vocab_size());
        } catch (const Error& e) {
            fail(e.code(), "calibration sequence " + std::to_string(s) + ": " + e.what());
        }
        tokens += sequences[s].size();
    }
    if (tokens == 0) fail(Status::invalid_argument, "SpikeGPT calibration: no calibration tokens were given");

    CalibrationSet calibration(options.statistics);
    const auto& matrices = model.matrices();
    for (std::size_t m = 1; m < matrices.size(); ++m) calibration.add_layer(matrices[m].name, matrices[m].cols);

    // The sink is called from the noexcept step: CalibrationSet's errors are caught here and
    // rethrown after the step returns.
    struct Context {
        CalibrationSet* set;
        std::exception_ptr error;
    } context{&calibration, nullptr};
    ActivationSink sink;
    sink.context = &context;
    sink.function = [](void* c, std::size_t matrix, std::span<const float> inputs) noexcept {
        auto* ctx = static_cast<Context*>(c);
        if (ctx->error || matrix == 0) return;
        try {
            ctx->set->observe(matrix - 1, inputs);
        } catch (...) {
            ctx->error = std::current_exception();
        }
    };

    const models::SpikeGptInstance instance = model.instance();
    models::SpikeGptOptions observed = instance.model().options();
    observed.observer = sink;
    const models::SpikeGpt net = value_or_throw(models::SpikeGpt::make(instance.model().weights(), observed),
                                                "SpikeGPT calibration");

    // Streams run in lock step only with sequences of the same length, so that every observed
    // row belongs to a real token (a padded stream would add rows that never occur).
    std::map<std::size_t, std::vector<std::size_t>> by_length;
    for (std::size_t s = 0; s < sequences.size(); ++s)
        if (!sequences[s].empty()) by_length[sequences[s].size()].push_back(s);
    const std::size_t max_batch = std::max<std::size_t>(1, options.batch);
    for (const auto& [length, group] : by_length) {
        for (std::size_t first = 0; first < group.size(); first += max_batch) {
            const std::size_t B = std::min(max_batch, group.size() - first);
            std::vector<float> state(net.state_floats(B)), scratch(net.scratch_floats(B)), logits(B * net.vocab_size());
            std::vector<std::uint32_t> step_tokens(B);
            throw_if_failed(net.reset(state, B), "SpikeGPT calibration: cannot reset the state");
            for (std::size_t t = 0; t < length; ++t) {
                for (std::size_t b = 0; b < B; ++b)
                    step_tokens[b] = static_cast<std::uint32_t>(sequences[group[first + b]][t]);
                throw_if_failed(net.step(step_tokens, state, scratch, logits), "SpikeGPT calibration: step failed");
                if (context.error) std::rethrow_exception(context.error);
            }
        }
    }
    return calibration;
}

}  // namespace qslm::quant

namespace qslm::search {

/// One rounding policy for every matrix of a SpikeGPT model, with each matrix's LayerRounding
/// (GPTQ factor computed once per matrix, shared by all widths and by copies of the rounder).
class SpikeGptRounding {
public:
    /// `calibration` (from calibrate_spikegpt) is required for gptq/adaptive and ignored for
    /// nearest; it is only read here. Factors are computed on `threads` threads (0 = all).
    SpikeGptRounding(const models::SpikeGptModel& model, quant::RoundingMethod method,
                     const quant::CalibrationSet* calibration, quant::RoundingOptions options = {}, unsigned threads = 0)
        : model_(model), method_(method) {
        const auto& matrices = model.matrices();
        if (quant::needs_calibration(method) && calibration == nullptr)
            fail(Status::invalid_argument, std::string("rounding '") + quant::to_string(method) +
                                               "' needs calibration statistics (--data FILE or --data-free)");
        if (!quant::needs_calibration(method)) {
            layers_.assign(matrices.size(), quant::LayerRounding{options});
            return;
        }
        if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
        layers_ = eval::parallel_map(matrices.size(), threads, [&](std::size_t m) {
            if (m == 0) return quant::LayerRounding{options};  // the embedding: a lookup, nearest only
            try {
                return quant::LayerRounding{calibration->layer(matrices[m].name), options};
            } catch (const Error& e) {
                fail(e.code(), matrices[m].name + ": " + e.what());
            }
        });
    }

    [[nodiscard]] quant::RoundingMethod method() const noexcept { return method_; }
    /// The method matrix m is rounded with (nearest for the embedding).
    [[nodiscard]] quant::RoundingMethod method(std::size_t matrix) const noexcept {
        return matrix == 0 ? quant::RoundingMethod::nearest : method_;
    }
    [[nodiscard]] const quant::LayerRounding& layer(std::size_t matrix) const {
        if (matrix >= layers_.size())
            fail(Status::out_of_range, "SpikeGptRounding: no matrix " + std::to_string(matrix));
        return layers_[matrix];
    }
    /// Matrix m of the model (its current weights) at `bits` with this policy.
    [[nodiscard]] AnyPackedTensor quantize(std::size_t matrix, int bits, const QuantSpec& spec = {}) const {
        const auto& info = model_.matrices().at(matrix);
        try {
            return layer(matrix).quantize(method(matrix), bits, model_.matrix_weights(matrix), info.rows, info.cols, spec);
        } catch (const Error& e) {
            fail(e.code(), info.name + ": " + e.what());
        }
    }

private:
    const models::SpikeGptModel& model_;
    quant::RoundingMethod method_;
    std::vector<quant::LayerRounding> layers_;
};

/// A WeightRounder that rounds with one layer's LayerRounding; the search's WeightCache builds
/// it per module through for_module() from any model that offers `layer_rounder(module)`.
/// Default-constructed (no layer) it rounds to nearest.
struct LayerRounder {
    const quant::LayerRounding* layer = nullptr;
    quant::RoundingMethod method = quant::RoundingMethod::nearest;

    template <class Model>
        requires requires(const Model& m, std::size_t i) {
            { m.layer_rounder(i) } -> std::convertible_to<LayerRounder>;
        }
    static LayerRounder for_module(const Model& model, std::size_t module) {
        return model.layer_rounder(module);
    }
    static std::string name() { return "per-layer (nearest | gptq | adaptive)"; }

    Status operator()(QuantGrid& grid, std::span<const float> w, std::span<std::int16_t> levels) const {
        if (layer == nullptr) return rounding::Nearest{}(grid, w, levels);
        return layer->round(method, grid, w, levels);
    }
};
static_assert(WeightRounder<LayerRounder>);

/// The SpikeGPT search adapter whose modules are rounded by a SpikeGptRounding (use it with
/// LayerRounder as the search's rounding policy). Both references must outlive the adapter.
class CalibratedSpikeGptSearchModel : public SpikeGptSearchModel {
public:
    CalibratedSpikeGptSearchModel(const models::SpikeGptModel& model, const SpikeGptRounding& rounding)
        : SpikeGptSearchModel(model), rounding_(rounding) {}

    [[nodiscard]] LayerRounder layer_rounder(std::size_t module) const {
        const std::size_t m = matrix_index(module);
        return {&rounding_.layer(m), rounding_.method(m)};
    }
    [[nodiscard]] const SpikeGptRounding& rounding() const noexcept { return rounding_; }

private:
    const SpikeGptRounding& rounding_;
};
static_assert(QuantizableModel<CalibratedSpikeGptSearchModel>);

}  // namespace qslm::search
