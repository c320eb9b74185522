#pragma once
// Random data for the layer tests.
#include <cstdint>
#include <random>
#include <vector>

namespace qslm_test {

inline std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float stddev = 1.0f, float mean = 0.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(mean, stddev);
    std::vector<float> v(n);
    for (auto& e : v) e = d(rng);
    return v;
}

inline std::vector<std::uint8_t> random_spikes(std::size_t n, std::uint32_t seed, double density) {
    std::mt19937 rng(seed);
    std::bernoulli_distribution d(density);
    std::vector<std::uint8_t> v(n);
    for (auto& e : v) e = d(rng) ? 1 : 0;
    return v;
}

}  // namespace qslm_test
