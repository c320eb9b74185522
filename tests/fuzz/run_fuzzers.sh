#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined) and runs each for
# SECONDS seconds on a seed corpus of valid files (plus every saved regression input).
#   tests/fuzz/run_fuzzers.sh 60
# Environment: QSLM_FUZZ_BUILD_DIR (default build-fuzz), JOBS (default 2), CXX (default clang++).
# Exit status is non-zero when a target finds a crash; the input is saved under
# $QSLM_FUZZ_BUILD_DIR/fuzz/artifacts/<target>/. Copy it into tests/fuzz/regressions/<target>/ as reject-<what>,
# fix the reader, and test_io replays it from then on (tests/io/test_fuzz_regressions.cpp).
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/../.."
build=${QSLM_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${JOBS:-2}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

cmake -S . -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="${CXX:-clang++}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DQSLM_BUILD_FUZZERS=ON -DQSLM_BUILD_TESTS=OFF -DQSLM_BUILD_EXAMPLES=OFF -DQSLM_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target qslm_fuzz_safetensors qslm_fuzz_qslm qslm_fuzz_seed_corpus

seeds="$build/fuzz/seeds"
rm -rf "$seeds"
"$build/tests/fuzz/qslm_fuzz_seed_corpus" "$seeds"

status=0
for target in safetensors qslm; do
  corpus="$build/fuzz/corpus/$target"
  artifacts="$build/fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts" "tests/fuzz/regressions/$target"
  echo "== fuzzing the $target reader for $seconds s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=0 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$build/tests/fuzz/qslm_fuzz_$target" "$corpus" "$seeds/$target" "tests/fuzz/regressions/$target" \
         -dict="tests/fuzz/$target.dict" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
         -rss_limit_mb=2048 -artifact_prefix="$artifacts/" -print_final_stats=1; then
    echo "!! the $target fuzzer found a problem; inputs are in $artifacts/" >&2
    echo "!! copy them to tests/fuzz/regressions/$target/reject-<what> so test_io replays them" >&2
    status=1
  fi
done
exit $status
