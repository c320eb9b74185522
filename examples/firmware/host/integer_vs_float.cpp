// integer_vs_float: how far the integer-only SpikeGPT (what the firmware runs) is from the float
// model running the same dequantized weights, on real text: bits per byte of both, how often
// their argmax agrees, the largest logit difference, and how often every block's spike count
// agrees. One stream, recurrent state carried over the whole slice (no resets); the bytes are
// taken from the start of the file as they are (WikiText-2's test.txt starts with a UTF-8 BOM).
// Word-level perplexity = 2^(bits per byte x bytes per word), words as qslm::eval::count_words
// counts them (the convention of docs/results.md).
//
//   integer_vs_float --model models/spikegpt.safetensors --bits 4
//                    --data ../shared/data/wikitext-2/test.txt --bytes 16384 [--float32]
//
// A .safetensors checkpoint is quantized as make_model_header does (uniform width, per-channel
// round-to-nearest, the embedding as its 1-bit sign code); a .qslm model is used as is.
// --float32 also scores the unquantized checkpoint, to put the integer path's change next to
// the quantization's. Host-only (double-precision log-softmax for the score).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "qslm/eval/text_data.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/integer/prepare_spikegpt.hpp"
#include "qslm/io/spikegpt_model.hpp"

namespace {

qslm::io::QslmModel quantize_uniform(const qslm::models::SpikeGptModel& model, int bits) {
    std::vector<qslm::AnyPackedTensor> packed;
    packed.reserve(model.matrices().size());
    std::vector<const qslm::AnyPackedTensor*> ptrs;
    for (std::size_t m = 0; m < model.matrices().size(); ++m) {
        const auto& info = model.matrices()[m];
        const bool emb = std::string(info.kind) == "embedding";
        const qslm::QuantSpec spec{emb ? qslm::ScaleLayout::per_tensor() : qslm::ScaleLayout::per_channel()};
        packed.push_back(qslm::value_or_throw(
            qslm::AnyPackedTensor::quantize(emb ? 1 : bits, model.matrix_weights(m), info.rows, info.cols, spec),
            "quantizing '" + info.name + "'"));
        ptrs.push_back(&packed.back());
    }
    return model.to_qslm(ptrs);
}

bool is_qslm(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) qslm::fail(qslm::Status::io_error, "cannot open " + path);
    char magic[8] = {};
    in.read(magic, 8);
    return in.gcount() == 8 && std::equal(magic, magic + 8, reinterpret_cast<const char*>(qslm::io::qslm_magic));
}

/// -log2 softmax(logits * scale)[target].
template <class T>
double bits_of(const T* logits, std::size_t n, std::uint32_t target, double scale) {
    double mx = -1e300;
    for (std::size_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(logits[i]) * scale);
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) * scale - mx);
    return (std::log(sum) + mx - static_cast<double>(logits[target]) * scale) / std::log(2.0);
}

/// Runs a float model over the tokens; calls f(t, logits, block spike counts) after each step.
template <class F>
void run_float(const qslm::models::SpikeGptModel& m, const std::vector<std::uint32_t>& tokens, F&& f) {
    const auto inst = m.instance();
    const auto& ref = inst.model();
    std::vector<float> state(ref.state_floats(1)), scratch(ref.scratch_floats(1)), logits(ref.vocab_size());
    std::vector<std::uint64_t> spikes(ref.n_layer());
    if (ref.reset(state, 1) != qslm::Status::ok) qslm::fail(qslm::Status::invalid_argument, "float model reset failed");
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        std::fill(spikes.begin(), spikes.end(), 0);
        if (ref.step({&tokens[t], 1}, state, scratch, logits, nullptr, spikes) != qslm::Status::ok)
            qslm::fail(qslm::Status::invalid_argument, "float model step failed");
        f(t, logits, spikes);
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Compare the integer-only SpikeGPT with the float model on the same quantized weights"};
    std::string model_path, data_path;
    int bits = 4;
    std::size_t max_bytes = 16384;
    bool float32 = false;
    app.add_option("--model", model_path, "SpikeGPT .safetensors checkpoint or .qslm model")->required()->check(CLI::ExistingFile);
    app.add_option("--bits", bits, "weight width for a .safetensors input (1..8)")->check(CLI::Range(1, 8));
    app.add_option("--data", data_path, "text file (bytes are tokens)")->required()->check(CLI::ExistingFile);
    app.add_option("--bytes", max_bytes, "bytes of the file to use, from its start")->check(CLI::Range(2, 1 << 26));
    app.add_flag("--float32", float32, "also score the unquantized checkpoint (.safetensors input only)");
    CLI11_PARSE(app, argc, argv);
    try {
        const auto t0 = std::chrono::steady_clock::now();
        std::ifstream in(data_path, std::ios::binary);
        std::vector<std::uint32_t> tokens;
        for (std::istreambuf_iterator<char> it(in), end; it != end && tokens.size() < max_bytes; ++it)
            tokens.push_back(static_cast<unsigned char>(*it));
        if (tokens.size() < 2) qslm::fail(qslm::Status::invalid_argument, data_path + " holds fewer than 2 bytes");

        const bool qslm_input = is_qslm(model_path);
        std::optional<qslm::models::SpikeGptModel> original;
        if (!qslm_input) original.emplace(qslm::models::SpikeGptModel::load(model_path));
        const auto prepared = qslm::models::integer::PreparedIntegerSpikeGpt::prepare(
            qslm_input ? qslm::io::load_qslm(model_path) : quantize_uniform(*original, bits));
        const auto dequantized = qslm::models::SpikeGptModel::from_qslm(prepared->qslm(), {.weights = qslm::models::WeightForm::float32});
        const auto model = prepared->model();
        const std::size_t V = model.dims().vocab_size, L = model.dims().n_layer;
        if (std::any_of(tokens.begin(), tokens.end(), [&](std::uint32_t t) { return t >= V; }))
            qslm::fail(qslm::Status::out_of_range, "a byte of the data is outside the model's vocabulary");

        // Float (dequantized) and integer paths in lock step.
        std::vector<std::byte> arena(model.arena_bytes());
        if (model.reset(arena) != qslm::Status::ok) qslm::fail(qslm::Status::invalid_argument, "integer model reset failed");
        std::vector<std::uint32_t> att(L), ffn(L);
        double float_bits = 0.0, integer_bits = 0.0, worst = 0.0, sum_abs = 0.0;
        std::size_t same_argmax = 0, same_spikes = 0;
        run_float(dequantized, tokens, [&](std::size_t t, const std::vector<float>& ref, const std::vector<std::uint64_t>& ref_spikes) {
            qslm::models::IntegerStepSpikes spikes{0, att, ffn};
            if (model.step(tokens[t], arena, &spikes) != qslm::Status::ok)
                qslm::fail(qslm::Status::invalid_argument, "integer model step failed");
            const auto logits = model.logits(arena);
            double step_worst = 0.0;
            for (std::size_t v = 0; v < V; ++v) {
                const double d = std::fabs(static_cast<double>(ref[v]) - logits[v] / 65536.0);
                step_worst = std::max(step_worst, d);
                sum_abs += d;
            }
            worst = std::max(worst, step_worst);
            same_argmax += std::max_element(ref.begin(), ref.end()) - ref.begin() ==
                                   std::max_element(logits.begin(), logits.end()) - logits.begin()
                               ? 1u
                               : 0u;
            bool equal = true;
            for (std::size_t i = 0; i < L; ++i) equal = equal && ref_spikes[i] == att[i] + ffn[i];
            same_spikes += equal ? 1u : 0u;
            if (t + 1 < tokens.size()) {
                float_bits += bits_of(ref.data(), V, tokens[t + 1], 1.0);
                integer_bits += bits_of(logits.data(), V, tokens[t + 1], 1.0 / 65536.0);
            }
        });
        const double n = static_cast<double>(tokens.size() - 1);
        std::printf("data: %s, first %zu bytes (%zu predicted)\n", data_path.c_str(), tokens.size(), tokens.size() - 1);
        std::printf("model: %s%s\n", model_path.c_str(), qslm_input ? "" : (", " + std::to_string(bits) + "-bit per-channel round-to-nearest").c_str());
        std::printf("float, dequantized weights: %.5f bits per byte\n", float_bits / n);
        std::printf("integer-only:               %.5f bits per byte (change %+.5f)\n", integer_bits / n, (integer_bits - float_bits) / n);
        std::string text;
        for (const std::uint32_t t : tokens) text.push_back(static_cast<char>(t));
        const std::size_t words = qslm::eval::count_words(text);
        const double bytes_per_word = words == 0 ? 1.0 : static_cast<double>(text.size()) / static_cast<double>(words);
        std::printf("word-level perplexity 2^(bits per byte x %.4f bytes per word): float %.1f, integer %.1f (%+.2f %%)\n",
                    bytes_per_word, std::exp2(float_bits / n * bytes_per_word), std::exp2(integer_bits / n * bytes_per_word),
                    100.0 * (std::exp2((integer_bits - float_bits) / n * bytes_per_word) - 1.0));
        std::printf("argmax equal on %zu / %zu steps; every block's spike count equal on %zu / %zu steps\n", same_argmax,
                    tokens.size(), same_spikes, tokens.size());
        std::printf("logit difference: max %.3g, mean %.3g\n", worst, sum_abs / (static_cast<double>(tokens.size()) * static_cast<double>(V)));
        if (float32 && original) {
            double bits32 = 0.0;
            run_float(*original, tokens, [&](std::size_t t, const std::vector<float>& ref, const std::vector<std::uint64_t>&) {
                if (t + 1 < tokens.size()) bits32 += bits_of(ref.data(), V, tokens[t + 1], 1.0);
            });
            std::printf("float32 checkpoint (unquantized): %.5f bits per byte\n", bits32 / n);
        }
        std::printf("%.1f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "integer_vs_float: %s\n", e.what());
        return 1;
    }
    return 0;
}
