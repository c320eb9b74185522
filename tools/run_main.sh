#!/usr/bin/env bash
# The README's main command: installs what is missing, builds in release mode, and runs the
# main job. Extra arguments are passed to it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target width_sweep
./build/examples/width_sweep/width_sweep "$@"
