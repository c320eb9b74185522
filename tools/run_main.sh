#!/usr/bin/env bash
# The README's main command: installs what is missing, builds the `qslm` tool in release mode,
# and runs the main job: the QSLM quantization search on the bundled SpikeGPT model pre-trained
# on Wikipedia (models/spikegpt-wiki.safetensors, `bundled-wiki`).
#
# With no arguments it runs data-free (calibration and checks on text sampled from the float
# model; no data set needed) under a memory budget of 4.25 bits per searched weight, i.e. at
# least 86.5 % smaller than the fp32 model, and writes report.json, pareto.svg, model.qslm and
# evaluations.jsonl to out/search/. Extra arguments go to `qslm search`, e.g.
#   bash tools/run_main.sh --data valid-ft.txt --verify-data valid-holdout.txt --max-drop 2%
# to calibrate on one slice of WikiText-2 valid and verify on another (README.md says how to
# cut them).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target qslm_cli
./build/examples/cli/qslm search bundled-wiki --max-bits-per-weight 4.25 --out out/search "$@"
