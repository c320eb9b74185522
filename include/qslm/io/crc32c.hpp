#pragma once
// CRC-32C (Castagnoli): the checksum that closes every .qslm file.
//
// Why CRC-32C rather than the zlib CRC-32: it detects more error patterns at the lengths model
// files have (Castagnoli 1993), it is what iSCSI/ext4/Btrfs/LevelDB use, and modern CPUs have
// an instruction for it, so a reader in another language finds it in any standard library.
// This portable version processes eight bytes per step ("slicing-by-8"); the tables are built
// at compile time.
//
// Parameters (Rocksoft model): width 32, poly 0x1EDC6F41 (reflected 0x82F63B78), init
// 0xFFFFFFFF, refin/refout true, xorout 0xFFFFFFFF; check value crc32c("123456789") = 0xE3069283.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace qslm::io {

namespace detail {
inline constexpr std::uint32_t crc32c_poly_reflected = 0x82F63B78u;

constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc32c_tables() noexcept {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ crc32c_poly_reflected : c >> 1;
        t[0][i] = c;
    }
    for (std::size_t s = 1; s < 8; ++s)
        for (std::uint32_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
    return t;
}
inline constexpr auto crc32c_tables = make_crc32c_tables();
}  // namespace detail

/// Continues a CRC-32C over more bytes: crc32c_update(crc32c_update(0, a), b) == crc32c(a ++ b).
/// Start with 0 (the pre/post inversion is handled inside).
constexpr std::uint32_t crc32c_update(std::uint32_t crc, std::span<const std::uint8_t> bytes) noexcept {
    const auto& t = detail::crc32c_tables;
    std::uint32_t c = ~crc;
    std::size_t i = 0;
    const std::size_t n = bytes.size();
    for (; i + 8 <= n; i += 8) {
        const std::uint32_t lo = c ^ (std::uint32_t{bytes[i]} | std::uint32_t{bytes[i + 1]} << 8 |
                                      std::uint32_t{bytes[i + 2]} << 16 | std::uint32_t{bytes[i + 3]} << 24);
        c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
            t[3][bytes[i + 4]] ^ t[2][bytes[i + 5]] ^ t[1][bytes[i + 6]] ^ t[0][bytes[i + 7]];
    }
    for (; i < n; ++i) c = (c >> 8) ^ t[0][(c ^ bytes[i]) & 0xFFu];
    return ~c;
}

constexpr std::uint32_t crc32c(std::span<const std::uint8_t> bytes) noexcept { return crc32c_update(0, bytes); }

/// The reference bit-at-a-time definition; the tests hold the fast version to it.
constexpr std::uint32_t crc32c_bitwise(std::span<const std::uint8_t> bytes) noexcept {
    std::uint32_t c = 0xFFFFFFFFu;
    for (const std::uint8_t b : bytes) {
        c ^= b;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ detail::crc32c_poly_reflected : c >> 1;
    }
    return ~c;
}

}  // namespace qslm::io
