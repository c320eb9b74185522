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

namespace {
QslmModel parse(const std::vector<std::uint8_t>& bytes) { return parse_qslm(std::span<const std::uint8_t>(bytes), "m.qslm"); }
}  // namespace

TEMPLATE_TEST_CASE("a packed tensor of every width and encoding round-trips through .qslm exactly", "",
                   QSLM_ALL_WIDTH_CASES) {
    constexpr int B = TestType::bits;
    using E = typename TestType::encoding;
    const auto layout = GENERATE(ScaleLayout::per_tensor(), ScaleLayout::per_channel(), ScaleLayout::per_group(4));
    const auto format = GENERATE(ScaleFormat::float32, ScaleFormat::power_of_two);
    const bool zero_point = GENERATE(false, true);
    if (zero_point && std::is_same_v<E, encoding::Bipolar>) return;  // ±1 has no zero level to anchor
    const auto w = test::random_weights(5 * 9, 11);
    const auto packed = PackedTensor<B, E>::quantize(w, 5, 9, {layout, zero_point, format});
    REQUIRE(packed.ok());

    QslmModel m;
    m.add(QslmTensor::from_packed("w", *packed));
    const auto bytes = serialize_qslm(m);
    const auto loaded = parse(bytes);
    const QslmTensor& t = loaded.tensor("w");
    CHECK(t.bits == B);
    CHECK(t.encoding == encoding_kind_of<E>());
    CHECK(t.layout == layout);
    CHECK(t.scale_format == format);

    // Zero copy: the view's payload lies inside the file image.
    const auto view = t.view<B, E>();
    CHECK(view.payload().data() >= bytes.data());
    CHECK(view.payload().data() + view.payload().size() <= bytes.data() + bytes.size());
    // Same payload bytes, scales, zero points, and therefore the same weights.
    const auto original = packed->view();
    CHECK(std::equal(view.payload().begin(), view.payload().end(), original.payload().begin(), original.payload().end()));
    CHECK(std::equal(view.scales().begin(), view.scales().end(), original.scales().begin(), original.scales().end()));
    CHECK(std::equal(view.scale_exponents().begin(), view.scale_exponents().end(), original.scale_exponents().begin(),
                     original.scale_exponents().end()));
    CHECK(std::equal(view.zero_points().begin(), view.zero_points().end(), original.zero_points().begin(),
                     original.zero_points().end()));
    CHECK(t.dequantize() == packed->dequantize());
    // Back to an owning PackedTensor: identical bytes.
    const auto again = t.to_packed<B, E>();
    CHECK(std::equal(again.view().payload().begin(), again.view().payload().end(), original.payload().begin(),
                     original.payload().end()));
    // Re-serializing what was read gives the same file.
    CHECK(serialize_qslm(loaded) == bytes);
}

TEST_CASE("default-encoded tensors come back as the AnyPackedTensor they were") {
    const int bits = GENERATE(range(1, 9));
    const auto w = test::random_weights(6 * 10, 5);
    const auto any = AnyPackedTensor::quantize(bits, w, 6, 10, {ScaleLayout::per_group(4)});
    REQUIRE(any.ok());
    QslmModel m;
    m.add(QslmTensor::from_any("w", *any));
    const auto bytes = serialize_qslm(m);
    const auto back = parse(bytes).tensor("w").to_any_packed();
    CHECK(back.bits() == bits);
    CHECK(back.levels() == any->levels());
    CHECK(back.dequantize() == any->dequantize());
}

TEST_CASE("a tensor is only viewed with the width and encoding it was stored with") {
    const auto w = test::random_weights(12, 1);
    QslmModel m;
    m.add(QslmTensor::from_packed("u4", *PackedTensor<4, encoding::Unsigned>::quantize(w, 3, 4)));
    m.add(QslmTensor::from_floats("f", 3, 4, w));
    const auto bytes = serialize_qslm(m);
    const auto loaded = parse(bytes);
    require_error([&] { (void)loaded.tensor("u4").view<4>(); }, Status::invalid_argument,
                  {"'u4'", "4-bit unsigned", "not as 4-bit signed"});
    require_error([&] { (void)loaded.tensor("u4").to_any_packed(); }, Status::invalid_argument, {"AnyPackedTensor"});
    require_error([&] { (void)loaded.tensor("f").view<8>(); }, Status::invalid_argument, {"float32"});
    CHECK(loaded.tensor("f").float_values() == w);
    CHECK(loaded.tensor("f").dequantize() == w);
    require_error([&] { (void)loaded.tensor("nope"); }, Status::not_found, {"'nope'"});
}

TEST_CASE("the synthetic model round-trips with config, tokenizer, vocabulary and test vector") {
    const auto m = test::synthetic::make_model();
    const auto bytes = serialize_qslm(m);
    const auto loaded = parse(bytes);
    CHECK(loaded.version == qslm_format_version);
    CHECK(loaded.config_json == m.config_json);
    CHECK(loaded.config()["model_type"] == "synthetic");
    CHECK(loaded.tokenizer_json == m.tokenizer_json);
    CHECK(loaded.vocab == m.vocab);
    CHECK(loaded.vocab[1].size() == 4);  // embedded NUL kept
    REQUIRE(loaded.test_vector.has_value());
    CHECK(loaded.test_vector->input == m.test_vector->input);
    CHECK(loaded.test_vector->expected == m.test_vector->expected);
    CHECK(loaded.test_vector->abs_tolerance == m.test_vector->abs_tolerance);
    REQUIRE(loaded.tensors.size() == m.tensors.size());
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
        CHECK(loaded.tensors[i].name == m.tensors[i].name);
        CHECK(loaded.tensors[i].dequantize() == m.tensors[i].dequantize());
    }
    CHECK(serialize_qslm(loaded) == bytes);
}

TEST_CASE("loading verifies the model end to end through a pluggable forward") {
    test::ScratchDir dir("qslm_verify");
    const auto m = test::synthetic::make_model();
    save_qslm(dir / "m.qslm", m, {.sync = false});
    int calls = 0;
    const auto good = [&](const QslmModel& model, std::span<const std::uint32_t> input) {
        ++calls;
        return test::synthetic::run(model, input);
    };
    const auto loaded = load_qslm(dir / "m.qslm", {.verify = good});
    CHECK(calls == 1);
    CHECK(loaded.tensors.size() == m.tensors.size());
    // A model that computes something else is caught.
    const auto off_by_a_bit = [](const QslmModel& model, std::span<const std::uint32_t> input) {
        auto out = test::synthetic::run(model, input);
        out[7] += 0.01f;
        return out;
    };
    require_error([&] { (void)load_qslm(dir / "m.qslm", {.verify = off_by_a_bit}); }, Status::corrupt_data,
                  {"m.qslm", "end-to-end check failed", "1 of 10 outputs differ", "output 7"});
    const auto wrong_count = [](const QslmModel&, std::span<const std::uint32_t>) { return std::vector<float>(3); };
    require_error([&] { (void)load_qslm(dir / "m.qslm", {.verify = wrong_count}); }, Status::corrupt_data,
                  {"produced 3 outputs, the file expects 10"});
    const auto nan = [](const QslmModel&, std::span<const std::uint32_t>) {
        return std::vector<float>(10, std::numeric_limits<float>::quiet_NaN());
    };
    require_error([&] { (void)load_qslm(dir / "m.qslm", {.verify = nan}); }, Status::corrupt_data, {"10 of 10"});
    // Verification needs a stored test vector.
    auto no_tv = m;
    no_tv.test_vector.reset();
    save_qslm(dir / "no_tv.qslm", no_tv, {.sync = false});
    require_error([&] { (void)load_qslm(dir / "no_tv.qslm", {.verify = good}); }, Status::not_found, {"no test vector"});
    CHECK_NOTHROW(load_qslm(dir / "no_tv.qslm"));
}

TEST_CASE("a .qslm file is memory-mapped and its tensors outlive the loader's handle") {
    test::ScratchDir dir("qslm_map");
    save_qslm(dir / "m.qslm", test::synthetic::make_model(), {.sync = false});
    QslmTensor kept;
    {
        const auto loaded = load_qslm(dir / "m.qslm");
        kept = loaded.tensor("blocks.0.att.key.weight");
    }
    CHECK(kept.payload_owner != nullptr);  // the mapping lives on in the tensor
    CHECK(kept.view<4>().check() == Status::ok);
    const auto copied = load_qslm(dir / "m.qslm", {.read_mode = ReadMode::copy});
    CHECK(copied.tensor("blocks.0.att.key.weight").dequantize() == kept.dequantize());
}

TEST_CASE("an interrupted write leaves the previous file untouched and no temporary behind") {
    test::ScratchDir dir("qslm_atomic");
    const auto first = test::synthetic::make_model();
    save_qslm(dir / "m.qslm", first, {.sync = false});
    const auto before = FileBytes::open(dir / "m.qslm", ReadMode::copy);
    const std::vector<std::uint8_t> before_bytes(before.bytes().begin(), before.bytes().end());

    auto second = first;
    second.config_json = R"({"model_type": "changed"})";
    std::filesystem::path seen;
    auto crash = [&](const std::filesystem::path& temp) {
        seen = temp;
        CHECK(std::filesystem::exists(temp));  // fully written under the temporary name...
        CHECK(temp.filename().string().rfind("m.qslm.tmp-", 0) == 0);
        throw std::runtime_error("power cut");  // ...and the process dies before the rename
    };
    CHECK_THROWS_WITH(save_qslm(dir / "m.qslm", second, {.sync = false, .before_rename = crash}), "power cut");
    CHECK_FALSE(std::filesystem::exists(seen));
    CHECK(dir.entries() == std::vector<std::string>{"m.qslm"});
    const auto after = FileBytes::open(dir / "m.qslm", ReadMode::copy);
    CHECK(std::vector<std::uint8_t>(after.bytes().begin(), after.bytes().end()) == before_bytes);

    save_qslm(dir / "m.qslm", second);  // with fsync
    CHECK(load_qslm(dir / "m.qslm").config_json == second.config_json);
    CHECK(dir.entries() == std::vector<std::string>{"m.qslm"});
    require_error([&] { save_qslm(dir / "no_such_dir" / "m.qslm", second, {.sync = false}); }, Status::io_error,
                  {"no_such_dir"});
}

TEST_CASE("optional extension sections are kept; the writer refuses what the reader would refuse") {
    QslmModel m;
    m.add(QslmTensor::from_floats("x", 1, 2, std::vector<float>{1, 2}));
    m.extensions.push_back({0x80000001u, {1, 2, 3}});
    const auto bytes = serialize_qslm(m);
    const auto back = parse(bytes);
    REQUIRE(back.extensions.size() == 1);
    CHECK(back.extensions[0].body == std::vector<std::uint8_t>{1, 2, 3});
    CHECK(serialize_qslm(back) == bytes);

    auto bad = m;
    bad.extensions[0].type = 77;
    require_error([&] { (void)serialize_qslm(bad); }, Status::invalid_argument, {"refusing", "unknown section type 77"});
    bad = m;
    bad.config_json = "[1]";
    require_error([&] { (void)serialize_qslm(bad); }, Status::invalid_argument, {"config section is not a JSON object"});
    bad = m;
    bad.tensors.push_back(bad.tensors[0]);
    require_error([&] { (void)serialize_qslm(bad); }, Status::invalid_argument, {"'x' appears twice"});
    require_error([&] { bad.add(bad.tensors[0]); }, Status::invalid_argument, {"already has a tensor named 'x'"});
    bad = m;
    bad.tensors[0].name = "has space";
    require_error([&] { (void)serialize_qslm(bad); }, Status::invalid_argument, {"printable ASCII"});
    bad = m;
    bad.test_vector = QslmTestVector{{1}, {std::numeric_limits<float>::infinity()}};
    require_error([&] { (void)serialize_qslm(bad); }, Status::invalid_argument, {"NaN or infinite"});
    require_error([] { (void)QslmTensor::from_floats("e", 0, 3, {}); }, Status::bad_shape, {"'e'"});
}

TEST_CASE("the example file in docs/format.md reads as documented and is what the writer writes") {
    // docs/format.md, "A complete example": config "{}", one float32 tensor "x" = [[1.0]].
    const std::vector<std::uint8_t> example = {
        0x51, 0x53, 0x4C, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x7C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x7B, 0x7D, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x2D, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x78, 0x01, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x60, 0x82, 0xD9, 0x92};
    const auto m = parse(example);
    CHECK(m.config_json == "{}");
    REQUIRE(m.tensors.size() == 1);
    CHECK(m.tensor("x").float_values() == std::vector<float>{1.0f});
    QslmModel same;
    same.add(QslmTensor::from_floats("x", 1, 1, std::vector<float>{1.0f}));
    CHECK(serialize_qslm(same) == example);

    // docs/format.md, "A packed tensor record": 4-bit signed levels [1, -2, 7], one scale 0.5.
    const std::vector<std::uint8_t> record = {0x01, 0x00, 0x00, 0x00, 0x77, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
                                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03,
                                              0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
                                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3F, 0xE1, 0x07};
    const std::vector<std::int16_t> levels = {1, -2, 7};
    const std::vector<float> scale = {0.5f};
    QslmModel packed;
    packed.add(QslmTensor::from_packed("w", *PackedTensor<4>::from_levels(levels, 1, 3, ScaleLayout::per_tensor(), scale)));
    const auto bytes = serialize_qslm(packed);
    const std::size_t at = test::section_body(bytes, 2) + 4;
    CHECK(std::vector<std::uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                    bytes.begin() + static_cast<std::ptrdiff_t>(at + record.size())) == record);
    CHECK(parse(bytes).tensor("w").dequantize() == std::vector<float>{0.5f, -1.0f, 3.5f});
}
