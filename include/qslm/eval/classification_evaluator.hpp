#pragma once
// ClassificationEvaluator: accuracy of a classifier (e.g. SST-2 sentiment) on labelled texts,
// with the class distributions of every example for the KL sensitivity.
//
//   auto classify = [](const Variant& m, std::string_view text) -> std::vector<float> {
//       return m.class_logits(text);   // one logit per class
//   };
//   qslm::eval::ClassificationEvaluator eval(classify, 2, read_sst2_tsv(dev_path));
//
// Host-only header.

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/evaluation.hpp"
#include "qslm/eval/parallel.hpp"
#include "qslm/eval/sst2.hpp"
#include "qslm/eval/token_metrics.hpp"

namespace qslm::eval {

template <class Classifier>
class ClassificationEvaluator {
public:
    ClassificationEvaluator(Classifier classifier, std::size_t classes, std::vector<LabelledText> calibration,
                            std::vector<LabelledText> full = {})
        : classifier_(std::move(classifier)), classes_(classes), calibration_(std::move(calibration)),
          full_(std::move(full)) {
        if (classes_ < 2) fail(Status::invalid_argument, "a classifier needs at least 2 classes");
        check(calibration_, "calibration");
        if (!full_.empty()) check(full_, "full evaluation");
    }

    template <class Variant>
        requires std::invocable<const Classifier&, const Variant&, std::string_view>
    Evaluation evaluate(const Variant& model, const EvalRequest& request) const {
        const auto& examples = request.full && !full_.empty() ? full_ : calibration_;
        auto rows = parallel_map(examples.size(), request.threads, [&](std::size_t i) {
            std::vector<float> logits = classifier_(model, std::string_view(examples[i].text));
            if (logits.size() != classes_)
                fail(Status::bad_shape, "the classifier returned " + std::to_string(logits.size()) +
                                            " logits for example " + std::to_string(i) + "; expected " +
                                            std::to_string(classes_));
            log_softmax_in_place(logits);
            return logits;
        });
        std::vector<int> predictions, labels;
        Evaluation out;
        out.distributions.vocab = classes_;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            predictions.push_back(static_cast<int>(arg_max(rows[i])));
            labels.push_back(examples[i].label);
            if (request.distributions)
                out.distributions.log_probs.insert(out.distributions.log_probs.end(), rows[i].begin(), rows[i].end());
        }
        out.performance = higher_is_better(accuracy(predictions, labels), "accuracy");
        return out;
    }

private:
    void check(const std::vector<LabelledText>& examples, const char* what) const {
        if (examples.empty()) fail(Status::invalid_argument, std::string("the ") + what + " set has no examples");
        for (std::size_t i = 0; i < examples.size(); ++i)
            if (examples[i].label < 0 || static_cast<std::size_t>(examples[i].label) >= classes_)
                fail(Status::out_of_range, std::string(what) + " example " + std::to_string(i) + " has label " +
                                               std::to_string(examples[i].label) + " outside [0, " +
                                               std::to_string(classes_) + ")");
    }

    Classifier classifier_;
    std::size_t classes_;
    std::vector<LabelledText> calibration_;
    std::vector<LabelledText> full_;
};

}  // namespace qslm::eval
