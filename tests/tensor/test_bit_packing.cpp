#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "qslm/core/bit_packing.hpp"

namespace bits = qslm::bits;

TEST_CASE("bit fields of every width round-trip and do not disturb their neighbours") {
    const int width = GENERATE(range(1, 9));
    const std::size_t count = GENERATE(1u, 2u, 7u, 8u, 9u, 63u, 1001u);
    std::vector<std::uint8_t> data(bits::packed_bytes(count, width), 0xA5);
    std::vector<std::uint8_t> codes(count);
    std::mt19937 rng(static_cast<unsigned>(width * 1000 + count));
    for (auto& c : codes) c = static_cast<std::uint8_t>(rng() & ((1u << width) - 1));
    for (std::size_t i = 0; i < count; ++i) bits::write_field(data.data(), data.size(), i, width, codes[i]);
    for (std::size_t i = 0; i < count; ++i) REQUIRE(bits::read_field(data.data(), data.size(), i, width) == codes[i]);
    // Rewriting one field leaves all others alone.
    bits::write_field(data.data(), data.size(), count / 2, width, 0);
    for (std::size_t i = 0; i < count; ++i)
        REQUIRE(bits::read_field(data.data(), data.size(), i, width) == (i == count / 2 ? 0 : codes[i]));
}

TEST_CASE("packed_bytes is the dense bit count rounded up to bytes") {
    CHECK(bits::packed_bytes(0, 3) == 0);
    CHECK(bits::packed_bytes(8, 3) == 3);
    CHECK(bits::packed_bytes(9, 3) == 4);
    CHECK(bits::packed_bytes(33 * 65, 5) == (33 * 65 * 5 + 7) / 8);
    CHECK(bits::packed_bytes(1, 8) == 1);
}
