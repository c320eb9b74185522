// Firmware entry: runs the bundled integer model (generated header qslm_model.hpp) on the demo
// token sequence and prints one line per step over semihosting. The arena is a static array
// sized by a constexpr function of the model's dimensions; there is no heap.

#include <cstddef>

#include "demo.hpp"
#include "qslm_model.hpp"
#include "semihosting.hpp"

#ifndef QSLM_DEMO_STEPS
#define QSLM_DEMO_STEPS 16
#endif

namespace {
alignas(8) std::byte arena[qslm_model::integer_arena_bytes];
}

extern "C" int app_main() {
    fw::LineBuffer head;
    head.put("qslm firmware: integer SpikeGPT, arena ");
    head.put_uint(qslm_model::integer_arena_bytes);
    head.put(" B, matrices ");
    head.put_uint(qslm_model::integer_matrix_bytes);
    head.put(" B\n");
    fw::semihosting::write0(head.c_str());
    return fw::run_demo(qslm_model::integer_model, arena, QSLM_DEMO_STEPS,
                        [](const char* s) { fw::semihosting::write0(s); });
}
