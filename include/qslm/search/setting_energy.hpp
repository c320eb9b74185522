#pragma once
// SettingEnergy: the energy per token of any setting of a searched model, priced from one
// measured run of the float model, so the search can score energy for every candidate at no
// extra evaluation, and the report can put the float model and the chosen setting side by side.
//
// What is measured and what is derived:
//   * the float run's operation counts (qslm::OpCounts, counted by the layers as they ran) are
//     split into the searched matrices' share and "everything else" (norms, neurons, WKV,
//     residuals, unsearched tables). A searched matrix of rows x cols does rows*cols
//     multiply-accumulates per token and is fetched once per step (a batch of streams shares
//     the fetch), so its share is exact for models whose matrices run dense — SpikeGPT's do
//     (layers/spikegpt_block.hpp counts them so);
//   * a setting is priced module by module: width w stores w-bit weights (weight traffic
//     rows*cols*w bits per fetch) multiplied into the deployment's integer activations; the
//     remaining work keeps the float run's counts, priced in the deployment's formats.
// What it does not model: quantization also changes how often neurons fire, which moves the
// "everything else" part a little; a measured run of the quantized model is the better number
// where one exists (docs/energy.md).
//
// Host-only header.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "qslm/host/error.hpp"
#include "qslm/core/op_counts.hpp"
#include "qslm/hw/energy_estimate.hpp"
#include "qslm/hw/energy_model.hpp"
#include "qslm/hw/energy_report.hpp"
#include "qslm/hw/numeric_format.hpp"
#include "qslm/hw/op_prices.hpp"
#include "qslm/search/hierarchy.hpp"
#include "qslm/search/setting.hpp"

namespace qslm::search {

/// One measured run of the float model.
struct MeasuredRun {
    OpCounts counts;                    ///< everything the run did, all layers, summed
    std::uint64_t tokens = 0;           ///< tokens processed (summed over streams)
    std::uint64_t weight_fetches = 0;   ///< times each matrix was read (steps; = tokens for one stream)
};

/// The formats a quantized setting runs in on the target (qslm's integer runtime: 32-bit
/// fixed-point activations, state and sums; layers/integer/formats.hpp). Float modules of a
/// mixed setting stay fp32.
struct DeploymentFormats {
    hw::NumericFormat activations = hw::NumericFormat::integer(32);
    hw::NumericFormat accumulator = hw::NumericFormat::integer(32);
    hw::NumericFormat state = hw::NumericFormat::integer(32);
};

template <hw::EnergyModel Model = hw::Horowitz45nm>
class SettingEnergy {
public:
    SettingEnergy(const Hierarchy& hierarchy, const MeasuredRun& float_run, Model model = {},
                  hw::MemoryContext memory = {}, hw::EnergyOverrides overrides = {}, DeploymentFormats formats = {})
        : hierarchy_(hierarchy), run_(float_run), model_(std::move(model)), memory_(memory),
          overrides_(overrides), formats_(formats) {
        if (run_.tokens == 0 || run_.weight_fetches == 0)
            fail(Status::invalid_argument, "setting energy: the measured run covered no tokens");
        std::uint64_t macs = 0, bits = 0;
        for (std::size_t m = 0; m < hierarchy_.module_count(); ++m) {
            macs += module_macs(m);
            bits += module_fetched_weights(m) * 32u;
        }
        // The split must leave non-negative counts; a run of another model would not.
        if (run_.counts.multiply_accumulates < macs || run_.counts.weight_bits_read < bits)
            fail(Status::invalid_argument,
                 "setting energy: the measured run did fewer multiply-accumulates or weight reads than the " +
                     std::to_string(hierarchy_.module_count()) + " searched matrices of '" + hierarchy_.name() +
                     "' need for " + std::to_string(run_.tokens) + " tokens; is it a run of this model?");
        rest_ = run_.counts;
        rest_.multiply_accumulates -= macs;
        rest_.weight_bits_read -= bits;
        float_per_token_ = estimate(Setting::all_float(hierarchy_.module_count())).per_token_pj();
    }

    /// The run priced as `setting` would run it: one layer per searched module plus "other".
    [[nodiscard]] hw::Workload workload(const Setting& setting) const {
        check(setting);
        hw::Workload w;
        w.tokens = run_.tokens;
        const bool all_float = is_all_float(setting);
        for (std::size_t m = 0; m < hierarchy_.module_count(); ++m) {
            OpCounts c;
            c.multiply_accumulates = module_macs(m);
            const int width = setting.widths[m];
            c.weight_bits_read = module_fetched_weights(m) * static_cast<std::uint64_t>(width);
            w.layers.push_back({hierarchy_.module(m).name, c, module_format(width, all_float)});
        }
        w.layers.push_back({"other", rest_, rest_format(all_float)});
        return w;
    }

    [[nodiscard]] hw::EnergyEstimate estimate(const Setting& setting) const {
        return hw::estimate_energy(workload(setting), model_, memory_, overrides_);
    }
    [[nodiscard]] double per_token_pj(const Setting& setting) const { return estimate(setting).per_token_pj(); }
    /// E / E_float, what the search's energy objective takes.
    [[nodiscard]] double relative(const Setting& setting) const { return per_token_pj(setting) / float_per_token_; }
    [[nodiscard]] double float_per_token_pj() const noexcept { return float_per_token_; }

    /// The float model next to `setting`, for the report.
    [[nodiscard]] hw::EnergyComparison compare(const Setting& setting, std::string label = "chosen") const {
        hw::EnergyComparison c;
        c.reference = estimate(Setting::all_float(hierarchy_.module_count()));
        c.candidate = estimate(setting);
        c.candidate_label = std::move(label);
        return c;
    }

    [[nodiscard]] const hw::MemoryContext& memory() const noexcept { return memory_; }

private:
    [[nodiscard]] std::uint64_t module_macs(std::size_t m) const {
        return static_cast<std::uint64_t>(hierarchy_.module(m).weights()) * run_.tokens;
    }
    [[nodiscard]] std::uint64_t module_fetched_weights(std::size_t m) const {
        return static_cast<std::uint64_t>(hierarchy_.module(m).weights()) * run_.weight_fetches;
    }
    static bool is_all_float(const Setting& s) {
        for (const int w : s.widths)
            if (w != float_width) return false;
        return true;
    }
    void check(const Setting& s) const {
        if (s.size() != hierarchy_.module_count())
            fail(Status::bad_shape, "setting energy: the setting has " + std::to_string(s.size()) + " widths, '" +
                                        hierarchy_.name() + "' has " + std::to_string(hierarchy_.module_count()) +
                                        " modules");
        for (const int w : s.widths) check_width(w, "setting energy");
    }
    /// The float model runs in fp32 throughout; any quantized setting runs on the integer
    /// runtime, where a module left in float keeps fp32 weights and arithmetic.
    [[nodiscard]] hw::LayerFormat module_format(int width, bool all_float) const {
        if (all_float || width == float_width) return hw::LayerFormat::float32();
        return {hw::NumericFormat::integer(static_cast<unsigned>(width)), formats_.activations, formats_.accumulator,
                formats_.state};
    }
    [[nodiscard]] hw::LayerFormat rest_format(bool all_float) const {
        if (all_float) return hw::LayerFormat::float32();
        // Unsearched parameters (norm gains, decays, the embedding code) are read as 32-bit words.
        return {hw::NumericFormat::integer(32), formats_.activations, formats_.accumulator, formats_.state};
    }

    Hierarchy hierarchy_;
    MeasuredRun run_;
    Model model_;
    hw::MemoryContext memory_;
    hw::EnergyOverrides overrides_;
    DeploymentFormats formats_;
    OpCounts rest_;
    double float_per_token_ = 0.0;
};

}  // namespace qslm::search
