# Common part of the bare-metal Arm toolchain files (Debian: gcc-arm-none-eabi,
# libstdc++-arm-none-eabi-newlib). Include it after setting QSLM_ARM_CPU (e.g. cortex-m7).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_OBJCOPY arm-none-eabi-objcopy CACHE FILEPATH "")
set(CMAKE_SIZE arm-none-eabi-size CACHE FILEPATH "")
# No OS to link test programs against.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# Soft-float ABI on purpose: every floating-point operation then becomes a call to a libgcc
# helper (__aeabi_fadd, __aeabi_dmul, ...), so "no floating point in the image" is checkable by
# looking for those symbols (examples/firmware/check_no_float.sh).
set(QSLM_ARM_FLAGS "-mcpu=${QSLM_ARM_CPU} -mthumb -mfloat-abi=soft")
set(CMAKE_C_FLAGS_INIT "${QSLM_ARM_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT "${QSLM_ARM_FLAGS} -fno-exceptions -fno-rtti -fno-threadsafe-statics")
set(CMAKE_ASM_FLAGS_INIT "${QSLM_ARM_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${QSLM_ARM_FLAGS} -nostartfiles --specs=nano.specs --specs=nosys.specs")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
