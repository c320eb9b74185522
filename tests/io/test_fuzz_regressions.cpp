// Inputs that once crashed or misled a reader (found by the libFuzzer targets in tests/fuzz)
// are kept in tests/fuzz/regressions/<target>/ and replayed here on every test run: each must
// be either accepted or refused with a qslm::Error, never crash or throw anything else.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "../fuzz/fuzz_targets.hpp"

namespace {
std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    if (std::filesystem::is_directory(dir))
        for (const auto& e : std::filesystem::directory_iterator(dir))
            if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}
std::vector<std::uint8_t> read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("every saved fuzzer finding is handled cleanly by the safetensors reader") {
    for (const auto& p : files_in(std::filesystem::path(QSLM_IO_FUZZ_REGRESSIONS) / "safetensors")) {
        INFO(p.string());
        const auto bytes = read_all(p);
        CHECK_NOTHROW(qslm::fuzz::exercise_safetensors(bytes.data(), bytes.size()));
    }
}

TEST_CASE("every saved fuzzer finding is handled cleanly by the .qslm reader") {
    for (const auto& p : files_in(std::filesystem::path(QSLM_IO_FUZZ_REGRESSIONS) / "qslm")) {
        INFO(p.string());
        const auto bytes = read_all(p);
        CHECK_NOTHROW(qslm::fuzz::exercise_qslm(bytes.data(), bytes.size()));
    }
}
