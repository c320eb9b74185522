#pragma once
// Embedding: token id -> row of a [vocab][dim] table, float or packed. The packed form
// dequantizes only the looked-up row (one row per token: the table itself never expands).
// Optionally binarised, as SpikeGPT's binary embedding: spike = (e >= 0).

#include <cstddef>
#include <cstdint>
#include <span>

#include "qslm/core/op_counts.hpp"
#include "qslm/core/result.hpp"
#include "qslm/neuron/numeric.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::layers {

class Embedding {
public:
    static Result<Embedding> make(std::span<const float> table, std::size_t vocab, std::size_t dim) noexcept {
        if (vocab == 0 || dim == 0 || vocab > max_tensor_elements / dim) return Failure{Status::bad_shape, "embedding shape is empty or too large"};
        if (table.size() != vocab * dim) return Failure{Status::bad_shape, "embedding table is not vocab x dim floats"};
        Embedding e;
        e.t_ = table;
        e.vocab_ = vocab;
        e.dim_ = dim;
        return e;
    }
    [[nodiscard]] constexpr std::size_t vocab() const noexcept { return vocab_; }
    [[nodiscard]] constexpr std::size_t dim() const noexcept { return dim_; }
    [[nodiscard]] constexpr std::size_t parameter_bytes() const noexcept { return t_.size() * sizeof(float); }
    [[nodiscard]] static constexpr std::size_t state_bytes() noexcept { return 0; }

    /// Row `token` converted to V. out_of_range for a token id >= vocab().
    template <Numeric V>
    constexpr Status lookup(std::size_t token, std::span<V> out, OpCounts* counts = nullptr) const noexcept {
        if (token >= vocab_) return Status::out_of_range;
        if (out.size() < dim_) return Status::buffer_too_small;
        for (std::size_t i = 0; i < dim_; ++i) out[i] = num::from_double<V>(t_[token * dim_ + i]);
        if (counts != nullptr) counts->weight_bits_read += dim_ * 32u;
        return Status::ok;
    }
    /// SpikeGPT's binary embedding: spikes[i] = (row[i] >= 0).
    constexpr Status lookup_spikes(std::size_t token, std::span<std::uint8_t> spikes, OpCounts* counts = nullptr) const noexcept {
        if (token >= vocab_) return Status::out_of_range;
        if (spikes.size() < dim_) return Status::buffer_too_small;
        std::uint64_t fired = 0;
        for (std::size_t i = 0; i < dim_; ++i) {
            spikes[i] = t_[token * dim_ + i] >= 0.0f ? 1 : 0;
            fired += spikes[i];
        }
        if (counts != nullptr) {
            counts->weight_bits_read += dim_ * 32u;
            counts->spikes += fired;
        }
        return Status::ok;
    }

private:
    std::span<const float> t_{};
    std::size_t vocab_ = 0, dim_ = 0;
};

/// Row `token` of a packed [vocab][dim] table, dequantized into `out` as V.
template <Numeric V, int Bits, class Encoding>
constexpr Status embedding_lookup(const PackedTensorView<Bits, Encoding>& table, std::size_t token, std::span<V> out,
                                  OpCounts* counts = nullptr) noexcept {
    if (token >= table.rows()) return Status::out_of_range;
    if (out.size() < table.cols()) return Status::buffer_too_small;
    for (std::size_t i = 0; i < table.cols(); ++i) out[i] = num::from_double<V>(table.dequantized(token, i));
    if (counts != nullptr) {
        counts->weight_bits_read += table.cols() * Bits;
        counts->multiplies += table.cols();
    }
    return Status::ok;
}

}  // namespace qslm::layers
