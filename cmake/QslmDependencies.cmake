# Finding dependencies with a sentence that names the Debian package to install.

# qslm_require_package(<find_package name> <debian package> [find_package args...])
macro(qslm_require_package name debian_package)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR
      "qslm needs ${name} but CMake could not find it. "
      "On Debian/Ubuntu install it with: apt-get install ${debian_package}")
  endif()
endmacro()

# xsimd is optional for users of the headers: a missing xsimd only disables the SIMD kernels.
macro(qslm_find_optional_xsimd)
  find_path(QSLM_XSIMD_INCLUDE_DIR NAMES xsimd/xsimd.hpp)
  if(QSLM_XSIMD_INCLUDE_DIR)
    file(STRINGS "${QSLM_XSIMD_INCLUDE_DIR}/xsimd/config/xsimd_config.hpp" _qslm_xsimd_major
         REGEX "#define XSIMD_VERSION_MAJOR")
    message(STATUS "qslm: xsimd found in ${QSLM_XSIMD_INCLUDE_DIR} (${_qslm_xsimd_major})")
  else()
    message(STATUS "qslm: xsimd not found (Debian package libxsimd-dev); using scalar kernels only")
  endif()
endmacro()
