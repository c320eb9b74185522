// Minimal Cortex-M startup: vector table (initial stack pointer, reset handler, fault handlers),
// .data copied from flash, .bss zeroed, then app_main() (ISO C++ forbids calling main()), whose
// result becomes QEMU's exit status. No C library start-up files (-nostartfiles),
// no static constructors (everything the model needs is constexpr), no heap.

#include <cstdint>

#include "semihosting.hpp"

extern "C" {
extern std::uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int app_main();
[[noreturn]] void Reset_Handler();
[[noreturn]] void Fault_Handler();
}

extern "C" [[noreturn]] void Reset_Handler() {
    for (std::uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
    for (std::uint32_t* dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    fw::semihosting::exit(app_main());
}

extern "C" [[noreturn]] void Fault_Handler() {
    fw::semihosting::write0("fault\n");
    fw::semihosting::exit(3);
}

using Handler = void (*)();
// Initial SP, then reset, NMI, HardFault, MemManage, BusFault, UsageFault.
__attribute__((section(".isr_vector"), used)) const Handler vector_table[] = {
    reinterpret_cast<Handler>(&_estack), Reset_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler,                       Fault_Handler, Fault_Handler,
};

// newlib-nano's syscalls are never reached (no printf, no malloc); a failing _sbrk makes any
// accidental heap use fail loudly instead of growing into the stack.
extern "C" void* _sbrk(int) { return reinterpret_cast<void*>(-1); }
