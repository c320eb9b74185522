#pragma once
// Dense bit-field packing: value i of a `bits`-wide stream occupies bits [i*bits, (i+1)*bits)
// of a byte array, least significant bit first. No padding per value, so 3-, 5-, 6- and 7-bit
// values straddle byte boundaries; a field of at most 8 bits touches at most two bytes.
// This is the storage format of PackedTensor and of the .qslm payload.

#include <cstddef>
#include <cstdint>

#include "qslm/core/config.hpp"

namespace qslm::bits {

/// Bytes needed for `count` values of `bits` bits each.
constexpr std::size_t packed_bytes(std::size_t count, int bits) noexcept {
    return (count * static_cast<std::size_t>(bits) + 7) / 8;
}

/// Reads the `bits`-wide field number `index` (1 <= bits <= 8) from a stream of `size` bytes.
/// Never reads past `size`: the second byte is fetched only when the field needs it.
constexpr std::uint8_t read_field(const std::uint8_t* data, std::size_t size, std::size_t index,
                                           int bits) noexcept {
    const std::size_t bit = index * static_cast<std::size_t>(bits);
    const std::size_t byte = bit / 8;
    const unsigned shift = static_cast<unsigned>(bit % 8);
    unsigned word = data[byte];
    if (shift + static_cast<unsigned>(bits) > 8 && byte + 1 < size) word |= unsigned{data[byte + 1]} << 8;
    return static_cast<std::uint8_t>((word >> shift) & ((1u << bits) - 1u));
}

/// Writes the low `bits` bits of `code` into field number `index`, leaving other bits intact.
constexpr void write_field(std::uint8_t* data, std::size_t size, std::size_t index, int bits,
                                    std::uint8_t code) noexcept {
    const std::size_t bit = index * static_cast<std::size_t>(bits);
    const std::size_t byte = bit / 8;
    const unsigned shift = static_cast<unsigned>(bit % 8);
    const unsigned mask = ((1u << bits) - 1u) << shift;
    const unsigned value = (unsigned{code} << shift) & mask;
    data[byte] = static_cast<std::uint8_t>((data[byte] & ~mask) | value);
    if (shift + static_cast<unsigned>(bits) > 8 && byte + 1 < size) {
        data[byte + 1] = static_cast<std::uint8_t>((data[byte + 1] & ~(mask >> 8)) | (value >> 8));
    }
}

}  // namespace qslm::bits
