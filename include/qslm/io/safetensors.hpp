#pragma once
// A safetensors reader that treats every byte as hostile.
//
// File layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, then N bytes of UTF-8 JSON, then the data section. The JSON maps each tensor name
// to {"dtype", "shape", "data_offsets": [begin, end)} (offsets relative to the data section),
// plus an optional "__metadata__" object of string -> string.
//
// What is checked before any tensor is handed out (each failure is a qslm::Error naming the
// tensor and the problem):
//   - the file holds the length field; N is at least 2, at most 100 MB (the reference
//     implementation's limit) and within the file;
//   - the JSON parses (errors name the file offset), is an object, has no duplicate keys at any
//     level, and nests no deeper than the schema needs;
//   - every entry has a known dtype, a shape of non-negative integers (rank <= 32, element
//     count without overflow), and data_offsets [begin, end) with begin <= end, inside the data
//     section, sized exactly dtype size x element count;
//   - the tensors tile the data section: no overlap, no gap, nothing left over (as the
//     reference implementation requires, which also rules out polyglot files).
//
//   auto st = qslm::io::SafetensorsFile::open("model.safetensors");
//   std::vector<float> w = st.tensor("head.weight").to_float();

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/io/byte_order.hpp"
#include "qslm/io/dtype.hpp"
#include "qslm/io/file_bytes.hpp"
#include "qslm/io/half_float.hpp"

namespace qslm::io {

/// The reference implementation's cap on the JSON header (100 MB).
inline constexpr std::uint64_t safetensors_max_header_bytes = 100'000'000;
/// More dimensions than any real tensor has; caps work done on hostile shapes.
inline constexpr std::size_t safetensors_max_rank = 32;

/// "[2, 3, 4]"
inline std::string shape_to_string(std::span<const std::uint64_t> shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

/// One tensor of a safetensors file: its declared type and shape, and its raw little-endian
/// bytes inside the file (valid while the SafetensorsFile, or a copy of its source(), lives).
struct SafetensorsTensor {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::uint64_t> shape;
    std::uint64_t data_begin = 0;  ///< offsets within the data section
    std::uint64_t data_end = 0;
    std::span<const std::uint8_t> bytes;

    [[nodiscard]] std::uint64_t element_count() const noexcept { return bytes.size() / dtype_size(dtype); }
    [[nodiscard]] std::size_t rank() const noexcept { return shape.size(); }

    /// Converts every element to float32 (row-major, as stored). Floating types convert exactly
    /// where float32 can hold the value (F64 rounds to nearest), integers convert by value;
    /// BOOL elements must be 0 or 1. `out` must hold exactly element_count() floats.
    void to_float(std::span<float> out) const {
        const std::uint64_t n = element_count();
        if (out.size() != n)
            fail(Status::buffer_too_small, "tensor '" + name + "': to_float needs a buffer of " + std::to_string(n) +
                                               " floats, got " + std::to_string(out.size()));
        const std::uint8_t* p = bytes.data();
        switch (dtype) {
            case DType::BOOL:
                for (std::size_t i = 0; i < n; ++i) {
                    if (p[i] > 1)
                        fail(Status::corrupt_data, "tensor '" + name + "': BOOL element " + std::to_string(i) +
                                                       " has byte value " + std::to_string(p[i]) + ", not 0 or 1");
                    out[i] = p[i];
                }
                return;
            case DType::U8: for (std::size_t i = 0; i < n; ++i) out[i] = p[i]; return;
            case DType::I8: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int8_t>(p[i]); return;
            case DType::F8_E5M2: for (std::size_t i = 0; i < n; ++i) out[i] = f8e5m2_bits_to_f32(p[i]); return;
            case DType::F8_E4M3: for (std::size_t i = 0; i < n; ++i) out[i] = f8e4m3fn_bits_to_f32(p[i]); return;
            case DType::I16:
                for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int16_t>(load_le<std::uint16_t>(p + 2 * i));
                return;
            case DType::U16: for (std::size_t i = 0; i < n; ++i) out[i] = load_le<std::uint16_t>(p + 2 * i); return;
            case DType::F16:
                for (std::size_t i = 0; i < n; ++i) out[i] = f16_bits_to_f32(load_le<std::uint16_t>(p + 2 * i));
                return;
            case DType::BF16:
                for (std::size_t i = 0; i < n; ++i) out[i] = bf16_bits_to_f32(load_le<std::uint16_t>(p + 2 * i));
                return;
            case DType::I32:
                for (std::size_t i = 0; i < n; ++i)
                    out[i] = static_cast<float>(static_cast<std::int32_t>(load_le<std::uint32_t>(p + 4 * i)));
                return;
            case DType::U32:
                for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<std::uint32_t>(p + 4 * i));
                return;
            case DType::F32: for (std::size_t i = 0; i < n; ++i) out[i] = load_f32_le(p + 4 * i); return;
            case DType::F64:
                for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_f64_le(p + 8 * i));
                return;
            case DType::I64:
                for (std::size_t i = 0; i < n; ++i)
                    out[i] = static_cast<float>(static_cast<std::int64_t>(load_le<std::uint64_t>(p + 8 * i)));
                return;
            case DType::U64:
                for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<std::uint64_t>(p + 8 * i));
                return;
        }
    }
    [[nodiscard]] std::vector<float> to_float() const {
        std::vector<float> out(static_cast<std::size_t>(element_count()));
        to_float(out);
        return out;
    }
};

class SafetensorsFile {
public:
    /// Maps (or reads) and validates a file.
    static SafetensorsFile open(const std::filesystem::path& path, ReadMode mode = ReadMode::map_if_possible) {
        return parse(FileBytes::open(path, mode));
    }
    /// Validates bytes held by a FileBytes (owned, mapped or borrowed).
    static SafetensorsFile parse(FileBytes source) {
        SafetensorsFile f;
        f.source_ = std::move(source);
        f.parse_all();
        return f;
    }
    /// Validates a caller's buffer without copying it; the buffer must outlive the result.
    static SafetensorsFile parse(std::span<const std::uint8_t> bytes, std::string name = "buffer") {
        return parse(FileBytes::borrow(bytes, std::move(name)));
    }

    /// Tensors in file order (ascending data offset).
    [[nodiscard]] const std::vector<SafetensorsTensor>& tensors() const noexcept { return tensors_; }
    [[nodiscard]] const SafetensorsTensor* find(std::string_view name) const noexcept {
        const auto it = index_.find(name);
        return it == index_.end() ? nullptr : &tensors_[it->second];
    }
    [[nodiscard]] bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }
    /// The named tensor; not_found (naming the file) when absent.
    [[nodiscard]] const SafetensorsTensor& tensor(std::string_view name) const {
        if (const auto* t = find(name)) return *t;
        fail(Status::not_found, source_.name() + ": no tensor named '" + std::string(name) + "'");
    }
    /// The "__metadata__" string map (empty when the file has none).
    [[nodiscard]] const std::map<std::string, std::string, std::less<>>& metadata() const noexcept { return metadata_; }
    [[nodiscard]] std::optional<std::string> metadata_value(std::string_view key) const {
        const auto it = metadata_.find(key);
        if (it == metadata_.end()) return std::nullopt;
        return it->second;
    }
    [[nodiscard]] const std::string& name() const noexcept { return source_.name(); }
    [[nodiscard]] const FileBytes& source() const noexcept { return source_; }
    /// Byte offset of the data section in the file (8 + header length).
    [[nodiscard]] std::uint64_t data_offset() const noexcept { return data_offset_; }

private:
    [[noreturn]] void corrupt(const std::string& what) const { fail(Status::corrupt_data, source_.name() + ": " + what); }
    [[noreturn]] void corrupt_tensor(const std::string& tensor, const std::string& what) const {
        fail(Status::corrupt_data, source_.name() + ": tensor '" + tensor + "': " + what);
    }

    nlohmann::json parse_header_json(std::span<const std::uint8_t> text) const {
        // nlohmann keeps the last of duplicate keys silently; a file that names a tensor twice
        // is ambiguous, so the parser callback tracks the keys of every open object.
        // JSON allows no raw control character, and a NUL would end the check early in readers
        // that stop at it: refuse it here, with its offset, before parsing.
        if (const auto nul = std::find(text.begin(), text.end(), std::uint8_t{0}); nul != text.end())
            corrupt("header JSON contains a NUL byte at file offset " + std::to_string(8 + (nul - text.begin())));
        std::vector<std::optional<std::set<std::string>>> open;  // nullopt for arrays
        auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
            using E = nlohmann::json::parse_event_t;
            switch (event) {
                case E::object_start: open.emplace_back(std::set<std::string>{}); break;
                case E::array_start: open.emplace_back(std::nullopt); break;
                case E::object_end:
                case E::array_end:
                    if (!open.empty()) open.pop_back();
                    break;
                case E::key:
                    if (!open.empty() && open.back() && !open.back()->insert(parsed.get<std::string>()).second)
                        throw HeaderRejected{"header JSON has the key '" + parsed.get<std::string>() +
                                             "' twice in one object (names must be unique)"};
                    break;
                case E::value: break;
            }
            // The schema nests three levels (header -> entry -> shape); refuse deep nesting
            // early so a hostile header cannot make the parser build a deep tree.
            if (open.size() > 3) throw HeaderRejected{"header JSON nests deeper than the safetensors schema allows"};
            return true;
        };
        try {
            return nlohmann::json::parse(text.begin(), text.end(), callback);
        } catch (const HeaderRejected& e) {
            corrupt(e.message);
        } catch (const nlohmann::json::parse_error& e) {
            corrupt("header JSON is malformed near file offset " + std::to_string(8 + (e.byte > 0 ? e.byte - 1 : 0)) + " (" + e.what() + ")");
        } catch (const nlohmann::json::exception& e) {
            corrupt(std::string("header JSON is malformed (") + e.what() + ")");
        }
    }
    struct HeaderRejected {
        std::string message;
    };

    static std::string describe_offsets(std::uint64_t b, std::uint64_t e) {
        return "[" + std::to_string(b) + ", " + std::to_string(e) + ")";
    }

    void parse_all() {
        const auto bytes = source_.bytes();
        if (bytes.size() < 8)
            corrupt("file is " + std::to_string(bytes.size()) + " bytes, too short for the 8-byte header length");
        const std::uint64_t n = load_le<std::uint64_t>(bytes.data());
        if (n > safetensors_max_header_bytes)
            corrupt("header length " + std::to_string(n) + " is absurd (the limit is " +
                    std::to_string(safetensors_max_header_bytes) + " bytes)");
        if (n > bytes.size() - 8)
            corrupt("header length " + std::to_string(n) + " exceeds the " + std::to_string(bytes.size() - 8) +
                    " bytes that follow it (truncated file?)");
        if (n < 2) corrupt("header length " + std::to_string(n) + " is too small for a JSON object");
        data_offset_ = 8 + n;
        const auto data = bytes.subspan(static_cast<std::size_t>(data_offset_));

        const nlohmann::json header = parse_header_json(bytes.subspan(8, static_cast<std::size_t>(n)));
        if (!header.is_object()) corrupt("header JSON is not an object");

        for (const auto& [key, value] : header.items()) {
            if (key == "__metadata__") {
                if (!value.is_object()) corrupt("__metadata__ is not an object of strings");
                for (const auto& [mk, mv] : value.items()) {
                    if (!mv.is_string()) corrupt("__metadata__ entry '" + mk + "' is not a string");
                    metadata_.emplace(mk, mv.get<std::string>());
                }
                continue;
            }
            tensors_.push_back(parse_entry(key, value, data));
        }

        // The tensors must tile the data section exactly.
        std::sort(tensors_.begin(), tensors_.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
            return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.data_end < b.data_end;
        });
        std::uint64_t expected = 0;
        const SafetensorsTensor* previous = nullptr;
        for (const auto& t : tensors_) {
            if (t.data_begin < expected)
                corrupt_tensor(t.name, "data_offsets " + describe_offsets(t.data_begin, t.data_end) + " overlap tensor '" +
                                           previous->name + "' " +
                                           describe_offsets(previous->data_begin, previous->data_end));
            if (t.data_begin > expected)
                corrupt_tensor(t.name, "data_offsets " + describe_offsets(t.data_begin, t.data_end) +
                                           " leave bytes " + describe_offsets(expected, t.data_begin) +
                                           " of the data section unused (the data must be contiguous)");
            expected = t.data_end;
            previous = &t;
        }
        if (expected != data.size())
            corrupt("the data section has " + std::to_string(data.size()) + " bytes but the tensors cover only " +
                    std::to_string(expected) + " (trailing bytes)");
        for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
    }

    SafetensorsTensor parse_entry(const std::string& name, const nlohmann::json& value,
                                  std::span<const std::uint8_t> data) const {
        if (name.empty()) corrupt("a tensor has an empty name");
        if (!value.is_object()) corrupt_tensor(name, "entry is not an object");
        SafetensorsTensor t;
        t.name = name;

        const auto dt = value.find("dtype");
        if (dt == value.end()) corrupt_tensor(name, "has no dtype");
        if (!dt->is_string()) corrupt_tensor(name, "dtype is not a string");
        const auto parsed = parse_dtype(dt->get<std::string>());
        if (!parsed) corrupt_tensor(name, "unknown dtype '" + dt->get<std::string>() + "'");
        t.dtype = *parsed;

        const auto sh = value.find("shape");
        if (sh == value.end()) corrupt_tensor(name, "has no shape");
        if (!sh->is_array()) corrupt_tensor(name, "shape is not an array");
        if (sh->size() > safetensors_max_rank)
            corrupt_tensor(name, "shape has " + std::to_string(sh->size()) + " dimensions (at most " +
                                     std::to_string(safetensors_max_rank) + " are accepted)");
        // Element count with overflow detection: stays below 2^62 / element size, so the byte
        // count below cannot overflow either.
        const std::uint64_t limit = (std::uint64_t{1} << 62) / dtype_size(t.dtype);
        std::uint64_t count = 1;
        bool too_big = false;
        for (const auto& d : *sh) {
            if (!d.is_number_unsigned()) corrupt_tensor(name, "shape entries must be non-negative integers");
            const auto v = d.get<std::uint64_t>();
            t.shape.push_back(v);
            if (v != 0 && count > limit / v) too_big = true;
            else count *= v;
        }
        const bool zero = std::find(t.shape.begin(), t.shape.end(), 0u) != t.shape.end();
        if (zero) count = 0;
        else if (too_big)
            corrupt_tensor(name, "shape " + shape_to_string(t.shape) + " has too many elements");

        const auto off = value.find("data_offsets");
        if (off == value.end()) corrupt_tensor(name, "has no data_offsets");
        if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
            !(*off)[1].is_number_unsigned())
            corrupt_tensor(name, "data_offsets must be two non-negative integers [begin, end]");
        t.data_begin = (*off)[0].get<std::uint64_t>();
        t.data_end = (*off)[1].get<std::uint64_t>();
        if (t.data_begin > t.data_end)
            corrupt_tensor(name, "data_offsets " + describe_offsets(t.data_begin, t.data_end) + " end before they begin");
        if (t.data_end > data.size())
            corrupt_tensor(name, "data_offsets " + describe_offsets(t.data_begin, t.data_end) +
                                     " run past the end of the data section (" + std::to_string(data.size()) +
                                     " bytes; truncated file?)");
        const std::uint64_t needed = count * dtype_size(t.dtype);
        if (t.data_end - t.data_begin != needed)
            corrupt_tensor(name, "data_offsets " + describe_offsets(t.data_begin, t.data_end) + " hold " +
                                     std::to_string(t.data_end - t.data_begin) + " bytes, but " +
                                     std::string(to_string(t.dtype)) + " x shape " + shape_to_string(t.shape) +
                                     " needs " + std::to_string(needed));
        t.bytes = data.subspan(static_cast<std::size_t>(t.data_begin), static_cast<std::size_t>(needed));
        return t;
    }

    FileBytes source_;
    std::uint64_t data_offset_ = 0;
    std::vector<SafetensorsTensor> tensors_;
    std::map<std::string, std::size_t, std::less<>> index_;
    std::map<std::string, std::string, std::less<>> metadata_;
};

}  // namespace qslm::io
