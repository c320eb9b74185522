// bench_spikegpt: generation speed of the bundled SpikeGPT language model as a user runs it, the
// float32 model and the same model with every weight matrix packed at each width, side by side
// in one run. The packed models run the low-bit GEMV with int8 activations (what a .qslm from
// `qslm quantize --bits B` runs); the binary embedding is its 1-bit sign code in both.
//
//   spikegpt_generate/float32             float32 weights, the dense GEMV (run-time dispatch)
//   spikegpt_generate/packed/<bits>       bits in {8, 6, 5, 4, 3, 2}: per-channel scales,
//                                         round to nearest (as `qslm quantize --bits <bits>`)
//
// One stream, greedy decoding from byte 'T' (the work per token does not depend on the text,
// apart from the spike counts). Counters: tokens_per_second, param_tokens_per_second (matrix
// parameters x tokens/s, the figure the T-MAC/bitnet.cpp papers quote), weight_bytes (the
// matrices' codes and scales as a .qslm stores them; float32: 4 bytes a weight).
//
//   bench_spikegpt --benchmark_min_time=1 --benchmark_out=spikegpt.json --benchmark_out_format=json
//   QSLM_BENCH_MODEL=path/to/model.safetensors bench_spikegpt   (default: models/spikegpt-wiki)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <qslm/kernels.hpp>
#include <qslm/io/spikegpt_model.hpp>
#include <qslm/tensor/any_packed_tensor.hpp>

namespace {

using qslm::models::SpikeGptModel;

const SpikeGptModel& float_model() {
    static const SpikeGptModel model = [] {
        const char* env = std::getenv("QSLM_BENCH_MODEL");
        const std::filesystem::path path =
            env != nullptr ? std::filesystem::path(env) : std::filesystem::path(QSLM_SOURCE_DIR) / "models" / "spikegpt-wiki.safetensors";
        return SpikeGptModel::load(path, {.weights = qslm::models::WeightForm::float32});
    }();
    return model;
}

/// Every matrix at `bits` (per-channel, nearest); the binary embedding as its lossless sign code.
std::vector<qslm::AnyPackedTensor> quantize_all(const SpikeGptModel& model, int bits) {
    std::vector<qslm::AnyPackedTensor> out;
    for (std::size_t m = 0; m < model.matrices().size(); ++m) {
        const auto& info = model.matrices()[m];
        const bool sign_code = m == 0 && model.options().binary_embedding;
        const qslm::QuantSpec spec{sign_code ? qslm::ScaleLayout::per_tensor() : qslm::ScaleLayout::per_channel()};
        out.push_back(qslm::value_or_throw(
            qslm::AnyPackedTensor::quantize(sign_code ? 1 : bits, model.matrix_weights(m), info.rows, info.cols, spec), info.name));
    }
    return out;
}

std::size_t matrix_parameters(const SpikeGptModel& model) {
    std::size_t n = 0;
    for (const auto& info : model.matrices()) n += info.rows * info.cols;
    return n;
}

void generate(benchmark::State& st, int bits) {
    const SpikeGptModel& owner = float_model();
    std::vector<qslm::AnyPackedTensor> packed;
    std::vector<const qslm::AnyPackedTensor*> ptrs;
    std::size_t weight_bytes = 0;
    if (bits != 0) {
        packed = quantize_all(owner, bits);
        for (const auto& t : packed) ptrs.push_back(&t);
    }
    const auto inst = bits != 0 ? owner.packed_instance(ptrs) : owner.instance();
    if (bits != 0) {
        for (const auto& t : packed) weight_bytes += t.bytes();
        st.SetLabel(std::string("low-bit GEMV, int8 activations, ") + qslm::kernels::to_string(qslm::kernels::best_gemv_isa()));
    } else {
        for (const auto& info : owner.matrices()) weight_bytes += info.rows * info.cols * sizeof(float);
        st.SetLabel(std::string("float32 GEMV, ") + qslm::kernels::to_string(qslm::kernels::best_isa()));
    }
    const auto& model = inst.model();
    std::vector<float> state(model.state_floats()), scratch(model.scratch_floats()), logits(model.vocab_size());
    qslm::models::SpikeGptStream stream(model, state, scratch, logits);
    if (stream.reset() != qslm::Status::ok) {
        st.SkipWithError("cannot reset the model");
        return;
    }
    std::uint32_t tok = 'T';
    for (auto _ : st) {
        const auto next = qslm::value_or_throw(stream.step(tok), "SpikeGPT step");
        tok = static_cast<std::uint32_t>(std::max_element(next.begin(), next.end()) - next.begin());
        benchmark::DoNotOptimize(tok);
    }
    const double params = static_cast<double>(matrix_parameters(owner));
    st.counters["tokens_per_second"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
    st.counters["param_tokens_per_second"] = benchmark::Counter(params, benchmark::Counter::kIsIterationInvariantRate);
    st.counters["weight_bytes"] = static_cast<double>(weight_bytes);
}

}  // namespace

BENCHMARK_CAPTURE(generate, spikegpt_generate/float32, 0)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(generate, spikegpt_generate/packed/8, 8)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(generate, spikegpt_generate/packed/6, 6)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(generate, spikegpt_generate/packed/5, 5)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(generate, spikegpt_generate/packed/4, 4)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(generate, spikegpt_generate/packed/3, 3)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(generate, spikegpt_generate/packed/2, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
