#pragma once
// Hierarchy: model -> blocks -> modules, the units the QSLM search assigns widths to.
//
// A module is one searched weight matrix (rows = output channels, cols = inputs, the layout of
// PyTorch's nn.Linear and of PackedTensor). A block groups the modules that belong together
// (a SpikeGPT layer: time-mix key/value/receptance/output and channel-mix key/value/
// receptance); the embedding and the head are blocks of one module each.
//
// The model adapter derives the hierarchy from its own structure. from_tensor_names() does it
// from state-dict names: "blocks.3.att.key.weight" belongs to block "blocks.3" (block_depth 2),
// "emb.weight" is a block of its own called "emb". Blocks keep the order of first appearance.
//
// Host-only header.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/tensor/packed_tensor_view.hpp"

namespace qslm::search {

struct ModuleInfo {
    std::string name;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t block = 0;  ///< index into Hierarchy::blocks()

    [[nodiscard]] std::size_t weights() const noexcept { return rows * cols; }
};

struct BlockInfo {
    std::string name;
    std::vector<std::size_t> modules;  ///< indices into Hierarchy::modules(), in model order
};

/// A name and shape of a weight matrix, as a model lists them.
struct NamedShape {
    std::string name;
    std::size_t rows = 0;
    std::size_t cols = 0;
};

class Hierarchy {
public:
    explicit Hierarchy(std::string model_name = "model") : name_(std::move(model_name)) {}

    std::size_t add_block(std::string name) {
        if (name.empty()) fail(Status::invalid_argument, "hierarchy: a block needs a name");
        if (block_index_.contains(name)) fail(Status::invalid_argument, "hierarchy: block '" + name + "' added twice");
        block_index_.emplace(name, blocks_.size());
        blocks_.push_back({std::move(name), {}});
        return blocks_.size() - 1;
    }

    std::size_t add_module(std::size_t block, std::string name, std::size_t rows, std::size_t cols) {
        if (block >= blocks_.size())
            fail(Status::out_of_range, "hierarchy: module '" + name + "' refers to block " + std::to_string(block) +
                                           " but there are " + std::to_string(blocks_.size()));
        if (name.empty()) fail(Status::invalid_argument, "hierarchy: a module needs a name");
        if (module_index_.contains(name)) fail(Status::invalid_argument, "hierarchy: module '" + name + "' added twice");
        if (rows == 0 || cols == 0 || rows > max_tensor_elements / cols)
            fail(Status::bad_shape, "hierarchy: module '" + name + "' has shape " + std::to_string(rows) + " x " +
                                        std::to_string(cols) + " (empty or more than 2^28 weights)");
        module_index_.emplace(name, modules_.size());
        modules_.push_back({std::move(name), rows, cols, block});
        blocks_[block].modules.push_back(modules_.size() - 1);
        return modules_.size() - 1;
    }

    /// Groups weight matrices into blocks by the first `block_depth` dot-separated parts of
    /// their names (a trailing ".weight" is dropped first). A name with no more parts than
    /// that is a block by itself.
    static Hierarchy from_tensor_names(std::string model_name, const std::vector<NamedShape>& tensors,
                                       std::size_t block_depth = 2) {
        Hierarchy h(std::move(model_name));
        for (const auto& t : tensors) {
            std::string_view stem = t.name;
            if (stem.ends_with(".weight")) stem.remove_suffix(7);
            std::size_t cut = 0, parts = 0;
            for (std::size_t i = 0; i <= stem.size(); ++i)
                if (i == stem.size() || stem[i] == '.') {
                    if (++parts == block_depth) cut = i;
                }
            const std::string block(parts > block_depth ? stem.substr(0, cut) : stem);
            const auto found = h.block_index_.find(block);
            const std::size_t b = found != h.block_index_.end() ? found->second : h.add_block(block);
            h.add_module(b, t.name, t.rows, t.cols);
        }
        h.validate();
        return h;
    }

    /// A hierarchy the search can use: at least one module, no empty block.
    void validate() const {
        if (modules_.empty()) fail(Status::invalid_argument, "hierarchy of '" + name_ + "' has no modules to quantize");
        for (const auto& b : blocks_)
            if (b.modules.empty()) fail(Status::invalid_argument, "hierarchy: block '" + b.name + "' has no modules");
    }

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] const std::vector<ModuleInfo>& modules() const noexcept { return modules_; }
    [[nodiscard]] const std::vector<BlockInfo>& blocks() const noexcept { return blocks_; }
    [[nodiscard]] const ModuleInfo& module(std::size_t i) const { return modules_.at(i); }
    [[nodiscard]] const BlockInfo& block(std::size_t b) const { return blocks_.at(b); }
    [[nodiscard]] std::size_t module_count() const noexcept { return modules_.size(); }
    [[nodiscard]] std::size_t block_count() const noexcept { return blocks_.size(); }

    [[nodiscard]] std::size_t total_weights() const noexcept {
        std::size_t n = 0;
        for (const auto& m : modules_) n += m.weights();
        return n;
    }

    /// Index of a module by name; not_found otherwise.
    [[nodiscard]] std::size_t find_module(std::string_view name) const {
        const auto it = module_index_.find(std::string(name));
        if (it == module_index_.end()) fail(Status::not_found, "hierarchy has no module '" + std::string(name) + "'");
        return it->second;
    }

    /// FNV-1a over names, shapes and grouping: identifies the model structure in search logs.
    [[nodiscard]] std::uint64_t fingerprint() const noexcept {
        std::uint64_t h = 1469598103934665603ull;
        auto mix = [&](std::string_view s) {
            for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
            h = (h ^ 0xffu) * 1099511628211ull;
        };
        for (const auto& m : modules_) {
            mix(m.name);
            mix(std::to_string(m.rows) + "x" + std::to_string(m.cols) + "@" + blocks_[m.block].name);
        }
        return h;
    }

private:
    std::string name_;
    std::vector<ModuleInfo> modules_;
    std::vector<BlockInfo> blocks_;
    std::unordered_map<std::string, std::size_t> module_index_;
    std::unordered_map<std::string, std::size_t> block_index_;
};

}  // namespace qslm::search
