#pragma once
// Header export: turns a .qslm model into a self-contained C++ header for firmware that has no
// file system and no heap. Every packed tensor becomes constexpr arrays (payload, scales, zero
// points) plus a `qslm::PackedTensorView<Bits, Encoding>` whose width is part of its type, so
// the compiler specialises each layer's kernels for its own width; a static_assert checks each
// view at compile time. Float tensors (norms, biases) become constexpr float arrays. The
// config, tokenizer, vocabulary and the test vector come along, so the firmware can run the
// same end-to-end check that load_qslm() runs.
//
// The generated header includes only <qslm/tensor/packed_tensor_view.hpp> and the standard
// library, and compiles with -fno-exceptions -fno-rtti. Floats are written as hexadecimal
// literals, so every weight and scale is bit-identical to the .qslm file.
//
// The model type: `struct Weights` lists every tensor as a static constexpr reference with its
// compile-time width. A model-specific type on top of it (e.g. `using Model =
// qslm::models::SpikeGpt<Weights>` once the C++ models exist) is produced by the
// `model_emitter` hook of HeaderExportOptions, so adding it does not touch the array emission.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/io/atomic_file.hpp"
#include "qslm/io/qslm_model.hpp"
#include "qslm/io/qslm_writer.hpp"

namespace qslm::io {

/// C++ identifiers chosen for the tensors (tensor name -> identifier), for model emitters.
struct HeaderSymbols {
    std::string namespace_name;
    std::map<std::string, std::string> identifier_of;
};

struct HeaderExportOptions {
    /// Namespace of everything generated; identifiers separated by "::".
    std::string namespace_name = "qslm_model";
    /// Named in the header's first comment (e.g. the .qslm file name).
    std::string source_name = "a qslm::io::QslmModel";
    bool include_vocab = true;
    bool include_test_vector = true;
    /// Optional model-specific code, appended inside the namespace after `struct Weights`.
    std::function<std::string(const QslmModel&, const HeaderSymbols&)> model_emitter = {};
};

namespace detail {

inline bool is_identifier(std::string_view s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
    for (const char ch : s)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    return s.find("__") == std::string_view::npos && !(s.size() > 1 && s[0] == '_' && s[1] >= 'A' && s[1] <= 'Z');
}

inline const std::set<std::string, std::less<>>& cpp_keywords() {
    static const std::set<std::string, std::less<>> k = {
        "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
        "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
        "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete",
        "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
        "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
        "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
        "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
        "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
        "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq"};
    return k;
}

/// Names the generated header defines itself; tensor identifiers must avoid them.
inline const std::set<std::string, std::less<>>& generated_names() {
    static const std::set<std::string, std::less<>> k = {
        "FloatTensorView", "TensorInfo", "Weights", "tensors", "tensor_count", "config_json", "tokenizer_json",
        "vocab", "vocab_size", "test_input", "test_expected", "test_abs_tolerance", "test_rel_tolerance",
        "has_test_vector", "qslm_format_version", "data", "total_weight_bytes", "qslm", "std", "for_each_tensor"};
    return k;
}

/// "blocks.0.att.key.weight" -> "blocks_0_att_key_weight", made unique and never reserved.
inline std::string make_identifier(std::string_view name, std::set<std::string>& taken) {
    std::string id;
    for (const char ch : name) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        const char out = ok ? ch : '_';
        if (out == '_' && (id.empty() || id.back() == '_')) continue;  // no leading or doubled '_'
        id += out;
    }
    while (!id.empty() && id.back() == '_') id.pop_back();
    if (id.empty()) id = "tensor";
    if (id[0] >= '0' && id[0] <= '9') id = "t_" + id;
    if (cpp_keywords().count(id) || generated_names().count(id)) id += "_t";
    std::string unique = id;
    for (int k = 2; taken.count(unique); ++k) unique = id + "_" + std::to_string(k);
    taken.insert(unique);
    return unique;
}

/// A C++ string literal for arbitrary bytes (octal escapes for anything not plain ASCII),
/// split into pieces so no line grows without bound.
inline std::string string_literal(std::string_view bytes) {
    std::string s = "\"";
    std::size_t line = 0;
    for (const char ch : bytes) {
        const auto b = static_cast<unsigned char>(ch);
        if (line >= 100) {
            s += "\"\n        \"";
            line = 0;
        }
        if (b == '"' || b == '\\') {
            s += '\\';
            s += static_cast<char>(b);
            line += 2;
        } else if (b >= 0x20 && b < 0x7F && b != '?') {  // '?' escaped: no trigraph surprises in old compilers
            s += static_cast<char>(b);
            ++line;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\%03o", b);
            s += buf;
            line += 4;
        }
    }
    return s + "\"";
}

/// A string_view constant that keeps embedded NUL bytes: std::string_view("...", n).
inline std::string string_view_expr(std::string_view bytes) {
    return "std::string_view(" + string_literal(bytes) + ", " + std::to_string(bytes.size()) + ")";
}

/// Exact float literal (hexadecimal), e.g. 0x1.8p-3f.
inline std::string float_literal(float v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%af", static_cast<double>(v));
    return buf;
}

template <class T, class Format>
void emit_array(std::string& out, const char* type, const std::string& name, const std::vector<T>& values,
                Format&& format) {
    out += "    inline constexpr " + std::string(type) + " " + name + "[" + std::to_string(values.size()) + "] = {";
    for (std::size_t i = 0; i < values.size(); ++i) {
        out += (i % 16 == 0) ? "\n        " : " ";
        out += format(values[i]);
        out += ',';
    }
    out += "\n    };\n";
}

inline std::string encoding_type(EncodingKind e) {
    switch (e) {
        case EncodingKind::signed_levels: return "qslm::encoding::Signed";
        case EncodingKind::unsigned_levels: return "qslm::encoding::Unsigned";
        case EncodingKind::bipolar: return "qslm::encoding::Bipolar";
        case EncodingKind::ternary: return "qslm::encoding::Ternary";
    }
    return "?";
}

inline std::string layout_expr(ScaleLayout l) {
    switch (l.granularity) {
        case Granularity::per_tensor: return "qslm::ScaleLayout::per_tensor()";
        case Granularity::per_channel: return "qslm::ScaleLayout::per_channel()";
        case Granularity::per_group: return "qslm::ScaleLayout::per_group(" + std::to_string(l.group_size) + "u)";
    }
    return "?";
}

}  // namespace detail

/// The header's text. Fails with invalid_argument for a bad namespace name.
inline std::string export_header(const QslmModel& model, const HeaderExportOptions& options = {}) {
    // Validate the namespace path.
    {
        std::string_view ns = options.namespace_name;
        bool ok = !ns.empty();
        while (ok && !ns.empty()) {
            const std::size_t sep = ns.find("::");
            const std::string_view part = ns.substr(0, sep);
            ok = detail::is_identifier(part) && !detail::cpp_keywords().count(part);
            ns = sep == std::string_view::npos ? std::string_view{} : ns.substr(sep + 2);
            if (sep != std::string_view::npos && ns.empty()) ok = false;
        }
        if (!ok) fail(Status::invalid_argument, "header export: '" + options.namespace_name + "' is not a C++ namespace name");
    }
    // Everything the header states about a tensor must hold; the reader's rules are the
    // definition, so reuse them (and refuse models that would not survive a round trip).
    (void)serialize_qslm(model);

    HeaderSymbols symbols;
    symbols.namespace_name = options.namespace_name;
    std::set<std::string> taken;
    for (const auto& t : model.tensors) symbols.identifier_of[t.name] = detail::make_identifier(t.name, taken);

    std::size_t weight_bytes = 0;
    for (const auto& t : model.tensors)
        weight_bytes += t.payload.size() + t.scales.size() * 4 + t.scale_exponents.size() + t.zero_points.size() * 2;

    std::string out;
    std::string comment_source;
    for (const char ch : options.source_name) comment_source += (ch == '\n' || ch == '\r') ? ' ' : ch;
    out += "// Generated by qslm::io::export_header from " + comment_source + ". Do not edit.\n";
    out += "// .qslm format version " + std::to_string(model.version) + "; " + std::to_string(model.tensors.size()) +
           " tensors; " + std::to_string(weight_bytes) + " bytes of weights, scales and zero points.\n";
    out += "// Self-contained: no file system, no heap; compiles with -fno-exceptions -fno-rtti.\n";
    out += "#pragma once\n\n#include <cstddef>\n#include <cstdint>\n#include <span>\n#include <string_view>\n\n";
    out += "#include \"qslm/tensor/packed_tensor_view.hpp\"\n\n";
    out += "namespace " + options.namespace_name + " {\n\n";
    out += "inline constexpr std::uint32_t qslm_format_version = " + std::to_string(model.version) + "u;\n";
    out += "inline constexpr std::string_view config_json = " + detail::string_view_expr(model.config_json) + ";\n";
    out += "inline constexpr std::string_view tokenizer_json = " + detail::string_view_expr(model.tokenizer_json) + ";\n\n";
    out += "/// A float32 tensor (norm weights, biases, time constants), rows x cols row-major.\n";
    out += "struct FloatTensorView {\n    std::size_t rows;\n    std::size_t cols;\n    std::span<const float> values;\n";
    out += "    constexpr float at(std::size_t r, std::size_t c) const noexcept { return values[r * cols + c]; }\n};\n\n";

    // Arrays, one nested namespace per tensor so their names can never collide.
    out += "namespace data {\n";
    for (const auto& t : model.tensors) {
        const std::string& id = symbols.identifier_of.at(t.name);
        out += "namespace " + id + " {  // " + t.name + ": " + t.describe() + ", " + std::to_string(t.rows) + " x " +
               std::to_string(t.cols) + "\n";
        if (t.is_packed()) {
            const std::vector<std::uint8_t> payload(t.payload.begin(), t.payload.end());
            detail::emit_array(out, "std::uint8_t", "payload", payload, [](std::uint8_t b) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "0x%02X", b);
                return std::string(buf);
            });
            if (t.scale_format == ScaleFormat::power_of_two)
                detail::emit_array(out, "std::int8_t", "exponents", t.scale_exponents,
                                   [](std::int8_t e) { return std::to_string(e); });
            else
                detail::emit_array(out, "float", "scales", t.scales, [](float s) { return detail::float_literal(s); });
            if (!t.zero_points.empty())
                detail::emit_array(out, "std::int16_t", "zero_points", t.zero_points,
                                   [](std::int16_t z) { return std::to_string(z); });
        } else {
            detail::emit_array(out, "float", "values", t.float_values(), [](float v) { return detail::float_literal(v); });
        }
        out += "}  // namespace " + id + "\n";
    }
    out += "}  // namespace data\n\n";

    // Views with compile-time widths.
    for (const auto& t : model.tensors) {
        const std::string& id = symbols.identifier_of.at(t.name);
        const std::string d = "data::" + id + "::";
        if (t.is_packed()) {
            const std::string type = "qslm::PackedTensorView<" + std::to_string(t.bits) + ", " +
                                     detail::encoding_type(t.encoding) + ">";
            const bool pow2 = t.scale_format == ScaleFormat::power_of_two;
            out += "/// `" + t.name + "`\ninline constexpr " + type + " " + id + "{qslm::unchecked, " +
                   std::to_string(t.rows) + "u, " + std::to_string(t.cols) + "u, " + detail::layout_expr(t.layout) +
                   ", " + d + "payload, " + (pow2 ? "{}" : d + "scales") + ", " + (pow2 ? d + "exponents" : "{}") +
                   ", " + (t.zero_points.empty() ? "{}" : d + "zero_points") + "};\n";
            out += "static_assert(" + id + ".check() == qslm::Status::ok, " +
                   detail::string_literal("tensor '" + t.name + "' is inconsistent") + ");\n";
        } else {
            out += "/// `" + t.name + "`\ninline constexpr FloatTensorView " + id + "{" + std::to_string(t.rows) + "u, " +
                   std::to_string(t.cols) + "u, " + d + "values};\n";
        }
    }

    out += "\n/// Every tensor with its compile-time type (for packed tensors: its width and encoding).\n";
    out += "struct Weights {\n";
    for (const auto& t : model.tensors) {
        const std::string& id = symbols.identifier_of.at(t.name);
        out += "    static constexpr const auto& " + id + " = ::" + options.namespace_name + "::" + id + ";\n";
    }
    out += "};\n\n";

    out += "/// Calls f(name, view) for every tensor, in file order (PackedTensorView or FloatTensorView).\n";
    out += "template <class F>\nconstexpr void for_each_tensor(F&& f) {\n    (void)f;\n";
    for (const auto& t : model.tensors)
        out += "    f(" + detail::string_view_expr(t.name) + ", " + symbols.identifier_of.at(t.name) + ");\n";
    out += "}\n\n";

    out += "struct TensorInfo {\n    std::string_view name;\n    bool packed;\n    int bits;\n"
           "    std::size_t rows;\n    std::size_t cols;\n    std::size_t bytes;\n};\n";
    out += "inline constexpr std::size_t tensor_count = " + std::to_string(model.tensors.size()) + ";\n";
    if (!model.tensors.empty()) {
        out += "inline constexpr TensorInfo tensors[tensor_count] = {\n";
        for (const auto& t : model.tensors) {
            const std::size_t bytes =
                t.payload.size() + t.scales.size() * 4 + t.scale_exponents.size() + t.zero_points.size() * 2;
            out += "    {" + detail::string_view_expr(t.name) + ", " + (t.is_packed() ? "true" : "false") + ", " +
                   std::to_string(t.bits) + ", " + std::to_string(t.rows) + "u, " + std::to_string(t.cols) + "u, " +
                   std::to_string(bytes) + "u},\n";
        }
        out += "};\n";
    }
    out += "inline constexpr std::size_t total_weight_bytes = " + std::to_string(weight_bytes) + "u;\n\n";

    const bool vocab = options.include_vocab && !model.vocab.empty();
    out += "inline constexpr std::size_t vocab_size = " + std::to_string(vocab ? model.vocab.size() : 0) + ";\n";
    if (vocab) {
        out += "inline constexpr std::string_view vocab[vocab_size] = {\n";
        for (const auto& tok : model.vocab) out += "    " + detail::string_view_expr(tok) + ",\n";
        out += "};\n";
    }
    const bool tv = options.include_test_vector && model.test_vector.has_value();
    out += "\ninline constexpr bool has_test_vector = " + std::string(tv ? "true" : "false") + ";\n";
    if (tv) {
        const QslmTestVector& v = *model.test_vector;
        out += "/// The stored test: running the model on test_input must give test_expected within\n";
        out += "/// |got - expected| <= test_abs_tolerance + test_rel_tolerance * |expected|.\n";
        std::string arrays;
        detail::emit_array(arrays, "std::uint32_t", "test_input", v.input,
                           [](std::uint32_t x) { return std::to_string(x) + "u"; });
        detail::emit_array(arrays, "float", "test_expected", v.expected, [](float x) { return detail::float_literal(x); });
        // emit_array indents for use inside a namespace block; the output is still valid here.
        out += arrays;
        out += "inline constexpr float test_abs_tolerance = " + detail::float_literal(v.abs_tolerance) + ";\n";
        out += "inline constexpr float test_rel_tolerance = " + detail::float_literal(v.rel_tolerance) + ";\n";
    }
    if (options.model_emitter) out += "\n" + options.model_emitter(model, symbols) + "\n";
    out += "\n}  // namespace " + options.namespace_name + "\n";
    return out;
}

/// Generates the header and writes it atomically.
inline void write_header(const std::filesystem::path& path, const QslmModel& model,
                         const HeaderExportOptions& options = {}, const AtomicWriteOptions& write_options = {}) {
    const std::string text = export_header(model, options);
    write_file_atomically(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, write_options);
}

}  // namespace qslm::io
