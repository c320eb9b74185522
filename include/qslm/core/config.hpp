#pragma once
// Build-time facts shared by every qslm header: version, whether exceptions exist, and
// the small attribute macros. Kept free of any other include so the embedded half stays light.

#define QSLM_VERSION_MAJOR 0
#define QSLM_VERSION_MINOR 1
#define QSLM_VERSION_PATCH 0

// Exceptions are optional: firmware builds use -fno-exceptions, and every runtime API then
// reports failure through qslm::Status. Host-side APIs (files, search) need exceptions.
#if defined(QSLM_NO_EXCEPTIONS)
#  define QSLM_HAS_EXCEPTIONS 0
#elif defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#  define QSLM_HAS_EXCEPTIONS 1
#else
#  define QSLM_HAS_EXCEPTIONS 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define QSLM_ALWAYS_INLINE inline __attribute__((always_inline))
#  define QSLM_RESTRICT __restrict__
#else
#  define QSLM_ALWAYS_INLINE inline
#  define QSLM_RESTRICT
#endif

// xsimd kernels are compiled in when xsimd's headers are reachable, unless a build opts out.
#if !defined(QSLM_DISABLE_XSIMD) && defined(__has_include)
#  if __has_include(<xsimd/xsimd.hpp>)
#    define QSLM_HAVE_XSIMD 1
#  endif
#endif
#ifndef QSLM_HAVE_XSIMD
#  define QSLM_HAVE_XSIMD 0
#endif
