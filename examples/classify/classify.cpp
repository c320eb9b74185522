// classify: sentiment of a sentence with the bundled SST-2 spike-driven transformer.
//
//   classify "a gorgeous , witty , seductive movie ."
//   classify --json "the plot is thin and the acting worse"
//
// The vocabulary and the tokenizer rule come from the model file's metadata.
#include <cmath>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <qslm/io/sdt_model.hpp>

int main(int argc, char** argv) {
    CLI::App app{"Classify the sentiment of sentences with a spike-driven transformer (SST-2)."};
    std::vector<std::string> sentences;
    std::string model_path = QSLM_DEFAULT_SDT_MODEL;
    bool as_json = false;
    app.add_option("sentences", sentences, "sentences to classify (none: read one per line from stdin)");
    app.add_option("-m,--model", model_path, "spike-driven transformer .safetensors")->capture_default_str();
    app.add_flag("--json", as_json, "print JSON lines (text, tokens, logits, label)");
    CLI11_PARSE(app, argc, argv);

    try {
        const auto model = qslm::models::SdtModel::load(model_path);
        if (sentences.empty())
            for (std::string line; std::getline(std::cin, line);) sentences.push_back(line);
        for (const auto& text : sentences) {
            const auto tokens = model.tokenizer().encode(text);
            const auto r = model.classify_tokens(tokens);
            // Probability of the predicted class (softmax of the logits).
            double z = 0.0;
            for (const float l : r.logits) z += std::exp(static_cast<double>(l - r.logits[r.label]));
            const double p = 1.0 / z;
            if (as_json) {
                nlohmann::json j = {{"text", text}, {"tokens", tokens}, {"logits", r.logits},
                                    {"label", r.label}, {"label_name", r.label_name}, {"probability", p}};
                std::cout << j.dump() << '\n';
            } else {
                std::printf("%-8s %.3f  %s\n", r.label_name.c_str(), p, text.c_str());
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "classify: %s\n", e.what());
        return 1;
    }
    return 0;
}
