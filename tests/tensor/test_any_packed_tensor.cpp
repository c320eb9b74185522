#include <catch2/catch.hpp>

#include "qslm/tensor/any_packed_tensor.hpp"
#include "tensor_test_support.hpp"

using namespace qslm;

TEST_CASE("a run-time width selects the matching PackedTensor") {
    const int bits = GENERATE(range(1, 9));
    const auto w = test::random_weights(33 * 65, 17);
    auto t = AnyPackedTensor::quantize(bits, w, 33, 65, {ScaleLayout::per_group(16)});
    REQUIRE(t.ok());
    CHECK(t->bits() == bits);
    CHECK(t->rows() == 33);
    CHECK(t->cols() == 65);
    CHECK(t->bytes() == packed_tensor_bytes(33, 65, bits, ScaleLayout::per_group(16), ScaleFormat::float32, false));
    // Same answer as the compile-time path.
    const auto expected = AnyPackedTensor::with_bits(bits, [&]<int B>() -> Result<std::vector<float>> {
        return PackedTensor<B>::quantize(w, 33, 65, {ScaleLayout::per_group(16)})->dequantize();
    });
    CHECK(t->dequantize() == *expected);
    const int visited = t->visit([](const auto& p) { return std::remove_cvref_t<decltype(p)>::bits; });
    CHECK(visited == bits);
}

TEST_CASE("widths outside 1..8 are refused with a sentence") {
    const auto w = test::random_weights(4, 1);
    for (int bits : {0, 9, -3, 16}) {
        auto t = AnyPackedTensor::quantize(bits, w, 2, 2);
        CHECK(t.status() == Status::bad_bit_width);
        CHECK(std::string(t.message()) == "bit-width must be between 1 and 8");
    }
}
