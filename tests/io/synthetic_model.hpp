#pragma once
// A small synthetic quantized model used to test .qslm files and header export end to end.
// It exercises every width/encoding combination, all granularities, both scale formats, zero
// points and float32 tensors. Its "forward" is a toy network, written once over a generic
// weight accessor so the same code runs on runtime-loaded tensors (host tests) and on the
// constexpr views of a generated header (the -fno-exceptions firmware check): no heap, no
// exceptions, fixed-size buffers.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace qslm::test::synthetic {

inline constexpr std::size_t vocab = 10;
inline constexpr std::size_t dim = 8;
inline constexpr std::size_t hidden = 12;

/// logits = head · relu(ffn_value · relu(ffn_key · (ln · (att_key · x)))), with
/// x = sum over tokens of 0.5^(age) · emb[token]. W(name)(r, c) reads a weight.
/// Returns false for a token outside the vocabulary.
template <class Emb, class AttKey, class Ln, class FfnKey, class FfnValue, class Head>
constexpr bool forward(std::span<const std::uint32_t> tokens, const Emb& emb, const AttKey& att_key, const Ln& ln,
                       const FfnKey& ffn_key, const FfnValue& ffn_value, const Head& head,
                       std::span<float, vocab> logits) {
    std::array<float, dim> x{};
    for (const std::uint32_t t : tokens) {
        if (t >= vocab) return false;
        for (std::size_t d = 0; d < dim; ++d) x[d] = 0.5f * x[d] + emb(t, d);
    }
    std::array<float, dim> a{};
    for (std::size_t r = 0; r < dim; ++r) {
        float s = 0.0f;
        for (std::size_t c = 0; c < dim; ++c) s += att_key(r, c) * x[c];
        a[r] = s * ln(0, r);
    }
    std::array<float, hidden> h{};
    for (std::size_t r = 0; r < hidden; ++r) {
        float s = 0.0f;
        for (std::size_t c = 0; c < dim; ++c) s += ffn_key(r, c) * a[c];
        h[r] = s > 0.0f ? s : 0.0f;
    }
    std::array<float, dim> y{};
    for (std::size_t r = 0; r < dim; ++r) {
        float s = 0.0f;
        for (std::size_t c = 0; c < hidden; ++c) s += ffn_value(r, c) * h[c];
        y[r] = s > 0.0f ? s : 0.0f;
    }
    for (std::size_t r = 0; r < vocab; ++r) {
        float s = 0.0f;
        for (std::size_t c = 0; c < dim; ++c) s += head(r, c) * y[c];
        logits[r] = s;
    }
    return true;
}

inline constexpr std::array<std::uint32_t, 5> test_tokens = {3, 1, 4, 1, 5};

}  // namespace qslm::test::synthetic
