// Compiled with -fno-exceptions -fno-rtti: the embedded half must build (and run) like firmware.
// Uses caller-owned static memory only on the inference side.
#include <qslm/runtime.hpp>  // the whole device half, the integer SpikeGPT and the calibration hook included

#include <array>
#include <cstdio>

namespace {
constexpr std::array<std::uint8_t, 3> payload = {0xF1, 0x08, 0x01};
constexpr std::array<float, 2> scales = {0.5f, 0.25f};
}  // namespace

int main() {
    auto view = qslm::PackedTensorView<3>::make(2, 3, qslm::ScaleLayout::per_channel(), payload, scales);
    if (!view) return 1;
    using Membrane = qslm::Fixed<8, 8>;
    Membrane v = Membrane::zero();
    for (std::size_t c = 0; c < view->cols(); ++c) v += Membrane::from_float(view->dequantized(0, c));
    std::printf("membrane=%.3f\n", v.to_double());
    return v.to_double() == 0.5 * (1 - 2 + 3) ? 0 : 1;
}
