// Quantized models: packed weights load (from .qslm or as replacements), run, and stay close to
// the float model.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <cstdint>
#include <filesystem>
#include <vector>

#include <qslm/io/qslm_writer.hpp>
#include <qslm/io/sdt_model.hpp>
#include <qslm/io/spikegpt_model.hpp>

#include "random_models.hpp"

using namespace qslm;

namespace {

std::vector<AnyPackedTensor> quantize_all(const std::vector<models::MatrixInfo>& ms,
                                          const auto& weights_of, int bits) {
    std::vector<AnyPackedTensor> out;
    for (std::size_t m = 0; m < ms.size(); ++m)
        out.push_back(value_or_throw(AnyPackedTensor::quantize(bits, weights_of(m), ms[m].rows, ms[m].cols,
                                                               QuantSpec{.layout = ScaleLayout::per_channel()}),
                                     ms[m].name));
    return out;
}

// Mean |a - b| over the mean |b|.
double relative_l1(const std::vector<float>& a, const std::vector<float>& b) {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        num += std::abs(a[i] - b[i]);
        den += std::abs(b[i]);
    }
    return num / den;
}

}  // namespace

TEST_CASE("an 8-bit per-channel SpikeGPT saved as .qslm loads, verifies and stays close to float") {
    const auto model = models::SpikeGptModel::from_checkpoint(qslm_test::random_spikegpt(2, 32, 64, 21));
    const auto packed = quantize_all(model.matrices(), [&](std::size_t m) { return model.matrix_weights(m); }, 8);
    // The embedding stays float: with a binary embedding only its signs matter, and
    // round-to-nearest would turn small negative entries into 0, which counts as a spike
    // (a 1-bit sign code is the lossless form; that choice belongs to the quantizer).
    std::vector<const AnyPackedTensor*> ptrs;
    for (const auto& p : packed) ptrs.push_back(&p);
    ptrs[0] = nullptr;
    const io::QslmModel q = model.to_qslm(ptrs);
    REQUIRE(q.test_vector);
    CHECK(q.find("blocks.1.ffn.value.weight")->is_packed());
    CHECK_FALSE(q.find("blocks.1.ln2.bias")->is_packed());

    const auto path = std::filesystem::path(QSLM_BINARY_DIR) / "tests" / "models" / "quantized_spikegpt.qslm";
    std::filesystem::create_directories(path.parent_path());
    io::save_qslm(path, q);
    const auto loaded = models::SpikeGptModel::load(path);  // runs the stored test vector
    CHECK(loaded.options().binary_embedding == model.options().binary_embedding);

    // Loaded as it runs (packed, low-bit kernel), it equals the float model's packed_instance of
    // the same tensors bit for bit; loaded as floats, it equals the float model with the
    // dequantized matrices swapped in.
    std::vector<std::uint32_t> tokens;
    for (std::uint32_t t = 0; t < 40; ++t) tokens.push_back((t * 37u + 11u) % 64u);
    CHECK(loaded.holds_packed());
    CHECK(loaded.logits(std::span<const std::uint32_t>(tokens)) ==
          model.packed_instance(ptrs).logits(std::span<const std::uint32_t>(tokens)));
    models::SpikeGptModel fake = model;
    for (std::size_t m = 1; m < packed.size(); ++m) fake.set_matrix(m, packed[m]);
    const auto loaded_float = models::SpikeGptModel::load(path, {.weights = models::WeightForm::float32});
    CHECK_FALSE(loaded_float.holds_packed());
    const auto got = loaded_float.logits(std::span<const std::uint32_t>(tokens));
    CHECK(got == fake.logits(std::span<const std::uint32_t>(tokens)));
    // ... and stays close to float over the first tokens. (Later on, a random network is
    // chaotic: one flipped spike changes the rest of the sequence; the trained model's test
    // below measures closeness by the loss instead.)
    const auto ref = model.logits(std::span<const std::uint32_t>(tokens));
    const std::size_t early = 3 * model.vocab_size();
    const double err = relative_l1({got.begin(), got.begin() + early}, {ref.begin(), ref.begin() + early});
    INFO("8-bit per-channel random SpikeGPT, first 3 tokens: relative L1 logit error " << err);
    CHECK(err < 0.08);  // measured 0.041
}

TEST_CASE("the bundled SpikeGPT quantized to 8 bits per channel loses little on the golden text") {
    const auto path = std::filesystem::path(QSLM_SOURCE_DIR) / "models" / "spikegpt.safetensors";
    // Committed with the repository: its absence is a broken checkout, not missing data.
    REQUIRE(std::filesystem::exists(path));
    auto model = models::SpikeGptModel::load(path);
    const std::string text = "The quick brown fox jumps over the lazy dog. Spikes! A spiking language model reads text.";
    std::vector<int> tokens;
    for (const char c : text) tokens.push_back(static_cast<unsigned char>(c));
    auto nll = [&](const std::vector<float>& logits) {  // mean negative log-likelihood, nats/byte
        const std::size_t V = model.vocab_size();
        double total = 0.0;
        for (std::size_t t = 0; t + 1 < tokens.size(); ++t) {
            const float* row = logits.data() + t * V;
            double mx = row[0], z = 0.0;
            for (std::size_t v = 0; v < V; ++v) mx = std::max(mx, static_cast<double>(row[v]));
            for (std::size_t v = 0; v < V; ++v) z += std::exp(row[v] - mx);
            total += std::log(z) + mx - row[tokens[t + 1]];
        }
        return total / static_cast<double>(tokens.size() - 1);
    };
    const double float_nll = nll(model.logits(tokens));
    const auto packed = quantize_all(model.matrices(), [&](std::size_t m) { return model.matrix_weights(m); }, 8);
    for (std::size_t m = 1; m < packed.size(); ++m) model.set_matrix(m, packed[m]);  // embedding: see above
    const double q8_nll = nll(model.logits(tokens));
    INFO("bundled SpikeGPT: float " << float_nll << " nats/byte, 8-bit per-channel " << q8_nll);
    CHECK(std::abs(q8_nll - float_nll) < 0.1);  // measured 2.627 -> 2.682
}

TEST_CASE("a 4-bit SpikeGPT runs and stays in the neighbourhood of float; a damaged test vector is caught") {
    const auto model = models::SpikeGptModel::from_checkpoint(qslm_test::random_spikegpt(2, 32, 64, 22));
    const auto packed = quantize_all(model.matrices(), [&](std::size_t m) { return model.matrix_weights(m); }, 4);
    std::vector<std::span<const float>> repl;
    std::vector<std::vector<float>> deq;
    for (const auto& p : packed) {
        deq.emplace_back(p.rows() * p.cols());
        REQUIRE(p.visit([&](const auto& t) { return t.view().dequantize(std::span<float>(deq.back())); }) == Status::ok);
    }
    for (const auto& d : deq) repl.emplace_back(d);
    const std::vector<std::uint32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8};
    const auto q4 = model.instance(repl).logits(std::span<const std::uint32_t>(tokens));
    const auto ref = model.logits(std::span<const std::uint32_t>(tokens));
    REQUIRE(q4.size() == ref.size());
    for (const float v : q4) REQUIRE(std::isfinite(v));
    CHECK(q4 != ref);  // 4 bits do change the model

    // A bound that holds for every token: with only the head quantized, the state and the
    // head's input x = ln_out(h) are the float model's, so each logit moves by
    //   |dlogit_r| = |sum_c dW_rc x_c| <= max_c |dW_rc| * ||x||_1,
    // and for a layer norm with gain g and bias b, sum_c xhat_c^2 <= C (the eps only shrinks it),
    // so ||xhat||_1 <= C (Cauchy-Schwarz) and ||x||_1 <= max|g| * C + ||b||_1.
    std::size_t head = model.matrices().size();
    for (std::size_t m = 0; m < model.matrices().size(); ++m)
        if (model.matrices()[m].name == "head.weight") head = m;
    REQUIRE(head < model.matrices().size());
    const auto& ck = model.checkpoint();
    const std::size_t C = ck.ln_out_weight.values().size();
    double max_gain = 0.0, bias_l1 = 0.0;
    for (const float g : ck.ln_out_weight.values()) max_gain = std::max(max_gain, static_cast<double>(std::abs(g)));
    for (const float b : ck.ln_out_bias.values()) bias_l1 += std::abs(b);
    const double x_l1_bound = max_gain * static_cast<double>(C) + bias_l1;
    const auto w = model.matrix_weights(head);
    const std::size_t V = model.matrices()[head].rows;
    std::vector<double> row_err(V, 0.0);
    for (std::size_t r = 0; r < V; ++r)
        for (std::size_t c = 0; c < C; ++c)
            row_err[r] = std::max(row_err[r], static_cast<double>(std::abs(deq[head][r * C + c] - w[r * C + c])));
    models::SpikeGptModel head_only = model;
    head_only.set_matrix(head, packed[head]);
    const auto qh = head_only.logits(std::span<const std::uint32_t>(tokens));
    REQUIRE(qh.size() == ref.size());
    double worst_ratio = 0.0;  // |dlogit| / bound, the largest over all tokens and logits
    for (std::size_t i = 0; i < ref.size(); ++i) {
        // 1e-5 relative: float32 rounding of the two matrix-vector products (C terms each).
        const double bound = row_err[i % V] * x_l1_bound + 1e-5 * (std::abs(ref[i]) + 1.0);
        worst_ratio = std::max(worst_ratio, std::abs(static_cast<double>(qh[i]) - ref[i]) / bound);
    }
    INFO("head-only 4-bit: largest logit change / its bound = " << worst_ratio);
    CHECK(worst_ratio <= 1.0);
    CHECK(worst_ratio > 0.0);

    io::QslmModel q = model.to_qslm();
    q.test_vector->expected[0] += 1.0f;
    CHECK_THROWS_WITH(model.verify(q), Catch::Contains("end-to-end check failed"));
    // A .qslm of another model type is refused.
    q.config_json = R"({"model_type": "sdt"})";
    CHECK_THROWS_WITH(models::SpikeGptModel::from_qslm(q), Catch::Contains("not spikegpt"));
    // A .qslm missing a tensor lists it.
    io::QslmModel partial = model.to_qslm();
    partial.tensors.erase(partial.tensors.begin() + 3);
    CHECK_THROWS_WITH(models::SpikeGptModel::from_qslm(partial), Catch::Contains("missing 1 tensor"));
}

TEST_CASE("an 8-bit per-channel SDT classifier stays close to float") {
    auto model = models::SdtModel::from_checkpoint(qslm_test::random_sdt(2, 32, 40, 10, 3));
    const auto packed = quantize_all(model.matrices(), [&](std::size_t m) { return model.matrix_weights(m); }, 8);
    const std::vector<std::uint32_t> tokens = {2, 7, 9, 14, 3};
    const auto ref = model.instance().logits(tokens);
    for (std::size_t m = 0; m < packed.size(); ++m) model.set_matrix(m, packed[m]);
    const auto q = model.instance().logits(tokens);
    const double err = relative_l1(q, ref);
    INFO("8-bit per-channel random SDT: relative L1 logit error " << err);
    CHECK(err < 0.15);  // measured 0.112
}
