#!/usr/bin/env bash
# The hostile-input suite (ctest entry test_hostile): crafted files against every reader of the
# qslm tool, and bad command lines. Each case must end with a non-zero exit status below 124
# (no crash, no signal, no time-out) and a message on stderr, within 10 s and 256 MiB of
# address space (ulimit -v; left out under the sanitizers, which reserve terabytes of it).
#
#   run_hostile.sh QSLM SOURCE_DIR WORK_DIR
# Environment: QSLM_HOSTILE_NO_MEMORY_LIMIT=1 drops the ulimit (ASan builds).
set -u
qslm=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work/w"
cd "$src" || exit 1

python3 tests/hostile/craft.py tests/fuzz/regressions "$work/files" || exit 1
python3 tests/hostile/craft.py --overflow-model models/tiny/spikegpt-tiny-s1.safetensors "$work/w/overflow.safetensors" || exit 1

limit='ulimit -v 262144;'
[ "${QSLM_HOSTILE_NO_MEMORY_LIMIT:-0}" = 1 ] && limit=''

cases=0 failures=0
# check DESCRIPTION ARGS...: runs the tool; the case fails unless the status is in [1, 123]
# and stderr is not empty.
check() {
  local what=$1; shift
  cases=$((cases + 1))
  timeout -s KILL 10 bash -c "$limit"' exec "$@"' qslm "$qslm" "$@" >"$work/stdout" 2>"$work/stderr" </dev/null
  local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 124 ] || [ ! -s "$work/stderr" ]; then
    failures=$((failures + 1))
    echo "FAILED ($what): qslm $* -> exit $rc"
    head -c 600 "$work/stderr"; echo
  fi
}

# Crafted files: safetensors through the SpikeGPT and classifier paths, .qslm through info,
# run and export, labelled TSVs through the classifier's eval.
files=0
for f in "$work"/files/safetensors/*; do
  check "$(basename "$f")" info "$f"; files=$((files + 1))
  check "$(basename "$f")" eval "$f" --data tests/cli/data/tiny-sst2.tsv
done
for f in "$work"/files/qslm/*; do
  check "$(basename "$f")" info "$f"; files=$((files + 1))
  check "$(basename "$f")" export "$f" --header "$work/w/out.hpp"
done
for f in "$work"/files/tsv/*; do
  check "$(basename "$f")" eval models/tiny/sdt-tiny-s1.safetensors --data "$f"; files=$((files + 1))
done

# Bad command lines.
mkdir -p "$work/w/report-is-a-folder/report.json"
: >"$work/w/a-file"
lines=0
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  line=${line//@M@/models/tiny/spikegpt-tiny-s1.safetensors}
  line=${line//@S@/models/tiny/sdt-tiny-s1.safetensors}
  line=${line//@T@/tests/cli/data/tiny-sst2.tsv}
  line=${line//@X@/docs/architecture.md}
  line=${line//@Q@/tests/fuzz/regressions/qslm/accept-synthetic.qslm}
  line=${line//@NANQ@/$work/w/overflow.safetensors}
  line=${line//@W@/$work/w}
  read -r -a args <<<"$line"
  check "command line" "${args[@]}"
  lines=$((lines + 1))
done <tests/hostile/bad_command_lines.txt

# No output folder holds a temporary file afterwards.
stray=$(find "$work/w" -name '*.tmp-*' | head -5)
if [ -n "$stray" ]; then
  failures=$((failures + 1))
  echo "FAILED: temporary files left behind: $stray"
fi

echo "$files crafted files, $lines bad command lines, $cases runs, $failures failed"
[ "$files" -ge 200 ] && [ "$lines" -ge 100 ] || { echo "FAILED: too few cases"; exit 1; }
[ $failures -eq 0 ]
