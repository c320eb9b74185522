// The readers' regression corpus, replayed on every test run (and under the sanitizers in CI):
// tests/fuzz/regressions/<reader>/ holds
//   accept-*  valid seed files (tests/fuzz/seed_corpus.cpp wrote them; the fuzzers start from
//             them too), which the reader must accept and round-trip;
//   reject-*  inputs that once crashed or misled a reader or that pin a check (a NUL inside a
//             JSON header, lying lengths, section counts, ...), which it must refuse with a
//             qslm::Error — never crash or throw anything else.
// A file's name states its expected outcome, so a reader that starts accepting a damaged file,
// or refusing a valid one, fails here. To add a libFuzzer finding, save it as reject-<what>.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
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

template <class Exercise>
void replay(const std::string& reader, Exercise exercise) {
    const auto files = files_in(std::filesystem::path(QSLM_IO_FUZZ_REGRESSIONS) / reader);
    std::size_t accepts = 0, rejects = 0;
    for (const auto& p : files) {
        const std::string name = p.filename().string();
        INFO(p.string());
        const bool expect_accept = name.starts_with("accept-");
        REQUIRE((expect_accept || name.starts_with("reject-")));  // every file states its outcome
        const auto bytes = read_all(p);
        bool accepted = false;
        REQUIRE_NOTHROW(accepted = exercise(bytes.data(), bytes.size()));
        CHECK(accepted == expect_accept);
        ++(expect_accept ? accepts : rejects);
    }
    // The corpus is part of the repository: an empty or missing folder is a broken checkout.
    CHECK(accepts >= 3);
    CHECK(rejects >= 8);
}
}  // namespace

TEST_CASE("the safetensors regression corpus: seeds accepted, saved findings refused cleanly") {
    replay("safetensors", [](const std::uint8_t* d, std::size_t n) { return qslm::fuzz::exercise_safetensors(d, n); });
}

TEST_CASE("the .qslm regression corpus: seeds accepted, saved findings refused cleanly") {
    replay("qslm", [](const std::uint8_t* d, std::size_t n) { return qslm::fuzz::exercise_qslm(d, n); });
}
