// bench_spike_kernels: the spike kernels against each other, against their scalar references and
// against the dense baselines, in one run. Case names: <kernel>/<rows>/<cols>/<bits>/<density_permille>/<T>
// (baselines eigen_f32_gemv/... and int8_dense/... with the same fields; `bits` is the width of
// the spike kernels they are compared with). Whole layers (scales, bias, float output):
// layer_spiking_linear/<rows>/<cols>/<bits>/<group or 0 = per-channel>/<density_permille>/<words|bytes>
// (SpikingLinear::forward_words on packed spikes, or forward on one byte per input) against
// layer_eigen_f32/<rows>/<cols>/<bits>/0/<density_permille>/f32 (Eigen float GEMV of the
// dequantized weights plus bias) and layer_spiking_linear_strided_scales/... (per-group scales
// read from the view row-major, without the group-major copy) and
// layer_spiking_linear_matvec_only/... (SpikeMatvec::accumulate alone: the integer sums of every
// group, no scales: where the layer's time goes). T > 1: the time of all T steps. Counters:
// weight_bytes_per_second (bytes of weight storage the kernel touched) and
// synaptic_ops_per_second (rows x active inputs, summed over steps).
//
//   bench_spike_kernels --benchmark_min_time=0.01 --benchmark_out=results.json --benchmark_out_format=json
//   (--benchmark_filter='^event/' etc. to run a part)
#include <benchmark/benchmark.h>

#include <Eigen/Dense>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512F__)
#  include <immintrin.h>
#endif

#include "qslm/kernels.hpp"
#include "qslm/kernels/calibrate.hpp"
#include "qslm/layers/linear.hpp"
#include "qslm/spike.hpp"
#include "qslm/tensor.hpp"

using namespace qslm;
using kernels::Isa;
using kernels::Kernel;

namespace {

struct Shape {
    std::size_t rows, cols;
};

// Crossovers measured on this machine at startup (calibrate.hpp: its own shapes, not the
// sweep's); `auto` runs with them. The label also names what the compile-time defaults would
// have chosen, so one run scores both.
kernels::Crossovers calibrated = kernels::measured_crossovers;

// ---------------------------------------------------------------------------------------------
// Weights of the current (shape, bits), prepared once and reused by every case of that group.
struct Prepared {
    std::size_t rows = 0, cols = 0;
    int bits = 0;
    kernels::SpikeMatvec mv;
    Eigen::MatrixXf dense_f32;              // the same levels as floats (what Eigen users run)
    std::vector<std::int8_t> dense_i8;      // the same levels as int8, row-major, cols padded to 64
    std::size_t cols_padded = 0;
};

template <int Bits>
PackedTensor<Bits> make_weights(std::size_t rows, std::size_t cols) {
    // Half the weights pruned to zero (so dual_sparse has something to skip), the rest uniform.
    std::mt19937 rng(static_cast<unsigned>(rows * 31 + cols + Bits));
    std::uniform_int_distribution<int> lv(PackedTensor<Bits>::min_level, PackedTensor<Bits>::max_level);
    std::bernoulli_distribution pruned(0.5);
    std::vector<std::int16_t> levels(rows * cols);
    for (auto& l : levels) l = static_cast<std::int16_t>(pruned(rng) ? 0 : lv(rng));
    std::vector<float> scales(rows, 0.01f);
    return PackedTensor<Bits>::from_levels(levels, rows, cols, ScaleLayout::per_channel(), scales).value();
}

// Weights of more than this many elements are prepared for the dense kernels only (panel and
// int8): the float copy and the bit-plane/sparse layouts of a 16384² matrix would take 2 GiB.
constexpr std::size_t large_weights = std::size_t{1} << 26;

Prepared& prepared(std::size_t rows, std::size_t cols, int bits) {
    static Prepared p;
    if (p.rows == rows && p.cols == cols && p.bits == bits) return p;
    p = Prepared{};
    const bool large = rows * cols > large_weights;
    auto build = [&](auto w) {
        p.mv = kernels::SpikeMatvec::prepare(w.view(), {.bitplane = !large, .sparse = !large}).value();
        p.mv.use_crossovers(calibrated);
        p.cols_padded = (cols + 63) / 64 * 64;
        if (!large) p.dense_f32.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
        p.dense_i8.assign(rows * p.cols_padded, 0);
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t c = 0; c < cols; ++c) {
                const int l = w.level(r, c);
                if (!large) p.dense_f32(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = static_cast<float>(l);
                p.dense_i8[r * p.cols_padded + c] = static_cast<std::int8_t>(l);
            }
    };
    if (bits == 2) build(make_weights<2>(rows, cols));
    else if (bits == 4) build(make_weights<4>(rows, cols));
    else build(make_weights<8>(rows, cols));
    p.rows = rows;
    p.cols = cols;
    p.bits = bits;
    return p;
}

// Spikes of T steps at a density, in both layouts.
struct Spikes {
    SpatialSpikes spatial;
    TemporalSpikes temporal;
    std::size_t count = 0;
};
Spikes make_spikes(std::size_t cols, double density, std::size_t steps) {
    std::mt19937 rng(static_cast<unsigned>(cols * 7 + steps + static_cast<std::size_t>(density * 1e4)));
    std::bernoulli_distribution d(density);
    Spikes s{SpatialSpikes::zeros(cols, steps).value(), TemporalSpikes::zeros(cols, steps).value(), 0};
    for (std::size_t t = 0; t < steps; ++t)
        for (std::size_t c = 0; c < cols; ++c)
            if (d(rng)) {
                s.spatial.set(c, t);
                s.temporal.set(c, t);
                ++s.count;
            }
    return s;
}

// Bytes of weight storage one run touches (T steps).
double weight_bytes(const Prepared& p, Kernel k, const Spikes& s, std::size_t steps) {
    const auto& pv = p.mv.panel();
    const double chunk_col = static_cast<double>(pv.blocks()) * 64.0;  // one input's column in the panel layout
    switch (k) {
        case Kernel::dense: return static_cast<double>(pv.bytes()) * static_cast<double>(steps);
        case Kernel::event: return chunk_col * static_cast<double>(s.count);
        case Kernel::temporal: {
            std::size_t any = 0;
            for (const auto w : s.temporal.words()) any += w != 0;
            return chunk_col * static_cast<double>(any);
        }
        case Kernel::bitplane: {
            // Every tile-plane stripe (64 bytes) of each nonzero spike byte.
            const auto& bp = p.mv.bitplane();
            std::size_t bytes = 0;
            for (const auto w : s.spatial.words())
                for (int k = 0; k < 8; ++k) bytes += ((w >> (8 * k)) & 0xFF) != 0;
            return static_cast<double>(bytes) * static_cast<double>(bp.tiles()) * 64.0 * p.bits;
        }
        case Kernel::dual_sparse: {
            // Per active input: its tiles' masks and starts, and its nonzero levels.
            const auto& sp = p.mv.sparse();
            const std::size_t tiles = sp.tiles();
            double b = 0;
            for (std::size_t t = 0; t < steps; ++t)
                for (std::size_t c = 0; c < p.cols; ++c)
                    if (s.spatial.test(c, t)) b += 12.0 * tiles + 2.0 * (sp.start[(c + 1) * tiles] - sp.start[c * tiles]);
            return b;
        }
        default: return 0;
    }
}

void set_counters(benchmark::State& st, double bytes, double sops) {
    st.counters["weight_bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
    st.counters["synaptic_ops_per_second"] = benchmark::Counter(sops, benchmark::Counter::kIsIterationInvariantRate);
}

std::string case_name(const std::string& kernel, Shape sh, int bits, int permille, std::size_t steps) {
    return kernel + "/" + std::to_string(sh.rows) + "/" + std::to_string(sh.cols) + "/" + std::to_string(bits) + "/" +
           std::to_string(permille) + "/" + std::to_string(steps);
}

// ---------------------------------------------------------------------------------------------
// Spike kernels through the public entry point. T > 1: the temporal kernel takes the temporal
// train in one call; the others run T one-step calls (what a layer without it would do).
void run_kernel(benchmark::State& st, Shape sh, int bits, double density, std::size_t steps, Kernel k, Isa isa) {
    Prepared& p = prepared(sh.rows, sh.cols, bits);
    const Spikes s = make_spikes(sh.cols, density, steps);
    const bool narrow = p.mv.accumulator_width() == kernels::AccumulatorWidth::int16;
    std::vector<std::int16_t> out16(narrow ? steps * p.mv.output_size() : 0);
    std::vector<std::int32_t> out32(narrow ? 0 : steps * p.mv.output_size());
    auto once = [&] {
        // auto with T > 1: the layer's choice of spike layout, as kernel_choice.hpp advises.
        const bool temporal = k == Kernel::temporal ||
                              (k == Kernel::automatic && p.mv.prefers_temporal(double(s.count) / (double(sh.cols) * double(steps)), steps));
        if (temporal) {
            auto r = narrow ? p.mv.accumulate_steps(s.temporal.view(), std::span<std::int16_t>(out16), {k, isa})
                            : p.mv.accumulate_steps(s.temporal.view(), std::span<std::int32_t>(out32), {k, isa});
            return r.ok();
        }
        auto r = narrow ? p.mv.accumulate_steps(s.spatial.view(), std::span<std::int16_t>(out16), {k, isa})
                        : p.mv.accumulate_steps(s.spatial.view(), std::span<std::int32_t>(out32), {k, isa});
        return r.ok();
    };
    if (!once()) {
        st.SkipWithError("kernel refused the call");
        return;
    }
    for (auto _ : st) {
        once();
        benchmark::DoNotOptimize(out16.data());
        benchmark::DoNotOptimize(out32.data());
        benchmark::ClobberMemory();
    }
    Kernel ran = k;
    if (k == Kernel::automatic) {
        const double d = double(s.count) / (double(sh.cols) * double(steps));
        ran = p.mv.prefers_temporal(d, steps) ? Kernel::temporal : p.mv.choose(d);
        const auto in = p.mv.choice_input(d, steps, true);
        const Kernel by_default = kernels::prefers_temporal(in, kernels::measured_crossovers)
                                      ? Kernel::temporal
                                      : kernels::choose_kernel(p.mv.choice_input(d), kernels::measured_crossovers);
        st.SetLabel(std::string("chose ") + kernels::to_string(ran) + " defaults " + kernels::to_string(by_default));
    }
    set_counters(st, weight_bytes(p, ran, s, steps), double(sh.rows) * double(s.count));
}

// Eigen float GEMV on the same spikes as floats: y = W * s, T times.
void run_eigen(benchmark::State& st, Shape sh, int bits, double density, std::size_t steps) {
    Prepared& p = prepared(sh.rows, sh.cols, bits);
    const Spikes s = make_spikes(sh.cols, density, steps);
    std::vector<Eigen::VectorXf> x(steps, Eigen::VectorXf::Zero(static_cast<Eigen::Index>(sh.cols)));
    for (std::size_t t = 0; t < steps; ++t)
        for (std::size_t c = 0; c < sh.cols; ++c) x[t](static_cast<Eigen::Index>(c)) = s.spatial.test(c, t) ? 1.0f : 0.0f;
    Eigen::VectorXf y(static_cast<Eigen::Index>(sh.rows));
    for (auto _ : st)
        for (std::size_t t = 0; t < steps; ++t) {
            y.noalias() = p.dense_f32 * x[t];
            benchmark::DoNotOptimize(y.data());
            benchmark::ClobberMemory();
        }
    set_counters(st, double(sh.rows) * double(sh.cols) * 4.0 * double(steps), double(sh.rows) * double(s.count));
}

// int8 dense GEMV: int8 weights x {0,1} activations, VNNI (vpdpbusd) where the CPU has it,
// else AVX2 maddubs, else scalar. Four rows per pass so the loads of x are shared.
void int8_gemv(const std::int8_t* w, const std::uint8_t* x, std::int32_t* y, std::size_t rows, std::size_t cp) {
    std::size_t r = 0;
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
    for (; r + 4 <= rows; r += 4) {
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        for (std::size_t c = 0; c < cp; c += 64) {
            const __m512i xv = _mm512_loadu_si512(x + c);
            a0 = _mm512_dpbusd_epi32(a0, xv, _mm512_loadu_si512(w + (r + 0) * cp + c));
            a1 = _mm512_dpbusd_epi32(a1, xv, _mm512_loadu_si512(w + (r + 1) * cp + c));
            a2 = _mm512_dpbusd_epi32(a2, xv, _mm512_loadu_si512(w + (r + 2) * cp + c));
            a3 = _mm512_dpbusd_epi32(a3, xv, _mm512_loadu_si512(w + (r + 3) * cp + c));
        }
        y[r] = _mm512_reduce_add_epi32(a0);
        y[r + 1] = _mm512_reduce_add_epi32(a1);
        y[r + 2] = _mm512_reduce_add_epi32(a2);
        y[r + 3] = _mm512_reduce_add_epi32(a3);
    }
#elif defined(__AVX2__)
    const __m256i ones = _mm256_set1_epi16(1);
    for (; r < rows; ++r) {
        __m256i acc = _mm256_setzero_si256();
        for (std::size_t c = 0; c < cp; c += 32) {
            const __m256i prod = _mm256_maddubs_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + c)),
                                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * cp + c)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(prod, ones));
        }
        alignas(32) std::int32_t t[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(t), acc);
        y[r] = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
    }
#endif
    for (; r < rows; ++r) {
        std::int32_t acc = 0;
        for (std::size_t c = 0; c < cp; ++c) acc += w[r * cp + c] * x[c];
        y[r] = acc;
    }
}

void run_int8(benchmark::State& st, Shape sh, int bits, double density, std::size_t steps) {
    Prepared& p = prepared(sh.rows, sh.cols, bits);
    const Spikes s = make_spikes(sh.cols, density, steps);
    std::vector<std::vector<std::uint8_t>> x(steps, std::vector<std::uint8_t>(p.cols_padded, 0));
    for (std::size_t t = 0; t < steps; ++t)
        for (std::size_t c = 0; c < sh.cols; ++c) x[t][c] = s.spatial.test(c, t) ? 1 : 0;
    std::vector<std::int32_t> y(sh.rows);
    for (auto _ : st)
        for (std::size_t t = 0; t < steps; ++t) {
            int8_gemv(p.dense_i8.data(), x[t].data(), y.data(), sh.rows, p.cols_padded);
            benchmark::DoNotOptimize(y.data());
            benchmark::ClobberMemory();
        }
    set_counters(st, double(sh.rows) * double(p.cols_padded) * double(steps), double(sh.rows) * double(s.count));
}

// The dense kernel (or the int8 GEMV) on `rotating_copies` copies of the same weights in turn, so
// that each call reads weights that the other copies have pushed out of the caches.
constexpr std::size_t rotating_copies = 4;

void run_rotating(benchmark::State& st, Shape sh, int bits, double density, bool int8) {
    Prepared& p = prepared(sh.rows, sh.cols, bits);
    const Spikes s = make_spikes(sh.cols, density, 1);
    std::vector<kernels::SpikeMatvec> layers;
    std::vector<std::vector<std::int8_t>> i8;
    for (std::size_t i = 0; i < rotating_copies; ++i) {
        if (int8) i8.push_back(p.dense_i8);
        else layers.push_back(p.mv);
    }
    std::vector<std::uint8_t> x(p.cols_padded, 0);
    for (std::size_t c = 0; c < sh.cols; ++c) x[c] = s.spatial.test(c, 0) ? 1 : 0;
    std::vector<std::int32_t> out(p.mv.output_size());
    std::size_t next = 0;
    for (auto _ : st) {
        if (int8) {
            int8_gemv(i8[next].data(), x.data(), out.data(), sh.rows, p.cols_padded);
        } else if (!layers[next].accumulate(s.spatial.words(), std::span<std::int32_t>(out), {Kernel::dense}).ok()) {
            st.SkipWithError("kernel refused the call");
            return;
        }
        next = (next + 1) % rotating_copies;
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    const double bytes = int8 ? double(sh.rows) * double(p.cols_padded) : double(p.mv.panel().bytes());
    set_counters(st, bytes, double(sh.rows) * double(s.count));
}

// Streaming read of a buffer far larger than any cache: the machine's memory read bandwidth.
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
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(n * 8));
    st.counters["weight_bytes_per_second"] = benchmark::Counter(double(n * 8), benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------------------------------------
// Whole layers: SpikingLinear with its scales, bias and float output, as a model calls it.
struct LayerWeights {
    std::size_t rows = 0, cols = 0;
    int bits = 0;
    std::size_t group = 0;
    std::vector<float> bias;
    Eigen::MatrixXf dense;  // the dequantized weights (what an Eigen user would run)
    std::unique_ptr<kernels::SpikeMatvec> mv;
    std::vector<float> gm_scales;
    // The packed tensor (its view is what the layer holds), type-erased per width.
    std::shared_ptr<void> tensor;
};

template <int Bits>
LayerWeights make_layer_weights(std::size_t rows, std::size_t cols, std::size_t group) {
    std::mt19937 rng(static_cast<unsigned>(rows + cols + Bits + group));
    std::normal_distribution<float> nd(0.0f, 0.05f);
    std::vector<float> wf(rows * cols);
    for (auto& v : wf) v = nd(rng);
    const ScaleLayout layout = group == 0 ? ScaleLayout::per_channel() : ScaleLayout::per_group(group);
    auto t = std::make_shared<PackedTensor<Bits>>(PackedTensor<Bits>::quantize(wf, rows, cols, QuantSpec{.layout = layout}).value());
    LayerWeights lw;
    lw.rows = rows;
    lw.cols = cols;
    lw.bits = Bits;
    lw.group = group;
    lw.bias.resize(rows);
    for (auto& b : lw.bias) b = nd(rng);
    lw.dense.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) lw.dense(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = t->view().dequantized(r, c);
    lw.mv = std::make_unique<kernels::SpikeMatvec>(kernels::SpikeMatvec::prepare(t->view()).value());
    lw.mv->use_crossovers(calibrated);
    using L = layers::SpikingLinear<Bits>;
    lw.gm_scales.resize(L::group_major_size(t->view()));
    if (!lw.gm_scales.empty() && L::prepare_group_major(t->view(), lw.gm_scales) != Status::ok) std::abort();
    lw.tensor = t;
    return lw;
}

LayerWeights& layer_weights(std::size_t rows, std::size_t cols, int bits, std::size_t group) {
    static LayerWeights lw;
    if (lw.rows == rows && lw.cols == cols && lw.bits == bits && lw.group == group && lw.mv) return lw;
    lw = LayerWeights{};
    if (bits == 2) lw = make_layer_weights<2>(rows, cols, group);
    else if (bits == 4) lw = make_layer_weights<4>(rows, cols, group);
    else lw = make_layer_weights<8>(rows, cols, group);
    return lw;
}

enum class LayerApi { words, bytes, strided_scales, matvec_only };

template <int Bits>
void run_layer_bits(benchmark::State& st, LayerWeights& lw, const Spikes& s, LayerApi api) {
    const auto& t = *static_cast<const PackedTensor<Bits>*>(lw.tensor.get());
    auto lin = layers::SpikingLinear<Bits>::make(t.view(), lw.bias).value();
    const Status used = api == LayerApi::strided_scales ? lin.use_kernels(*lw.mv) : lin.use_kernels(*lw.mv, lw.gm_scales);
    if (used != Status::ok) {
        st.SkipWithError("use_kernels refused");
        return;
    }
    std::vector<std::int32_t> scratch(lin.kernel_scratch_size());
    std::vector<float> y(lw.rows);
    std::vector<std::uint8_t> bytes(lw.cols);
    for (std::size_t c = 0; c < lw.cols; ++c) bytes[c] = s.spatial.test(c, 0) ? 1 : 0;
    std::vector<std::uint64_t> words(spike_words_per_step(lw.cols));
    const std::span<const std::uint64_t> in = s.spatial.words();  // one step
    std::vector<std::int32_t> sums(lw.mv->output_size());
    auto once = [&] {
        if (api == LayerApi::matvec_only) return lw.mv->accumulate(in, std::span(sums)).status();
        return api == LayerApi::bytes ? lin.template forward<float>(bytes, y, words, scratch) : lin.template forward_words<float>(in, y, scratch);
    };
    if (once() != Status::ok) {
        st.SkipWithError("layer refused the call");
        return;
    }
    for (auto _ : st) {
        once();
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, double(t.view().bytes()), double(lw.rows) * double(s.count));
}

void run_layer(benchmark::State& st, Shape sh, int bits, std::size_t group, double density, LayerApi api) {
    LayerWeights& lw = layer_weights(sh.rows, sh.cols, bits, group);
    const Spikes s = make_spikes(sh.cols, density, 1);
    if (bits == 2) run_layer_bits<2>(st, lw, s, api);
    else if (bits == 4) run_layer_bits<4>(st, lw, s, api);
    else run_layer_bits<8>(st, lw, s, api);
}

// Eigen float GEMV of the same (dequantized) weights plus bias, on the spikes as floats.
void run_layer_eigen(benchmark::State& st, Shape sh, int bits, double density) {
    LayerWeights& lw = layer_weights(sh.rows, sh.cols, bits, 0);
    const Spikes s = make_spikes(sh.cols, density, 1);
    Eigen::VectorXf x = Eigen::VectorXf::Zero(static_cast<Eigen::Index>(sh.cols));
    for (std::size_t c = 0; c < sh.cols; ++c) x(static_cast<Eigen::Index>(c)) = s.spatial.test(c, 0) ? 1.0f : 0.0f;
    const Eigen::Map<const Eigen::VectorXf> b(lw.bias.data(), static_cast<Eigen::Index>(sh.rows));
    Eigen::VectorXf y(static_cast<Eigen::Index>(sh.rows));
    for (auto _ : st) {
        y.noalias() = lw.dense * x;
        y += b;
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, double(sh.rows) * double(sh.cols) * 4.0, double(sh.rows) * double(s.count));
}

std::string layer_name(const std::string& what, Shape sh, int bits, std::size_t group, int permille, const std::string& api) {
    return what + "/" + std::to_string(sh.rows) + "/" + std::to_string(sh.cols) + "/" + std::to_string(bits) + "/" +
           std::to_string(group) + "/" + std::to_string(permille) + "/" + api;
}

void register_layers() {
    for (const Shape sh : {Shape{2048, 2048}, Shape{1024, 1024}})
        for (const int bits : {4, 2, 8})
            for (const int pm : {100, 50, 200}) {
                const double d = pm / 1000.0;
                benchmark::RegisterBenchmark(layer_name("layer_eigen_f32", sh, bits, 0, pm, "f32").c_str(),
                                             [=](benchmark::State& st) { run_layer_eigen(st, sh, bits, d); })
                    ->Unit(benchmark::kMicrosecond);
                for (const std::size_t group : {std::size_t{0}, std::size_t{64}, std::size_t{32}, std::size_t{128}}) {
                    benchmark::RegisterBenchmark(layer_name("layer_spiking_linear", sh, bits, group, pm, "words").c_str(),
                                                 [=](benchmark::State& st) { run_layer(st, sh, bits, group, d, LayerApi::words); })
                        ->Unit(benchmark::kMicrosecond);
                    benchmark::RegisterBenchmark(layer_name("layer_spiking_linear", sh, bits, group, pm, "bytes").c_str(),
                                                 [=](benchmark::State& st) { run_layer(st, sh, bits, group, d, LayerApi::bytes); })
                        ->Unit(benchmark::kMicrosecond);
                    benchmark::RegisterBenchmark(layer_name("layer_spiking_linear_matvec_only", sh, bits, group, pm, "words").c_str(),
                                                 [=](benchmark::State& st) { run_layer(st, sh, bits, group, d, LayerApi::matvec_only); })
                        ->Unit(benchmark::kMicrosecond);
                    if (group != 0)
                        benchmark::RegisterBenchmark(layer_name("layer_spiking_linear_strided_scales", sh, bits, group, pm, "words").c_str(),
                                                     [=](benchmark::State& st) { run_layer(st, sh, bits, group, d, LayerApi::strided_scales); })
                            ->Unit(benchmark::kMicrosecond);
                }
            }
}

constexpr Shape shapes[] = {{256, 256}, {1024, 1024}, {2048, 2048}, {4096, 1024}};
constexpr int widths[] = {2, 4, 8};
constexpr int densities_permille[] = {10, 50, 100, 200, 500};
constexpr std::size_t step_counts[] = {1, 4, 8, 16};
constexpr Kernel kernels_swept[] = {Kernel::dense, Kernel::event, Kernel::bitplane, Kernel::temporal, Kernel::dual_sparse};

void register_all() {
    // 2 GiB: several times the largest L3 seen on these machines (a 260 MiB Xeon).
    benchmark::RegisterBenchmark("memory_read_bandwidth/2048", [](benchmark::State& st) { run_bandwidth(st, 2048); })
        ->Unit(benchmark::kMillisecond)->MinTime(0.5);
    for (const Shape sh : shapes)
        for (const int bits : widths)
            for (const int pm : densities_permille)
                for (const std::size_t T : step_counts) {
                    const double d = pm / 1000.0;
                    for (const Kernel k : kernels_swept)
                        benchmark::RegisterBenchmark(case_name(kernels::to_string(k), sh, bits, pm, T).c_str(),
                                                     [=](benchmark::State& st) { run_kernel(st, sh, bits, d, T, k, Isa::automatic); })
                            ->Unit(benchmark::kMicrosecond);
                    benchmark::RegisterBenchmark(case_name("auto", sh, bits, pm, T).c_str(),
                                                 [=](benchmark::State& st) { run_kernel(st, sh, bits, d, T, Kernel::automatic, Isa::automatic); })
                        ->Unit(benchmark::kMicrosecond);
                    // Each kernel's scalar reference (same prepared layout), at the headline shape.
                    if (sh.rows == 2048 && sh.cols == 2048)
                        for (const Kernel k : kernels_swept)
                            benchmark::RegisterBenchmark(case_name(std::string(kernels::to_string(k)) + "_scalar", sh, bits, pm, T).c_str(),
                                                         [=](benchmark::State& st) { run_kernel(st, sh, bits, d, T, k, Isa::scalar); })
                                ->Unit(benchmark::kMicrosecond);
                    benchmark::RegisterBenchmark(case_name("eigen_f32_gemv", sh, bits, pm, T).c_str(),
                                                 [=](benchmark::State& st) { run_eigen(st, sh, bits, d, T); })
                        ->Unit(benchmark::kMicrosecond);
                    benchmark::RegisterBenchmark(case_name("int8_dense", sh, bits, pm, T).c_str(),
                                                 [=](benchmark::State& st) { run_int8(st, sh, bits, d, T); })
                        ->Unit(benchmark::kMicrosecond);
                }
    // Long trains (T = 32, 64) and larger weights (8192×2048: 8 MiB of 4-bit panel, 16 MiB of
    // 8-bit), where the temporal kernel's one weight fetch per T steps can pay: dense,
    // event-driven and temporal-parallel (and auto; bit-plane and dual-sparse lost every T > 1
    // case of the main sweep), to place the temporal crossover (kernel_choice.hpp).
    for (const Shape sh : {Shape{1024, 1024}, Shape{2048, 2048}, Shape{4096, 1024}, Shape{8192, 2048}})
        for (const int bits : {4, 8})
            for (const int pm : {100, 200, 500})
                for (const std::size_t T : {std::size_t{4}, std::size_t{8}, std::size_t{16}, std::size_t{32}, std::size_t{64}}) {
                    if (T < 32 && sh.rows != 8192) continue;  // T <= 16 of the other shapes: the main sweep
                    const double d = pm / 1000.0;
                    for (const Kernel k : {Kernel::dense, Kernel::event, Kernel::temporal, Kernel::automatic})
                        benchmark::RegisterBenchmark(case_name(k == Kernel::automatic ? "auto" : kernels::to_string(k), sh, bits, pm, T).c_str(),
                                                     [=](benchmark::State& st) { run_kernel(st, sh, bits, d, T, k, Isa::automatic); })
                            ->Unit(benchmark::kMicrosecond);
                }
    // Large weights. 8192² (32 MiB of 4-bit panel, 64 MiB of 8-bit) is partly served from L3 on
    // the machines seen. Beyond the caches: a tensor holds at most 2^28 weights (16384², 128 MiB
    // at 4 bits), less than the largest L3 seen (260 MiB), so the `_rotating` cases run the kernel
    // on four copies of the 16384² weights in turn (512 MiB / 1 GiB, as a model's layers are read
    // once per token): each call's weights were last read 3 calls (>= 384 MiB of reads) earlier.
    for (const int bits : {4, 8}) {
        const Shape big{8192, 8192};
        benchmark::RegisterBenchmark(case_name("dense", big, bits, 100, 1).c_str(),
                                     [=](benchmark::State& st) { run_kernel(st, big, bits, 0.1, 1, Kernel::dense, Isa::automatic); })
            ->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(case_name("int8_dense", big, bits, 100, 1).c_str(),
                                     [=](benchmark::State& st) { run_int8(st, big, bits, 0.1, 1); })
            ->Unit(benchmark::kMicrosecond);
    }
    for (const int bits : {4, 8}) {
        const Shape huge{16384, 16384};
        benchmark::RegisterBenchmark(case_name("dense_rotating", huge, bits, 100, 1).c_str(),
                                     [=](benchmark::State& st) { run_rotating(st, huge, bits, 0.1, false); })
            ->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(case_name("int8_dense_rotating", huge, bits, 100, 1).c_str(),
                                     [=](benchmark::State& st) { run_rotating(st, huge, bits, 0.1, true); })
            ->Unit(benchmark::kMicrosecond);
    }
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    benchmark::AddCustomContext("qslm_kernel_isa", kernels::to_string(kernels::best_isa()));
    std::string compiled;
    for (const Isa i : kernels::all_isas)
        if (kernels::isa_compiled(i)) compiled += std::string(kernels::to_string(i)) + " ";
    benchmark::AddCustomContext("qslm_kernel_isas_compiled", compiled);
    auto cal = kernels::calibrate_crossovers();
    if (!cal) {
        std::fprintf(stderr, "calibration failed: %s\n", std::string(cal.message()).c_str());
        return 1;
    }
    calibrated = cal->crossovers;
    std::string rules;
    for (const auto& r : calibrated.temporal_rules) {
        if (r.min_steps == 0) break;
        rules += "[" + std::to_string(r.min_weight_bytes >> 10) + " KiB, " +
                 (r.max_weight_bytes == std::numeric_limits<std::size_t>::max() ? std::string("inf") : std::to_string(r.max_weight_bytes >> 10) + " KiB") +
                 ") density [" + std::to_string(r.min_density) + ", " + std::to_string(r.max_density) + ") T>=" + std::to_string(r.min_steps) + "; ";
    }
    benchmark::AddCustomContext("qslm_calibrated_temporal_rules", rules.empty() ? "none" : rules);
    std::string planes;
    for (int b = 1; b <= 8; ++b) planes += std::to_string(b) + ":" + std::to_string(calibrated.bitplane_above[b]) + " ";
    benchmark::AddCustomContext("qslm_calibrated_bitplane_above", planes);
    std::string raw;
    for (const auto& m : cal->temporal)
        raw += std::to_string(m.weight_bytes >> 10) + "KiB/" + std::to_string(m.density) + "/" + std::to_string(m.steps) + "=" + std::to_string(m.speedup) + " ";
    benchmark::AddCustomContext("qslm_calibration_temporal_speedups", raw);
    raw.clear();
    for (const auto& m : cal->bitplane) raw += std::to_string(m.bits) + "bit/" + std::to_string(m.density) + "=" + std::to_string(m.speedup) + " ";
    benchmark::AddCustomContext("qslm_calibration_bitplane_speedups", raw);
    register_layers();
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
