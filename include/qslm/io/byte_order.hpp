#pragma once
// Little-endian bytes <-> integers and floats, independent of the host's byte order, plus a
// bounds-checked cursor for parsing untrusted files.
//
// Every file format qslm reads (safetensors, .qslm) is little-endian. Assembling values byte by
// byte (instead of reinterpret_cast) keeps the readers correct on big-endian hosts, free of
// alignment faults on unaligned offsets, and free of strict-aliasing undefined behaviour.
//
// Host-only header: ByteCursor reports a short read as qslm::Error.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "qslm/host/error.hpp"

namespace qslm::io {

template <class UInt>
constexpr UInt load_le(const std::uint8_t* p) noexcept {
    static_assert(std::is_unsigned_v<UInt>);
    UInt v = 0;
    for (std::size_t i = 0; i < sizeof(UInt); ++i) v = static_cast<UInt>(v | (static_cast<UInt>(p[i]) << (8 * i)));
    return v;
}

template <class UInt>
constexpr void store_le(std::uint8_t* p, UInt v) noexcept {
    static_assert(std::is_unsigned_v<UInt>);
    for (std::size_t i = 0; i < sizeof(UInt); ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

inline float load_f32_le(const std::uint8_t* p) noexcept { return std::bit_cast<float>(load_le<std::uint32_t>(p)); }
inline double load_f64_le(const std::uint8_t* p) noexcept { return std::bit_cast<double>(load_le<std::uint64_t>(p)); }

/// Appends little-endian values to a growing byte vector (what the writers use).
class ByteWriter {
public:
    template <class UInt>
    void put(UInt v) {
        static_assert(std::is_unsigned_v<UInt>);
        const std::size_t at = bytes_.size();
        bytes_.resize(at + sizeof(UInt));
        store_le<UInt>(bytes_.data() + at, v);
    }
    void put_f32(float v) { put<std::uint32_t>(std::bit_cast<std::uint32_t>(v)); }
    void put_bytes(std::span<const std::uint8_t> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
    void put_string(std::string_view s) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
        bytes_.insert(bytes_.end(), p, p + s.size());
    }
    /// Zero bytes up to the next multiple of `alignment` (relative to the start of the buffer).
    void pad_to(std::size_t alignment) {
        while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    }
    /// Overwrites a previously written little-endian value (for lengths known only afterwards).
    template <class UInt>
    void patch(std::size_t at, UInt v) noexcept {
        store_le<UInt>(bytes_.data() + at, v);
    }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    [[nodiscard]] std::vector<std::uint8_t>& bytes() noexcept { return bytes_; }
    [[nodiscard]] std::vector<std::uint8_t> take() && noexcept { return std::move(bytes_); }

private:
    std::vector<std::uint8_t> bytes_;
};

/// Reads little-endian values from untrusted bytes. Every read checks the remaining length
/// first and fails with corrupt_data naming what was being read and the absolute offset, so a
/// truncated or lying file can never make the parser read out of bounds.
class ByteCursor {
public:
    /// `base_offset` is the absolute file offset of data[0] (for error messages); `context`
    /// names the file or section ("model.qslm", "tensor 'head.weight'").
    ByteCursor(std::span<const std::uint8_t> data, std::size_t base_offset, std::string context)
        : data_(data), base_(base_offset), context_(std::move(context)) {}

    [[nodiscard]] std::size_t remaining() const noexcept { return data_.size() - pos_; }
    [[nodiscard]] std::size_t offset() const noexcept { return base_ + pos_; }
    [[nodiscard]] bool at_end() const noexcept { return pos_ == data_.size(); }
    [[nodiscard]] const std::string& context() const noexcept { return context_; }

    /// Fails unless `n` more bytes are available for `what`.
    void require(std::size_t n, const char* what) const {
        if (n > remaining())
            fail(Status::corrupt_data, context_ + ": truncated " + what + " at offset " + std::to_string(offset()) +
                                           ": needs " + std::to_string(n) + " bytes, only " +
                                           std::to_string(remaining()) + " left");
    }
    /// Like require() for `count` items of `size` bytes each, without overflowing count * size.
    void require_items(std::size_t count, std::size_t size, const char* what) const {
        if (size != 0 && count > remaining() / size)
            fail(Status::corrupt_data, context_ + ": truncated " + what + " at offset " + std::to_string(offset()) +
                                           ": " + std::to_string(count) + " items of " + std::to_string(size) +
                                           " bytes do not fit in the " + std::to_string(remaining()) +
                                           " bytes left");
    }

    template <class UInt>
    UInt read(const char* what) {
        require(sizeof(UInt), what);
        const UInt v = load_le<UInt>(data_.data() + pos_);
        pos_ += sizeof(UInt);
        return v;
    }
    float read_f32(const char* what) { return std::bit_cast<float>(read<std::uint32_t>(what)); }
    std::span<const std::uint8_t> read_bytes(std::size_t n, const char* what) {
        require(n, what);
        const auto s = data_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    void skip(std::size_t n, const char* what) { (void)read_bytes(n, what); }

private:
    std::span<const std::uint8_t> data_;
    std::size_t pos_ = 0;
    std::size_t base_ = 0;
    std::string context_;
};

}  // namespace qslm::io
