#include <catch2/catch.hpp>

#include "qslm/host/eigen_interop.hpp"
#include "tensor_test_support.hpp"

using namespace qslm;

TEST_CASE("Eigen maps row-major caller memory and agrees with the packed tensor") {
    const auto w = test::random_weights(6 * 5, 3);
    const auto m = as_eigen(w, 6, 5);
    CHECK(m(2, 3) == w[2 * 5 + 3]);
    const auto t = quantize_eigen<6>(m, {ScaleLayout::per_channel()});
    const RowMajorMatrixXf back = to_eigen(t.view());
    CHECK(back(4, 1) == t.dequantized(4, 1));
    CHECK((back - m).cwiseAbs().maxCoeff() <= (m.cwiseAbs().maxCoeff() / 31) / 2 * 1.0001f);
}

TEST_CASE("Eigen interop reports shape mismatches as qslm::Error") {
    const std::vector<float> w(5);
    CHECK_THROWS_AS(as_eigen(w, 2, 3), Error);
    CHECK_THROWS_WITH(as_eigen(w, 2, 3), Catch::Contains("is not 2 x 3"));
    const RowMajorMatrixXf nan = RowMajorMatrixXf::Constant(2, 2, std::numeric_limits<float>::quiet_NaN());
    CHECK_THROWS_WITH(quantize_eigen<4>(nan), Catch::Contains("NaN"));
}
