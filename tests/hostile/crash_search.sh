#!/usr/bin/env bash
# Crash test (ctest entry test_crash_search, 10 trials; `crash_search.sh ... 100` by hand):
# a search on the tiny SpikeGPT is killed with SIGKILL at a random moment, then run again.
# After each kill the output folder may only hold complete files (report.json that parses,
# pareto.svg that ends with </svg>, a model.qslm the tool accepts) and no temporary file once
# the rerun has started; the rerun resumes from evaluations.jsonl and must reproduce the
# uninterrupted run's model.qslm and pareto.svg byte for byte, and its report.json except the
# fields that describe the run itself (seconds, evaluation counts, log repairs).
#
#   crash_search.sh QSLM SOURCE_DIR WORK_DIR [TRIALS=10] [SEED=1]
set -u
qslm=$1 src=$2 work=$3 trials=${4:-10} seed=${5:-1}
cd "$src" || exit 1
rm -rf "$work" && mkdir -p "$work"
RANDOM=$seed

# About 35 evaluations, well under a second on one core: short enough for 10 trials under the
# sanitizers, long enough that the kills land during evaluations, log appends and the writes.
search=(search models/tiny/spikegpt-tiny-s1.safetensors --data docs/architecture.md --eval-tokens 512
        --seq-len 64 --calibration-seqs 4 --max-bits-per-weight 8.5 --max-drop 5% --widths 8,4 --threads 1 --quiet)

# Report fields that describe the run, not its result.
strip_report() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("seconds", "seconds_total", "evaluations", "reused_from_log", "log_repair"):
    r.pop(k, None)
print(json.dumps(r, sort_keys=True))
PY
}

# complete DIR: every output present is whole.
complete() {
  local d=$1 ok=0
  if [ -e "$d/report.json" ] && ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$d/report.json" 2>/dev/null; then
    echo "torn report.json"; ok=1
  fi
  if [ -e "$d/pareto.svg" ] && [ "$(tail -c 7 "$d/pareto.svg")" != "</svg>" ]; then
    echo "torn pareto.svg"; ok=1
  fi
  if [ -e "$d/model.qslm" ] && ! "$qslm" info "$d/model.qslm" >/dev/null 2>&1; then
    echo "torn model.qslm"; ok=1
  fi
  return $ok
}

start=$(date +%s.%N)
"$qslm" "${search[@]}" --out "$work/reference" >/dev/null || { echo "reference search failed"; exit 1; }
ref_seconds=$(python3 -c "print(max(0.05, $(date +%s.%N) - $start))")
ref_report=$(strip_report "$work/reference/report.json")
echo "uninterrupted search: ${ref_seconds} s"

failures=0
for ((t = 1; t <= trials; ++t)); do
  out="$work/trial"
  rm -rf "$out"
  # Half the trials start from a finished folder (the kill must leave the previous complete
  # files or new complete ones), half from nothing.
  if ((t % 2 == 0)); then cp -r "$work/reference" "$out"; rm -f "$out/evaluations.jsonl"; fi
  delay=$(python3 -c "import random; random.seed($seed * 1000 + $t); print(round(random.uniform(0, 1.2 * $ref_seconds), 3))")
  "$qslm" "${search[@]}" --out "$out" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  if ! why=$(complete "$out"); then
    echo "trial $t (kill after $delay s): $why"; failures=$((failures + 1)); continue
  fi
  if ! "$qslm" "${search[@]}" --out "$out" >"$work/rerun.out" 2>"$work/rerun.err"; then
    echo "trial $t: the rerun failed: $(cat "$work/rerun.err")"; failures=$((failures + 1)); continue
  fi
  if ls "$out" | grep -q '\.tmp-'; then echo "trial $t: temporary file left: $(ls "$out")"; failures=$((failures + 1)); fi
  for f in model.qslm pareto.svg; do
    cmp -s "$work/reference/$f" "$out/$f" || { echo "trial $t: $f differs from the uninterrupted run"; failures=$((failures + 1)); }
  done
  [ "$(strip_report "$out/report.json")" = "$ref_report" ] || { echo "trial $t: report.json differs"; failures=$((failures + 1)); }
done
echo "$trials trials, $failures failures"
[ $failures -eq 0 ]
