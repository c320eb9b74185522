// Bad calls get a clear refusal (status + sentence), never a crash or a silently wrong answer.
#include <catch2/catch.hpp>

#include <string>

#include "kernel_test_support.hpp"

using namespace qslm;
using kernels::Isa;
using kernels::Kernel;

namespace {
bool mentions(const char* message, const char* word) { return std::string(message).find(word) != std::string::npos; }
}  // namespace

TEST_CASE("SpikeMatvec refuses spike vectors and outputs of the wrong size") {
    const auto w = test::random_weights<4, encoding::Signed>(10, 100, ScaleLayout::per_channel(), 1);
    auto mv = kernels::SpikeMatvec::prepare(w.view());
    REQUIRE(mv.ok());
    std::vector<std::uint64_t> spikes(2, 0);
    std::vector<std::int32_t> out(10);
    std::vector<std::uint64_t> short_spikes(1, 0);
    auto r = mv->accumulate(std::span<const std::uint64_t>(short_spikes), std::span<std::int32_t>(out));
    CHECK(r.status() == Status::bad_shape);
    CHECK(mentions(r.message(), "spike vector"));
    std::vector<std::int32_t> short_out(9);
    CHECK(mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int32_t>(short_out)).status() == Status::bad_shape);
    spikes[1] = std::uint64_t{1} << 40;  // input 104 of a 100-input layer
    r = mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int32_t>(out));
    CHECK(r.status() == Status::corrupt_data);
    CHECK(mentions(r.message(), "past the last input"));
}

TEST_CASE("SpikeMatvec refuses an int16 output when the sums need int32") {
    const auto w = test::random_weights<8, encoding::Signed>(4, 300, ScaleLayout::per_channel(), 2);
    auto mv = kernels::SpikeMatvec::prepare(w.view());
    REQUIRE(mv.ok());
    CHECK(mv->accumulator_width() == kernels::AccumulatorWidth::int32);
    std::vector<std::uint64_t> spikes(5, 0);
    std::vector<std::int16_t> out(4);
    auto r = mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int16_t>(out));
    CHECK(r.status() == Status::out_of_range);
    CHECK(mentions(r.message(), "int32"));
}

TEST_CASE("forcing a kernel whose weights were not prepared, or an unusable ISA, is refused") {
    const auto w = test::random_weights<2, encoding::Signed>(8, 64, ScaleLayout::per_group(32), 3);
    auto mv = kernels::SpikeMatvec::prepare(w.view(), {.bitplane = false, .sparse = false});
    REQUIRE(mv.ok());
    std::vector<std::uint64_t> spikes(1, 0);
    std::vector<std::int32_t> out(mv->output_size());
    auto r = mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int32_t>(out), {Kernel::bitplane});
    CHECK(r.status() == Status::invalid_argument);
    CHECK(mentions(r.message(), "bit-plane"));
    r = mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int32_t>(out), {Kernel::dual_sparse});
    CHECK(mentions(r.message(), "sparse"));
    r = mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int32_t>(out), {Kernel::temporal});
    CHECK(mentions(r.message(), "temporal"));
    for (const Isa isa : kernels::all_isas)
        if (!kernels::isa_usable(isa)) {
            r = mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int32_t>(out), {Kernel::event, isa});
            CHECK(r.status() == Status::invalid_argument);
        }

    // Group size 32 is not a multiple of 64: bit-plane refuses even when prepared.
    auto with_bp = kernels::SpikeMatvec::prepare(w.view(), {.bitplane = true});
    REQUIRE(with_bp.ok());
    r = with_bp->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int32_t>(out), {Kernel::bitplane});
    CHECK(mentions(r.message(), "multiple of 64"));
    CHECK(with_bp->choose(0.9) != Kernel::bitplane);
}

TEST_CASE("a temporal train with the wrong shape or stray step bits is refused") {
    const auto w = test::random_weights<4, encoding::Signed>(8, 20, ScaleLayout::per_channel(), 4);
    auto mv = kernels::SpikeMatvec::prepare(w.view());
    REQUIRE(mv.ok());
    auto train = TemporalSpikes::zeros(21, 4);
    REQUIRE(train.ok());
    std::vector<std::int32_t> out(4 * 8);
    CHECK(mv->accumulate_steps(train->view(), std::span<std::int32_t>(out)).status() == Status::bad_shape);
    std::vector<std::uint64_t> words(20, 0);
    words[3] = std::uint64_t{1} << 9;  // step 9 of a 4-step train
    auto bad = SpikeTrainView<SpikeLayout::temporal>::make(words, 20, 4);
    REQUIRE(bad.ok());
    CHECK(mv->accumulate_steps(*bad, std::span<std::int32_t>(out)).status() == Status::corrupt_data);
    auto good = TemporalSpikes::zeros(20, 4);
    REQUIRE(good.ok());
    CHECK(mv->accumulate_steps(good->view(), std::span<std::int32_t>(out), {Kernel::bitplane}).status() == Status::invalid_argument);
}

TEST_CASE("a SpikeMatvec that was never prepared refuses to run") {
    kernels::SpikeMatvec mv;
    std::vector<std::uint64_t> spikes(1, 0);
    std::vector<std::int32_t> out(0);
    CHECK(mv.accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int32_t>(out)).status() != Status::ok);
}

TEST_CASE("preparing into caller buffers refuses a buffer that is too small") {
    const auto w = test::random_weights<3, encoding::Signed>(70, 90, ScaleLayout::per_channel(), 5);
    std::vector<std::uint8_t> small(kernels::panel_weights_bytes(70, 90, 3) - 1);
    CHECK(kernels::prepare_panel_into(w.view(), std::span<std::uint8_t>(small)).status() == Status::buffer_too_small);
    std::vector<std::uint8_t> small_bp(kernels::bitplane_weights_bytes(70, 90, 3) - 1);
    CHECK(kernels::prepare_bitplane_into(w.view(), std::span<std::uint8_t>(small_bp)).status() == Status::buffer_too_small);
    // Sparse: each of the three buffers one entry short (the level buffer must include the padding).
    const std::size_t tiles = kernels::sparse_tiles(70), nnz = kernels::count_nonzero_levels(w.view());
    std::vector<std::uint64_t> mask(90 * tiles);
    std::vector<std::uint32_t> start(90 * tiles + 1);
    std::vector<std::int16_t> level(nnz + kernels::sparse_level_padding);
    auto sparse = [&](std::size_t mask_n, std::size_t start_n, std::size_t level_n) {
        return kernels::prepare_sparse_into(w.view(), std::span<std::uint64_t>(mask.data(), mask_n),
                                            std::span<std::uint32_t>(start.data(), start_n), std::span<std::int16_t>(level.data(), level_n))
            .status();
    };
    CHECK(sparse(mask.size(), start.size(), level.size()) == Status::ok);
    CHECK(sparse(mask.size() - 1, start.size(), level.size()) == Status::buffer_too_small);
    CHECK(sparse(mask.size(), start.size() - 1, level.size()) == Status::buffer_too_small);
    CHECK(sparse(mask.size(), start.size(), level.size() - 1) == Status::buffer_too_small);
    CHECK(sparse(mask.size(), start.size(), nnz) == Status::buffer_too_small);
}
