#pragma once
// Shared machinery of the checkpoint builders (SpikeGPT, spike-driven transformer): pull named
// float tensors out of a safetensors file, check each against the shape the model needs, and
// collect *every* problem (missing, mis-shaped, non-float, non-finite) so that one error lists
// them all instead of making the user fix a checkpoint one tensor at a time.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/io/safetensors.hpp"

namespace qslm::io {

/// A float tensor taken from a checkpoint, row-major. Builders normalise shapes: vectors are
/// [n] (PyTorch's [1, 1, n] time-mix parameters included), matrices [rows, cols] in nn.Linear
/// layout (rows = outputs, cols = inputs).
struct FloatTensor {
    std::vector<std::size_t> shape;
    std::vector<float> data;

    [[nodiscard]] std::size_t rows() const noexcept { return shape.size() == 2 ? shape[0] : 1; }
    [[nodiscard]] std::size_t cols() const noexcept { return shape.empty() ? 0 : shape.back(); }
    [[nodiscard]] std::size_t size() const noexcept { return data.size(); }
    [[nodiscard]] bool empty() const noexcept { return data.empty(); }
    [[nodiscard]] std::span<const float> values() const noexcept { return data; }
    [[nodiscard]] float at(std::size_t r, std::size_t c) const noexcept { return data[r * cols() + c]; }
};

/// An expected dimension and what it means ("n_embd"), for messages.
struct Dim {
    std::size_t value = 0;  ///< 0: unknown (inference failed; the cause is reported elsewhere)
    const char* label = "";
};

/// Most layers a builder accepts; stops a hostile name such as "blocks.999999999.x" from
/// making the builder allocate or list a billion blocks.
inline constexpr std::size_t checkpoint_max_layers = 4096;

class CheckpointAssembler {
public:
    /// `kind` names the model in messages ("SpikeGPT").
    CheckpointAssembler(const SafetensorsFile& file, std::string kind) : file_(file), kind_(std::move(kind)) {}

    [[nodiscard]] const SafetensorsFile& file() const noexcept { return file_; }

    /// Shape of a tensor if present, without marking it used.
    [[nodiscard]] const SafetensorsTensor* peek(std::string_view name) const noexcept { return file_.find(name); }

    /// A 2-D tensor [rows, cols].
    FloatTensor matrix(const std::string& name, Dim rows, Dim cols) {
        const SafetensorsTensor* t = take(name);
        if (!t) return {};
        if (t->rank() != 2 || (rows.value && t->shape[0] != rows.value) || (cols.value && t->shape[1] != cols.value)) {
            mis_shaped(name, *t, "[" + describe(rows) + ", " + describe(cols) + "]");
            return {};
        }
        return convert(*t, {static_cast<std::size_t>(t->shape[0]), static_cast<std::size_t>(t->shape[1])});
    }

    /// A 1-D tensor [n]; also accepts [1, n] and [1, 1, n] (the reference code's time-mix shape).
    FloatTensor vector(const std::string& name, Dim n) {
        const SafetensorsTensor* t = take(name);
        if (!t) return {};
        bool ok = t->rank() >= 1 && t->rank() <= 3 && (!n.value || t->shape.back() == n.value);
        for (std::size_t i = 0; ok && i + 1 < t->rank(); ++i) ok = t->shape[i] == 1;
        if (!ok) {
            mis_shaped(name, *t, "[" + describe(n) + "] (or [1, 1, " + describe(n) + "])");
            return {};
        }
        return convert(*t, {static_cast<std::size_t>(t->shape.back())});
    }

    void missing(const std::string& name) { missing_.push_back(name); }
    void problem(std::string what) { problems_.push_back(std::move(what)); }
    [[nodiscard]] bool has_problems() const noexcept { return !missing_.empty() || !problems_.empty(); }

    /// Throws one qslm::Error listing every missing tensor and every other problem:
    /// not_found when anything is missing, otherwise bad_shape.
    void throw_if_problems() const {
        if (!has_problems()) return;
        std::string msg = file_.name() + ": not a usable " + kind_ + " checkpoint:";
        if (!missing_.empty()) msg += " missing " + std::to_string(missing_.size()) + " tensor(s): " + join(missing_) + ";";
        if (!problems_.empty()) msg += " " + std::to_string(problems_.size()) + " problem(s): " + join(problems_);
        if (!msg.empty() && msg.back() == ';') msg.pop_back();
        fail(missing_.empty() ? Status::bad_shape : Status::not_found, msg);
    }

    /// Tensors of the file that no builder call asked for, in file order.
    [[nodiscard]] std::vector<std::string> unused() const {
        std::vector<std::string> out;
        for (const auto& t : file_.tensors())
            if (!used_.count(t.name)) out.push_back(t.name);
        return out;
    }

    /// Parses "blocks.<N>.<rest>": N without sign or leading zeros. nullopt for other names.
    static std::optional<std::size_t> block_index(std::string_view name, std::string_view prefix = "blocks.") {
        if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
        name.remove_prefix(prefix.size());
        const std::size_t dot = name.find('.');
        if (dot == std::string_view::npos || dot == 0 || dot > 9) return std::nullopt;
        if (dot > 1 && name[0] == '0') return std::nullopt;
        std::size_t v = 0;
        for (std::size_t i = 0; i < dot; ++i) {
            if (name[i] < '0' || name[i] > '9') return std::nullopt;
            v = v * 10 + static_cast<std::size_t>(name[i] - '0');
        }
        return v;
    }

    /// Number of blocks implied by "blocks.N." names (max N + 1), capped; reports a problem
    /// (and returns 0) when there are none or an index is implausibly large.
    std::size_t count_blocks(std::string_view prefix = "blocks.") {
        std::size_t n = 0;
        bool any = false;
        for (const auto& t : file_.tensors()) {
            const auto i = block_index(t.name, prefix);
            if (!i) continue;
            if (*i >= checkpoint_max_layers) {
                problem("'" + t.name + "' has block index " + std::to_string(*i) + "; at most " +
                        std::to_string(checkpoint_max_layers) + " blocks are supported");
                continue;
            }
            any = true;
            n = std::max(n, *i + 1);
        }
        if (!any) problem("no " + std::string(prefix) + "N.* tensors, so the number of layers is unknown");
        return n;
    }

    /// The "config" metadata entry (the training scripts' JSON) as an object; null when absent,
    /// a problem when present but not a JSON object.
    nlohmann::json metadata_json(const std::string& key) {
        const auto v = file_.metadata_value(key);
        if (!v) return nullptr;
        nlohmann::json j = nlohmann::json::parse(*v, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) {
            problem("metadata '" + key + "' is not valid JSON");
            return nullptr;
        }
        return j;
    }

    /// A boolean from metadata: "true"/"false" (as the exporters write them); otherwise a problem.
    std::optional<bool> metadata_bool(const std::string& key) {
        const auto v = file_.metadata_value(key);
        if (!v) return std::nullopt;
        if (*v == "true" || *v == "1") return true;
        if (*v == "false" || *v == "0") return false;
        problem("metadata '" + key + "' is '" + *v + "', expected 'true' or 'false'");
        return std::nullopt;
    }

    /// Cross-checks a size from the config JSON with the one inferred from the shapes.
    void check_config_size(const nlohmann::json& config, const char* key, std::size_t inferred) {
        if (!config.is_object() || !config.contains(key)) return;
        const auto& v = config[key];
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() != inferred)
            problem("metadata config says " + std::string(key) + " = " + v.dump() + " but the tensor shapes give " +
                    std::to_string(inferred));
    }
    /// Reads a finite number from the config JSON into `out` (left unchanged when absent).
    void read_config_number(const nlohmann::json& config, const char* key, float& out) {
        if (!config.is_object() || !config.contains(key)) return;
        const auto& v = config[key];
        if (!v.is_number() || !std::isfinite(v.get<double>())) {
            problem("metadata config entry '" + std::string(key) + "' is " + v.dump() + ", not a finite number");
            return;
        }
        out = static_cast<float>(v.get<double>());
    }

private:
    const SafetensorsTensor* take(const std::string& name) {
        const SafetensorsTensor* t = file_.find(name);
        if (!t) {
            missing_.push_back(name);
            return nullptr;
        }
        used_.insert(name);
        if (!is_floating_point(t->dtype)) {
            problems_.push_back(name + " has dtype " + std::string(to_string(t->dtype)) +
                                ", expected a floating-point dtype (F32, F16, BF16, ...)");
            return nullptr;
        }
        return t;
    }
    FloatTensor convert(const SafetensorsTensor& t, std::vector<std::size_t> shape) {
        FloatTensor out;
        out.shape = std::move(shape);
        out.data = t.to_float();
        for (std::size_t i = 0; i < out.data.size(); ++i) {
            if (!std::isfinite(out.data[i])) {
                problems_.push_back(t.name + " contains NaN or infinity (first at element " + std::to_string(i) + ")");
                return {};
            }
        }
        return out;
    }
    void mis_shaped(const std::string& name, const SafetensorsTensor& t, const std::string& expected) {
        problems_.push_back(name + " has shape " + shape_to_string(t.shape) + ", expected " + expected);
    }
    static std::string describe(Dim d) {
        if (!d.value) return d.label;
        return std::string(d.label) + "=" + std::to_string(d.value);
    }
    static std::string join(const std::vector<std::string>& items) {
        constexpr std::size_t shown = 40;
        std::string s;
        for (std::size_t i = 0; i < items.size() && i < shown; ++i) s += (i ? ", " : "") + items[i];
        if (items.size() > shown) s += ", ... and " + std::to_string(items.size() - shown) + " more";
        return s;
    }

    const SafetensorsFile& file_;
    std::string kind_;
    std::vector<std::string> missing_;
    std::vector<std::string> problems_;
    std::set<std::string, std::less<>> used_;
};

}  // namespace qslm::io
