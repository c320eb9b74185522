#include <catch2/catch.hpp>

#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "io_test_support.hpp"
#include "qslm/io/sdt_checkpoint.hpp"
#include "qslm/io/spikegpt_checkpoint.hpp"
#include "qslm/io/safetensors_writer.hpp"

using namespace qslm;
using namespace qslm::io;
using test::require_error;

namespace {

struct Spec {
    std::vector<std::uint64_t> shape;
};

std::vector<float> values_for(const std::string& name, std::size_t n) {
    std::seed_seq seq(name.begin(), name.end());
    std::mt19937 rng(seq);
    std::uniform_real_distribution<float> d(-1, 1);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

/// The tensors of a SpikeGPT checkpoint in the reference code's names and shapes.
std::map<std::string, Spec> spikegpt_tensors(std::uint64_t L, std::uint64_t C, std::uint64_t V, std::uint64_t H) {
    std::map<std::string, Spec> t;
    t["emb.weight"] = {{V, C}};
    for (std::uint64_t i = 0; i < L; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        if (i == 0) t[p + "ln0.weight"] = t[p + "ln0.bias"] = {{C}};
        for (const char* n : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"}) t[p + n] = {{C}};
        for (const char* n : {"att.key.weight", "att.value.weight", "att.receptance.weight", "att.output.weight"})
            t[p + n] = {{C, C}};
        for (const char* n : {"att.time_mix_k", "att.time_mix_v", "att.time_mix_r"}) t[p + n] = {{1, 1, C}};
        t[p + "att.time_first"] = t[p + "att.time_decay"] = {{C}};
        t[p + "ffn.key.weight"] = {{H, C}};
        t[p + "ffn.value.weight"] = {{C, H}};
        t[p + "ffn.receptance.weight"] = {{C, C}};
        t[p + "ffn.time_mix_k"] = t[p + "ffn.time_mix_r"] = {{1, 1, C}};
    }
    t["ln_out.weight"] = t["ln_out.bias"] = {{C}};
    t["head.weight"] = {{V, C}};
    return t;
}

std::map<std::string, Spec> sdt_tensors(std::uint64_t L, std::uint64_t D, std::uint64_t V, std::uint64_t N,
                                        std::uint64_t H, std::uint64_t K) {
    std::map<std::string, Spec> t;
    t["embed.weight"] = {{V, D}};
    t["pos_embed.weight"] = {{N, D}};
    for (std::uint64_t i = 0; i < L; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        for (const char* n : {"q", "k", "v", "proj"}) {
            t[p + "attn." + n + ".weight"] = {{D, D}};
            t[p + "attn." + n + ".bias"] = {{D}};
        }
        t[p + "mlp.fc1.weight"] = {{H, D}};
        t[p + "mlp.fc1.bias"] = {{H}};
        t[p + "mlp.fc2.weight"] = {{D, H}};
        t[p + "mlp.fc2.bias"] = {{D}};
    }
    t["head.weight"] = {{K, D}};
    t["head.bias"] = {{K}};
    return t;
}

std::vector<std::uint8_t> write(const std::map<std::string, Spec>& tensors,
                                const std::map<std::string, std::string>& metadata = {}, DType dtype = DType::F16) {
    SafetensorsWriter w;
    for (const auto& [name, spec] : tensors) {
        std::size_t n = 1;
        for (const auto d : spec.shape) n *= d;
        w.add_float(name, spec.shape.size() == 1 ? DType::F32 : dtype, spec.shape, values_for(name, n));
    }
    for (const auto& [k, v] : metadata) w.set_metadata(k, v);
    return w.to_bytes();
}

SpikeGptCheckpoint load_spikegpt(const std::vector<std::uint8_t>& bytes) {
    return load_spikegpt_checkpoint(SafetensorsFile::parse(std::span<const std::uint8_t>(bytes), "ck.safetensors"));
}
SdtCheckpoint load_sdt(const std::vector<std::uint8_t>& bytes) {
    return load_sdt_checkpoint(SafetensorsFile::parse(std::span<const std::uint8_t>(bytes), "sdt.safetensors"));
}

}  // namespace

TEST_CASE("a SpikeGPT checkpoint with the reference names gives the config from the shapes") {
    const auto bytes = write(spikegpt_tensors(3, 8, 12, 32), {{"binary_embedding", "false"}});
    const auto ck = load_spikegpt(bytes);
    CHECK(ck.config.n_layer == 3);
    CHECK(ck.config.n_embd == 8);
    CHECK(ck.config.vocab_size == 12);
    CHECK(ck.config.ffn_hidden == 32);
    CHECK(ck.config.att_dim == 8);
    CHECK_FALSE(ck.config.binary_embedding);
    REQUIRE(ck.blocks.size() == 3);
    CHECK(ck.blocks[2].att_time_mix_k.shape == std::vector<std::size_t>{8});  // [1, 1, C] normalised
    CHECK(ck.blocks[1].ffn_key.shape == std::vector<std::size_t>{32, 8});
    CHECK(ck.ln0_weight.data == values_for("blocks.0.ln0.weight", 8));  // F32 exactly
    // F16 storage: values equal the F16 rounding of the originals.
    const auto original = values_for("head.weight", 12 * 8);
    for (std::size_t i = 0; i < original.size(); ++i)
        REQUIRE(ck.head.data[i] == f16_bits_to_f32(f32_to_f16_bits(original[i])));
    CHECK(ck.unused_tensors.empty());
    std::set<std::string> names;
    ck.for_each_tensor([&](const std::string& name, const FloatTensor& t) {
        CHECK_FALSE(t.empty());
        names.insert(name);
    });
    CHECK(names.size() == spikegpt_tensors(3, 8, 12, 32).size());
}

TEST_CASE("without metadata the embedding follows the reference runner; the training config supplies the LIF constants") {
    // The reference RNN runner binarises the embedding only for its 77-symbol character model.
    auto ck = load_spikegpt(write(spikegpt_tensors(1, 4, 5, 16)));
    CHECK_FALSE(ck.config.binary_embedding);
    CHECK_THAT(ck.config.binary_embedding_source, Catch::Contains("not stated in the file: float"));
    ck = load_spikegpt(write(spikegpt_tensors(1, 4, 77, 16)));
    CHECK(ck.config.binary_embedding);
    CHECK_THAT(ck.config.binary_embedding_source, Catch::Contains("77-symbol character model"));
    ck = load_spikegpt(write(spikegpt_tensors(1, 4, 5, 16), {{"binary_embedding", "true"}}));
    CHECK(ck.config.binary_embedding);
    CHECK_THAT(ck.config.binary_embedding_source, Catch::Contains("binary_embedding metadata"));
    ck = load_spikegpt(write(spikegpt_tensors(1, 4, 77, 16), {{"binary_embedding", "false"}}));
    CHECK_FALSE(ck.config.binary_embedding);
    ck = load_spikegpt(write(spikegpt_tensors(1, 4, 5, 16),
                             {{"config", R"({"n_layer": 1, "n_embd": 4, "vocab_size": 5, "ffn_mult": 4,
                                             "tau": 4.0, "v_threshold": 0.5, "ln_eps": 1e-6,
                                             "binary_embedding": false})"}}));
    CHECK(ck.config.tau == 4.0f);
    CHECK(ck.config.v_threshold == 0.5f);
    CHECK(ck.config.ln_eps == 1e-6f);
    CHECK_FALSE(ck.config.binary_embedding);
}

TEST_CASE("a SpikeGPT checkpoint missing tensors lists all of them in one error") {
    auto t = spikegpt_tensors(2, 8, 12, 32);
    t.erase("head.weight");
    t.erase("blocks.1.att.key.weight");
    t.erase("blocks.0.ffn.time_mix_r");
    require_error([&] { (void)load_spikegpt(write(t)); }, Status::not_found,
                  {"ck.safetensors", "SpikeGPT", "missing 3 tensor(s)", "head.weight", "blocks.1.att.key.weight",
                   "blocks.0.ffn.time_mix_r"});
    // A gap in the block numbering is a missing block.
    auto gap = spikegpt_tensors(3, 8, 12, 32);
    for (auto it = gap.begin(); it != gap.end();)
        it = it->first.rfind("blocks.1.", 0) == 0 ? gap.erase(it) : std::next(it);
    require_error([&] { (void)load_spikegpt(write(gap)); }, Status::not_found,
                  {"missing 18 tensor(s)", "blocks.1.ln1.weight", "blocks.1.ffn.value.weight"});
}

TEST_CASE("mis-shaped, non-float and non-finite tensors are all reported together") {
    auto t = spikegpt_tensors(2, 8, 12, 32);
    t["blocks.1.att.output.weight"] = {{8, 7}};
    t["blocks.0.att.time_mix_k"] = {{1, 2, 8}};
    t["ln_out.bias"] = {{9}};
    auto bytes = write(t);
    require_error([&] { (void)load_spikegpt(bytes); }, Status::bad_shape,
                  {"3 problem(s)", "blocks.1.att.output.weight has shape [8, 7], expected [n_embd=8, att_dim=8]",
                   "blocks.0.att.time_mix_k has shape [1, 2, 8]", "ln_out.bias has shape [9]"});

    SafetensorsWriter w;
    for (const auto& [name, spec] : spikegpt_tensors(1, 4, 5, 16)) {
        std::size_t n = 1;
        for (const auto d : spec.shape) n *= d;
        auto v = values_for(name, n);
        if (name == "blocks.0.ln1.bias") v[2] = std::numeric_limits<float>::quiet_NaN();
        if (name == "head.weight") {
            w.add(name, DType::I8, spec.shape, std::vector<std::uint8_t>(n, 1));
            continue;
        }
        w.add_f32(name, spec.shape, v);
    }
    bytes = w.to_bytes();
    require_error([&] { (void)load_spikegpt(bytes); }, Status::bad_shape,
                  {"head.weight has dtype I8", "blocks.0.ln1.bias contains NaN or infinity (first at element 2)"});
}

TEST_CASE("metadata that contradicts the shapes is refused") {
    require_error([] { (void)load_spikegpt(write(spikegpt_tensors(1, 4, 5, 16), {{"config", R"({"n_layer": 2})"}})); },
                  Status::bad_shape, {"config says n_layer = 2 but the tensor shapes give 1"});
    require_error([] { (void)load_spikegpt(write(spikegpt_tensors(1, 4, 5, 16), {{"config", "{not json"}})); },
                  Status::bad_shape, {"'config' is not valid JSON"});
    require_error([] { (void)load_spikegpt(write(spikegpt_tensors(1, 4, 5, 16), {{"binary_embedding", "maybe"}})); },
                  Status::bad_shape, {"'binary_embedding' is 'maybe'"});
    require_error([] { (void)load_spikegpt(write(spikegpt_tensors(1, 4, 5, 16), {{"config", R"({"tau": "x"})"}})); },
                  Status::bad_shape, {"'tau'"});
}

TEST_CASE("implausible block indices and foreign tensors are handled without blowing up") {
    auto t = spikegpt_tensors(1, 4, 5, 16);
    t["blocks.999999.att.key.weight"] = {{4, 4}};
    require_error([&] { (void)load_spikegpt(write(t)); }, Status::bad_shape, {"block index 999999"});
    auto extra = spikegpt_tensors(1, 4, 5, 16);
    extra["head_q.weight"] = {{4, 4}};
    extra["blocks.0.ln0.extra"] = {{4}};
    const auto ck = load_spikegpt(write(extra));
    CHECK(ck.unused_tensors.size() == 2);
    require_error([] { (void)load_spikegpt(write({{"emb.weight", {{5, 4}}}})); }, Status::not_found,
                  {"no blocks.N.* tensors"});
    require_error([] { (void)load_spikegpt(write({})); }, Status::not_found, {"emb.weight", "head.weight"});
}

TEST_CASE("a spike-driven transformer checkpoint as tools/train/sdt.py exports it loads") {
    const auto bytes = write(sdt_tensors(2, 16, 30, 10, 64, 2),
                             {{"config", R"({"vocab_size": 30, "dim": 16, "n_layer": 2, "max_len": 10,
                                             "mlp_ratio": 4, "n_classes": 2, "T": 4, "tau": 2.0,
                                             "v_threshold": 1.0, "attn_threshold": 0.5})"},
                              {"labels", R"(["negative", "positive"])"},
                              {"bn_folded", "true"},
                              {"model_type", "sdt"}});
    const auto ck = load_sdt(bytes);
    CHECK(ck.config.n_layer == 2);
    CHECK(ck.config.dim == 16);
    CHECK(ck.config.vocab_size == 30);
    CHECK(ck.config.max_len == 10);
    CHECK(ck.config.mlp_hidden == 64);
    CHECK(ck.config.n_classes == 2);
    CHECK(ck.config.time_steps == 4);
    CHECK(ck.config.attn_threshold == 0.5f);
    CHECK(ck.labels == std::vector<std::string>{"negative", "positive"});
    CHECK(ck.blocks[1].fc2_weight.shape == std::vector<std::size_t>{16, 64});
    CHECK(ck.metadata.at("model_type") == "sdt");
    std::size_t n = 0;
    ck.for_each_tensor([&](const std::string&, const FloatTensor&) { ++n; });
    CHECK(n == sdt_tensors(2, 16, 30, 10, 64, 2).size());
}

TEST_CASE("a spike-driven transformer checkpoint with problems lists them all") {
    auto t = sdt_tensors(2, 16, 30, 10, 64, 2);
    t.erase("blocks.1.attn.v.bias");
    t.erase("pos_embed.weight");
    t["blocks.0.mlp.fc2.weight"] = {{16, 63}};
    require_error([&] { (void)load_sdt(write(t)); }, Status::not_found,
                  {"spike-driven transformer", "blocks.1.attn.v.bias", "pos_embed.weight",
                   "blocks.0.mlp.fc2.weight has shape [16, 63]"});
    require_error([] { (void)load_sdt(write(sdt_tensors(1, 8, 5, 4, 32, 2), {{"bn_folded", "false"}})); },
                  Status::bad_shape, {"bn_folded = false"});
    require_error([] { (void)load_sdt(write(sdt_tensors(1, 8, 5, 4, 32, 2), {{"vocab", R"(["a", "b"])"}})); },
                  Status::bad_shape, {"'vocab' has 2 entries but embed.weight has 5 rows"});
    require_error([] { (void)load_sdt(write(sdt_tensors(1, 8, 5, 4, 32, 2), {{"config", R"({"T": 0})"}})); },
                  Status::bad_shape, {"'T'"});
}

TEST_CASE("block names are parsed strictly") {
    CHECK(CheckpointAssembler::block_index("blocks.12.att") == 12u);
    CHECK(CheckpointAssembler::block_index("blocks.0.x") == 0u);
    CHECK_FALSE(CheckpointAssembler::block_index("blocks.01.x").has_value());
    CHECK_FALSE(CheckpointAssembler::block_index("blocks.-1.x").has_value());
    CHECK_FALSE(CheckpointAssembler::block_index("blocks..x").has_value());
    CHECK_FALSE(CheckpointAssembler::block_index("blocks.1").has_value());
    CHECK_FALSE(CheckpointAssembler::block_index("blocks.99999999999999999999.x").has_value());
    CHECK_FALSE(CheckpointAssembler::block_index("block.1.x").has_value());
}
