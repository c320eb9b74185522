// Uses the host half the way research code does: the whole library, <qslm/qslm.hpp>, which pulls
// in Eigen and nlohmann-json through qslm::qslm (the issue: this used to fail with
// "Eigen/Core: No such file or directory" for an installed package).
#include <qslm/qslm.hpp>

#include <cstdio>

int main() {
    qslm::RowMajorMatrixXf m(2, 3);
    m << 0.5f, -0.25f, 1.0f, 0.0f, -1.0f, 0.75f;
    const auto packed = qslm::quantize_eigen<4>(m);
    const qslm::RowMajorMatrixXf back = qslm::to_eigen(packed.view());
    const float err = (back - m).cwiseAbs().maxCoeff();
    // 4-bit symmetric per-channel absmax: half a step of 1/7 of the row's largest magnitude.
    const bool ok = err <= 0.5f / 7.0f + 1e-6f;
    std::printf("4-bit round trip through Eigen: max error %.4f (%s)\n", static_cast<double>(err), ok ? "ok" : "too large");
    return ok ? 0 : 1;
}
