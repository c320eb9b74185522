#pragma once
// Writes .qslm files (layout: docs/format.md). The writer never produces a file its reader
// would refuse: the finished image is parsed back before it is written, and a model that does
// not survive that (duplicate names, inconsistent scales, bad JSON, ...) is rejected with the
// reader's explanation. Files are written atomically (temporary name, fsync, rename).
//
//   qslm::io::QslmModel m;
//   m.config_json = R"({"model_type": "spikegpt", ...})";
//   m.add(qslm::io::QslmTensor::from_packed("head.weight", packed_head));
//   m.test_vector = qslm::io::QslmTestVector{{1, 2, 3}, expected_logits};
//   qslm::io::save_qslm("model.qslm", m);

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/io/atomic_file.hpp"
#include "qslm/io/byte_order.hpp"
#include "qslm/io/crc32c.hpp"
#include "qslm/io/qslm_model.hpp"
#include "qslm/io/qslm_reader.hpp"

namespace qslm::io {

namespace detail {

inline void write_tensor_record(ByteWriter& w, const QslmTensor& t) {
    w.put<std::uint32_t>(static_cast<std::uint32_t>(t.name.size()));
    w.put_string(t.name);
    const bool packed = t.is_packed();
    w.put<std::uint8_t>(static_cast<std::uint8_t>(t.storage));
    w.put<std::uint8_t>(static_cast<std::uint8_t>(packed ? t.bits : 32));
    w.put<std::uint8_t>(packed ? static_cast<std::uint8_t>(t.encoding) : 0);
    w.put<std::uint8_t>(packed ? static_cast<std::uint8_t>(t.layout.granularity) : 0);
    w.put<std::uint8_t>(packed ? static_cast<std::uint8_t>(t.scale_format) : 0);
    w.put<std::uint8_t>(packed && !t.zero_points.empty() ? 1 : 0);
    w.put<std::uint16_t>(0);
    w.put<std::uint32_t>(packed && t.layout.granularity == Granularity::per_group ? t.layout.group_size : 0);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(t.rows));
    w.put<std::uint32_t>(static_cast<std::uint32_t>(t.cols));
    const std::size_t scale_count =
        !packed ? 0 : (t.scale_format == ScaleFormat::power_of_two ? t.scale_exponents.size() : t.scales.size());
    w.put<std::uint32_t>(static_cast<std::uint32_t>(scale_count));
    w.put<std::uint64_t>(t.payload.size());
    if (packed) {
        if (t.scale_format == ScaleFormat::power_of_two)
            for (const std::int8_t e : t.scale_exponents) w.put<std::uint8_t>(static_cast<std::uint8_t>(e));
        else
            for (const float s : t.scales) w.put_f32(s);
        for (const std::int16_t z : t.zero_points) w.put<std::uint16_t>(static_cast<std::uint16_t>(z));
    }
    w.put_bytes(t.payload);
}

inline void write_section(ByteWriter& w, std::uint32_t type, std::span<const std::uint8_t> body) {
    w.put<std::uint32_t>(type);
    w.put<std::uint32_t>(0);
    w.put<std::uint64_t>(body.size());
    w.put_bytes(body);
    w.pad_to(8);
}

inline std::span<const std::uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace detail

/// The complete .qslm image of `model` (always the newest version). Throws invalid_argument,
/// with the reader's explanation, for a model that would not read back.
inline std::vector<std::uint8_t> serialize_qslm(const QslmModel& model) {
    ByteWriter w;
    w.put_bytes(qslm_magic);
    w.put<std::uint32_t>(qslm_format_version);
    w.put<std::uint32_t>(0);  // flags
    w.put<std::uint64_t>(0);  // file size, patched below
    w.put<std::uint32_t>(0);  // section count, patched below
    w.put<std::uint32_t>(0);  // reserved
    std::uint32_t sections = 0;

    detail::write_section(w, static_cast<std::uint32_t>(QslmSection::config), detail::as_bytes(model.config_json));
    ++sections;

    ByteWriter tensors;
    tensors.put<std::uint32_t>(static_cast<std::uint32_t>(model.tensors.size()));
    for (const auto& t : model.tensors) detail::write_tensor_record(tensors, t);
    detail::write_section(w, static_cast<std::uint32_t>(QslmSection::tensors), tensors.bytes());
    ++sections;

    if (!model.tokenizer_json.empty()) {
        detail::write_section(w, static_cast<std::uint32_t>(QslmSection::tokenizer),
                              detail::as_bytes(model.tokenizer_json));
        ++sections;
    }
    if (!model.vocab.empty()) {
        ByteWriter v;
        v.put<std::uint32_t>(static_cast<std::uint32_t>(model.vocab.size()));
        for (const auto& tok : model.vocab) {
            v.put<std::uint32_t>(static_cast<std::uint32_t>(tok.size()));
            v.put_string(tok);
        }
        detail::write_section(w, static_cast<std::uint32_t>(QslmSection::vocab), v.bytes());
        ++sections;
    }
    if (model.test_vector) {
        const QslmTestVector& tv = *model.test_vector;
        ByteWriter v;
        v.put<std::uint32_t>(static_cast<std::uint32_t>(tv.input.size()));
        for (const std::uint32_t tok : tv.input) v.put<std::uint32_t>(tok);
        v.put<std::uint32_t>(static_cast<std::uint32_t>(tv.expected.size()));
        for (const float x : tv.expected) v.put_f32(x);
        v.put_f32(tv.abs_tolerance);
        v.put_f32(tv.rel_tolerance);
        detail::write_section(w, static_cast<std::uint32_t>(QslmSection::test_vector), v.bytes());
        ++sections;
    }
    std::vector<const QslmExtension*> ext;
    for (const auto& e : model.extensions) ext.push_back(&e);
    std::stable_sort(ext.begin(), ext.end(), [](const auto* a, const auto* b) { return a->type < b->type; });
    for (const auto* e : ext) {
        detail::write_section(w, e->type, e->body);
        ++sections;
    }

    w.patch<std::uint64_t>(16, w.size() + qslm_trailer_bytes);
    w.patch<std::uint32_t>(24, sections);
    w.put<std::uint32_t>(crc32c(w.bytes()));
    std::vector<std::uint8_t> bytes = std::move(w).take();

    try {
        (void)parse_qslm(std::span<const std::uint8_t>(bytes), "model being written");
    } catch (const Error& e) {
        fail(Status::invalid_argument, std::string("refusing to write an invalid .qslm file: ") + e.what());
    }
    return bytes;
}

/// Serializes and writes atomically: an interrupted write leaves any previous file intact.
inline void save_qslm(const std::filesystem::path& path, const QslmModel& model, const AtomicWriteOptions& options = {}) {
    const auto bytes = serialize_qslm(model);
    write_file_atomically(path, bytes, options);
}

}  // namespace qslm::io
