// qslm — the command-line face of the library.
//
//   qslm info   MODEL [--target NAME] [--json]
//   qslm eval   MODEL [--data FILE | --data-free [--sample-from FLOAT_MODEL]] [--uniform-bits B [--group G]] [--json]
//   qslm search MODEL (--max-bytes N | --max-bits-per-weight B | --target NAME)
//                     (--max-ppl X | --max-drop P%) (--data FILE | --data-free) --out DIR
//   qslm run    MODEL (--prompt TEXT | --tokens 3,17,5) [--dump-logits FILE.json] [-n N]
//   qslm export MODEL.qslm --header OUT.hpp
//   qslm quantize MODEL --bits B [--granularity channel|group:G] [--rounding nearest|gptq|adaptive] -o OUT.qslm
//   qslm bench  MODEL [--tokens N] [--threads T] [--json]
//
// A .qslm runs as stored: its packed matrices are prepared for the low-bit GEMV kernel
// (int8 activations) and never expanded to float, except where a command must re-quantize
// them (eval --uniform-bits, search, quantize read their float values).
//
// MODEL is a SpikeGPT checkpoint (.safetensors with the reference names) or a .qslm file;
// `bundled` names models/spikegpt.safetensors, `bundled-wiki` / `bundled-wiki-small` the
// Wikipedia-pre-trained models/spikegpt-wiki{,-small}.safetensors. Errors are one sentence on stderr and exit
// status 2 (usage) or 1 (everything else).
//
// eval and search also take a spike-driven transformer classifier (models/sdt-sst2.safetensors,
// `bundled-sdt`, or a .qslm the search wrote); the kind is read from the file
// (io::detect_model_kind). A classifier is scored by accuracy on labelled sentences
// (--data FILE.tsv: a header row, then label<TAB>sentence, as SST-2's dev.tsv), and its
// --max-drop is in accuracy points:
//
//   qslm eval   bundled-sdt --data dev.tsv [--uniform-bits B --granularity G] [--json]
//   qslm search bundled-sdt --data dev.tsv [--calibration-data train.tsv --calibration-examples N]
//               (--max-bytes N | --max-bits-per-weight B) --max-drop 0.5 --out DIR

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "qslm/host/error.hpp"
#include "qslm/eval/data_free.hpp"
#include "qslm/eval/sst2.hpp"
#include "qslm/eval/text_data.hpp"
#include "qslm/hw/builtin_profiles.hpp"
#include "qslm/hw/fit_check.hpp"
#include "qslm/hw/performance_memory_energy.hpp"
#include "qslm/io/header_export.hpp"
#include "qslm/io/model_kind.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/qslm_writer.hpp"
#include "qslm/models/integer/footprint.hpp"
#include "qslm/io/integer/prepare_spikegpt.hpp"
#include "qslm/io/logits_dump.hpp"
#include "qslm/models/sampling.hpp"
#include "qslm/io/sdt_model.hpp"
#include "qslm/io/spikegpt_model.hpp"
#include "qslm/search/adapters/sdt.hpp"
#include "qslm/search/adapters/spikegpt.hpp"
#include "qslm/search/adapters/spikegpt_calibration.hpp"
#include "qslm/search/pareto_svg.hpp"
#include "qslm/search/report.hpp"
#include "qslm/search/searcher.hpp"
#include "qslm/search/setting_energy.hpp"
#include "qslm/search/uniform.hpp"

#include "cli_checks.hpp"

#include <unistd.h>  // isatty: no progress bar ('\r' redraws) into logs and pipes

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::atomic<bool> g_cancel{false};
extern "C" void on_sigint(int) { g_cancel.store(true); }

// ---- model and data -----------------------------------------------------------------------

std::string resolve_model_path(const std::string& arg) {
    if (arg == "bundled") return std::string(QSLM_SOURCE_DIR) + "/models/spikegpt.safetensors";
    if (arg == "bundled-sdt") return std::string(QSLM_SOURCE_DIR) + "/models/sdt-sst2.safetensors";
    if (arg == "bundled-wiki") return std::string(QSLM_SOURCE_DIR) + "/models/spikegpt-wiki.safetensors";
    if (arg == "bundled-wiki-small") return std::string(QSLM_SOURCE_DIR) + "/models/spikegpt-wiki-small.safetensors";
    return arg;
}

/// What the file holds (a missing file is an error naming it).
qslm::io::ModelKind model_kind(const std::string& arg) { return qslm::io::detect_model_kind(resolve_model_path(arg)); }

/// A .qslm (e.g. the search's model.qslm) counted as stored: packed tensors at their packed
/// size, the rest float32, as the search counts them.
std::size_t stored_weight_bytes(const std::string& qslm_path) {
    std::size_t bytes = 0;
    for (const auto& t : qslm::io::load_qslm(qslm_path).tensors)
        bytes += t.is_packed() ? t.visit_view([](const auto& v) { return v.bytes(); }) : t.size() * sizeof(float);
    return bytes;
}

/// --embedding binary|float: overrides what the file says (or the reference rule when it says
/// nothing); written into a .qslm the search saves. Empty: as the file says.
std::string g_embedding;

/// `weights`: how a .qslm's packed matrices are held — packed (what runs after loading: the
/// low-bit kernel) or dequantized to float (to search or re-quantize them).
qslm::models::SpikeGptModel load_spikegpt(const std::string& arg,
                                          qslm::models::WeightForm weights = qslm::models::WeightForm::packed) {
    const std::string path = resolve_model_path(arg);
    if (!fs::exists(path)) qslm::fail(qslm::Status::not_found, "model file '" + path + "' does not exist");
    qslm::models::SpikeGptLoadOptions options;
    options.weights = weights;
    if (!g_embedding.empty()) options.binary_embedding = g_embedding == "binary";
    return qslm::models::SpikeGptModel::load(path, options);
}

/// Why the model's embedding is binary or float, for `qslm info`.
std::string embedding_reason(const qslm::models::SpikeGptModel& model, const std::string& path) {
    if (!g_embedding.empty()) return "set by --embedding " + g_embedding;
    if (qslm::io::is_qslm_file(path)) return "stated in the .qslm config";
    return model.checkpoint().config.binary_embedding_source;
}

/// Logits leave the library here: a model with NaN or infinite weights must not print them
/// as if they were results (exit status 1 with the step named instead).
void require_finite(std::span<const float> logits, std::size_t step) {
    for (std::size_t v = 0; v < logits.size(); ++v)
        if (!std::isfinite(logits[v]))
            qslm::fail(qslm::Status::corrupt_data, "the model produced a non-finite logit (" + std::to_string(logits[v]) +
                                                       " for token " + std::to_string(v) + " at step " +
                                                       std::to_string(step) + "); its weights are damaged");
}

/// Where calibration and evaluation text comes from (the language-model part, data/length/
/// calibration/eval_tokens/seed, and make_lm_data are shared with the Python module:
/// qslm/search/uniform.hpp).
struct DataOptions : qslm::search::LmDataOptions {
    // In the base (shared with the Python module, qslm/search/uniform.hpp): data, length,
    // calibration, eval_tokens, seed, verify_data (language models, search: the text the search
    // verifies on and reports) and sample_from (language models, eval, data-free: the float
    // model whose samples are the text; a .qslm scored on its own samples favours itself).
    bool data_free = false;
    // Classifiers only (search): what the search scores candidates on; --data is the
    // verification set.
    std::string calibration_data;          ///< labelled TSV; empty = a slice of --data
    std::size_t calibration_examples = 1000;  ///< examples taken from it, evenly spread (0 = all)
};

using qslm::search::LmData;

/// qslm::search::make_lm_data with the tool's model names (`bundled-wiki`) resolved in the
/// description. `sampler_model`: the model data-free text is sampled from (default: `model`).
LmData make_lm_data(const qslm::models::SpikeGptModel& model, const DataOptions& o,
                    const qslm::models::SpikeGptModel* sampler_model = nullptr) {
    qslm::search::LmDataOptions lm = o;
    if (!lm.sample_from.empty()) lm.sample_from = resolve_model_path(lm.sample_from);
    return qslm::search::make_lm_data(model, lm, sampler_model);
}

void add_data_options(CLI::App* cmd, DataOptions& o) {
    auto* data = cmd->add_option("--data", o.data,
                                 "text file to calibrate/evaluate on (byte tokens); for a classifier a labelled TSV "
                                 "(header, then label<TAB>sentence), the evaluation / verification set")
                     ->check(qslm_cli::regular_file());
    auto* free = cmd->add_flag("--data-free", o.data_free, "calibrate/evaluate on text sampled from the float model (default)");
    data->excludes(free);
    cmd->add_option("--seq-len", o.length, "tokens per sequence")->check(qslm_cli::integer_in(2, 65536));
    cmd->add_option("--calibration-seqs", o.calibration, "calibration sequences")->check(qslm_cli::integer_in(1, 100000));
    cmd->add_option("--eval-tokens", o.eval_tokens, "tokens of the evaluation/verification set (0 = whole file)")
        ->check(qslm_cli::integer_in(0, std::uint64_t{1} << 40));
    cmd->add_option("--seed", o.seed, "seed for data-free sampling")
        ->check(qslm_cli::integer_in(0, std::numeric_limits<std::uint64_t>::max()));
}

std::size_t total_matrix_weights(const qslm::models::SpikeGptModel& m) {
    std::size_t n = 0;
    for (const auto& x : m.matrices()) n += x.rows * x.cols;
    return n;
}

std::size_t float_bytes(const qslm::models::SpikeGptModel& m) { return m.parameter_count() * sizeof(float); }

/// RAM a step needs on a device running the float path: recurrent state + scratch + logits.
std::size_t arena_bytes(const qslm::models::SpikeGptModel& m) {
    const auto inst = m.instance();
    return (inst.model().state_floats() + inst.model().scratch_floats() + inst.model().vocab_size()) * sizeof(float);
}

// ---- classifiers (spike-driven transformer) --------------------------------------------------

std::size_t float_bytes(const qslm::models::SdtModel& m) {
    std::size_t n = 0;
    m.checkpoint().for_each_tensor([&](const std::string&, const qslm::io::FloatTensor& t) { n += t.values().size(); });
    return n * sizeof(float);
}

std::size_t total_matrix_weights(const qslm::models::SdtModel& m) {
    std::size_t n = 0;
    for (const auto& x : m.matrices()) n += x.rows * x.cols;
    return n;
}

/// RAM one sentence of max_len tokens needs on the float path: activations + spikes + logits.
std::size_t arena_bytes(const qslm::models::SdtModel& m) {
    const auto inst = m.instance();
    const std::size_t n = m.config().max_len;
    return inst.encoder().work_floats(n) * sizeof(float) + inst.encoder().spike_bytes(n) + m.config().n_classes * sizeof(float);
}

/// Labelled sentences for a classifier: `full` is --data (what eval scores, and the search's
/// verification set); `calibration` what the search scores candidates on.
struct ClassifierData {
    std::vector<qslm::eval::LabelledText> calibration, full;
    std::string description;              ///< of the full set
    std::string calibration_description;  ///< empty unless a calibration set was made
};

ClassifierData make_classifier_data(const qslm::models::SdtModel& model, const DataOptions& o, bool with_calibration) {
    if (o.data_free)
        qslm::fail(qslm::Status::invalid_argument,
                   "--data-free is for language models: a classifier cannot sample its own inputs, and accuracy needs "
                   "labelled sentences; pass --data FILE.tsv (label<TAB>sentence)");
    if (o.data.empty())
        qslm::fail(qslm::Status::invalid_argument,
                   "a classifier is scored on labelled sentences: pass --data FILE.tsv (a header row, then "
                   "label<TAB>sentence per line, as SST-2's dev.tsv)");
    (void)model.tokenizer();  // a model without a vocabulary cannot read text: say so before reading data
    const int classes = static_cast<int>(model.config().n_classes);
    ClassifierData d;
    d.full = qslm::eval::read_sst2_tsv(o.data, classes);
    d.description = o.data + " (" + std::to_string(d.full.size()) + " sentences)";
    if (!with_calibration) return d;
    if (!o.calibration_data.empty()) {
        const auto all = qslm::eval::read_sst2_tsv(o.calibration_data, classes);
        d.calibration = qslm::search::spread_examples(all, o.calibration_examples);
        d.calibration_description = o.calibration_data + " (" + std::to_string(d.calibration.size()) + " of " +
                                    std::to_string(all.size()) + " sentences, evenly spread)";
    } else {
        d.calibration = qslm::search::spread_examples(d.full, o.calibration_examples);
        d.calibration_description = o.data + " (" + std::to_string(d.calibration.size()) + " of " +
                                    std::to_string(d.full.size()) +
                                    " sentences, evenly spread: a subset of the verification set)";
    }
    return d;
}

/// "--max-drop 0.5" for a classifier: at most 0.5 accuracy points (percentage points) below the
/// float model, i.e. accuracy >= float accuracy - 0.005. A trailing "pt" is allowed; a "%" is
/// refused because "0.5 %" reads as a relative drop just as well.
double parse_accuracy_points(const std::string& s) {
    std::string t = s;
    if (t.size() > 2 && t.ends_with("pt")) t.resize(t.size() - 2);
    if (!t.empty() && t.back() == '%')
        qslm::fail(qslm::Status::invalid_argument,
                   "for a classifier --max-drop is in accuracy points (0.5 = accuracy at most half a percentage point "
                   "below the float model); write '" + t.substr(0, t.size() - 1) + "' or '" + t.substr(0, t.size() - 1) +
                       "pt', not '" + s + "'");
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || !(v >= 0.0) || !(v < 100.0))
        qslm::fail(qslm::Status::invalid_argument, "--max-drop '" + s + "' is not a number of accuracy points in [0, 100)");
    return v;
}

// ---- runtime-chosen policies ----------------------------------------------------------------

/// Granularity chosen on the command line: the search's policies are types, and the tool picks
/// the spec once, before any search starts (a single-threaded moment), so one instantiation
/// serves per-tensor, per-channel and every group size.
struct CliGranularity {
    static inline qslm::QuantSpec current{qslm::ScaleLayout::per_channel()};
    static qslm::QuantSpec spec() { return current; }
    static std::string name() {
        switch (current.layout.granularity) {
            case qslm::Granularity::per_tensor: return "per_tensor";
            case qslm::Granularity::per_channel: return "per_channel";
            case qslm::Granularity::per_group: return "per_group_" + std::to_string(current.layout.group_size);
        }
        return "unknown";
    }
};

/// --objective as a policy type: the performance/memory trade-off of QSLM, or with energy as a
/// third objective (alpha for performance, the rest split evenly between memory and energy).
/// Both are PerformanceMemoryEnergy; without energy its weight is 0, which ranks exactly as
/// PerformanceMemoryTradeoff (whose name it keeps, so existing evaluation logs stay valid).
struct CliObjective {
    static inline bool with_energy = false;
    qslm::objective::PerformanceMemoryEnergy tradeoff;

    explicit CliObjective(double alpha)
        : tradeoff(with_energy ? qslm::objective::PerformanceMemoryEnergy(alpha)
                               : qslm::objective::PerformanceMemoryEnergy(alpha, 1.0 - alpha, 0.0)) {}
    double operator()(double p, double m) const noexcept { return tradeoff(p, m); }
    double operator()(double p, double m, double e) const noexcept { return tradeoff(p, m, e); }
    static std::string name() {
        return with_energy ? qslm::objective::PerformanceMemoryEnergy::name()
                           : qslm::objective::PerformanceMemoryTradeoff::name();
    }
};

qslm::QuantSpec parse_granularity(const std::string& g) { return qslm::search::parse_granularity(g); }

// ---- info ------------------------------------------------------------------------------------

/// Flash and RAM of the integer-only deployment (the Cortex-M firmware's path): the widths
/// stored in a .qslm, or every matrix at `bits` with `granularity` scales for a float checkpoint.
qslm::models::integer::IntegerSpikeGptFootprint integer_footprint(const qslm::models::SpikeGptModel& model,
                                                                  const std::string& path, int bits,
                                                                  const std::string& granularity) {
    namespace mi = qslm::models::integer;
    if (qslm::io::is_qslm_file(path)) return mi::PreparedIntegerSpikeGpt::prepare(qslm::io::load_qslm(path))->footprint();
    const auto& c = model.config();
    const qslm::models::IntegerSpikeGptDims dims{
        .vocab_size = c.vocab_size, .n_embd = c.n_embd, .ffn_hidden = c.ffn_hidden, .n_layer = c.n_layer};
    const mi::IntegerMatrixFormat format{bits, parse_granularity(granularity).layout, false};
    std::vector<mi::IntegerMatrixFormat> formats(model.matrices().size(), format);
    // A binary embedding is stored as its lossless sign code, as the search stores it.
    if (model.options().binary_embedding) formats.front() = mi::binary_embedding_format;
    return qslm::value_or_throw(mi::integer_spikegpt_footprint(dims, formats), "integer footprint");
}

int cmd_info(const std::string& model_arg, const std::string& target, bool as_json, int bits,
             const std::string& granularity) {
    if (model_kind(model_arg) != qslm::io::ModelKind::spikegpt)
        qslm::fail(qslm::Status::invalid_argument,
                   "'info' describes SpikeGPT language models; " + resolve_model_path(model_arg) +
                       " is a spike-driven transformer classifier (use 'qslm eval --data DEV.tsv' for it)");
    const auto model = load_spikegpt(model_arg);
    const std::string path = resolve_model_path(model_arg);
    const bool stored_qslm = qslm::io::is_qslm_file(path);
    const auto& c = model.config();
    json j;
    j["model"] = path;
    j["type"] = "spikegpt";
    j["config"] = {{"n_layer", c.n_layer}, {"n_embd", c.n_embd}, {"vocab_size", c.vocab_size}, {"ffn_hidden", c.ffn_hidden},
                   {"binary_embedding", model.options().binary_embedding}};
    j["parameters"] = float_bytes(model) / sizeof(float);
    j["searched_weights"] = total_matrix_weights(model);
    j["fp32_bytes"] = float_bytes(model);
    j["arena_bytes_float_path"] = arena_bytes(model);
    json mats = json::array();
    for (const auto& m : model.matrices()) mats.push_back({{"name", m.name}, {"rows", m.rows}, {"cols", m.cols}});
    j["matrices"] = mats;
    const bool binary = model.options().binary_embedding;
    const std::string why_embedding = embedding_reason(model, path);
    j["embedding"] = {{"binary", binary}, {"reason", why_embedding}};
    // The search leaves a binary embedding out: only its signs reach the model, and a 1-bit
    // sign code stores them losslessly (search/adapters/spikegpt.hpp), so there is no width to choose.
    const std::size_t searched = model.matrices().size() - (binary ? 1 : 0);
    j["search"] = {{"matrices", searched},
                   {"left_out", binary ? json::array({{{"name", model.matrices().front().name},
                                                       {"why", "a binary embedding passes on only its signs; it is "
                                                               "stored as its lossless 1-bit sign code"}}})
                                       : json::array()}};
    const auto fp = integer_footprint(model, path, bits, granularity);
    const std::string deployment =
        stored_qslm ? std::string("the widths stored in the .qslm") : std::to_string(bits) + "-bit " + granularity + " weights";
    j["integer_deployment"] = {{"weights", deployment},
                               {"flash_bytes", fp.flash_bytes()},
                               {"flash", {{"weights", fp.weight_bytes}, {"multipliers", fp.multiplier_bytes},
                                          {"vectors", fp.vector_bytes}, {"exp_table", fp.table_bytes}}},
                               {"ram_bytes", fp.ram_bytes()},
                               {"ram", {{"membranes", fp.arena.membrane_bytes()}, {"rwkv_state", fp.arena.rwkv_state_bytes()},
                                        {"activations", fp.arena.activation_bytes()}}},
                               {"note", "flash without program code (about 12 KB on a Cortex-M7), RAM without the stack"}};
    std::string fit_line;
    if (!target.empty()) {
        const auto profile = qslm::hw::resolve_profile(target);
        qslm::hw::Footprint need;
        need.weight_bytes = fp.flash_bytes();
        need.arena_bytes = fp.ram_bytes();
        need.max_weight_bits = stored_qslm ? 8u : static_cast<unsigned>(bits);
        const auto fit = qslm::hw::check_fit(profile, need);
        fit_line = fit.sentence;
        j["fit"] = {{"target", profile.name}, {"fits", fit.fits}, {"sentence", fit.sentence}};
    }
    if (as_json) {
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf("%s: SpikeGPT, %zu layers x %zu wide, vocabulary %zu, %zu parameters (%s embedding: %s)\n", path.c_str(),
                c.n_layer, c.n_embd, c.vocab_size, j["parameters"].get<std::size_t>(), binary ? "binary" : "float",
                why_embedding.c_str());
    std::printf("fp32 size %zu bytes; %zu weight matrices (%zu weights); the search chooses widths for %zu of them%s; "
                "float-path arena %zu bytes\n",
                float_bytes(model), model.matrices().size(), total_matrix_weights(model), searched,
                binary ? (" (" + model.matrices().front().name +
                          " is left out: a binary embedding passes on only its signs and is stored as its lossless "
                          "1-bit sign code)").c_str()
                       : "",
                arena_bytes(model));
    std::printf("integer-only deployment with %s: flash %zu bytes (weights %zu, multipliers %zu, vectors %zu, exp table %zu; "
                "plus code), RAM arena %zu bytes (plus stack)\n",
                deployment.c_str(), fp.flash_bytes(), fp.weight_bytes, fp.multiplier_bytes, fp.vector_bytes, fp.table_bytes,
                fp.ram_bytes());
    if (!fit_line.empty()) std::printf("%s\n", fit_line.c_str());
    return 0;
}

// ---- eval ------------------------------------------------------------------------------------

/// Accuracy of a classifier on --data, float or with every weight matrix at `uniform_bits`
/// (rounded to nearest, as the search rounds it).
/// What `qslm eval` evaluated, shared by both model kinds: the JSON fields that describe the
/// weights and the run, and the first line of the human-readable summary.
struct EvaluatedSetting {
    int uniform_bits = 0;  ///< 0: the model's own weights
    std::string granularity, rounding;
    bool stored_qslm = false;
    std::size_t bytes = 0, fp32_bytes = 0;
    double seconds = 0.0;

    void add_to(json& j) const {
        j["bytes"] = bytes;
        j["fp32_bytes"] = fp32_bytes;
        j["uniform_bits"] = uniform_bits == 0 ? json(nullptr) : json(uniform_bits);
        j["granularity"] = uniform_bits == 0 ? json(nullptr) : json(granularity);
        j["rounding"] = uniform_bits == 0 ? json(nullptr) : json(rounding);
        j["seconds"] = seconds;
    }
    [[nodiscard]] std::string label() const {
        if (uniform_bits != 0) return "uniform " + std::to_string(uniform_bits) + "-bit " + granularity;
        return stored_qslm ? "as stored" : "float";
    }
    /// "N bytes (P% of fp32), S s"
    [[nodiscard]] std::string size_and_time() const {
        char buf[128];
        std::snprintf(buf, sizeof buf, "%zu bytes (%.1f%% of fp32), %.1f s", bytes,
                      100.0 * static_cast<double>(bytes) / static_cast<double>(fp32_bytes), seconds);
        return buf;
    }
};

int cmd_eval_sdt(const std::string& model_arg, const DataOptions& data, int uniform_bits, const std::string& granularity,
                 const std::string& rounding, bool as_json, unsigned threads) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string path = resolve_model_path(model_arg);
    const auto model = qslm::models::SdtModel::load(path);
    if (uniform_bits != 0 && qslm::quant::parse_rounding_method(rounding) != qslm::quant::RoundingMethod::nearest)
        qslm::fail(qslm::Status::invalid_argument, "--rounding " + rounding +
                                                       " needs per-layer input statistics, which are only gathered for "
                                                       "SpikeGPT; a classifier is rounded to nearest");
    const ClassifierData d = make_classifier_data(model, data, false);
    std::vector<std::vector<float>> quantized;
    std::vector<std::span<const float>> replacements;
    const bool stored_qslm = qslm::io::is_qslm_file(path);
    std::size_t bytes = stored_qslm && uniform_bits == 0 ? stored_weight_bytes(path) : float_bytes(model);
    if (uniform_bits != 0) {
        const qslm::QuantSpec spec = parse_granularity(granularity);
        replacements.resize(model.matrices().size());
        quantized.resize(model.matrices().size());
        bytes -= total_matrix_weights(model) * sizeof(float);
        const auto tensors = qslm::search::quantize_uniform(model, uniform_bits, spec);
        for (std::size_t m = 0; m < model.matrices().size(); ++m) {
            bytes += tensors[m].bytes();
            quantized[m] = tensors[m].dequantize();
            replacements[m] = quantized[m];
        }
    }
    const auto inst = model.instance(replacements);
    const auto evaluator = qslm::search::make_sdt_evaluator(model, d.full);
    const auto ev = evaluator.evaluate(inst, {.threads = threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads});
    const double accuracy = ev.performance.value;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const EvaluatedSetting setting{uniform_bits, granularity, rounding, stored_qslm, bytes, float_bytes(model), seconds};
    json j = {{"model", path}, {"type", "sdt"}, {"data", d.description}, {"examples", d.full.size()}, {"accuracy", accuracy}};
    setting.add_to(j);
    if (as_json) {
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("%s on %s\n", setting.label().c_str(), d.description.c_str());
        std::printf("accuracy %.2f %%, %s\n", 100.0 * accuracy, setting.size_and_time().c_str());
    }
    return 0;
}

/// Which arithmetic scored a model: packed matrices run the low-bit GEMV (int8 activations).
std::string arithmetic_of(const qslm::models::SpikeGptModel& model, bool quantized_now) {
    if (model.holds_packed()) return "low-bit GEMV with int8 activations (" + model.packed_isa() + ")";
    if (quantized_now) return "low-bit GEMV with int8 activations";
    return "float32 weights and activations";
}

int cmd_eval(const std::string& model_arg, DataOptions data, int uniform_bits, const std::string& granularity,
             const std::string& rounding, bool as_json, unsigned threads) {
    if (model_kind(model_arg) == qslm::io::ModelKind::sdt) {
        if (!data.sample_from.empty())
            qslm::fail(qslm::Status::invalid_argument, "--sample-from is for language models: a classifier cannot sample its own inputs");
        return cmd_eval_sdt(model_arg, data, uniform_bits, granularity, rounding, as_json, threads);
    }
    // A stored .qslm is scored as it runs (packed); re-quantizing needs its float values.
    const auto model = load_spikegpt(model_arg, uniform_bits != 0 ? qslm::models::WeightForm::float32
                                                                  : qslm::models::WeightForm::packed);
    const auto method = qslm::quant::parse_rounding_method(rounding);
    if (uniform_bits == 0 && method != qslm::quant::RoundingMethod::nearest)
        qslm::fail(qslm::Status::invalid_argument,
                   "--rounding " + rounding + " rounds weights while quantizing them; say to how many bits with "
                   "--uniform-bits B (1-8), e.g. --uniform-bits 4 --rounding " + rounding);
    const bool stored_qslm = qslm::io::is_qslm_file(resolve_model_path(model_arg));
    // Data-free text of a .qslm comes from the float model it was made from (--sample-from), so
    // that it is scored on the text the search verified it on; sampled from itself, it would be
    // judged on its own favourite continuations (a lower, meaningless perplexity).
    std::optional<qslm::models::SpikeGptModel> sampler_model;
    if (data.data.empty()) {
        if (!data.sample_from.empty()) {
            sampler_model.emplace(load_spikegpt(data.sample_from, qslm::models::WeightForm::float32));
            if (sampler_model->vocab_size() != model.vocab_size())
                qslm::fail(qslm::Status::invalid_argument, "--sample-from model has a vocabulary of " +
                                                               std::to_string(sampler_model->vocab_size()) + ", the evaluated one " +
                                                               std::to_string(model.vocab_size()));
        } else if (stored_qslm) {
            qslm::fail(qslm::Status::invalid_argument,
                       "data-free evaluation of a .qslm needs the float model it was quantized from, whose samples are "
                       "the text: pass --sample-from FLOAT_MODEL (e.g. bundled-wiki), or --data FILE");
        }
    } else if (!data.sample_from.empty()) {
        qslm::fail(qslm::Status::invalid_argument, "--sample-from is for data-free evaluation; --data gives the text");
    }
    const auto t0 = std::chrono::steady_clock::now();
    const LmData d = make_lm_data(model, data, sampler_model ? &*sampler_model : nullptr);
    // GPTQ / adaptive rounding read each matrix's input statistics, gathered by a float
    // forward pass over the calibration sequences (not the evaluation set).
    std::optional<qslm::quant::CalibrationSet> calibration;
    if (uniform_bits != 0 && qslm::quant::needs_calibration(method))
        calibration.emplace(qslm::quant::calibrate_spikegpt(model, d.calibration));
    const qslm::search::SpikeGptRounding rounder(model, method, calibration ? &*calibration : nullptr, {}, threads);
    std::vector<qslm::AnyPackedTensor> quantized;
    std::size_t bytes = stored_qslm && uniform_bits == 0 ? stored_weight_bytes(resolve_model_path(model_arg)) : float_bytes(model);
    if (uniform_bits != 0) {
        const qslm::QuantSpec spec = parse_granularity(granularity);
        bytes -= total_matrix_weights(model) * sizeof(float);
        // A binary embedding gets its lossless 1-bit sign code, as the search stores it.
        quantized = qslm::search::quantize_uniform(model, uniform_bits, spec, rounder);
        for (const auto& t : quantized) bytes += t.bytes();
    }
    // Quantized weights run as a .qslm holding them runs after loading (the low-bit kernel,
    // int8 activations), so that `qslm quantize` + `qslm eval OUT.qslm` gives the same numbers.
    std::vector<const qslm::AnyPackedTensor*> ptrs;
    for (const auto& t : quantized) ptrs.push_back(&t);
    const auto inst = uniform_bits != 0 ? model.packed_instance(ptrs) : model.instance();
    qslm::search::SpikeGptEvaluator evaluator(d.full, {}, {.metric = qslm::eval::LmMetric::bits_per_char});
    const auto ev = evaluator.evaluate(inst, {.threads = threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads});
    const double bpc = ev.performance.value;
    const double ppl = std::exp2(bpc * d.bytes_per_word);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    json j = {{"model", resolve_model_path(model_arg)},
              {"data", d.description},
              {"bits_per_char", bpc},
              {"perplexity", ppl},
              {"perplexity_kind", "word-level: 2^(bits_per_char * bytes_per_word)"},
              {"byte_perplexity", std::exp2(bpc)},
              {"bytes_per_word", d.bytes_per_word},
              {"tokens", [&] { std::size_t n = 0; for (auto& s : d.full) n += s.size() - 1; return n; }()},
              {"arithmetic", arithmetic_of(model, uniform_bits != 0)}};
    const EvaluatedSetting setting{uniform_bits, granularity, rounding, stored_qslm, bytes, float_bytes(model), seconds};
    setting.add_to(j);
    if (as_json) {
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("%s on %s\n", setting.label().c_str(), d.description.c_str());
        std::printf("bits per char %.4f, word-level perplexity %.2f, %s\n", bpc, ppl, setting.size_and_time().c_str());
    }
    return 0;
}

// ---- search ----------------------------------------------------------------------------------

struct SearchArgs {
    std::string model = "bundled";
    DataOptions data;
    std::optional<std::size_t> max_bytes;
    std::optional<double> max_bpw;
    std::string target;
    std::optional<double> max_ppl;
    std::string max_drop;  ///< "2%" or "0.02"
    std::string out = "qslm-search";
    std::string sensitivity = "kl";
    std::string strategy = "tiered";
    std::string granularity = "channel";
    std::string rounding = "nearest";
    std::vector<int> widths = {8, 6, 5, 4, 3, 2};
    double alpha = 0.5;
    std::string objective = "performance-memory";
    double token_rate = 10.0;  ///< tokens per second, for the average power in the report
    unsigned threads = 0;
    bool quiet = false;
    bool as_json = false;
};

double parse_fraction(const std::string& s) {
    std::string t = s;
    bool percent = !t.empty() && t.back() == '%';
    if (percent) t.pop_back();
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || !(v >= 0.0) || !std::isfinite(v))
        qslm::fail(qslm::Status::invalid_argument, "'" + s + "' is not a finite non-negative number or percentage");
    return percent ? v / 100.0 : v;
}

/// The output folder exists and holds no temporary file an interrupted run left behind.
void prepare_output_folder(const std::string& out) {
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec || !fs::is_directory(out))
        qslm::fail(qslm::Status::io_error, "cannot create the output folder '" + out + "'" + (ec ? ": " + ec.message() : ""));
    const std::size_t stale = qslm_cli::remove_stale_temporaries(out, {"report.json", "pareto.svg", "model.qslm"});
    if (stale > 0)
        std::fprintf(stderr, "note: removed %zu temporary file(s) an interrupted run left in %s\n", stale, out.c_str());
}

/// The progress bar redraws one line with '\r': only on a terminal, never into a log or pipe.
bool show_progress(const SearchArgs& a) { return !a.quiet && !a.as_json && ::isatty(STDERR_FILENO) == 1; }

/// report.json and pareto.svg, each written atomically (a kill leaves the previous complete
/// file or the new one, never a torn one); a failed write names the file and exits non-zero.
/// Written after model.qslm, so a report never describes a model file that is not there yet; a
/// model.qslm of an earlier run is removed (after the new report says "nothing chosen") when
/// this one chose nothing.
void write_search_outputs(const std::string& out, const json& report, const qslm::search::SearchResult& result) {
    if (!result.log_repair.empty()) std::fprintf(stderr, "note: %s\n", result.log_repair.c_str());
    qslm_cli::write_output(fs::path(out) / "report.json", report.dump(2) + "\n");
    qslm_cli::write_output(fs::path(out) / "pareto.svg", qslm::search::pareto_svg(result));
    if (!result.chosen) {
        std::error_code ec;
        if (fs::is_regular_file(fs::path(out) / "model.qslm", ec)) fs::remove(fs::path(out) / "model.qslm", ec);
    }
}

/// One search with the policies as types. `Rounding`: LayerRounder for SpikeGPT (it asks
/// `subject` for each module's LayerRounding: nearest, gptq or adaptive), rounding::Nearest for
/// models without per-layer statistics.
template <class Sensitivity, template <class, class, class, class> class Strategy, class Rounding, class Model, class Evaluator>
qslm::search::SearchResult run_search(const Model& subject, const Evaluator& evaluator,
                                      const qslm::search::Constraints& constraints, const qslm::search::Options& options,
                                      std::vector<std::optional<qslm::AnyPackedTensor>>& packed) {
    using Search = Strategy<Sensitivity, Rounding, CliGranularity, CliObjective>;
    Search search(options);
    auto result = search.run(subject, evaluator, constraints);
    if (result.chosen) packed = search.materialize(subject, result.chosen->setting);
    return result;
}

/// --strategy x --sensitivity, chosen at run time.
template <class Rounding, class Model, class Evaluator>
qslm::search::SearchResult dispatch_search(const SearchArgs& a, const Model& subject, const Evaluator& evaluator,
                                           const qslm::search::Constraints& constraints, const qslm::search::Options& options,
                                           std::vector<std::optional<qslm::AnyPackedTensor>>& packed) {
    using KL = qslm::sensitivity::KLDivergence;
    using Task = qslm::sensitivity::TaskMetric;
    if (a.strategy == "tiered" && a.sensitivity == "kl")
        return run_search<KL, qslm::search::Tiered, Rounding>(subject, evaluator, constraints, options, packed);
    if (a.strategy == "tiered" && a.sensitivity == "task")
        return run_search<Task, qslm::search::Tiered, Rounding>(subject, evaluator, constraints, options, packed);
    if (a.strategy == "budget" && a.sensitivity == "kl")
        return run_search<KL, qslm::search::BudgetExact, Rounding>(subject, evaluator, constraints, options, packed);
    if (a.strategy == "budget" && a.sensitivity == "task")
        return run_search<Task, qslm::search::BudgetExact, Rounding>(subject, evaluator, constraints, options, packed);
    qslm::fail(qslm::Status::invalid_argument, "unknown --strategy/--sensitivity combination '" + a.strategy + "'/'" +
                                                   a.sensitivity + "' (strategies: tiered, budget; sensitivities: kl, task)");
}

/// The memory constraints shared by both model kinds (--max-bytes, --max-bits-per-weight,
/// --target with the model's float-path arena).
qslm::search::Constraints memory_constraints(const SearchArgs& a, std::size_t arena) {
    qslm::search::Constraints constraints;
    constraints.max_bytes = a.max_bytes;
    constraints.target_bits_per_weight = a.max_bpw;
    if (!a.target.empty()) {
        const auto profile = qslm::hw::resolve_profile(a.target);
        const std::size_t budget = qslm::hw::memory_budget(profile, arena).weight_bytes;
        constraints.max_bytes = constraints.max_bytes ? std::min(*constraints.max_bytes, budget) : budget;
    }
    return constraints;
}

/// The search on a classifier: accuracy on labelled sentences, rounding to nearest.
///
/// Data: candidates are scored on the calibration set (--calibration-data, or a slice of
/// --data) and the best are verified on --data, so the accuracy reported for the chosen
/// setting is measured on sentences the search did not choose it on when --calibration-data
/// is a separate file (e.g. SST-2 train.tsv, with dev.tsv as --data).
///
/// --max-drop D (accuracy points) becomes the search's relative bound D / (100 * A_float),
/// with A_float the float model's accuracy on --data: on the verification set that is exactly
/// "accuracy >= A_float - D/100"; on the calibration set it allows the same relative drop.
/// Runs a search; on Ctrl-C says where the resumable log is and returns nothing.
template <class Bar, class Run>
std::optional<qslm::search::SearchResult> run_interruptible(Bar& bar, const qslm::search::Options& options, Run&& run) {
    try {
        auto result = run();
        bar.finish();
        return result;
    } catch (const qslm::Error& e) {
        bar.finish();
        if (e.code() != qslm::Status::cancelled) throw;
        std::fprintf(stderr, "interrupted: every finished evaluation is in %s; run the same command again to resume\n",
                     options.log_path.c_str());
        return std::nullopt;
    }
}

int cmd_search_sdt(const SearchArgs& a, std::chrono::steady_clock::time_point t0) {
    const std::string path = resolve_model_path(a.model);
    const auto model = qslm::models::SdtModel::load(path);
    CliGranularity::current = parse_granularity(a.granularity);
    if (!a.data.verify_data.empty())
        qslm::fail(qslm::Status::invalid_argument,
                   "--verify-data is for language models; a classifier verifies on --data and calibrates on --calibration-data");
    if (qslm::quant::parse_rounding_method(a.rounding) != qslm::quant::RoundingMethod::nearest)
        qslm::fail(qslm::Status::invalid_argument, "--rounding " + a.rounding +
                                                       " needs per-layer input statistics, which are only gathered for "
                                                       "SpikeGPT; a classifier is rounded to nearest");
    if (a.max_ppl)
        qslm::fail(qslm::Status::invalid_argument,
                   "--max-ppl bounds a language model's perplexity; a classifier's bound is --max-drop in accuracy points");
    if (CliObjective::with_energy)
        qslm::fail(qslm::Status::invalid_argument,
                   "--objective performance-memory-energy needs the per-setting energy estimate, which is built for "
                   "SpikeGPT only; a classifier searches with --objective performance-memory");
    const double max_drop_points = a.max_drop.empty() ? -1.0 : parse_accuracy_points(a.max_drop);
    qslm::search::Constraints constraints = memory_constraints(a, arena_bytes(model));

    const ClassifierData d = make_classifier_data(model, a.data, true);
    const auto evaluator = qslm::search::make_sdt_evaluator(model, d.calibration, d.full);
    const unsigned threads = a.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : a.threads;
    double float_accuracy = 0.0;
    if (max_drop_points >= 0.0) {
        // One float evaluation of --data, before the search, to turn points into the search's
        // relative bound (the search evaluates the float model on --data again for its report).
        float_accuracy = evaluator.evaluate(model.instance(), {.full = true, .threads = threads}).performance.value;
        if (!(float_accuracy > 0.0))
            qslm::fail(qslm::Status::invalid_argument, "the float model gets no sentence of " + a.data.data +
                                                           " right; a drop in accuracy points means nothing there");
        constraints.max_drop = std::min(max_drop_points / 100.0 / float_accuracy, 0.999999);
    }

    prepare_output_folder(a.out);
    qslm::search::TerminalProgressBar bar(std::cerr, show_progress(a));
    qslm::search::Options options;
    options.widths = a.widths;
    options.alpha = a.alpha;
    options.threads = a.threads;
    options.log_path = (fs::path(a.out) / "evaluations.jsonl").string();
    options.log_tag = "calibration " + d.calibration_description + ", full " + d.description + " accuracy " + CliGranularity::name();
    options.progress = [&](const qslm::search::Progress& p) { bar(p); };
    options.cancel = &g_cancel;
    std::signal(SIGINT, on_sigint);

    const qslm::search::SdtSearchModel subject(model);
    std::vector<std::optional<qslm::AnyPackedTensor>> packed;
    auto searched = run_interruptible(bar, options, [&] {
        return dispatch_search<qslm::rounding::Nearest>(a, subject, evaluator, constraints, options, packed);
    });
    if (!searched) return 130;
    qslm::search::SearchResult result = std::move(*searched);

    json report = qslm::search::to_json(result);
    report["type"] = "sdt";
    report["rounding"] = a.rounding;
    report["data"] = d.description;
    report["calibration_data"] = d.calibration_description;
    report["model"] = path;
    report["fp32_bytes"] = float_bytes(model);
    if (max_drop_points >= 0.0) {
        report["max_drop_points"] = max_drop_points;
        report["float_accuracy_full"] = float_accuracy;
    }
    report["seconds_total"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!a.target.empty()) report["target"] = a.target;
    if (result.chosen) {
        std::vector<const qslm::AnyPackedTensor*> ptrs(model.matrices().size(), nullptr);
        for (std::size_t m = 0; m < packed.size(); ++m)
            if (packed[m]) ptrs[subject.matrix_index(m)] = &*packed[m];
        qslm::io::save_qslm(fs::path(a.out) / "model.qslm", model.to_qslm(ptrs));
    }
    write_search_outputs(a.out, report, result);

    if (a.as_json) {
        std::cout << report.dump(2) << "\n";
        return result.satisfied ? 0 : 3;
    }
    std::printf("%s\n", result.message.c_str());
    const auto& base = result.baseline_full ? *result.baseline_full : result.baseline;
    std::printf("float model:  %10zu bytes  accuracy %.2f %%  (%s)\n", base.bytes, 100.0 * base.performance.value,
                (result.baseline_full ? d.description : d.calibration_description).c_str());
    if (result.chosen) {
        const auto& ch = result.chosen_full ? *result.chosen_full : *result.chosen;
        const double bpw = report["chosen"].value("bits_per_weight", 0.0);
        std::printf("chosen:       %10zu bytes  accuracy %.2f %%  (%.2f bits/weight, memory -%.1f%%, accuracy %+.2f points)\n",
                    ch.bytes, 100.0 * ch.performance.value, bpw,
                    100.0 * (1.0 - static_cast<double>(ch.bytes) / static_cast<double>(base.bytes)),
                    100.0 * (ch.performance.value - base.performance.value));
    } else {
        std::printf("closest settings (calibration set):\n");
        for (const std::size_t i : result.closest) {
            const auto& c = result.candidates[i];
            std::printf("  %10zu bytes  accuracy %.2f %%  (%s)\n", c.bytes, 100.0 * c.performance.value, c.origin.c_str());
        }
    }
    std::printf("%zu evaluations (%zu reused from the log) of %.3g possible settings, %.1f s; report, Pareto plot and model in %s/\n",
                result.evaluations, result.reused_from_log, result.exhaustive_settings, report["seconds_total"].get<double>(),
                a.out.c_str());
    return result.satisfied ? 0 : 3;
}

int cmd_search(SearchArgs a) {
    const auto t0 = std::chrono::steady_clock::now();
    CliObjective::with_energy = a.objective == "performance-memory-energy";
    if (model_kind(a.model) == qslm::io::ModelKind::sdt) return cmd_search_sdt(a, t0);
    if (!a.data.calibration_data.empty())
        qslm::fail(qslm::Status::invalid_argument,
                   "--calibration-data is for classifiers; a language model calibrates on the start of --data");
    if (!a.data.verify_data.empty() && a.data.data.empty())
        qslm::fail(qslm::Status::invalid_argument, "--verify-data needs --data (the text to calibrate on)");
    const auto model = load_spikegpt(a.model, qslm::models::WeightForm::float32);
    CliGranularity::current = parse_granularity(a.granularity);
    const auto method = qslm::quant::parse_rounding_method(a.rounding);

    qslm::search::Constraints constraints = memory_constraints(a, arena_bytes(model));
    constraints.max_ppl = a.max_ppl;
    // "--max-drop 2%" reads as "perplexity may rise by at most 2 %": P <= 1.02 P_float. The
    // search's max_drop is 1 - P_float / P for lower-is-better metrics, hence the conversion.
    if (!a.max_drop.empty()) constraints.max_drop = 1.0 - 1.0 / (1.0 + parse_fraction(a.max_drop));

    const LmData d = make_lm_data(model, a.data);
    // The search judges word-level perplexity (what the targets are stated in); on data-free
    // text the bytes-per-word ratio is that of the sampled text.
    qslm::search::SpikeGptEvaluator evaluator(d.calibration, d.full,
                                              {.metric = qslm::eval::LmMetric::word_perplexity,
                                               .bytes_per_word = d.bytes_per_word});
    // Calibrated rounding fits to sequences disjoint from those the search scores on (see LmData).
    std::optional<qslm::quant::CalibrationSet> calibration;
    if (qslm::quant::needs_calibration(method)) calibration.emplace(qslm::quant::calibrate_spikegpt(model, d.rounding_fit));
    const qslm::search::SpikeGptRounding rounding(model, method, calibration ? &*calibration : nullptr, {}, a.threads);
    qslm::search::CalibratedSpikeGptSearchModel subject(model, rounding);

    // Energy per token of every setting, priced from one float run over (up to) 1,024
    // calibration tokens in one stream; on a --target, with its memories and measured prices.
    std::vector<int> energy_tokens;
    for (const auto& seq : d.calibration) {
        energy_tokens.insert(energy_tokens.end(), seq.begin(), seq.end());
        if (energy_tokens.size() >= 1024) break;
    }
    energy_tokens.resize(std::min<std::size_t>(energy_tokens.size(), 1024));
    qslm::hw::MemoryContext memory;
    qslm::hw::EnergyOverrides prices;
    if (!a.target.empty()) {
        const auto profile = qslm::hw::resolve_profile(a.target);
        memory = qslm::hw::memory_context(profile);
        prices = profile.energy;
    }
    const qslm::search::SettingEnergy energy(subject.hierarchy(), qslm::search::measure_float_run(subject, energy_tokens),
                                             qslm::hw::Horowitz45nm{}, memory, prices);

    prepare_output_folder(a.out);
    qslm::search::TerminalProgressBar bar(std::cerr, show_progress(a));
    qslm::search::Options options;
    options.widths = a.widths;
    options.alpha = a.alpha;
    options.threads = a.threads;
    options.log_path = (fs::path(a.out) / "evaluations.jsonl").string();
    // The rounding is part of the tag so that a resumed search never reuses evaluations made
    // with another policy (left out for nearest: older logs stay valid).
    options.log_tag = d.description + " word_perplexity " + CliGranularity::name() +
                      (method == qslm::quant::RoundingMethod::nearest ? std::string() : " rounding " + a.rounding);
    options.energy_per_token = [&energy](const qslm::search::Setting& s) { return energy.per_token_pj(s); };
    options.progress = [&](const qslm::search::Progress& p) { bar(p); };
    options.cancel = &g_cancel;
    std::signal(SIGINT, on_sigint);

    std::vector<std::optional<qslm::AnyPackedTensor>> packed;
    auto searched = run_interruptible(bar, options, [&] {
        return dispatch_search<qslm::search::LayerRounder>(a, subject, evaluator, constraints, options, packed);
    });
    if (!searched) return 130;
    qslm::search::SearchResult result = std::move(*searched);

    json report = qslm::search::to_json(result);
    report["rounding"] = a.rounding;
    report["data"] = d.description;
    std::optional<qslm::hw::EnergyComparison> energy_side_by_side;
    if (result.chosen) {
        energy_side_by_side = energy.compare(result.chosen->setting);
        energy_side_by_side->reference_memory_bytes = float_bytes(model);
        energy_side_by_side->candidate_memory_bytes = result.chosen->bytes;
        energy_side_by_side->tokens_per_second = a.token_rate;
        report["energy"] = *energy_side_by_side;
        report["energy"]["estimate"] = "float run's operation counts over " + std::to_string(energy_tokens.size()) +
                                       " calibration tokens, priced per module at the setting's widths (docs/energy.md)";
    } else {
        report["energy"] = nullptr;
    }
    report["model"] = resolve_model_path(a.model);
    report["fp32_bytes"] = float_bytes(model);
    // The search scores candidates with dequantized weights and float activations (fast to
    // swap per candidate). The written model.qslm runs on the low-bit kernel with int8
    // activations; its score on the same verification text is measured here, so the report
    // holds what `qslm eval model.qslm` reproduces.
    std::vector<const qslm::AnyPackedTensor*> chosen_ptrs(model.matrices().size(), nullptr);
    if (result.chosen) {
        if (subject.fixed_embedding()) chosen_ptrs[0] = subject.fixed_embedding();
        for (std::size_t m = 0; m < packed.size(); ++m)
            if (packed[m]) chosen_ptrs[subject.matrix_index(m)] = &*packed[m];
        const auto runtime = evaluator.evaluate(model.packed_instance(chosen_ptrs), {.full = true, .threads = a.threads});
        const auto& ch = result.chosen_full ? *result.chosen_full : *result.chosen;
        report["search_arithmetic"] = "dequantized weights, float32 activations";
        report["chosen_as_run"] = {{"arithmetic", "low-bit GEMV with int8 activations (as model.qslm runs)"},
                                   {"word_perplexity", runtime.performance.value},
                                   {"search_word_perplexity", ch.performance.value},
                                   {"data", d.description}};
    }
    report["seconds_total"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!a.target.empty()) report["target"] = a.target;
    if (result.chosen) qslm::io::save_qslm(fs::path(a.out) / "model.qslm", model.to_qslm(chosen_ptrs));
    write_search_outputs(a.out, report, result);

    if (a.as_json) {
        std::cout << report.dump(2) << "\n";
        return result.satisfied ? 0 : 3;
    }
    std::printf("%s\n", result.message.c_str());
    const auto& base = result.baseline_full ? *result.baseline_full : result.baseline;
    std::printf("float model:  %10zu bytes  word-ppl %.3f  (%s)\n", base.bytes, base.performance.value, d.description.c_str());
    if (result.chosen) {
        const auto& ch = result.chosen_full ? *result.chosen_full : *result.chosen;
        const double bpw = report["chosen"].value("bits_per_weight", 0.0);
        std::printf("chosen:       %10zu bytes  word-ppl %.3f  (%.2f bits/weight, memory -%.1f%%, perplexity %+.2f%%)\n",
                    ch.bytes, ch.performance.value, bpw,
                    100.0 * (1.0 - static_cast<double>(ch.bytes) / static_cast<double>(base.bytes)),
                    100.0 * (ch.performance.value / base.performance.value - 1.0));
        std::printf("as it runs:   %10s        word-ppl %.3f  (model.qslm on the low-bit kernel, int8 activations)\n", "",
                    report["chosen_as_run"]["word_perplexity"].get<double>());
        if (energy_side_by_side) {
            const auto& e = *energy_side_by_side;
            std::printf("energy/token: %10.1f nJ float, %.1f nJ chosen (%+.1f%%); at %g tokens/s %.3g mW vs %.3g mW (%s, estimate)\n",
                        e.reference.per_token_pj() / 1e3, e.candidate.per_token_pj() / 1e3,
                        100.0 * (e.energy_ratio() - 1.0), a.token_rate,
                        1e3 * e.reference.average_power_watts(a.token_rate),
                        1e3 * e.candidate.average_power_watts(a.token_rate), e.reference.model.c_str());
        }
    } else {
        std::printf("closest settings:\n");
        for (const std::size_t i : result.closest) {
            const auto& c = result.candidates[i];
            std::printf("  %10zu bytes  word-ppl %.3f  (%s)\n", c.bytes, c.performance.value, c.origin.c_str());
        }
    }
    std::printf("%zu evaluations (%zu reused from the log) of %.3g possible settings, %.1f s; report, Pareto plot and model in %s/\n",
                result.evaluations, result.reused_from_log, result.exhaustive_settings, report["seconds_total"].get<double>(),
                a.out.c_str());
    return result.satisfied ? 0 : 3;
}

// ---- run -------------------------------------------------------------------------------------

std::vector<std::uint32_t> parse_tokens(const std::string& list, std::size_t vocab) {
    std::vector<std::uint32_t> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
        char* end = nullptr;
        const long v = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || v < 0 || static_cast<std::size_t>(v) >= vocab)
            qslm::fail(qslm::Status::out_of_range, "token '" + item + "' is not an id in [0, " + std::to_string(vocab) + ")");
        out.push_back(static_cast<std::uint32_t>(v));
    }
    if (out.empty()) qslm::fail(qslm::Status::invalid_argument, "--tokens needs at least one token id");
    return out;
}

int cmd_run(const std::string& model_arg, const std::string& prompt, const std::string& tokens_arg,
            const std::string& dump, std::size_t n, float temperature, float top_p, std::uint64_t seed) {
    // An unknown model_type (or a classifier) is refused with the accepted ones named.
    if (model_kind(model_arg) != qslm::io::ModelKind::spikegpt)
        qslm::fail(qslm::Status::invalid_argument,
                   "'run' runs SpikeGPT language models; " + resolve_model_path(model_arg) + " is a classifier");
    const auto owner = load_spikegpt(model_arg);
    if (!tokens_arg.empty()) {
        const auto tokens = parse_tokens(tokens_arg, owner.vocab_size());
        const auto inst = owner.instance();
        const json j = qslm::models::dump_logits_json(inst, std::span<const std::uint32_t>(tokens));
        for (std::size_t t = 0; t < j.size(); ++t)
            for (std::size_t v = 0; v < j[t].size(); ++v)
                if (!j[t][v].is_number() || !std::isfinite(j[t][v].get<double>()))
                    qslm::fail(qslm::Status::corrupt_data,
                               "the model produced a non-finite logit for token " + std::to_string(v) + " at step " +
                                   std::to_string(t) + "; its weights are damaged");
        if (!dump.empty()) {
            qslm_cli::write_output(dump, j.dump() + "\n");
            std::printf("wrote the logits of %zu steps to %s\n", tokens.size(), dump.c_str());
        } else {
            std::cout << j.dump() << "\n";
        }
        return 0;
    }
    if (owner.vocab_size() != 256)
        qslm::fail(qslm::Status::invalid_argument, "--prompt needs a byte-level model (vocabulary 256); use --tokens");
    const auto inst = owner.instance();
    const auto& model = inst.model();
    std::vector<float> state(model.state_floats()), scratch(model.scratch_floats()), logits(model.vocab_size());
    std::vector<float> probs(model.vocab_size());
    std::vector<std::uint32_t> order(model.vocab_size());
    qslm::models::SpikeGptStream stream(model, state, scratch, logits);
    qslm::models::SmallRng rng(seed);
    const qslm::models::SamplingOptions sampling{.temperature = temperature, .top_p = top_p};
    qslm::throw_if_failed(stream.reset(), "cannot reset the model");
    const std::string p = prompt.empty() ? std::string("\n") : prompt;
    std::fwrite(p.data(), 1, p.size(), stdout);
    std::span<const float> next;
    std::size_t step = 0;
    for (const char c : p) {
        next = qslm::value_or_throw(stream.step(static_cast<std::uint32_t>(static_cast<unsigned char>(c))));
        require_finite(next, step++);
    }
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t tok = qslm::value_or_throw(qslm::models::sample_token(next, sampling, rng, probs, order));
        const char byte = static_cast<char>(tok);
        std::fwrite(&byte, 1, 1, stdout);
        next = qslm::value_or_throw(stream.step(tok));
        require_finite(next, step++);
    }
    std::fputc('\n', stdout);
    return 0;
}

// ---- quantize --------------------------------------------------------------------------------

/// The .qslm of `model` with every matrix replaced by `tensors` (matrices() order); also its
/// fp32 size and searched-weight count for the summary.
template <class Model>
qslm::io::QslmModel to_qslm_of(const Model& model, const std::vector<qslm::AnyPackedTensor>& tensors, std::size_t& fp32,
                               std::size_t& searched) {
    std::vector<const qslm::AnyPackedTensor*> ptrs;
    for (const auto& t : tensors) ptrs.push_back(&t);
    fp32 = float_bytes(model);
    searched = total_matrix_weights(model);
    return model.to_qslm(ptrs);
}

/// Options of `qslm quantize`: every weight matrix at one width, no search.
struct QuantizeArgs {
    std::string model = "bundled";
    int bits = 4;
    std::string granularity = "channel";
    std::string rounding = "nearest";
    std::string out;
    DataOptions data;  ///< calibration text for gptq / adaptive (default: sampled from the model)
    unsigned threads = 0;
    bool as_json = false;
};

int cmd_quantize(const QuantizeArgs& a) {
    const auto t0 = std::chrono::steady_clock::now();
    const qslm::QuantSpec spec = parse_granularity(a.granularity);
    const auto method = qslm::quant::parse_rounding_method(a.rounding);
    const std::string path = resolve_model_path(a.model);
    std::size_t fp32 = 0, packed_bytes = 0, searched = 0;
    qslm::io::QslmModel q;
    if (model_kind(a.model) == qslm::io::ModelKind::sdt) {
        if (method != qslm::quant::RoundingMethod::nearest)
            qslm::fail(qslm::Status::invalid_argument,
                       "--rounding " + a.rounding + " needs per-layer input statistics, which the classifier does not "
                       "gather yet; use --rounding nearest for it");
        const auto model = qslm::models::SdtModel::load(path);
        const auto tensors = qslm::search::quantize_uniform(model, a.bits, spec);
        for (const auto& t : tensors) packed_bytes += t.bytes();
        q = to_qslm_of(model, tensors, fp32, searched);
    } else {
        const auto model = load_spikegpt(a.model, qslm::models::WeightForm::float32);
        std::optional<qslm::quant::CalibrationSet> calibration;
        if (qslm::quant::needs_calibration(method))
            calibration.emplace(qslm::quant::calibrate_spikegpt(model, make_lm_data(model, a.data).calibration));
        const qslm::search::SpikeGptRounding rounder(model, method, calibration ? &*calibration : nullptr, {}, a.threads);
        // A binary embedding gets its lossless 1-bit sign code (as the search stores it).
        const auto tensors = qslm::search::quantize_uniform(model, a.bits, spec, rounder);
        for (const auto& t : tensors) packed_bytes += t.bytes();
        q = to_qslm_of(model, tensors, fp32, searched);
    }
    qslm::io::save_qslm(a.out, q);
    const std::size_t file_bytes = static_cast<std::size_t>(fs::file_size(a.out));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double bpw = 8.0 * static_cast<double>(packed_bytes) / static_cast<double>(searched);
    json j = {{"model", path},          {"out", a.out},
              {"bits", a.bits},         {"granularity", a.granularity},
              {"rounding", a.rounding}, {"weight_matrix_bytes", packed_bytes},
              {"bits_per_weight", bpw}, {"file_bytes", file_bytes},
              {"fp32_bytes", fp32},     {"seconds", seconds}};
    if (a.as_json) {
        std::cout << j.dump(2) << "\n";
    } else {
        std::printf("wrote %s: %d-bit %s weights (%s rounding), %.2f bits/weight with scales, %zu bytes "
                    "(%.1f%% of the %zu-byte fp32 model), %.1f s\n",
                    a.out.c_str(), a.bits, a.granularity.c_str(), a.rounding.c_str(), bpw, file_bytes,
                    100.0 * static_cast<double>(file_bytes) / static_cast<double>(fp32), fp32, seconds);
    }
    return 0;
}

// ---- bench -----------------------------------------------------------------------------------

/// Peak resident set size of this process so far (Linux: ru_maxrss is in KiB).
std::size_t peak_rss_bytes() {
    rusage u{};
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
    return static_cast<std::size_t>(u.ru_maxrss) * 1024u;
}

/// How a safetensors file stores its weight matrices: "float16" or "float32" (the dtype of
/// most matrix elements); empty for a .qslm.
std::string stored_weight_form(const std::string& path) {
    if (qslm::io::is_qslm_file(path)) return "";  // told after loading (reading it here would add to the peak RSS)
    std::size_t f16 = 0, f32 = 0;
    const auto file = qslm::io::SafetensorsFile::open(path);
    for (const auto& t : file.tensors()) {
        if (t.rank() != 2) continue;
        (t.dtype == qslm::io::DType::F16 ? f16 : f32) += t.element_count();
    }
    return f16 > f32 ? "float16" : "float32";
}

int cmd_bench(const std::string& model_arg, std::size_t tokens, unsigned threads, bool as_json) {
    const std::string path = resolve_model_path(model_arg);
    if (model_kind(model_arg) != qslm::io::ModelKind::spikegpt)
        qslm::fail(qslm::Status::invalid_argument,
                   "'bench' measures generation speed of language models; " + path +
                       " is a classifier (qslm eval --json reports its evaluation time)");
    std::string weights = stored_weight_form(path);
    const std::size_t file_bytes = static_cast<std::size_t>(fs::file_size(path));
    const auto t_load = std::chrono::steady_clock::now();
    const auto owner = load_spikegpt(model_arg);
    const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
    if (weights.empty()) weights = owner.holds_packed() ? "packed" : "float32";
    const auto inst = owner.instance();
    const auto& model = inst.model();
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    // Each thread generates its own stream (greedy, from byte 'T'), the way a server runs one
    // request per core: single-stream generation has no parallelism inside a step.
    constexpr std::size_t warmup = 8;
    std::vector<std::exception_ptr> errors(threads);
    std::vector<std::uint64_t> checksums(threads, 0);
    auto generate = [&](unsigned w, std::size_t steps) {
        try {
            std::vector<float> state(model.state_floats()), scratch(model.scratch_floats()), logits(model.vocab_size());
            qslm::models::SpikeGptStream stream(model, state, scratch, logits);
            qslm::throw_if_failed(stream.reset(), "cannot reset the model");
            std::uint32_t tok = static_cast<std::uint32_t>('T') % static_cast<std::uint32_t>(model.vocab_size());
            for (std::size_t i = 0; i < steps; ++i) {
                const auto next = qslm::value_or_throw(stream.step(tok));
                tok = static_cast<std::uint32_t>(std::max_element(next.begin(), next.end()) - next.begin());
                if (!std::isfinite(next[tok])) qslm::fail(qslm::Status::corrupt_data, "the model produced non-finite logits");
                checksums[w] = checksums[w] * 31u + tok;
            }
        } catch (...) {
            errors[w] = std::current_exception();
        }
    };
    auto run_all = [&](std::size_t steps) {
        std::vector<std::thread> pool;
        for (unsigned w = 1; w < threads; ++w) pool.emplace_back(generate, w, steps);
        generate(0, steps);
        for (auto& t : pool) t.join();
        for (auto& e : errors)
            if (e) std::rethrow_exception(e);
    };
    run_all(warmup);
    const auto t0 = std::chrono::steady_clock::now();
    run_all(tokens);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double tps = static_cast<double>(tokens) * threads / seconds;
    const std::size_t params = owner.parameter_count();
    const std::string isa = owner.holds_packed() ? owner.packed_isa()
                                                 : std::string("float32 GEMV, ") + qslm::kernels::to_string(qslm::kernels::best_isa());
    json j = {{"model", path},
              {"tokens", tokens},
              {"threads", threads},
              {"seconds", seconds},
              {"tokens_per_second", tps},
              {"parameters", params},
              {"param_tokens_per_second", static_cast<double>(params) * tps},
              {"param_tokens_per_second_per_thread", static_cast<double>(params) * tps / threads},
              {"peak_rss_bytes", peak_rss_bytes()},
              {"file_bytes", file_bytes},
              {"resident_weight_bytes", owner.resident_weight_bytes()},
              {"weights", weights},
              {"isa", isa},
              {"load_seconds", load_seconds},
              {"note", "greedy generation, one stream per thread, after " + std::to_string(warmup) + " warm-up tokens"}};
    if (as_json) {
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf("%s (%s weights, %zu parameters, %zu-byte file): %.1f tokens/s on %u thread(s) (%s), "
                "%.3g parameter-tokens/s per thread, peak RSS %.1f MiB, load %.3f s\n",
                path.c_str(), weights.c_str(), params, file_bytes, tps, threads, isa.c_str(),
                static_cast<double>(params) * tps / threads, static_cast<double>(peak_rss_bytes()) / (1 << 20), load_seconds);
    return 0;
}

// ---- export ----------------------------------------------------------------------------------

int cmd_export(const std::string& model_arg, const std::string& header, const std::string& name) {
    const auto q = qslm::io::load_qslm(model_arg);
    qslm::io::HeaderExportOptions options;
    if (!name.empty()) options.namespace_name = name;
    options.source_name = fs::path(model_arg).filename().string();
    const fs::path out(header);
    if (fs::is_directory(out)) qslm::fail(qslm::Status::io_error, "cannot write '" + header + "': it is a folder");
    qslm_cli::remove_stale_temporaries(out.has_parent_path() ? out.parent_path() : fs::path("."), {out.filename().string()});
    qslm::io::write_header(header, q, options);
    std::printf("wrote %s (%zu tensors) from %s\n", header.c_str(), q.tensors.size(), model_arg.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"qslm: quantized spike-driven language models — inspect, evaluate, search, run, export"};
    app.require_subcommand(1);

    std::string model = "bundled";
    bool as_json = false;

    auto* info = app.add_subcommand("info", "describe a model (and whether it fits a target)");
    std::string info_target;
    info->add_option("model", model, "model file (.safetensors or .qslm), or 'bundled'");
    info->add_option("--target", info_target, "device profile name (cortex-m4, cortex-m7, cortex-a53, ...) or JSON file");
    info->add_flag("--json", as_json, "machine-readable output");
    int info_bits = 4;
    std::string info_gran = "channel";
    info->add_option("--bits", info_bits, "weight width of the integer deployment footprint (float checkpoints)")
        ->check(qslm_cli::integer_in(1, 8));
    info->add_option("--granularity", info_gran, "scales of that footprint: tensor | channel | group:G")
        ->check(qslm_cli::granularity());
    const auto embedding_option = [](CLI::App* cmd) {
        cmd->add_option("--embedding", g_embedding,
                        "binary | float: how the embedding is read, overriding the file (default: as the file says; "
                        "a file that says nothing follows the reference runner: binary only for its 77-symbol "
                        "character model)")
            ->check(qslm_cli::one_of({"binary", "float"}));
    };
    embedding_option(info);

    auto* eval = app.add_subcommand("eval", "perplexity / bits per char of a model (accuracy of a classifier), float or uniformly quantized");
    DataOptions eval_data;
    int uniform_bits = 0;
    std::string eval_gran = "channel", eval_rounding = "nearest";
    unsigned eval_threads = 0;
    eval->add_option("model", model, "model file, 'bundled' (SpikeGPT) or 'bundled-sdt' (SST-2 classifier)");
    add_data_options(eval, eval_data);
    eval->add_option("--uniform-bits", uniform_bits, "quantize every weight matrix to B bits first")
        ->check(qslm_cli::integer_in(1, 8));
    eval->add_option("--granularity", eval_gran, "tensor | channel | group:G")->check(qslm_cli::granularity());
    eval->add_option("--group", [&](const CLI::results_t& r) { eval_gran = "group:" + r[0]; return true; }, "shorthand for --granularity group:G")
        ->check(qslm_cli::integer_in(1, 1u << 20));
    eval->add_option("--rounding", eval_rounding, "nearest | gptq | adaptive (gptq/adaptive calibrate on the calibration sequences)")
        ->check(qslm_cli::one_of({"nearest", "gptq", "adaptive"}));
    eval->add_option("--threads", eval_threads, "threads (0 = all)")->check(qslm_cli::integer_in(0, 4096));
    eval->add_option("--sample-from", eval_data.sample_from,
                     "data-free: the float model whose samples are the text (needed for a .qslm; e.g. bundled-wiki)");
    embedding_option(eval);
    eval->add_flag("--json", as_json, "machine-readable output");

    auto* search = app.add_subcommand("search", "find per-module widths that meet a memory budget and a perplexity (or accuracy) bound");
    SearchArgs sa;
    search->add_option("model", sa.model, "model file, 'bundled' (SpikeGPT) or 'bundled-sdt' (SST-2 classifier)");
    add_data_options(search, sa.data);
    auto* mb = search->add_option("--max-bytes", sa.max_bytes, "memory budget in bytes (whole model)")
                   ->check(qslm_cli::integer_in(1, std::uint64_t{1} << 53));
    auto* mbpw = search->add_option("--max-bits-per-weight", sa.max_bpw, "memory budget as average bits per searched weight")
                     ->check(qslm_cli::real_in(0.0, 32.0, true));
    search->add_option("--target", sa.target, "derive the memory budget from a device profile");
    // A perplexity is at least 1 (a model that is always sure and always right).
    auto* mp = search->add_option("--max-ppl", sa.max_ppl, "largest acceptable word-level perplexity")
                   ->check(qslm_cli::real_in(1.0, 1e300));
    auto* md = search->add_option("--max-drop", sa.max_drop,
                                  "largest acceptable perplexity increase over the float model, e.g. 2% (P <= 1.02 P_float); "
                                  "for a classifier the largest accuracy drop in points on --data, e.g. 0.5 (A >= A_float - 0.005)");
    mp->excludes(md);
    mb->excludes(mbpw);
    search->add_option("--out", sa.out, "output folder (report.json, pareto.svg, model.qslm, evaluations.jsonl)");
    search->add_option("--calibration-data", sa.data.calibration_data,
                       "classifiers: labelled TSV the search scores candidates on (e.g. SST-2 train.tsv); default: a slice of --data")
        ->check(qslm_cli::regular_file());
    search->add_option("--verify-data", sa.data.verify_data,
                       "language models: text the search verifies the chosen setting on and reports (e.g. a held-out "
                       "slice of valid.txt); --data is then only calibrated on. Default: the start of --data")
        ->check(qslm_cli::regular_file());
    search->add_option("--calibration-examples", sa.data.calibration_examples,
                       "classifiers: sentences taken from the calibration set, evenly spread (0 = all)")
        ->check(qslm_cli::integer_in(0, 1000000000));
    search->add_option("--sensitivity", sa.sensitivity, "kl | task")->check(qslm_cli::one_of({"kl", "task"}));
    search->add_option("--strategy", sa.strategy, "tiered (QSLM) | budget (knapsack allocator)")
        ->check(qslm_cli::one_of({"tiered", "budget"}));
    search->add_option("--granularity", sa.granularity, "tensor | channel | group:G")->check(qslm_cli::granularity());
    search->add_option("--rounding", sa.rounding, "nearest | gptq | adaptive (gptq/adaptive calibrate on the calibration sequences)")
        ->check(qslm_cli::one_of({"nearest", "gptq", "adaptive"}));
    search->add_option("--widths", sa.widths, "candidate widths")->delimiter(',')->check(qslm_cli::integer_in(1, 8));
    search->add_option("--alpha", sa.alpha, "weight of performance in the trade-off score")->check(qslm_cli::real_in(0.0, 1.0));
    search->add_option("--objective", sa.objective,
                       "performance-memory (QSLM's trade-off) | performance-memory-energy (energy per token as a "
                       "third objective: alpha for performance, the rest split evenly; SpikeGPT only)")
        ->check(qslm_cli::one_of({"performance-memory", "performance-memory-energy"}));
    search->add_option("--token-rate", sa.token_rate, "tokens per second for the average power in the report")
        ->check(qslm_cli::real_in(0.0, 1e12, true));
    search->add_option("--threads", sa.threads, "threads (0 = all)")->check(qslm_cli::integer_in(0, 4096));
    embedding_option(search);
    search->add_flag("--quiet", sa.quiet, "no progress bar");
    search->add_flag("--json", sa.as_json, "print report.json to stdout");

    auto* run = app.add_subcommand("run", "generate text, or dump the logits of given tokens");
    std::string prompt, tokens, dump;
    std::size_t n = 200;
    float temperature = 0.8f, top_p = 0.9f;
    std::uint64_t seed = 1;
    run->add_option("model", model, "model file or 'bundled'");
    run->add_option("--prompt", prompt, "text to continue (byte-level models)");
    run->add_option("--tokens", tokens, "comma-separated token ids fed one by one from a fresh state");
    run->add_option("--dump-logits", dump, "write the logits of every step as JSON (with --tokens)");
    run->add_option("-n,--max-tokens", n, "tokens to generate")->check(qslm_cli::integer_in(0, 100000000));
    run->add_option("--temperature", temperature, "sampling temperature (0 = greedy)")->check(qslm_cli::real_in(0.0, 1000.0));
    run->add_option("--top-p", top_p, "nucleus sampling threshold")->check(qslm_cli::real_in(0.0, 1.0, true));
    run->add_option("--seed", seed, "sampling seed")->check(qslm_cli::integer_in(0, std::numeric_limits<std::uint64_t>::max()));
    embedding_option(run);

    auto* quant = app.add_subcommand("quantize", "quantize every weight matrix to one width (no search) and write a .qslm");
    QuantizeArgs qa;
    quant->add_option("model", qa.model, "model file, 'bundled' (SpikeGPT) or 'bundled-sdt' (SST-2 classifier)");
    quant->add_option("--bits", qa.bits, "weight width")->required()->check(qslm_cli::integer_in(1, 8));
    quant->add_option("--granularity", qa.granularity, "tensor | channel | group:G")->check(qslm_cli::granularity());
    quant->add_option("--rounding", qa.rounding, "nearest | gptq | adaptive (gptq/adaptive calibrate on --data, or on text sampled from the model)")
        ->check(qslm_cli::one_of({"nearest", "gptq", "adaptive"}));
    quant->add_option("--data", qa.data.data, "calibration text for gptq / adaptive (byte tokens)")->check(qslm_cli::regular_file());
    quant->add_option("--calibration-seqs", qa.data.calibration, "calibration sequences")->check(qslm_cli::integer_in(1, 100000));
    quant->add_option("--seq-len", qa.data.length, "tokens per calibration sequence")->check(qslm_cli::integer_in(2, 65536));
    quant->add_option("-o,--out", qa.out, "output .qslm file")->required();
    quant->add_option("--threads", qa.threads, "threads (0 = all)")->check(qslm_cli::integer_in(0, 4096));
    quant->add_flag("--json", qa.as_json, "machine-readable output");

    auto* bench = app.add_subcommand("bench", "generation speed and memory of a model file on this machine");
    std::size_t bench_tokens = 256;
    unsigned bench_threads = 1;
    bench->add_option("model", model, "model file (.safetensors or .qslm), or 'bundled'");
    bench->add_option("--tokens", bench_tokens, "tokens generated per thread (after 8 warm-up tokens)")->check(qslm_cli::integer_in(1, 10000000));
    bench->add_option("--threads", bench_threads, "threads, each generating its own stream (0 = all cores)")->check(qslm_cli::integer_in(0, 1024));
    bench->add_flag("--json", as_json, "machine-readable output");

    auto* exp = app.add_subcommand("export", "write a C++ header with constexpr packed weights from a .qslm file");
    std::string exp_model, header, ns;
    exp->add_option("model", exp_model, ".qslm file (e.g. the search's model.qslm)")->required()->check(qslm_cli::regular_file());
    exp->add_option("--header", header, "output header")->required();
    exp->add_option("--namespace", ns, "C++ namespace of the generated code");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        if (*info) return cmd_info(model, info_target, as_json, info_bits, info_gran);
        if (*eval) return cmd_eval(model, eval_data, uniform_bits, eval_gran, eval_rounding, as_json, eval_threads);
        if (*search) {
            if (!sa.max_bytes && !sa.max_bpw && sa.target.empty() && !sa.max_ppl && sa.max_drop.empty())
                std::fprintf(stderr, "note: no constraint given; the search only maximises the trade-off score\n");
            return cmd_search(sa);
        }
        if (*run) return cmd_run(model, prompt, tokens, dump, n, temperature, top_p, seed);
        if (*exp) return cmd_export(exp_model, header, ns);
        if (*quant) return cmd_quantize(qa);
        if (*bench) return cmd_bench(model, bench_tokens, bench_threads, as_json);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qslm: %s\n", e.what());
        return 1;
    }
    return 0;
}
