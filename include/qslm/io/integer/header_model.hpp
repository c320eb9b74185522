#pragma once
// Generated-header support for the integer SpikeGPT: the model part that io::export_header's
// `model_emitter` hook appends after the weight arrays, so a firmware image holds the whole
// model as constexpr data with every matrix's width a compile-time constant:
//
//   namespace <ns> {
//     ... io::export_header's arrays, PackedTensorViews and struct Weights ...
//     namespace integer_data { Q16 vectors and PackedMultiplier arrays }
//     using IntegerParams = qslm::models::IntegerSpikeGptParams<StaticMatrix<PackedTensorView<B, E>>, ...,
//                                                               std::tuple<block types...>>;
//     inline constexpr IntegerParams integer_params{...};
//     using IntegerModel = qslm::models::IntegerSpikeGpt<IntegerParams>;
//     inline constexpr IntegerModel integer_model{integer_params};
//     static_assert(integer_model.check() == qslm::Status::ok, ...);
//     inline constexpr std::size_t integer_arena_bytes = integer_spikegpt_arena_bytes(L, C, H, V);
//   }
//
// The integer values are exactly those of PreparedIntegerSpikeGpt (the run-time path), so a
// firmware build and the host's RuntimeIntegerSpikeGpt compute the same bits.
//
// Host-only header.

#include <cstdio>
#include <string>
#include <vector>

#include "qslm/io/header_export.hpp"
#include "qslm/io/integer/prepare_spikegpt.hpp"

namespace qslm::models::integer {

namespace detail {

inline std::string view_type(const io::QslmTensor& t) {
    return "qslm::PackedTensorView<" + std::to_string(t.bits) + ", " + io::detail::encoding_type(t.encoding) + ">";
}
inline std::string matrix_type(const io::QslmTensor& t) {
    return "qslm::layers::integer::StaticMatrix<" + view_type(t) + ">";
}

class IntegerEmitter {
public:
    IntegerEmitter(const PreparedIntegerSpikeGpt& p, const io::HeaderSymbols& s) : p_(p), s_(s) {}

    std::string emit() {
        const auto& d = p_.dims();
        const auto& q = p_.qslm();
        std::string data = "// ---- integer-only model (qslm::models::IntegerSpikeGpt): Q16 vectors, requantization multipliers\n";
        data += "namespace integer_data {\n";
        std::string blocks_type = "std::tuple<";
        std::string blocks_init = "std::tuple<";
        std::string block_types;
        std::string block_values;
        for (std::size_t i = 0; i < d.n_layer; ++i) {
            const std::string p = "blocks." + std::to_string(i) + ".";
            std::string type = "qslm::layers::integer::SpikeGptBlockParams<";
            for (int m = 0; m < 7; ++m)
                type += (m ? ", " : "") + matrix_type(q.tensor(p + block_matrix_suffix[m]));
            type += ">";
            const std::string alias = "IntegerBlock" + std::to_string(i);
            block_types += "using " + alias + " = " + type + ";\n";
            std::string v = "    " + alias + "{" + ln(p + "ln1") + ", " + ln(p + "ln2") + ", " + vec(p + "att.time_mix_k") + ", " +
                            vec(p + "att.time_mix_v") + ", " + vec(p + "att.time_mix_r") + ", " + vec(p + "att.time_first") +
                            ", " + vec(p + "att.time_decay");
            for (int m = 0; m < 4; ++m) v += ",\n        " + mat(p + block_matrix_suffix[m]);
            v += ",\n        " + vec(p + "ffn.time_mix_k") + ", " + vec(p + "ffn.time_mix_r");
            for (int m = 4; m < 7; ++m) v += ",\n        " + mat(p + block_matrix_suffix[m]);
            v += "}";
            blocks_type += (i ? ", " : "") + alias;
            block_values += (i ? ",\n" : "") + v;
        }
        blocks_type += ">";
        blocks_init = blocks_type + "{\n" + block_values + "}";
        // Every array must be emitted before it is used: build the remaining initialisers first.
        const std::string ln0_init = ln("blocks.0.ln0");
        const std::string ln_out_init = ln("ln_out");
        const std::string head_init = mat("head.weight");
        data += arrays_;
        data += "}  // namespace integer_data\n\n";

        std::string out = data + block_types;
        out += "using IntegerEmbedding = " + matrix_type(q.tensor("emb.weight")) + ";\n";
        out += "using IntegerHead = " + matrix_type(q.tensor("head.weight")) + ";\n";
        out += "using IntegerParams = qslm::models::IntegerSpikeGptParams<IntegerEmbedding, IntegerHead, " + blocks_type + ">;\n\n";
        const auto& lif = p_.params().lif;
        out += "/// Every integer the model reads (Q formats: qslm/layers/integer/formats.hpp).\n";
        out += "inline constexpr IntegerParams integer_params{\n";
        out += "    {" + std::to_string(d.vocab_size) + "u, " + std::to_string(d.n_embd) + "u, " + std::to_string(d.ffn_hidden) +
               "u, " + std::to_string(d.n_layer) + "u},\n";
        out += "    {" + std::to_string(lif.threshold_raw) + ", " + std::to_string(lif.v_reset_raw) + ", " +
               std::to_string(lif.tau_shift) + "},\n";
        out += "    " + std::to_string(p_.params().ln_eps_q32) + ",\n";
        out += "    IntegerEmbedding{" + levels_view("emb.weight") + ", {}},\n";
        out += "    " + ln0_init + ",\n";
        out += "    " + blocks_init + ",\n";
        out += "    " + ln_out_init + ",\n";
        out += "    " + head_init + "};\n\n";
        out += "using IntegerModel = qslm::models::IntegerSpikeGpt<IntegerParams>;\n";
        out += "inline constexpr IntegerModel integer_model{integer_params};\n";
        out += "static_assert(integer_model.check() == qslm::Status::ok, \"integer model tensors are inconsistent\");\n";
        out += "/// Bytes of the caller arena (membranes, RWKV state, activations, logits).\n";
        out += "inline constexpr std::size_t integer_arena_bytes = qslm::models::integer_spikegpt_arena_bytes(" +
               std::to_string(d.n_layer) + "u, " + std::to_string(d.n_embd) + "u, " + std::to_string(d.ffn_hidden) + "u, " +
               std::to_string(d.vocab_size) + "u);\n";
        out += "inline constexpr std::size_t integer_matrix_bytes = integer_model.matrix_bytes();\n";
        out += "inline constexpr std::size_t integer_vector_bytes = integer_model.vector_bytes();\n";
        return out;
    }

private:
    std::string ident(const std::string& name) const { return s_.identifier_of.at(name); }

    std::string vec(const std::string& name) {
        const std::string id = ident(name);
        const auto& v = p_.vector(name);
        std::string a = "    inline constexpr std::int32_t " + id + "[" + std::to_string(v.size()) + "] = {";
        for (std::size_t i = 0; i < v.size(); ++i) a += (i % 12 == 0 ? "\n        " : " ") + std::to_string(v[i]) + ",";
        arrays_ += a + "\n    };\n";
        return "integer_data::" + id;
    }
    std::string ln(const std::string& prefix) { return "{" + vec(prefix + ".weight") + ", " + vec(prefix + ".bias") + "}"; }
    std::string mat(const std::string& name) {
        const std::string id = ident(name);
        const auto& m = p_.multipliers(name);
        std::string a = "    inline constexpr qslm::layers::integer::PackedMultiplier " + id + "[" + std::to_string(m.size()) + "] = {";
        for (std::size_t i = 0; i < m.size(); ++i) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "{0x%08Xu},", static_cast<unsigned>(m[i].bits));
            a += (i % 8 == 0 ? "\n        " : " ") + std::string(buf);
        }
        arrays_ += a + "\n    };\n";
        return matrix_type(p_.qslm().tensor(name)) + "{" + levels_view(name) + ", integer_data::" + id + "}";
    }
    /// The tensor's view without its real-valued scales (layers::integer::check_levels()): the
    /// integer path reads only levels, zero points and multipliers, so --gc-sections drops the
    /// scale arrays from the firmware image.
    std::string levels_view(const std::string& name) const {
        const io::QslmTensor& t = p_.qslm().tensor(name);
        const std::string d = "data::" + ident(name) + "::";
        return view_type(t) + "{qslm::unchecked, " + std::to_string(t.rows) + "u, " + std::to_string(t.cols) + "u, " +
               io::detail::layout_expr(t.layout) + ", " + d + "payload, {}, {}, " +
               (t.zero_points.empty() ? std::string("{}") : d + "zero_points") + "}";
    }

    const PreparedIntegerSpikeGpt& p_;
    const io::HeaderSymbols& s_;
    std::string arrays_;
};

}  // namespace detail

/// The generated header's text: io::export_header of prepared.qslm() plus the integer model.
inline std::string export_integer_spikegpt_header(const PreparedIntegerSpikeGpt& prepared, io::HeaderExportOptions options = {}) {
    options.model_emitter = [&prepared](const io::QslmModel&, const io::HeaderSymbols& symbols) {
        return detail::IntegerEmitter(prepared, symbols).emit();
    };
    std::string text = io::export_header(prepared.qslm(), options);
    // The weights part includes only packed_tensor_view.hpp; the model part needs the integer
    // model header too (io::HeaderExportOptions has no extra-include option yet).
    const std::string anchor = "#include \"qslm/tensor/packed_tensor_view.hpp\"\n";
    const std::size_t at = text.find(anchor);
    if (at == std::string::npos) fail(Status::invalid_argument, "header export: unexpected header layout (no include line)");
    text.insert(at + anchor.size(), "#include \"qslm/models/integer_spikegpt.hpp\"\n#include <tuple>\n");
    return text;
}

}  // namespace qslm::models::integer
