// host_run_qslm: the firmware's demo on the host, through the run-time-width path: loads the
// .qslm written by make_model_header, prepares the integer model, prints the same lines.
//
//   host_run_qslm out/model.qslm [steps]

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../src/demo.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/integer/prepare_spikegpt.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: host_run_qslm model.qslm [steps]\n");
        return 2;
    }
    try {
        const auto prepared = qslm::models::integer::PreparedIntegerSpikeGpt::prepare(qslm::io::load_qslm(argv[1]));
        const auto model = prepared->model();
        std::vector<std::byte> arena(model.arena_bytes());
        const std::size_t steps = argc > 2 ? static_cast<std::size_t>(std::atoi(argv[2])) : 16;
        return fw::run_demo(model, arena, steps, [](const char* s) { std::fputs(s, stdout); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "host_run_qslm: %s\n", e.what());
        return 1;
    }
}
