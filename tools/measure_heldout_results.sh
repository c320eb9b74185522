#!/usr/bin/env bash
# The held-out results of docs/results.md ("spikegpt-wiki, held out"): every number reported on
# WikiText-2 test, which nothing here calibrates, selects or verifies on.
#
#   bash tools/measure_heldout_results.sh [DATA_DIR] [OUT] [MODEL]
#   (defaults: ../shared/data, out/heldout, bundled-wiki)
#
# Text roles (WikiText-2 valid is cut where the bundled model's fine-tuning stopped):
#   valid bytes [0, 955807)        calibration: search ranking, GPTQ statistics (fine-tuning text)
#   valid bytes [955807, end)      verification: the search checks its bound here (held out from
#                                  training; the model's checkpoint selection also used it)
#   test, first EVAL_TOKENS bytes  the reported numbers (never seen by training or the search)
# Needs build/examples/cli/qslm. Runs ~30-40 minutes on 2 cores; every command's JSON is kept in
# OUT, and OUT/summary.tsv collects the table.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"
out="${2:-out/heldout}"
model="${3:-bundled-wiki}"
eval_tokens="${EVAL_TOKENS:-262144}"
qslm=build/examples/cli/qslm
[[ -x "$qslm" ]] || { echo "build $qslm first: cmake --build build --target qslm_cli" >&2; exit 2; }
for f in "$data/wikitext-2/valid.txt" "$data/wikitext-2/test.txt"; do
  [[ -f "$f" ]] || { echo "missing $f (pass the folder holding wikitext-2/)" >&2; exit 2; }
done
mkdir -p "$out"
head -c 955807 "$data/wikitext-2/valid.txt" > "$out/valid-calibration.txt"
tail -c +955808 "$data/wikitext-2/valid.txt" > "$out/valid-holdout.txt"
test_txt="$data/wikitext-2/test.txt"
summary="$out/summary.tsv"
printf 'what\tbytes\tbits_per_char\tword_ppl\n' > "$summary"

score() {  # score NAME MODEL [eval options...]: eval on test, one summary line
  local name=$1 m=$2; shift 2
  echo "== $name" >&2
  "$qslm" eval "$m" --data "$test_txt" --eval-tokens "$eval_tokens" --threads 2 --json "$@" > "$out/$name.json"
  python3 - "$out/$name.json" "$name" >> "$summary" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]}\t{j['bytes']}\t{j['bits_per_char']:.4f}\t{j['perplexity']:.2f}")
EOF
}

score float "$model"
# Uniform widths as a user makes them: `qslm quantize` (GPTQ/adaptive calibrated on the
# calibration slice of valid), then the .qslm scored as it runs (packed, int8 activations).
for bits in 8 4 3 2; do
  for rounding in nearest gptq adaptive; do
    [[ $rounding != nearest && $bits == 8 ]] && continue  # 8-bit nearest is already lossless here
    "$qslm" quantize "$model" --bits "$bits" --granularity group:64 --rounding "$rounding" \
        --data "$out/valid-calibration.txt" --threads 2 -o "$out/uniform-$bits-$rounding.qslm" > /dev/null
    score "uniform-$bits-$rounding" "$out/uniform-$bits-$rounding.qslm"
  done
done

# The search, calibrated on valid, verified on the held-out slice of valid, scored on test.
search() {  # search NAME BPW DROP
  local name=$1 bpw=$2 drop=$3
  echo "== search $name" >&2
  "$qslm" search "$model" --data "$out/valid-calibration.txt" --verify-data "$out/valid-holdout.txt" \
      --eval-tokens 65536 --max-bits-per-weight "$bpw" --max-drop "$drop" --rounding gptq \
      --threads 2 --quiet --json --out "$out/$name" > "$out/$name.report.json" || [[ $? -eq 3 ]]
  # No model.qslm when the bound cannot be met (exit status 3): the report says so.
  if [[ -f "$out/$name/model.qslm" ]]; then score "$name" "$out/$name/model.qslm"; fi
}
search search-4.25bpw-2pct 4.25 2%
search search-3.2bpw-5pct 3.2 5%

# The README's main job (data-free, 4.25 bits/weight), its choice scored on test.
echo "== data-free main job" >&2
"$qslm" search "$model" --max-bits-per-weight 4.25 --threads 2 --quiet --json --out "$out/data-free" \
    > "$out/data-free.report.json" || [[ $? -eq 3 ]]
if [[ -f "$out/data-free/model.qslm" ]]; then score data-free-main-job "$out/data-free/model.qslm"; fi
column -t -s $'\t' "$summary"
