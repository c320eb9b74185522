#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "qslm/io/crc32c.hpp"

using namespace qslm::io;

namespace {
std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("CRC-32C matches the standard check value") {
    CHECK(crc32c(bytes_of("123456789")) == 0xE3069283u);
    CHECK(crc32c_bitwise(bytes_of("123456789")) == 0xE3069283u);
    CHECK(crc32c({}) == 0u);
    // RFC 3720 (iSCSI) B.4 test patterns.
    const std::vector<std::uint8_t> zeros(32, 0x00), ones(32, 0xFF);
    std::vector<std::uint8_t> inc(32), dec(32);
    for (int i = 0; i < 32; ++i) {
        inc[i] = static_cast<std::uint8_t>(i);
        dec[i] = static_cast<std::uint8_t>(31 - i);
    }
    CHECK(crc32c(zeros) == 0x8A9136AAu);
    CHECK(crc32c(ones) == 0x62A8AB43u);
    CHECK(crc32c(inc) == 0x46DD794Eu);
    CHECK(crc32c(dec) == 0x113FDB5Cu);
}

TEST_CASE("the sliced CRC-32C equals the bitwise definition for every length and alignment") {
    std::mt19937 rng(3);
    std::vector<std::uint8_t> data(300);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    for (std::size_t start = 0; start < 9; ++start)
        for (std::size_t len = 0; start + len <= data.size(); len += 1 + len / 16)
            REQUIRE(crc32c(std::span(data).subspan(start, len)) ==
                    crc32c_bitwise(std::span(data).subspan(start, len)));
}

TEST_CASE("CRC-32C can be computed incrementally") {
    const auto all = bytes_of("The quick brown fox jumps over the lazy dog");
    for (std::size_t split = 0; split <= all.size(); ++split)
        REQUIRE(crc32c_update(crc32c(all.first(split)), all.subspan(split)) == crc32c(all));
    static_assert(crc32c_bitwise(std::span<const std::uint8_t>{}) == 0u);
}
