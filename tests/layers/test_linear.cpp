#include <catch2/catch.hpp>

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "layers_test_support.hpp"
#include "qslm/layers/dequantize.hpp"
#include "qslm/kernels/spike_matvec.hpp"
#include "qslm/layers/linear.hpp"
#include "qslm/neuron.hpp"
#include "qslm/tensor/packed_tensor.hpp"

using namespace qslm;
using namespace qslm::layers;
using qslm_test::random_floats;
using qslm_test::random_spikes;

TEST_CASE("dense matmul fast path is bit-identical to its scalar reference for every shape and batch") {
    const std::size_t cols = GENERATE(1, 7, 16, 17, 33, 64, 100);
    const std::size_t batch = GENERATE(1, 3, 4, 5, 9);
    const std::size_t rows = 13;
    const auto w = random_floats(rows * cols, 1);
    const auto x = random_floats(batch * cols, 2);
    std::vector<float> fast(batch * rows), ref(batch * rows);
    layers::detail::matmul(w.data(), rows, cols, x.data(), batch, fast.data());
    layers::detail::matmul_reference(w.data(), rows, cols, x.data(), batch, ref.data());
    CHECK(fast == ref);
    // And a stream's result does not depend on its batch-mates.
    for (std::size_t b = 0; b < batch; ++b) {
        std::vector<float> single(rows);
        layers::detail::matmul(w.data(), rows, cols, x.data() + b * cols, 1, single.data());
        for (std::size_t r = 0; r < rows; ++r) REQUIRE(single[r] == fast[b * rows + r]);
    }
}

TEST_CASE("dense linear matches a double-precision reference and counts its multiply-accumulates") {
    const std::size_t rows = 9, cols = 37, batch = 2;
    const auto w = random_floats(rows * cols, 3), bias = random_floats(rows, 4), x = random_floats(batch * cols, 5);
    auto lin = DenseLinear::make(w, rows, cols, bias);
    REQUIRE(lin);
    std::vector<float> y(batch * rows);
    OpCounts counts;
    REQUIRE(lin->forward(x, y, batch, &counts) == Status::ok);
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t r = 0; r < rows; ++r) {
            double ref = bias[r];
            for (std::size_t c = 0; c < cols; ++c) ref += static_cast<double>(w[r * cols + c]) * x[b * cols + c];
            CHECK(y[b * rows + r] == Approx(ref).margin(1e-5));
        }
    CHECK(counts.multiply_accumulates == batch * rows * cols);
    CHECK(lin->parameter_bytes() == (rows * cols + rows) * 4);
    CHECK(DenseLinear::state_bytes() == 0);
}

TEST_CASE("dense linear rejects wrong shapes") {
    std::vector<float> w(6), b(3), x(2), y(3), short_y(2);
    CHECK(DenseLinear::make(w, 2, 4).status() == Status::bad_shape);
    CHECK(DenseLinear::make(w, 2, 3, b).status() == Status::bad_shape);
    CHECK(DenseLinear::make(w, 0, 3).status() == Status::bad_shape);
    auto lin = DenseLinear::make(w, 3, 2);
    REQUIRE(lin);
    CHECK(lin->forward(std::vector<float>(3), y) == Status::bad_shape);
    CHECK(lin->forward(x, short_y) == Status::buffer_too_small);
}

TEST_CASE("hand-checked spiking linear: the levels of the spiking inputs are added, then scaled") {
    // 2 x 3 weights, 4-bit levels {1, -2, 3; 4, 5, -6}, per-channel scales 0.5 and 0.25.
    const std::vector<std::int16_t> levels = {1, -2, 3, 4, 5, -6};
    const std::vector<float> scales = {0.5f, 0.25f}, bias = {1.0f, -1.0f};
    auto w = PackedTensor<4>::from_levels(levels, 2, 3, ScaleLayout::per_channel(), scales);
    REQUIRE(w);
    auto lin = SpikingLinear<4>::make(w->view(), bias);
    REQUIRE(lin);
    const std::vector<std::uint8_t> s = {1, 0, 1};
    std::vector<float> y(2);
    OpCounts counts;
    REQUIRE(lin->forward(std::span<const std::uint8_t>(s), std::span<float>(y), &counts) == Status::ok);
    CHECK(y[0] == 1.0f + 0.5f * (1 + 3));
    CHECK(y[1] == -1.0f + 0.25f * (4 - 6));
    CHECK(counts.synaptic_accumulates == 4);  // 2 spikes x 2 outputs
    CHECK(counts.multiply_accumulates == 0);
    using Q = Fixed<8, 8>;
    std::vector<FixedMultiplier> m(2);
    REQUIRE(SpikingLinear<4>::prepare_multipliers(w->view(), m) == Status::ok);
    auto lq = SpikingLinear<4>::make(w->view(), bias, m);
    REQUIRE(lq);
    std::vector<Q> yq(2);
    REQUIRE(lq->forward(std::span<const std::uint8_t>(s), std::span<Q>(yq)) == Status::ok);
    CHECK(yq[0].to_double() == 3.0);
    CHECK(yq[1].to_double() == -1.5);
}

TEMPLATE_TEST_CASE_SIG("spiking linear equals the dequantized float reference for every layout", "", ((int B), B), (2), (4), (8)) {
    const std::size_t rows = 11, cols = 45;
    const auto wf = random_floats(rows * cols, 10 + B);
    const ScaleLayout layout = GENERATE(ScaleLayout::per_tensor(), ScaleLayout::per_channel(), ScaleLayout::per_group(16));
    const bool zero_point = GENERATE(false, true);
    const ScaleFormat fmt = GENERATE(ScaleFormat::float32, ScaleFormat::power_of_two);
    auto w = PackedTensor<B>::quantize(wf, rows, cols, QuantSpec{.layout = layout, .zero_point = zero_point, .scale_format = fmt});
    REQUIRE(w);
    const auto bias = random_floats(rows, 20);
    const auto spikes = random_spikes(cols, 21, 0.3);
    std::vector<float> deq(rows * cols);
    REQUIRE(dequantize_into(w->view(), std::span<float>(deq)) == Status::ok);

    auto lin = SpikingLinear<B>::make(w->view(), bias);
    REQUIRE(lin);
    std::vector<float> y(rows);
    REQUIRE(lin->template forward<float>(spikes, y) == Status::ok);

    using Q = Fixed<12, 12>;
    std::vector<FixedMultiplier> m(w->view().scale_count());
    REQUIRE(SpikingLinear<B>::prepare_multipliers(w->view(), m) == Status::ok);
    auto lq = SpikingLinear<B>::make(w->view(), bias, m);
    REQUIRE(lq);
    std::vector<Q> yq(rows);
    REQUIRE(lq->template forward<Q>(spikes, yq) == Status::ok);

    for (std::size_t r = 0; r < rows; ++r) {
        double ref = bias[r];
        for (std::size_t c = 0; c < cols; ++c)
            if (spikes[c]) ref += deq[r * cols + c];
        CHECK(y[r] == Approx(ref).margin(1e-4));
        // one rounding of the exact sum (guard bits), plus the FixedMultiplier's 2^-31 error
        CHECK(std::abs(yq[r].to_double() - ref) <= 0.5 * Q::resolution() + 1e-6 * std::abs(ref) + 1e-7);
    }
}

TEMPLATE_TEST_CASE_SIG("spiking linear on the spike kernels gives exactly the scalar walk's outputs", "", ((int B), B), (1), (2), (4), (8)) {
    const std::size_t rows = GENERATE(11u, 130u), cols = GENERATE(45u, 200u);
    const ScaleLayout layout = GENERATE(ScaleLayout::per_tensor(), ScaleLayout::per_channel(), ScaleLayout::per_group(16), ScaleLayout::per_group(64));
    const bool zero_point = B > 1 && GENERATE(false, true);
    const ScaleFormat fmt = GENERATE(ScaleFormat::float32, ScaleFormat::power_of_two);
    const double density = GENERATE(0.0, 0.1, 0.5, 1.0);
    const auto wf = random_floats(rows * cols, static_cast<unsigned>(30 + B + rows));
    auto w = PackedTensor<B>::quantize(wf, rows, cols, QuantSpec{.layout = layout, .zero_point = zero_point, .scale_format = fmt});
    REQUIRE(w);
    const auto bias = random_floats(rows, 31);
    const auto spikes = random_spikes(cols, 32, density);
    std::vector<std::uint64_t> words(spike_words_per_step(cols), 0);
    for (std::size_t c = 0; c < cols; ++c)
        if (spikes[c]) words[c / 64] |= std::uint64_t{1} << (c % 64);
    auto mv = kernels::SpikeMatvec::prepare(w->view(), {.bitplane = true, .sparse = true});
    REQUIRE(mv);
    std::vector<FixedMultiplier> m(w->view().scale_count());
    REQUIRE(SpikingLinear<B>::prepare_multipliers(w->view(), m) == Status::ok);
    auto lin = SpikingLinear<B>::make(w->view(), bias, m);
    REQUIRE(lin);
    REQUIRE(lin->use_kernels(*mv) == Status::ok);
    std::vector<std::int32_t> scratch(lin->kernel_scratch_size());
    INFO("bits " << B << " shape " << rows << "x" << cols << " density " << density << " zero point " << zero_point);

    std::vector<float> y_walk(rows), y_kernels(rows);
    OpCounts c_walk, c_kernels;
    REQUIRE(lin->template forward<float>(spikes, y_walk, &c_walk) == Status::ok);
    REQUIRE(lin->template forward_words<float>(words, y_kernels, scratch, &c_kernels) == Status::ok);
    CHECK(y_kernels == y_walk);
    CHECK(c_kernels.synaptic_accumulates == c_walk.synaptic_accumulates);
    using Q = Fixed<12, 12>;
    std::vector<Q> q_walk(rows), q_kernels(rows);
    REQUIRE(lin->template forward<Q>(spikes, q_walk) == Status::ok);
    REQUIRE(lin->template forward_words<Q>(words, q_kernels, scratch) == Status::ok);
    for (std::size_t r = 0; r < rows; ++r) REQUIRE(q_kernels[r].raw() == q_walk[r].raw());

    // The byte API on the kernels (packs, then forward_words): the same outputs again.
    std::vector<std::uint64_t> packed(spike_words_per_step(cols), ~std::uint64_t{0});
    std::vector<float> y_bytes(rows);
    REQUIRE(lin->template forward<float>(spikes, y_bytes, packed, scratch) == Status::ok);
    CHECK(packed == words);
    CHECK(y_bytes == y_walk);
    std::vector<Q> q_bytes(rows);
    REQUIRE(lin->template forward<Q>(spikes, q_bytes, packed, scratch) == Status::ok);
    for (std::size_t r = 0; r < rows; ++r) REQUIRE(q_bytes[r].raw() == q_walk[r].raw());

    // Per-group layouts with the group-major scale copy (the fast scale pass): bit-identical.
    const std::size_t gm = lin->group_major_size();
    if (gm != 0) {
        std::vector<float> gs(gm);
        std::vector<std::int16_t> gz(zero_point ? gm : 0);
        REQUIRE(SpikingLinear<B>::prepare_group_major(w->view(), gs, gz) == Status::ok);
        REQUIRE(lin->use_kernels(*mv, gs, gz) == Status::ok);
        std::vector<float> y_gm(rows);
        REQUIRE(lin->template forward_words<float>(words, y_gm, scratch) == Status::ok);
        CHECK(y_gm == y_walk);
        std::vector<double> d_walk(rows), d_gm(rows);
        REQUIRE(lin->template forward<double>(spikes, d_walk) == Status::ok);
        REQUIRE(lin->template forward_words<double>(words, d_gm, scratch) == Status::ok);
        CHECK(d_gm == d_walk);
        REQUIRE(lin->template forward_words<Q>(words, q_kernels, scratch) == Status::ok);
        for (std::size_t r = 0; r < rows; ++r) REQUIRE(q_kernels[r].raw() == q_walk[r].raw());
        if (zero_point) CHECK(lin->use_kernels(*mv, gs) == Status::invalid_argument);  // zero points missing
        CHECK(lin->use_kernels(*mv, std::span<const float>(gs).first(gm - 1)) == Status::bad_shape);
    } else {
        std::vector<float> gs(rows);
        CHECK(SpikingLinear<B>::prepare_group_major(w->view(), gs) == Status::invalid_argument);
    }
}

TEST_CASE("SpikeMatvec::accumulate_by_group gives accumulate()'s sums group by group, on every kernel and ISA") {
    const std::size_t rows = 70, cols = 300;
    const ScaleLayout layout = GENERATE(ScaleLayout::per_channel(), ScaleLayout::per_group(64), ScaleLayout::per_group(32));
    auto w = PackedTensor<4>::quantize(random_floats(rows * cols, 41), rows, cols, QuantSpec{.layout = layout});
    REQUIRE(w);
    auto mv = kernels::SpikeMatvec::prepare(w->view(), {.bitplane = true, .sparse = true});
    REQUIRE(mv);
    const auto spikes = random_spikes(cols, 42, 0.2);
    std::vector<std::uint64_t> words(spike_words_per_step(cols), 0);
    REQUIRE(spike::pack_spike_bytes(spikes, words) == Status::ok);
    for (const kernels::Isa isa : kernels::all_isas) {
        if (!kernels::isa_usable(isa)) continue;
        for (const kernels::Kernel k : {kernels::Kernel::automatic, kernels::Kernel::dense, kernels::Kernel::event, kernels::Kernel::bitplane,
                                        kernels::Kernel::dual_sparse}) {
            if (k == kernels::Kernel::bitplane && layout.granularity == Granularity::per_group && layout.group_size % 64 != 0) continue;
            INFO("isa " << kernels::to_string(isa) << " kernel " << kernels::to_string(k) << " groups " << mv->groups());
            std::vector<std::int32_t> all(mv->output_size()), one(rows), by_group(mv->output_size(), -1);
            REQUIRE(mv->accumulate(std::span<const std::uint64_t>(words), std::span(all), {k, isa}));
            std::size_t next = 0, spikes_seen = 0;
            auto r = mv->accumulate_by_group(std::span<const std::uint64_t>(words), std::span(one), [&](std::size_t g, std::size_t n) {
                CHECK(g == next++);
                spikes_seen += n;
                std::copy(one.begin(), one.end(), by_group.begin() + static_cast<std::ptrdiff_t>(g * rows));
            }, {k, isa});
            REQUIRE(r);
            CHECK(next == mv->groups());
            CHECK(spikes_seen == r->spikes);
            CHECK(by_group == all);
        }
    }
    std::vector<std::int32_t> short_out(rows - 1);
    CHECK(mv->accumulate_by_group(std::span<const std::uint64_t>(words), std::span(short_out), [](std::size_t, std::size_t) {}).status() ==
          Status::bad_shape);
}

// The scaled event-driven kernel (scales applied inside the kernel, float output) on every ISA the
// CPU runs, forced, against SpikingLinear's scalar walk: bit for bit, for group sizes that do and
// do not divide the columns, row counts that are not a multiple of any SIMD width (or of a panel
// block), 16- and 32-bit accumulators, zero points, with and without bias, and several batches of
// groups per call (many small groups).
TEMPLATE_TEST_CASE_SIG("SpikeMatvec::accumulate_scaled gives the scalar walk's float outputs bit for bit on every ISA", "", ((int B), B), (1), (2),
                       (4), (8)) {
    const std::size_t rows = GENERATE(11u, 70u, 300u);
    const std::size_t cols = GENERATE(45u, 200u, 1000u);
    const ScaleLayout layout = GENERATE(ScaleLayout::per_channel(), ScaleLayout::per_group(64), ScaleLayout::per_group(32),
                                        ScaleLayout::per_group(48), ScaleLayout::per_group(8));
    const bool zero_point = B > 1 && GENERATE(false, true);
    const bool with_bias = GENERATE(true, false);
    const double density = GENERATE(0.0, 0.1, 0.6);
    auto w = PackedTensor<B>::quantize(random_floats(rows * cols, static_cast<unsigned>(50 + B + rows + cols)), rows, cols,
                                       QuantSpec{.layout = layout, .zero_point = zero_point});
    REQUIRE(w);
    const auto bias = with_bias ? random_floats(rows, 51) : std::vector<float>{};
    const auto spikes = random_spikes(cols, 52, density);
    std::vector<std::uint64_t> words(spike_words_per_step(cols), 0);
    REQUIRE(spike::pack_spike_bytes(spikes, words) == Status::ok);
    auto lin = SpikingLinear<B>::make(w->view(), bias);
    REQUIRE(lin);
    std::vector<float> y_walk(rows);
    REQUIRE(lin->template forward<float>(spikes, y_walk) == Status::ok);

    auto mv = kernels::SpikeMatvec::prepare(w->view(), {.bitplane = false});
    REQUIRE(mv);
    REQUIRE(mv->scaled_supported());
    // Group-major scales: the view's own for one group per row, else the layer's regrouped copy.
    std::vector<float> gs(w->view().scales().begin(), w->view().scales().end());
    std::vector<std::int16_t> gz(w->view().zero_points().begin(), w->view().zero_points().end());
    if (lin->group_major_size() != 0) {
        gs.assign(lin->group_major_size(), 0.0f);
        gz.assign(zero_point ? gs.size() : 0, 0);
        REQUIRE(SpikingLinear<B>::prepare_group_major(w->view(), gs, gz) == Status::ok);
    }
    REQUIRE(gs.size() == mv->output_size());
    for (const kernels::Isa isa : kernels::all_isas) {
        if (!kernels::isa_usable(isa)) continue;
        INFO("isa " << kernels::to_string(isa) << " bits " << B << " shape " << rows << "x" << cols << " groups " << mv->groups()
                    << " density " << density << " zero point " << zero_point << " bias " << with_bias);
        std::vector<float> y(rows + 1, -1.0f);
        auto r = mv->accumulate_scaled(std::span<const std::uint64_t>(words), gs, gz, bias, std::span(y).first(rows), {kernels::Kernel::event, isa});
        REQUIRE(r);
        CHECK(r->isa == isa);
        CHECK(r->spikes == static_cast<std::size_t>(std::count(spikes.begin(), spikes.end(), std::uint8_t{1})));
        CHECK(std::vector<float>(y.begin(), y.begin() + static_cast<std::ptrdiff_t>(rows)) == y_walk);
        CHECK(y[rows] == -1.0f);  // nothing written past the last row
    }
    // The layer takes the same path when the dispatcher picks the event-driven kernel.
    REQUIRE(lin->use_kernels(*mv, lin->group_major_size() != 0 ? std::span<const float>(gs) : std::span<const float>{},
                             lin->group_major_size() != 0 && zero_point ? std::span<const std::int16_t>(gz) : std::span<const std::int16_t>{}) ==
            Status::ok);
    std::vector<std::int32_t> scratch(lin->kernel_scratch_size());
    std::vector<float> y_layer(rows);
    REQUIRE(lin->template forward_words<float>(words, y_layer, scratch) == Status::ok);
    CHECK(y_layer == y_walk);
}

TEST_CASE("SpikeMatvec::accumulate_scaled refuses wrong sizes, other kernels and groups wider than its event buffer") {
    const std::size_t rows = 20, cols = 130;
    auto w = PackedTensor<4>::quantize(random_floats(rows * cols, 61), rows, cols, QuantSpec{.layout = ScaleLayout::per_group(64)});
    REQUIRE(w);
    auto mv = kernels::SpikeMatvec::prepare(w->view());
    REQUIRE(mv);
    std::vector<std::uint64_t> words(spike_words_per_step(cols), 0);
    words[0] = 0b1011;
    std::vector<float> gs(mv->output_size(), 0.5f), y(rows), bias(rows, 1.0f);
    const std::span<const std::uint64_t> in(words);
    CHECK(mv->accumulate_scaled(in, gs, {}, bias, y));
    CHECK(mv->accumulate_scaled(in, std::span<const float>(gs).first(gs.size() - 1), {}, bias, y).status() == Status::bad_shape);
    std::vector<std::int16_t> short_zp(rows);
    CHECK(mv->accumulate_scaled(in, gs, short_zp, bias, y).status() == Status::bad_shape);
    CHECK(mv->accumulate_scaled(in, gs, {}, std::span<const float>(bias).first(rows - 1), y).status() == Status::bad_shape);
    CHECK(mv->accumulate_scaled(in, gs, {}, bias, std::span(y).first(rows - 1)).status() == Status::buffer_too_small);
    CHECK(mv->accumulate_scaled(in.first(1), gs, {}, bias, y).status() == Status::bad_shape);
    CHECK(mv->accumulate_scaled(in, gs, {}, bias, y, {kernels::Kernel::dense}).status() == Status::invalid_argument);
    words[2] |= std::uint64_t{1} << 63;  // past input 129
    CHECK(mv->accumulate_scaled(in, gs, {}, bias, y).status() == Status::corrupt_data);
    CHECK(kernels::SpikeMatvec{}.accumulate_scaled(in, gs, {}, bias, y).status() == Status::invalid_argument);

    // One group wider than the kernel's event buffer: not supported, and the layer keeps its
    // group-by-group path (same outputs as the walk).
    const std::size_t wide = kernels::SpikeMatvec::scaled_max_group + 64;
    auto ww = PackedTensor<4>::quantize(random_floats(3 * wide, 62), 3, wide, QuantSpec{.layout = ScaleLayout::per_channel()});
    REQUIRE(ww);
    auto mw = kernels::SpikeMatvec::prepare(ww->view());
    REQUIRE(mw);
    CHECK_FALSE(mw->scaled_supported());
    std::vector<std::uint64_t> wwords(spike_words_per_step(wide), 0);
    wwords[1] = 0xF0F0;
    std::vector<float> wy(3);
    CHECK(mw->accumulate_scaled(std::span<const std::uint64_t>(wwords), ww->view().scales(), {}, {}, wy).status() == Status::invalid_argument);
    auto lin = SpikingLinear<4>::make(ww->view());
    REQUIRE(lin);
    REQUIRE(lin->use_kernels(*mw) == Status::ok);
    std::vector<std::int32_t> scratch(lin->kernel_scratch_size());
    std::vector<std::uint8_t> bytes(wide, 0);
    for (std::size_t c = 0; c < wide; ++c) bytes[c] = (wwords[c / 64] >> (c % 64)) & 1u;
    std::vector<float> y_walk(3), y_words(3);
    REQUIRE(lin->forward<float>(bytes, y_walk) == Status::ok);
    REQUIRE(lin->forward_words<float>(wwords, y_words, scratch) == Status::ok);
    CHECK(y_words == y_walk);
}

TEST_CASE("pack_spike_bytes packs any non-zero byte as a spike and clears the bits past the last neuron") {
    for (const std::size_t n : {1u, 7u, 8u, 9u, 63u, 64u, 65u, 200u, 2048u}) {
        std::mt19937 rng(static_cast<unsigned>(n));
        std::vector<std::uint8_t> bytes(n);
        for (auto& b : bytes) b = static_cast<std::uint8_t>(rng() % 3 == 0 ? rng() % 256 : 0);  // all byte values, not just 1
        std::vector<std::uint64_t> words(spike_words_per_step(n), ~std::uint64_t{0}), ref(spike_words_per_step(n), 0);
        for (std::size_t c = 0; c < n; ++c)
            if (bytes[c] != 0) ref[c / 64] |= std::uint64_t{1} << (c % 64);
        REQUIRE(spike::pack_spike_bytes(bytes, words) == Status::ok);
        CHECK(words == ref);
        if (!words.empty()) CHECK(spike::pack_spike_bytes(bytes, std::span<std::uint64_t>(words).first(words.size() - 1)) == Status::buffer_too_small);
    }
}

TEST_CASE("spiking linear on the kernels refuses a foreign matvec, short buffers and a missing matvec") {
    const auto wf = random_floats(6 * 70, 1);
    auto w = PackedTensor<4>::quantize(wf, 6, 70);
    auto other = PackedTensor<4>::quantize(wf, 70, 6);
    REQUIRE(w);
    REQUIRE(other);
    auto lin = SpikingLinear<4>::make(w->view());
    REQUIRE(lin);
    std::vector<std::uint64_t> words(2, 0);
    std::vector<float> y(6);
    std::vector<std::int32_t> scratch(lin->kernel_scratch_size());
    CHECK(lin->forward_words<float>(words, y, scratch) == Status::invalid_argument);  // no use_kernels yet
    auto foreign = kernels::SpikeMatvec::prepare(other->view());
    REQUIRE(foreign);
    CHECK(lin->use_kernels(*foreign) == Status::bad_shape);
    auto mv = kernels::SpikeMatvec::prepare(w->view());
    REQUIRE(mv);
    REQUIRE(lin->use_kernels(*mv) == Status::ok);
    CHECK(lin->forward_words<float>(words, y, scratch) == Status::ok);
    CHECK(lin->forward_words<float>(std::span<const std::uint64_t>(words).first(1), y, scratch) == Status::bad_shape);
    CHECK(lin->forward_words<float>(words, std::span<float>(y).first(5), scratch) == Status::buffer_too_small);
    CHECK(lin->forward_words<float>(words, y, std::span<std::int32_t>(scratch).first(scratch.size() - 1)) == Status::buffer_too_small);
    words[1] = std::uint64_t{1} << 10;  // input 74 of 70: past the last input
    CHECK(lin->forward_words<float>(words, y, scratch) != Status::ok);
}

TEST_CASE("spiking linear refuses fixed-point output with float scales but no multipliers, and bad shapes") {
    const auto wf = random_floats(12, 1);
    auto w = PackedTensor<4>::quantize(wf, 3, 4);
    REQUIRE(w);
    auto lin = SpikingLinear<4>::make(w->view());
    REQUIRE(lin);
    std::vector<std::uint8_t> s(4, 1), s_bad(5, 1);
    std::vector<Fixed<8, 8>> yq(3);
    std::vector<float> y(3), y_short(2);
    CHECK(lin->forward(std::span<const std::uint8_t>(s), std::span<Fixed<8, 8>>(yq)) == Status::invalid_argument);
    CHECK(lin->forward(std::span<const std::uint8_t>(s_bad), std::span<float>(y)) == Status::bad_shape);
    CHECK(lin->forward(std::span<const std::uint8_t>(s), std::span<float>(y_short)) == Status::buffer_too_small);
    std::vector<float> bias_bad(2);
    CHECK(SpikingLinear<4>::make(w->view(), bias_bad).status() == Status::bad_shape);
    std::vector<FixedMultiplier> m_bad(1);
    CHECK(SpikingLinear<4>::make(w->view(), {}, m_bad).status() == Status::bad_shape);
}

TEST_CASE("packed linear on float input and AnyPackedTensor dequantization agree with the float reference") {
    const std::size_t rows = 5, cols = 20;
    const auto wf = random_floats(rows * cols, 7);
    auto any = AnyPackedTensor::quantize(3, wf, rows, cols);
    REQUIRE(any);
    std::vector<float> deq(rows * cols);
    REQUIRE(dequantize_into(*any, std::span<float>(deq)) == Status::ok);
    CHECK(dequantize_into(*any, std::span<float>(deq.data(), 7)) == Status::buffer_too_small);
    const auto x = random_floats(cols, 8);
    std::vector<float> y1(rows), y2(rows);
    auto lin = DenseLinear::make(deq, rows, cols);
    REQUIRE(lin);
    REQUIRE(lin->forward(x, y1) == Status::ok);
    const auto& t = std::get<PackedTensor<3>>(any->variant());
    REQUIRE(linear_dequantized(t.view(), {}, std::span<const float>(x), std::span<float>(y2)) == Status::ok);
    for (std::size_t r = 0; r < rows; ++r) CHECK(y1[r] == Approx(y2[r]).margin(1e-5));
}

TEST_CASE("a LIF layer's packed output (step_layer_words) is its byte output packed, and feeds forward_words") {
    const std::size_t n = 200, rows = 9;
    auto lif = neuron::SpikingJellyLIF<float>::make({});
    REQUIRE(lif);
    const auto x = random_floats(n, 51);
    std::vector<float> v_bytes(n, 0.0f), v_words(n, 0.0f);
    std::vector<std::uint8_t> bytes(n);
    std::vector<std::uint64_t> words(spike_words_per_step(n), ~std::uint64_t{0}), packed(spike_words_per_step(n));
    auto w = PackedTensor<4>::quantize(random_floats(rows * n, 52), rows, n, QuantSpec{.layout = ScaleLayout::per_group(32)});
    REQUIRE(w);
    auto mv = kernels::SpikeMatvec::prepare(w->view());
    REQUIRE(mv);
    auto lin = SpikingLinear<4>::make(w->view());
    REQUIRE(lin);
    REQUIRE(lin->use_kernels(*mv) == Status::ok);
    std::vector<std::int32_t> scratch(lin->kernel_scratch_size());
    for (int step = 0; step < 4; ++step) {  // membranes carry over: spikes differ step to step
        std::vector<float> xs(n);
        for (std::size_t i = 0; i < n; ++i) xs[i] = 3.0f * x[i] + 0.5f;
        OpCounts cb, cw;
        REQUIRE(neuron::step_layer(*lif, std::span<const float>(xs), std::span(v_bytes), std::span(bytes), &cb) == Status::ok);
        REQUIRE(neuron::step_layer_words(*lif, std::span<const float>(xs), std::span(v_words), std::span(words), &cw) == Status::ok);
        REQUIRE(spike::pack_spike_bytes(bytes, packed) == Status::ok);
        CHECK(words == packed);
        CHECK(v_words == v_bytes);
        CHECK(cw.spikes == cb.spikes);
        std::vector<float> y_walk(rows), y_words(rows);
        REQUIRE(lin->forward<float>(bytes, y_walk) == Status::ok);
        REQUIRE(lin->forward_words<float>(words, y_words, scratch) == Status::ok);
        CHECK(y_words == y_walk);
    }
    std::vector<std::uint64_t> short_words(3);
    CHECK(neuron::step_layer_words(*lif, std::span<const float>(x), std::span(v_words), std::span(short_words)) == Status::buffer_too_small);
}

TEST_CASE("spiking linear forward_steps: every step equals forward_words on it, on the temporal kernel and as T calls") {
    const std::size_t rows = 37, cols = 150;
    const ScaleLayout layout = GENERATE(ScaleLayout::per_channel(), ScaleLayout::per_group(32), ScaleLayout::per_group(64));
    const bool zero_point = GENERATE(false, true);
    const std::size_t T = GENERATE(1u, 4u, 13u);
    const double density = GENERATE(0.05, 0.3);
    auto w = PackedTensor<4>::quantize(random_floats(rows * cols, 61), rows, cols, QuantSpec{.layout = layout, .zero_point = zero_point});
    REQUIRE(w);
    auto mv = kernels::SpikeMatvec::prepare(w->view());
    REQUIRE(mv);
    kernels::Crossovers always_temporal = kernels::measured_crossovers;
    always_temporal.temporal_rules[0] = {.min_weight_bytes = 0, .min_bits = 1, .min_steps = 2, .min_density = 0.0};
    always_temporal.temporal_rules[1] = {};
    const auto bias = random_floats(rows, 62);
    std::vector<FixedMultiplier> m(w->view().scale_count());
    REQUIRE(SpikingLinear<4>::prepare_multipliers(w->view(), m) == Status::ok);
    auto lin = SpikingLinear<4>::make(w->view(), bias, m);
    REQUIRE(lin);
    std::vector<float> gs(lin->group_major_size());
    std::vector<std::int16_t> gz(zero_point ? gs.size() : 0);
    if (!gs.empty()) REQUIRE(SpikingLinear<4>::prepare_group_major(w->view(), gs, gz) == Status::ok);
    REQUIRE(lin->use_kernels(*mv, gs, gz) == Status::ok);

    auto train = TemporalSpikes::zeros(cols, T).value();
    std::mt19937 rng(63);
    std::bernoulli_distribution d(density);
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t c = 0; c < cols; ++c)
            if (d(rng)) train.set(c, t);
    std::vector<std::int32_t> scratch(lin->steps_scratch_size(T)), one(lin->kernel_scratch_size());
    std::vector<std::uint64_t> step_words(spike_words_per_step(cols));
    using Q = Fixed<12, 12>;
    for (const bool temporal : {false, true}) {
        if (temporal) mv->use_crossovers(always_temporal);
        else mv->use_crossovers(kernels::measured_crossovers);
        INFO("temporal kernel " << temporal << " T " << T << " density " << density);
        std::vector<float> y(T * rows);
        std::vector<Q> q(T * rows);
        OpCounts c_steps;
        REQUIRE(lin->forward_steps<float>(train.view(), y, scratch, step_words, &c_steps) == Status::ok);
        REQUIRE(lin->forward_steps<Q>(train.view(), q, scratch, step_words) == Status::ok);
        OpCounts c_one;
        for (std::size_t t = 0; t < T; ++t) {
            std::vector<std::uint64_t> words(spike_words_per_step(cols), 0);
            for (std::size_t c = 0; c < cols; ++c)
                if (train.test(c, t)) words[c / 64] |= std::uint64_t{1} << (c % 64);
            std::vector<float> yt(rows);
            std::vector<Q> qt(rows);
            REQUIRE(lin->forward_words<float>(words, yt, one, &c_one) == Status::ok);
            REQUIRE(lin->forward_words<Q>(words, qt, one) == Status::ok);
            CHECK(std::vector<float>(y.begin() + static_cast<std::ptrdiff_t>(t * rows), y.begin() + static_cast<std::ptrdiff_t>((t + 1) * rows)) == yt);
            for (std::size_t r = 0; r < rows; ++r) REQUIRE(q[t * rows + r].raw() == qt[r].raw());
        }
        CHECK(c_steps.synaptic_accumulates == c_one.synaptic_accumulates);
    }
    std::vector<float> y(T * rows);
    CHECK(lin->forward_steps<float>(train.view(), y, std::span<std::int32_t>(scratch).first(scratch.size() - 1), step_words) == Status::buffer_too_small);
    CHECK(lin->forward_steps<float>(train.view(), std::span<float>(y).first(y.size() - 1), scratch, step_words) == Status::buffer_too_small);
}
