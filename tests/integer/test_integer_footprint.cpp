// models/integer/footprint.hpp: the flash and RAM an integer SpikeGPT needs, from its shape and
// formats, against hand-derived numbers and against the bytes a prepared model actually holds.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "qslm/models/integer/footprint.hpp"
#include "qslm/io/integer/prepare_spikegpt.hpp"
#include "qslm/io/spikegpt_model.hpp"

using namespace qslm;
namespace mi = qslm::models::integer;

namespace {

// The bundled models/spikegpt.safetensors: V 256, C 256, H 1024, 6 blocks.
constexpr models::IntegerSpikeGptDims bundled{256, 256, 1024, 6};
constexpr mi::IntegerSpikeGptFootprint bundled_4bit = mi::integer_spikegpt_footprint_uniform(bundled, {4, ScaleLayout::per_channel(), false});

// By hand: per block 5 C x C matrices + H x C + C x H = 851,968 weights; 6 blocks + head
// (65,536) at 4 bits = 2,588,672 bytes, + the 1-bit embedding 8,192. Scale groups (rows): per
// block 4 C + H + C + C = 2,560, x 6 + head 256 = 15,616 multipliers of 4 bytes. Vectors:
// 4 * 256 * (4 + 11 * 6). Table: 257 int32.
static_assert(bundled_4bit.weight_bytes == 2'596'864);
static_assert(bundled_4bit.multiplier_bytes == 62'464);
static_assert(bundled_4bit.vector_bytes == 71'680);
static_assert(bundled_4bit.table_bytes == 1'028);
static_assert(bundled_4bit.flash_bytes() == 2'732'036);
// Arena: per block att_x, ffn_x (4 C each) + aa, bb, pp, v1, v2 (4 C each) = 28 C; 6 blocks
// = 43,008. Activations: x, k (max(C, H)), v, r, logits (V) int32 = 8,192; xa, xk, xv, xr, y
// = 5 KiB; hidden 4 H = 4 KiB: 17,408.
static_assert(bundled_4bit.arena.state_bytes() == 43'008);
static_assert(bundled_4bit.arena.membrane_bytes() == 12'288);
static_assert(bundled_4bit.arena.activation_bytes() == 17'408);
static_assert(bundled_4bit.ram_bytes() == 60'416);
static_assert(bundled_4bit.ram_bytes() == models::integer_spikegpt_arena_bytes(6, 256, 1024, 256));

const std::filesystem::path tiny_model = std::filesystem::path(QSLM_SOURCE_DIR) / "models" / "tiny" / "spikegpt-tiny-s1.safetensors";

io::QslmModel quantized_tiny(int bits, QuantSpec spec) {
    const auto fm = models::SpikeGptModel::load(tiny_model);
    std::vector<AnyPackedTensor> packed;
    packed.reserve(fm.matrices().size());
    std::vector<const AnyPackedTensor*> ptrs;
    for (std::size_t m = 0; m < fm.matrices().size(); ++m) {
        const auto& info = fm.matrices()[m];
        const bool emb = std::string(info.kind) == "embedding";
        packed.push_back(value_or_throw(AnyPackedTensor::quantize(emb ? 1 : bits, fm.matrix_weights(m), info.rows, info.cols,
                                                                  emb ? QuantSpec{ScaleLayout::per_tensor()} : spec)));
        ptrs.push_back(&packed.back());
    }
    return fm.to_qslm(ptrs);
}

}  // namespace

TEST_CASE("the footprint equals the bytes a prepared integer model holds") {
    const int bits = GENERATE(8, 4, 3, 2);
    const QuantSpec spec = GENERATE(QuantSpec{ScaleLayout::per_channel()}, QuantSpec{ScaleLayout::per_group(8), true});
    const auto prepared = mi::PreparedIntegerSpikeGpt::prepare(quantized_tiny(bits, spec));
    const auto model = prepared->model();
    const mi::IntegerSpikeGptFootprint f = prepared->footprint();
    INFO("bits " << bits << ", zero points " << spec.zero_point);
    CHECK(f.weight_bytes == model.matrix_bytes());
    CHECK(f.multiplier_bytes + f.vector_bytes == model.vector_bytes());
    CHECK(f.ram_bytes() == model.arena_bytes());
    // The uniform form gives the same numbers as the per-matrix one.
    const auto u = mi::integer_spikegpt_footprint_uniform(model.dims(), {bits, spec.layout, spec.zero_point && bits > 1});
    CHECK(u.flash_bytes() == f.flash_bytes());
    CHECK(u.weight_bytes == f.weight_bytes);
    // And the weight bytes are the packed payloads and zero points the .qslm file stores.
    std::size_t stored = 0;
    for (const auto& t : prepared->qslm().tensors)
        if (t.is_packed()) stored += t.payload.size() + 2 * t.zero_points.size();
    CHECK(f.weight_bytes == stored);
}

TEST_CASE("the per-matrix footprint adds up mixed widths and refuses bad input with a reason") {
    std::vector<mi::IntegerMatrixFormat> formats(2 + 7 * bundled.n_layer, mi::IntegerMatrixFormat{4, ScaleLayout::per_channel(), false});
    formats[0] = mi::binary_embedding_format;
    const auto same = mi::integer_spikegpt_footprint(bundled, formats);
    REQUIRE(same.ok());
    CHECK(same->flash_bytes() == bundled_4bit.flash_bytes());
    formats[5] = {2, ScaleLayout::per_channel(), false};  // block 0 ffn.key (1024 x 256) at 2 bits
    const auto mixed = mi::integer_spikegpt_footprint(bundled, formats);
    REQUIRE(mixed.ok());
    CHECK(bundled_4bit.weight_bytes - mixed->weight_bytes == 1024 * 256 / 4);

    formats[3].bits = 9;
    auto bad = mi::integer_spikegpt_footprint(bundled, formats);
    CHECK(bad.status() == Status::bad_bit_width);
    CHECK(std::string(bad.message()).find("1..8") != std::string::npos);
    formats.pop_back();
    bad = mi::integer_spikegpt_footprint(bundled, formats);
    CHECK(bad.status() == Status::bad_shape);
    CHECK(std::string(bad.message()).find("one format per weight matrix") != std::string::npos);
    CHECK(mi::integer_spikegpt_footprint({256, 0, 1024, 6}, formats).status() == Status::bad_shape);
}
