#!/bin/bash
# End-to-end check that the integer SpikeGPT runs on a Cortex-M and equals the host bit for bit:
#   1. host tools: make_model_header, host_run_qslm (run-time widths from .qslm),
#      host_run_header (compile-time widths from the generated header, x86);
#   2. quantize a model (default: the tiny CI model at 4 bits) into a .qslm + generated header;
#   3. build the firmware for Cortex-M7 and Cortex-M4 (arm-none-eabi-g++, -fno-exceptions
#      -fno-rtti, soft-float ABI, no heap) and check it links no floating-point helper (after
#      checking that check_no_float.sh does reject an object that multiplies floats), no
#      malloc/free/operator new and no exception runtime;
#   4. run it under qemu-system-arm (mps2-an500 = M7, mps2-an386 = M4) with semihosting;
#   5. diff every per-step line (argmax, checksums, spike counts) and every logit line: all must
#      be identical, and QEMU must exit with status 0.
# It also writes footprint.txt (constant data by part, arena, arm-none-eabi-size) into the work
# folder. docs/embedded.md describes the design and the numbers.
#
#   examples/firmware/run_qemu_test.sh [--model path.safetensors|path.qslm] [--bits N]
#                                      [--steps N] [--work DIR] [--cores "m7 m4"]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
model="$root/models/tiny/spikegpt-tiny-s1.safetensors"
bits=4
steps=16
work="$root/build-firmware"
cores="m7 m4"
timeout_s=${QSLM_QEMU_TIMEOUT:-120}
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model=$2; shift 2 ;;
        --bits) bits=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --cores) cores=$2; shift 2 ;;
        *) echo "run_qemu_test.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
for tool in arm-none-eabi-g++ arm-none-eabi-size arm-none-eabi-nm qemu-system-arm cmake; do
    command -v "$tool" >/dev/null || { echo "run_qemu_test.sh: $tool not found (Debian: gcc-arm-none-eabi, libstdc++-arm-none-eabi-newlib, qemu-system-arm)" >&2; exit 2; }
done
mkdir -p "$work/gen"
CXX=${CXX:-g++}
# The project's warning set (CMakeLists.txt, qslm_project_options), as errors.
warnflags=(-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Werror)
if "$CXX" --version | grep -q 'g++\|GCC'; then
    warnflags+=(-Wno-stringop-overflow -Wno-array-bounds -Wno-stringop-overread -Wno-restrict)
fi
hostflags=(-std=c++20 -O2 "${warnflags[@]}" -I"$root/include")

echo "== host tools"
# Two independent compilations: run them side by side (CI has 2 cores).
"$CXX" "${hostflags[@]}" "$here/host/make_model_header.cpp" -o "$work/make_model_header" &
pid_make=$!
"$CXX" "${hostflags[@]}" "$here/host/host_run_qslm.cpp" -o "$work/host_run_qslm" &
pid_run=$!
wait $pid_make
wait $pid_run

echo "== check_no_float.sh must reject an image with floating point (self-test)"
printf 'extern "C" float scale(float x, int n) { return x * static_cast<float>(n); }\n' > "$work/float_probe.cpp"
arm-none-eabi-g++ -mcpu=cortex-m4 -mthumb -mfloat-abi=soft -O2 -c "$work/float_probe.cpp" -o "$work/float_probe.o"
if "$here/check_no_float.sh" "$work/float_probe.o" > /dev/null 2>&1; then
    echo "run_qemu_test.sh: check_no_float.sh accepted an object that multiplies floats" >&2
    exit 1
fi

echo "== model: $model ($bits-bit if a float checkpoint)"
"$work/make_model_header" --input "$model" --bits "$bits" --header "$work/gen/qslm_model.hpp" --qslm "$work/gen/model.qslm" | tee "$work/footprint.txt"
"$CXX" "${hostflags[@]}" -I"$work/gen" -fconstexpr-ops-limit=4294967296 -fconstexpr-loop-limit=16777216 \
    "$here/host/host_run_header.cpp" -o "$work/host_run_header"

"$work/host_run_qslm" "$work/gen/model.qslm" "$steps" > "$work/host_qslm.txt"
"$work/host_run_header" "$steps" > "$work/host_header.txt"
diff -u "$work/host_qslm.txt" "$work/host_header.txt"
host_steps=$(grep -c '^step ' "$work/host_qslm.txt" || true)
if [ "$host_steps" -lt 1 ] || [ "$host_steps" -gt "$steps" ]; then
    echo "run_qemu_test.sh: the host ran $host_steps steps (asked for $steps)" >&2
    exit 1
fi
echo "host: run-time-width (.qslm) and compile-time-width (header) paths agree ($host_steps steps, $(grep -c '^logits ' "$work/host_qslm.txt") logit lines)"

status=0
for core in $cores; do
    case $core in
        m7) board=mps2-an500 ;;
        m4) board=mps2-an386 ;;
        *) echo "run_qemu_test.sh: unknown core $core" >&2; exit 2 ;;
    esac
    build="$work/fw-$core"
    echo "== firmware cortex-$core ($board)"
    cmake -S "$here" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/arm-none-eabi-cortex-$core.cmake" \
        -DCMAKE_BUILD_TYPE=MinSizeRel -DQSLM_MODEL_HEADER_DIR="$work/gen" -DQSLM_DEMO_STEPS="$steps" > /dev/null
    cmake --build "$build" -j2
    "$here/check_no_float.sh" "$build/qslm_firmware.elf"
    # No heap and no exceptions either: none of their entry points may be linked in.
    if arm-none-eabi-nm "$build/qslm_firmware.elf" | grep -E ' (malloc|calloc|realloc|free|_malloc_r|_Znwj|_Znaj|__cxa_throw|__cxa_allocate_exception|__gxx_personality_v0)$'; then
        echo "run_qemu_test.sh: the cortex-$core image links heap or exception code" >&2
        exit 1
    fi
    read -r text data bss < <(arm-none-eabi-size "$build/qslm_firmware.elf" | awk 'NR == 2 { print $1, $2, $3 }')
    {
        echo "cortex-$core: arm-none-eabi-size text $text data $data bss $bss"
        echo "cortex-$core: flash (text + data) $((text + data)) B, RAM (data + bss) $((data + bss)) B + 16 KiB stack (mps2.ld)"
    } >> "$work/footprint.txt"
    set +e
    rm -f "$work/qemu-$core.raw"
    # Semihosting output goes to a chardev file: with target=native and no chardev, QEMU writes
    # it to the terminal rather than to a redirected stdout.
    timeout "$timeout_s" qemu-system-arm -M "$board" -nographic \
        -chardev file,id=semihost,path="$work/qemu-$core.raw" \
        -semihosting-config enable=on,target=native,chardev=semihost \
        -kernel "$build/qslm_firmware.elf" < /dev/null > "$work/qemu-$core.log" 2>&1
    rc=$?
    set -e
    if [ $rc -ne 0 ]; then echo "run_qemu_test.sh: qemu ($board) exited with $rc" >&2; cat "$work/qemu-$core.raw" "$work/qemu-$core.log" >&2 || true; status=1; continue; fi
    grep -E '^(step|logits) ' "$work/qemu-$core.raw" > "$work/qemu-$core.txt" || true
    if diff -u "$work/host_qslm.txt" "$work/qemu-$core.txt" > "$work/qemu-$core.diff"; then
        echo "cortex-$core: $(grep -c '^step ' "$work/qemu-$core.txt") steps (spike counts, checksums and all $(grep -c '^logits ' "$work/qemu-$core.txt") logit lines) bit-identical to the host"
    else
        echo "run_qemu_test.sh: cortex-$core output differs from the host:" >&2
        head -40 "$work/qemu-$core.diff" >&2
        status=1
    fi
done
echo "== footprint"
cat "$work/footprint.txt"
exit $status
