// Compiled with -fno-exceptions -fno-rtti, like firmware: includes the header generated from
// the synthetic .qslm, runs the toy network on the stored test input using only the constexpr
// views (no file system, no heap), and compares with the stored expected outputs.
#include <cmath>
#include <cstdio>
#include <type_traits>

#include "synthetic_model.hpp"
#include "test_model.hpp"

namespace gen = qslm_test::generated;
namespace syn = qslm::test::synthetic;

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#  error "this check must be compiled with -fno-exceptions"
#endif

template <class View>
struct Weight {
    const View& v;
    constexpr float operator()(std::size_t r, std::size_t c) const { return v.dequantized(r, c); }
};
struct FloatWeight {
    const gen::FloatTensorView& v;
    constexpr float operator()(std::size_t r, std::size_t c) const { return v.at(r, c); }
};

// The widths are part of the types: a firmware build specialises each layer for its width.
static_assert(std::remove_cvref_t<decltype(gen::Weights::blocks_0_att_key_weight)>::bits == 4);
static_assert(std::remove_cvref_t<decltype(gen::Weights::head_weight)>::bits == 1);

int main() {
    static_assert(gen::has_test_vector);
    static_assert(gen::vocab_size == syn::vocab);
    std::array<float, syn::vocab> logits{};
    const bool ok = syn::forward(std::span<const std::uint32_t>(gen::test_input), Weight{gen::emb_weight},
                                 Weight{gen::blocks_0_att_key_weight}, FloatWeight{gen::blocks_0_ln1_weight},
                                 Weight{gen::blocks_0_ffn_key_weight}, Weight{gen::blocks_0_ffn_value_weight},
                                 Weight{gen::head_weight}, std::span<float, syn::vocab>(logits));
    if (!ok) return 1;
    int bad = 0;
    for (std::size_t i = 0; i < syn::vocab; ++i) {
        const float tol = gen::test_abs_tolerance + gen::test_rel_tolerance * std::fabs(gen::test_expected[i]);
        if (!(std::fabs(logits[i] - gen::test_expected[i]) <= tol)) ++bad;
        std::printf("logit %zu: %a (expected %a)\n", i, static_cast<double>(logits[i]),
                    static_cast<double>(gen::test_expected[i]));
    }
    std::printf("%d of %zu outputs differ\n", bad, syn::vocab);
    return bad == 0 ? 0 : 1;
}
