#pragma once
// Host side: what `qslm eval`, `qslm eval --uniform-bits`, `qslm quantize` and the Python module
// (python/qslm_module.cpp) share, so that they give the same numbers from the same code:
//
//   parse_granularity("group:64")                      -> QuantSpec
//   quantize_uniform(spikegpt, bits, spec, rounder)    -> every matrix at `bits` (binary embedding:
//                                                         its lossless 1-bit sign code)
//   quantize_uniform(sdt, bits, spec)                  -> every matrix at `bits`, round to nearest
//   make_lm_data(spikegpt, options)                    -> calibration / evaluation sequences of a
//                                                         text file, or sampled from the model
//
// Errors are qslm::Error with a sentence naming what was wrong.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/data_free.hpp"
#include "qslm/eval/text_data.hpp"
#include "qslm/io/sdt_model.hpp"
#include "qslm/io/spikegpt_model.hpp"
#include "qslm/search/adapters/spikegpt.hpp"
#include "qslm/search/adapters/spikegpt_calibration.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::search {

/// "tensor" | "per-tensor" | "channel" | "per-channel" | "group:G" (G a whole number in
/// [1, 2^20], digits only: "group:8xyz" is refused, not read as 8).
inline QuantSpec parse_granularity(std::string_view g) {
    if (g == "tensor" || g == "per-tensor") return {ScaleLayout::per_tensor()};
    if (g == "channel" || g == "per-channel") return {ScaleLayout::per_channel()};
    constexpr std::string_view prefix = "group:";
    if (g.starts_with(prefix) && g.size() > prefix.size() && g.size() <= prefix.size() + 7) {
        long n = 0;
        bool digits = true;
        for (const char c : g.substr(prefix.size())) {
            if (c < '0' || c > '9') digits = false;
            n = n * 10 + (c - '0');
        }
        if (digits && n >= 1 && n <= (1L << 20)) return {ScaleLayout::per_group(static_cast<std::uint32_t>(n))};
    }
    fail(Status::invalid_argument,
         "granularity '" + std::string(g) + "' is not tensor, channel or group:G (G a whole number in [1, 1048576])");
}

/// Every weight matrix of a SpikeGPT at `bits` (matrices() order), rounded by `rounder`. A binary
/// embedding only passes on signs: it gets its lossless 1-bit sign code, as the search stores it
/// (search/adapters/spikegpt.hpp).
inline std::vector<AnyPackedTensor> quantize_uniform(const models::SpikeGptModel& model, int bits, const QuantSpec& spec,
                                                     const SpikeGptRounding& rounder) {
    std::vector<AnyPackedTensor> tensors;
    tensors.reserve(model.matrices().size());
    for (std::size_t m = 0; m < model.matrices().size(); ++m) {
        const auto& info = model.matrices()[m];
        if (m == 0 && model.options().binary_embedding)
            tensors.push_back(value_or_throw(
                AnyPackedTensor::quantize(1, model.matrix_weights(m), info.rows, info.cols, {ScaleLayout::per_tensor()}),
                info.name));
        else
            tensors.push_back(rounder.quantize(m, bits, spec));
    }
    return tensors;
}

/// Every weight matrix of a spike-driven transformer classifier at `bits`, rounded to nearest.
inline std::vector<AnyPackedTensor> quantize_uniform(const models::SdtModel& model, int bits, const QuantSpec& spec) {
    std::vector<AnyPackedTensor> tensors;
    tensors.reserve(model.matrices().size());
    for (std::size_t m = 0; m < model.matrices().size(); ++m) {
        const auto& info = model.matrices()[m];
        tensors.push_back(
            value_or_throw(AnyPackedTensor::quantize(bits, model.matrix_weights(m), info.rows, info.cols, spec), info.name));
    }
    return tensors;
}

/// Where a language model's calibration and evaluation text comes from.
struct LmDataOptions {
    std::string data;                 ///< a text file (byte tokens); empty = sampled from the model
    std::size_t length = 256;         ///< tokens per sequence
    std::size_t calibration = 8;      ///< calibration sequences
    std::size_t eval_tokens = 16384;  ///< tokens of the full (verification / eval) set; 0 = the whole file
    std::uint64_t seed = 1;           ///< seed for sampling from the model
    /// Language models, search: the text the search verifies on and reports, when it must not be
    /// the text it calibrates on (data). Empty = the start of data.
    std::string verify_data;
    /// Data-free: the name of the float model the text is sampled from (for the description;
    /// the model itself is make_lm_data's `sampler_model`). A .qslm holds only the quantized
    /// model, and text sampled from it favours it (it scores its own samples), so data-free
    /// evaluation of a .qslm needs the float model it came from. Empty: the model itself.
    std::string sample_from;
};

struct LmData {
    std::vector<std::vector<int>> calibration, full;
    /// What GPTQ / adaptive rounding fit to inside a search: as many sequences as the
    /// calibration set, but disjoint from it, so that the search does not score candidates on
    /// the very tokens their rounding was fitted to (that made 2-bit GPTQ look better than
    /// float on the calibration set of the bundled model; docs/rounding.md).
    std::vector<std::vector<int>> rounding_fit;
    double bytes_per_word = 0.0;
    std::string description;
};

inline double bytes_per_word_of(const std::vector<std::vector<int>>& seqs) {
    std::string text;
    for (const auto& s : seqs)
        for (int t : s) text.push_back(static_cast<char>(t));
    const std::size_t words = eval::count_words(text);
    return words == 0 ? 1.0 : static_cast<double>(text.size()) / static_cast<double>(words);
}

/// `sampler_model`: the model data-free text is sampled from (default: `model` itself).
inline LmData make_lm_data(const models::SpikeGptModel& model, const LmDataOptions& o,
                           const models::SpikeGptModel* sampler_model = nullptr) {
    LmData d;
    if (!o.data.empty()) {
        const std::string raw = eval::read_text_file(o.data);
        const std::string_view text = eval::strip_utf8_bom(raw);
        const std::vector<int> tokens = eval::byte_tokens(text);
        if (model.vocab_size() < 256) fail(Status::invalid_argument, "--data needs a byte-level model (vocabulary 256)");
        const std::size_t words = eval::count_words(text);
        d.bytes_per_word = words == 0 ? 1.0 : static_cast<double>(tokens.size()) / static_cast<double>(words);
        d.calibration = eval::split_sequences(tokens, o.length, o.calibration);
        const std::size_t full_tokens = o.eval_tokens == 0 ? tokens.size() : std::min(tokens.size(), o.eval_tokens);
        d.full = eval::split_sequences(std::span<const int>(tokens).first(full_tokens), o.length);
        d.description = o.data + " (" + std::to_string(full_tokens) + " of " + std::to_string(tokens.size()) + " bytes)";
        const std::size_t fit_start = std::min(tokens.size(), o.calibration * o.length);
        d.rounding_fit = tokens.size() - fit_start >= 2
                             ? eval::split_sequences(std::span<const int>(tokens).subspan(fit_start), o.length, o.calibration)
                             : d.calibration;  // text too short for a disjoint slice
        if (!o.verify_data.empty()) {
            // Verification (and the reported perplexity) on a separate text, so that the
            // setting is judged on bytes that neither ranked the candidates nor fitted the
            // rounding. Its words-per-byte ratio is the one the perplexities are stated in.
            const std::string vraw = eval::read_text_file(o.verify_data);
            const std::string_view vtext = eval::strip_utf8_bom(vraw);
            const std::vector<int> vtokens = eval::byte_tokens(vtext);
            if (vtokens.size() < 2) fail(Status::invalid_argument, "--verify-data '" + o.verify_data + "' has fewer than 2 bytes");
            const std::size_t vwords = eval::count_words(vtext);
            d.bytes_per_word = vwords == 0 ? 1.0 : static_cast<double>(vtokens.size()) / static_cast<double>(vwords);
            const std::size_t vfull = o.eval_tokens == 0 ? vtokens.size() : std::min(vtokens.size(), o.eval_tokens);
            d.full = eval::split_sequences(std::span<const int>(vtokens).first(vfull), o.length);
            d.description = "calibration " + o.data + " (" + std::to_string(std::min(tokens.size(), o.calibration * o.length)) +
                            " of " + std::to_string(tokens.size()) + " bytes), verification " + o.verify_data + " (" +
                            std::to_string(vfull) + " of " + std::to_string(vtokens.size()) + " bytes)";
        }
        return d;
    }
    // Data-free: text sampled from the float model itself, with different seeds for the
    // calibration set and the (larger) verification set.
    SpikeGptSampler sampler((sampler_model != nullptr ? *sampler_model : model).instance());
    d.calibration = eval::sample_sequences(sampler, {.sequences = o.calibration, .length = o.length, .seed = o.seed});
    const std::size_t full_seqs = std::max<std::size_t>(1, (o.eval_tokens == 0 ? 16384 : o.eval_tokens) / o.length);
    d.full = eval::sample_sequences(sampler, {.sequences = full_seqs, .length = o.length, .seed = o.seed + 1000003});
    d.bytes_per_word = bytes_per_word_of(d.full);
    d.rounding_fit = eval::sample_sequences(sampler, {.sequences = o.calibration, .length = o.length, .seed = o.seed + 2000003});
    d.description = "data-free (" + std::to_string(o.calibration) + "+" + std::to_string(full_seqs) + " sequences of " +
                    std::to_string(o.length) + " tokens sampled from " +
                    (o.sample_from.empty() ? std::string("the float model") : o.sample_from) + ", seed " +
                    std::to_string(o.seed) + ")";
    return d;
}

}  // namespace qslm::search
