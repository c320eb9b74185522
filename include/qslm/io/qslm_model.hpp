#pragma once
// The in-memory form of a .qslm file: a quantized model's config, its tensors (packed low-bit
// weights with scales, or plain float32 vectors such as LayerNorm parameters), the tokenizer and
// vocabulary, and one test vector (input tokens and the logits they must produce).
// The byte layout is in docs/format.md; qslm_reader.hpp / qslm_writer.hpp convert.
//
// A tensor read from a file refers to its payload where it lies (inside the memory-mapped
// file): `payload_owner` keeps the mapping alive, and view<Bits, Encoding>() hands out a
// PackedTensorView over it without a copy. Scales and zero points are small and are copied
// into aligned vectors (the file does not align them).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/io/byte_order.hpp"
#include "qslm/tensor/any_packed_tensor.hpp"
#include "qslm/tensor/packed_tensor.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::io {

/// Newest .qslm version this build reads and the one it writes.
inline constexpr std::uint32_t qslm_format_version = 1;
/// "QSLM\r\n\x1a\n": the CR-LF and ^Z catch transfers in text mode, as PNG's signature does.
inline constexpr std::uint8_t qslm_magic[8] = {0x51, 0x53, 0x4C, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A};
inline constexpr std::size_t qslm_header_bytes = 32;
inline constexpr std::size_t qslm_section_header_bytes = 16;
inline constexpr std::size_t qslm_trailer_bytes = 4;

enum class QslmSection : std::uint32_t {
    config = 1,       ///< UTF-8 JSON object
    tensors = 2,      ///< tensor records
    tokenizer = 3,    ///< UTF-8 JSON object
    vocab = 4,        ///< list of byte strings
    test_vector = 5,  ///< input tokens, expected outputs, tolerances
};
/// Section types at or above this are optional extensions: a reader that does not know one
/// keeps (or skips) it; an unknown type below it is an error.
inline constexpr std::uint32_t qslm_optional_section_base = 0x80000000u;

// Caps: every count read from a file is checked against these and against the bytes that are
// left before anything is allocated.
inline constexpr std::size_t qslm_max_sections = 64;
inline constexpr std::size_t qslm_max_tensors = 65536;
inline constexpr std::size_t qslm_max_name_bytes = 1024;
inline constexpr std::size_t qslm_max_json_bytes = std::size_t{16} << 20;
inline constexpr std::size_t qslm_max_json_depth = 64;
inline constexpr std::size_t qslm_max_vocab = std::size_t{1} << 24;
inline constexpr std::size_t qslm_max_token_bytes = 65536;
inline constexpr std::size_t qslm_max_test_inputs = std::size_t{1} << 20;
inline constexpr std::size_t qslm_max_test_outputs = std::size_t{1} << 24;

enum class TensorStorage : std::uint8_t {
    packed = 0,   ///< Bits-wide codes + scales (+ zero points): a PackedTensor
    float32 = 1,  ///< plain little-endian float32 values (norms, biases, time constants)
};

/// How codes stand for levels; the numbering is the file's.
enum class EncodingKind : std::uint8_t { signed_levels = 0, unsigned_levels = 1, bipolar = 2, ternary = 3 };

constexpr const char* to_string(EncodingKind e) noexcept {
    switch (e) {
        case EncodingKind::signed_levels: return "signed";
        case EncodingKind::unsigned_levels: return "unsigned";
        case EncodingKind::bipolar: return "bipolar";
        case EncodingKind::ternary: return "ternary";
    }
    return "unknown";
}

template <class E>
constexpr EncodingKind encoding_kind_of() noexcept {
    if constexpr (std::is_same_v<E, encoding::Signed>) return EncodingKind::signed_levels;
    else if constexpr (std::is_same_v<E, encoding::Unsigned>) return EncodingKind::unsigned_levels;
    else if constexpr (std::is_same_v<E, encoding::Bipolar>) return EncodingKind::bipolar;
    else {
        static_assert(std::is_same_v<E, encoding::Ternary>, "encoding_kind_of: not a qslm encoding");
        return EncodingKind::ternary;
    }
}

/// Whether an encoding exists at a width (Bipolar: 1 bit only, Ternary: 2 bits only).
constexpr bool encoding_supports(EncodingKind e, int bits) noexcept {
    switch (e) {
        case EncodingKind::signed_levels:
        case EncodingKind::unsigned_levels: return bits >= 1 && bits <= 8;
        case EncodingKind::bipolar: return bits == 1;
        case EncodingKind::ternary: return bits == 2;
    }
    return false;
}

struct QslmTensor {
    std::string name;
    TensorStorage storage = TensorStorage::packed;
    int bits = 8;  ///< 1..8 for packed; 32 for float32
    EncodingKind encoding = EncodingKind::signed_levels;
    ScaleLayout layout = ScaleLayout::per_tensor();
    ScaleFormat scale_format = ScaleFormat::float32;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::vector<float> scales;                 ///< scale_format == float32
    std::vector<std::int8_t> scale_exponents;  ///< scale_format == power_of_two
    std::vector<std::int16_t> zero_points;     ///< empty: symmetric
    std::span<const std::uint8_t> payload;     ///< packed codes, or float32 values (little-endian)
    std::shared_ptr<const void> payload_owner; ///< keeps `payload` alive (empty for borrowed buffers)

    // ----- construction -----------------------------------------------------------------
    /// Copies a packed tensor (payload, scales, zero points).
    template <int Bits, class Encoding>
    static QslmTensor from_view(std::string name, const PackedTensorView<Bits, Encoding>& v) {
        QslmTensor t;
        t.name = std::move(name);
        t.storage = TensorStorage::packed;
        t.bits = Bits;
        t.encoding = encoding_kind_of<Encoding>();
        t.layout = v.layout();
        t.scale_format = v.scale_format();
        t.rows = v.rows();
        t.cols = v.cols();
        t.scales.assign(v.scales().begin(), v.scales().end());
        t.scale_exponents.assign(v.scale_exponents().begin(), v.scale_exponents().end());
        t.zero_points.assign(v.zero_points().begin(), v.zero_points().end());
        t.own_payload(std::vector<std::uint8_t>(v.payload().begin(), v.payload().end()));
        return t;
    }
    template <int Bits, class Encoding>
    static QslmTensor from_packed(std::string name, const PackedTensor<Bits, Encoding>& p) {
        return from_view(std::move(name), p.view());
    }
    static QslmTensor from_any(std::string name, const AnyPackedTensor& p) {
        return p.visit([&](const auto& t) { return from_packed(std::move(name), t); });
    }
    /// A float32 tensor, rows x cols row-major (a vector is 1 x n).
    static QslmTensor from_floats(std::string name, std::size_t rows, std::size_t cols, std::span<const float> values) {
        if (rows == 0 || cols == 0 || rows > max_tensor_elements / cols || values.size() != rows * cols)
            fail(Status::bad_shape, "tensor '" + name + "': " + std::to_string(values.size()) +
                                        " floats do not make a non-empty " + std::to_string(rows) + " x " +
                                        std::to_string(cols) + " tensor");
        QslmTensor t;
        t.name = std::move(name);
        t.storage = TensorStorage::float32;
        t.bits = 32;
        t.layout = ScaleLayout::per_tensor();
        t.rows = rows;
        t.cols = cols;
        ByteWriter w;
        for (const float v : values) w.put_f32(v);
        t.own_payload(std::move(w).take());
        return t;
    }

    // ----- access -----------------------------------------------------------------------
    [[nodiscard]] bool is_packed() const noexcept { return storage == TensorStorage::packed; }
    [[nodiscard]] std::size_t size() const noexcept { return rows * cols; }

    /// A zero-copy view with compile-time width and encoding; invalid_argument when the
    /// tensor was stored with another width or encoding, corrupt_data when inconsistent.
    template <int Bits, class Encoding = default_encoding_t<Bits>>
    [[nodiscard]] PackedTensorView<Bits, Encoding> view() const {
        if (!is_packed() || bits != Bits || encoding != encoding_kind_of<Encoding>())
            fail(Status::invalid_argument, "tensor '" + name + "' is stored as " + describe() +
                                               ", not as " + std::to_string(Bits) + "-bit " +
                                               to_string(encoding_kind_of<Encoding>()));
        auto v = scale_format == ScaleFormat::power_of_two
                     ? PackedTensorView<Bits, Encoding>::make_power_of_two(rows, cols, layout, payload, scale_exponents,
                                                                            zero_points)
                     : PackedTensorView<Bits, Encoding>::make(rows, cols, layout, payload, scales, zero_points);
        return value_or_throw(std::move(v), "tensor '" + name + "'");
    }

private:
    template <class Encoding, class F>
    decltype(auto) visit_width(F& f) const {
        switch (bits) {
            case 1: return f(view<1, Encoding>());
            case 2: return f(view<2, Encoding>());
            case 3: return f(view<3, Encoding>());
            case 4: return f(view<4, Encoding>());
            case 5: return f(view<5, Encoding>());
            case 6: return f(view<6, Encoding>());
            case 7: return f(view<7, Encoding>());
            case 8: return f(view<8, Encoding>());
            default: break;
        }
        fail(Status::bad_bit_width, "tensor '" + name + "' has bit-width " + std::to_string(bits) + " (1..8 allowed)");
    }

public:
    /// Calls f(view) with the PackedTensorView of the stored width and encoding (one of the
    /// 18 valid combinations); f must return the same type for all of them.
    template <class F>
    decltype(auto) visit_view(F&& f) const {
        if (!is_packed()) fail(Status::invalid_argument, "tensor '" + name + "' holds float32 values, not packed codes");
        switch (encoding) {
            case EncodingKind::bipolar:
                if (bits == 1) return f(view<1, encoding::Bipolar>());
                break;
            case EncodingKind::ternary:
                if (bits == 2) return f(view<2, encoding::Ternary>());
                break;
            case EncodingKind::signed_levels: return visit_width<encoding::Signed>(f);
            case EncodingKind::unsigned_levels: return visit_width<encoding::Unsigned>(f);
        }
        fail(Status::invalid_argument, "tensor '" + name + "' has an invalid width/encoding: " + describe());
    }

    /// An owning PackedTensor equal to the stored one (same levels, scales, zero points and,
    /// therefore, the same payload bytes).
    template <int Bits, class Encoding = default_encoding_t<Bits>>
    [[nodiscard]] PackedTensor<Bits, Encoding> to_packed() const {
        const auto v = view<Bits, Encoding>();
        std::vector<std::int16_t> levels(v.size());
        (void)v.unpack(std::span<std::int16_t>(levels));
        auto t = scale_format == ScaleFormat::power_of_two
                     ? PackedTensor<Bits, Encoding>::from_levels_power_of_two(levels, rows, cols, layout,
                                                                              scale_exponents, zero_points)
                     : PackedTensor<Bits, Encoding>::from_levels(levels, rows, cols, layout, scales, zero_points);
        return value_or_throw(std::move(t), "tensor '" + name + "'");
    }

    /// The stored tensor as an AnyPackedTensor (which holds the default encodings: Bipolar
    /// at 1 bit, Signed at 2..8); invalid_argument for other encodings.
    [[nodiscard]] AnyPackedTensor to_any_packed() const {
        const bool default_encoding =
            is_packed() && ((bits == 1 && encoding == EncodingKind::bipolar) ||
                            (bits >= 2 && bits <= 8 && encoding == EncodingKind::signed_levels));
        if (!default_encoding)
            fail(Status::invalid_argument, "tensor '" + name + "' is stored as " + describe() +
                                               "; AnyPackedTensor holds only bipolar 1-bit and signed 2..8-bit tensors");
        return value_or_throw(AnyPackedTensor::with_bits(bits, [&]<int B>() -> Result<AnyPackedTensor> {
                                  return AnyPackedTensor(to_packed<B>());
                              }),
                              "tensor '" + name + "'");
    }

    /// The values of a float32 tensor (copied out of the little-endian payload).
    [[nodiscard]] std::vector<float> float_values() const {
        if (is_packed()) fail(Status::invalid_argument, "tensor '" + name + "' holds packed codes; use dequantize()");
        std::vector<float> out(payload.size() / 4);
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = load_f32_le(payload.data() + 4 * i);
        return out;
    }

    /// Real-valued weights, row-major: dequantized codes, or the float32 values.
    [[nodiscard]] std::vector<float> dequantize() const {
        if (!is_packed()) return float_values();
        std::vector<float> out(size());
        visit_view([&](const auto& v) { return v.dequantize(out); });
        return out;
    }

    /// "4-bit signed, per_group(64), float32 scales" or "float32".
    [[nodiscard]] std::string describe() const {
        if (!is_packed()) return "float32";
        std::string s = std::to_string(bits) + "-bit " + to_string(encoding) + ", " + qslm::to_string(layout.granularity);
        if (layout.granularity == Granularity::per_group) s += "(" + std::to_string(layout.group_size) + ")";
        s += scale_format == ScaleFormat::power_of_two ? ", power-of-two scales" : ", float32 scales";
        if (!zero_points.empty()) s += ", zero points";
        return s;
    }

private:
    void own_payload(std::vector<std::uint8_t> bytes) {
        auto owned = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
        payload = {owned->data(), owned->size()};
        payload_owner = std::move(owned);
    }
};

/// One input and the output it must produce, with the tolerance of the comparison:
/// |got - expected| <= abs_tolerance + rel_tolerance * |expected| for every output.
struct QslmTestVector {
    std::vector<std::uint32_t> input;  ///< token ids
    std::vector<float> expected;       ///< e.g. the logits after the last input token
    float abs_tolerance = 1e-4f;
    float rel_tolerance = 1e-4f;
};

/// A section this build does not understand, kept verbatim (types >= 0x80000000 only).
struct QslmExtension {
    std::uint32_t type = qslm_optional_section_base;
    std::vector<std::uint8_t> body;
};

struct QslmModel {
    std::uint32_t version = qslm_format_version;  ///< as read (the writer always writes the newest)
    std::string config_json = "{}";               ///< a JSON object: model type, sizes, LIF constants, ...
    std::vector<QslmTensor> tensors;
    std::string tokenizer_json;                   ///< a JSON object, or empty for none
    std::vector<std::string> vocab;               ///< token strings (arbitrary bytes); empty for none
    std::optional<QslmTestVector> test_vector;
    std::vector<QslmExtension> extensions;

    [[nodiscard]] const QslmTensor* find(std::string_view tensor_name) const noexcept {
        for (const auto& t : tensors)
            if (t.name == tensor_name) return &t;
        return nullptr;
    }
    [[nodiscard]] const QslmTensor& tensor(std::string_view tensor_name) const {
        if (const auto* t = find(tensor_name)) return *t;
        fail(Status::not_found, "the model has no tensor named '" + std::string(tensor_name) + "'");
    }
    /// Appends a tensor; invalid_argument if the name is taken.
    QslmTensor& add(QslmTensor t) {
        if (find(t.name)) fail(Status::invalid_argument, "the model already has a tensor named '" + t.name + "'");
        tensors.push_back(std::move(t));
        return tensors.back();
    }
    [[nodiscard]] nlohmann::json config() const { return nlohmann::json::parse(config_json); }
};

}  // namespace qslm::io
