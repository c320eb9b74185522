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
#include "qslm/spike/spike_train.hpp"

#if defined(__AVX512F__)
#  include <immintrin.h>
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

// The weights (one register of a chunk at p) of input number i of a call: the i-th listed active
// input (event-driven), or input c0 + i masked by its spike bit (dense).
template <class V, class U, bool Masked>
QSLM_ALWAYS_INLINE V panel_input(const std::uint8_t* p, const std::uint32_t* active, const std::uint64_t* spikes, std::size_t c0,
                                 std::size_t i) noexcept {
    if constexpr (Masked) {
        const std::size_t c = c0 + i;
        const U m = static_cast<U>(U(0) - static_cast<U>((spikes[c / 64] >> (c % 64)) & 1u));
        return V::load_unaligned(reinterpret_cast<const U*>(p + c * panel_chunk_bytes)) & V(m);
    } else {
        return V::load_unaligned(reinterpret_cast<const U*>(p + std::size_t{active[i]} * panel_chunk_bytes));
    }
}

template <class A, class U, int F, bool Masked>
void panel_accumulate(const PanelWeightsView& w, const std::uint32_t* active, std::size_t n, const std::uint64_t* spikes,
                      std::size_t c0, std::size_t c1, std::size_t count, OutRef out) noexcept {
    using G = panel_geometry<A, U, F>;
    using V = typename G::V;
    using Slots = byte_slots<A, U, F>;
    // Byte slots when all fields of a register are summed in one pass (the slots gather every
    // field at once; register groups would redo that work per group).
    constexpr bool use_slots = F < 8 && G::groups == 1;
    const V fmask(static_cast<U>((1u << F) - 1u));
    const V smask(Slots::slot_mask);
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
                for (auto& a : acc) a = V(U(0));
                if constexpr (use_slots) {
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
                    for (std::size_t i = 0; i < inputs; ++i) {
                        const V x = panel_input<V, U, Masked>(p, active, spikes, c0, i);
                        static_for<G::group>([&](auto k) { acc[k] += G::template field<k0 + decltype(k)::value>(x, fmask); });
                    }
                }
                for (int k = 0; k < G::group; ++k) {
                    const std::size_t row0 = block_row + static_cast<std::size_t>(k0 + k) * G::words_per_chunk + v * G::lanes;
                    if (row0 < w.rows) store_lanes<A, U>(finish(acc[k], w.map, bias), out, row0, w.rows - row0);
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
// Sum of the 8 bytes of each 64-bit lane.
template <class V>
QSLM_ALWAYS_INLINE V sum_bytes(V x) noexcept {
    const V b8(std::uint64_t{0x00FF00FF00FF00FF}), b16(std::uint64_t{0x0000FFFF0000FFFF}), b32(std::uint64_t{0x00000000FFFFFFFF});
    x = (x & b8) + ((x >> 8) & b8);
    x = (x & b16) + ((x >> 16) & b16);
    return (x & b32) + (x >> 32);
}

template <class A>
void bitplane_impl(const BitplaneWeightsView& w, const std::uint64_t* spikes, std::size_t w0, std::size_t w1, std::size_t count,
                   OutRef out) noexcept {
    using V = xsimd::batch<std::uint64_t, A>;
    constexpr std::size_t L = V::size;
    constexpr int unroll = 4;                      // rows per step: 4 registers (padded_rows is a multiple of 32)
    constexpr std::size_t step_rows = L * unroll;
    const std::uint32_t bias = static_cast<std::uint32_t>(w.map.offset) * static_cast<std::uint32_t>(count);
    for (std::size_t r0 = 0; r0 < w.rows; r0 += step_rows) {
        V total[unroll];
        for (auto& t : total) t = V(std::uint64_t{0});
        for (int p = 0; p < w.bits; ++p) {
            V acc[unroll], bytes[unroll];
            for (int u = 0; u < unroll; ++u) acc[u] = bytes[u] = V(std::uint64_t{0});
            int pending = 0;
            for (std::size_t word = w0; word < w1; ++word) {
                const std::uint64_t s = spikes[word];
                if (s == 0) continue;  // a silent stripe contributes nothing
                const V sv(s);
                const std::uint64_t* stripe = w.stripe(p, word) + r0;
#if defined(__AVX512VPOPCNTDQ__)
                if constexpr (is_avx512<A>) {
                    static_for<unroll>([&](auto u) {
                        const __m512i x = _mm512_and_si512(_mm512_loadu_si512(stripe + decltype(u)::value * L), sv);
                        acc[decltype(u)::value] += V(_mm512_popcnt_epi64(x));
                    });
                    continue;
                }
#endif
                static_for<unroll>([&](auto u) {
                    constexpr int k = decltype(u)::value;
                    bytes[k] += popcount_bytes(V::load_unaligned(stripe + k * L) & sv);
                });
                if (++pending == 31) {  // bytes hold at most 31 * 8 = 248: fold before they can wrap
                    for (int u = 0; u < unroll; ++u) {
                        acc[u] += sum_bytes(bytes[u]);
                        bytes[u] = V(std::uint64_t{0});
                    }
                    pending = 0;
                }
            }
            for (int u = 0; u < unroll; ++u) total[u] += (acc[u] + sum_bytes(bytes[u])) << p;
        }
        for (int u = 0; u < unroll; ++u) {
            alignas(64) std::uint64_t tmp[L];
            total[u].store_aligned(tmp);
            for (std::size_t i = 0; i < L; ++i) {
                const std::size_t r = r0 + static_cast<std::size_t>(u) * L + i;
                if (r < w.rows)
                    out.put(r, static_cast<std::int32_t>(static_cast<std::uint32_t>(w.map.scale) * static_cast<std::uint32_t>(tmp[i]) + bias));
            }
        }
    }
}

template <class A>
void dual_sparse_impl(const SparseWeightsView& w, const std::uint32_t* active, std::size_t n, OutRef out) noexcept {
    if (!out.add)
        for (std::size_t r = 0; r < w.rows; ++r) out.put(r, 0);
#if defined(__AVX512F__)
    if constexpr (is_avx512<A>) {
        if (out.i32) {
            // Rows of one column are distinct, so gather-add-scatter has no conflicts.
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint32_t c = active[i];
                std::uint32_t e = w.col_start[c];
                const std::uint32_t end = w.col_start[c + 1];
                for (; e + 16 <= end; e += 16) {
                    const __m512i idx = _mm512_loadu_si512(w.row_index + e);
                    const __m512i lv = _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.level + e)));
                    const __m512i sum = _mm512_add_epi32(_mm512_i32gather_epi32(idx, out.i32, 4), lv);
                    _mm512_i32scatter_epi32(out.i32, idx, sum, 4);
                }
                for (; e < end; ++e) out.i32[w.row_index[e]] += w.level[e];
            }
            return;
        }
    }
#endif
    // Without a scatter instruction the update is a scalar read-modify-write per nonzero
    // (modulo 2^16 for int16 outputs: exact, see accumulator.hpp).
    auto walk = [&](auto* acc) {
        using T = std::remove_pointer_t<decltype(acc)>;
        using UT = std::make_unsigned_t<T>;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t c = active[i];
            const std::uint32_t end = w.col_start[c + 1];
            for (std::uint32_t e = w.col_start[c]; e < end; ++e)
                acc[w.row_index[e]] = static_cast<T>(static_cast<UT>(static_cast<UT>(acc[w.row_index[e]]) + static_cast<UT>(w.level[e])));
        }
    };
    if (out.i16) walk(out.i16);
    else walk(out.i32);
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
