#pragma once
// Instruction sets the kernels can run on, which of them this program has compiled in, and
// which of those the CPU it runs on supports.
//
// A SIMD kernel for an ISA exists in a program only if one of its translation units was built
// with that ISA's compiler flags and instantiated the kernels (see cmake/QslmKernelArchs.cmake,
// which also defines the QSLM_KERNELS_WITH_<ISA> macros below for every TU of the target).
// Without any, only the scalar kernels are used; that is the firmware configuration.

#include <cstdint>

#include "qslm/core/config.hpp"

#if QSLM_HAVE_XSIMD && (defined(QSLM_KERNELS_WITH_SSE4_2) || defined(QSLM_KERNELS_WITH_AVX2) || \
                        defined(QSLM_KERNELS_WITH_AVX512BW) || defined(QSLM_KERNELS_WITH_AVX512VNNI) || \
                        defined(QSLM_KERNELS_WITH_NEON64))
#  define QSLM_KERNELS_HAVE_SIMD 1
#  include <xsimd/xsimd.hpp>
#else
#  define QSLM_KERNELS_HAVE_SIMD 0
#endif

namespace qslm::kernels {

// avx512vnni (AVX-512 F/CD/DQ/BW/VL + VNNI) has only the low-bit GEMV (vpdpbusd); the spike kernels have no
// dot products and run their avx512bw bodies on such a CPU. Appended last so the values of the others stay.
enum class Isa : std::uint8_t { automatic = 0, scalar, sse4_2, avx2, avx512bw, neon64, avx512vnni };

constexpr const char* to_string(Isa isa) noexcept {
    switch (isa) {
        case Isa::automatic: return "automatic";
        case Isa::scalar: return "scalar";
        case Isa::sse4_2: return "sse4.2";
        case Isa::avx2: return "avx2";
        case Isa::avx512bw: return "avx512bw";
        case Isa::neon64: return "neon64";
        case Isa::avx512vnni: return "avx512vnni";
    }
    return "unknown";
}

/// The ISAs with spike kernels (SpikeMatvec), weakest to strongest per family.
inline constexpr Isa all_isas[] = {Isa::scalar, Isa::sse4_2, Isa::avx2, Isa::avx512bw, Isa::neon64};
/// The ISAs with a low-bit GEMV kernel (LowBitMatrix), weakest to strongest per family.
inline constexpr Isa gemv_isas[] = {Isa::scalar, Isa::sse4_2, Isa::avx2, Isa::avx512bw, Isa::avx512vnni, Isa::neon64};

/// Whether this program contains kernels for `isa` (scalar always).
constexpr bool isa_compiled(Isa isa) noexcept {
    switch (isa) {
        case Isa::scalar: return true;
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_SSE4_2)
        case Isa::sse4_2: return true;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX2)
        case Isa::avx2: return true;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX512BW)
        case Isa::avx512bw: return true;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_NEON64)
        case Isa::neon64: return true;
#endif
#if QSLM_KERNELS_HAVE_SIMD && defined(QSLM_KERNELS_WITH_AVX512VNNI)
        case Isa::avx512vnni: return true;
#endif
        default: return false;
    }
}

/// Whether the CPU running this program can execute `isa` (asked once, through xsimd's cpuid).
inline bool isa_supported_by_cpu(Isa isa) noexcept {
#if QSLM_HAVE_XSIMD && QSLM_KERNELS_HAVE_SIMD
    const auto a = xsimd::available_architectures();
    switch (isa) {
        case Isa::scalar: return true;
        case Isa::sse4_2: return a.sse4_2;
        case Isa::avx2: return a.avx2;
        case Isa::avx512bw: return a.avx512bw && a.avx512dq && a.avx512cd && a.avx512f;
        case Isa::neon64: return a.neon64;
        case Isa::avx512vnni:
            // xsimd 8 does not know VNNI; GCC/Clang's cpuid helper also checks that the OS saves the
            // AVX-512 state. The kernel TU is built with -mavx512vl too, which every VNNI CPU has.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
            return a.avx512bw && a.avx512dq && a.avx512cd && a.avx512f && __builtin_cpu_supports("avx512vnni") &&
                   __builtin_cpu_supports("avx512vl");
#else
            return false;
#endif
        default: return false;
    }
#else
    return isa == Isa::scalar;
#endif
}

/// Compiled in and runnable here.
inline bool isa_usable(Isa isa) noexcept { return isa_compiled(isa) && isa_supported_by_cpu(isa); }

/// The best usable ISA for the low-bit GEMV (what its Isa::automatic resolves to).
inline Isa best_gemv_isa() noexcept {
    static const Isa best = [] {
        Isa b = Isa::scalar;
        for (const Isa i : gemv_isas)
            if (isa_usable(i)) b = i;
        return b;
    }();
    return best;
}

/// The best usable ISA for the spike kernels (what SpikeMatvec's Isa::automatic resolves to).
inline Isa best_isa() noexcept {
    static const Isa best = [] {
        Isa b = Isa::scalar;
        for (const Isa i : all_isas)
            if (isa_usable(i)) b = i;  // all_isas is ordered from weakest to strongest per family
        return b;
    }();
    return best;
}

}  // namespace qslm::kernels
