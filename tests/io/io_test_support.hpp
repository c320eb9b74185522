#pragma once
// Helpers shared by the io tests: scratch folders, raw safetensors images from a JSON string,
// and a matcher for the status and message of a qslm::Error.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/io/byte_order.hpp"

namespace qslm::test {

/// A fresh empty folder under the build tree, removed at scope exit.
class ScratchDir {
public:
    explicit ScratchDir(const std::string& tag) {
        static std::atomic<int> n{0};
        path_ = std::filesystem::path(QSLM_BINARY_DIR) / "io_scratch" / (tag + "-" + std::to_string(n++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
    /// Names of all entries (to show no temporary file was left behind).
    [[nodiscard]] std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
        return out;
    }

private:
    std::filesystem::path path_;
};

/// A safetensors image: 8-byte length, the header text verbatim, then `data`.
inline std::vector<std::uint8_t> raw_safetensors(const std::string& header, const std::vector<std::uint8_t>& data = {}) {
    io::ByteWriter w;
    w.put<std::uint64_t>(header.size());
    w.put_string(header);
    w.put_bytes(data);
    return std::move(w).take();
}

/// Runs `f`, requires a qslm::Error with `status` whose message contains every fragment.
template <class F>
void require_error(F&& f, Status status, std::initializer_list<std::string> fragments) {
    try {
        f();
    } catch (const Error& e) {
        INFO("message: " << e.what());
        CHECK(e.code() == status);
        for (const auto& frag : fragments) CHECK_THAT(e.what(), Catch::Matchers::Contains(frag));
        return;
    }
    FAIL("expected a qslm::Error with status " << to_string(status));
}

}  // namespace qslm::test
