#pragma once
// Helpers for the .qslm tests: edit a file image and fix its checksum afterwards, so that a
// test reaches the structural check it means to exercise instead of the CRC.

#include <cstdint>
#include <vector>

#include "qslm/io/byte_order.hpp"
#include "qslm/io/crc32c.hpp"
#include "qslm/io/qslm_model.hpp"

namespace qslm::test {

/// Recomputes the header's file size and the trailing CRC-32C of a (possibly edited) image.
inline void reseal(std::vector<std::uint8_t>& bytes) {
    io::store_le<std::uint64_t>(bytes.data() + 16, bytes.size());
    const std::size_t body = bytes.size() - io::qslm_trailer_bytes;
    io::store_le<std::uint32_t>(bytes.data() + body, io::crc32c(std::span(bytes).first(body)));
}

/// Offset of the first byte of the body of section `type` (after its 16-byte header).
inline std::size_t section_body(const std::vector<std::uint8_t>& bytes, std::uint32_t type) {
    std::size_t at = io::qslm_header_bytes;
    while (at + 16 <= bytes.size()) {
        const auto t = io::load_le<std::uint32_t>(bytes.data() + at);
        const auto len = io::load_le<std::uint64_t>(bytes.data() + at + 8);
        if (t == type) return at + 16;
        at += 16 + static_cast<std::size_t>(len);
        at = (at + 7) / 8 * 8;
    }
    return 0;
}

/// Offset one past the last body byte of section `type`.
inline std::size_t section_end(const std::vector<std::uint8_t>& bytes, std::uint32_t type) {
    const std::size_t body = section_body(bytes, type);
    return body + static_cast<std::size_t>(io::load_le<std::uint64_t>(bytes.data() + body - 8));
}

}  // namespace qslm::test
