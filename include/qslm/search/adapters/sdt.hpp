#pragma once
// The spike-driven transformer classifier (SdtModel, e.g. the bundled SST-2 model) as a search
// subject: the QuantizableModel adapter and an accuracy evaluator.
//
//   auto model = qslm::models::SdtModel::load("models/sdt-sst2.safetensors");
//   qslm::search::SdtSearchModel subject(model);                    // hierarchy from the checkpoint
//   auto evaluator = qslm::search::make_sdt_evaluator(model, calibration, dev);  // accuracy
//   auto result = qslm::search::Tiered<...>{options}.run(subject, evaluator, constraints);
//
// The hierarchy comes from the model's own matrix table (checkpoint names): `embed` and `head`
// are units of their own, `blocks.N` holds that block's attn.{q,k,v,proj} and mlp.{fc1,fc2}.
// Every weight matrix is searched, the embedding included: unlike SpikeGPT's binary embedding
// it is added to a learned position embedding and integrated by a LIF neuron, so its values
// (not only its signs) matter, and at 14,249 x 128 it is 82 % of the bundled model's weights.
//
// Everything else (pos_embed, the biases with the BatchNorm folded in) stays in float32, as
// SdtModel::to_qslm writes it, and is counted at 4 bytes a value. The bundled checkpoint stores
// its weight matrices (and pos_embed) as float16, but the runtime and the .qslm file hold
// float32, so float32 is what a deployment pays and the baseline the search compares with.
//
// The evaluator is eval::ClassificationEvaluator with a classifier that tokenizes each
// sentence with the model's own tokenizer and runs SdtInstance::logits; examples are split
// over threads and the result does not depend on the thread count.
//
// Host-only header.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/classification_evaluator.hpp"
#include "qslm/eval/sst2.hpp"
#include "qslm/io/sdt_model.hpp"
#include "qslm/search/hierarchy.hpp"
#include "qslm/search/model.hpp"

namespace qslm::search {

class SdtSearchModel {
public:
    /// `model` must outlive the adapter and every variant it hands out.
    explicit SdtSearchModel(const models::SdtModel& model) : model_(model) {
        const auto& matrices = model.matrices();
        std::vector<NamedShape> shapes;
        shapes.reserve(matrices.size());
        for (const auto& m : matrices) shapes.push_back({m.name, m.rows, m.cols});
        hierarchy_ = Hierarchy::from_tensor_names("sdt", shapes, 2);
        std::size_t all_values = 0;
        model.checkpoint().for_each_tensor(
            [&](const std::string&, const io::FloatTensor& t) { all_values += t.values().size(); });
        std::size_t matrix_values = 0;
        for (const auto& m : matrices) matrix_values += m.rows * m.cols;
        unsearched_bytes_ = (all_values - matrix_values) * sizeof(float);
    }

    [[nodiscard]] const Hierarchy& hierarchy() const noexcept { return hierarchy_; }
    [[nodiscard]] std::span<const float> module_weights(std::size_t m) const { return model_.matrix_weights(matrix_index(m)); }
    /// pos_embed and the biases, in float32 (see the header comment).
    [[nodiscard]] std::size_t unsearched_bytes() const noexcept { return unsearched_bytes_; }

    /// A runnable model whose quantized modules read the dequantized weights of `w` (which must
    /// outlive the returned instance; the search keeps them alive while it evaluates).
    [[nodiscard]] models::SdtInstance quantized(const QuantizedWeights& w) const {
        if (w.size() != hierarchy_.module_count())
            fail(Status::bad_shape, "SDT adapter: setting has " + std::to_string(w.size()) + " modules, expected " +
                                        std::to_string(hierarchy_.module_count()));
        std::vector<std::span<const float>> replacements(model_.matrices().size());
        for (std::size_t m = 0; m < w.size(); ++m)
            if (!w.is_float(m)) replacements[matrix_index(m)] = w.dequantized(m);
        return model_.instance(replacements);
    }

    /// The model's matrix index of searched module m (every matrix is searched, in order).
    [[nodiscard]] static constexpr std::size_t matrix_index(std::size_t module) noexcept { return module; }
    [[nodiscard]] const models::SdtModel& model() const noexcept { return model_; }

private:
    const models::SdtModel& model_;
    Hierarchy hierarchy_{"sdt"};
    std::size_t unsearched_bytes_ = 0;
};
static_assert(QuantizableModel<SdtSearchModel>);

/// Class logits of a sentence: the model's tokenizer, then SdtInstance::logits. The tokenizer
/// (owned by the SdtModel) must outlive the classifier.
struct SdtClassifier {
    const models::SdtTokenizer* tokenizer = nullptr;

    std::vector<float> operator()(const models::SdtInstance& model, std::string_view text) const {
        if (tokenizer == nullptr) fail(Status::invalid_argument, "SDT classifier: no tokenizer");
        return model.logits(tokenizer->encode(text));
    }
};

using SdtEvaluator = eval::ClassificationEvaluator<SdtClassifier>;

/// Accuracy on labelled sentences (calibration set, and a larger full set for the search's
/// final check). Throws when the model has no vocabulary (it cannot tokenize text) or a label
/// is outside the model's classes.
inline SdtEvaluator make_sdt_evaluator(const models::SdtModel& model, std::vector<eval::LabelledText> calibration,
                                       std::vector<eval::LabelledText> full = {}) {
    return SdtEvaluator(SdtClassifier{&model.tokenizer()}, model.config().n_classes, std::move(calibration),
                        std::move(full));
}

/// `count` examples spread evenly over `examples` (every examples.size() / count-th, starting
/// with the first), in their order; all of them when count is 0 or not smaller. A spread
/// rather than the first `count`, so that a file sorted by source or label still gives a
/// representative slice.
inline std::vector<eval::LabelledText> spread_examples(const std::vector<eval::LabelledText>& examples, std::size_t count) {
    if (count == 0 || count >= examples.size()) return examples;
    std::vector<eval::LabelledText> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) out.push_back(examples[i * examples.size() / count]);
    return out;
}

}  // namespace qslm::search
