// The C++ models against the PyTorch reference: golden files regenerated at test time from
// tiny random models (live), and the frozen golden files of the bundled models.
#include "golden_compare.hpp"

#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;
using namespace qslm;

namespace {

std::vector<fs::path> golden_files(const fs::path& dir) {
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().string().ends_with(".golden.json")) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// Compares one golden file with the model it names (in the same folder).
void check_golden_file(const fs::path& golden_path) {
    const auto g = qslm_test::read_json(golden_path);
    const fs::path model_path = golden_path.parent_path() / g["model"].get<std::string>();
    INFO("golden " << golden_path.string() << ", model " << model_path.string());
    REQUIRE(fs::exists(model_path));
    const std::string format = g["format"].get<std::string>();
    if (format == "qslm-spikegpt-v1") {
        const auto model = models::SpikeGptModel::load(model_path);
        const auto rep = qslm_test::compare_spikegpt_golden(model, g);
        CHECK(rep.steps_compared > 0);
        WARN(golden_path.filename().string() << ": " << rep.steps_compared << " steps, max abs logit error "
                                             << rep.max_abs_error << ", max relative " << rep.max_rel_error
                                             << (rep.stopped_at_tie ? " (stopped at a threshold tie)" : ""));
    } else if (format == "qslm-sdt-v1") {
        const auto model = models::SdtModel::load(model_path);
        const double err = qslm_test::compare_sdt_golden(model, g);
        WARN(golden_path.filename().string() << ": max relative logit error " << err);
    } else {
        FAIL("unknown golden format " << format);
    }
}

}  // namespace

// Run by the ctest entry test_models_live_golden (tests/models/run_live_golden.cmake), which
// first writes fresh tiny models and their goldens with tools/train/*.py into a build folder
// and passes it in QSLM_LIVE_GOLDEN_DIR.
TEST_CASE("C++ models reproduce freshly generated PyTorch golden files", "[.live-golden]") {
    // Hidden: only the ctest entry test_models_live_golden runs it, and it sets the folder
    // (it reports SKIPPED itself when torch is absent, before running this).
    const char* dir = std::getenv("QSLM_LIVE_GOLDEN_DIR");
    INFO("QSLM_LIVE_GOLDEN_DIR is not set; run the ctest entry test_models_live_golden");
    REQUIRE(dir != nullptr);
    const auto files = golden_files(dir);
    REQUIRE(files.size() >= 2);  // at least one SpikeGPT and one SDT
    for (const auto& f : files) {
        SECTION(f.filename().string()) { check_golden_file(f); }
    }
}

TEST_CASE("C++ models reproduce the committed golden files of the bundled and tiny models") {
    const fs::path models_dir = fs::path(QSLM_SOURCE_DIR) / "models";
    auto files = golden_files(models_dir);
    for (const auto& f : golden_files(models_dir / "tiny")) files.push_back(f);
    // The bundled and tiny models' goldens are committed: four files (SpikeGPT and SDT, bundled
    // and tiny). Fewer means a broken checkout, which must fail rather than compare nothing.
    REQUIRE(files.size() >= 4);
    for (const auto& f : files) {
        SECTION(f.filename().string()) { check_golden_file(f); }
    }
}

// The comparison must be able to fail: a golden file with one logit or one spike count changed
// is rejected ([!shouldfail]: this test passes only if its checks fail).
TEST_CASE("a tampered golden logit is caught", "[!shouldfail]") {
    const fs::path dir = fs::path(QSLM_SOURCE_DIR) / "models" / "tiny";
    REQUIRE(fs::exists(dir / "spikegpt-tiny-s1.golden.json"));
    auto g = qslm_test::read_json(dir / "spikegpt-tiny-s1.golden.json");
    g["logits"][5][7] = g["logits"][5][7].get<double>() + 0.01;
    const auto model = models::SpikeGptModel::load(dir / g["model"].get<std::string>());
    qslm_test::compare_spikegpt_golden(model, g);
}

TEST_CASE("a tampered golden spike count is caught", "[!shouldfail]") {
    const fs::path dir = fs::path(QSLM_SOURCE_DIR) / "models" / "tiny";
    REQUIRE(fs::exists(dir / "sdt-tiny-s1.golden.json"));
    auto g = qslm_test::read_json(dir / "sdt-tiny-s1.golden.json");
    g["sentences"][1]["spikes"]["blocks"][0]["q"][2] = g["sentences"][1]["spikes"]["blocks"][0]["q"][2].get<int>() + 1;
    const auto model = models::SdtModel::load(dir / g["model"].get<std::string>());
    qslm_test::compare_sdt_golden(model, g);
}
