#pragma once
// SdtModel: host-side owner of a spike-driven transformer classifier (tools/train/sdt.py's
// export: BatchNorm folded, names in docs/models.md), with its tokenizer and labels from the
// file's metadata. Like SpikeGptModel it lists its weight matrices and hands out cheap
// instances in which any of them can be replaced (for the quantizer search).
//
//   auto m = qslm::models::SdtModel::load("models/sdt_sst2.safetensors");
//   auto r = m.classify("a gorgeous , witty , seductive movie .");   // r.label, r.logits
//
// It also reads and writes the .qslm form (to_qslm / load of a .qslm file), so that what the
// quantizer search writes can be loaded, checked against its test vector and evaluated again.
// The .qslm convention for this model: config JSON with model_type "sdt", format
// "qslm-sdt-v1", vocab_size, max_len, dim, n_layer, mlp_hidden, n_classes, T, tau,
// v_threshold, v_reset, attn_threshold and labels; tensors under the checkpoint names (the
// 2 + 6L weight matrices packed or float32, pos_embed and every bias float32, vectors 1 x n);
// the word list in the vocab section and the tokenizer metadata as the tokenizer section; the
// test vector is the logits of one sentence.
//
// Host-only header.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/io/model_kind.hpp"
#include "qslm/io/qslm_model.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/safetensors_writer.hpp"
#include "qslm/io/sdt_checkpoint.hpp"
#include "qslm/io/sdt_tokenizer.hpp"
#include "qslm/models/spike_driven_encoder.hpp"
#include "qslm/io/spikegpt_model.hpp"  // MatrixInfo, no_block
#include "qslm/tensor/any_packed_tensor.hpp"

namespace qslm::models {

struct Classification {
    std::vector<float> logits;
    std::size_t label = 0;    ///< arg max of the logits
    std::string label_name;   ///< from the "labels" metadata, or the number
};

/// A runnable encoder over weights owned elsewhere; copyable; const methods thread-safe.
/// By default it holds the six weight matrices of every block transposed as well (shared by its
/// copies; 4D² + 2DH floats per block), so the encoder's spike-input linears run event-driven
/// over the columns of the inputs that fired, bit-identical to the row walk and several times
/// faster; with_row_walk() gives the same instance without them (the reference).
class SdtInstance {
public:
    SdtInstance(SdtWeights weights, std::vector<SdtBlockWeights> blocks, SdtOptions options, bool event_columns = true)
        : weights_(weights), blocks_(std::move(blocks)), options_(options) {
        if (event_columns) build_columns();
        rebuild();
    }
    SdtInstance(const SdtInstance& o) : weights_(o.weights_), blocks_(o.blocks_), options_(o.options_), columns_(o.columns_) { rebuild(); }
    SdtInstance(SdtInstance&&) noexcept = default;
    SdtInstance& operator=(const SdtInstance& o) {
        if (this != &o) {
            weights_ = o.weights_;
            blocks_ = o.blocks_;
            options_ = o.options_;
            columns_ = o.columns_;
            rebuild();
        }
        return *this;
    }
    SdtInstance& operator=(SdtInstance&&) noexcept = default;

    /// The same weights run by the row walk (no transposed copies): the float loop the
    /// column path is checked and benchmarked against.
    [[nodiscard]] SdtInstance with_row_walk() const {
        SdtInstance c(*this);
        for (auto& b : c.blocks_) b.q_columns = b.k_columns = b.v_columns = b.proj_columns = b.fc1_columns = b.fc2_columns = {};
        c.columns_.reset();
        c.rebuild();
        return c;
    }
    [[nodiscard]] bool event_columns() const noexcept { return columns_ != nullptr; }

    [[nodiscard]] const SpikeDrivenEncoder& encoder() const noexcept { return encoder_; }

    /// Class logits for token ids (1..max_len). `spike_counts`, when given, receives the
    /// encoder's per-site counts (SpikeDrivenEncoder::spike_count_entries()).
    [[nodiscard]] std::vector<float> logits(std::span<const std::uint32_t> tokens,
                                            std::vector<std::uint32_t>* spike_counts = nullptr) const {
        if (tokens.empty() || tokens.size() > encoder_.max_tokens())
            fail(Status::bad_shape, "SDT: a sentence needs 1.." + std::to_string(encoder_.max_tokens()) + " tokens, got " +
                                        std::to_string(tokens.size()));
        for (std::size_t i = 0; i < tokens.size(); ++i)
            if (tokens[i] >= weights_.vocab_size)
                fail(Status::out_of_range, "SDT: token " + std::to_string(i) + " is " + std::to_string(tokens[i]) +
                                               ", outside the vocabulary of " + std::to_string(weights_.vocab_size));
        std::vector<float> work(encoder_.work_floats(tokens.size())), out(encoder_.n_classes());
        std::vector<std::uint8_t> spikes(encoder_.spike_bytes(tokens.size()));
        if (spike_counts) spike_counts->assign(encoder_.spike_count_entries(), 0);
        throw_if_failed(encoder_.forward(tokens, work, spikes, out, nullptr,
                                         spike_counts ? std::span<std::uint32_t>(*spike_counts) : std::span<std::uint32_t>{}),
                        "SDT forward failed");
        return out;
    }

private:
    void rebuild() {
        weights_.blocks = blocks_;
        encoder_ = value_or_throw(SpikeDrivenEncoder::make(weights_, options_), "SDT");
    }
    // Transposes the six matrices of every block into one shared buffer and points the blocks'
    // *_columns spans at it.
    void build_columns() {
        const std::size_t D = weights_.dim, H = weights_.mlp_hidden;
        auto buf = std::make_shared<std::vector<float>>(blocks_.size() * (4 * D * D + 2 * D * H));
        float* p = buf->data();
        auto put = [&](std::span<const float> w, std::size_t rows, std::size_t cols) {
            const std::span<float> out(p, rows * cols);
            throw_if_failed(transpose_sdt_weight(w, rows, cols, out), "SDT: a weight matrix has the wrong size");
            p += rows * cols;
            return std::span<const float>(out);
        };
        for (auto& b : blocks_) {
            b.q_columns = put(b.q_weight, D, D);
            b.k_columns = put(b.k_weight, D, D);
            b.v_columns = put(b.v_weight, D, D);
            b.proj_columns = put(b.proj_weight, D, D);
            b.fc1_columns = put(b.fc1_weight, H, D);
            b.fc2_columns = put(b.fc2_weight, D, H);
        }
        columns_ = std::move(buf);
    }
    SdtWeights weights_{};
    std::vector<SdtBlockWeights> blocks_;
    SdtOptions options_{};
    std::shared_ptr<const std::vector<float>> columns_;  // the transposed weights, shared by copies
    SpikeDrivenEncoder encoder_{};
};

class SdtModel {
public:
    /// A .safetensors checkpoint or a .qslm file (whose test vector is checked unless
    /// `verify_test_vector` is false).
    static SdtModel load(const std::filesystem::path& path, bool verify_test_vector = true) {
        if (io::is_qslm_file(path)) {
            const io::QslmModel q = io::load_qslm(path);
            SdtModel m = from_qslm(q);
            if (verify_test_vector && q.test_vector) m.verify(q, path.string());
            return m;
        }
        return from_checkpoint(io::load_sdt_checkpoint(path));
    }

    /// From a parsed .qslm (the convention in the header comment): packed tensors are
    /// dequantized and everything goes through io::load_sdt_checkpoint, so both file kinds get
    /// the same validation and the same messages.
    static SdtModel from_qslm(const io::QslmModel& q) {
        nlohmann::json cfg;
        try {
            cfg = q.config();
        } catch (const std::exception& e) {
            fail(Status::corrupt_data, std::string(".qslm config is not JSON: ") + e.what());
        }
        if (!cfg.is_object()) fail(Status::corrupt_data, ".qslm config is not a JSON object");
        if (!cfg.contains("model_type") || cfg["model_type"] != "sdt")
            fail(Status::invalid_argument, ".qslm file holds a " +
                                               (cfg.contains("model_type") ? "'" + cfg["model_type"].dump() + "'" : std::string("untyped")) +
                                               " model, not a spike-driven transformer (model_type \"sdt\")");
        io::SafetensorsWriter w;
        for (const auto& t : q.tensors) {
            std::vector<float> values;
            try {
                values = t.dequantize();
            } catch (const Error& e) {
                fail(e.code(), "tensor '" + t.name + "': " + e.what());
            }
            std::vector<std::uint64_t> shape;
            if (t.name.ends_with(".weight")) shape = {t.rows, t.cols};
            else shape = {t.rows * t.cols};
            w.add_f32(t.name, shape, values);
        }
        nlohmann::json config = nlohmann::json::object();
        for (const char* key : {"vocab_size", "max_len", "dim", "n_layer", "n_classes", "T", "tau", "v_threshold", "v_reset",
                                "attn_threshold"})
            if (cfg.contains(key)) config[key] = cfg[key];
        w.set_metadata("config", config.dump());
        w.set_metadata("bn_folded", "true");
        if (!q.vocab.empty()) w.set_metadata("vocab", nlohmann::json(q.vocab).dump());
        if (cfg.contains("labels")) w.set_metadata("labels", cfg["labels"].dump());
        if (!q.tokenizer_json.empty()) w.set_metadata("tokenizer", q.tokenizer_json);
        const std::vector<std::uint8_t> bytes = w.to_bytes();
        return from_checkpoint(io::load_sdt_checkpoint(io::SafetensorsFile::parse(std::span<const std::uint8_t>(bytes), ".qslm model")));
    }

    static SdtModel from_checkpoint(io::SdtCheckpoint ck) {
        SdtModel m;
        m.ck_ = std::move(ck);
        const auto& c = m.ck_.config;
        m.options_.time_steps = c.time_steps;
        m.options_.lif.tau = c.tau;
        m.options_.lif.v_threshold = c.v_threshold;
        m.options_.lif.v_reset = c.v_reset;
        m.options_.attn_threshold = c.attn_threshold;
        if (!m.ck_.vocab.empty()) m.tokenizer_ = SdtTokenizer(m.ck_.vocab, c.max_len);
        m.build_matrix_table();
        (void)m.instance();
        return m;
    }

    [[nodiscard]] const io::SdtConfig& config() const noexcept { return ck_.config; }
    [[nodiscard]] const SdtOptions& options() const noexcept { return options_; }
    [[nodiscard]] const io::SdtCheckpoint& checkpoint() const noexcept { return ck_; }
    [[nodiscard]] bool has_tokenizer() const noexcept { return !ck_.vocab.empty(); }
    [[nodiscard]] const SdtTokenizer& tokenizer() const {
        if (!has_tokenizer()) fail(Status::not_found, "SDT model: the file has no 'vocab' metadata, so text cannot be tokenized");
        return tokenizer_;
    }
    [[nodiscard]] std::string label_name(std::size_t label) const {
        return label < ck_.labels.size() ? ck_.labels[label] : std::to_string(label);
    }

    /// embed, then per block attn.q/k/v/proj, mlp.fc1/fc2, then head.
    [[nodiscard]] const std::vector<MatrixInfo>& matrices() const noexcept { return matrices_; }
    [[nodiscard]] std::span<const float> matrix_weights(std::size_t m) const {
        check_index(m);
        return overrides_[m] ? std::span<const float>(*overrides_[m]) : tensor_of(const_cast<io::SdtCheckpoint&>(ck_), m).values();
    }
    void set_matrix(std::size_t m, std::vector<float> values) {
        check_index(m);
        check_size(m, values.size());
        overrides_[m] = std::move(values);
    }
    void set_matrix(std::size_t m, const AnyPackedTensor& packed) {
        check_index(m);
        check_size(m, packed.rows() * packed.cols());
        if (packed.rows() != matrices_[m].rows)
            fail(Status::bad_shape, matrices_[m].name + ": the packed tensor has " + std::to_string(packed.rows()) + " rows, the model needs " +
                                        std::to_string(matrices_[m].rows));
        std::vector<float> v(packed.rows() * packed.cols());
        throw_if_failed(packed.visit([&](const auto& t) { return t.view().dequantize(std::span<float>(v)); }),
                        "cannot dequantize", matrices_[m].name);
        overrides_[m] = std::move(v);
    }
    void reset_matrix(std::size_t m) {
        check_index(m);
        overrides_[m].reset();
    }

    /// `replacements`: empty, or one span per matrix (empty span = the model's current weights).
    [[nodiscard]] SdtInstance instance(std::span<const std::span<const float>> replacements = {}) const {
        if (!replacements.empty() && replacements.size() != matrices_.size())
            fail(Status::bad_shape, "SDT instance: pass no replacements or one per matrix (" + std::to_string(matrices_.size()) + ")");
        auto pick = [&](std::size_t m) {
            if (!replacements.empty() && !replacements[m].empty()) {
                check_size(m, replacements[m].size());
                return replacements[m];
            }
            return matrix_weights(m);
        };
        const auto& c = ck_.config;
        SdtWeights w;
        w.vocab_size = c.vocab_size;
        w.max_len = c.max_len;
        w.dim = c.dim;
        w.mlp_hidden = c.mlp_hidden;
        w.n_classes = c.n_classes;
        w.embed = pick(0);
        w.pos_embed = ck_.pos_embed.values();
        w.head_weight = pick(matrices_.size() - 1);
        w.head_bias = ck_.head_bias.values();
        std::vector<SdtBlockWeights> blocks(c.n_layer);
        for (std::size_t i = 0; i < c.n_layer; ++i) {
            const auto& b = ck_.blocks[i];
            auto& o = blocks[i];
            const std::size_t base = 1 + 6 * i;
            o.q_weight = pick(base + 0);
            o.k_weight = pick(base + 1);
            o.v_weight = pick(base + 2);
            o.proj_weight = pick(base + 3);
            o.fc1_weight = pick(base + 4);
            o.fc2_weight = pick(base + 5);
            o.q_bias = b.q_bias.values();
            o.k_bias = b.k_bias.values();
            o.v_bias = b.v_bias.values();
            o.proj_bias = b.proj_bias.values();
            o.fc1_bias = b.fc1_bias.values();
            o.fc2_bias = b.fc2_bias.values();
        }
        return SdtInstance(w, std::move(blocks), options_);
    }

    /// The model as a .qslm image (the convention in the header comment). `packed` is empty or
    /// one entry per matrix: a non-null entry is stored packed, the others as float32 (current
    /// weights). The test vector (default: "a gorgeous , witty , seductive movie ." through the
    /// tokenizer, or ids 1..8 without one) holds the logits computed from what the file will hold.
    [[nodiscard]] io::QslmModel to_qslm(const std::vector<const AnyPackedTensor*>& packed = {},
                                        std::vector<std::uint32_t> test_tokens = {}) const {
        if (!packed.empty() && packed.size() != matrices_.size())
            fail(Status::bad_shape, "to_qslm: pass no packed tensors or one (possibly null) per matrix (" +
                                        std::to_string(matrices_.size()) + ")");
        if (test_tokens.empty()) {
            if (has_tokenizer()) {
                test_tokens = tokenizer_.encode("a gorgeous , witty , seductive movie .");
            } else {
                for (std::uint32_t i = 1; i <= 8 && i <= config().max_len; ++i)
                    test_tokens.push_back(i % static_cast<std::uint32_t>(config().vocab_size));
            }
        }
        SdtModel copy = *this;
        const auto& c = config();
        io::QslmModel q;
        nlohmann::json cfg = {{"model_type", "sdt"},
                              {"format", "qslm-sdt-v1"},
                              {"vocab_size", c.vocab_size},
                              {"max_len", c.max_len},
                              {"dim", c.dim},
                              {"n_layer", c.n_layer},
                              {"mlp_hidden", c.mlp_hidden},
                              {"n_classes", c.n_classes},
                              {"T", c.time_steps},
                              {"tau", c.tau},
                              {"v_threshold", c.v_threshold},
                              {"v_reset", c.v_reset},
                              {"attn_threshold", c.attn_threshold}};
        if (!ck_.labels.empty()) cfg["labels"] = ck_.labels;
        q.config_json = cfg.dump();
        if (const auto it = ck_.metadata.find("tokenizer"); it != ck_.metadata.end()) q.tokenizer_json = it->second;
        q.vocab = ck_.vocab;
        std::size_t next_matrix = 0;
        ck_.for_each_tensor([&](const std::string& name, const io::FloatTensor& t) {
            if (next_matrix < matrices_.size() && matrices_[next_matrix].name == name) {
                const std::size_t m = next_matrix++;
                if (!packed.empty() && packed[m] != nullptr) {
                    q.add(io::QslmTensor::from_any(name, *packed[m]));
                    copy.set_matrix(m, *packed[m]);
                    return;
                }
                q.add(io::QslmTensor::from_floats(name, matrices_[m].rows, matrices_[m].cols, matrix_weights(m)));
                return;
            }
            q.add(io::QslmTensor::from_floats(name, t.rows(), t.cols(), t.values()));
        });
        if (next_matrix != matrices_.size())
            fail(Status::bad_shape, "to_qslm: the checkpoint order does not match the matrix table");
        io::QslmTestVector tv;
        tv.expected = copy.instance().logits(test_tokens);
        tv.input = std::move(test_tokens);
        tv.abs_tolerance = 1e-4f;
        tv.rel_tolerance = 1e-4f;
        q.test_vector = std::move(tv);
        return q;
    }

    /// Runs a .qslm file's test vector through this model (corrupt_data when it differs).
    void verify(const io::QslmModel& q, const std::string& name = "model") const {
        io::verify_qslm(
            q, [&](const io::QslmModel&, std::span<const std::uint32_t> input) { return instance().logits(input); }, name);
    }

    [[nodiscard]] Classification classify(std::string_view text) const { return classify_tokens(tokenizer().encode(text)); }
    [[nodiscard]] Classification classify_tokens(std::span<const std::uint32_t> tokens) const {
        Classification r;
        r.logits = instance().logits(tokens);
        for (std::size_t k = 1; k < r.logits.size(); ++k)
            if (r.logits[k] > r.logits[r.label]) r.label = k;
        r.label_name = label_name(r.label);
        return r;
    }

private:
    static io::FloatTensor& tensor_of(io::SdtCheckpoint& ck, std::size_t m) {
        if (m == 0) return ck.embed;
        if (m == 1 + 6 * ck.blocks.size()) return ck.head_weight;
        auto& b = ck.blocks[(m - 1) / 6];
        switch ((m - 1) % 6) {
            case 0: return b.q_weight;
            case 1: return b.k_weight;
            case 2: return b.v_weight;
            case 3: return b.proj_weight;
            case 4: return b.fc1_weight;
            default: return b.fc2_weight;
        }
    }
    void build_matrix_table() {
        matrices_.clear();
        const auto& c = ck_.config;
        matrices_.push_back({"embed.weight", c.vocab_size, c.dim, no_block, "embedding"});
        static constexpr std::pair<const char*, const char*> names[6] = {
            {"attn.q.weight", "q"}, {"attn.k.weight", "k"}, {"attn.v.weight", "v"},
            {"attn.proj.weight", "proj"}, {"mlp.fc1.weight", "fc1"}, {"mlp.fc2.weight", "fc2"}};
        for (std::size_t i = 0; i < c.n_layer; ++i)
            for (const auto& [n, kind] : names) {
                const auto& t = tensor_of(ck_, matrices_.size());
                matrices_.push_back({"blocks." + std::to_string(i) + "." + n, t.rows(), t.cols(), i, kind});
            }
        matrices_.push_back({"head.weight", c.n_classes, c.dim, no_block, "head"});
        overrides_.assign(matrices_.size(), std::nullopt);
    }
    void check_index(std::size_t m) const {
        if (m >= matrices_.size())
            fail(Status::out_of_range, "the SDT model has " + std::to_string(matrices_.size()) + " weight matrices; index " +
                                           std::to_string(m) + " does not exist");
    }
    void check_size(std::size_t m, std::size_t n) const {
        if (n != matrices_[m].rows * matrices_[m].cols)
            fail(Status::bad_shape, matrices_[m].name + ": replacement has " + std::to_string(n) + " values, the matrix is " +
                                        std::to_string(matrices_[m].rows) + " x " + std::to_string(matrices_[m].cols));
    }

    io::SdtCheckpoint ck_;
    SdtOptions options_{};
    SdtTokenizer tokenizer_;
    std::vector<MatrixInfo> matrices_;
    std::vector<std::optional<std::vector<float>>> overrides_;
};

}  // namespace qslm::models
