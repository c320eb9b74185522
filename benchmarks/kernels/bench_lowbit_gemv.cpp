// bench_lowbit_gemv: the low-bit GEMV for real-valued inputs (kernels::LowBitMatrix) against the
// float GEMV the layers run (layers::detail::matmul), one thread, in one run so that ratios are
// side by side. Built like a user's generic build (no -march): both GEMVs are dispatched at run
// time to the per-arch TUs of qslm_add_kernel_archs, which is what the qslm CLI runs.
//
//   lowbit_gemv/<rows>/<cols>/<bits>            per-channel scales, Isa::automatic, batch 1
//   lowbit_gemv_g128/<rows>/<cols>/<bits>       per-group scales, group 128
//   lowbit_gemv_isa/<isa>/<rows>/<cols>/<bits>  one kernel family forced (scalar = the reference)
//   float_gemv/<rows>/<cols>                    layers::detail::matmul, float32 weights (run-time dispatch)
//   float_gemv_baseline/<rows>/<cols>           the same body compiled with this TU's flags only
//                                               (SSE2 on x86-64: what matmul ran before the dispatch)
//   lowbit_gemv_rotating/<rows>/<cols>/<bits>/<copies>, float_gemv_rotating/<rows>/<cols>/<copies>:
//       `copies` matrices read in turn (512 MiB of weights), i.e. from memory, not the caches
//   memory_read_bandwidth/<MiB>                 streaming read of a buffer far beyond the caches
//
// Counters: weight_bytes_per_second (the prepared bytes a call reads: weights + scales, or the
// float matrix) and parameters_per_second (rows x cols per call; x batch = parameter-tokens/s).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "qslm/kernels.hpp"
#include "qslm/layers/detail/dense_matmul.hpp"
#include "qslm/tensor.hpp"

using namespace qslm;
using kernels::Isa;
using kernels::LowBitMatrix;

namespace {

struct Shape {
    std::size_t rows, cols;
};

void set_counters(benchmark::State& st, double bytes, double params) {
    st.SetBytesProcessed(static_cast<std::int64_t>(double(st.iterations()) * bytes));
    st.counters["weight_bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
    st.counters["parameters_per_second"] = benchmark::Counter(params, benchmark::Counter::kIsIterationInvariantRate);
}

std::vector<float> random_floats(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

LowBitMatrix make_matrix(std::size_t rows, std::size_t cols, int bits, ScaleLayout layout) {
    const auto w = random_floats(rows * cols, 7);
    const auto t = AnyPackedTensor::quantize(bits, w, rows, cols, {.layout = layout}).value();
    return LowBitMatrix::prepare(t).value();
}

void run_lowbit(benchmark::State& st, Shape sh, int bits, ScaleLayout layout, Isa isa, std::size_t copies) {
    std::vector<LowBitMatrix> ms;
    ms.push_back(make_matrix(sh.rows, sh.cols, bits, layout));
    for (std::size_t i = 1; i < copies; ++i) ms.push_back(ms.front());  // same weights, distinct memory
    const auto x = random_floats(sh.cols, 3);
    std::vector<float> y(sh.rows);
    std::vector<std::byte> scratch(ms.front().scratch_bytes(1));
    st.SetLabel(kernels::to_string(ms.front().resolved_isa({isa})));
    std::size_t next = 0;
    for (auto _ : st) {
        if (ms[next].gemv(x.data(), 1, y.data(), scratch, {isa}) != Status::ok) {
            st.SkipWithError("gemv refused the call");
            return;
        }
        next = next + 1 == copies ? 0 : next + 1;
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, double(ms.front().bytes()), double(sh.rows) * double(sh.cols));
}

void run_float(benchmark::State& st, Shape sh, std::size_t copies, bool baseline = false) {
    std::vector<std::vector<float>> ws;
    ws.push_back(random_floats(sh.rows * sh.cols, 7));
    for (std::size_t i = 1; i < copies; ++i) ws.push_back(ws.front());
    const auto x = random_floats(sh.cols, 3);
    std::vector<float> y(sh.rows);
    st.SetLabel(baseline ? "baseline flags" : kernels::to_string(kernels::best_isa()));
    std::size_t next = 0;
    for (auto _ : st) {
        if (baseline)  // what matmul() ran before it was dispatched: this TU's own flags (SSE2 on x86-64)
            layers::detail::dense_simd<xsimd::default_arch>::matmul(ws[next].data(), sh.rows, sh.cols, x.data(), 1, y.data());
        else
            layers::detail::matmul(ws[next].data(), sh.rows, sh.cols, x.data(), 1, y.data());
        next = next + 1 == copies ? 0 : next + 1;
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, double(sh.rows) * double(sh.cols) * 4.0, double(sh.rows) * double(sh.cols));
}

void run_bandwidth(benchmark::State& st, std::size_t mib) {
    const std::size_t n = mib * (std::size_t{1} << 20) / 8;
    std::unique_ptr<std::uint64_t[]> buf(new std::uint64_t[n]);
    for (std::size_t i = 0; i < n; ++i) buf[i] = i;
    for (auto _ : st) {
        std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (std::size_t i = 0; i < n; i += 4) {
            s0 += buf[i];
            s1 += buf[i + 1];
            s2 += buf[i + 2];
            s3 += buf[i + 3];
        }
        benchmark::DoNotOptimize(s0 + s1 + s2 + s3);
    }
    set_counters(st, double(n * 8), 0.0);
}

constexpr Shape shapes[] = {{256, 256}, {1024, 1024}, {4096, 1024}, {2048, 2048}};
constexpr int widths[] = {2, 3, 4, 5, 6, 8};

std::string shape_name(Shape sh) { return std::to_string(sh.rows) + "/" + std::to_string(sh.cols); }

void register_all() {
    benchmark::AddCustomContext("qslm_gemv_isa", kernels::to_string(kernels::best_gemv_isa()));
    benchmark::AddCustomContext("qslm_dense_isa", kernels::to_string(kernels::best_isa()));
    for (const Shape sh : shapes) {
        benchmark::RegisterBenchmark(("float_gemv/" + shape_name(sh)).c_str(),
                                     [sh](benchmark::State& st) { run_float(st, sh, 1); });
        benchmark::RegisterBenchmark(("float_gemv_baseline/" + shape_name(sh)).c_str(),
                                     [sh](benchmark::State& st) { run_float(st, sh, 1, true); });
        for (const int bits : widths)
            benchmark::RegisterBenchmark(("lowbit_gemv/" + shape_name(sh) + "/" + std::to_string(bits)).c_str(),
                                         [sh, bits](benchmark::State& st) {
                                             run_lowbit(st, sh, bits, ScaleLayout::per_channel(), Isa::automatic, 1);
                                         });
    }
    const Shape main{4096, 1024};
    for (const int bits : {2, 4, 8})
        benchmark::RegisterBenchmark(("lowbit_gemv_g128/" + shape_name(main) + "/" + std::to_string(bits)).c_str(),
                                     [main, bits](benchmark::State& st) {
                                         run_lowbit(st, main, bits, ScaleLayout::per_group(128), Isa::automatic, 1);
                                     });
    for (const Isa isa : kernels::gemv_isas)
        if (kernels::gemv_isa_usable(isa))
            benchmark::RegisterBenchmark(
                (std::string("lowbit_gemv_isa/") + kernels::to_string(isa) + "/" + shape_name(main) + "/4").c_str(),
                [main, isa](benchmark::State& st) { run_lowbit(st, main, 4, ScaleLayout::per_channel(), isa, 1); });
    // Beyond the caches: 512 MiB of weights read in turn.
    for (const int bits : {2, 4, 8}) {
        const std::size_t copies = (std::size_t{512} << 20) / (main.rows * main.cols * std::size_t(kernels::gemv_field_bits(bits)) / 8);
        benchmark::RegisterBenchmark(
            ("lowbit_gemv_rotating/" + shape_name(main) + "/" + std::to_string(bits) + "/" + std::to_string(copies)).c_str(),
            [main, bits, copies](benchmark::State& st) {
                run_lowbit(st, main, bits, ScaleLayout::per_channel(), Isa::automatic, copies);
            });
    }
    benchmark::RegisterBenchmark(("float_gemv_rotating/" + shape_name(main) + "/32").c_str(),
                                 [main](benchmark::State& st) { run_float(st, main, 32); });
    benchmark::RegisterBenchmark("memory_read_bandwidth/1024", [](benchmark::State& st) { run_bandwidth(st, 1024); })
        ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
