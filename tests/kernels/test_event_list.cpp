#include <catch2/catch.hpp>

#include "kernel_test_support.hpp"

using namespace qslm;

TEST_CASE("the SIMD event list equals the scalar one on every usable ISA") {
    const std::size_t cols = GENERATE(1u, 64u, 65u, 1000u, 5000u);
    const double density = GENERATE(0.0, 0.01, 0.1, 0.5, 1.0);
    const auto spikes = test::random_spikes(cols, density, static_cast<unsigned>(cols));
    std::vector<std::uint32_t> expect(cols);
    auto n = spike::active_indices_scalar(spikes, expect);
    REQUIRE(n.ok());
    expect.resize(*n);
    for (const auto isa : test::usable_isas()) {
        INFO("isa " << kernels::to_string(isa) << " cols " << cols << " density " << density);
        std::vector<std::uint32_t> out(spikes.size() * 64);
        auto m = kernels::active_indices(spikes, out, isa);
        REQUIRE(m.ok());
        out.resize(*m);
        CHECK(out == expect);
    }
    std::vector<std::uint32_t> small(spikes.size() * 64 - 1);
    CHECK(kernels::active_indices(spikes, small).status() == Status::buffer_too_small);
}

TEST_CASE("the test binary reports the ISAs it checks") {
    std::string list;
    for (const auto isa : test::usable_isas()) list += std::string(kernels::to_string(isa)) + " ";
    WARN("kernel ISAs compiled in and supported by this CPU: " << list << "(best: " << kernels::to_string(kernels::best_isa()) << ")");
    CHECK(kernels::isa_usable(kernels::Isa::scalar));
}
