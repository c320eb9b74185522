#include <catch2/catch.hpp>

#include "kernel_test_support.hpp"

using namespace qslm;

TEMPLATE_TEST_CASE("prepared layouts hold every weight's level", "[kernels][prepare]", QSLM_KERNEL_WIDTH_CASES) {
    constexpr int B = TestType::bits;
    using E = typename TestType::encoding;
    const std::size_t rows = GENERATE(1u, 100u, 513u);
    const std::size_t cols = GENERATE(1u, 65u);
    const auto w = test::random_weights<B, E>(rows, cols, ScaleLayout::per_channel(), static_cast<unsigned>(rows + cols), 0.3);
    auto panel = kernels::PanelWeights::prepare(w.view());
    REQUIRE(panel.ok());
    const auto& pv = panel->view();
    CHECK(pv.bytes() == kernels::panel_weights_bytes(rows, cols, B));
    auto bp = kernels::BitplaneWeights::prepare(w.view());
    REQUIRE(bp.ok());
    auto sp = kernels::SparseWeights::prepare(w.view());
    REQUIRE(sp.ok());
    std::vector<int> from_sparse(rows * cols, 0);
    const auto& sv = sp->view();
    CHECK(sv.tiles() == (rows + 63) / 64);
    for (std::size_t c = 0; c < cols; ++c)
        for (std::size_t t = 0; t < sv.tiles(); ++t) {
            std::uint32_t e = sv.start[c * sv.tiles() + t];
            for (std::uint64_t m = sv.mask[c * sv.tiles() + t]; m != 0; m &= m - 1) {
                const std::size_t r = t * 64 + static_cast<std::size_t>(std::countr_zero(m));
                REQUIRE(r < rows);
                from_sparse[r * cols + c] = sv.level[e++];
            }
            // Tiles are stored back to back: the next tile starts where this one's levels end.
            REQUIRE(e == sv.start[c * sv.tiles() + t + 1]);
        }
    CHECK(sv.start[cols * sv.tiles()] == sv.nonzeros);
    for (std::size_t i = 0; i < kernels::sparse_level_padding; ++i) REQUIRE(sv.level[sv.nonzeros + i] == 0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) {
            const int level = w.level(r, c);
            REQUIRE(pv.map.level(pv.field(r, c)) == level);
            unsigned u = 0;
            for (int p = 0; p < B; ++p) u |= static_cast<unsigned>((bp->view().stripe(r / 64, p, c / 8)[r % 64] >> (c % 8)) & 1u) << p;
            REQUIRE(bp->view().map.level(u) == level);
            REQUIRE(from_sparse[r * cols + c] == level);
        }
    // Copies own their storage: the copy's view points into the copy.
    const kernels::PanelWeights copy = *panel;
    CHECK(copy.view().data != pv.data);
    CHECK(copy.view().field(rows - 1, cols - 1) == pv.field(rows - 1, cols - 1));
}

TEST_CASE("SpikeMatvec runs on layouts prepared into caller buffers (no allocation)") {
    const auto w = test::random_weights<4, encoding::Signed>(70, 130, ScaleLayout::per_channel(), 9);
    std::vector<std::uint8_t> panel_bytes(kernels::panel_weights_bytes(70, 130, 4));
    auto panel = kernels::prepare_panel_into(w.view(), std::span<std::uint8_t>(panel_bytes));
    REQUIRE(panel.ok());
    std::vector<std::uint8_t> bp_bytes(kernels::bitplane_weights_bytes(70, 130, 4));
    auto bp = kernels::prepare_bitplane_into(w.view(), std::span<std::uint8_t>(bp_bytes));
    REQUIRE(bp.ok());
    const std::size_t tiles = kernels::sparse_tiles(70);
    std::vector<std::uint64_t> sp_mask(130 * tiles);
    std::vector<std::uint32_t> sp_start(130 * tiles + 1);
    std::vector<std::int16_t> sp_level(kernels::count_nonzero_levels(w.view()) + kernels::sparse_level_padding);
    auto sp = kernels::prepare_sparse_into(w.view(), std::span<std::uint64_t>(sp_mask), std::span<std::uint32_t>(sp_start),
                                           std::span<std::int16_t>(sp_level));
    REQUIRE(bp.ok());
    REQUIRE(sp.ok());
    auto mv = kernels::SpikeMatvec::from_views(*panel, &*bp, &*sp, ScaleLayout::per_channel());
    REQUIRE(mv.ok());
    const auto spikes = test::random_spikes(130, 0.2, 4);
    std::vector<std::int16_t> out(70);
    for (const auto k : {kernels::Kernel::event, kernels::Kernel::bitplane, kernels::Kernel::dense, kernels::Kernel::dual_sparse}) {
        REQUIRE(mv->accumulate(std::span<const std::uint64_t>(spikes), std::span<std::int16_t>(out), {k}).ok());
        CHECK(test::widen(out) == test::naive_accumulate(w.view(), spikes));
    }
    const kernels::SpikeMatvec copy = *mv;  // a copy of a view-based matvec still reads the caller's buffers
    CHECK(copy.panel().data == panel_bytes.data());
}
