#!/usr/bin/env bash
# Installs what qslm needs on a Debian/Ubuntu machine, skipping the network when everything is
# already there. Needs root (or sudo). Extra packages can be named as arguments.
set -euo pipefail

packages=(cmake ninja-build g++ make pkg-config
          libeigen3-dev libxsimd-dev catch2 libbenchmark-dev
          nlohmann-json3-dev libcli11-dev
          pybind11-dev python3-dev python3-pybind11 python3-numpy "$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "qslm: all dependencies present"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "qslm: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
