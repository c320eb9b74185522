#pragma once
// Host side of the synthetic model: builds it as a QslmModel (deterministic), and runs its
// forward on runtime-loaded tensors (the verify callable of load_qslm).

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "qslm/io/qslm_model.hpp"
#include "qslm/tensor/packed_tensor.hpp"
#include "synthetic_model.hpp"

namespace qslm::test::synthetic {

inline std::vector<float> random_floats(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> w(n);
    for (auto& v : w) v = d(rng);
    return w;
}

template <int Bits, class Encoding>
io::QslmTensor quantized(const std::string& name, std::size_t rows, std::size_t cols, unsigned seed,
                         const QuantSpec& spec) {
    const auto w = random_floats(rows * cols, seed);
    auto t = PackedTensor<Bits, Encoding>::quantize(w, rows, cols, spec);
    if (!t) throw std::runtime_error(std::string("synthetic model: ") + t.message());
    return io::QslmTensor::from_packed(name, *t);
}

/// Dequantized rows x cols matrix with operator()(r, c).
struct DenseMatrix {
    std::size_t cols = 0;
    std::vector<float> values;
    float operator()(std::size_t r, std::size_t c) const { return values[r * cols + c]; }
};
inline DenseMatrix dense(const io::QslmTensor& t) { return {t.cols, t.dequantize()}; }

/// The toy network on runtime-loaded tensors.
inline std::vector<float> run(const io::QslmModel& m, std::span<const std::uint32_t> tokens) {
    std::array<float, vocab> logits{};
    const bool ok = forward(tokens, dense(m.tensor("emb.weight")), dense(m.tensor("blocks.0.att.key.weight")),
                            dense(m.tensor("blocks.0.ln1.weight")), dense(m.tensor("blocks.0.ffn.key.weight")),
                            dense(m.tensor("blocks.0.ffn.value.weight")), dense(m.tensor("head.weight")),
                            std::span<float, vocab>(logits));
    if (!ok) throw std::runtime_error("synthetic forward: token outside the vocabulary");
    return {logits.begin(), logits.end()};
}

/// The synthetic model: the toy network's tensors (mixed widths) plus one tensor for each of
/// the 18 width/encoding combinations, a vocabulary with awkward bytes, and a test vector.
inline io::QslmModel make_model() {
    io::QslmModel m;
    m.config_json = R"({"model_type": "synthetic", "vocab_size": 10, "n_embd": 8, "note": "quote \" backslash \\ end"})";
    m.tokenizer_json = R"({"type": "bytes"})";
    m.add(quantized<8, encoding::Signed>("emb.weight", vocab, dim, 1, {ScaleLayout::per_channel()}));
    m.add(quantized<4, encoding::Signed>("blocks.0.att.key.weight", dim, dim, 2, {ScaleLayout::per_group(3)}));
    const auto ln = random_floats(dim, 3, 0.5f, 1.5f);
    m.add(io::QslmTensor::from_floats("blocks.0.ln1.weight", 1, dim, ln));
    m.add(quantized<3, encoding::Unsigned>("blocks.0.ffn.key.weight", hidden, dim, 4,
                                           {ScaleLayout::per_channel(), true, ScaleFormat::power_of_two}));
    m.add(quantized<2, encoding::Ternary>("blocks.0.ffn.value.weight", dim, hidden, 5, {ScaleLayout::per_tensor()}));
    m.add(quantized<1, encoding::Bipolar>("head.weight", vocab, dim, 6, {ScaleLayout::per_channel()}));
    // Every width x encoding, with a shape whose bit count is not a multiple of 8.
    unsigned seed = 100;
    auto sweep = [&]<int B, class E>(const char* enc) {
        const QuantSpec spec{(B % 3 == 0) ? ScaleLayout::per_group(5) : ScaleLayout::per_channel(), B % 2 == 0,
                             B >= 5 ? ScaleFormat::power_of_two : ScaleFormat::float32};
        m.add(quantized<B, E>("sweep." + std::string(enc) + "." + std::to_string(B), 3, 7, ++seed, spec));
    };
    sweep.template operator()<1, encoding::Bipolar>("bipolar");
    sweep.template operator()<2, encoding::Ternary>("ternary");
    [&]<int... B>(std::integer_sequence<int, B...>) {
        (sweep.template operator()<B + 1, encoding::Signed>("signed"), ...);
        (sweep.template operator()<B + 1, encoding::Unsigned>("unsigned"), ...);
    }(std::make_integer_sequence<int, 8>{});
    // Names that need mangling, and a keyword.
    const auto f = random_floats(4, 7);
    m.add(io::QslmTensor::from_floats("9weird-name..with/odd*chars\\", 2, 2, f));
    m.add(io::QslmTensor::from_floats("class", 1, 4, f));
    m.add(io::QslmTensor::from_floats("class_t", 1, 4, f));
    m.vocab = {"<pad>", std::string("\0nul", 4), "\"quoted\"", "back\\slash", "tri??graph", "\xff\xfe", "new\nline",
               "caf\xc3\xa9", "a", "b"};
    io::QslmTestVector tv;
    tv.input.assign(test_tokens.begin(), test_tokens.end());
    tv.expected = run(m, tv.input);
    tv.abs_tolerance = 1e-5f;
    tv.rel_tolerance = 1e-5f;
    m.test_vector = tv;
    return m;
}

}  // namespace qslm::test::synthetic
