// bench_sdt: sentences per second of the bundled SST-2 spike-driven transformer classifier
// (models/sdt-sst2.safetensors) over the SST-2 dev sentences, with the encoder's spike-input
// linears as the row walk (a branch per weight: the float loop before the column path) and as
// the column path (event-driven over the transposed weights, the default). Both give the same
// logits bit for bit (test_models_sdt_sst2_dev).
//
//   bench_sdt --benchmark_min_time=2 --benchmark_out=sdt.json --benchmark_out_format=json
//   (data: $QSLM_DATA_DIR/sst2/dev.tsv, default ../shared/data next to the source tree)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <qslm/io/sdt_model.hpp>

namespace {

std::vector<std::vector<std::uint32_t>> dev_sentences(const qslm::models::SdtModel& model) {
    const char* env = std::getenv("QSLM_DATA_DIR");
    const std::filesystem::path dev = std::filesystem::path(env ? env : QSLM_DEFAULT_DATA_DIR) / "sst2" / "dev.tsv";
    std::ifstream in(dev);
    std::vector<std::vector<std::uint32_t>> out;
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        const auto tab = line.find('\t');
        if (tab != std::string::npos) out.push_back(model.tokenizer().encode(line.substr(tab + 1)));
    }
    return out;
}

void run(benchmark::State& st, bool columns) {
    static const auto model = qslm::models::SdtModel::load(std::filesystem::path(QSLM_SOURCE_DIR) / "models" / "sdt-sst2.safetensors");
    static const auto sentences = dev_sentences(model);
    if (sentences.empty()) {
        st.SkipWithError("no SST-2 dev sentences (set QSLM_DATA_DIR)");
        return;
    }
    const auto fast = model.instance();
    const auto inst = columns ? fast : fast.with_row_walk();
    std::size_t tokens = 0;
    for (const auto& s : sentences) tokens += s.size();
    for (auto _ : st)
        for (const auto& s : sentences) {
            auto logits = inst.logits(s);
            benchmark::DoNotOptimize(logits.data());
        }
    st.counters["sentences_per_second"] = benchmark::Counter(double(sentences.size()), benchmark::Counter::kIsIterationInvariantRate);
    st.counters["tokens_per_second"] = benchmark::Counter(double(tokens), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK_CAPTURE(run, sdt_sst2_dev/row_walk, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, sdt_sst2_dev/event_columns, true)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
