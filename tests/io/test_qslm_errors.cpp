// Hostile .qslm files: truncated, flipped, future versions, and structurally broken files whose
// checksum was recomputed (so the structural checks themselves are exercised).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "io_test_support.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/qslm_writer.hpp"
#include "qslm_test_support.hpp"
#include "synthetic_model_host.hpp"
#include "tensor/tensor_test_support.hpp"

using namespace qslm;
using namespace qslm::io;
using test::require_error;
using test::reseal;

namespace {
QslmModel parse(const std::vector<std::uint8_t>& bytes) { return parse_qslm(std::span<const std::uint8_t>(bytes), "x.qslm"); }

/// A file with one tensor named "t" so record fields sit at known offsets.
std::vector<std::uint8_t> one_tensor_file(const QslmTensor& t) {
    QslmModel m;
    m.add(t);
    return serialize_qslm(m);
}
/// Offset of the first tensor record's field block (after name length and the 1-byte name "t").
std::size_t fields(const std::vector<std::uint8_t>& bytes) {
    return test::section_body(bytes, 2) + 4 + 4 + 1;
}
// Field offsets within the block.
constexpr std::size_t f_storage = 0, f_bits = 1, f_encoding = 2, f_granularity = 3, f_scale_format = 4, f_zp = 5,
                      f_reserved = 6, f_group = 8, f_rows = 12, f_cols = 16, f_scale_count = 20, f_payload_len = 24,
                      f_data = 32;

QslmTensor signed4(const char* name = "t", QuantSpec spec = {}) {
    const auto w = test::random_weights(3 * 7, 2);
    return QslmTensor::from_packed(name, *PackedTensor<4>::quantize(w, 3, 7, spec));
}
}  // namespace

TEST_CASE("every truncation of a .qslm file is refused with an error") {
    const auto good = serialize_qslm(test::synthetic::make_model());
    for (std::size_t len = 0; len < good.size(); ++len) {
        const std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
        INFO("length " << len);
        try {
            (void)parse(cut);
            FAIL("a truncated file was accepted");
        } catch (const Error& e) {
            REQUIRE(e.code() == Status::corrupt_data);
            if (len >= 36) REQUIRE_THAT(e.what(), Catch::Matchers::Contains("truncated: the header says"));
        }
    }
}

TEST_CASE("every flipped byte of a .qslm file is caught") {
    const auto good = serialize_qslm(test::synthetic::make_model());
    std::size_t checksum = 0;
    for (std::size_t i = 0; i < good.size(); ++i) {
        auto bad = good;
        bad[i] = static_cast<std::uint8_t>(bad[i] ^ (1u << (i % 8)));
        try {
            (void)parse(bad);
            FAIL("flipped byte " << i << " was accepted");
        } catch (const Error& e) {
            if (e.code() == Status::checksum_mismatch) ++checksum;
            else if (i >= 24) FAIL("byte " << i << ": " << e.what());  // past the magic/version/size fields
        }
    }
    CHECK(checksum >= good.size() - 24);
    auto bad = good;
    bad[100] = static_cast<std::uint8_t>(bad[100] ^ 0x40);
    require_error([&] { (void)parse(bad); }, Status::checksum_mismatch, {"x.qslm", "checksum mismatch", "corrupt"});
}

TEST_CASE("a future format version is refused by number") {
    auto bytes = serialize_qslm(test::synthetic::make_model());
    store_le<std::uint32_t>(bytes.data() + 8, 2);
    require_error([&] { (void)parse(bytes); }, Status::unsupported_version,
                  {"x.qslm: unsupported .qslm version 2 (this build reads up to 1)"});
    store_le<std::uint32_t>(bytes.data() + 8, 0xFFFFFFFFu);
    require_error([&] { (void)parse(bytes); }, Status::unsupported_version, {"version 4294967295"});
    store_le<std::uint32_t>(bytes.data() + 8, 0);
    require_error([&] { (void)parse(bytes); }, Status::unsupported_version, {"version 0"});
    // The version is checked even when the rest of the file cannot be understood.
    std::vector<std::uint8_t> stub(qslm_magic, qslm_magic + 8);
    for (const std::uint8_t b : {std::uint8_t{7}, std::uint8_t{0}, std::uint8_t{0}, std::uint8_t{0}}) stub.push_back(b);
    require_error([&] { (void)parse(stub); }, Status::unsupported_version, {"version 7"});
}

TEST_CASE("files that are not .qslm, too short, or too long are refused") {
    require_error([] { (void)parse({}); }, Status::corrupt_data, {"not a .qslm file"});
    require_error([] { (void)parse({'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0}); }, Status::corrupt_data, {"not a .qslm file"});
    auto bytes = serialize_qslm(test::synthetic::make_model());
    bytes.push_back(0);
    require_error([&] { (void)parse(bytes); }, Status::corrupt_data, {"1 unexpected bytes after the end"});
}

TEST_CASE("structural damage behind a valid checksum is named precisely") {
    const auto base = one_tensor_file(signed4());
    const std::size_t f = fields(base);
    auto edit = [&](auto&& change, std::initializer_list<std::string> fragments, Status status = Status::corrupt_data) {
        auto b = base;
        change(b);
        reseal(b);
        require_error([&] { (void)parse(b); }, status, fragments);
    };
    edit([&](auto& b) { b[f + f_bits] = 9; }, {"tensor 't'", "bit-width 9"}, Status::bad_bit_width);
    edit([&](auto& b) { b[f + f_bits] = 0; }, {"bit-width 0"}, Status::bad_bit_width);
    edit([&](auto& b) { b[f + f_storage] = 7; }, {"'t'", "unknown storage kind 7"});
    edit([&](auto& b) { b[f + f_encoding] = 9; }, {"'t'", "unknown encoding 9"});
    edit([&](auto& b) { b[f + f_encoding] = 2; }, {"'t'", "bipolar encoding does not exist at 4 bits"});
    edit([&](auto& b) { b[f + f_granularity] = 3; }, {"'t'", "unknown granularity 3"});
    edit([&](auto& b) { b[f + f_granularity] = 2; }, {"'t'", "group size 0 does not fit granularity per_group"});
    edit([&](auto& b) { b[f + f_scale_format] = 2; }, {"'t'", "unknown scale format 2"});
    edit([&](auto& b) { b[f + f_zp] = 2; }, {"'t'", "zero-point flag is 2"});
    edit([&](auto& b) { b[f + f_reserved] = 1; }, {"'t'", "reserved field"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f + f_group, 3); }, {"group size 3 does not fit"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f + f_rows, 0); }, {"'t'", "shape 0 x 7"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f + f_rows, 0xFFFFFFFFu); },
         {"'t'", "more than 2^28 elements"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f + f_rows, 4); }, {"'t'", "3 scales stored, the layout needs 4"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f + f_scale_count, 0xFFFFFFFFu); }, {"'t'", "scales stored"});
    edit([&](auto& b) { store_le<std::uint64_t>(b.data() + f + f_payload_len, 1ull << 60); },
         {"'t'", "payload length 1152921504606846976"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f + f_data, 0x7FC00000u); }, {"'t'", "scale 0 is NaN"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f - 5, 0); }, {"name length 0"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f - 5, 5000); }, {"name length 5000"});
    edit([&](auto& b) { b[f - 1] = ' '; }, {"printable ASCII"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f - 9, 65537); }, {"65537 tensors (at most 65536)"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f - 9, 60000); }, {"truncated tensor records"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + f - 9, 0); }, {"bytes after the last tensor record"});
    // Header and section framing.
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + 12, 1); }, {"header flags 0x00000001"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + 28, 1); }, {"reserved header field"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + 24, 65); }, {"65 sections"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + 24, 3); }, {"truncated section header"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + 24, 1); }, {"belong to no section"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + 36, 1); }, {"section 0 (type 1): reserved field"});
    edit([&](auto& b) { store_le<std::uint64_t>(b.data() + 40, 1ull << 62); }, {"section 0 (type 1): length"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + test::section_body(b, 2) - 16, 1); },
         {"section 1 (type 1) is out of order or repeated"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + test::section_body(b, 2) - 16, 6); },
         {"unknown section type 6"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + test::section_body(b, 2) - 16, 0x80000000u); },
         {"no tensors section"});
    edit([&](auto& b) { store_le<std::uint32_t>(b.data() + 32, 0x7FFFFFFFu); }, {"unknown section type 2147483647"});
    edit([&](auto& b) { b[48] = 'x'; }, {"config section is not valid JSON", "file offset 48"});
}

TEST_CASE("non-canonical payloads are refused so files round-trip byte for byte") {
    // 3 x 7 one-bit codes: 21 bits, so the last byte has three padding bits.
    const auto w = test::random_weights(21, 3);
    auto bytes = one_tensor_file(QslmTensor::from_packed("t", *PackedTensor<1>::quantize(w, 3, 7)));
    bytes[test::section_end(bytes, 2) - 1] = static_cast<std::uint8_t>(bytes[test::section_end(bytes, 2) - 1] | 0x80);  // last payload byte
    reseal(bytes);
    require_error([&] { (void)parse(bytes); }, Status::corrupt_data, {"'t'", "padding bits"});

    auto ternary = one_tensor_file(QslmTensor::from_packed("t", *PackedTensor<2, encoding::Ternary>::quantize(w, 3, 7)));
    const std::size_t payload = test::section_end(ternary, 2) - 6;  // 42 bits -> 6 bytes
    ternary[payload] = static_cast<std::uint8_t>((ternary[payload] & ~0x0Cu) | 0x08u);  // code 1 := 0b10
    reseal(ternary);
    require_error([&] { (void)parse(ternary); }, Status::corrupt_data, {"'t'", "code 1 is 0b10"});

    auto zp = one_tensor_file(signed4("t", {ScaleLayout::per_tensor(), true}));
    const std::size_t zp_at = fields(zp) + f_data + 4;  // after the one float scale
    store_le<std::uint16_t>(zp.data() + zp_at, 8);      // 4-bit signed levels are -8..7
    reseal(zp);
    require_error([&] { (void)parse(zp); }, Status::corrupt_data, {"zero point 0 is 8, outside the levels -8..7"});

    auto floats = one_tensor_file(QslmTensor::from_floats("t", 1, 2, std::vector<float>{1, 2}));
    store_le<std::uint32_t>(floats.data() + test::section_end(floats, 2) - 4, 0x7F800000u);
    reseal(floats);
    require_error([&] { (void)parse(floats); }, Status::corrupt_data, {"'t'", "value 1 is NaN or infinite"});
}

TEST_CASE("vocabulary and test-vector sections with lying counts are refused") {
    QslmModel m;
    m.add(QslmTensor::from_floats("x", 1, 1, std::vector<float>{1}));
    m.vocab = {"a", "bc"};
    m.test_vector = QslmTestVector{{1, 2}, {0.5f}};
    const auto base = serialize_qslm(m);
    auto edit = [&](std::uint32_t section, std::size_t at, std::uint32_t value, std::initializer_list<std::string> fr) {
        auto b = base;
        store_le<std::uint32_t>(b.data() + test::section_body(b, section) + at, value);
        reseal(b);
        require_error([&] { (void)parse(b); }, Status::corrupt_data, fr);
    };
    edit(4, 0, 0, {"vocabulary size 0"});
    edit(4, 0, 1u << 30, {"vocabulary size 1073741824"});
    edit(4, 0, 3, {"truncated vocabulary entries"});
    edit(4, 4, 70000, {"token 0 has 70000 bytes"});
    edit(4, 4, 20, {"truncated token bytes"});
    edit(5, 0, 0, {"0 input tokens"});
    edit(5, 0, 200000, {"truncated test input tokens"});
    edit(5, 12, 1u << 25, {"33554432 expected outputs"});
    edit(5, 16, 0x7FC00000u, {"expected output 0 is NaN"});
    edit(5, 20, 0xBF800000u, {"tolerances must be finite and non-negative"});
}
