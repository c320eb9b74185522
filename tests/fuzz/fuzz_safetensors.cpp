// libFuzzer target: the safetensors reader and the checkpoint builders on arbitrary bytes.
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    qslm::fuzz::exercise_safetensors(data, size);
    return 0;
}
