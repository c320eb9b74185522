#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "qslm/spike.hpp"

using qslm::SpikeLayout;

namespace {
std::vector<bool> random_bits(std::size_t n, double density, unsigned seed) {
    std::mt19937 rng(seed);
    std::bernoulli_distribution d(density);
    std::vector<bool> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = d(rng);
    return b;
}
}  // namespace

TEST_CASE("spatial and temporal layouts convert into each other without loss") {
    const std::size_t neurons = GENERATE(1u, 63u, 64u, 65u, 200u);
    const std::size_t steps = GENERATE(1u, 7u, 64u);
    const double density = GENERATE(0.0, 0.1, 0.5, 1.0);
    const auto bits = random_bits(neurons * steps, density, static_cast<unsigned>(neurons * 131 + steps));
    std::unique_ptr<bool[]> flat(new bool[bits.size()]);
    for (std::size_t i = 0; i < bits.size(); ++i) flat[i] = bits[i];

    auto spatial = qslm::SpatialSpikes::zeros(neurons, steps);
    REQUIRE(spatial.ok());
    REQUIRE(qslm::spike::from_bools<SpikeLayout::spatial>(std::span<const bool>(flat.get(), bits.size()), spatial->mutable_view()) == qslm::Status::ok);
    auto temporal = qslm::TemporalSpikes::zeros(neurons, steps);
    REQUIRE(temporal.ok());
    REQUIRE(qslm::spike::to_temporal(spatial->view(), temporal->mutable_view()) == qslm::Status::ok);
    CHECK(temporal->view().check() == qslm::Status::ok);
    for (std::size_t t = 0; t < steps; ++t)
        for (std::size_t n = 0; n < neurons; ++n) REQUIRE(temporal->test(n, t) == bits[t * neurons + n]);

    auto back = qslm::SpatialSpikes::zeros(neurons, steps);
    REQUIRE(back.ok());
    REQUIRE(qslm::spike::to_spatial(temporal->view(), back->mutable_view()) == qslm::Status::ok);
    CHECK(std::vector<std::uint64_t>(back->words().begin(), back->words().end()) ==
          std::vector<std::uint64_t>(spatial->words().begin(), spatial->words().end()));
    CHECK(back->view().check() == qslm::Status::ok);
}

TEST_CASE("spikes round-trip through float tensors, and non-binary floats are refused") {
    std::vector<float> f{0, 1, 1, 0, 0, 1};
    auto s = qslm::TemporalSpikes::zeros(3, 2);
    REQUIRE(s.ok());
    REQUIRE(qslm::spike::from_floats<SpikeLayout::temporal>(f, s->mutable_view()) == qslm::Status::ok);
    CHECK(s->test(1, 0));
    CHECK(s->test(2, 1));
    CHECK(s->count() == 3);
    std::vector<float> back(6);
    REQUIRE(qslm::spike::to_floats<SpikeLayout::temporal>(s->view(), back) == qslm::Status::ok);
    CHECK(back == f);

    std::vector<float> membrane{0, 0.7f, 1, 0, 0, 1};
    CHECK(qslm::spike::from_floats<SpikeLayout::temporal>(membrane, s->mutable_view()) == qslm::Status::invalid_argument);
    std::vector<float> wrong_size(5);
    CHECK(qslm::spike::from_floats<SpikeLayout::temporal>(wrong_size, s->mutable_view()) == qslm::Status::bad_shape);
}

TEST_CASE("converting between trains of different shapes is refused") {
    auto a = qslm::SpatialSpikes::zeros(10, 2);
    auto b = qslm::TemporalSpikes::zeros(10, 3);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(qslm::spike::to_temporal(a->view(), b->mutable_view()) == qslm::Status::bad_shape);
}
