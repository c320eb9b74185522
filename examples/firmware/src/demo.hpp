#pragma once
// The demo both the firmware and the host programs run: a fixed token sequence through an
// integer SpikeGPT. Per step, one line with the argmax, the largest logit, the sum and an FNV-1a
// checksum of all int32 logits and the spike counts (embedding, then LIF1/LIF2 per block), then
// every logit (raw Q16.16 int32, `logits_per_line` to a line). Identical lines from QEMU and
// from the host prove the integer path is bit-exact across targets.

#include <cstddef>
#include <cstdint>
#include <span>

#include "int_format.hpp"
#include "qslm/core/status.hpp"
#include "qslm/models/integer_spikegpt.hpp"

namespace fw {

/// "The quick brown fox jumps over the lazy dog." as byte tokens (SpikeGPT's byte vocabulary).
inline constexpr std::uint32_t demo_tokens[] = {84, 104, 101, 32, 113, 117, 105, 99, 107, 32, 98, 114, 111, 119, 110,
                                                32, 102, 111, 120, 32, 106, 117, 109, 112, 115, 32, 111, 118, 101, 114,
                                                32, 116, 104, 101, 32, 108, 97, 122, 121, 32, 100, 111, 103, 46};
inline constexpr std::size_t max_demo_layers = 64;
inline constexpr std::size_t logits_per_line = 32;  ///< at most 12 characters each: fits LineBuffer

/// Runs the demo; `write` receives each line (with '\n'). Returns 0 on success.
template <class Model, class Write>
int run_demo(const Model& model, std::span<std::byte> arena, std::size_t steps, Write&& write) {
    LineBuffer line;
    const std::size_t L = model.dims().n_layer;
    if (L > max_demo_layers || model.check() != qslm::Status::ok || model.reset(arena) != qslm::Status::ok) {
        write("error: model check or arena failed\n");
        return 1;
    }
    std::uint32_t att[max_demo_layers] = {}, ffn[max_demo_layers] = {};
    if (steps > sizeof(demo_tokens) / sizeof(demo_tokens[0])) steps = sizeof(demo_tokens) / sizeof(demo_tokens[0]);
    for (std::size_t t = 0; t < steps; ++t) {
        const std::uint32_t token = demo_tokens[t] % static_cast<std::uint32_t>(model.dims().vocab_size);
        qslm::models::IntegerStepSpikes spikes{0, std::span<std::uint32_t>(att, L), std::span<std::uint32_t>(ffn, L)};
        if (model.step(token, arena, &spikes) != qslm::Status::ok) {
            write("error: step failed\n");
            return 1;
        }
        const auto logits = model.logits(arena);
        std::uint32_t fnv = 2166136261u;
        std::int64_t sum = 0;
        std::size_t best = 0;
        for (std::size_t v = 0; v < logits.size(); ++v) {
            const auto u = static_cast<std::uint32_t>(logits[v]);
            for (int b = 0; b < 32; b += 8) fnv = (fnv ^ ((u >> b) & 0xFFu)) * 16777619u;
            sum += logits[v];
            if (logits[v] > logits[best]) best = v;
        }
        line.clear();
        line.put("step ");
        line.put_uint(t);
        line.put(" token ");
        line.put_uint(token);
        line.put(" argmax ");
        line.put_uint(best);
        line.put(" max ");
        line.put_int(logits[best]);
        line.put(" sum ");
        line.put_int(sum);
        line.put(" fnv ");
        line.put_hex32(fnv);
        line.put(" spikes emb ");
        line.put_uint(spikes.embedding);
        for (std::size_t i = 0; i < L; ++i) {
            line.put(i == 0 ? " blocks " : " ");
            line.put_uint(att[i]);
            line.put_char('/');
            line.put_uint(ffn[i]);
        }
        line.put_char('\n');
        write(line.c_str());
        for (std::size_t v0 = 0; v0 < logits.size(); v0 += logits_per_line) {
            line.clear();
            line.put("logits ");
            line.put_uint(t);
            line.put_char(' ');
            line.put_uint(v0);
            line.put_char(':');
            for (std::size_t v = v0; v < v0 + logits_per_line && v < logits.size(); ++v) {
                line.put_char(' ');
                line.put_int(logits[v]);
            }
            line.put_char('\n');
            write(line.c_str());
        }
    }
    return 0;
}

}  // namespace fw
