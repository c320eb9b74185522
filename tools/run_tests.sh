#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite.
# With CI=true (or QSLM_SANITIZE=1) it first runs the suite under AddressSanitizer and
# UndefinedBehaviorSanitizer in a debug build; warnings are errors in CI builds.
# The last thing printed is ctest's summary of the release build.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install_deps.sh
jobs=$(nproc)
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON

if [ "${CI:-}" = "true" ] || [ "${QSLM_SANITIZE:-0}" = "1" ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DQSLM_SANITIZE=ON -DQSLM_WERROR=$werror \
        -DQSLM_BUILD_BENCHMARKS=OFF
  cmake --build build-asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQSLM_WERROR=$werror
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
