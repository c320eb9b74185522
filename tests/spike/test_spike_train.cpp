#include <catch2/catch.hpp>

#include <array>
#include <random>
#include <vector>

#include "qslm/spike.hpp"

using qslm::SpikeLayout;

TEST_CASE("a spatial spike train packs 64 neurons of one step per word") {
    auto s = qslm::SpatialSpikes::zeros(130, 3);
    REQUIRE(s.ok());
    CHECK(s->words().size() == 9);  // 3 words per step x 3 steps
    s->set(0, 0);
    s->set(129, 2);
    s->set(64, 1);
    CHECK(s->words()[0] == 1u);
    CHECK(s->words()[4] == 1u);                           // step 1, word 1, bit 0
    CHECK(s->words()[8] == (std::uint64_t{1} << 1));      // step 2, word 2, bit 1
    CHECK(s->test(129, 2));
    CHECK_FALSE(s->test(129, 1));
    CHECK(s->count() == 3);
    CHECK(s->view().count_step(1) == 1);
    CHECK(s->density() == Approx(3.0 / 390.0));
    CHECK(s->view().check() == qslm::Status::ok);
    s->set(64, 1, false);
    CHECK(s->count() == 2);
}

TEST_CASE("a temporal spike train packs all steps of one neuron per word") {
    auto s = qslm::TemporalSpikes::zeros(5, 64);
    REQUIRE(s.ok());
    CHECK(s->words().size() == 5);
    s->set(4, 63);
    s->set(4, 0);
    CHECK(s->words()[4] == ((std::uint64_t{1} << 63) | 1u));
    CHECK(s->view().count_step(63) == 1);
    CHECK(s->count() == 2);
}

TEST_CASE("spike trains with an impossible shape are refused with a reason") {
    CHECK(qslm::SpatialSpikes::zeros(0, 3).status() == qslm::Status::bad_shape);
    CHECK(qslm::SpatialSpikes::zeros(3, 0).status() == qslm::Status::bad_shape);
    auto t = qslm::TemporalSpikes::zeros(3, 65);
    CHECK(t.status() == qslm::Status::bad_shape);
    CHECK(std::string(t.message()).find("64") != std::string::npos);
    std::array<std::uint64_t, 2> words{};
    CHECK(qslm::SpikeTrainView<SpikeLayout::spatial>::make(words, 130, 1).status() == qslm::Status::buffer_too_small);
}

TEST_CASE("check() finds spike bits set past the last neuron or step") {
    std::array<std::uint64_t, 2> words{0, std::uint64_t{1} << 10};  // neuron 74 of a 70-neuron step
    auto v = qslm::SpikeTrainView<SpikeLayout::spatial>::make(words, 70, 1);
    REQUIRE(v.ok());
    CHECK(v->check() == qslm::Status::corrupt_data);
    std::array<std::uint64_t, 1> tw{std::uint64_t{1} << 5};  // step 5 of a 4-step train
    auto t = qslm::SpikeTrainView<SpikeLayout::temporal>::make(tw, 1, 4);
    REQUIRE(t.ok());
    CHECK(t->check() == qslm::Status::corrupt_data);
}

TEST_CASE("popcount over a bit range counts exactly the ones inside it") {
    std::mt19937_64 rng(7);
    std::vector<std::uint64_t> words(5);
    for (auto& w : words) w = rng();
    for (std::size_t first : {0u, 1u, 63u, 64u, 100u})
        for (std::size_t last : {first, first + 1, std::size_t{200}, std::size_t{320}}) {
            if (last < first) continue;
            std::size_t expect = 0;
            for (std::size_t i = first; i < last; ++i) expect += (words[i / 64] >> (i % 64)) & 1u;
            CHECK(qslm::popcount_bit_range(words, first, last) == expect);
        }
}

TEST_CASE("the scalar event list holds the spike positions in ascending order") {
    std::vector<std::uint64_t> words{0b1011, 0, std::uint64_t{1} << 63};
    std::vector<std::uint32_t> out(4);
    auto n = qslm::spike::active_indices_scalar(words, out);
    REQUIRE(n.ok());
    CHECK(*n == 4);
    CHECK(out == std::vector<std::uint32_t>{0, 1, 3, 191});
    std::vector<std::uint32_t> small(3);
    CHECK(qslm::spike::active_indices_scalar(words, small).status() == qslm::Status::buffer_too_small);
}
