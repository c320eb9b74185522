#pragma once
// ARM semihosting, the two calls the firmware needs: SYS_WRITE0 (print a NUL-terminated
// string on the host's console) and SYS_EXIT (stop QEMU with an exit status). Raw `bkpt 0xab`
// on M-profile cores; QEMU must run with -semihosting-config enable=on,target=native.

#include <cstdint>

namespace fw::semihosting {

inline std::uint32_t call(std::uint32_t op, const void* arg) noexcept {
    register std::uint32_t r0 asm("r0") = op;
    register const void* r1 asm("r1") = arg;
    asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

inline void write0(const char* s) noexcept { (void)call(0x04u, s); }

/// ADP_Stopped_ApplicationExit with the status (QEMU's exit code): the 64-bit-safe form
/// passes a two-word block; 32-bit ARM QEMU also accepts the reason code alone for status 0.
[[noreturn]] inline void exit(int status) noexcept {
    const std::uint32_t block[2] = {0x20026u, static_cast<std::uint32_t>(status)};
    if (status == 0) (void)call(0x18u, reinterpret_cast<const void*>(0x20026u));
    else (void)call(0x20u, block);  // SYS_EXIT_EXTENDED carries the status
    for (;;) {
    }
}

}  // namespace fw::semihosting
