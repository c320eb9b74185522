# Bare-metal Cortex-M4 (QEMU board: mps2-an386).
#   cmake -S examples/firmware -B build-fw-m4 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-none-eabi-cortex-m4.cmake
set(QSLM_ARM_CPU cortex-m4)
include(${CMAKE_CURRENT_LIST_DIR}/arm-none-eabi.cmake)
