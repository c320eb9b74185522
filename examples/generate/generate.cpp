// generate: continue a prompt with the bundled byte-level SpikeGPT, one token at a time.
//
//   generate "The meaning of life is" --tokens 200 --temperature 0.8 --top-p 0.9 --seed 1
//
// The model runs in streaming (RNN) mode: the prompt's bytes are fed one by one, then each
// sampled byte is fed back. Memory is constant per token (7 floats per channel per block).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <qslm/models.hpp>
#include <qslm/io/spikegpt_model.hpp>

int main(int argc, char** argv) {
    CLI::App app{"Continue a prompt with a byte-level SpikeGPT (streaming, spiking RWKV)."};
    std::string prompt = "The ";
    std::string model_path = QSLM_DEFAULT_SPIKEGPT_MODEL;
    std::size_t tokens = 200;
    float temperature = 0.8f;
    float top_p = 0.9f;
    std::uint64_t seed = 1;
    std::string embedding = "auto";
    app.add_option("prompt", prompt, "text to continue (its UTF-8 bytes are the first tokens)");
    app.add_option("-m,--model", model_path, "SpikeGPT .safetensors or .qslm file")->capture_default_str();
    app.add_option("-n,--tokens", tokens, "bytes to generate")->capture_default_str()->check(CLI::Range(0, 1000000));
    app.add_option("-t,--temperature", temperature, "0 = greedy")->capture_default_str()->check(CLI::Range(0.0, 100.0));
    app.add_option("-p,--top-p", top_p, "nucleus sampling mass (1 = off)")->capture_default_str()->check(CLI::Range(0.0, 1.0));
    app.add_option("-s,--seed", seed, "sampling seed")->capture_default_str();
    app.add_option("--embedding", embedding, "auto (as trained), binary or float")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "binary", "float"}));
    CLI11_PARSE(app, argc, argv);

    try {
        qslm::models::SpikeGptLoadOptions lo;
        if (embedding != "auto") lo.binary_embedding = embedding == "binary";
        const auto owner = qslm::models::SpikeGptModel::load(model_path, lo);
        if (owner.vocab_size() != 256) {
            std::fprintf(stderr, "generate: %s has a vocabulary of %zu tokens; this example needs a byte-level model (256)\n",
                         model_path.c_str(), owner.vocab_size());
            return 2;
        }
        if (prompt.empty()) prompt = "\n";
        const auto instance = owner.instance();
        const qslm::models::SpikeGpt& model = instance.model();
        // Caller-owned buffers: what a firmware would place in static memory.
        std::vector<float> state(model.state_floats()), scratch(model.scratch_floats()), logits(model.vocab_size());
        std::vector<float> probs(model.vocab_size());
        std::vector<std::uint32_t> order(model.vocab_size());
        qslm::models::SpikeGptStream stream(model, state, scratch, logits);
        qslm::models::SmallRng rng(seed);
        const qslm::models::SamplingOptions sampling{.temperature = temperature, .top_p = top_p};
        if (stream.reset() != qslm::Status::ok) throw qslm::Error(qslm::Status::invalid_argument, "cannot reset the model");

        std::fwrite(prompt.data(), 1, prompt.size(), stdout);
        std::span<const float> next;
        for (const char c : prompt) {
            auto r = stream.step(static_cast<std::uint32_t>(static_cast<unsigned char>(c)));
            if (!r) throw qslm::Error(r.status(), r.message());
            next = *r;
        }
        for (std::size_t i = 0; i < tokens; ++i) {
            auto tok = qslm::models::sample_token(next, sampling, rng, probs, order);
            if (!tok) throw qslm::Error(tok.status(), tok.message());
            const char byte = static_cast<char>(*tok);
            std::fwrite(&byte, 1, 1, stdout);
            auto r = stream.step(*tok);
            if (!r) throw qslm::Error(r.status(), r.message());
            next = *r;
        }
        std::fputc('\n', stdout);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "generate: %s\n", e.what());
        return 1;
    }
    return 0;
}
