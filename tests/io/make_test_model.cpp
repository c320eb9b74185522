// Build-time generator: writes the synthetic model as a .qslm file and exports it as a C++
// header; the test build then compiles that header (with and without exceptions) and checks
// it against the .qslm loaded at run time.
//   make_test_model <output folder>
#include <cstdio>
#include <filesystem>

#include "qslm/io/header_export.hpp"
#include "qslm/io/qslm_reader.hpp"
#include "qslm/io/qslm_writer.hpp"
#include "synthetic_model_host.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <output folder>\n", argv[0]);
        return 2;
    }
    try {
        const std::filesystem::path dir = argv[1];
        std::filesystem::create_directories(dir);
        const auto model = qslm::test::synthetic::make_model();
        qslm::io::save_qslm(dir / "test_model.qslm", model, {.sync = false});
        // Export from the file, not from memory: the header must match what loading sees.
        const auto loaded = qslm::io::load_qslm(dir / "test_model.qslm");
        qslm::io::write_header(dir / "test_model.hpp", loaded,
                               {.namespace_name = "qslm_test::generated", .source_name = "test_model.qslm"},
                               {.sync = false});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_test_model: %s\n", e.what());
        return 1;
    }
    return 0;
}
