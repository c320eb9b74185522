#!/bin/sh
# Fails when a firmware image references a floating-point helper. The firmware is built with
# -mfloat-abi=soft (cmake/toolchains/arm-none-eabi.cmake), so any float or double arithmetic
# would call a libgcc helper (__aeabi_fadd, __aeabi_dmul, __aeabi_f2iz, __addsf3, ...).
# Integer helpers such as __aeabi_ldivmod (64-bit division) are fine.
#   check_no_float.sh firmware.elf
set -eu
elf=$1
found=$(arm-none-eabi-nm "$elf" | grep -E ' (__aeabi_(f|d|[iu]l?2[fd]|[fd]2)|__(add|sub|mul|div|neg|cmp|eq|ne|lt|le|gt|ge|un)[sd]f[23]|__(fix|float)(uns)?[sd]?[is]?[sd]?f|__extendsfdf2|__truncdfsf2)' || true)
if [ -n "$found" ]; then
    echo "check_no_float: $elf references floating-point helpers:" >&2
    echo "$found" >&2
    exit 1
fi
echo "check_no_float: $elf has no floating-point helper symbols"
