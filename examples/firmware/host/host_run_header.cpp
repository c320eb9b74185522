// host_run_header: the firmware's demo compiled for the host from the same generated header
// (compile-time widths), printing the same lines as the firmware.

#include <cstdio>
#include <cstdlib>

#include "../src/demo.hpp"
#include "qslm_model.hpp"

namespace {
alignas(8) std::byte arena[qslm_model::integer_arena_bytes];
}

int main(int argc, char** argv) {
    const std::size_t steps = argc > 1 ? static_cast<std::size_t>(std::atoi(argv[1])) : 16;
    return fw::run_demo(qslm_model::integer_model, arena, steps, [](const char* s) { std::fputs(s, stdout); });
}
