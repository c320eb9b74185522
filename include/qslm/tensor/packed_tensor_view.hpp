#pragma once
// PackedTensorView<Bits, Encoding>: a read-only view of packed low-bit weights and their scales
// in memory the view does not own: a PackedTensor's buffers, a memory-mapped file, or
// constexpr arrays in flash. Like Eigen::Map: no copy, no allocation, usable at compile time,
// so a generated firmware header can static_assert that its tensors are well formed.

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/bit_packing.hpp"
#include "qslm/core/result.hpp"
#include "qslm/tensor/encoding.hpp"
#include "qslm/tensor/scale_layout.hpp"

namespace qslm {

/// Largest rows * cols a tensor may have: keeps every bit offset well inside size_t on 32-bit
/// targets and rejects absurd shapes read from hostile files before anything is allocated.
inline constexpr std::size_t max_tensor_elements = std::size_t{1} << 28;

/// Bytes a tensor with the given shape occupies when stored: payload + scales + zero points.
constexpr std::size_t packed_tensor_bytes(std::size_t rows, std::size_t cols, int bits, ScaleLayout layout,
                                          ScaleFormat format, bool zero_points) noexcept {
    const std::size_t scales = layout.scale_count(rows, cols);
    return bits::packed_bytes(rows * cols, bits) + scales * (format == ScaleFormat::float32 ? 4u : 1u) +
           (zero_points ? scales * 2u : 0u);
}

/// Tag for the constructor that skips validation (for constexpr tables checked by check()).
struct unchecked_t {
    explicit unchecked_t() = default;
};
inline constexpr unchecked_t unchecked{};

template <int Bits, class Encoding = default_encoding_t<Bits>>
class PackedTensorView {
    static_assert(Bits >= 1 && Bits <= 8, "PackedTensorView<Bits>: Bits must be between 1 and 8.");
    static_assert(WeightEncoding<Encoding, Bits>,
                  "PackedTensorView<Bits, Encoding>: this encoding does not support this bit-width "
                  "(Bipolar needs Bits == 1, Ternary needs Bits == 2).");

public:
    static constexpr int bits = Bits;
    using encoding = Encoding;
    static constexpr int min_level = Encoding::template min_level<Bits>;
    static constexpr int max_level = Encoding::template max_level<Bits>;

    constexpr PackedTensorView() noexcept = default;

    /// Unvalidated: for tables whose consistency is checked with check() (e.g. in a static_assert).
    constexpr PackedTensorView(unchecked_t, std::size_t rows, std::size_t cols, ScaleLayout layout,
                               std::span<const std::uint8_t> payload, std::span<const float> scales,
                               std::span<const std::int8_t> scale_exponents = {},
                               std::span<const std::int16_t> zero_points = {}) noexcept
        : rows_(rows), cols_(cols), layout_(layout), payload_(payload), scales_(scales),
          exponents_(scale_exponents), zero_points_(zero_points) {}

    /// Validated view with float32 scales.
    static constexpr Result<PackedTensorView> make(std::size_t rows, std::size_t cols, ScaleLayout layout,
                                                   std::span<const std::uint8_t> payload,
                                                   std::span<const float> scales,
                                                   std::span<const std::int16_t> zero_points = {}) noexcept {
        PackedTensorView v(unchecked, rows, cols, layout, payload, scales, {}, zero_points);
        if (const Status s = v.check(); s != Status::ok) return Failure{s, v.explain(s)};
        return v;
    }
    /// Validated view with power-of-two scales (scale = 2^exponent).
    static constexpr Result<PackedTensorView> make_power_of_two(std::size_t rows, std::size_t cols,
                                                                ScaleLayout layout,
                                                                std::span<const std::uint8_t> payload,
                                                                std::span<const std::int8_t> exponents,
                                                                std::span<const std::int16_t> zero_points = {}) noexcept {
        PackedTensorView v(unchecked, rows, cols, layout, payload, {}, exponents, zero_points);
        if (const Status s = v.check(); s != Status::ok) return Failure{s, v.explain(s)};
        return v;
    }

    /// Consistency of shape, payload size, scale count and zero points. constexpr so that
    /// generated headers can static_assert it.
    [[nodiscard]] constexpr Status check() const noexcept {
        if (rows_ == 0 || cols_ == 0 || rows_ > max_tensor_elements / cols_) return Status::bad_shape;
        if (const Status s = layout_.check(); s != Status::ok) return s;
        if (payload_.size() != bits::packed_bytes(size(), Bits)) return Status::corrupt_data;
        const std::size_t n = scale_count();
        const bool pow2 = !exponents_.empty();
        if (pow2 ? (exponents_.size() != n || !scales_.empty()) : scales_.size() != n) return Status::corrupt_data;
        if (!zero_points_.empty()) {
            if (zero_points_.size() != n) return Status::corrupt_data;
            for (const std::int16_t z : zero_points_)
                if (z < min_level || z > max_level) return Status::out_of_range;
        }
        return Status::ok;
    }

    [[nodiscard]] constexpr std::size_t rows() const noexcept { return rows_; }
    [[nodiscard]] constexpr std::size_t cols() const noexcept { return cols_; }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return rows_ * cols_; }
    [[nodiscard]] constexpr ScaleLayout layout() const noexcept { return layout_; }
    [[nodiscard]] constexpr ScaleFormat scale_format() const noexcept {
        return exponents_.empty() ? ScaleFormat::float32 : ScaleFormat::power_of_two;
    }
    [[nodiscard]] constexpr std::size_t scale_count() const noexcept { return layout_.scale_count(rows_, cols_); }
    [[nodiscard]] constexpr bool has_zero_points() const noexcept { return !zero_points_.empty(); }
    [[nodiscard]] constexpr std::span<const std::uint8_t> payload() const noexcept { return payload_; }
    [[nodiscard]] constexpr std::span<const float> scales() const noexcept { return scales_; }
    [[nodiscard]] constexpr std::span<const std::int8_t> scale_exponents() const noexcept { return exponents_; }
    [[nodiscard]] constexpr std::span<const std::int16_t> zero_points() const noexcept { return zero_points_; }

    /// Stored size in bytes: packed payload + scales (4 or 1 bytes each) + zero points (2 bytes each).
    [[nodiscard]] constexpr std::size_t bytes() const noexcept {
        return packed_tensor_bytes(rows_, cols_, Bits, layout_, scale_format(), has_zero_points());
    }

    [[nodiscard]] constexpr std::uint8_t code(std::size_t r, std::size_t c) const noexcept {
        return bits::read_field(payload_.data(), payload_.size(), r * cols_ + c, Bits);
    }
    [[nodiscard]] constexpr int level(std::size_t r, std::size_t c) const noexcept {
        return Encoding::template decode<Bits>(code(r, c));
    }
    [[nodiscard]] constexpr std::size_t scale_index(std::size_t r, std::size_t c) const noexcept {
        return layout_.scale_index(r, c, cols_);
    }
    [[nodiscard]] constexpr float scale(std::size_t index) const noexcept {
        return exponents_.empty() ? scales_[index] : exp2i(exponents_[index]);
    }
    [[nodiscard]] constexpr int zero_point(std::size_t index) const noexcept {
        return zero_points_.empty() ? 0 : zero_points_[index];
    }
    /// The real-valued weight: scale * (level - zero_point).
    [[nodiscard]] constexpr float dequantized(std::size_t r, std::size_t c) const noexcept {
        const std::size_t s = scale_index(r, c);
        return scale(s) * static_cast<float>(level(r, c) - zero_point(s));
    }

    /// Unpacks the levels of row `r` into `out` (cols() entries). Returns buffer_too_small
    /// instead of writing past a short buffer.
    template <class Int>
    constexpr Status unpack_row(std::size_t r, std::span<Int> out) const noexcept {
        if (out.size() < cols_) return Status::buffer_too_small;
        if (r >= rows_) return Status::out_of_range;
        for (std::size_t c = 0; c < cols_; ++c) out[c] = static_cast<Int>(level(r, c));
        return Status::ok;
    }
    /// Unpacks every level, row-major.
    template <class Int>
    constexpr Status unpack(std::span<Int> out) const noexcept {
        if (out.size() < size()) return Status::buffer_too_small;
        for (std::size_t i = 0; i < size(); ++i)
            out[i] = static_cast<Int>(Encoding::template decode<Bits>(
                bits::read_field(payload_.data(), payload_.size(), i, Bits)));
        return Status::ok;
    }
    /// Dequantizes every weight, row-major.
    constexpr Status dequantize(std::span<float> out) const noexcept {
        if (out.size() < size()) return Status::buffer_too_small;
        for (std::size_t r = 0; r < rows_; ++r)
            for (std::size_t c = 0; c < cols_; ++c) out[r * cols_ + c] = dequantized(r, c);
        return Status::ok;
    }

private:
    static constexpr float exp2i(int e) noexcept {
        float v = 1.0f;
        for (; e > 0; --e) v *= 2.0f;
        for (; e < 0; ++e) v *= 0.5f;
        return v;
    }
    static constexpr const char* explain(Status s) noexcept {
        switch (s) {
            case Status::bad_shape: return "tensor shape is empty or has more than 2^28 elements";
            case Status::bad_group_size: return "per-group scales need a group size of at least 1";
            case Status::corrupt_data: return "payload or scale array does not match the tensor's shape and bit-width";
            case Status::out_of_range: return "a zero point lies outside the levels this bit-width can represent";
            default: return "invalid packed tensor";
        }
    }

    std::size_t rows_ = 0;
    std::size_t cols_ = 0;
    ScaleLayout layout_{};
    std::span<const std::uint8_t> payload_{};
    std::span<const float> scales_{};
    std::span<const std::int8_t> exponents_{};
    std::span<const std::int16_t> zero_points_{};
};

}  // namespace qslm
