# Bare-metal Cortex-M7 (QEMU board: mps2-an500).
#   cmake -S examples/firmware -B build-fw-m7 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-none-eabi-cortex-m7.cmake
set(QSLM_ARM_CPU cortex-m7)
include(${CMAKE_CURRENT_LIST_DIR}/arm-none-eabi.cmake)
