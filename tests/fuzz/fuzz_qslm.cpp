// libFuzzer target: the .qslm reader (as-is and with the checksum resealed), the writer's
// round trip and the header exporter on arbitrary bytes.
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    qslm::fuzz::exercise_qslm(data, size);
    return 0;
}
