#pragma once
// Reads .qslm files (layout: docs/format.md), treating every byte as hostile.
//
// Order of checks, so that each kind of damage gets the most useful message:
//   1. magic (not a .qslm file at all), 2. version ("unsupported .qslm version N (this build
//   reads up to M)"), 3. the total size recorded in the header (truncated / trailing bytes),
//   4. the CRC-32C over everything before the trailer (any flipped byte), 5. the structure:
//   every length is compared with the bytes that are left *before* anything is allocated,
//   every count against a cap, every enum against its defined values; payloads must be
//   canonical (zero padding bits, no unused ternary code) so that a file round-trips to
//   PackedTensor byte for byte.
//
//   auto model = qslm::io::load_qslm("model.qslm", {.verify = run_my_model});

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/io/byte_order.hpp"
#include "qslm/io/crc32c.hpp"
#include "qslm/io/file_bytes.hpp"
#include "qslm/io/qslm_model.hpp"

namespace qslm::io {

/// Runs the model on a test input and returns its outputs (e.g. the logits after the last
/// token). Models live elsewhere; loading takes any callable with this shape.
using QslmForward = std::function<std::vector<float>(const QslmModel&, std::span<const std::uint32_t> input)>;

struct QslmReadOptions {
    /// Check the CRC-32C. Only the fuzzers turn this off (to reach the structural checks).
    bool verify_checksum = true;
};

struct QslmLoadOptions {
    ReadMode read_mode = ReadMode::map_if_possible;
    bool verify_checksum = true;
    /// When set, the stored test input is run through it and the outputs compared with the
    /// stored ones; a file without a test vector is then refused (not_found).
    QslmForward verify = {};
};

namespace detail {

inline std::string hex32(std::uint32_t v) {
    char buf[11];
    std::snprintf(buf, sizeof buf, "0x%08X", v);
    return buf;
}

/// Checks that `text` is a JSON object (UTF-8, nesting at most qslm_max_json_depth).
inline void require_json_object(std::span<const std::uint8_t> text, const std::string& what, std::size_t file_offset) {
    struct TooDeep {};
    std::size_t depth = 0;
    auto callback = [&](int, nlohmann::json::parse_event_t e, nlohmann::json&) {
        using E = nlohmann::json::parse_event_t;
        if (e == E::object_start || e == E::array_start) {
            if (++depth > qslm_max_json_depth) throw TooDeep{};
        } else if (e == E::object_end || e == E::array_end) {
            --depth;
        }
        return true;
    };
    if (const auto nul = std::find(text.begin(), text.end(), std::uint8_t{0}); nul != text.end())  // JSON has no raw NUL
        fail(Status::corrupt_data, what + " contains a NUL byte at file offset " + std::to_string(file_offset + static_cast<std::size_t>(nul - text.begin())));
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.begin(), text.end(), callback);
    } catch (const TooDeep&) {
        fail(Status::corrupt_data, what + " nests deeper than " + std::to_string(qslm_max_json_depth) + " levels");
    } catch (const nlohmann::json::parse_error& e) {
        fail(Status::corrupt_data, what + " is not valid JSON near file offset " +
                                       std::to_string(file_offset + (e.byte > 0 ? e.byte - 1 : 0)) + " (" + e.what() + ")");
    } catch (const nlohmann::json::exception& e) {
        fail(Status::corrupt_data, what + " is not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) fail(Status::corrupt_data, what + " is not a JSON object");
}

class QslmParser {
public:
    QslmParser(const FileBytes& source, const QslmReadOptions& options) : src_(source), options_(options) {}

    QslmModel parse() {
        const auto bytes = src_.bytes();
        const std::string& name = src_.name();
        if (bytes.size() < 8 || !std::equal(std::begin(qslm_magic), std::end(qslm_magic), bytes.begin()))
            fail(Status::corrupt_data, name + ": not a .qslm file (the first 8 bytes are not the .qslm signature)");
        if (bytes.size() < 12)
            fail(Status::corrupt_data, name + ": truncated: " + std::to_string(bytes.size()) +
                                           " bytes, too short for the version field");
        const auto version = load_le<std::uint32_t>(bytes.data() + 8);
        if (version == 0 || version > qslm_format_version)
            fail(Status::unsupported_version, name + ": unsupported .qslm version " + std::to_string(version) +
                                                  " (this build reads up to " + std::to_string(qslm_format_version) + ")");
        if (bytes.size() < qslm_header_bytes + qslm_trailer_bytes)
            fail(Status::corrupt_data, name + ": truncated: " + std::to_string(bytes.size()) + " bytes, a .qslm file has at least " +
                                           std::to_string(qslm_header_bytes + qslm_trailer_bytes));
        const auto flags = load_le<std::uint32_t>(bytes.data() + 12);
        const auto file_size = load_le<std::uint64_t>(bytes.data() + 16);
        const auto section_count = load_le<std::uint32_t>(bytes.data() + 24);
        const auto reserved = load_le<std::uint32_t>(bytes.data() + 28);
        if (file_size > bytes.size())
            fail(Status::corrupt_data, name + ": truncated: the header says " + std::to_string(file_size) +
                                           " bytes, the file has " + std::to_string(bytes.size()));
        if (file_size < bytes.size())
            fail(Status::corrupt_data, name + ": " + std::to_string(bytes.size() - file_size) +
                                           " unexpected bytes after the end recorded in the header (" +
                                           std::to_string(file_size) + " bytes)");
        const std::size_t body_end = bytes.size() - qslm_trailer_bytes;
        if (options_.verify_checksum) {
            const auto stored = load_le<std::uint32_t>(bytes.data() + body_end);
            const auto computed = crc32c(bytes.first(body_end));
            if (stored != computed)
                fail(Status::checksum_mismatch, name + ": checksum mismatch: stored CRC-32C " + hex32(stored) +
                                                    ", computed " + hex32(computed) + " (the file is corrupt)");
        }
        if (flags != 0)
            fail(Status::corrupt_data, name + ": header flags " + hex32(flags) + " are not defined in version " +
                                           std::to_string(version));
        if (reserved != 0) fail(Status::corrupt_data, name + ": reserved header field is not zero");
        if (section_count > qslm_max_sections)
            fail(Status::corrupt_data, name + ": " + std::to_string(section_count) + " sections (at most " +
                                           std::to_string(qslm_max_sections) + ")");

        QslmModel model;
        model.version = version;
        ByteCursor cur(bytes.subspan(qslm_header_bytes, body_end - qslm_header_bytes), qslm_header_bytes, name);
        std::uint64_t previous_type = 0;
        bool have_config = false, have_tensors = false;
        for (std::uint32_t s = 0; s < section_count; ++s) {
            const auto type = cur.read<std::uint32_t>("section header");
            const auto zero = cur.read<std::uint32_t>("section header");
            const auto length = cur.read<std::uint64_t>("section header");
            const std::string where = "section " + std::to_string(s) + " (type " + std::to_string(type) + ")";
            if (zero != 0) fail(Status::corrupt_data, name + ": " + where + ": reserved field is not zero");
            if (type <= previous_type)
                fail(Status::corrupt_data, name + ": " + where + " is out of order or repeated (types must increase)");
            previous_type = type;
            if (length > cur.remaining())
                fail(Status::corrupt_data, name + ": " + where + ": length " + std::to_string(length) +
                                               " exceeds the " + std::to_string(cur.remaining()) + " bytes left");
            const std::size_t body_offset = cur.offset();
            const auto body = cur.read_bytes(static_cast<std::size_t>(length), "section body");
            const std::size_t pad = (8 - (cur.offset() % 8)) % 8;
            for (const std::uint8_t b : cur.read_bytes(pad, "section padding"))
                if (b != 0) fail(Status::corrupt_data, name + ": " + where + ": padding bytes are not zero");

            switch (type) {
                case static_cast<std::uint32_t>(QslmSection::config):
                    model.config_json = json_text(body, body_offset, "config");
                    have_config = true;
                    break;
                case static_cast<std::uint32_t>(QslmSection::tensors):
                    parse_tensors(body, body_offset, model);
                    have_tensors = true;
                    break;
                case static_cast<std::uint32_t>(QslmSection::tokenizer):
                    model.tokenizer_json = json_text(body, body_offset, "tokenizer");
                    break;
                case static_cast<std::uint32_t>(QslmSection::vocab): parse_vocab(body, body_offset, model); break;
                case static_cast<std::uint32_t>(QslmSection::test_vector):
                    parse_test_vector(body, body_offset, model);
                    break;
                default:
                    if (type < qslm_optional_section_base)
                        fail(Status::corrupt_data, name + ": " + where + ": unknown section type " +
                                                       std::to_string(type) + " (not an optional extension)");
                    model.extensions.push_back({type, std::vector<std::uint8_t>(body.begin(), body.end())});
            }
        }
        if (!cur.at_end())
            fail(Status::corrupt_data, name + ": " + std::to_string(cur.remaining()) +
                                           " bytes between the last section and the checksum belong to no section");
        if (!have_config) fail(Status::corrupt_data, name + ": the file has no config section");
        if (!have_tensors) fail(Status::corrupt_data, name + ": the file has no tensors section");
        return model;
    }

private:
    std::string json_text(std::span<const std::uint8_t> body, std::size_t offset, const char* what) {
        const std::string label = src_.name() + ": " + what + " section";
        if (body.size() > qslm_max_json_bytes)
            fail(Status::corrupt_data, label + " has " + std::to_string(body.size()) + " bytes (at most " +
                                           std::to_string(qslm_max_json_bytes) + ")");
        require_json_object(body, label, offset);
        return std::string(body.begin(), body.end());
    }

    void parse_tensors(std::span<const std::uint8_t> body, std::size_t offset, QslmModel& model) {
        ByteCursor c(body, offset, src_.name() + ": tensors section");
        const auto count = c.read<std::uint32_t>("tensor count");
        if (count > qslm_max_tensors)
            fail(Status::corrupt_data, c.context() + ": " + std::to_string(count) + " tensors (at most " +
                                           std::to_string(qslm_max_tensors) + ")");
        // Each record is at least 36 bytes: a count larger than that allows is a lie.
        c.require_items(count, 36, "tensor records");
        model.tensors.reserve(count);
        std::set<std::string, std::less<>> names;
        for (std::uint32_t i = 0; i < count; ++i) {
            QslmTensor t = parse_tensor(c, i);
            if (!names.insert(t.name).second)
                fail(Status::corrupt_data, c.context() + ": tensor name '" + t.name + "' appears twice");
            model.tensors.push_back(std::move(t));
        }
        if (!c.at_end())
            fail(Status::corrupt_data, c.context() + ": " + std::to_string(c.remaining()) +
                                           " bytes after the last tensor record");
    }

    QslmTensor parse_tensor(ByteCursor& c, std::uint32_t index) {
        const std::string rec = c.context() + ": tensor " + std::to_string(index);
        const auto name_len = c.read<std::uint32_t>("tensor name length");
        if (name_len == 0 || name_len > qslm_max_name_bytes)
            fail(Status::corrupt_data, rec + ": name length " + std::to_string(name_len) + " is outside 1.." +
                                           std::to_string(qslm_max_name_bytes));
        const auto name_bytes = c.read_bytes(name_len, "tensor name");
        for (const std::uint8_t b : name_bytes)
            if (b < 0x21 || b > 0x7E)
                fail(Status::corrupt_data, rec + ": name contains byte " + std::to_string(b) +
                                               " (names are printable ASCII without spaces)");
        QslmTensor t;
        t.name.assign(name_bytes.begin(), name_bytes.end());
        const std::string where = c.context() + ": tensor '" + t.name + "'";
        auto bad = [&](const std::string& what) { fail(Status::corrupt_data, where + ": " + what); };

        const auto storage = c.read<std::uint8_t>("tensor storage");
        const auto width = c.read<std::uint8_t>("tensor bits");
        const auto enc = c.read<std::uint8_t>("tensor encoding");
        const auto gran = c.read<std::uint8_t>("tensor granularity");
        const auto scale_format = c.read<std::uint8_t>("tensor scale format");
        const auto has_zp = c.read<std::uint8_t>("tensor zero-point flag");
        const auto reserved = c.read<std::uint16_t>("tensor reserved field");
        const auto group = c.read<std::uint32_t>("tensor group size");
        const auto rows = c.read<std::uint32_t>("tensor rows");
        const auto cols = c.read<std::uint32_t>("tensor cols");
        const auto scale_count = c.read<std::uint32_t>("tensor scale count");
        const auto payload_len = c.read<std::uint64_t>("tensor payload length");

        if (reserved != 0) bad("reserved field is not zero");
        if (rows == 0 || cols == 0 || rows > max_tensor_elements / cols)
            bad("shape " + std::to_string(rows) + " x " + std::to_string(cols) + " is empty or has more than 2^28 elements");
        t.rows = rows;
        t.cols = cols;
        const std::size_t n = t.size();

        if (storage == static_cast<std::uint8_t>(TensorStorage::float32)) {
            t.storage = TensorStorage::float32;
            if (width != 32 || enc != 0 || gran != 0 || scale_format != 0 || has_zp != 0 || group != 0 || scale_count != 0)
                bad("a float32 tensor must have bits 32 and zero encoding, granularity, scale fields");
            t.bits = 32;
            if (payload_len != n * 4)
                bad("payload length " + std::to_string(payload_len) + " is not 4 x " + std::to_string(n));
            t.payload = c.read_bytes(static_cast<std::size_t>(payload_len), "tensor payload");
            t.payload_owner = src_.owner();
            for (std::size_t i = 0; i < n; ++i)
                if (!std::isfinite(load_f32_le(t.payload.data() + 4 * i)))
                    bad("value " + std::to_string(i) + " is NaN or infinite");
            return t;
        }
        if (storage != static_cast<std::uint8_t>(TensorStorage::packed))
            bad("unknown storage kind " + std::to_string(storage));
        if (width < 1 || width > 8)
            fail(Status::bad_bit_width, where + ": bit-width " + std::to_string(width) + " is outside 1..8");
        t.bits = width;
        if (enc > 3) bad("unknown encoding " + std::to_string(enc));
        t.encoding = static_cast<EncodingKind>(enc);
        if (!encoding_supports(t.encoding, width))
            bad(std::string(to_string(t.encoding)) + " encoding does not exist at " + std::to_string(width) + " bits");
        if (gran > 2) bad("unknown granularity " + std::to_string(gran));
        t.layout.granularity = static_cast<Granularity>(gran);
        t.layout.group_size = group;
        if (t.layout.granularity == Granularity::per_group ? group == 0 : group != 0)
            bad("group size " + std::to_string(group) + " does not fit granularity " +
                qslm::to_string(t.layout.granularity));
        if (scale_format > 1) bad("unknown scale format " + std::to_string(scale_format));
        t.scale_format = static_cast<ScaleFormat>(scale_format);
        if (has_zp > 1) bad("zero-point flag is " + std::to_string(has_zp) + ", not 0 or 1");
        const std::size_t expected_scales = t.layout.scale_count(rows, cols);
        if (scale_count != expected_scales)
            bad(std::to_string(scale_count) + " scales stored, the layout needs " + std::to_string(expected_scales));
        const std::size_t expected_payload = bits::packed_bytes(n, width);
        if (payload_len != expected_payload)
            bad("payload length " + std::to_string(payload_len) + ", " + std::to_string(n) + " codes of " +
                std::to_string(width) + " bits need " + std::to_string(expected_payload));

        if (t.scale_format == ScaleFormat::float32) {
            c.require_items(scale_count, 4, "tensor scales");
            t.scales.resize(scale_count);
            for (std::size_t i = 0; i < scale_count; ++i) {
                t.scales[i] = c.read_f32("tensor scale");
                if (!std::isfinite(t.scales[i])) bad("scale " + std::to_string(i) + " is NaN or infinite");
            }
        } else {
            c.require_items(scale_count, 1, "tensor scale exponents");
            t.scale_exponents.resize(scale_count);
            for (std::size_t i = 0; i < scale_count; ++i)
                t.scale_exponents[i] = static_cast<std::int8_t>(c.read<std::uint8_t>("tensor scale exponent"));
        }
        if (has_zp) {
            const auto [lo, hi] = level_range(t.encoding, width);
            c.require_items(scale_count, 2, "tensor zero points");
            t.zero_points.resize(scale_count);
            for (std::size_t i = 0; i < scale_count; ++i) {
                t.zero_points[i] = static_cast<std::int16_t>(c.read<std::uint16_t>("tensor zero point"));
                if (t.zero_points[i] < lo || t.zero_points[i] > hi)
                    bad("zero point " + std::to_string(i) + " is " + std::to_string(t.zero_points[i]) +
                        ", outside the levels " + std::to_string(lo) + ".." + std::to_string(hi));
            }
        }
        t.payload = c.read_bytes(static_cast<std::size_t>(payload_len), "tensor payload");
        t.payload_owner = src_.owner();

        // Canonical payload: unused high bits of the last byte are zero, and ternary tensors
        // never use code 0b10 (which PackedTensor would re-encode as 0b11).
        const std::size_t used_bits = n * width;
        if (used_bits % 8 != 0 && (t.payload.back() >> (used_bits % 8)) != 0)
            bad("padding bits after the last code are not zero");
        if (t.encoding == EncodingKind::ternary)
            for (std::size_t i = 0; i < n; ++i)
                if (bits::read_field(t.payload.data(), t.payload.size(), i, 2) == 2)
                    bad("code " + std::to_string(i) + " is 0b10, which the ternary encoding does not use");
        return t;
    }

    static std::pair<int, int> level_range(EncodingKind e, int width) noexcept {
        switch (e) {
            case EncodingKind::signed_levels: return {-(1 << (width - 1)), (1 << (width - 1)) - 1};
            case EncodingKind::unsigned_levels: return {0, (1 << width) - 1};
            case EncodingKind::bipolar:
            case EncodingKind::ternary: return {-1, 1};
        }
        return {0, 0};
    }

    void parse_vocab(std::span<const std::uint8_t> body, std::size_t offset, QslmModel& model) {
        ByteCursor c(body, offset, src_.name() + ": vocab section");
        const auto count = c.read<std::uint32_t>("vocabulary size");
        if (count == 0 || count > qslm_max_vocab)
            fail(Status::corrupt_data, c.context() + ": vocabulary size " + std::to_string(count) +
                                           " is outside 1.." + std::to_string(qslm_max_vocab));
        c.require_items(count, 4, "vocabulary entries");
        model.vocab.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            const auto len = c.read<std::uint32_t>("token length");
            if (len > qslm_max_token_bytes)
                fail(Status::corrupt_data, c.context() + ": token " + std::to_string(i) + " has " +
                                               std::to_string(len) + " bytes (at most " +
                                               std::to_string(qslm_max_token_bytes) + ")");
            const auto b = c.read_bytes(len, "token bytes");
            model.vocab.emplace_back(b.begin(), b.end());
        }
        if (!c.at_end())
            fail(Status::corrupt_data, c.context() + ": " + std::to_string(c.remaining()) + " bytes after the last token");
    }

    void parse_test_vector(std::span<const std::uint8_t> body, std::size_t offset, QslmModel& model) {
        ByteCursor c(body, offset, src_.name() + ": test-vector section");
        QslmTestVector tv;
        const auto inputs = c.read<std::uint32_t>("test input count");
        if (inputs == 0 || inputs > qslm_max_test_inputs)
            fail(Status::corrupt_data, c.context() + ": " + std::to_string(inputs) + " input tokens (1.." +
                                           std::to_string(qslm_max_test_inputs) + " allowed)");
        c.require_items(inputs, 4, "test input tokens");
        tv.input.resize(inputs);
        for (auto& tok : tv.input) tok = c.read<std::uint32_t>("test input token");
        const auto outputs = c.read<std::uint32_t>("test output count");
        if (outputs == 0 || outputs > qslm_max_test_outputs)
            fail(Status::corrupt_data, c.context() + ": " + std::to_string(outputs) + " expected outputs (1.." +
                                           std::to_string(qslm_max_test_outputs) + " allowed)");
        c.require_items(outputs, 4, "expected outputs");
        tv.expected.resize(outputs);
        for (std::size_t i = 0; i < outputs; ++i) {
            tv.expected[i] = c.read_f32("expected output");
            if (!std::isfinite(tv.expected[i]))
                fail(Status::corrupt_data, c.context() + ": expected output " + std::to_string(i) + " is NaN or infinite");
        }
        tv.abs_tolerance = c.read_f32("absolute tolerance");
        tv.rel_tolerance = c.read_f32("relative tolerance");
        if (!(tv.abs_tolerance >= 0.0f && std::isfinite(tv.abs_tolerance)) ||
            !(tv.rel_tolerance >= 0.0f && std::isfinite(tv.rel_tolerance)))
            fail(Status::corrupt_data, c.context() + ": tolerances must be finite and non-negative");
        if (!c.at_end())
            fail(Status::corrupt_data, c.context() + ": " + std::to_string(c.remaining()) + " bytes after the tolerances");
        model.test_vector = std::move(tv);
    }

    const FileBytes& src_;
    QslmReadOptions options_;
};

}  // namespace detail

/// Parses a .qslm image. Tensor payloads point into `source` (kept alive through their
/// payload_owner; for a borrowed buffer the caller keeps it alive).
inline QslmModel parse_qslm(const FileBytes& source, const QslmReadOptions& options = {}) {
    return detail::QslmParser(source, options).parse();
}
/// Parses a caller's buffer without copying it; the buffer must outlive the model.
inline QslmModel parse_qslm(std::span<const std::uint8_t> bytes, std::string name = "buffer",
                            const QslmReadOptions& options = {}) {
    return parse_qslm(FileBytes::borrow(bytes, std::move(name)), options);
}

/// Runs `forward` on the model's test input and compares with the stored outputs; a
/// mismatch is corrupt_data naming the first differing output and how many differ.
inline void verify_qslm(const QslmModel& model, const QslmForward& forward, const std::string& name = "model") {
    if (!model.test_vector) fail(Status::not_found, name + ": verification requested but the file has no test vector");
    const QslmTestVector& tv = *model.test_vector;
    const std::vector<float> got = forward(model, tv.input);
    if (got.size() != tv.expected.size())
        fail(Status::corrupt_data, name + ": end-to-end check failed: the model produced " + std::to_string(got.size()) +
                                       " outputs, the file expects " + std::to_string(tv.expected.size()));
    std::size_t bad = 0, first = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double tol = tv.abs_tolerance + static_cast<double>(tv.rel_tolerance) * std::abs(tv.expected[i]);
        if (!(std::abs(static_cast<double>(got[i]) - tv.expected[i]) <= tol)) {  // NaN fails too
            if (bad++ == 0) first = i;
        }
    }
    if (bad)
        fail(Status::corrupt_data,
             name + ": end-to-end check failed: " + std::to_string(bad) + " of " + std::to_string(got.size()) +
                 " outputs differ; output " + std::to_string(first) + " is " + std::to_string(got[first]) +
                 ", the file expects " + std::to_string(tv.expected[first]) + " (tolerance " +
                 std::to_string(tv.abs_tolerance) + " + " + std::to_string(tv.rel_tolerance) + " x |expected|)");
}

/// Maps (or reads), validates, and optionally verifies end to end.
inline QslmModel load_qslm(const std::filesystem::path& path, const QslmLoadOptions& options = {}) {
    const FileBytes source = FileBytes::open(path, options.read_mode);
    QslmModel model = parse_qslm(source, QslmReadOptions{options.verify_checksum});
    if (options.verify) verify_qslm(model, options.verify, path.string());
    return model;
}

}  // namespace qslm::io
