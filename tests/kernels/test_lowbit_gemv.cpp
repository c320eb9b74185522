// Low-bit GEMV (kernels/lowbit_gemv.hpp): every SIMD kernel compiled in and supported by this CPU
// bit-exact against the scalar reference over widths x scale layouts x zero points x odd shapes x
// batch 1..5; the reference within its stated error bound of the float W x; errors. Also the dense
// float GEMV's per-arch bodies against matmul_reference.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "qslm/kernels.hpp"
#include "qslm/layers/detail/dense_matmul.hpp"
#include "qslm/tensor.hpp"

using namespace qslm;
using kernels::Isa;
using kernels::LowBitMatrix;

namespace {

struct Case {
    ScaleLayout layout;
    bool zero_points;
    bool power_of_two;
};

template <int Bits, class Encoding>
PackedTensor<Bits, Encoding> random_matrix(std::size_t rows, std::size_t cols, const Case& k, unsigned seed) {
    using T = PackedTensor<Bits, Encoding>;
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> lv(T::min_level, T::max_level);
    std::vector<std::int16_t> levels(rows * cols);
    for (auto& l : levels) {
        int v = lv(rng);
        if (!encoding::has_zero_level<Encoding> && v == 0) v = 1;
        l = static_cast<std::int16_t>(v);
    }
    const std::size_t n = k.layout.scale_count(rows, cols);
    std::vector<std::int16_t> zps;
    if (k.zero_points) {
        zps.resize(n);
        for (auto& z : zps) z = static_cast<std::int16_t>(lv(rng));
    }
    if (k.power_of_two) {
        std::uniform_int_distribution<int> e(-9, -2);
        std::vector<std::int8_t> ex(n);
        for (auto& v : ex) v = static_cast<std::int8_t>(e(rng));
        return T::from_levels_power_of_two(levels, rows, cols, k.layout, ex, zps).value();
    }
    std::uniform_real_distribution<float> s(0.001f, 0.1f);
    std::vector<float> scales(n);
    for (auto& v : scales) v = s(rng);
    return T::from_levels(levels, rows, cols, k.layout, scales, zps).value();
}

std::vector<float> random_inputs(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(n);
    for (auto& v : x) v = d(rng);
    // Some exact ties (x * 127 / max|x| = k + 0.5) and an all-zero block exercise the rounding.
    if (n > 40) {
        for (std::size_t c = 32; c < 40; ++c) x[c] = 0.0f;
    }
    return x;
}

std::vector<Isa> simd_gemv_isas() {
    std::vector<Isa> v;
    for (const Isa i : kernels::gemv_isas)
        if (i != Isa::scalar && kernels::gemv_isa_usable(i)) v.push_back(i);
    return v;
}

const std::vector<Case>& cases() {
    static const std::vector<Case> c = [] {
        std::vector<Case> v;
        const ScaleLayout layouts[] = {ScaleLayout::per_tensor(), ScaleLayout::per_channel(), ScaleLayout::per_group(32),
                                       ScaleLayout::per_group(64), ScaleLayout::per_group(128), ScaleLayout::per_group(48),
                                       ScaleLayout::per_group(8)};
        int i = 0;
        for (const ScaleLayout l : layouts)
            for (const bool zp : {false, true}) v.push_back({l, zp, (i++ % 3) == 0});
        return v;
    }();
    return c;
}

template <int Bits, class Encoding>
void check_width() {
    const std::size_t rows_list[] = {1, 7, 65, 300};
    const std::size_t cols_list[] = {1, 31, 33, 100, 257};
    const auto isas = simd_gemv_isas();
    unsigned seed = 1;
    for (const Case& k : cases()) {
        if (k.zero_points && !encoding::has_zero_level<Encoding>) continue;
        for (const std::size_t rows : rows_list)
            for (const std::size_t cols : cols_list) {
                ++seed;
                const auto w = random_matrix<Bits, Encoding>(rows, cols, k, seed);
                auto m = LowBitMatrix::prepare(w.view());
                REQUIRE(m);
                const auto x = random_inputs(5 * cols, seed * 7);
                std::vector<std::byte> scratch(m->scratch_bytes(5));
                std::vector<float> ref(5 * rows);
                REQUIRE(m->gemv(x.data(), 5, ref.data(), scratch, {Isa::scalar}) == Status::ok);
                for (const Isa isa : isas)
                    for (std::size_t batch = 1; batch <= 5; ++batch) {
                        std::vector<float> y(batch * rows, -1.0f);
                        REQUIRE(m->gemv(x.data(), batch, y.data(), scratch, {isa}) == Status::ok);
                        INFO("bits " << Bits << " " << Encoding::name << " isa " << kernels::to_string(isa) << " layout "
                                     << to_string(k.layout.granularity) << " G " << k.layout.group_size << " zp "
                                     << k.zero_points << " pow2 " << k.power_of_two << " rows " << rows << " cols "
                                     << cols << " batch " << batch);
                        // Bit-exact, and a stream's result does not depend on its batch.
                        REQUIRE(std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)) == 0);
                    }
            }
    }
}

}  // namespace

TEST_CASE("low-bit GEMV: every SIMD kernel is bit-exact with the scalar reference", "[lowbit_gemv]") {
    std::string list;
    for (const Isa i : simd_gemv_isas()) list += std::string(kernels::to_string(i)) + " ";
    WARN("low-bit GEMV ISAs checked against the reference: " << (list.empty() ? "none (scalar only)" : list));
    check_width<1, encoding::Bipolar>();
    check_width<2, encoding::Signed>();
    check_width<2, encoding::Ternary>();
    check_width<3, encoding::Signed>();
    check_width<4, encoding::Signed>();
    check_width<4, encoding::Unsigned>();
    check_width<5, encoding::Signed>();
    check_width<6, encoding::Signed>();
    check_width<8, encoding::Signed>();
    check_width<8, encoding::Unsigned>();
}

TEST_CASE("low-bit GEMV: the reference is within the int8-activation error bound of the float W x", "[lowbit_gemv]") {
    // y - W x = sum_c w_c (d_k q_c - x_c), and |d_k q_c - x_c| <= d_k / 2 (round to nearest), so
    // |y - W x| <= sum_c |w_c| d_k(c) / 2, plus the float rounding of the sums (bounded here by
    // 1e-5 * sum |w_c| |x_c| + 1e-6 * sum |w_c| d_k(c), far above 2^-24 per operation times ~300 ops).
    const std::size_t rows = 65, cols = 257;
    for (const Case& k : cases()) {
        const auto w = random_matrix<4, encoding::Signed>(rows, cols, k, 99);
        const auto m = LowBitMatrix::prepare(w.view()).value();
        const auto x = random_inputs(cols, 5);
        std::vector<std::byte> scratch(m.scratch_bytes(1));
        std::vector<float> y(rows);
        REQUIRE(m.gemv(x.data(), 1, y.data(), scratch, {Isa::scalar}) == Status::ok);
        std::vector<float> d((cols + 31) / 32, 0.0f);
        for (std::size_t c = 0; c < cols; ++c) d[c / 32] = std::max(d[c / 32], std::fabs(x[c]) / 127.0f);
        for (std::size_t r = 0; r < rows; ++r) {
            double exact = 0.0, bound = 0.0, mag = 0.0;
            for (std::size_t c = 0; c < cols; ++c) {
                const double wv = w.dequantized(r, c);
                exact += wv * x[c];
                bound += std::fabs(wv) * d[c / 32] / 2.0;
                mag += std::fabs(wv * x[c]);
            }
            INFO("row " << r << " G " << k.layout.group_size << " zp " << k.zero_points);
            CHECK(std::fabs(y[r] - exact) <= bound * (1.0 + 1e-6) + 1e-5 * mag);
        }
    }
}

TEST_CASE("low-bit GEMV: errors", "[lowbit_gemv]") {
    const auto w = random_matrix<4, encoding::Signed>(20, 70, {ScaleLayout::per_channel(), false, false}, 3);
    const auto m = LowBitMatrix::prepare(w.view()).value();
    CHECK(m.rows() == 20);
    CHECK(m.cols() == 70);
    CHECK(m.bits() == 4);
    CHECK(m.bytes() >= 20 * 70 / 2);
    std::vector<float> x(2 * 70, 0.5f), y(2 * 20);
    std::vector<std::byte> scratch(m.scratch_bytes(2));
    CHECK(m.gemv(x.data(), 2, y.data(), scratch) == Status::ok);
    CHECK(m.gemv(x.data(), 2, y.data(), std::span<std::byte>(scratch).first(m.scratch_bytes(2) - 1)) == Status::buffer_too_small);
    CHECK(m.gemv(x.data(), 3, y.data(), scratch) == Status::buffer_too_small);
    CHECK(m.gemv(nullptr, 2, y.data(), scratch) == Status::invalid_argument);
    CHECK(m.gemv(x.data(), 0, y.data(), scratch) == Status::invalid_argument);
    CHECK(m.gemv(std::span<const float>(x).first(139), 2, std::span<float>(y), scratch) == Status::bad_shape);
    CHECK(m.gemv(std::span<const float>(x), 2, std::span<float>(y).first(39), scratch) == Status::bad_shape);
    CHECK(m.gemv(std::span<const float>(x), 2, std::span<float>(y), scratch) == Status::ok);
    for (const Isa i : kernels::gemv_isas)
        if (!kernels::gemv_isa_usable(i)) CHECK(m.gemv(x.data(), 2, y.data(), scratch, {i}) == Status::invalid_argument);
    x[5] = std::nanf("");
    CHECK(m.gemv(x.data(), 2, y.data(), scratch) == Status::invalid_argument);
    CHECK(LowBitMatrix{}.gemv(x.data(), 1, y.data(), scratch) == Status::invalid_argument);

    // Caller-owned prepared bytes: too small, misaligned, and a working view.
    const auto shape = m.shape();
    std::vector<float> storage(shape.prepared_bytes() / sizeof(float) + 2);
    auto bytes = std::as_writable_bytes(std::span<float>(storage));
    CHECK(LowBitMatrix::prepare_into(w.view(), bytes.first(shape.prepared_bytes() - 1)).status() == Status::buffer_too_small);
    CHECK(LowBitMatrix::prepare_into(w.view(), bytes.subspan(1, shape.prepared_bytes())).status() == Status::invalid_argument);
    auto v = LowBitMatrix::prepare_into(w.view(), bytes);
    REQUIRE(v);
    x[5] = 0.25f;
    std::vector<float> a(2 * 20), b(2 * 20);
    REQUIRE(m.gemv(x.data(), 2, a.data(), scratch) == Status::ok);
    REQUIRE(v->gemv(x.data(), 2, b.data(), scratch) == Status::ok);
    CHECK(a == b);
    CHECK(LowBitMatrix::from_prepared(shape, std::as_bytes(std::span<float>(storage))).value().gemv(x.data(), 2, b.data(), scratch) == Status::ok);
    CHECK(a == b);
    // A moved and a copied matrix keep working (models keep them in a std::vector, which moves them).
    static_assert(std::is_nothrow_move_constructible_v<LowBitMatrix>);
    LowBitMatrix moved = std::move(LowBitMatrix(m));
    CHECK(moved.gemv(x.data(), 2, b.data(), scratch) == Status::ok);
    CHECK(a == b);

    // AnyPackedTensor (run-time width) prepares the same bytes.
    const AnyPackedTensor any(w);
    const auto m2 = LowBitMatrix::prepare(any).value();
    CHECK(m2.bits() == 4);
    CHECK(m2.gemv(x.data(), 2, b.data(), scratch) == Status::ok);
    CHECK(a == b);
    CHECK(m.resolved_isa() == kernels::best_gemv_isa());
    const auto odd = LowBitMatrix::prepare(random_matrix<4, encoding::Signed>(4, 70, {ScaleLayout::per_group(48), false, false}, 4).view()).value();
    CHECK(odd.resolved_isa() == Isa::scalar);  // group size not a multiple of 32: the exact slow path
}

TEST_CASE("dense float GEMV: every per-arch body is bit-identical to matmul_reference", "[dense_matmul]") {
    std::mt19937 rng(11);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (const std::size_t rows : {1u, 7u, 33u})
        for (const std::size_t cols : {1u, 15u, 16u, 17u, 100u, 257u})
            for (const std::size_t batch : {1u, 2u, 3u, 4u, 5u, 9u}) {
                std::vector<float> w(rows * cols), x(batch * cols), ref(batch * rows), y(batch * rows);
                for (auto& v : w) v = d(rng);
                for (auto& v : x) v = d(rng);
                layers::detail::matmul_reference(w.data(), rows, cols, x.data(), batch, ref.data());
                INFO("rows " << rows << " cols " << cols << " batch " << batch);
                layers::detail::matmul(w.data(), rows, cols, x.data(), batch, y.data());
                CHECK(std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)) == 0);
#if QSLM_KERNELS_HAVE_SIMD
                auto check = [&](auto arch, Isa isa) {
                    if (!kernels::isa_usable(isa)) return;
                    std::fill(y.begin(), y.end(), -1.0f);
                    layers::detail::dense_matmul_kernel<decltype(arch)>::run(w.data(), rows, cols, x.data(), batch, y.data());
                    INFO("isa " << kernels::to_string(isa));
                    CHECK(std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)) == 0);
                };
#  if defined(QSLM_KERNELS_WITH_AVX512BW)
                check(xsimd::avx512bw{}, Isa::avx512bw);
#  endif
#  if defined(QSLM_KERNELS_WITH_AVX2)
                check(xsimd::avx2{}, Isa::avx2);
#  endif
#  if defined(QSLM_KERNELS_WITH_SSE4_2)
                check(xsimd::sse4_2{}, Isa::sse4_2);
#  endif
#  if defined(QSLM_KERNELS_WITH_NEON64)
                check(xsimd::neon64{}, Isa::neon64);
#  endif
#endif
            }
}
