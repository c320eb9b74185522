// make_model_header: turns a SpikeGPT model into what the firmware compiles in.
//
//   make_model_header --input models/tiny/spikegpt-tiny-s1.safetensors --bits 4
//                     --header out/qslm_model.hpp --qslm out/model.qslm
//
// A .safetensors float checkpoint is quantized here (uniform width, round-to-nearest,
// per-channel scales; the embedding to its lossless 1-bit sign code with one scale, as the
// search stores it: the binary embedding uses only signs); a .qslm file (e.g. the quantizer
// search's chosen setting, `qslm search ... --out DIR`) is used as is.
// The .qslm output is what host_run_qslm runs through the run-time-width path; the header holds
// the same integers with compile-time widths (io::export_header + io/integer/header_model.hpp).
// It also prints the footprint: matrix bytes (flash) and arena bytes (RAM).

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "qslm/io/header_export.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/qslm_writer.hpp"
#include "qslm/io/integer/header_model.hpp"
#include "qslm/io/integer/prepare_spikegpt.hpp"
#include "qslm/io/spikegpt_model.hpp"

namespace {

bool is_qslm(const std::filesystem::path& p) {
    std::FILE* f = std::fopen(p.string().c_str(), "rb");
    if (f == nullptr) qslm::fail(qslm::Status::io_error, "cannot open " + p.string());
    unsigned char magic[8] = {};
    const std::size_t n = std::fread(magic, 1, 8, f);
    std::fclose(f);
    for (std::size_t i = 0; i < 8; ++i)
        if (n != 8 || magic[i] != qslm::io::qslm_magic[i]) return false;
    return true;
}

qslm::io::QslmModel quantize_uniform(const std::filesystem::path& path, int bits) {
    const auto model = qslm::models::SpikeGptModel::load(path, {.weights = qslm::models::WeightForm::float32});
    std::vector<qslm::AnyPackedTensor> packed;
    packed.reserve(model.matrices().size());
    std::vector<const qslm::AnyPackedTensor*> ptrs;
    for (std::size_t m = 0; m < model.matrices().size(); ++m) {
        const auto& info = model.matrices()[m];
        const bool emb = std::string(info.kind) == "embedding";
        const qslm::QuantSpec spec{emb ? qslm::ScaleLayout::per_tensor() : qslm::ScaleLayout::per_channel()};
        packed.push_back(qslm::value_or_throw(
            qslm::AnyPackedTensor::quantize(emb ? 1 : bits, model.matrix_weights(m), info.rows, info.cols, spec),
            "quantizing '" + info.name + "'"));
        ptrs.push_back(&packed.back());
    }
    return model.to_qslm(ptrs);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Generate the firmware header (and .qslm) of an integer-only SpikeGPT"};
    std::string input, header, qslm_out, ns = "qslm_model";
    int bits = 4;
    app.add_option("--input", input, "SpikeGPT .safetensors checkpoint or .qslm model")->required()->check(CLI::ExistingFile);
    app.add_option("--bits", bits, "weight width for a .safetensors input (1..8)")->check(CLI::Range(1, 8));
    app.add_option("--header", header, "generated header to write (e.g. out/qslm_model.hpp)")->required();
    app.add_option("--qslm", qslm_out, "also write the prepared model as .qslm (for host_run_qslm)");
    app.add_option("--namespace", ns, "C++ namespace of the generated header");
    CLI11_PARSE(app, argc, argv);
    try {
        const qslm::io::QslmModel q = is_qslm(input) ? qslm::io::load_qslm(input) : quantize_uniform(input, bits);
        const auto prepared = qslm::models::integer::PreparedIntegerSpikeGpt::prepare(q);
        qslm::io::HeaderExportOptions options;
        options.namespace_name = ns;
        options.source_name = std::filesystem::path(input).filename().string();
        options.include_vocab = false;
        const std::string text = qslm::models::integer::export_integer_spikegpt_header(*prepared, options);
        qslm::io::write_file_atomically(header, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
        if (!qslm_out.empty()) qslm::io::save_qslm(qslm_out, prepared->qslm());
        const auto f = prepared->footprint();
        const auto& l = f.arena;
        std::printf("model: L=%zu C=%zu H=%zu V=%zu\n", l.L, l.C, l.H, l.V);
        std::printf("flash (constant data, without code): %zu B = weights %zu + multipliers %zu + vectors %zu + exp2 table %zu\n",
                    f.flash_bytes(), f.weight_bytes, f.multiplier_bytes, f.vector_bytes, f.table_bytes);
        std::printf("ram: arena %zu B (membranes %zu, rwkv state %zu, activations %zu, spike buffers %zu)\n",
                    f.ram_bytes(), l.membrane_bytes(), l.rwkv_state_bytes(), l.activation_bytes(), l.spike_buffer_bytes());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_model_header: %s\n", e.what());
        return 1;
    }
    return 0;
}
