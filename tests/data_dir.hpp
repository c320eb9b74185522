#pragma once
// Where data-dependent tests find the shared data sets (WikiText-2, SST-2), and how they say
// "skipped" when the data is not there.
//
// One setting: the environment variable QSLM_DATA_DIR; without it the folder CMake was
// configured with (QSLM_DATA_DIR cache variable, default ../shared/data beside the checkout).
// A test whose data is missing must not count as passed: it ends its process with ctest's skip
// code, so ctest reports it as "Skipped". Such a test case therefore runs alone in its process:
// tag it hidden ("[.data-NAME]") and register it with qslm_add_data_test() in tests/CMakeLists.txt,
// which runs only that tag and sets SKIP_RETURN_CODE. (Catch2 2.13, the version Debian ships,
// has no SKIP(); it arrived in Catch2 3.3.)

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace qslm_test {

inline constexpr int skip_return_code = 77;  ///< what qslm_add_data_test() tells ctest

inline std::filesystem::path data_dir() {
    if (const char* dir = std::getenv("QSLM_DATA_DIR"); dir != nullptr && *dir != '\0') return dir;
#ifdef QSLM_DEFAULT_DATA_DIR
    return QSLM_DEFAULT_DATA_DIR;
#else
    return std::filesystem::path(QSLM_SOURCE_DIR) / ".." / "shared" / "data";
#endif
}

/// data_dir() / relative, or — when that file is absent — a message and the end of this test
/// process with skip_return_code.
inline std::filesystem::path data_file_or_skip(const std::string& relative) {
    const std::filesystem::path file = data_dir() / relative;
    if (!std::filesystem::exists(file)) {
        std::printf("SKIPPED: %s is absent (set QSLM_DATA_DIR to the folder holding %s)\n", file.string().c_str(),
                    relative.c_str());
        std::fflush(stdout);
        std::exit(skip_return_code);
    }
    return file;
}

}  // namespace qslm_test
