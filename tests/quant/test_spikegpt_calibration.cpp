// Calibration-aware rounding on the committed tiny SpikeGPT: the observer hook captures the
// inputs of every product matrix without changing the model's outputs, GPTQ rounds below
// nearest on the calibration data, and the search quantizes each module with its own layer's
// statistics (search/adapters/spikegpt_calibration.hpp).

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "qslm/quant/layer_error.hpp"
#include "qslm/search/adapters/spikegpt_calibration.hpp"
#include "qslm/search/searcher.hpp"

using namespace qslm;

namespace {
const std::string tiny_path = std::string(QSLM_SOURCE_DIR) + "/models/tiny/spikegpt-tiny-s1.safetensors";

std::vector<std::vector<int>> sequences(std::size_t count, std::size_t length, int salt) {
    std::vector<std::vector<int>> out(count);
    for (std::size_t s = 0; s < count; ++s)
        for (std::size_t t = 0; t < length; ++t)
            out[s].push_back(static_cast<int>((s * 131 + t * 17 + static_cast<std::size_t>(salt) * 7 + t * t) % 256));
    return out;
}

// Calibration-set output error of every product matrix quantized with `rounding` at `bits`.
double total_output_mse(const models::SpikeGptModel& model, const quant::CalibrationSet& calibration,
                        const search::SpikeGptRounding& rounding, int bits, const QuantSpec& spec) {
    double total = 0.0;
    for (std::size_t m = 1; m < model.matrices().size(); ++m) {
        const auto& info = model.matrices()[m];
        const auto w_hat = rounding.quantize(m, bits, spec).dequantize();
        total += quant::output_mse(calibration.layer(info.name).hessian(), model.matrix_weights(m), w_hat, info.rows, info.cols);
    }
    return total;
}
}  // namespace

TEST_CASE("calibration captures the inputs of every product matrix, one row per token") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    const auto seqs = sequences(3, 20, 1);
    const auto calibration = quant::calibrate_spikegpt(model, seqs);
    const auto& matrices = model.matrices();
    REQUIRE(calibration.size() == 7 * model.n_layer() + 1);  // every matrix but the embedding
    REQUIRE(calibration.size() == matrices.size() - 1);
    for (std::size_t m = 1; m < matrices.size(); ++m) {
        CAPTURE(matrices[m].name);
        CHECK(calibration.name(m - 1) == matrices[m].name);
        CHECK(calibration.layer(m - 1).input_dim() == matrices[m].cols);
        CHECK(calibration.layer(m - 1).samples() == 60);
    }
    // ffn.value reads relu(k)^2, 4x wider than the residual stream.
    CHECK(calibration.layer("blocks.0.ffn.value.weight").input_dim() == model.config().ffn_hidden);
    CHECK(model.config().ffn_hidden == 4 * model.config().n_embd);
    // The head's input is LayerNorm(x; ln_out): per token, the mean of the squares is ~1 before
    // the affine part, so H is not zero and is finite.
    const Eigen::MatrixXd head = calibration.layer("head.weight").hessian();
    CHECK(head.allFinite());
    CHECK(head.trace() > 0.0);
}

TEST_CASE("calibration statistics do not depend on how the sequences are batched") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    auto seqs = sequences(5, 12, 2);
    seqs.push_back({1, 2, 3});  // a different length runs in its own group
    const auto one = quant::calibrate_spikegpt(model, seqs, {.batch = 1});
    const auto many = quant::calibrate_spikegpt(model, seqs, {.batch = 4});
    for (std::size_t l = 0; l < one.size(); ++l) {
        CAPTURE(one.name(l));
        CHECK(one.layer(l).samples() == 63);
        CHECK((one.layer(l).hessian() - many.layer(l).hessian()).cwiseAbs().maxCoeff() <= 1e-9);
    }
}

TEST_CASE("an observed forward pass computes the same logits as an unobserved one") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    const auto inst = model.instance();
    std::size_t calls = 0;
    quant::ActivationSink sink;
    sink.context = &calls;
    sink.function = [](void* c, std::size_t, std::span<const float>) noexcept { ++*static_cast<std::size_t*>(c); };
    models::SpikeGptOptions observed = inst.model().options();
    observed.observer = sink;
    const auto net = value_or_throw(models::SpikeGpt::make(inst.model().weights(), observed));
    std::vector<float> state(net.state_floats()), scratch(net.scratch_floats()), logits(net.vocab_size());
    REQUIRE(net.reset(state) == Status::ok);
    const std::vector<int> tokens = {84, 104, 101, 32, 113};
    const auto expected = model.logits(tokens);
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        const std::uint32_t tok = static_cast<std::uint32_t>(tokens[t]);
        REQUIRE(net.step({&tok, 1}, state, scratch, logits) == Status::ok);
        for (std::size_t v = 0; v < logits.size(); ++v) REQUIRE(logits[v] == expected[t * net.vocab_size() + v]);
    }
    CHECK(calls == tokens.size() * (7 * model.n_layer() + 1));
}

TEST_CASE("the first token's observed att.key input is the mixed LayerNorm of its sign embedding") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    const auto inst = model.instance();
    const auto& w = inst.model().weights();
    const std::size_t C = w.n_embd;
    struct Capture {
        std::vector<float> att_key;
    } capture;
    quant::ActivationSink sink;
    sink.context = &capture;
    sink.function = [](void* c, std::size_t id, std::span<const float> x) noexcept {
        if (id == 1) static_cast<Capture*>(c)->att_key.assign(x.begin(), x.end());
    };
    models::SpikeGptOptions observed = inst.model().options();
    observed.observer = sink;
    const auto net = value_or_throw(models::SpikeGpt::make(w, observed));
    std::vector<float> state(net.state_floats()), scratch(net.scratch_floats()), logits(net.vocab_size());
    REQUIRE(net.reset(state) == Status::ok);
    const std::uint32_t token = 84;
    REQUIRE(net.step({&token, 1}, state, scratch, logits) == Status::ok);
    // Independently: x = (emb >= 0), LN0, LN1, then xk = xa * mix_k (the previous token is 0).
    REQUIRE(inst.model().options().binary_embedding);
    std::vector<float> x(C), a(C), b(C);
    for (std::size_t i = 0; i < C; ++i) x[i] = w.emb[token * C + i] >= 0.0f ? 1.0f : 0.0f;
    const auto& b0 = w.blocks[0];
    const auto ln0 = value_or_throw(layers::LayerNorm::make(b0.ln0_weight, b0.ln0_bias, observed.ln_eps));
    const auto ln1 = value_or_throw(layers::LayerNorm::make(b0.ln1_weight, b0.ln1_bias, observed.ln_eps));
    REQUIRE(ln0.forward(x, a) == Status::ok);
    REQUIRE(ln1.forward(a, b) == Status::ok);
    REQUIRE(capture.att_key.size() == C);
    for (std::size_t i = 0; i < C; ++i) CHECK(capture.att_key[i] == Approx(b[i] * b0.att_time_mix_k[i]).margin(1e-6));
}

TEST_CASE("GPTQ at 3 bits reconstructs the calibration outputs better than nearest") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    const auto calibration = quant::calibrate_spikegpt(model, sequences(8, 32, 3));
    const QuantSpec spec = GENERATE(QuantSpec{ScaleLayout::per_channel()}, QuantSpec{ScaleLayout::per_group(8)});
    CAPTURE(spec.layout.group_size);
    const search::SpikeGptRounding nearest(model, quant::RoundingMethod::nearest, nullptr);
    const search::SpikeGptRounding gptq(model, quant::RoundingMethod::gptq, &calibration, {}, 2);
    const double e_nearest = total_output_mse(model, calibration, nearest, 3, spec);
    const double e_gptq = total_output_mse(model, calibration, gptq, 3, spec);
    CHECK(std::isfinite(e_gptq));
    CHECK(e_gptq < 0.7 * e_nearest);
    // The embedding has no statistics: it is rounded to nearest under every policy.
    CHECK(gptq.method(0) == quant::RoundingMethod::nearest);
    CHECK(gptq.quantize(0, 3, spec).levels() == nearest.quantize(0, 3, spec).levels());
}

TEST_CASE("the search rounds each module with its own layer's statistics") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    const auto calib_seqs = sequences(4, 24, 2);
    const auto calibration = quant::calibrate_spikegpt(model, calib_seqs);
    const search::SpikeGptRounding gptq(model, quant::RoundingMethod::gptq, &calibration, {}, 2);
    const search::CalibratedSpikeGptSearchModel subject(model, gptq);
    const search::SpikeGptEvaluator evaluator(calib_seqs, sequences(4, 32, 3));
    search::Options options;
    options.widths = {8, 4, 3};
    options.threads = 2;
    using Search = search::Tiered<sensitivity::KLDivergence, search::LayerRounder, granularity::PerChannel,
                                  objective::PerformanceMemoryTradeoff>;
    search::Constraints constraints;
    constraints.target_bits_per_weight = 5.0;
    const auto r = Search(options).run(subject, evaluator, constraints);
    INFO(r.message);
    REQUIRE(r.chosen);
    const auto packed = Search(options).materialize(subject, r.chosen->setting);
    bool some_quantized = false;
    for (std::size_t m = 0; m < packed.size(); ++m) {
        if (!packed[m]) continue;
        some_quantized = true;
        const std::size_t matrix = subject.matrix_index(m);
        CAPTURE(model.matrices()[matrix].name);
        CHECK(packed[m]->levels() ==
              gptq.quantize(matrix, r.chosen->setting.widths[m], {ScaleLayout::per_channel()}).levels());
    }
    CHECK(some_quantized);
    // A default-constructed rounder (no layer) is plain nearest.
    const auto& info = model.matrices()[1];
    CHECK(value_or_throw(AnyPackedTensor::quantize(3, model.matrix_weights(1), info.rows, info.cols, {}, search::LayerRounder{}))
              .levels() == value_or_throw(AnyPackedTensor::quantize(3, model.matrix_weights(1), info.rows, info.cols)).levels());
}

TEST_CASE("calibration and calibrated rounding reject bad input with clear messages") {
    const auto model = models::SpikeGptModel::load(tiny_path);
    CHECK_THROWS_WITH(quant::calibrate_spikegpt(model, {}), Catch::Contains("no calibration tokens"));
    CHECK_THROWS_WITH(quant::calibrate_spikegpt(model, {{}, {}}), Catch::Contains("no calibration tokens"));
    CHECK_THROWS_WITH(quant::calibrate_spikegpt(model, {{1, 2}, {3, 999}}),
                      Catch::Contains("calibration sequence 1") && Catch::Contains("999"));
    CHECK_THROWS_WITH(search::SpikeGptRounding(model, quant::RoundingMethod::gptq, nullptr),
                      Catch::Contains("needs calibration statistics"));
    quant::CalibrationSet empty;
    CHECK_THROWS_WITH(search::SpikeGptRounding(model, quant::RoundingMethod::adaptive, &empty),
                      Catch::Contains("blocks.0.att.key.weight") && Catch::Contains("no calibration statistics"));
}
