// Quantizes one weight matrix at every width 1..8 and every scale granularity, and prints what
// each setting costs in bytes and in reconstruction error: the trade-off the QSLM search
// navigates module by module.
//
//   width_sweep [rows] [cols]

#include <qslm/runtime.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
    const std::size_t rows = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
    const std::size_t cols = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1024;

    // Gaussian weights with a few large outliers per row, like trained linear layers.
    std::mt19937 rng(2024);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    std::vector<float> w(rows * cols);
    for (auto& x : w) x = normal(rng);
    for (std::size_t r = 0; r < rows; ++r) w[r * cols + (r * 7919) % cols] *= 12.0f;

    const double fp32_bytes = 4.0 * static_cast<double>(w.size());
    struct Setting {
        const char* name;
        qslm::ScaleLayout layout;
    };
    const Setting settings[] = {{"per-tensor", qslm::ScaleLayout::per_tensor()},
                                {"per-channel", qslm::ScaleLayout::per_channel()},
                                {"per-group-64", qslm::ScaleLayout::per_group(64)}};

    std::printf("weights %zu x %zu, fp32 %.0f bytes\n", rows, cols, fp32_bytes);
    std::printf("%-5s %-13s %10s %9s %12s\n", "bits", "scales", "bytes", "saved", "rel. RMSE");
    for (int bits = 8; bits >= 1; --bits) {
        for (const Setting& s : settings) {
            auto t = qslm::AnyPackedTensor::quantize(bits, w, rows, cols, {s.layout});
            if (!t) {
                std::fprintf(stderr, "quantize failed: %s\n", t.message());
                return 1;
            }
            const std::vector<float> back = t->dequantize();
            double err = 0.0, ref = 0.0;
            for (std::size_t i = 0; i < w.size(); ++i) {
                err += (back[i] - w[i]) * (back[i] - w[i]);
                ref += w[i] * w[i];
            }
            std::printf("%-5d %-13s %10zu %8.1f%% %12.4f\n", bits, s.name, t->bytes(),
                        100.0 * (1.0 - static_cast<double>(t->bytes()) / fp32_bytes), std::sqrt(err / ref));
        }
    }
    return 0;
}
