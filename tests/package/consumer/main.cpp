// Uses the runtime half the way firmware would: quantize, view, dequantize.
#include <qslm/runtime.hpp>

#include <cstdio>

int main() {
    const float weights[6] = {0.5f, -0.25f, 1.0f, 0.0f, -1.0f, 0.75f};
    auto t = qslm::PackedTensor<4>::quantize(weights, 2, 3);
    if (!t) {
        std::printf("quantize failed: %s\n", t.message());
        return 1;
    }
    using Q = qslm::Fixed<8, 8>;
    const Q x = Q::from_float(1.5) * Q::from_float(2.0);
    std::printf("bytes=%zu w[1][2]=%.4f fixed=%.4f\n", t->bytes(), static_cast<double>(t->dequantized(1, 2)),
                x.to_double());
    return (t->bytes() == 3 + 2 * 4 && x.to_double() == 3.0) ? 0 : 1;
}
