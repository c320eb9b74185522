// The Python module `qslm` (pybind11): load, run, evaluate and quantize SpikeGPT language
// models and spike-driven transformer classifiers, and call the spike kernels on numpy arrays.
// Every operation calls the same library code as the `qslm` command-line tool
// (examples/cli/qslm.cpp, qslm/search/uniform.hpp), so both give the same numbers.
// docs/python.md describes the API.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/sst2.hpp"
#include "qslm/io/model_kind.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/qslm_writer.hpp"
#include "qslm/kernels/isa.hpp"
#include "qslm/kernels/spike_matvec.hpp"
#include "qslm/models/sampling.hpp"
#include "qslm/io/sdt_model.hpp"
#include "qslm/io/spikegpt_model.hpp"
#include "qslm/search/adapters/sdt.hpp"
#include "qslm/search/adapters/spikegpt.hpp"
#include "qslm/search/adapters/spikegpt_calibration.hpp"
#include "qslm/search/uniform.hpp"

namespace py = pybind11;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---- conversions ------------------------------------------------------------------------------

/// A 1-D array of integer ids (a list is converted; floats, bools and other shapes are refused).
std::vector<std::uint32_t> token_ids(const py::handle& obj, std::size_t vocab, const char* what) {
    const py::array arr = py::array::ensure(obj);
    if (!arr) qslm::fail(qslm::Status::invalid_argument, std::string(what) + " must be a sequence of integer token ids");
    if (arr.size() == 0) qslm::fail(qslm::Status::invalid_argument, std::string(what) + " needs at least one token id");
    const char kind = arr.dtype().kind();
    if (kind != 'i' && kind != 'u')
        qslm::fail(qslm::Status::invalid_argument, std::string(what) + " must be integer token ids, not dtype " +
                                                       std::string(py::str(arr.dtype())));
    if (arr.ndim() != 1)
        qslm::fail(qslm::Status::bad_shape,
                   std::string(what) + " must be one-dimensional, got " + std::to_string(arr.ndim()) + " dimensions");
    const auto ids = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
    const auto r = ids.unchecked<1>();
    std::vector<std::uint32_t> out(static_cast<std::size_t>(r.shape(0)));
    for (py::ssize_t i = 0; i < r.shape(0); ++i) {
        const std::int64_t v = r(i);
        if (v < 0 || static_cast<std::uint64_t>(v) >= vocab)
            qslm::fail(qslm::Status::out_of_range, std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(v) +
                                                       " is not an id in [0, " + std::to_string(vocab) + ")");
        out[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(v);
    }
    if (out.empty()) qslm::fail(qslm::Status::invalid_argument, std::string(what) + " needs at least one token id");
    return out;
}

py::array_t<float> to_numpy(const std::vector<float>& v, std::size_t rows, std::size_t cols) {
    py::array_t<float> a({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
    std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(float));
    return a;
}

/// nlohmann::json -> Python objects (dict, list, str, int, float, bool, None).
py::object to_python(const json& j) {
    switch (j.type()) {
        case json::value_t::object: {
            py::dict d;
            for (const auto& [k, v] : j.items()) d[py::str(k)] = to_python(v);
            return d;
        }
        case json::value_t::array: {
            py::list l;
            for (const auto& v : j) l.append(to_python(v));
            return l;
        }
        case json::value_t::string: return py::str(j.get<std::string>());
        case json::value_t::boolean: return py::bool_(j.get<bool>());
        case json::value_t::number_integer: return py::int_(j.get<std::int64_t>());
        case json::value_t::number_unsigned: return py::int_(j.get<std::uint64_t>());
        case json::value_t::number_float: return py::float_(j.get<double>());
        default: return py::none();
    }
}

std::string path_of(const py::object& p) { return py::str(py::module_::import("os").attr("fspath")(p)); }

unsigned resolve_threads(unsigned threads) { return threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads; }

std::size_t stored_weight_bytes(const std::string& qslm_path) {
    std::size_t bytes = 0;
    for (const auto& t : qslm::io::load_qslm(qslm_path).tensors)
        bytes += t.is_packed() ? t.visit_view([](const auto& v) { return v.bytes(); }) : t.size() * sizeof(float);
    return bytes;
}

template <class Model>
std::size_t total_matrix_weights(const Model& m) {
    std::size_t n = 0;
    for (const auto& x : m.matrices()) n += x.rows * x.cols;
    return n;
}

std::size_t float_bytes(const qslm::models::SpikeGptModel& m) { return m.parameter_count() * sizeof(float); }
std::size_t float_bytes(const qslm::models::SdtModel& m) {
    std::size_t n = 0;
    m.checkpoint().for_each_tensor([&](const std::string&, const qslm::io::FloatTensor& t) { n += t.values().size(); });
    return n * sizeof(float);
}

json matrices_json(const std::vector<qslm::models::MatrixInfo>& ms) {
    json a = json::array();
    for (const auto& m : ms) a.push_back({{"name", m.name}, {"rows", m.rows}, {"cols", m.cols}});
    return a;
}

void require_file(const std::string& path) {
    if (!fs::exists(path)) qslm::fail(qslm::Status::not_found, "model file '" + path + "' does not exist");
}

/// Bool / integer 0-1 spikes of `n` inputs, one vector [n] or T steps [T, n] -> packed words,
/// ceil(n/64) per step (bit c of word c/64 = input c). `steps` receives T (0 for one vector).
std::vector<std::uint64_t> pack_words(const py::array& spikes, std::size_t n, std::size_t& steps) {
    const char kind = spikes.dtype().kind();
    if (kind != 'b' && kind != 'i' && kind != 'u')
        qslm::fail(qslm::Status::invalid_argument,
                   "spikes must be bool or integer 0/1, not dtype " + std::string(py::str(spikes.dtype())));
    const bool two_d = spikes.ndim() == 2;
    if ((spikes.ndim() != 1 && !two_d) || static_cast<std::size_t>(spikes.shape(spikes.ndim() - 1)) != n)
        qslm::fail(qslm::Status::bad_shape,
                   "spikes must be [" + std::to_string(n) + "] or [steps, " + std::to_string(n) + "] (one entry per input)");
    steps = two_d ? static_cast<std::size_t>(spikes.shape(0)) : 0;
    const std::size_t T = two_d ? steps : 1, W = (n + 63) / 64;
    std::vector<std::uint64_t> w(T * W, 0);
    auto put = [&](const auto* s) {
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t c = 0; c < n; ++c) {
                const auto v = s[t * n + c];
                if (v != 0 && v != 1)
                    qslm::fail(qslm::Status::invalid_argument, "spikes[" + (two_d ? std::to_string(t) + ", " : std::string()) +
                                                                   std::to_string(c) + "] is neither 0 nor 1");
                w[t * W + c / 64] |= static_cast<std::uint64_t>(v) << (c % 64);
            }
    };
    if (kind == 'b') put(py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(spikes).data());
    else put(py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(spikes).data());
    return w;
}

// ---- SpikeGPT ---------------------------------------------------------------------------------

class PySpikeGpt {
public:
    explicit PySpikeGpt(std::string path) : path_(std::move(path)), model_(load(path_, qslm::models::WeightForm::packed)) {}

    static qslm::models::SpikeGptModel load(const std::string& path, qslm::models::WeightForm form) {
        require_file(path);
        qslm::models::SpikeGptLoadOptions options;
        options.weights = form;
        return qslm::models::SpikeGptModel::load(path, options);
    }

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] const qslm::models::SpikeGptModel& model() const noexcept { return model_; }

    py::array_t<float> logits(const py::object& tokens) const {
        const auto ids = token_ids(tokens, model_.vocab_size(), "tokens");
        std::vector<float> l;
        {
            py::gil_scoped_release nogil;
            l = model_.instance().logits(std::span<const std::uint32_t>(ids));
        }
        return to_numpy(l, ids.size(), model_.vocab_size());
    }

    py::dict run(const py::object& tokens) const {
        const auto ids = token_ids(tokens, model_.vocab_size(), "tokens");
        std::vector<float> l;
        qslm::OpCounts ops;
        {
            py::gil_scoped_release nogil;
            const auto inst = model_.instance();
            l = inst.logits(std::span<const std::uint32_t>(ids));
            ops = inst.count_ops(std::span<const std::uint32_t>(ids));
        }
        py::dict d;
        d["logits"] = to_numpy(l, ids.size(), model_.vocab_size());
        d["spikes"] = ops.spikes;
        py::dict o;
        o["synaptic_accumulates"] = ops.synaptic_accumulates;
        o["multiply_accumulates"] = ops.multiply_accumulates;
        o["multiplies"] = ops.multiplies;
        o["additions"] = ops.additions;
        o["nonlinear"] = ops.nonlinear;
        o["state_updates"] = ops.state_updates;
        o["spikes"] = ops.spikes;
        o["weight_bits_read"] = ops.weight_bits_read;
        o["activation_bytes_moved"] = ops.activation_bytes_moved;
        d["ops"] = o;
        return d;
    }

    /// Text continued from `prompt` (byte-level models), sampled as `qslm run --prompt` samples.
    std::string generate(const std::string& prompt, std::size_t n, float temperature, float top_p, std::uint64_t seed) const {
        if (model_.vocab_size() != 256)
            qslm::fail(qslm::Status::invalid_argument, "generate needs a byte-level model (vocabulary 256); use logits(tokens)");
        py::gil_scoped_release nogil;
        const auto inst = model_.instance();
        const auto& m = inst.model();
        std::vector<float> state(m.state_floats()), scratch(m.scratch_floats()), logits(m.vocab_size()), probs(m.vocab_size());
        std::vector<std::uint32_t> order(m.vocab_size());
        qslm::models::SpikeGptStream stream(m, state, scratch, logits);
        qslm::models::SmallRng rng(seed);
        const qslm::models::SamplingOptions sampling{.temperature = temperature, .top_p = top_p};
        qslm::throw_if_failed(stream.reset(), "cannot reset the model");
        const std::string p = prompt.empty() ? std::string("\n") : prompt;
        std::span<const float> next;
        for (const char c : p) next = qslm::value_or_throw(stream.step(static_cast<std::uint32_t>(static_cast<unsigned char>(c))));
        std::string out;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t tok = qslm::value_or_throw(qslm::models::sample_token(next, sampling, rng, probs, order));
            out.push_back(static_cast<char>(tok));
            next = qslm::value_or_throw(stream.step(tok));
        }
        return out;
    }

    json info() const {
        const auto& c = model_.config();
        json j;
        j["model"] = path_;
        j["type"] = "spikegpt";
        j["config"] = {{"n_layer", c.n_layer}, {"n_embd", c.n_embd}, {"vocab_size", c.vocab_size}, {"ffn_hidden", c.ffn_hidden},
                       {"binary_embedding", model_.options().binary_embedding}};
        j["parameters"] = model_.parameter_count();
        j["searched_weights"] = total_matrix_weights(model_);
        j["fp32_bytes"] = float_bytes(model_);
        j["matrices"] = matrices_json(model_.matrices());
        j["packed"] = model_.holds_packed();
        j["weights"] = model_.holds_packed() ? "packed (low-bit GEMV, int8 activations)" : "float32";
        j["isa"] = model_.holds_packed() ? model_.packed_isa() : std::string(qslm::kernels::to_string(qslm::kernels::best_gemv_isa()));
        j["resident_weight_bytes"] = model_.resident_weight_bytes();
        j["float_fallbacks"] = model_.float_fallbacks();
        return j;
    }

    /// `qslm eval MODEL [--data FILE] [--uniform-bits B ...] --json`, as a dict.
    json evaluate(qslm::search::LmDataOptions data, int uniform_bits, const std::string& granularity,
                  const std::string& rounding, unsigned threads) const {
        const auto t0 = std::chrono::steady_clock::now();
        const auto method = qslm::quant::parse_rounding_method(rounding);
        if (uniform_bits == 0 && method != qslm::quant::RoundingMethod::nearest)
            qslm::fail(qslm::Status::invalid_argument, "rounding '" + rounding +
                                                           "' rounds weights while quantizing them; say to how many bits "
                                                           "with uniform_bits=B (1-8)");
        // A stored .qslm is scored as it runs (packed); re-quantizing needs its float values.
        std::optional<qslm::models::SpikeGptModel> float_model;
        if (uniform_bits != 0) float_model.emplace(load(path_, qslm::models::WeightForm::float32));
        const auto& model = float_model ? *float_model : model_;
        const bool stored_qslm = qslm::io::is_qslm_file(path_);
        // Data-free text of a .qslm comes from the float model it was made from (sample_from), as
        // `qslm eval --sample-from`: sampled from itself, it would be judged on its own favourite
        // continuations (a lower, meaningless perplexity).
        std::optional<qslm::models::SpikeGptModel> sampler_model;
        if (data.data.empty()) {
            if (!data.sample_from.empty()) {
                sampler_model.emplace(load(data.sample_from, qslm::models::WeightForm::float32));
                if (sampler_model->vocab_size() != model.vocab_size())
                    qslm::fail(qslm::Status::invalid_argument,
                               "sample_from model has a vocabulary of " + std::to_string(sampler_model->vocab_size()) +
                                   ", the evaluated one " + std::to_string(model.vocab_size()));
            } else if (stored_qslm) {
                qslm::fail(qslm::Status::invalid_argument,
                           "data-free evaluation of a .qslm needs the float model it was quantized from, whose samples "
                           "are the text: pass sample_from='FLOAT_MODEL', or data='FILE'");
            }
        } else if (!data.sample_from.empty()) {
            qslm::fail(qslm::Status::invalid_argument, "sample_from is for data-free evaluation; data gives the text");
        }
        const auto d = qslm::search::make_lm_data(model, data, sampler_model ? &*sampler_model : nullptr);
        std::optional<qslm::quant::CalibrationSet> calibration;
        if (uniform_bits != 0 && qslm::quant::needs_calibration(method))
            calibration.emplace(qslm::quant::calibrate_spikegpt(model, d.calibration));
        std::size_t bytes = stored_qslm && uniform_bits == 0 ? stored_weight_bytes(path_) : float_bytes(model);
        std::vector<qslm::AnyPackedTensor> quantized;
        if (uniform_bits != 0) {
            const qslm::search::SpikeGptRounding rounder(model, method, calibration ? &*calibration : nullptr, {}, threads);
            bytes -= total_matrix_weights(model) * sizeof(float);
            quantized = qslm::search::quantize_uniform(model, uniform_bits, qslm::search::parse_granularity(granularity), rounder);
            for (const auto& t : quantized) bytes += t.bytes();
        }
        std::vector<const qslm::AnyPackedTensor*> ptrs;
        for (const auto& t : quantized) ptrs.push_back(&t);
        const auto inst = uniform_bits != 0 ? model.packed_instance(ptrs) : model.instance();
        qslm::search::SpikeGptEvaluator evaluator(d.full, {}, {.metric = qslm::eval::LmMetric::bits_per_char});
        const auto ev = evaluator.evaluate(inst, {.threads = resolve_threads(threads)});
        const double bpc = ev.performance.value;
        std::size_t tokens = 0;
        for (const auto& s : d.full) tokens += s.size() - 1;
        std::string arithmetic = "float32 weights and activations";
        if (model.holds_packed()) arithmetic = "low-bit GEMV with int8 activations (" + model.packed_isa() + ")";
        else if (uniform_bits != 0) arithmetic = "low-bit GEMV with int8 activations";
        json j = {{"model", path_},
                  {"data", d.description},
                  {"bits_per_char", bpc},
                  {"perplexity", std::exp2(bpc * d.bytes_per_word)},
                  {"perplexity_kind", "word-level: 2^(bits_per_char * bytes_per_word)"},
                  {"byte_perplexity", std::exp2(bpc)},
                  {"bytes_per_word", d.bytes_per_word},
                  {"tokens", tokens},
                  {"arithmetic", arithmetic},
                  {"bytes", bytes},
                  {"fp32_bytes", float_bytes(model)},
                  {"uniform_bits", uniform_bits == 0 ? json(nullptr) : json(uniform_bits)},
                  {"granularity", uniform_bits == 0 ? json(nullptr) : json(granularity)},
                  {"rounding", uniform_bits == 0 ? json(nullptr) : json(rounding)},
                  {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
        return j;
    }

private:
    std::string path_;
    qslm::models::SpikeGptModel model_;
};

// ---- SDT classifier ---------------------------------------------------------------------------

class PySdt {
public:
    explicit PySdt(std::string path) : path_(std::move(path)), model_((require_file(path_), qslm::models::SdtModel::load(path_))) {}

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] const qslm::models::SdtModel& model() const noexcept { return model_; }

    std::vector<std::uint32_t> ids_of(const py::object& input) const {
        if (py::isinstance<py::str>(input)) return model_.tokenizer().encode(input.cast<std::string>());
        return token_ids(input, model_.config().vocab_size, "tokens");
    }

    /// Class logits of one sentence (text or token ids): numpy float32 [n_classes].
    py::array_t<float> logits(const py::object& input) const {
        const auto ids = ids_of(input);
        std::vector<float> l;
        {
            py::gil_scoped_release nogil;
            l = model_.instance().logits(ids);
        }
        py::array_t<float> a(static_cast<py::ssize_t>(l.size()));
        std::memcpy(a.mutable_data(), l.data(), l.size() * sizeof(float));
        return a;
    }

    py::dict classify(const py::object& input) const {
        const auto ids = ids_of(input);
        std::vector<std::uint32_t> counts;
        qslm::models::Classification c;
        {
            py::gil_scoped_release nogil;
            c = model_.classify_tokens(ids);
            (void)model_.instance().logits(ids, &counts);
        }
        py::dict d;
        py::array_t<float> a(static_cast<py::ssize_t>(c.logits.size()));
        std::memcpy(a.mutable_data(), c.logits.data(), c.logits.size() * sizeof(float));
        d["logits"] = a;
        d["label"] = c.label;
        d["label_name"] = c.label_name;
        py::array_t<std::uint32_t> s(static_cast<py::ssize_t>(counts.size()));
        std::memcpy(s.mutable_data(), counts.data(), counts.size() * sizeof(std::uint32_t));
        d["spike_counts"] = s;
        return d;
    }

    json info() const {
        const auto& c = model_.config();
        json j;
        j["model"] = path_;
        j["type"] = "sdt";
        j["config"] = {{"n_layer", c.n_layer},       {"dim", c.dim},           {"vocab_size", c.vocab_size},
                       {"max_len", c.max_len},       {"mlp_hidden", c.mlp_hidden}, {"n_classes", c.n_classes},
                       {"time_steps", c.time_steps}};
        j["parameters"] = float_bytes(model_) / sizeof(float);
        j["searched_weights"] = total_matrix_weights(model_);
        j["fp32_bytes"] = float_bytes(model_);
        j["matrices"] = matrices_json(model_.matrices());
        j["packed"] = false;
        j["weights"] = "float32 (a .qslm is dequantized at load)";
        j["isa"] = std::string(qslm::kernels::to_string(qslm::kernels::best_isa()));
        return j;
    }

    /// `qslm eval MODEL --data FILE.tsv [--uniform-bits B ...] --json`, as a dict.
    json evaluate(const std::string& data, int uniform_bits, const std::string& granularity, const std::string& rounding,
                  unsigned threads) const {
        const auto t0 = std::chrono::steady_clock::now();
        if (data.empty())
            qslm::fail(qslm::Status::invalid_argument,
                       "a classifier is scored on labelled sentences: pass data='FILE.tsv' (a header row, then "
                       "label<TAB>sentence per line, as SST-2's dev.tsv)");
        if (uniform_bits != 0 && qslm::quant::parse_rounding_method(rounding) != qslm::quant::RoundingMethod::nearest)
            qslm::fail(qslm::Status::invalid_argument, "rounding '" + rounding +
                                                           "' needs per-layer input statistics, which are only gathered "
                                                           "for SpikeGPT; a classifier is rounded to nearest");
        (void)model_.tokenizer();
        const auto full = qslm::eval::read_sst2_tsv(data, static_cast<int>(model_.config().n_classes));
        const bool stored_qslm = qslm::io::is_qslm_file(path_);
        std::size_t bytes = stored_qslm && uniform_bits == 0 ? stored_weight_bytes(path_) : float_bytes(model_);
        std::vector<std::vector<float>> quantized;
        std::vector<std::span<const float>> replacements;
        if (uniform_bits != 0) {
            bytes -= total_matrix_weights(model_) * sizeof(float);
            const auto tensors = qslm::search::quantize_uniform(model_, uniform_bits, qslm::search::parse_granularity(granularity));
            for (const auto& t : tensors) {
                bytes += t.bytes();
                quantized.push_back(t.dequantize());
            }
            for (const auto& q : quantized) replacements.emplace_back(q);
        }
        const auto inst = model_.instance(replacements);
        const auto evaluator = qslm::search::make_sdt_evaluator(model_, full);
        const auto ev = evaluator.evaluate(inst, {.threads = resolve_threads(threads)});
        json j = {{"model", path_},
                  {"type", "sdt"},
                  {"data", data + " (" + std::to_string(full.size()) + " sentences)"},
                  {"examples", full.size()},
                  {"accuracy", ev.performance.value},
                  {"bytes", bytes},
                  {"fp32_bytes", float_bytes(model_)},
                  {"uniform_bits", uniform_bits == 0 ? json(nullptr) : json(uniform_bits)},
                  {"granularity", uniform_bits == 0 ? json(nullptr) : json(granularity)},
                  {"rounding", uniform_bits == 0 ? json(nullptr) : json(rounding)},
                  {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
        return j;
    }

private:
    std::string path_;
    qslm::models::SdtModel model_;
};

// ---- quantize ---------------------------------------------------------------------------------

/// `qslm quantize MODEL --bits B --granularity G --rounding R -o OUT --json`, as a dict.
json quantize(const std::string& path, int bits, const std::string& granularity, const std::string& rounding,
              const std::string& out, const qslm::search::LmDataOptions& data, unsigned threads) {
    const auto t0 = std::chrono::steady_clock::now();
    if (out.empty()) qslm::fail(qslm::Status::invalid_argument, "quantize needs out='FILE.qslm'");
    const qslm::QuantSpec spec = qslm::search::parse_granularity(granularity);
    const auto method = qslm::quant::parse_rounding_method(rounding);
    require_file(path);
    std::size_t fp32 = 0, packed_bytes = 0, searched = 0;
    qslm::io::QslmModel q;
    auto to_qslm = [&](const auto& model, const std::vector<qslm::AnyPackedTensor>& tensors) {
        std::vector<const qslm::AnyPackedTensor*> ptrs;
        for (const auto& t : tensors) {
            ptrs.push_back(&t);
            packed_bytes += t.bytes();
        }
        fp32 = float_bytes(model);
        searched = total_matrix_weights(model);
        return model.to_qslm(ptrs);
    };
    if (qslm::io::detect_model_kind(path) == qslm::io::ModelKind::sdt) {
        if (method != qslm::quant::RoundingMethod::nearest)
            qslm::fail(qslm::Status::invalid_argument, "rounding '" + rounding +
                                                           "' needs per-layer input statistics, which the classifier "
                                                           "does not gather yet; use rounding='nearest' for it");
        const auto model = qslm::models::SdtModel::load(path);
        q = to_qslm(model, qslm::search::quantize_uniform(model, bits, spec));
    } else {
        const auto model = PySpikeGpt::load(path, qslm::models::WeightForm::float32);
        std::optional<qslm::quant::CalibrationSet> calibration;
        if (qslm::quant::needs_calibration(method))
            calibration.emplace(qslm::quant::calibrate_spikegpt(model, qslm::search::make_lm_data(model, data).calibration));
        const qslm::search::SpikeGptRounding rounder(model, method, calibration ? &*calibration : nullptr, {}, threads);
        q = to_qslm(model, qslm::search::quantize_uniform(model, bits, spec, rounder));
    }
    qslm::io::save_qslm(out, q);
    return {{"model", path},
            {"out", out},
            {"bits", bits},
            {"granularity", granularity},
            {"rounding", rounding},
            {"weight_matrix_bytes", packed_bytes},
            {"bits_per_weight", 8.0 * static_cast<double>(packed_bytes) / static_cast<double>(searched)},
            {"file_bytes", static_cast<std::size_t>(fs::file_size(out))},
            {"fp32_bytes", fp32},
            {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
}

// ---- spike kernels ----------------------------------------------------------------------------

/// Integer weight levels packed for the spike kernels (per-tensor scale 1, so the result of a
/// matvec is exactly the sum of the levels of the inputs that fired).
class PySpikeMatrix {
public:
    PySpikeMatrix(const py::array& levels, int bits) {
        if (bits < 1 || bits > 8) qslm::fail(qslm::Status::invalid_argument, "bits must be 1..8, got " + std::to_string(bits));
        const char kind = levels.dtype().kind();
        if (kind != 'i' && kind != 'u')
            qslm::fail(qslm::Status::invalid_argument,
                       "weights must be integer levels, not dtype " + std::string(py::str(levels.dtype())));
        if (levels.ndim() != 2)
            qslm::fail(qslm::Status::bad_shape, "weights must be a 2-D array [rows, cols], got " +
                                                    std::to_string(levels.ndim()) + " dimensions");
        const auto a = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(levels);
        const auto rows = static_cast<std::size_t>(a.shape(0)), cols = static_cast<std::size_t>(a.shape(1));
        std::vector<std::int16_t> lv(rows * cols);
        const std::int64_t* p = a.data();
        for (std::size_t i = 0; i < lv.size(); ++i) {
            if (p[i] < -32768 || p[i] > 32767)
                qslm::fail(qslm::Status::out_of_range, "weight level " + std::to_string(p[i]) + " is outside the " +
                                                           std::to_string(bits) + "-bit range");
            lv[i] = static_cast<std::int16_t>(p[i]);
        }
        const float one = 1.0f;
        [&]<int... B>(std::integer_sequence<int, B...>) {
            (void)((bits == B + 1 ? (prepare<B + 1>(lv, rows, cols, one), true) : false) || ...);
        }(std::make_integer_sequence<int, 8>{});
    }

    [[nodiscard]] std::size_t rows() const noexcept { return mv_.rows(); }
    [[nodiscard]] std::size_t cols() const noexcept { return mv_.cols(); }
    [[nodiscard]] int bits() const noexcept { return bits_; }
    [[nodiscard]] std::size_t words() const noexcept { return (cols() + 63) / 64; }

    /// One step per `words()` words; out: [rows] for one vector (steps == 0), else [steps, rows];
    /// written into `out_obj` when it is an int32 array of that shape (no allocation per call).
    py::array_t<std::int32_t> matvec_words(std::span<const std::uint64_t> w, std::size_t steps, qslm::kernels::RunOptions opt,
                                           const py::object& out_obj) const {
        const std::size_t T = steps == 0 ? 1 : steps, R = mv_.output_size();
        py::array_t<std::int32_t> out;
        if (!out_obj.is_none()) {
            if (!py::isinstance<py::array_t<std::int32_t>>(out_obj))
                qslm::fail(qslm::Status::invalid_argument, "out must be a numpy int32 array");
            out = out_obj.cast<py::array_t<std::int32_t>>();
            const bool shape_ok = steps == 0 ? out.ndim() == 1 && static_cast<std::size_t>(out.shape(0)) == R
                                             : out.ndim() == 2 && static_cast<std::size_t>(out.shape(0)) == T &&
                                                   static_cast<std::size_t>(out.shape(1)) == R;
            if (!shape_ok || !(out.flags() & py::array::c_style) || !out.writeable())
                qslm::fail(qslm::Status::bad_shape, "out must be a writeable C-contiguous int32 array of shape " +
                                                        (steps == 0 ? "[" : "[" + std::to_string(T) + ", ") + std::to_string(R) + "]");
        } else if (steps == 0) {
            out = py::array_t<std::int32_t>(static_cast<py::ssize_t>(R));
        } else {
            out = py::array_t<std::int32_t>({static_cast<py::ssize_t>(T), static_cast<py::ssize_t>(R)});
        }
        std::int32_t* o = out.mutable_data();
        const std::size_t W = words();
        for (std::size_t t = 0; t < T; ++t)
            qslm::value_or_throw(mv_.accumulate(w.subspan(t * W, W), std::span<std::int32_t>(o + t * R, R), opt), "spike_matvec");
        return out;
    }

    py::array_t<std::int32_t> matvec(const py::array& spikes, const std::string& kernel, const py::object& out) const {
        std::size_t steps = 0;
        const auto w = pack_words(spikes, cols(), steps);
        return matvec_words(w, steps, options(kernel), out);
    }

    /// Spikes already packed into words (pack_spikes): no conversion on the call path.
    py::array_t<std::int32_t> matvec_packed(const py::array& words_in, const std::string& kernel, const py::object& out) const {
        if (words_in.dtype().kind() != 'u' || words_in.itemsize() != 8)
            qslm::fail(qslm::Status::invalid_argument,
                       "packed spikes must be uint64 words (pack_spikes), not dtype " + std::string(py::str(words_in.dtype())));
        const bool two_d = words_in.ndim() == 2;
        if ((words_in.ndim() != 1 && !two_d) || static_cast<std::size_t>(words_in.shape(words_in.ndim() - 1)) != words())
            qslm::fail(qslm::Status::bad_shape, "packed spikes must be [" + std::to_string(words()) + "] or [steps, " +
                                                    std::to_string(words()) + "] uint64 words");
        const std::size_t steps = two_d ? static_cast<std::size_t>(words_in.shape(0)) : 0;
        const auto w = py::array_t<std::uint64_t, py::array::c_style>::ensure(words_in);
        return matvec_words({w.data(), (steps == 0 ? 1 : steps) * words()}, steps, options(kernel), out);
    }

    /// Seconds per call of the same work done by matvec(spikes) (every step), timed in C++
    /// around the kernel calls alone: what the Python overhead is measured against.
    double time_matvec(const py::array& spikes, std::size_t repeats, const std::string& kernel) const {
        std::size_t steps = 0;
        const auto w = pack_words(spikes, cols(), steps);
        const auto opt = options(kernel);
        const std::size_t T = steps == 0 ? 1 : steps, R = mv_.output_size(), W = words();
        std::vector<std::int32_t> out(T * R);
        py::gil_scoped_release nogil;
        auto once = [&] {
            for (std::size_t t = 0; t < T; ++t)
                qslm::value_or_throw(mv_.accumulate(std::span<const std::uint64_t>(w).subspan(t * W, W),
                                                    std::span<std::int32_t>(out).subspan(t * R, R), opt),
                                     "spike_matvec");
        };
        once();
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < repeats; ++i) once();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
               static_cast<double>(std::max<std::size_t>(1, repeats));
    }

    static qslm::kernels::RunOptions options(const std::string& kernel) {
        using qslm::kernels::Kernel;
        qslm::kernels::RunOptions opt;
        if (kernel == "auto" || kernel == "automatic") return opt;
        for (const Kernel k : {Kernel::dense, Kernel::event, Kernel::bitplane, Kernel::temporal, Kernel::dual_sparse})
            if (kernel == qslm::kernels::to_string(k)) {
                opt.kernel = k;
                return opt;
            }
        qslm::fail(qslm::Status::invalid_argument, "unknown kernel '" + kernel + "' (auto, dense, event, bitplane)");
    }

private:
    template <int B>
    void prepare(const std::vector<std::int16_t>& lv, std::size_t rows, std::size_t cols, const float& one) {
        const auto t = qslm::value_or_throw(
            qslm::PackedTensor<B>::from_levels(lv, rows, cols, qslm::ScaleLayout::per_tensor(), std::span<const float>(&one, 1)),
            "weights");
        mv_ = qslm::value_or_throw(qslm::kernels::SpikeMatvec::prepare(t.view()), "preparing the spike kernels");
        bits_ = B;
    }

    qslm::kernels::SpikeMatvec mv_;
    int bits_ = 0;
};

qslm::search::LmDataOptions lm_data(const py::object& data, std::size_t eval_tokens, std::size_t seq_len,
                                    std::size_t calibration_seqs, std::uint64_t seed) {
    qslm::search::LmDataOptions o;
    if (!data.is_none()) {
        o.data = path_of(data);
        if (!fs::is_regular_file(o.data)) qslm::fail(qslm::Status::not_found, "data file '" + o.data + "' does not exist");
    }
    if (seq_len < 2) qslm::fail(qslm::Status::invalid_argument, "seq_len must be at least 2");
    if (calibration_seqs < 1) qslm::fail(qslm::Status::invalid_argument, "calibration_seqs must be at least 1");
    o.eval_tokens = eval_tokens;
    o.length = seq_len;
    o.calibration = calibration_seqs;
    o.seed = seed;
    return o;
}

void check_bits(int bits, bool allow_zero) {
    if (!((allow_zero && bits == 0) || (bits >= 1 && bits <= 8)))
        qslm::fail(qslm::Status::invalid_argument, "bits must be 1..8, got " + std::to_string(bits));
}

}  // namespace

PYBIND11_MODULE(qslm, m) {
    m.doc() = "qslm: quantized spike-driven language models (SpikeGPT, spike-driven transformer) in fixed point";
    static py::exception<qslm::Error> error(m, "Error", PyExc_RuntimeError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const qslm::Error& e) {
            error(e.what());
        }
    });

    m.def("isa", [] { return std::string(qslm::kernels::to_string(qslm::kernels::best_isa())); },
          "The instruction set the spike kernels run on this CPU (e.g. 'avx512bw', 'avx2', 'scalar').");
    m.def("gemv_isa", [] { return std::string(qslm::kernels::to_string(qslm::kernels::best_gemv_isa())); },
          "The instruction set the low-bit GEMV (packed SpikeGPT weights) runs on this CPU.");

    py::class_<PySpikeGpt>(m, "SpikeGPT", "A SpikeGPT language model (safetensors or .qslm; a .qslm runs packed).")
        .def_property_readonly("path", &PySpikeGpt::path)
        .def_property_readonly("vocab_size", [](const PySpikeGpt& s) { return s.model().vocab_size(); })
        .def("logits", &PySpikeGpt::logits, py::arg("tokens"),
             "Logits of each step from a fresh state: numpy float32 [len(tokens), vocab]; row t predicts token t+1.")
        .def("run", &PySpikeGpt::run, py::arg("tokens"),
             "logits plus the run's operation counts (spikes, synaptic accumulates, ...) as a dict.")
        .def(
            "generate",
            [](const PySpikeGpt& s, const std::string& prompt, std::size_t n, float temperature, float top_p,
               std::uint64_t seed) { return py::bytes(s.generate(prompt, n, temperature, top_p, seed)); },
            py::arg("prompt") = "\n", py::arg("n") = 100, py::arg("temperature") = 0.8f,
             py::arg("top_p") = 0.9f, py::arg("seed") = 1, "n bytes (Python bytes) sampled after prompt (byte-level models); temperature 0 is greedy.")
        .def("info", [](const PySpikeGpt& s) { return to_python(s.info()); }, "Shape, parameters, packed or float, ISA.")
        .def("stats", [](const PySpikeGpt& s) { return to_python(s.info()); }, "Same as info().")
        .def(
            "evaluate",
            [](const PySpikeGpt& s, const py::object& data, std::size_t eval_tokens, std::size_t seq_len,
               std::size_t calibration_seqs, std::uint64_t seed, int uniform_bits, const std::string& granularity,
               const std::string& rounding, unsigned threads, const py::object& sample_from) {
                check_bits(uniform_bits, true);
                auto o = lm_data(data, eval_tokens, seq_len, calibration_seqs, seed);
                if (!sample_from.is_none()) o.sample_from = path_of(sample_from);
                json j;
                {
                    py::gil_scoped_release nogil;
                    j = s.evaluate(o, uniform_bits, granularity, rounding, threads);
                }
                return to_python(j);
            },
            py::arg("data") = py::none(), py::arg("eval_tokens") = 16384, py::arg("seq_len") = 256,
            py::arg("calibration_seqs") = 8, py::arg("seed") = 1, py::arg("uniform_bits") = 0,
            py::arg("granularity") = "channel", py::arg("rounding") = "nearest", py::arg("threads") = 0,
            py::arg("sample_from") = py::none(),
            "`qslm eval MODEL --json` as a dict: bits_per_char, perplexity, ... on a text file (data=path) or on "
            "text sampled from the float model (data=None; for a .qslm, sample_from= names the float model it came from).");

    py::class_<PySdt>(m, "SDT", "A spike-driven transformer classifier (safetensors or .qslm).")
        .def_property_readonly("path", &PySdt::path)
        .def("logits", &PySdt::logits, py::arg("sentence"), "Class logits (numpy float32) of a sentence (text or token ids).")
        .def("classify", &PySdt::classify, py::arg("sentence"), "logits, label, label_name and the encoder's spike counts.")
        .def("info", [](const PySdt& s) { return to_python(s.info()); })
        .def("stats", [](const PySdt& s) { return to_python(s.info()); })
        .def(
            "evaluate",
            [](const PySdt& s, const py::object& data, int uniform_bits, const std::string& granularity,
               const std::string& rounding, unsigned threads) {
                check_bits(uniform_bits, true);
                const std::string path = data.is_none() ? std::string() : path_of(data);
                json j;
                {
                    py::gil_scoped_release nogil;
                    j = s.evaluate(path, uniform_bits, granularity, rounding, threads);
                }
                return to_python(j);
            },
            py::arg("data") = py::none(), py::arg("uniform_bits") = 0, py::arg("granularity") = "channel",
            py::arg("rounding") = "nearest", py::arg("threads") = 0,
            "`qslm eval MODEL --data FILE.tsv --json` as a dict (accuracy, ...).");

    m.def(
        "load",
        [](const py::object& path) -> py::object {
            const std::string p = path_of(path);
            require_file(p);
            if (qslm::io::detect_model_kind(p) == qslm::io::ModelKind::sdt) return py::cast(PySdt(p));
            return py::cast(PySpikeGpt(p));
        },
        py::arg("path"), "Loads a SpikeGPT (-> SpikeGPT) or a spike-driven transformer classifier (-> SDT).");

    m.def(
        "quantize",
        [](const py::object& model, int bits, const std::string& granularity, const std::string& rounding,
           const py::object& out, const py::object& data, std::size_t seq_len, std::size_t calibration_seqs,
           std::uint64_t seed, unsigned threads) {
            check_bits(bits, false);
            std::string path;
            if (py::isinstance<PySpikeGpt>(model)) path = model.cast<const PySpikeGpt&>().path();
            else if (py::isinstance<PySdt>(model)) path = model.cast<const PySdt&>().path();
            else path = path_of(model);
            if (out.is_none()) qslm::fail(qslm::Status::invalid_argument, "quantize needs out='FILE.qslm'");
            const std::string o = path_of(out);
            const auto d = lm_data(data, 16384, seq_len, calibration_seqs, seed);
            json j;
            {
                py::gil_scoped_release nogil;
                j = quantize(path, bits, granularity, rounding, o, d, threads);
            }
            return to_python(j);
        },
        py::arg("model"), py::arg("bits") = 4, py::arg("granularity") = "channel", py::arg("rounding") = "nearest",
        py::arg("out") = py::none(), py::arg("data") = py::none(), py::arg("seq_len") = 256, py::arg("calibration_seqs") = 8,
        py::arg("seed") = 1, py::arg("threads") = 0,
        "`qslm quantize MODEL --bits B --granularity G --rounding R -o OUT --json`: writes OUT (.qslm), returns the summary.");

    py::class_<PySpikeMatrix>(m, "SpikeMatrix", "Integer weight levels prepared for the spike kernels.")
        .def(py::init<const py::array&, int>(), py::arg("weights"), py::arg("bits"))
        .def_property_readonly("rows", &PySpikeMatrix::rows)
        .def_property_readonly("cols", &PySpikeMatrix::cols)
        .def_property_readonly("bits", &PySpikeMatrix::bits)
        .def("matvec", &PySpikeMatrix::matvec, py::arg("spikes"), py::arg("kernel") = "auto", py::arg("out") = py::none(),
             "weights @ spikes: spikes bool or integer 0/1, [cols] -> int32 [rows], or T steps [T, cols] -> [T, rows]; "
             "out: an int32 array of that shape to write into.")
        .def("matvec_packed", &PySpikeMatrix::matvec_packed, py::arg("words"), py::arg("kernel") = "auto",
             py::arg("out") = py::none(), "matvec on spikes packed by pack_spikes (uint64 [W] or [T, W], W = ceil(cols/64)).")
        .def("time_matvec", &PySpikeMatrix::time_matvec, py::arg("spikes"), py::arg("repeats") = 1000,
             py::arg("kernel") = "auto", "Seconds per call of the C++ kernel alone, timed in C++.");

    m.def(
        "pack_spikes",
        [](const py::array& spikes) {
            if ((spikes.ndim() != 1 && spikes.ndim() != 2) || spikes.size() == 0)
                qslm::fail(qslm::Status::bad_shape, "spikes must be a non-empty [n] or [steps, n] array");
            std::size_t steps = 0;
            const auto n = static_cast<std::size_t>(spikes.shape(spikes.ndim() - 1));
            const auto w = pack_words(spikes, n, steps);
            if (steps != 0) {
                py::array_t<std::uint64_t> a({static_cast<py::ssize_t>(steps), static_cast<py::ssize_t>((n + 63) / 64)});
                std::memcpy(a.mutable_data(), w.data(), w.size() * sizeof(std::uint64_t));
                return a;
            }
            py::array_t<std::uint64_t> a(static_cast<py::ssize_t>(w.size()));
            std::memcpy(a.mutable_data(), w.data(), w.size() * sizeof(std::uint64_t));
            return a;
        },
        py::arg("spikes"), "Packs bool/0-1 spikes [n] or [T, n] into 64-bit words (bit c of word c/64 = input c).");

    m.def(
        "spike_matvec",
        [](const py::array& weights, const py::array& spikes, int bits, const std::string& kernel) {
            return PySpikeMatrix(weights, bits).matvec(spikes, kernel, py::none());
        },
        py::arg("weights"), py::arg("spikes"), py::arg("bits") = 4, py::arg("kernel") = "auto",
        "weights (integer levels [rows, cols] in the signed bits-bit range; 1 bit: -1/+1) @ spikes (bool [cols]) on the "
        "spike kernels: int32 [rows]. Prepare a SpikeMatrix once to call it repeatedly.");
}
