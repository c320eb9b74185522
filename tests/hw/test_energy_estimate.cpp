#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "qslm/hw/energy_estimate.hpp"
#include "qslm/hw/energy_report.hpp"

using qslm::OpCounts;
using qslm::hw::LayerFormat;
using qslm::hw::Workload;

namespace {

// A small layer's run, counted by hand.
OpCounts hand_counts(std::uint64_t weight_bits_read) {
    OpCounts c;
    c.synaptic_accumulates = 1000;
    c.multiply_accumulates = 10;
    c.multiplies = 5;
    c.additions = 7;
    c.nonlinear = 2;
    c.state_updates = 100;
    c.spikes = 30;
    c.weight_bits_read = weight_bits_read;
    c.activation_bytes_moved = 64;
    return c;
}

constexpr double weight_bit_pj = 100.0 / 64;     // 1 MiB SRAM (default weight memory)
constexpr double activation_bit_pj = 20.0 / 64;  // 32 KiB SRAM (default activation memory)

// Hand computation of the same run in fp32 (Horowitz: add 0.9, mult 3.7 pJ).
constexpr double float_ac = 1000 * 0.9;
constexpr double float_mac = 10 * (3.7 + 0.9);
constexpr double float_mult = 5 * 3.7;
constexpr double float_add = 7 * 0.9;
constexpr double float_nonlinear = 2 * 4 * (3.7 + 0.9);
constexpr double float_state = 100 * (3.7 + 2 * 0.9);
constexpr double float_weights = 1000 * 32 * weight_bit_pj;
constexpr double float_activations = 64 * 8 * activation_bit_pj;
constexpr double float_total =
    float_ac + float_mac + float_mult + float_add + float_nonlinear + float_state + float_weights + float_activations;

// ... and with 4-bit weights, int8 activations, int32 accumulators, int16 state.
constexpr double int16_add = 0.03 + 0.07 * 8 / 24;
constexpr double int16_mult = 0.2 + 2.9 * (256.0 - 64) / (1024 - 64);
constexpr double fixed_total = 1000 * 0.1                     // AC: int32 add
                               + 10 * (0.2 * 32 / 64 + 0.1)   // MAC: 4x8-bit multiply + int32 add
                               + 5 * 0.2                      // int8 multiplies
                               + 7 * 0.03                     // int8 additions
                               + 2 * 4 * (0.2 + 0.03)         // nonlinear at int8
                               + 100 * (int16_mult + 2 * int16_add)
                               + 1000 * 4 * weight_bit_pj + 64 * 8 * activation_bit_pj;

Workload one_layer(OpCounts counts, LayerFormat format, std::uint64_t tokens = 4, std::uint64_t sentences = 2) {
    return Workload{{{"block0.ffn", counts, format}}, tokens, sentences};
}

}  // namespace

TEST_CASE("the energy of hand-built counts equals the hand computation, in float and in fixed point") {
    const auto f = qslm::hw::estimate_energy(one_layer(hand_counts(1000 * 32), LayerFormat::float32()));
    CHECK(f.total_pj() == Approx(float_total).epsilon(1e-12));
    CHECK(f.total.synaptic_accumulates == Approx(float_ac));
    CHECK(f.total.state_updates == Approx(float_state));
    CHECK(f.total.weight_reads == Approx(float_weights));
    CHECK(f.total.spikes == 0.0);  // a spike's bit is priced as activation traffic, not twice
    CHECK(f.model == "horowitz-45nm");

    const auto q = qslm::hw::estimate_energy(one_layer(hand_counts(1000 * 4), LayerFormat::fixed(4)));
    CHECK(q.total_pj() == Approx(fixed_total).epsilon(1e-12));
}

TEST_CASE("energy per token, per sentence and average power follow from the run's totals") {
    const auto e = qslm::hw::estimate_energy(one_layer(hand_counts(32000), LayerFormat::float32(), 4, 2));
    CHECK(e.per_token_pj() == Approx(float_total / 4));
    CHECK(e.per_sentence_pj() == Approx(float_total / 2));
    // 10 tokens/s at E pJ/token is 10 E pJ/s.
    CHECK(e.average_power_watts(10.0) == Approx(float_total / 4 * 10 * 1e-12));
    CHECK_THROWS_WITH(e.average_power_watts(0.0), Catch::Contains("token rate must be a positive"));
    CHECK_THROWS_WITH(e.average_power_watts(-3.0), Catch::Contains("token rate"));

    const auto empty = qslm::hw::estimate_energy(one_layer(hand_counts(32000), LayerFormat::float32(), 0, 0));
    CHECK_THROWS_WITH(empty.per_token_pj(), Catch::Contains("no tokens"));
    CHECK_THROWS_WITH(empty.per_sentence_pj(), Catch::Contains("no sentences"));
}

TEST_CASE("a workload's energy is the sum of its layers' energies") {
    Workload w = one_layer(hand_counts(32000), LayerFormat::float32());
    w.layers.push_back({"block0.att", hand_counts(4000), LayerFormat::fixed(4)});
    const auto e = qslm::hw::estimate_energy(w);
    REQUIRE(e.layers.size() == 2);
    CHECK(e.layers[0].name == "block0.ffn");
    CHECK(e.layers[0].energy.total_pj() == Approx(float_total));
    CHECK(e.layers[1].energy.total_pj() == Approx(fixed_total));
    CHECK(e.total_pj() == Approx(float_total + fixed_total));
}

TEST_CASE("a device's energy overrides replace the model's prices and nothing else") {
    qslm::hw::EnergyOverrides o;
    o.synaptic_accumulate_pj = 2.0;
    o.spike_pj = 1.5;
    o.weight_read_pj_per_bit = 10.0;
    const auto e = qslm::hw::estimate_energy(one_layer(hand_counts(32000), LayerFormat::float32()),
                                             qslm::hw::Horowitz45nm{}, {}, o);
    CHECK(e.total.synaptic_accumulates == Approx(1000 * 2.0));
    CHECK(e.total.spikes == Approx(30 * 1.5));
    CHECK(e.total.weight_reads == Approx(32000 * 10.0));
    CHECK(e.total.multiply_accumulates == Approx(float_mac));

    o.state_update_pj = -1.0;
    CHECK_THROWS_WITH(qslm::hw::estimate_energy(one_layer(hand_counts(0), LayerFormat::float32()),
                                                qslm::hw::Horowitz45nm{}, {}, o),
                      Catch::Contains("state_update_pj"));
}

TEST_CASE("a layer with an impossible format is named in the error") {
    LayerFormat bad = LayerFormat::fixed(4);
    bad.state = qslm::hw::NumericFormat::integer(0);
    Workload w = one_layer(hand_counts(0), bad);
    w.layers[0].name = "block3.lif";
    CHECK_THROWS_WITH(qslm::hw::estimate_energy(w), Catch::Contains("layer 'block3.lif' state"));
}

TEST_CASE("weight traffic can be re-expressed at another weight width") {
    const OpCounts c = qslm::hw::with_weight_width(hand_counts(32000), 32, 4);
    CHECK(c.weight_bits_read == 4000);
    CHECK(c.synaptic_accumulates == 1000);
    CHECK_THROWS_WITH(qslm::hw::with_weight_width(hand_counts(33), 32, 4), Catch::Contains("not a whole number"));
    CHECK_THROWS_WITH(qslm::hw::with_weight_width(hand_counts(32), 0, 4), Catch::Contains("1..64 bits"));
}

TEST_CASE("the float and quantized runs are reported side by side as JSON") {
    auto c = qslm::hw::compare_energy(one_layer(hand_counts(32000), LayerFormat::float32()),
                                      one_layer(hand_counts(4000), LayerFormat::fixed(4)));
    c.reference_memory_bytes = 4000;
    c.candidate_memory_bytes = 500;
    c.tokens_per_second = 20.0;
    CHECK(c.energy_ratio() == Approx(fixed_total / float_total));
    CHECK(c.energy_savings() == Approx(1.0 - fixed_total / float_total));

    const nlohmann::json j = c;
    CHECK(j["reference"]["label"] == "float32");
    CHECK(j["candidate"]["label"] == "quantized");
    CHECK(j["reference"]["total_pj"].get<double>() == Approx(float_total));
    CHECK(j["candidate"]["per_token_pj"].get<double>() == Approx(fixed_total / 4));
    CHECK(j["candidate"]["per_sentence_pj"].get<double>() == Approx(fixed_total / 2));
    CHECK(j["candidate"]["average_power_w"].get<double>() == Approx(fixed_total / 4 * 20 * 1e-12));
    CHECK(j["candidate"]["layers"][0]["format"]["weights"] == "int4");
    CHECK(j["reference"]["layers"][0]["format"]["weights"] == "fp32");
    CHECK(j["energy_ratio"].get<double>() == Approx(fixed_total / float_total));
    CHECK(j["memory_ratio"].get<double>() == Approx(0.125));
    CHECK(j["reference"]["breakdown"]["total_pj"].get<double>() == Approx(float_total));

    // A run without tokens has no per-token figure; the report says so with null instead of failing.
    c.candidate.tokens = 0;
    const nlohmann::json partial = c;
    CHECK(partial["candidate"]["per_token_pj"].is_null());
    CHECK(partial["energy_ratio"].is_null());
}
