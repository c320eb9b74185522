#pragma once
// Host-side owning storage for prepared weights: a std::vector over-allocated so that the data
// starts on a 64-byte (cache line, AVX-512 register) boundary. Kernels use unaligned loads, so
// alignment is a speed matter, never a correctness one; caller-provided buffers may be unaligned.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qslm::kernels::detail {

template <class T>
class AlignedStorage {
public:
    AlignedStorage() = default;
    explicit AlignedStorage(std::size_t count) { resize(count); }
    AlignedStorage(const AlignedStorage& o) : AlignedStorage(o.count_) { std::copy(o.data(), o.data() + count_, data()); }
    AlignedStorage& operator=(const AlignedStorage& o) {
        if (this != &o) {
            resize(o.count_);
            std::copy(o.data(), o.data() + count_, data());
        }
        return *this;
    }
    AlignedStorage(AlignedStorage&&) noexcept = default;  // the heap block (and its alignment) moves as is
    AlignedStorage& operator=(AlignedStorage&&) noexcept = default;

    void resize(std::size_t count) {
        count_ = count;
        raw_.assign(count * sizeof(T) + 64, std::byte{0});
        const auto addr = reinterpret_cast<std::uintptr_t>(raw_.data());
        offset_ = static_cast<std::size_t>((64 - addr % 64) % 64);
    }
    [[nodiscard]] T* data() noexcept { return reinterpret_cast<T*>(raw_.data() + offset_); }
    [[nodiscard]] const T* data() const noexcept { return reinterpret_cast<const T*>(raw_.data() + offset_); }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }

private:
    std::vector<std::byte> raw_;
    std::size_t offset_ = 0;
    std::size_t count_ = 0;
};

}  // namespace qslm::kernels::detail
