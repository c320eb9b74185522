#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "io_test_support.hpp"
#include "qslm/io/header_export.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "synthetic_model_host.hpp"
#include "test_model.hpp"  // generated at build time from test_model.qslm by make_test_model

using namespace qslm;
using namespace qslm::io;
namespace gen = qslm_test::generated;

namespace {
const QslmModel& runtime_model() {
    static const QslmModel m = load_qslm(QSLM_IO_TEST_MODEL);
    return m;
}

template <int Bits, class Encoding>
std::vector<float> dequantized(const PackedTensorView<Bits, Encoding>& v) {
    std::vector<float> out(v.size());
    (void)v.dequantize(out);
    return out;
}
std::vector<float> dequantized(const gen::FloatTensorView& v) { return {v.values.begin(), v.values.end()}; }

template <class V>
struct Weight {
    const V& v;
    float operator()(std::size_t r, std::size_t c) const {
        if constexpr (std::is_same_v<V, gen::FloatTensorView>) return v.at(r, c);
        else return v.dequantized(r, c);
    }
};
}  // namespace

TEST_CASE("the generated header holds exactly the weights of the .qslm file loaded at run time") {
    const QslmModel& m = runtime_model();
    std::size_t seen = 0;
    gen::for_each_tensor([&](std::string_view name, const auto& view) {
        INFO("tensor " << name);
        const QslmTensor& t = m.tensor(name);
        using View = std::remove_cvref_t<decltype(view)>;
        if constexpr (std::is_same_v<View, gen::FloatTensorView>) {
            CHECK_FALSE(t.is_packed());
        } else {
            CHECK(t.is_packed());
            CHECK(View::bits == t.bits);  // the width is a compile-time constant of the type
            CHECK(encoding_kind_of<typename View::encoding>() == t.encoding);
            CHECK(view.layout() == t.layout);
            CHECK(view.scale_format() == t.scale_format);
            const auto rt = t.view<View::bits, typename View::encoding>();
            CHECK(std::equal(view.payload().begin(), view.payload().end(), rt.payload().begin(), rt.payload().end()));
        }
        const auto header_weights = dequantized(view);
        const auto runtime_weights = t.dequantize();
        REQUIRE(header_weights.size() == runtime_weights.size());
        for (std::size_t i = 0; i < header_weights.size(); ++i)  // bit-identical, not merely close
            REQUIRE(std::bit_cast<std::uint32_t>(header_weights[i]) == std::bit_cast<std::uint32_t>(runtime_weights[i]));
        ++seen;
    });
    CHECK(seen == m.tensors.size());
    CHECK(gen::tensor_count == m.tensors.size());
    CHECK(gen::config_json == m.config_json);
    CHECK(gen::tokenizer_json == m.tokenizer_json);
    REQUIRE(gen::vocab_size == m.vocab.size());
    for (std::size_t i = 0; i < m.vocab.size(); ++i) CHECK(gen::vocab[i] == m.vocab[i]);
    CHECK(gen::tensors[0].name == m.tensors[0].name);
    CHECK(gen::tensors[1].bits == 4);
}

TEST_CASE("the generated header produces the same outputs as the runtime-loaded model") {
    const QslmModel& m = runtime_model();
    REQUIRE(m.test_vector.has_value());
    const auto runtime_logits = test::synthetic::run(m, m.test_vector->input);
    std::array<float, test::synthetic::vocab> header_logits{};
    REQUIRE(test::synthetic::forward(std::span<const std::uint32_t>(gen::test_input), Weight{gen::emb_weight},
                                     Weight{gen::blocks_0_att_key_weight}, Weight{gen::blocks_0_ln1_weight},
                                     Weight{gen::blocks_0_ffn_key_weight}, Weight{gen::blocks_0_ffn_value_weight},
                                     Weight{gen::head_weight}, std::span<float, test::synthetic::vocab>(header_logits)));
    for (std::size_t i = 0; i < header_logits.size(); ++i) {
        CHECK(header_logits[i] == runtime_logits[i]);
        CHECK(gen::test_expected[i] == m.test_vector->expected[i]);
    }
    CHECK(gen::test_abs_tolerance == m.test_vector->abs_tolerance);
    // And the file's own end-to-end check passes with the same forward.
    CHECK_NOTHROW(load_qslm(QSLM_IO_TEST_MODEL, {.verify = test::synthetic::run}));
}

TEST_CASE("tensor names become unique, valid C++ identifiers") {
    const QslmModel& m = runtime_model();
    const std::string text = export_header(m, {.namespace_name = "a::b"});
    CHECK_THAT(text, Catch::Matchers::Contains("inline constexpr qslm::PackedTensorView<4, qslm::encoding::Signed> "
                                               "blocks_0_att_key_weight{"));
    CHECK_THAT(text, Catch::Matchers::Contains("PackedTensorView<2, qslm::encoding::Ternary> blocks_0_ffn_value_weight{"));
    CHECK_THAT(text, Catch::Matchers::Contains("FloatTensorView t_9weird_name_with_odd_chars{"));
    CHECK_THAT(text, Catch::Matchers::Contains("FloatTensorView class_t{"));
    CHECK_THAT(text, Catch::Matchers::Contains("FloatTensorView class_t_2{"));  // "class_t" itself, made unique
    CHECK_THAT(text, Catch::Matchers::Contains("static_assert(blocks_0_att_key_weight.check() == qslm::Status::ok"));
    CHECK_THAT(text, Catch::Matchers::Contains("namespace a::b {"));
    CHECK_THAT(text, Catch::Matchers::Contains("::a::b::head_weight;"));
    for (const char* bad : {"", "1a", "a::", "::a", "a b", "class", "a__b", "_Upper"})
        test::require_error([&] { (void)export_header(m, {.namespace_name = bad}); }, Status::invalid_argument,
                            {"namespace name"});
}

TEST_CASE("a model emitter adds model-specific code without touching the arrays") {
    const QslmModel& m = runtime_model();
    HeaderExportOptions options;
    options.model_emitter = [](const QslmModel& model, const HeaderSymbols& symbols) {
        return "using HeadType = std::remove_cvref_t<decltype(Weights::" + symbols.identifier_of.at("head.weight") +
               ")>;  // " + std::to_string(model.tensors.size()) + " tensors";
    };
    const std::string text = export_header(m, options);
    CHECK_THAT(text, Catch::Matchers::Contains("using HeadType = std::remove_cvref_t<decltype(Weights::head_weight)>;"));
}

TEST_CASE("write_header writes atomically and refuses invalid models") {
    test::ScratchDir dir("header");
    write_header(dir / "m.hpp", runtime_model(), {}, {.sync = false});
    CHECK(dir.entries() == std::vector<std::string>{"m.hpp"});
    QslmModel bad;
    bad.add(QslmTensor::from_floats("x", 1, 1, std::vector<float>{1}));
    bad.tensors[0].name = "bad name";
    test::require_error([&] { (void)export_header(bad); }, Status::invalid_argument, {"printable ASCII"});
}

TEST_CASE("string literals in the header keep every byte") {
    CHECK(detail::string_literal("a\"b\\c") == R"("a\"b\\c")");
    CHECK(detail::string_literal(std::string("\0\n\xff?", 4)) == R"("\000\012\377\077")");
    CHECK(detail::float_literal(0.375f) == "0x1.8p-2f");
    CHECK(detail::float_literal(-0.0f) == "-0x0p+0f");
}
