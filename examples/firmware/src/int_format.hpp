#pragma once
// A tiny integer-to-text formatter (decimal and hex) for output over semihosting: newlib's
// printf is both large and, under QEMU here, hangs in rdimon's startup, and the firmware must
// not pull in floating-point formatting anyway.

#include <cstddef>
#include <cstdint>

namespace fw {

/// Appends text to a fixed buffer; silently truncates (the buffer is sized for one line).
class LineBuffer {
public:
    void put(const char* s) noexcept {
        while (*s != '\0') put_char(*s++);
    }
    void put_char(char c) noexcept {
        if (size_ + 1 < sizeof(buf_)) buf_[size_++] = c;
        buf_[size_] = '\0';
    }
    void put_int(std::int64_t v) noexcept {
        // Negate in unsigned arithmetic so INT64_MIN prints correctly.
        std::uint64_t u = static_cast<std::uint64_t>(v);
        if (v < 0) {
            put_char('-');
            u = ~u + 1u;
        }
        put_uint(u);
    }
    void put_uint(std::uint64_t u) noexcept {
        char tmp[24];
        int n = 0;
        do {
            tmp[n++] = static_cast<char>('0' + static_cast<int>(u % 10u));
            u /= 10u;
        } while (u != 0);
        while (n > 0) put_char(tmp[--n]);
    }
    void put_hex32(std::uint32_t u) noexcept {
        static constexpr char digits[] = "0123456789abcdef";
        put("0x");
        for (int s = 28; s >= 0; s -= 4) put_char(digits[(u >> s) & 0xFu]);
    }
    [[nodiscard]] const char* c_str() const noexcept { return buf_; }
    void clear() noexcept {
        size_ = 0;
        buf_[0] = '\0';
    }

private:
    char buf_[512] = {};
    std::size_t size_ = 0;
};

}  // namespace fw
