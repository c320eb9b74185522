#pragma once
// AnyPackedTensor: a packed tensor whose width (1..8) is chosen at run time, as the
// quantizer search does per module. A closed set (std::variant over the eight default-encoded
// widths), so inner loops run on the concrete PackedTensor<Bits> after a single visit —
// no virtual call per weight.

#include <cstddef>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "qslm/core/result.hpp"
#include "qslm/tensor/packed_tensor.hpp"

namespace qslm {

inline constexpr int min_weight_bits = 1;
inline constexpr int max_weight_bits = 8;

class AnyPackedTensor {
public:
    using variant_type = std::variant<PackedTensor<1>, PackedTensor<2>, PackedTensor<3>, PackedTensor<4>,
                                      PackedTensor<5>, PackedTensor<6>, PackedTensor<7>, PackedTensor<8>>;

    AnyPackedTensor() = default;
    template <int Bits>
    AnyPackedTensor(PackedTensor<Bits> t) : tensor_(std::move(t)) {}  // NOLINT: implicit widening is the point

    /// Quantizes with a width known only at run time; bad_bit_width outside 1..8.
    template <WeightRounder Rounder = rounding::Nearest>
    static Result<AnyPackedTensor> quantize(int bits, std::span<const float> weights, std::size_t rows,
                                            std::size_t cols, const QuantSpec& spec = {}, Rounder&& rounder = {}) {
        return with_bits(bits, [&]<int B>() -> Result<AnyPackedTensor> {
            auto t = PackedTensor<B>::quantize(weights, rows, cols, spec, rounder);
            if (!t) return t.failure();
            return AnyPackedTensor(std::move(*t));
        });
    }

    /// Calls `f.template operator()<B>()` with B equal to the run-time `bits` (1..8).
    template <class F>
    static auto with_bits(int bits, F&& f) -> decltype(f.template operator()<1>()) {
        switch (bits) {
            case 1: return f.template operator()<1>();
            case 2: return f.template operator()<2>();
            case 3: return f.template operator()<3>();
            case 4: return f.template operator()<4>();
            case 5: return f.template operator()<5>();
            case 6: return f.template operator()<6>();
            case 7: return f.template operator()<7>();
            case 8: return f.template operator()<8>();
            default: return Failure{Status::bad_bit_width, "bit-width must be between 1 and 8"};
        }
    }

    /// Visits the concrete PackedTensor<Bits>.
    template <class F>
    decltype(auto) visit(F&& f) const {
        return std::visit(std::forward<F>(f), tensor_);
    }

    [[nodiscard]] int bits() const noexcept { return static_cast<int>(tensor_.index()) + 1; }
    [[nodiscard]] std::size_t rows() const noexcept {
        return visit([](const auto& t) { return t.rows(); });
    }
    [[nodiscard]] std::size_t cols() const noexcept {
        return visit([](const auto& t) { return t.cols(); });
    }
    [[nodiscard]] std::size_t bytes() const noexcept {
        return visit([](const auto& t) { return t.bytes(); });
    }
    [[nodiscard]] std::vector<float> dequantize() const {
        return visit([](const auto& t) { return t.dequantize(); });
    }
    [[nodiscard]] std::vector<std::int16_t> levels() const {
        return visit([](const auto& t) { return t.levels(); });
    }
    [[nodiscard]] const variant_type& variant() const noexcept { return tensor_; }

private:
    variant_type tensor_;
};

}  // namespace qslm
