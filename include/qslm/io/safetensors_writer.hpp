#pragma once
// Writes safetensors files: what the tests, the tools and the quantizer's float exports use.
// Tensors are stored in the order they were added; the JSON header is padded with spaces so
// the data section starts on an 8-byte boundary (as the reference writer does), and the file
// is written atomically (temporary name, then rename).
//
//   qslm::io::SafetensorsWriter w;
//   w.add_f32("head.weight", {vocab, n_embd}, weights);
//   w.set_metadata("binary_embedding", "true");
//   w.write("model.safetensors");

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/io/atomic_file.hpp"
#include "qslm/io/byte_order.hpp"
#include "qslm/io/dtype.hpp"
#include "qslm/io/half_float.hpp"
#include "qslm/io/safetensors.hpp"

namespace qslm::io {

class SafetensorsWriter {
public:
    /// Adds a tensor from its raw little-endian bytes, which must be exactly
    /// dtype_size(dtype) x product(shape) long. Names must be unique, non-empty, and not
    /// "__metadata__".
    void add(const std::string& name, DType dtype, std::vector<std::uint64_t> shape,
             std::span<const std::uint8_t> bytes) {
        if (name.empty() || name == "__metadata__")
            fail(Status::invalid_argument, "safetensors writer: '" + name + "' cannot be a tensor name");
        if (names_.count(name))
            fail(Status::invalid_argument, "safetensors writer: tensor '" + name + "' was added twice");
        std::uint64_t count = 1;
        bool overflow = false;
        for (const auto d : shape) {
            if (d != 0 && count > (std::uint64_t{1} << 62) / d) overflow = true;
            count *= d;
        }
        if (std::find(shape.begin(), shape.end(), 0u) != shape.end()) {  // an empty tensor, whatever the other dims
            count = 0;
            overflow = false;
        }
        if (overflow || count * dtype_size(dtype) != bytes.size())
            fail(Status::bad_shape, "safetensors writer: tensor '" + name + "': " + std::to_string(bytes.size()) +
                                        " bytes do not match " + std::string(to_string(dtype)) + " x shape " +
                                        shape_to_string(shape));
        names_.insert(name);
        entries_.push_back({name, dtype, std::move(shape), data_.size(), data_.size() + bytes.size()});
        data_.insert(data_.end(), bytes.begin(), bytes.end());
    }
    void add_f32(const std::string& name, std::vector<std::uint64_t> shape, std::span<const float> values) {
        ByteWriter w;
        for (const float v : values) w.put_f32(v);
        add(name, DType::F32, std::move(shape), w.bytes());
    }
    /// Stores float32 values as F16 (rounded to nearest, ties to even).
    void add_f16(const std::string& name, std::vector<std::uint64_t> shape, std::span<const float> values) {
        ByteWriter w;
        for (const float v : values) w.put<std::uint16_t>(f32_to_f16_bits(v));
        add(name, DType::F16, std::move(shape), w.bytes());
    }
    /// Stores float32 values as BF16 (rounded to nearest, ties to even).
    void add_bf16(const std::string& name, std::vector<std::uint64_t> shape, std::span<const float> values) {
        ByteWriter w;
        for (const float v : values) w.put<std::uint16_t>(f32_to_bf16_bits(v));
        add(name, DType::BF16, std::move(shape), w.bytes());
    }
    /// Stores float32 values in `dtype` (F32, F16 or BF16).
    void add_float(const std::string& name, DType dtype, std::vector<std::uint64_t> shape,
                   std::span<const float> values) {
        switch (dtype) {
            case DType::F32: return add_f32(name, std::move(shape), values);
            case DType::F16: return add_f16(name, std::move(shape), values);
            case DType::BF16: return add_bf16(name, std::move(shape), values);
            default:
                fail(Status::invalid_argument, "safetensors writer: add_float supports F32, F16 and BF16, not " +
                                                   std::string(to_string(dtype)));
        }
    }

    void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

    /// The complete file.
    [[nodiscard]] std::vector<std::uint8_t> to_bytes() const {
        nlohmann::ordered_json header = nlohmann::ordered_json::object();
        if (!metadata_.empty()) {
            nlohmann::ordered_json meta = nlohmann::ordered_json::object();
            for (const auto& [k, v] : metadata_) meta[k] = v;
            header["__metadata__"] = std::move(meta);
        }
        for (const auto& e : entries_)
            header[e.name] = {{"dtype", std::string(to_string(e.dtype))},
                              {"shape", e.shape},
                              {"data_offsets", {e.begin, e.end}}};
        std::string text = header.dump();
        while ((8 + text.size()) % 8 != 0) text += ' ';
        ByteWriter w;
        w.put<std::uint64_t>(text.size());
        w.put_string(text);
        w.put_bytes(data_);
        return std::move(w).take();
    }

    void write(const std::filesystem::path& path, const AtomicWriteOptions& options = {}) const {
        const auto bytes = to_bytes();
        write_file_atomically(path, bytes, options);
    }

private:
    struct Entry {
        std::string name;
        DType dtype;
        std::vector<std::uint64_t> shape;
        std::size_t begin, end;
    };
    std::vector<Entry> entries_;
    std::set<std::string> names_;
    std::map<std::string, std::string> metadata_;
    std::vector<std::uint8_t> data_;
};

}  // namespace qslm::io
