// Writes the fuzzers' seed corpus: small valid files of both formats that reach every part of
// the readers (all dtypes, metadata, checkpoints of both model families; every width/encoding,
// vocabulary, test vector and extension section in .qslm).
//   qslm_fuzz_seed_corpus <folder>   ->   <folder>/safetensors/*, <folder>/qslm/*
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "qslm/io/qslm_writer.hpp"
#include "qslm/io/safetensors_writer.hpp"
#include "synthetic_model_host.hpp"

namespace io = qslm::io;

namespace {
void save(const std::filesystem::path& p, const std::vector<std::uint8_t>& bytes) {
    io::write_file_atomically(p, bytes, {.sync = false});
}

std::vector<float> ramp(std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
    return v;
}

std::vector<std::uint8_t> spikegpt(std::uint64_t L, std::uint64_t C, std::uint64_t V, std::uint64_t H) {
    io::SafetensorsWriter w;
    auto mat = [&](const std::string& n, std::uint64_t r, std::uint64_t c) { w.add_f16(n, {r, c}, ramp(r * c)); };
    auto vec = [&](const std::string& n, std::uint64_t c) { w.add_f32(n, {c}, ramp(c)); };
    mat("emb.weight", V, C);
    for (std::uint64_t i = 0; i < L; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        if (i == 0) vec(p + "ln0.weight", C), vec(p + "ln0.bias", C);
        for (const char* n : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "att.time_first", "att.time_decay"})
            vec(p + n, C);
        for (const char* n : {"att.time_mix_k", "att.time_mix_v", "att.time_mix_r", "ffn.time_mix_k", "ffn.time_mix_r"})
            w.add_f32(p + n, {1, 1, C}, ramp(C));
        for (const char* n : {"att.key.weight", "att.value.weight", "att.receptance.weight", "att.output.weight",
                              "ffn.receptance.weight"})
            mat(p + n, C, C);
        mat(p + "ffn.key.weight", H, C);
        mat(p + "ffn.value.weight", C, H);
    }
    vec("ln_out.weight", C);
    vec("ln_out.bias", C);
    mat("head.weight", V, C);
    w.set_metadata("binary_embedding", "true");
    w.set_metadata("config", R"({"n_layer": 2, "n_embd": 4, "vocab_size": 6, "ffn_mult": 2, "tau": 2.0})");
    return w.to_bytes();
}

std::vector<std::uint8_t> sdt() {
    io::SafetensorsWriter w;
    const std::uint64_t D = 4, H = 8, V = 5, N = 3, K = 2;
    w.add_bf16("embed.weight", {V, D}, ramp(V * D));
    w.add_f32("pos_embed.weight", {N, D}, ramp(N * D));
    for (const char* n : {"q", "k", "v", "proj"}) {
        w.add_f16(std::string("blocks.0.attn.") + n + ".weight", {D, D}, ramp(D * D));
        w.add_f32(std::string("blocks.0.attn.") + n + ".bias", {D}, ramp(D));
    }
    w.add_f16("blocks.0.mlp.fc1.weight", {H, D}, ramp(H * D));
    w.add_f32("blocks.0.mlp.fc1.bias", {H}, ramp(H));
    w.add_f16("blocks.0.mlp.fc2.weight", {D, H}, ramp(H * D));
    w.add_f32("blocks.0.mlp.fc2.bias", {D}, ramp(D));
    w.add_f32("head.weight", {K, D}, ramp(K * D));
    w.add_f32("head.bias", {K}, ramp(K));
    w.set_metadata("config", R"({"vocab_size": 5, "dim": 4, "n_layer": 1, "max_len": 3, "mlp_ratio": 2, "T": 4})");
    w.set_metadata("vocab", R"(["<pad>", "<unk>", "a", "b", "c"])");
    w.set_metadata("labels", R"(["negative", "positive"])");
    w.set_metadata("bn_folded", "true");
    return w.to_bytes();
}

std::vector<std::uint8_t> all_dtypes() {
    io::SafetensorsWriter w;
    for (const io::DType t : io::all_dtypes) {
        std::vector<std::uint8_t> b(3 * io::dtype_size(t), 1);
        w.add(std::string("t_") + std::string(io::to_string(t)), t, {3}, b);
    }
    w.add("empty", io::DType::F32, {0, 2}, std::vector<std::uint8_t>{});
    w.set_metadata("format", "pt");
    return w.to_bytes();
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <folder>\n", argv[0]);
        return 2;
    }
    try {
        const std::filesystem::path root = argv[1];
        std::filesystem::create_directories(root / "safetensors");
        std::filesystem::create_directories(root / "qslm");
        save(root / "safetensors" / "spikegpt.safetensors", spikegpt(2, 4, 6, 8));
        save(root / "safetensors" / "sdt.safetensors", sdt());
        save(root / "safetensors" / "dtypes.safetensors", all_dtypes());
        save(root / "safetensors" / "empty.safetensors", io::SafetensorsWriter{}.to_bytes());

        const auto synthetic = qslm::test::synthetic::make_model();
        save(root / "qslm" / "synthetic.qslm", io::serialize_qslm(synthetic));
        io::QslmModel minimal;
        minimal.add(io::QslmTensor::from_floats("x", 1, 2, std::vector<float>{1, 2}));
        save(root / "qslm" / "minimal.qslm", io::serialize_qslm(minimal));
        minimal.extensions.push_back({0x80000001u, {1, 2, 3, 4, 5}});
        minimal.vocab = {"a", "b"};
        minimal.test_vector = io::QslmTestVector{{0, 1}, {0.5f, -0.5f}};
        save(root / "qslm" / "extension.qslm", io::serialize_qslm(minimal));
        // One small file per tensor of the synthetic model (every width/encoding on its own).
        int i = 0;
        for (const auto& t : synthetic.tensors) {
            io::QslmModel one;
            one.add(t);
            save(root / "qslm" / ("tensor_" + std::to_string(i++) + ".qslm"), io::serialize_qslm(one));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qslm_fuzz_seed_corpus: %s\n", e.what());
        return 1;
    }
    return 0;
}
