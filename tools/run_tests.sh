#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite.
#
# Without CI: a release build of everything and its ctest suite (the last thing printed is
# ctest's summary). With CI=true (or QSLM_FULL_TESTS=1), within CI's time budget on 2 cores:
#   1. the libFuzzer targets of the file readers, 30 s each (clang, ASan/UBSan);
#   2. every area of the embedded runtime (core, tensor, spike, kernels with the NEON kernels,
#      neuron, layers, integer, models) cross-compiled for aarch64 and run under qemu-aarch64;
#      the host-only areas (io, eval, quant, search, hw, cli) are left to the native builds;
#   3. the device-half check (tools/check_device_half.py: no device-side header includes a host
#      header or throws, each compiles alone for Cortex-M7), then the Cortex-M7/M4 firmware built
#      with arm-none-eabi-g++, run under qemu-system-arm, and compared bit for bit with the host's
#      integer path;
#   4. last, everything (tests, examples, benchmarks) in a debug build under AddressSanitizer +
#      UndefinedBehaviorSanitizer with warnings as errors, and the whole test suite; this
#      replaces the release build there, whose suite is the same code at -O3; the few tests
#      labelled sanitizer_slow (whole-model scores on real text) run on a release qslm tool.
# Live golden tests regenerate PyTorch reference outputs with Debian's python3-torch (required
# in CI, skipped with a message elsewhere when torch is absent).
set -euo pipefail
cd "$(dirname "$0")/.."

full=0
if [ "${CI:-}" = "true" ] || [ "${QSLM_FULL_TESTS:-0}" = "1" ]; then full=1; fi

extra=(python3-torch)
if [ $full = 1 ]; then
  extra+=(clang libclang-rt-14-dev g++-aarch64-linux-gnu qemu-user
          gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib libnewlib-arm-none-eabi qemu-system-arm)
fi
bash tools/install_deps.sh "${extra[@]}"

jobs=$(nproc)
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
[ "${CI:-}" = "true" ] && export QSLM_REQUIRE_TORCH=1
# Each stage header says how long the run has taken so far, so that a CI log shows where the
# time goes (CI's budget: keep the whole run under ~45 minutes on 2 cores).
stage() { printf '\n===== %s (at %dm%02ds) =====\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

if [ $full = 1 ]; then
  stage "fuzzing the safetensors and .qslm readers"
  QSLM_FUZZ_BUILD_DIR=build-fuzz JOBS=$jobs bash tests/fuzz/run_fuzzers.sh "${QSLM_FUZZ_SECONDS:-30}"

  stage "aarch64 cross build of the runtime areas under qemu-aarch64"
  cmake -S . -B build-aarch64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
        "-DQSLM_TEST_AREAS=core;tensor;spike;kernels;neuron;layers;integer;models" \
        -DCMAKE_BUILD_TYPE=Release -DQSLM_WERROR=$werror -DQSLM_BUILD_BENCHMARKS=OFF -DQSLM_BUILD_EXAMPLES=OFF
  cmake --build build-aarch64 -j "$jobs"
  stage "aarch64 tests under qemu-aarch64"
  # The package-consumer test builds host projects and the live golden tests run host Python;
  # the data-set tests (label "data": whole SST-2 dev / WikiText-2 runs) take minutes under
  # emulation and reach no code the random-input tests do not (the NEON kernels are checked bit
  # for bit against the scalar ones there); they run natively below. Everything else runs on the
  # emulated aarch64 CPU.
  ctest --test-dir build-aarch64 --output-on-failure -j "$jobs" -E "test_package_consumer|live_golden" -LE data

  stage "device half: no host include, no throw, every device header compiled alone for Cortex-M7"
  python3 tools/check_device_half.py --self-test --compile arm-none-eabi-g++
  python3 tools/check_device_half.py --compile arm-none-eabi-g++ --jobs "$jobs"

  if [ -x examples/firmware/run_qemu_test.sh ]; then
    stage "Cortex-M7 and M4 firmware under qemu-system-arm"
    bash examples/firmware/run_qemu_test.sh
  fi

  stage "debug build under AddressSanitizer + UndefinedBehaviorSanitizer, and the whole test suite"
  # -O1 keeps the debug build's assertions and stack traces while the kernel sweeps still run
  # in minutes under the sanitizers.
  cmake -S . -B build-asan -G Ninja -UQSLM_TEST_AREAS -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" \
        -DQSLM_SANITIZE=ON -DQSLM_WERROR=$werror
  cmake --build build-asan -j "$jobs"
  stage "the whole test suite under the sanitizers"
  # Tests labelled sanitizer_slow run whole models over 65,536 bytes of text: 35x slower under
  # the sanitizers (over their 15-minute timeout) while adding no code path the other CLI tests
  # do not already run there; they run next, on a release build of the qslm tool.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE sanitizer_slow
  stage "release build of the qslm tool, and the tests too slow under the sanitizers"
  cmake -S . -B build -G Ninja -DQSLM_TEST_AREAS=models -DCMAKE_BUILD_TYPE=Release -DQSLM_WERROR=$werror
  cmake --build build -j "$jobs" --target qslm_cli
  ctest --test-dir build --output-on-failure -j "$jobs" -L sanitizer_slow
  stage "done"
  exit 0
fi

stage "release build and the whole test suite"
cmake -S . -B build -G Ninja -UQSLM_TEST_AREAS -DCMAKE_BUILD_TYPE=Release -DQSLM_WERROR=$werror
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
