#pragma once
// Definitions of the SIMD kernels, written once with xsimd batches and instantiated per
// architecture (instantiate.hpp). Include only from a TU compiled with that arch's flags.
//
// Why the code looks the way it does (measured on AVX-512 and AVX2 machines; see docs/kernels.md):
//  * accumulators live in registers for a block of rows while the kernel walks the inputs
//    (register blocking): the output is written once per block, not once per input;
//  * fields are unpacked with compile-time shifts (static_for), so every shift is an immediate;
//  * nothing is left to the auto-vectoriser (GCC has turned the plain loops into scalar code).

#if !defined(QSLM_KERNELS_INSTANTIATING)
#  error "simd_kernels_impl.hpp is only for the per-arch TUs made by qslm_add_kernel_archs() (qslm/kernels/instantiate.hpp)"
#endif

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "qslm/core/config.hpp"
#include "qslm/kernels/detail/simd_kernels.hpp"
#include "qslm/kernels/scalar_kernels.hpp"
#include "qslm/spike/spike_train.hpp"

#if defined(__SSE4_2__) || defined(__AVX2__) || defined(__AVX512F__)
#  include <immintrin.h>
#endif
#if defined(__ARM_NEON) && defined(__aarch64__)
#  include <arm_neon.h>
#endif

namespace qslm::kernels::detail {

template <int... K, class Fn>
QSLM_ALWAYS_INLINE void static_for_impl(std::integer_sequence<int, K...>, Fn&& fn) {
    (fn(std::integral_constant<int, K>{}), ...);
}
template <int N, class Fn>
QSLM_ALWAYS_INLINE void static_for(Fn&& fn) {
    static_for_impl(std::make_integer_sequence<int, N>{}, fn);
}

template <class A>
inline constexpr bool is_avx512 = std::is_same_v<A, xsimd::avx512bw>;

// Accumulator registers a kernel may keep live: 16 of AVX-512's 32 zmm, 8 of the 16 ymm/xmm
// (NEON has 32 but 8 already saturate its adders).
template <class A>
inline constexpr int max_live_accumulators = is_avx512<A> ? 16 : 8;

// Writes lanes (row0 .. row0 + valid) of a finished accumulator register to `out`.
template <class A, class U>
QSLM_ALWAYS_INLINE void store_lanes(const xsimd::batch<U, A>& v, const OutRef& out, std::size_t row0, std::size_t valid) noexcept {
    using V = xsimd::batch<U, A>;
    constexpr std::size_t L = V::size;
    if (valid >= L) {
        if constexpr (sizeof(U) == 2) {
            if (out.i16) {
                U* p = reinterpret_cast<U*>(out.i16 + row0);
                (out.add ? V::load_unaligned(p) + v : v).store_unaligned(p);
                return;
            }
        } else {
            if (out.i32) {
                U* p = reinterpret_cast<U*>(out.i32 + row0);
                (out.add ? V::load_unaligned(p) + v : v).store_unaligned(p);
                return;
            }
        }
    }
    alignas(64) U tmp[L];
    v.store_aligned(tmp);
    const std::size_t m = valid < L ? valid : L;
    for (std::size_t i = 0; i < m; ++i) {
        if constexpr (sizeof(U) == 2) out.put(row0 + i, static_cast<std::int16_t>(tmp[i]));
        else out.put(row0 + i, static_cast<std::int32_t>(tmp[i]));
    }
}

// Geometry of the panel layout for one arch, lane type U (accumulator width) and field width F.
template <class A, class U, int F>
struct panel_geometry {
    using V = xsimd::batch<U, A>;
    static constexpr std::size_t lanes = V::size;
    static constexpr int width = 8 * static_cast<int>(sizeof(U));
    static constexpr std::size_t register_bytes = lanes * sizeof(U);
    static constexpr std::size_t registers_per_chunk = panel_chunk_bytes / register_bytes;
    static constexpr int fields = width / F;
    static constexpr std::size_t words_per_chunk = 512 / width;
    static constexpr int group = fields < max_live_accumulators<A> ? fields : max_live_accumulators<A>;
    static constexpr int groups = fields / group;

    // Field k of x (k compile-time): one immediate shift and one AND (the top field needs no AND).
    template <int K>
    static QSLM_ALWAYS_INLINE V field(const V& x, const V& mask) noexcept {
        constexpr int shift = K * F;
        if constexpr (shift + F == width) return x >> shift;
        else if constexpr (shift == 0) return x & mask;
        else return (x >> shift) & mask;
    }
};

// a * S + z0 * n, lane-wise modulo 2^W.
template <class V>
QSLM_ALWAYS_INLINE V finish(V s, const LevelMap& map, const V& bias) noexcept {
    if (map.scale == 2) s = s + s;
    return s + bias;
}

// Narrow fields (F = 1, 2, 4) are first summed in byte-wide "slots" instead of being unpacked
// per input: slot s adds (x >> s F) & (2^F - 1 in every byte), which gathers field s of every
// byte of the register with one shift, one AND and one add (4-bit: 2 slots for 4 or 8 fields,
// where the full unpack costs a shift, an AND and an add per field). A byte cannot carry into
// its neighbour while it holds at most 255 / (2^F - 1) inputs (17 at 4-bit), so every that many
// inputs the slots are spread into the per-field accumulators (byte j of slot s is field
// j * 8/F + s). This took the 4-bit dense kernel from 27 to 38 GB/s on 8192² weights (docs/benchmarks.md).
template <class A, class U, int F>
struct byte_slots {
    using V = xsimd::batch<U, A>;
    static constexpr int slots = 8 / F;
    static constexpr std::size_t inputs_per_flush = 255u / ((1u << F) - 1u);
    static constexpr U slot_mask = [] {
        U m = 0;
        for (std::size_t b = 0; b < sizeof(U); ++b) m = static_cast<U>(m | (((1u << F) - 1u) << (8 * b)));
        return m;
    }();

    template <int S>
    static QSLM_ALWAYS_INLINE V slot(const V& x, const V& mask) noexcept {
        if constexpr (S == 0) return x & mask;
        else return (x >> (S * F)) & mask;
    }
    // acc[k] += field k's sum held in the slots (fields k0 .. k0 + fields - 1 of the register).
    template <int Fields>
    static QSLM_ALWAYS_INLINE void spread(const V (&slot_sum)[slots], V (&acc)[Fields]) noexcept {
        const V byte(static_cast<U>(0xFF));
        static_for<slots>([&](auto s_) {
            constexpr int s = decltype(s_)::value;
            static_for<static_cast<int>(sizeof(U))>([&](auto j) {
                constexpr int k = decltype(j)::value * slots + s;
                constexpr int shift = 8 * decltype(j)::value;
                if constexpr (shift == 0) acc[k] += slot_sum[s] & byte;
                else if constexpr (shift + 8 == 8 * static_cast<int>(sizeof(U))) acc[k] += slot_sum[s] >> shift;
                else acc[k] += (slot_sum[s] >> shift) & byte;
            });
        });
    }
};

// How far ahead (in 64-byte chunks: 4 KiB) the dense kernel prefetches its weights, into L2
// (locality 2: prefetcht1 / PLDL2KEEP). Measured on weights beyond the caches (four 16384²
// layers in turn, docs/benchmarks.md), two rounds, dense 4-bit / 8-bit read rate as a share of the
// streaming read in the same process: none 51-76 %; 32 chunks to all levels 75-87 %; 64 to all
// levels 85-87 %; 64 to L2 93-109 %; 128 to all levels ~100-110 % (with a slower probe).
inline constexpr std::size_t dense_prefetch_chunks = 64;

// The weights (one register of a chunk at p) of input number i of a call: the i-th listed active
// input (event-driven), or input c0 + i masked by its spike bit (dense).
template <class V, class U, bool Masked>
QSLM_ALWAYS_INLINE V panel_input(const std::uint8_t* p, const std::uint32_t* active, const std::uint64_t* spikes, std::size_t c0,
                                 std::size_t i) noexcept {
    if constexpr (Masked) {
        const std::size_t c = c0 + i;
        const U m = static_cast<U>(U(0) - static_cast<U>((spikes[c / 64] >> (c % 64)) & 1u));
        // The dense kernel streams a block's chunks in order; on weights beyond the caches the
        // hardware prefetcher alone kept it at 51-76 % of the streaming read rate (docs/benchmarks.md).
        // Prefetching a few KiB ahead (past the block's end it only touches the next block) fixes that.
        __builtin_prefetch(p + (c + dense_prefetch_chunks) * panel_chunk_bytes, 0, 2);
        return V::load_unaligned(reinterpret_cast<const U*>(p + c * panel_chunk_bytes)) & V(m);
    } else {
        return V::load_unaligned(reinterpret_cast<const U*>(p + std::size_t{active[i]} * panel_chunk_bytes));
    }
}

// Sums fields K0 .. K0 + Group - 1 of the registers at p (one register of each input's chunk)
// over inputs [0, inputs) into acc (which starts at `start`): byte slots where all fields of a register are
// summed in one pass (the slots gather every field at once; register groups would redo that work
// per group), else one shift and AND per field.
template <class A, class U, int F, int K0, int Group, bool Masked>
QSLM_ALWAYS_INLINE void sum_register_fields(const std::uint8_t* p, const std::uint32_t* active, const std::uint64_t* spikes,
                                            std::size_t c0, std::size_t inputs, const xsimd::batch<U, A>& start,
                                            xsimd::batch<U, A> (&acc)[Group]) noexcept {
    using G = panel_geometry<A, U, F>;
    using V = typename G::V;
    using Slots = byte_slots<A, U, F>;
    constexpr bool use_slots = F < 8 && G::groups == 1;
    for (auto& a : acc) a = start;
    if constexpr (use_slots) {
        const V smask(Slots::slot_mask);
        for (std::size_t i0 = 0; i0 < inputs; i0 += Slots::inputs_per_flush) {
            const std::size_t i1 = i0 + Slots::inputs_per_flush < inputs ? i0 + Slots::inputs_per_flush : inputs;
            V slot_sum[Slots::slots];
            for (auto& s : slot_sum) s = V(U(0));
            for (std::size_t i = i0; i < i1; ++i) {
                const V x = panel_input<V, U, Masked>(p, active, spikes, c0, i);
                static_for<Slots::slots>([&](auto s) { slot_sum[decltype(s)::value] += Slots::template slot<decltype(s)::value>(x, smask); });
            }
            Slots::spread(slot_sum, acc);
        }
    } else {
        const V fmask(static_cast<U>((1u << F) - 1u));
        for (std::size_t i = 0; i < inputs; ++i) {
            const V x = panel_input<V, U, Masked>(p, active, spikes, c0, i);
            static_for<Group>([&](auto k) { acc[k] += G::template field<K0 + decltype(k)::value>(x, fmask); });
        }
    }
}

template <class A, class U, int F, bool Masked>
void panel_accumulate(const PanelWeightsView& w, const std::uint32_t* active, std::size_t n, const std::uint64_t* spikes,
                      std::size_t c0, std::size_t c1, std::size_t count, OutRef out) noexcept {
    using G = panel_geometry<A, U, F>;
    using V = typename G::V;
    const V bias(static_cast<U>(static_cast<std::uint32_t>(w.map.offset) * static_cast<std::uint32_t>(count)));
    const std::size_t cols = w.cols;
    const std::size_t inputs = Masked ? c1 - c0 : n;
    for (std::size_t b = 0; b < w.blocks(); ++b) {
        const std::uint8_t* base = w.data + b * cols * panel_chunk_bytes;
        const std::size_t block_row = b * w.block_rows();
        for (std::size_t v = 0; v < G::registers_per_chunk; ++v) {
            const std::uint8_t* p = base + v * G::register_bytes;
            static_for<G::groups>([&](auto g) {
                constexpr int k0 = decltype(g)::value * G::group;
                const std::size_t first = block_row + static_cast<std::size_t>(k0) * G::words_per_chunk + v * G::lanes;
                if (first >= w.rows) return;  // a padding register: nothing to compute or store
                V acc[G::group];
                sum_register_fields<A, U, F, k0, G::group, Masked>(p, active, spikes, c0, inputs, V(U(0)), acc);
                for (int k = 0; k < G::group; ++k) {
                    const std::size_t row0 = block_row + static_cast<std::size_t>(k0 + k) * G::words_per_chunk + v * G::lanes;
                    if (row0 < w.rows) store_lanes<A, U>(finish(acc[k], w.map, bias), out, row0, w.rows - row0);
                }
            });
        }
    }
}

// The int32 lanes of a finished accumulator register, in row order: int16 lanes sign-extended
// into two registers (low half, high half), int32 lanes as they are.
template <class A, class U>
QSLM_ALWAYS_INLINE void widen_to_i32(const xsimd::batch<U, A>& x, xsimd::batch<std::int32_t, A> (&out)[sizeof(U) == 2 ? 2 : 1]) noexcept {
    using I = xsimd::batch<std::int32_t, A>;
    if constexpr (sizeof(U) == 4) {
        out[0] = xsimd::bitwise_cast<I>(x);
    } else {
#if defined(__AVX512BW__)
        if constexpr (is_avx512<A>) {
            const __m512i v = x;
            out[0] = I(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(v)));
            out[1] = I(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(v, 1)));
            return;
        }
#endif
#if defined(__AVX2__)
        if constexpr (std::is_same_v<A, xsimd::avx2>) {
            const __m256i v = x;
            out[0] = I(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)));
            out[1] = I(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1)));
            return;
        }
#endif
#if defined(__SSE4_1__)
        if constexpr (std::is_same_v<A, xsimd::sse4_2>) {
            const __m128i v = x;
            out[0] = I(_mm_cvtepi16_epi32(v));
            out[1] = I(_mm_cvtepi16_epi32(_mm_srli_si128(v, 8)));
            return;
        }
#endif
#if defined(__ARM_NEON) && defined(__aarch64__)
        if constexpr (std::is_same_v<A, xsimd::neon64>) {
            const int16x8_t v = vreinterpretq_s16_u16(x);
            out[0] = I(vmovl_s16(vget_low_s16(v)));
            out[1] = I(vmovl_high_s16(v));
            return;
        }
#endif
        // Any other arch: through memory (not reached by the archs this file is instantiated for).
        alignas(64) U lanes[xsimd::batch<U, A>::size];
        alignas(64) std::int32_t wide[xsimd::batch<U, A>::size];
        x.store_aligned(lanes);
        for (std::size_t i = 0; i < xsimd::batch<U, A>::size; ++i) wide[i] = static_cast<std::int16_t>(lanes[i]);
        out[0] = I::load_aligned(wide);
        out[1] = I::load_aligned(wide + I::size);
    }
}

// Loads `valid` (< size) floats / int16-as-int32 past which the array ends, zero-filled: the
// last block's registers reach past the last row.
template <class A>
QSLM_ALWAYS_INLINE xsimd::batch<float, A> load_floats(const float* p, std::size_t valid) noexcept {
    using F = xsimd::batch<float, A>;
    if (valid >= F::size) return F::load_unaligned(p);
    alignas(64) float tmp[F::size] = {};
    for (std::size_t i = 0; i < valid; ++i) tmp[i] = p[i];
    return F::load_aligned(tmp);
}
template <class A>
QSLM_ALWAYS_INLINE xsimd::batch<std::int32_t, A> load_i16_as_i32(const std::int16_t* p, std::size_t valid) noexcept {
    using I = xsimd::batch<std::int32_t, A>;
    alignas(64) std::int32_t tmp[I::size] = {};
    const std::size_t m = valid < I::size ? valid : I::size;
    for (std::size_t i = 0; i < m; ++i) tmp[i] = p[i];
    return I::load_aligned(tmp);
}

// One register group of a block for panel_event_scaled: fields K0 .. K0 + Group - 1 of the
// registers at p, whose rows start at row0[k] (k < Group; float register h of field k covers rows
// row0[k] + h * lanes ..). Tail: the block reaches past the last row, so loads and stores are
// clipped to `rows` (the last block only); otherwise everything is unrolled and the outputs stay
// in registers.
template <class A, class U, int F, int K0, int Group, bool Tail, bool UnitScale>
QSLM_ALWAYS_INLINE void scaled_register_group(const PanelWeightsView& w, const std::uint8_t* p, const std::size_t (&row0)[Group],
                                              const std::uint32_t* active, const std::uint32_t* bounds, std::size_t ngroups,
                                              const float* scales, const std::int16_t* zero_points, std::size_t stride,
                                              const float* init, float* y) noexcept {
    using V = xsimd::batch<U, A>;
    using VF = xsimd::batch<float, A>;
    using VI = xsimd::batch<std::int32_t, A>;
    constexpr int halves = sizeof(U) == 2 ? 2 : 1;  // int32 / float registers per accumulator register
    constexpr std::size_t FL = VF::size;
    const std::size_t rows = w.rows;
    // rows still valid from row r on (only consulted when Tail)
    auto valid = [&](std::size_t r) -> std::size_t { return r < rows ? rows - r : 0; };
    auto load_f = [&](const float* base, std::size_t r) {
        if constexpr (Tail) return load_floats<A>(base + r, valid(r));
        else return VF::load_unaligned(base + r);
    };
    VF out[Group][halves];
    static_for<Group>([&](auto k_) {
        constexpr int k = decltype(k_)::value;
        static_for<halves>([&](auto h_) {
            const std::size_t r = row0[k] + decltype(h_)::value * FL;
            out[k][decltype(h_)::value] = init != nullptr ? load_f(init, r) : VF(0.0f);
        });
    });
    for (std::size_t g = 0; g < ngroups; ++g) {
        const std::uint32_t n = bounds[g + 1] - bounds[g];
        // level sum = map.scale * (field sum) + map.offset * n: with a unit map scale the sums
        // start at the offset term, which saves the finishing add per register.
        const V bias(static_cast<U>(static_cast<std::uint32_t>(w.map.offset) * n));
        V acc[Group];
        sum_register_fields<A, U, F, K0, Group, false>(p, active + bounds[g], nullptr, 0, n, UnitScale ? bias : V(U(0)), acc);
        const float* s = scales + g * stride;
        static_for<Group>([&](auto k_) {
            constexpr int k = decltype(k_)::value;
            VI sums[halves];
            if constexpr (UnitScale) widen_to_i32<A, U>(acc[k], sums);
            else widen_to_i32<A, U>(finish(acc[k], w.map, bias), sums);
            static_for<halves>([&](auto h_) {
                constexpr int h = decltype(h_)::value;
                const std::size_t r = row0[k] + h * FL;
                VI centred = sums[h];
                if (zero_points != nullptr)
                    centred = centred - load_i16_as_i32<A>(zero_points + g * stride + r, Tail ? valid(r) : FL) * VI(static_cast<std::int32_t>(n));
                out[k][h] = out[k][h] + load_f(s, r) * xsimd::batch_cast<float>(centred);
            });
        });
    }
    static_for<Group>([&](auto k_) {
        constexpr int k = decltype(k_)::value;
        static_for<halves>([&](auto h_) {
            constexpr int h = decltype(h_)::value;
            const std::size_t r = row0[k] + h * FL;
            if (!Tail || valid(r) >= FL) {
                out[k][h].store_unaligned(y + r);
            } else {
                alignas(64) float tmp[FL];
                out[k][h].store_aligned(tmp);
                for (std::size_t i = 0; i < valid(r); ++i) y[r + i] = tmp[i];
            }
        });
    });
}

// The scaled event-driven kernel (contract: scalar::event_scaled). Per register group of a block
// the float outputs stay in registers across all scale groups: each group's integer sums are
// finished, widened to int32, converted and scaled in registers, so the per-(group, row) work is
// a handful of vector operations and no integer sums go to memory. The float operations per row
// (init, then y + s * float(centred) per group in order, multiply and add unfused: the TUs are
// built -ffp-contract=off) are the scalar walk's, hence the same bits.
template <class A, class U, int F>
void panel_event_scaled(const PanelWeightsView& w, const std::uint32_t* active, const std::uint32_t* bounds, std::size_t ngroups,
                        const float* scales, const std::int16_t* zero_points, std::size_t stride, const float* init,
                        float* y) noexcept {
    using G = panel_geometry<A, U, F>;
    static_assert((sizeof(U) == 2 ? 2 : 1) * xsimd::batch<float, A>::size == G::lanes, "an accumulator register widens into whole float registers");
    const std::size_t rows = w.rows, cols = w.cols;
    for (std::size_t b = 0; b < w.blocks(); ++b) {
        const std::uint8_t* base = w.data + b * cols * panel_chunk_bytes;
        const std::size_t block_row = b * w.block_rows();
        for (std::size_t v = 0; v < G::registers_per_chunk; ++v) {
            const std::uint8_t* p = base + v * G::register_bytes;
            static_for<G::groups>([&](auto rg) {
                constexpr int k0 = decltype(rg)::value * G::group;
                std::size_t row0[G::group];
                for (int k = 0; k < G::group; ++k) row0[k] = block_row + static_cast<std::size_t>(k0 + k) * G::words_per_chunk + v * G::lanes;
                if (row0[0] >= rows) return;  // a padding register
                auto run = [&](auto tail, auto unit) {
                    scaled_register_group<A, U, F, k0, G::group, decltype(tail)::value, decltype(unit)::value>(
                        w, p, row0, active, bounds, ngroups, scales, zero_points, stride, init, y);
                };
                const bool tail = row0[G::group - 1] + G::lanes > rows;
                if (w.map.scale == 1) {
                    if (tail) run(std::true_type{}, std::true_type{});
                    else run(std::false_type{}, std::true_type{});
                } else {
                    if (tail) run(std::true_type{}, std::false_type{});
                    else run(std::false_type{}, std::false_type{});
                }
            });
        }
    }
}

template <class A, class U, int F>
void panel_temporal(const PanelWeightsView& w, const std::uint64_t* tw, std::size_t steps, const std::uint32_t* active,
                    std::size_t n, const std::uint32_t* counts, OutRef out, std::size_t step_stride) noexcept {
    using G0 = panel_geometry<A, U, F>;
    using V = typename G0::V;
    constexpr std::size_t L = G0::lanes;
    // The per-step accumulators live in L1 (up to 64 steps): at most 8 fields per pass keeps the
    // buffer at 64 x 8 registers (32 KiB for AVX-512).
    constexpr int group = G0::fields < 8 ? G0::fields : 8;
    constexpr int groups = G0::fields / group;
    alignas(64) U buf[max_temporal_steps * group * L];
    const V fmask(static_cast<U>((1u << F) - 1u));
    const std::size_t cols = w.cols;
    for (std::size_t b = 0; b < w.blocks(); ++b) {
        const std::uint8_t* base = w.data + b * cols * panel_chunk_bytes;
        const std::size_t block_row = b * w.block_rows();
        for (std::size_t v = 0; v < G0::registers_per_chunk; ++v) {
            const std::uint8_t* p = base + v * G0::register_bytes;
            static_for<groups>([&](auto g) {
                constexpr int k0 = decltype(g)::value * group;
                const std::size_t first = block_row + static_cast<std::size_t>(k0) * G0::words_per_chunk + v * L;
                if (first >= w.rows) return;
                for (std::size_t i = 0; i < steps * group * L; ++i) buf[i] = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    const std::uint32_t c = active[i];
                    // One load and unpack of the weights serves every step at which input c fires.
                    const V x = V::load_unaligned(reinterpret_cast<const U*>(p + std::size_t{c} * panel_chunk_bytes));
                    V y[group];
                    static_for<group>([&](auto k) { y[k] = G0::template field<k0 + decltype(k)::value>(x, fmask); });
                    for (std::uint64_t bits = tw[c]; bits != 0; bits &= bits - 1) {
                        U* row = buf + static_cast<std::size_t>(std::countr_zero(bits)) * group * L;
                        static_for<group>([&](auto k) {
                            constexpr int kk = decltype(k)::value;
                            (V::load_aligned(row + kk * L) + y[kk]).store_aligned(row + kk * L);
                        });
                    }
                }
                for (std::size_t t = 0; t < steps; ++t) {
                    const V bias(static_cast<U>(static_cast<std::uint32_t>(w.map.offset) * counts[t]));
                    const OutRef step = out.offset(t * step_stride);
                    for (int k = 0; k < group; ++k) {
                        const std::size_t row0 = block_row + static_cast<std::size_t>(k0 + k) * G0::words_per_chunk + v * L;
                        if (row0 < w.rows)
                            store_lanes<A, U>(finish(V::load_aligned(buf + (t * group + static_cast<std::size_t>(k)) * L), w.map, bias),
                                              step, row0, w.rows - row0);
                    }
                }
            });
        }
    }
}

// Bytes of x replaced by their popcounts (0..8), SWAR style on 64-bit lanes.
template <class V>
QSLM_ALWAYS_INLINE V popcount_bytes(V x) noexcept {
    const V m1(std::uint64_t{0x5555555555555555}), m2(std::uint64_t{0x3333333333333333}), m4(std::uint64_t{0x0F0F0F0F0F0F0F0F});
    x = x - ((x >> 1) & m1);
    x = (x & m2) + ((x >> 2) & m2);
    return (x + (x >> 4)) & m4;
}

#if defined(__SSSE3__)
// (v)pshufb on x86: byte i of the result is table[idx[i] & 15] within idx's 128-bit lane.
template <class A>
QSLM_ALWAYS_INLINE xsimd::batch<std::uint8_t, A> shuffle_bytes(const xsimd::batch<std::uint8_t, A>& table,
                                                              const xsimd::batch<std::uint8_t, A>& idx) noexcept {
    using B8 = xsimd::batch<std::uint8_t, A>;
#  if defined(__AVX512BW__)
    if constexpr (is_avx512<A>) return B8(_mm512_shuffle_epi8(table, idx));
#  endif
#  if defined(__AVX2__)
    if constexpr (std::is_same_v<A, xsimd::avx2>) return B8(_mm256_shuffle_epi8(table, idx));
#  endif
    if constexpr (std::is_same_v<A, xsimd::sse4_2>) return B8(_mm_shuffle_epi8(table, idx));
    return table;  // not reached: every x86 arch this file is instantiated for is handled above
}
#endif

// Byte-wise popcount of a register of bytes: AVX-512 BITALG's vpopcntb where the TU has it, NEON's
// cnt, a 16-entry nibble table (vpshufb) on the other x86 archs, else SWAR on 64-bit lanes.
template <class A>
QSLM_ALWAYS_INLINE xsimd::batch<std::uint8_t, A> popcount_u8(const xsimd::batch<std::uint8_t, A>& x) noexcept {
    using B8 = xsimd::batch<std::uint8_t, A>;
#if defined(__AVX512BITALG__)
    if constexpr (is_avx512<A>) return B8(_mm512_popcnt_epi8(x));
#endif
#if defined(__ARM_NEON) && defined(__aarch64__)
    if constexpr (std::is_same_v<A, xsimd::neon64>) return B8(vcntq_u8(x));
#endif
#if defined(__SSSE3__)
    if constexpr (is_avx512<A> || std::is_same_v<A, xsimd::avx2> || std::is_same_v<A, xsimd::sse4_2>) {
        alignas(64) static constexpr std::uint8_t nibble_popcount[64] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
        const B8 table = B8::load_aligned(nibble_popcount), low(std::uint8_t{0x0F});
        return shuffle_bytes<A>(table, x & low) + shuffle_bytes<A>(table, (x >> 4) & low);
    }
#endif
    using B64 = xsimd::batch<std::uint64_t, A>;
    return xsimd::bitwise_cast<B8>(popcount_bytes(xsimd::bitwise_cast<B64>(x)));
}

// Bit-plane kernel (layout: bitplane_weights.hpp). The nonzero spike bytes are listed once; then
// for a pass of 4 registers of rows (64..256 rows) and one plane, every listed byte costs one
// broadcast and, per register, a load, an AND, a byte popcount and a byte add. The byte counters
// take at most 31 inputs bytes (31 x 8 = 248 <= 255) before they are folded into 16-bit
// counters (even/odd bytes), which take a whole list (<= 1024 x 8 = 8192); after each plane the
// 16-bit counters are shifted by the plane and added to 32-bit totals in L1. The scalar
// reference instead widens every popcount to 32 bits, and that is what it pays for.
template <class A>
void bitplane_impl(const BitplaneWeightsView& w, const std::uint64_t* spikes, std::size_t w0, std::size_t w1, std::size_t count,
                   OutRef out) noexcept {
    using B8 = xsimd::batch<std::uint8_t, A>;
    using B16 = xsimd::batch<std::uint16_t, A>;
    using B32 = xsimd::batch<std::uint32_t, A>;
    constexpr std::size_t RB = B8::size;  // rows per register: one byte lane each
    constexpr std::size_t regs_per_tile = bitplane_tile_rows / RB;
    constexpr std::size_t NR = regs_per_tile > 4 ? regs_per_tile : 4;  // registers per pass
    constexpr std::size_t tiles_per_pass = NR / regs_per_tile;
    constexpr std::size_t Q = B32::size;  // = RB / 4
    constexpr std::size_t list_capacity = 1024;
    std::uint32_t list_offset[list_capacity];  // byte index * 64: the stripe's offset within a tile-plane
    std::uint8_t list_bits[list_capacity];
    alignas(64) std::uint32_t total[NR * RB];  // per register: rows 4q, 4q+2, 4q+1, 4q+3 (see the fold)
    const std::size_t tiles = w.tiles(), nb = w.spike_bytes();
    const std::uint32_t bias = static_cast<std::uint32_t>(w.map.offset) * static_cast<std::uint32_t>(count);
    std::size_t word = w0;
    for (bool first = true;; first = false) {
        std::size_t n = 0;
        for (; word < w1 && n + 8 <= list_capacity; ++word)
            for (std::uint64_t s = spikes[word]; s != 0;) {
                const int k = std::countr_zero(s) / 8;
                const std::size_t j = word * 8 + static_cast<std::size_t>(k);
                if (j < nb) {  // bits past cols (none in a well-formed spike vector) have no weights
                    list_offset[n] = static_cast<std::uint32_t>(j * bitplane_tile_rows);
                    list_bits[n++] = static_cast<std::uint8_t>(s >> (8 * k));
                }
                s &= ~(std::uint64_t{0xFF} << (8 * k));
            }
        const OutRef o{out.i16, out.i32, out.add || !first};
        const std::uint32_t add_bias = first ? bias : 0u;
        for (std::size_t t0 = 0; t0 < tiles; t0 += tiles_per_pass) {
            for (auto& t : total) t = 0;
            for (int p = 0; p < w.bits; ++p) {
                // A pass past the last tile re-reads the last tile (cached) and discards it: no branch in the loop.
                const std::uint8_t* base[tiles_per_pass];
                for (std::size_t k = 0; k < tiles_per_pass; ++k) base[k] = w.stripe(t0 + k < tiles ? t0 + k : tiles - 1, p, 0);
                B8 acc[NR];
                B16 even[NR], odd[NR];
                for (std::size_t r = 0; r < NR; ++r) {
                    acc[r] = B8(std::uint8_t{0});
                    even[r] = odd[r] = B16(std::uint16_t{0});
                }
                const B16 low_byte(std::uint16_t{0x00FF});
                auto fold = [&] {
                    for (std::size_t r = 0; r < NR; ++r) {
                        const B16 x = xsimd::bitwise_cast<B16>(acc[r]);
                        even[r] += x & low_byte;
                        odd[r] += x >> 8;
                        acc[r] = B8(std::uint8_t{0});
                    }
                };
                int pending = 0;
                for (std::size_t e = 0; e < n; ++e) {
                    const B8 s(list_bits[e]);
                    const std::size_t off = list_offset[e];
                    static_for<static_cast<int>(NR)>([&](auto r_) {
                        constexpr std::size_t r = decltype(r_)::value;
                        acc[r] += popcount_u8<A>(B8::load_unaligned(base[r / regs_per_tile] + off + (r % regs_per_tile) * RB) & s);
                    });
                    if (++pending == 31) {
                        fold();
                        pending = 0;
                    }
                }
                fold();
                // 16-bit lane q of `even` is row 2q; read as 32-bit lanes, lane q holds rows 4q
                // (low half) and 4q+2 (high half); `odd` likewise rows 4q+1 and 4q+3.
                const B32 low_half(std::uint32_t{0xFFFF});
                for (std::size_t r = 0; r < NR; ++r) {
                    const B32 e32 = xsimd::bitwise_cast<B32>(even[r]), o32 = xsimd::bitwise_cast<B32>(odd[r]);
                    std::uint32_t* T = total + r * RB;
                    (B32::load_aligned(T) + ((e32 & low_half) << p)).store_aligned(T);
                    (B32::load_aligned(T + Q) + ((e32 >> 16) << p)).store_aligned(T + Q);
                    (B32::load_aligned(T + 2 * Q) + ((o32 & low_half) << p)).store_aligned(T + 2 * Q);
                    (B32::load_aligned(T + 3 * Q) + ((o32 >> 16) << p)).store_aligned(T + 3 * Q);
                }
            }
            constexpr std::size_t row_of_set[4] = {0, 2, 1, 3};
            for (std::size_t r = 0; r < NR; ++r) {
                const std::size_t tile = t0 + r / regs_per_tile;
                if (tile >= tiles) break;
                const std::size_t row0 = tile * bitplane_tile_rows + (r % regs_per_tile) * RB;
                for (std::size_t set = 0; set < 4; ++set)
                    for (std::size_t q = 0; q < Q; ++q) {
                        const std::size_t row = row0 + 4 * q + row_of_set[set];
                        if (row < w.rows)
                            o.put(row, static_cast<std::int32_t>(static_cast<std::uint32_t>(w.map.scale) * total[r * RB + set * Q + q] + add_bias));
                    }
            }
        }
        if (word >= w1) break;
    }
}

#if defined(__SSSE3__) || (defined(__ARM_NEON) && defined(__aarch64__))
// expand_shuffle[m]: the byte shuffle that moves the packed int16 levels of an 8-row group with
// nonzero-row mask m into their rows' lanes (lane i takes level popcount(m & (2^i - 1)) when bit
// i is set); 0x80 zeroes a lane (pshufb: top bit set; tbl: index out of range).
inline constexpr auto expand_shuffle = [] {
    std::array<std::array<std::uint8_t, 16>, 256> t{};
    for (unsigned m = 0; m < 256; ++m) {
        unsigned packed = 0;
        for (unsigned i = 0; i < 8; ++i) {
            const bool set = (m >> i) & 1u;
            t[m][2 * i] = set ? static_cast<std::uint8_t>(2 * packed) : std::uint8_t{0x80};
            t[m][2 * i + 1] = set ? static_cast<std::uint8_t>(2 * packed + 1) : std::uint8_t{0x80};
            packed += set;
        }
    }
    return t;
}();

// Dual-sparse with a byte shuffle (SSE4.2 and AVX2 use the 128-bit form, NEON tbl): one tile of
// 64 rows per pass, eight int16 registers of 8 rows; every active input costs, per 8-row group,
// a load of 8 packed levels, a table load, a shuffle and an add. int16 lanes hold any 128 inputs
// exactly (|level| <= 255), so every 128 inputs they are widened into 32-bit totals.
// A template on the arch although the body is the same: each per-arch TU must get its own copy,
// compiled with its own flags (one inline function would be one symbol shared by all of them).
template <class A>
void dual_sparse_shuffle(const SparseWeightsView& w, const std::uint32_t* active, std::size_t n, OutRef out) noexcept {
#  if defined(__SSSE3__)
    using R = __m128i;
    const auto zero = [] { return _mm_setzero_si128(); };
    const auto expand = [](const std::int16_t* src, unsigned m8) {
        return _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)),
                                _mm_loadu_si128(reinterpret_cast<const __m128i*>(expand_shuffle[m8].data())));
    };
    const auto add = [](R a, R b) { return _mm_add_epi16(a, b); };
    const auto widen_into = [](R a, std::int32_t* dst) {
        const __m128i lo = _mm_cvtepi16_epi32(a), hi = _mm_cvtepi16_epi32(_mm_srli_si128(a, 8));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_add_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dst)), lo));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 4), _mm_add_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dst + 4)), hi));
    };
#  else
    using R = int16x8_t;
    const auto zero = [] { return vdupq_n_s16(0); };
    const auto expand = [](const std::int16_t* src, unsigned m8) {
        return vreinterpretq_s16_u8(vqtbl1q_u8(vld1q_u8(reinterpret_cast<const std::uint8_t*>(src)), vld1q_u8(expand_shuffle[m8].data())));
    };
    const auto add = [](R a, R b) { return vaddq_s16(a, b); };
    const auto widen_into = [](R a, std::int32_t* dst) {
        vst1q_s32(dst, vaddq_s32(vld1q_s32(dst), vmovl_s16(vget_low_s16(a))));
        vst1q_s32(dst + 4, vaddq_s32(vld1q_s32(dst + 4), vmovl_high_s16(a)));
    };
#  endif
    constexpr std::size_t inputs_per_widen = 128;
    const std::size_t tiles = w.tiles();
    for (std::size_t t = 0; t < tiles; ++t) {
        std::int32_t total[sparse_tile_rows] = {};
        for (std::size_t i0 = 0; i0 < n; i0 += inputs_per_widen) {
            const std::size_t i1 = i0 + inputs_per_widen < n ? i0 + inputs_per_widen : n;
            R acc[8];
            for (auto& a : acc) a = zero();
            for (std::size_t i = i0; i < i1; ++i) {
                const std::size_t at = std::size_t{active[i]} * tiles + t;
                const std::uint64_t m = w.mask[at];
                if (m == 0) continue;
                const std::int16_t* lv = w.level + w.start[at];
                static_for<8>([&](auto g_) {
                    constexpr int g = decltype(g_)::value;
                    const std::size_t before = g == 0 ? 0 : static_cast<std::size_t>(std::popcount(m & ((std::uint64_t{1} << (8 * g)) - 1u)));
                    acc[g] = add(acc[g], expand(lv + before, static_cast<unsigned>((m >> (8 * g)) & 0xFFu)));
                });
            }
            for (int g = 0; g < 8; ++g) widen_into(acc[g], total + 8 * g);
        }
        const std::size_t r0 = t * sparse_tile_rows;
        const std::size_t len = w.rows - r0 < sparse_tile_rows ? w.rows - r0 : sparse_tile_rows;
        for (std::size_t i = 0; i < len; ++i) out.put(r0 + i, total[i]);
    }
}
#endif

// Dual-sparse kernel (layout: sparse_weights.hpp). AVX-512: for a pass of 4 tiles (256 rows, 16
// int32 accumulator registers) every active input costs, per tile, four 16-row steps of: load 16
// packed levels, widen to int32, vpexpandd them into the lanes of their rows (the mask's 16
// bits), add. The levels' offsets come from popcounts of the mask, independent of each other.
// SSE4.2, AVX2 and NEON have no expand instruction: a byte shuffle (pshufb / tbl) with a
// 256-entry table does it for 8 rows at a time (dual_sparse_shuffle below).
template <class A>
void dual_sparse_impl(const SparseWeightsView& w, const std::uint32_t* active, std::size_t n, OutRef out) noexcept {
#if defined(__AVX512F__)
    if constexpr (is_avx512<A>) {
        using V = xsimd::batch<std::uint32_t, A>;
        constexpr std::size_t K = 4;
        const std::size_t tiles = w.tiles();
        for (std::size_t t0 = 0; t0 < tiles; t0 += K) {
            const std::size_t live = tiles - t0 < K ? tiles - t0 : K;
            __m512i acc[K][4];
            for (auto& tile : acc)
                for (auto& a : tile) a = _mm512_setzero_si512();
            for (std::size_t i = 0; i < n; ++i) {
                const std::size_t at = std::size_t{active[i]} * tiles + t0;
                static_for<static_cast<int>(K)>([&](auto k_) {
                    constexpr std::size_t k = decltype(k_)::value;
                    if (k >= live) return;
                    const std::uint64_t m = w.mask[at + k];
                    const std::int16_t* lv = w.level + w.start[at + k];
                    const std::size_t o1 = static_cast<std::size_t>(std::popcount(m & 0xFFFFu));
                    const std::size_t o2 = static_cast<std::size_t>(std::popcount(m & 0xFFFFFFFFu));
                    const std::size_t o3 = static_cast<std::size_t>(std::popcount(m & 0xFFFFFFFFFFFFu));
                    const std::size_t offsets[4] = {0, o1, o2, o3};
                    static_for<4>([&](auto q_) {
                        constexpr int q = decltype(q_)::value;
                        const auto lanes = static_cast<__mmask16>(m >> (16 * q));
                        const __m512i v = _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lv + offsets[q])));
                        acc[k][q] = _mm512_add_epi32(acc[k][q], _mm512_maskz_expand_epi32(lanes, v));
                    });
                });
            }
            for (std::size_t k = 0; k < live; ++k)
                for (std::size_t q = 0; q < 4; ++q) {
                    const std::size_t row0 = (t0 + k) * sparse_tile_rows + q * 16;
                    if (row0 < w.rows) store_lanes<A, std::uint32_t>(V(acc[k][q]), out, row0, w.rows - row0);
                }
        }
        return;
    }
#endif
#if defined(__SSSE3__) || (defined(__ARM_NEON) && defined(__aarch64__))
    if constexpr (std::is_same_v<A, xsimd::sse4_2> || std::is_same_v<A, xsimd::avx2> || std::is_same_v<A, xsimd::neon64>) {
        dual_sparse_shuffle<A>(w, active, n, out);
        return;
    }
#endif
    scalar::dual_sparse(w, active, n, out);
}

// positions_of_byte[b] = the positions of the set bits of b, ascending, padded with zeros.
inline constexpr auto positions_of_byte = [] {
    std::array<std::array<std::uint32_t, 8>, 256> t{};
    for (unsigned b = 0; b < 256; ++b) {
        unsigned k = 0;
        for (unsigned i = 0; i < 8; ++i)
            if ((b >> i) & 1u) t[b][k++] = i;
    }
    return t;
}();

template <class A>
std::size_t active_indices_impl(const std::uint64_t* words, std::size_t nwords, std::uint32_t base, std::uint32_t* out) noexcept {
    std::size_t n = 0;
#if defined(__AVX512F__)
    if constexpr (is_avx512<A>) {
        // Compress-store: the lanes of an index vector whose bit is set are written contiguously.
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (std::size_t w = 0; w < nwords; ++w) {
            const std::uint64_t bits = words[w];
            if (bits == 0) continue;
            for (unsigned q = 0; q < 4; ++q) {
                const auto m = static_cast<__mmask16>(bits >> (16 * q));
                if (m == 0) continue;
                const __m512i idx = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(base + w * 64 + 16 * q)));
                _mm512_mask_compressstoreu_epi32(out + n, m, idx);
                n += static_cast<std::size_t>(std::popcount(static_cast<unsigned>(m)));
            }
        }
        return n;
    }
#endif
    // Table-driven: per byte, store the 8 precomputed positions (plus the offset) and advance by
    // the byte's popcount; the over-written tail is inside `out` (it holds 64 * nwords).
    using V = xsimd::batch<std::uint32_t, A>;
    constexpr std::size_t L = V::size;
    for (std::size_t w = 0; w < nwords; ++w) {
        const std::uint64_t bits = words[w];
        if (bits == 0) continue;
        for (unsigned byte = 0; byte < 8; ++byte) {
            const unsigned b = static_cast<unsigned>(bits >> (8 * byte)) & 0xFFu;
            if (b == 0) continue;
            const V off(static_cast<std::uint32_t>(base + w * 64 + 8 * byte));
            for (std::size_t i = 0; i < 8; i += L) (V::load_unaligned(positions_of_byte[b].data() + i) + off).store_unaligned(out + n + i);
            n += static_cast<std::size_t>(std::popcount(b));
        }
    }
    return n;
}

// ---- the per-arch entry points: pick the compile-time variant for (width, field bits) ----

template <class A, class Fn>
QSLM_ALWAYS_INLINE void with_panel_types(const PanelWeightsView& w, Fn&& fn) noexcept {
    auto by_field = [&](auto lane) {
        using U = typename decltype(lane)::type;
        switch (w.field_bits) {
            case 1: fn(std::type_identity<U>{}, std::integral_constant<int, 1>{}); break;
            case 2: fn(std::type_identity<U>{}, std::integral_constant<int, 2>{}); break;
            case 4: fn(std::type_identity<U>{}, std::integral_constant<int, 4>{}); break;
            default: fn(std::type_identity<U>{}, std::integral_constant<int, 8>{}); break;
        }
    };
    if (w.width == AccumulatorWidth::int16) by_field(std::type_identity<std::uint16_t>{});
    else by_field(std::type_identity<std::uint32_t>{});
}

template <class Arch>
void simd_kernels<Arch>::dense(const PanelWeightsView& w, const std::uint64_t* spikes, std::size_t c0, std::size_t c1, OutRef out) noexcept {
    std::size_t count = 0;
    for (std::size_t c = c0; c < c1; ++c) count += (spikes[c / 64] >> (c % 64)) & 1u;
    with_panel_types<Arch>(w, [&](auto u, auto f) {
        panel_accumulate<Arch, typename decltype(u)::type, decltype(f)::value, true>(w, nullptr, 0, spikes, c0, c1, count, out);
    });
}

template <class Arch>
void simd_kernels<Arch>::event(const PanelWeightsView& w, const std::uint32_t* active, std::size_t n, OutRef out) noexcept {
    with_panel_types<Arch>(w, [&](auto u, auto f) {
        panel_accumulate<Arch, typename decltype(u)::type, decltype(f)::value, false>(w, active, n, nullptr, 0, 0, n, out);
    });
}

template <class Arch>
void simd_kernels<Arch>::event_scaled(const PanelWeightsView& w, const std::uint32_t* active, const std::uint32_t* bounds,
                                      std::size_t ngroups, const float* scales, const std::int16_t* zero_points, std::size_t stride,
                                      const float* init, float* y) noexcept {
    with_panel_types<Arch>(w, [&](auto u, auto f) {
        panel_event_scaled<Arch, typename decltype(u)::type, decltype(f)::value>(w, active, bounds, ngroups, scales, zero_points, stride, init, y);
    });
}

template <class Arch>
void simd_kernels<Arch>::temporal(const PanelWeightsView& w, const std::uint64_t* temporal_words, std::size_t steps,
                                  const std::uint32_t* active, std::size_t n, const std::uint32_t* counts, OutRef out,
                                  std::size_t step_stride) noexcept {
    with_panel_types<Arch>(w, [&](auto u, auto f) {
        panel_temporal<Arch, typename decltype(u)::type, decltype(f)::value>(w, temporal_words, steps, active, n, counts, out, step_stride);
    });
}

template <class Arch>
void simd_kernels<Arch>::bitplane(const BitplaneWeightsView& w, const std::uint64_t* spikes, std::size_t w0, std::size_t w1,
                                  std::size_t n, OutRef out) noexcept {
    bitplane_impl<Arch>(w, spikes, w0, w1, n, out);
}

template <class Arch>
void simd_kernels<Arch>::dual_sparse(const SparseWeightsView& w, const std::uint32_t* active, std::size_t n, OutRef out) noexcept {
    dual_sparse_impl<Arch>(w, active, n, out);
}

template <class Arch>
std::size_t simd_kernels<Arch>::active_indices(const std::uint64_t* words, std::size_t nwords, std::uint32_t base,
                                               std::uint32_t* out) noexcept {
    return active_indices_impl<Arch>(words, nwords, base, out);
}

}  // namespace qslm::kernels::detail
