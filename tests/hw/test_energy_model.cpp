#include <catch2/catch.hpp>

#include <cstdint>

#include "qslm/hw/energy_model.hpp"
#include "qslm/hw/op_prices.hpp"

using qslm::hw::Horowitz45nm;
using qslm::hw::LayerFormat;
using qslm::hw::NumericFormat;

namespace {
constexpr NumericFormat i(unsigned bits) { return NumericFormat::integer(bits); }
constexpr NumericFormat f(unsigned bits) { return {NumericFormat::Kind::floating, bits}; }
}  // namespace

TEST_CASE("the default energy model reproduces Horowitz's 45 nm table at the widths it lists") {
    const Horowitz45nm m;
    CHECK(m.add_pj(i(8)) == Approx(0.03));
    CHECK(m.add_pj(i(32)) == Approx(0.1));
    CHECK(m.add_pj(f(16)) == Approx(0.4));
    CHECK(m.add_pj(f(32)) == Approx(0.9));
    CHECK(m.multiply_pj(i(8), i(8)) == Approx(0.2));
    CHECK(m.multiply_pj(i(32), i(32)) == Approx(3.1));
    CHECK(m.multiply_pj(f(16), f(16)) == Approx(1.1));
    CHECK(m.multiply_pj(f(32), f(32)) == Approx(3.7));
    CHECK(m.memory_access_pj_per_bit(8 * 1024) == Approx(10.0 / 64));
    CHECK(m.memory_access_pj_per_bit(32 * 1024) == Approx(20.0 / 64));
    CHECK(m.memory_access_pj_per_bit(1024 * 1024) == Approx(100.0 / 64));
}

TEST_CASE("a MAC is a multiply plus an add: 4.6 pJ in fp32 and 3.2 pJ in int32") {
    const Horowitz45nm m;
    const auto fp32 = qslm::hw::price_ops(m, LayerFormat::float32());
    CHECK(fp32.multiply_accumulate == Approx(4.6));
    CHECK(fp32.synaptic_accumulate == Approx(0.9));
    const auto int32 = qslm::hw::price_ops(m, LayerFormat::fixed(32, 32, 32, 32));
    CHECK(int32.multiply_accumulate == Approx(3.2));
    CHECK(int32.synaptic_accumulate == Approx(0.1));
}

TEST_CASE("between and beyond the table, adders scale linearly and multipliers with the product of widths") {
    const Horowitz45nm m;
    CHECK(m.add_pj(i(16)) == Approx(0.03 + 0.07 * 8.0 / 24.0));  // linear between the 8- and 32-bit anchors
    CHECK(m.add_pj(i(4)) == Approx(0.015));                      // proportional below 8 bits
    CHECK(m.add_pj(i(64)) == Approx(0.2));                       // proportional above 32 bits
    CHECK(m.multiply_pj(i(4), i(8)) == Approx(0.1));             // 32 partial products: half of 8x8
    CHECK(m.multiply_pj(i(16), i(16)) == Approx(0.2 + 2.9 * 192.0 / 960.0));
    CHECK(m.multiply_pj(i(4), f(32)) == Approx(3.7));            // a float operand makes it a float multiply
    CHECK(m.nonlinear_pj(f(32)) == Approx(4 * 4.6));
}

TEST_CASE("every operation's energy grows monotonically with bit-width") {
    const Horowitz45nm m;
    const auto kind = GENERATE(NumericFormat::Kind::integer, NumericFormat::Kind::floating);
    const unsigned lo = kind == NumericFormat::Kind::integer ? 1 : 8;
    for (unsigned bits = lo; bits < 64; ++bits) {
        const NumericFormat a{kind, bits};
        const NumericFormat b{kind, bits + 1};
        INFO(to_string(a) << " vs " << to_string(b));
        CHECK(m.add_pj(a) < m.add_pj(b));
        CHECK(m.multiply_pj(a, a) < m.multiply_pj(b, b));
        CHECK(m.multiply_pj(a, i(8)) <= m.multiply_pj(b, i(8)));
        CHECK(m.nonlinear_pj(a) < m.nonlinear_pj(b));
    }
}

TEST_CASE("a narrower fixed-point layer never costs more per operation than a wider one") {
    const Horowitz45nm m;
    const unsigned bits = GENERATE(range(1u, 8u));
    const auto narrow = qslm::hw::price_ops(m, LayerFormat::fixed(bits));
    const auto wide = qslm::hw::price_ops(m, LayerFormat::fixed(bits + 1));
    CHECK(narrow.multiply_accumulate < wide.multiply_accumulate);
    CHECK(narrow.synaptic_accumulate == wide.synaptic_accumulate);  // the accumulator width did not change
    const auto float_layer = qslm::hw::price_ops(m, LayerFormat::float32());
    CHECK(wide.multiply_accumulate < float_layer.multiply_accumulate);
    CHECK(wide.synaptic_accumulate < float_layer.synaptic_accumulate);
}

TEST_CASE("memory energy per bit never falls as the memory grows") {
    const Horowitz45nm m;
    double previous = 0.0;
    for (std::uint64_t bytes = 1; bytes <= (std::uint64_t{1} << 40); bytes *= 2) {
        const double e = m.memory_access_pj_per_bit(bytes);
        INFO(bytes << " bytes");
        CHECK(e >= previous);
        CHECK(e <= 1300.0 / 64);  // never above DRAM
        previous = e;
    }
    CHECK(m.memory_access_pj_per_bit(2 * 1024) == Approx(10.0 / 64));  // small SRAMs: the 8 KB figure
}

TEST_CASE("formats without a meaningful bit-width are rejected with the width named") {
    const Horowitz45nm m;
    CHECK_THROWS_WITH(m.add_pj(i(0)), Catch::Contains("integer format must have 1..64 bits, got 0"));
    CHECK_THROWS_WITH(m.add_pj(f(4)), Catch::Contains("floating-point format must have 8..64 bits, got 4"));
    CHECK_THROWS_WITH(m.multiply_pj(i(8), i(65)), Catch::Contains("got 65"));
    CHECK_THROWS_WITH(m.memory_access_pj_per_bit(0), Catch::Contains("capacity must be positive"));
    CHECK_THROWS_AS(qslm::hw::price_ops(m, LayerFormat::fixed(0)), qslm::Error);
}
