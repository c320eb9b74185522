// Hostile safetensors files: each violation is a qslm::Error naming the tensor and the problem.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "io_test_support.hpp"
#include "qslm/io/safetensors.hpp"
#include "qslm/io/safetensors_writer.hpp"

using namespace qslm;
using namespace qslm::io;
using test::raw_safetensors;
using test::require_error;

namespace {
void parse(const std::vector<std::uint8_t>& bytes) { (void)SafetensorsFile::parse(std::span<const std::uint8_t>(bytes), "bad.st"); }

std::vector<std::uint8_t> valid_file() {
    SafetensorsWriter w;
    const std::vector<float> v = {1, 2, 3, 4, 5, 6};
    w.add_f32("a", {2, 3}, v);
    w.add_f16("b", {6}, v);
    w.set_metadata("k", "v");
    return w.to_bytes();
}
}  // namespace

TEST_CASE("every truncation of a valid safetensors file is refused with an error, never a crash") {
    const auto good = valid_file();
    for (std::size_t len = 0; len < good.size(); ++len) {
        const std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
        INFO("length " << len);
        REQUIRE_THROWS_AS(parse(cut), Error);
        try {
            parse(cut);
        } catch (const Error& e) {
            REQUIRE(e.code() == Status::corrupt_data);
        }
    }
    REQUIRE_NOTHROW(parse(good));
}

TEST_CASE("flipping any byte of a safetensors file gives a valid file or a qslm::Error") {
    const auto good = valid_file();
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (const unsigned mask : {0x01u, 0x80u, 0xFFu}) {
            auto bad = good;
            bad[i] = static_cast<std::uint8_t>(bad[i] ^ mask);
            try {
                const auto st = SafetensorsFile::parse(std::span<const std::uint8_t>(bad));
                for (const auto& t : st.tensors()) (void)t.to_float();
            } catch (const Error&) {
            }
        }
    }
    SUCCEED("no crash, no foreign exception");
}

TEST_CASE("header lengths that are absurd or exceed the file are refused") {
    require_error([] { parse({1, 2, 3}); }, Status::corrupt_data, {"bad.st", "too short"});
    auto absurd = raw_safetensors("{}");
    store_le<std::uint64_t>(absurd.data(), 0xFFFFFFFFFFFFFFFFull);
    require_error([&] { parse(absurd); }, Status::corrupt_data, {"header length 18446744073709551615 is absurd"});
    store_le<std::uint64_t>(absurd.data(), 100'000'001);
    require_error([&] { parse(absurd); }, Status::corrupt_data, {"absurd"});
    store_le<std::uint64_t>(absurd.data(), 3);
    require_error([&] { parse(absurd); }, Status::corrupt_data, {"exceeds the 2 bytes"});
    store_le<std::uint64_t>(absurd.data(), 1);
    require_error([&] { parse(absurd); }, Status::corrupt_data, {"too small"});
}

TEST_CASE("malformed header JSON is refused with the file offset") {
    require_error([] { parse(raw_safetensors(R"({"a": )")); }, Status::corrupt_data, {"malformed", "file offset"});
    require_error([] { parse(raw_safetensors("[1, 2]")); }, Status::corrupt_data, {"not an object"});
    require_error([] { parse(raw_safetensors("{\"a\xff\": 1}")); }, Status::corrupt_data, {"malformed"});
    require_error([] { parse(raw_safetensors(R"({"a":{"dtype":"F32","shape":[[[1]]],"data_offsets":[0,4]}})")); },
                  Status::corrupt_data, {"nests deeper"});
}

TEST_CASE("duplicate tensor names are refused, not silently resolved") {
    require_error(
        [] {
            parse(raw_safetensors(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                  R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                  {1, 2}));
        },
        Status::corrupt_data, {"'w' twice"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}})", {1})); },
                  Status::corrupt_data, {"'dtype' twice"});
}

TEST_CASE("unknown dtypes and malformed entries name the tensor") {
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,1]}})", {0})); },
                  Status::corrupt_data, {"tensor 'w'", "unknown dtype 'Q4_K'"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,1]}})", {0})); },
                  Status::corrupt_data, {"'w'", "dtype is not a string"});
    require_error([] { parse(raw_safetensors(R"({"w":{"shape":[1],"data_offsets":[0,1]}})", {0})); },
                  Status::corrupt_data, {"'w'", "no dtype"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", {0})); },
                  Status::corrupt_data, {"'w'", "no shape"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"U8","shape":[1]}})", {0})); }, Status::corrupt_data,
                  {"'w'", "no data_offsets"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", {0})); },
                  Status::corrupt_data, {"'w'", "non-negative integers"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", {0})); },
                  Status::corrupt_data, {"'w'", "non-negative integers"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", {0})); },
                  Status::corrupt_data, {"'w'", "two non-negative integers"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,-1]}})", {0})); },
                  Status::corrupt_data, {"'w'", "two non-negative integers"});
    require_error([] { parse(raw_safetensors(R"({"w":[1,2]})")); }, Status::corrupt_data, {"'w'", "not an object"});
    require_error([] { parse(raw_safetensors(R"({"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", {0})); },
                  Status::corrupt_data, {"empty name"});
    require_error([] { parse(raw_safetensors(R"({"__metadata__":{"a":1}})")); }, Status::corrupt_data,
                  {"__metadata__", "'a'"});
    require_error([] { parse(raw_safetensors(R"({"__metadata__":[]})")); }, Status::corrupt_data, {"__metadata__"});
}

TEST_CASE("shapes and offsets that disagree are refused") {
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                                             std::vector<std::uint8_t>(20))); },
                  Status::corrupt_data, {"'w'", "hold 20 bytes", "F32 x shape [2, 3] needs 24"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})",
                                             std::vector<std::uint8_t>(4))); },
                  Status::corrupt_data, {"'w'", "past the end of the data section (4 bytes"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})",
                                             std::vector<std::uint8_t>(4))); },
                  Status::corrupt_data, {"'w'", "end before they begin"});
    require_error([] { parse(raw_safetensors(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                                             std::vector<std::uint8_t>(8))); },
                  Status::corrupt_data, {"'w'", "too many elements"});
    std::string deep = R"({"w":{"dtype":"U8","shape":[)";
    for (int i = 0; i < 40; ++i) deep += "1,";
    deep += R"(1],"data_offsets":[0,1]}})";
    require_error([&] { parse(raw_safetensors(deep, {0})); }, Status::corrupt_data, {"'w'", "41 dimensions"});
}

TEST_CASE("overlapping tensors, gaps and trailing bytes are refused") {
    require_error(
        [] {
            parse(raw_safetensors(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                  R"("b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
                                  {1, 2, 3}));
        },
        Status::corrupt_data, {"'b'", "[1, 3) overlap tensor 'a' [0, 2)"});
    require_error(
        [] {
            parse(raw_safetensors(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                  R"("b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}})",
                                  {1, 2, 3}));
        },
        Status::corrupt_data, {"'b'", "unused"});
    require_error([] { parse(raw_safetensors(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", {1, 2})); },
                  Status::corrupt_data, {"'a'", "[0, 1)"});
    require_error([] { parse(raw_safetensors(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", {1, 2})); },
                  Status::corrupt_data, {"trailing"});
    // The same bytes claimed twice (an alias) is an overlap too.
    require_error(
        [] {
            parse(raw_safetensors(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                  R"("b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
                                  {1, 2}));
        },
        Status::corrupt_data, {"overlap"});
}

TEST_CASE("empty tensors may share an offset") {
    const auto bytes = raw_safetensors(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},)"
                                       R"("b":{"dtype":"F32","shape":[3,0],"data_offsets":[0,0]},)"
                                       R"("c":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                                       {9});
    const auto st = SafetensorsFile::parse(std::span<const std::uint8_t>(bytes));
    CHECK(st.tensors().size() == 3);
    CHECK(st.tensor("c").to_float() == std::vector<float>{9});
    CHECK(parse_dtype("F32") == DType::F32);
    CHECK_FALSE(parse_dtype("f32").has_value());
}
