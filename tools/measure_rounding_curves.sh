#!/usr/bin/env bash
# Memory-vs-perplexity curves of the full QSLM search with each rounding policy, measured in
# one run (issue 6): the same search (data, budget, bound, granularity) with --rounding
# nearest, gptq and adaptive, one after another; then the three Pareto fronts in one plot.
#
#   bash tools/measure_rounding_curves.sh [DATA_DIR] [OUT]     (defaults: ../shared/data, out/rounding-curves)
#
# Needs build/examples/cli/qslm (cmake --build build --target qslm_cli). Each search calibrates
# on the start of valid.txt and verifies on its first 16,384 bytes; docs/results.md has the
# numbers and the caveats. Takes ~20-30 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"
out="${2:-out/rounding-curves}"
qslm=build/examples/cli/qslm
[[ -x "$qslm" ]] || { echo "build $qslm first: cmake --build build --target qslm_cli" >&2; exit 2; }
mkdir -p "$out"
for rounding in nearest gptq adaptive; do
    echo "== --rounding $rounding" >&2
    # Exit 3 (constraints not met) still leaves a report with the Pareto front.
    "$qslm" search bundled --data "$data/wikitext-2/valid.txt" --eval-tokens 16384 \
        --max-bits-per-weight 3 --max-drop 10% --granularity group:64 --rounding "$rounding" \
        --threads 2 --quiet --out "$out/$rounding" | tee "$out/$rounding.txt" || [[ $? -eq 3 ]]
done
python3 tools/plot_pareto_fronts.py --out "$out/fronts.svg" --max-bytes 6000000 \
    nearest="$out/nearest/report.json" gptq="$out/gptq/report.json" adaptive="$out/adaptive/report.json"
echo "plot: $out/fronts.svg" >&2
