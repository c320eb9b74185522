#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <vector>

#include "io_test_support.hpp"
#include "qslm/io/safetensors.hpp"
#include "qslm/io/safetensors_writer.hpp"

using namespace qslm;
using namespace qslm::io;

TEST_CASE("a hand-assembled safetensors file is read as the format describes") {
    // Written byte by byte from the format description, not by our writer: two F32 values and
    // one I8 value, metadata, and a header padded with spaces.
    const std::string header =
        R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
        R"("b":{"dtype":"I8","shape":[1,1],"data_offsets":[8,9]}}   )";
    const std::vector<std::uint8_t> data = {0x00, 0x00, 0x80, 0x3F,  // 1.0f
                                            0x00, 0x00, 0x00, 0xC0,  // -2.0f
                                            0xFB};                   // -5
    const auto bytes = test::raw_safetensors(header, data);
    const auto st = SafetensorsFile::parse(std::span<const std::uint8_t>(bytes), "hand.safetensors");
    REQUIRE(st.tensors().size() == 2);
    CHECK(st.tensors()[0].name == "a");  // file order
    CHECK(st.tensor("a").to_float() == std::vector<float>{1.0f, -2.0f});
    CHECK(st.tensor("b").to_float() == std::vector<float>{-5.0f});
    CHECK(st.tensor("b").shape == std::vector<std::uint64_t>{1, 1});
    CHECK(st.metadata_value("format") == "pt");
    CHECK_FALSE(st.metadata_value("missing").has_value());
    CHECK(st.data_offset() == 8 + header.size());
    test::require_error([&] { (void)st.tensor("c"); }, Status::not_found, {"hand.safetensors", "'c'"});
}

TEST_CASE("the writer and reader round-trip every dtype") {
    SafetensorsWriter w;
    const std::vector<float> f = {0.0f, -0.0f, 1.5f, -3.25f, 65504.0f, 1e-7f, 3.0e38f, -1e-40f};
    w.add_f32("f32", {2, 4}, f);
    w.add_f16("f16", {8}, f);
    w.add_bf16("bf16", {4, 2}, f);
    const std::vector<std::uint8_t> u8 = {0, 1, 127, 128, 255};
    w.add("u8", DType::U8, {5}, u8);
    w.add("i8", DType::I8, {5}, u8);
    w.add("bool", DType::BOOL, {2}, std::vector<std::uint8_t>{0, 1});
    ByteWriter wide;
    wide.put<std::uint16_t>(0xFFFF);
    wide.put<std::uint16_t>(0x0001);
    w.add("i16", DType::I16, {2}, wide.bytes());
    w.add("u16", DType::U16, {2}, wide.bytes());
    ByteWriter w32;
    w32.put<std::uint32_t>(0xFFFFFFFEu);
    w.add("i32", DType::I32, {1}, w32.bytes());
    w.add("u32", DType::U32, {1}, w32.bytes());
    ByteWriter w64;
    w64.put<std::uint64_t>(std::bit_cast<std::uint64_t>(-2.5));
    w.add("f64", DType::F64, {1}, w64.bytes());
    w.add("i64", DType::I64, {1}, std::vector<std::uint8_t>{0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
    w.add("u64", DType::U64, {1}, std::vector<std::uint8_t>{0x03, 0, 0, 0, 0, 0, 0, 0});
    w.add("f8e4m3", DType::F8_E4M3, {1}, std::vector<std::uint8_t>{0x38});
    w.add("f8e5m2", DType::F8_E5M2, {1}, std::vector<std::uint8_t>{0x3C});
    w.add("empty", DType::F32, {0, 3}, std::vector<std::uint8_t>{});
    w.add("scalar", DType::F32, {}, std::vector<std::uint8_t>{0, 0, 0x80, 0x3F});
    w.set_metadata("binary_embedding", "true");
    const auto bytes = w.to_bytes();
    CHECK((8 + load_le<std::uint64_t>(bytes.data())) % 8 == 0);  // data section 8-aligned

    const auto st = SafetensorsFile::parse(std::span<const std::uint8_t>(bytes));
    CHECK(st.tensors().size() == 17);
    CHECK(st.tensor("f32").to_float() == f);
    const auto h = st.tensor("f16").to_float();
    CHECK(h[2] == 1.5f);
    CHECK(h[4] == 65504.0f);
    CHECK(std::isinf(h[6]));  // 3e38 overflows binary16
    CHECK(std::signbit(h[1]));
    CHECK(st.tensor("bf16").to_float()[3] == -3.25f);
    CHECK(st.tensor("u8").to_float() == std::vector<float>{0, 1, 127, 128, 255});
    CHECK(st.tensor("i8").to_float() == std::vector<float>{0, 1, 127, -128, -1});
    CHECK(st.tensor("bool").to_float() == std::vector<float>{0, 1});
    CHECK(st.tensor("i16").to_float() == std::vector<float>{-1, 1});
    CHECK(st.tensor("u16").to_float() == std::vector<float>{65535, 1});
    CHECK(st.tensor("i32").to_float() == std::vector<float>{-2});
    CHECK(st.tensor("u32").to_float() == std::vector<float>{4294967294.0f});
    CHECK(st.tensor("f64").to_float() == std::vector<float>{-2.5f});
    CHECK(st.tensor("i64").to_float() == std::vector<float>{-3});
    CHECK(st.tensor("u64").to_float() == std::vector<float>{3});
    CHECK(st.tensor("f8e4m3").to_float() == std::vector<float>{1.0f});
    CHECK(st.tensor("f8e5m2").to_float() == std::vector<float>{1.0f});
    CHECK(st.tensor("empty").element_count() == 0);
    CHECK(st.tensor("empty").to_float().empty());
    CHECK(st.tensor("scalar").to_float() == std::vector<float>{1.0f});
    CHECK(st.metadata().at("binary_embedding") == "true");
}

TEST_CASE("a safetensors file is memory-mapped, or read into memory on request") {
    test::ScratchDir dir("st_map");
    SafetensorsWriter w;
    const std::vector<float> v = {1, 2, 3};
    w.add_f32("v", {3}, v);
    w.write(dir / "m.safetensors", {.sync = false});
    const auto mapped = SafetensorsFile::open(dir / "m.safetensors");
    const auto copied = SafetensorsFile::open(dir / "m.safetensors", ReadMode::copy);
#if QSLM_IO_HAVE_POSIX
    CHECK(mapped.source().is_mapped());
#endif
    CHECK_FALSE(copied.source().is_mapped());
    CHECK(mapped.tensor("v").to_float() == v);
    CHECK(copied.tensor("v").to_float() == v);
    CHECK(dir.entries() == std::vector<std::string>{"m.safetensors"});  // no temporary left
    test::require_error([&] { (void)SafetensorsFile::open(dir / "absent.safetensors"); }, Status::io_error,
                        {"absent.safetensors"});
    test::require_error([&] { (void)SafetensorsFile::open(dir.path()); }, Status::io_error, {"directory"});
}

TEST_CASE("the writer refuses inconsistent tensors") {
    SafetensorsWriter w;
    const std::vector<float> v = {1, 2, 3};
    test::require_error([&] { w.add_f32("x", {2, 2}, v); }, Status::bad_shape, {"'x'"});
    w.add_f32("x", {3}, v);
    test::require_error([&] { w.add_f32("x", {3}, v); }, Status::invalid_argument, {"twice"});
    test::require_error([&] { w.add_f32("__metadata__", {3}, v); }, Status::invalid_argument, {"__metadata__"});
    test::require_error([&] { w.add_float("y", DType::I8, {3}, v); }, Status::invalid_argument, {"I8"});
}

TEST_CASE("to_float refuses a buffer of the wrong size and BOOL bytes other than 0 and 1") {
    const auto bytes = test::raw_safetensors(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", {1, 7});
    const auto st = SafetensorsFile::parse(std::span<const std::uint8_t>(bytes));
    std::vector<float> small(1);
    test::require_error([&] { st.tensor("b").to_float(small); }, Status::buffer_too_small, {"'b'"});
    test::require_error([&] { (void)st.tensor("b").to_float(); }, Status::corrupt_data, {"'b'", "element 1"});
}
