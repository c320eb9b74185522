#!/usr/bin/env bash
# Disk-full test (ctest entry test_disk_full): every file the tool writes, written into a
# small tmpfs of 4 to 64 KiB. Each run must either succeed with complete files or fail with a
# non-zero exit and a message naming the file it could not write — and leave no temporary file.
# Needs permission to mount a tmpfs (root, or an unprivileged user namespace via unshare);
# reports QSLM_SKIPPED otherwise.
#
#   disk_full.sh QSLM SOURCE_DIR WORK_DIR
set -u
qslm=$1 src=$2 work=$3
cd "$src" || exit 1
rm -rf "$work" && mkdir -p "$work/mnt"
qslm=$(realpath "$qslm")

if [ "${QSLM_DISK_FULL_INNER:-0}" != 1 ]; then
  # Mount where we may: directly as root, else inside a user+mount namespace.
  if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4k tmpfs "$work/mnt" 2>/dev/null; then
    umount "$work/mnt"
    QSLM_DISK_FULL_INNER=1 exec bash "$0" "$@"
  fi
  if unshare -rm sh -c "mount -t tmpfs -o size=4k tmpfs '$work/mnt' && umount '$work/mnt'" 2>/dev/null; then
    QSLM_DISK_FULL_INNER=1 exec unshare -rm bash "$0" "$@"
  fi
  echo "QSLM_SKIPPED: cannot mount a tmpfs here (not root, no user namespaces)"
  exit 0
fi

failures=0 runs=0
trap 'umount "$work/mnt" 2>/dev/null' EXIT
for kib in 4 8 16 32 64; do
  for what in search dump export; do
    umount "$work/mnt" 2>/dev/null
    mount -t tmpfs -o size=${kib}k tmpfs "$work/mnt" || { echo "mount failed"; exit 1; }
    case $what in
      search) cmd=(search models/tiny/sdt-tiny-s1.safetensors --data tests/cli/data/tiny-sst2.tsv --max-bits-per-weight 4
                   --widths 8,4,2 --threads 1 --quiet --out "$work/mnt/out") ;;
      dump) cmd=(run models/tiny/spikegpt-tiny-s1.safetensors --tokens 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
                 --dump-logits "$work/mnt/logits.json") ;;
      export) cmd=(export tests/fuzz/regressions/qslm/accept-synthetic.qslm --header "$work/mnt/model.hpp") ;;
    esac
    runs=$((runs + 1))
    "$qslm" "${cmd[@]}" >"$work/stdout" 2>"$work/stderr"
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
      if [ $rc -ge 124 ] || ! grep -q "$work/mnt" "$work/stderr"; then
        echo "FAILED ($what, ${kib} KiB): exit $rc, message without the path: $(cat "$work/stderr")"
        failures=$((failures + 1))
      else
        echo "ok ($what, ${kib} KiB): $(head -c 200 "$work/stderr")"
      fi
    else
      echo "ok ($what, ${kib} KiB): written"
    fi
    stray=$(find "$work/mnt" -name '*.tmp-*')
    if [ -n "$stray" ]; then echo "FAILED ($what, ${kib} KiB): left $stray"; failures=$((failures + 1)); fi
    if [ -e "$work/mnt/out/report.json" ] && ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/mnt/out/report.json"; then
      echo "FAILED ($what, ${kib} KiB): torn report.json"; failures=$((failures + 1))
    fi
  done
done
echo "$runs runs, $failures failed"
[ $failures -eq 0 ]
