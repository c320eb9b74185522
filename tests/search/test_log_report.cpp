#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "qslm/search/granularity.hpp"
#include "qslm/search/objective.hpp"
#include "qslm/search/pareto_svg.hpp"
#include "qslm/search/report.hpp"
#include "qslm/search/searcher.hpp"
#include "synthetic_model.hpp"

using namespace qslm;
using namespace qslm::search;

namespace {
using TieredSearch =
    Tiered<sensitivity::KLDivergence, rounding::Nearest, granularity::PerChannel, objective::PerformanceMemoryTradeoff>;

std::string temp_path(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / "qslm_test_search";
    std::filesystem::create_directories(dir);
    const auto p = dir / name;
    std::filesystem::remove(p);
    return p.string();
}

Options options(const std::string& log) {
    Options o;
    o.widths = {8, 6, 4, 2};
    o.threads = 2;
    o.log_path = log;
    o.log_tag = "synthetic";
    return o;
}

Constraints constraints() {
    Constraints c;
    c.max_drop = 0.02;
    return c;
}

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}
}  // namespace

TEST_CASE("a second run with the same log reuses every evaluation and returns the same answer") {
    const auto model = test::small_model();
    const auto log = temp_path("resume.jsonl");
    test::SyntheticEvaluator ev;
    const auto first = TieredSearch{options(log)}.run(model, ev, constraints());
    CHECK(*ev.calls > 0);
    CHECK(first.reused_from_log == 0);
    CHECK(lines_of(log).size() == first.evaluations + 1);  // header + one line per evaluation

    test::SyntheticEvaluator ev2;
    const auto second = TieredSearch{options(log)}.run(model, ev2, constraints());
    CHECK(second.evaluations == 0);
    CHECK(second.reused_from_log == first.evaluations);
    CHECK(*ev2.calls == 0);  // everything, KL values included, came from the log
    REQUIRE(second.chosen.has_value());
    CHECK(second.chosen->setting == first.chosen->setting);
    CHECK(second.candidates.size() == first.candidates.size());
}

TEST_CASE("an interrupted search resumes from its log to the same answer") {
    const auto model = test::small_model();
    const auto log = temp_path("cancel.jsonl");
    const auto reference = TieredSearch{options("")}.run(model, test::SyntheticEvaluator{}, constraints());

    std::atomic<bool> stop{false};
    Options o = options(log);
    o.cancel = &stop;
    int seen = 0;
    o.progress = [&](const Progress& p) {
        if (p.done >= 20 && ++seen == 1) stop = true;  // "Ctrl-C" after 20 evaluations
    };
    try {
        (void)TieredSearch{o}.run(model, test::SyntheticEvaluator{}, constraints());
        FAIL("the search should have been cancelled");
    } catch (const Error& e) {
        CHECK(e.code() == Status::cancelled);
        CHECK_THAT(std::string(e.what()), Catch::Contains("rerun with the same log"));
    }
    const auto logged = lines_of(log).size();
    CHECK(logged > 20);

    const auto resumed = TieredSearch{options(log)}.run(model, test::SyntheticEvaluator{}, constraints());
    CHECK(resumed.reused_from_log + 1 >= logged - 1);
    REQUIRE(resumed.chosen.has_value());
    CHECK(resumed.chosen->setting == reference.chosen->setting);
}

TEST_CASE("a torn last log line is dropped, damage elsewhere is an error naming the line") {
    const auto model = test::small_model();
    const auto log = temp_path("torn.jsonl");
    (void)TieredSearch{options(log)}.run(model, test::SyntheticEvaluator{}, constraints());
    auto lines = lines_of(log);
    {
        std::ofstream out(log, std::ios::app);
        out << "{\"widths\":[8,8,";  // the process died mid-line
    }
    const auto again = TieredSearch{options(log)}.run(model, test::SyntheticEvaluator{}, constraints());
    CHECK(again.evaluations == 0);
    CHECK(lines_of(log).size() == lines.size());

    lines[3] = "not json";
    {
        std::ofstream out(log, std::ios::trunc);
        for (const auto& l : lines) out << l << '\n';
    }
    CHECK_THROWS_WITH(TieredSearch{options(log)}.run(model, test::SyntheticEvaluator{}, constraints()),
                      Catch::Contains("line 4 is not a JSON object"));

    lines[3] = "{\"widths\":[8,8],\"full\":false,\"value\":0.5,\"metric\":\"accuracy\",\"higher_is_better\":true}";
    {
        std::ofstream out(log, std::ios::trunc);
        for (const auto& l : lines) out << l << '\n';
    }
    CHECK_THROWS_WITH(TieredSearch{options(log)}.run(model, test::SyntheticEvaluator{}, constraints()),
                      Catch::Contains("line 4: 2 widths for 8 modules"));
}

TEST_CASE("every log line carries a CRC-32C: a damaged last line is dropped and reported, damage inside is an error") {
    const auto model = test::small_model();
    const auto log = temp_path("crc.jsonl");
    const auto first = TieredSearch{options(log)}.run(model, test::SyntheticEvaluator{}, constraints());
    CHECK(first.log_repair.empty());
    auto lines = lines_of(log);
    REQUIRE(lines.size() > 4);
    for (const auto& l : lines) {
        REQUIRE(l.size() > 9);
        CHECK(l[l.size() - 9] == '\t');
        CHECK(EvaluationLog::unseal(l).has_value());
    }
    CHECK(EvaluationLog::unseal(EvaluationLog::seal("{\"a\":1}")) == std::optional<std::string>("{\"a\":1}"));
    const auto write = [&](const std::vector<std::string>& ls) {
        std::ofstream out(log, std::ios::trunc | std::ios::binary);
        for (const auto& l : ls) out << l << '\n';
    };
    // One changed digit in the value of the last line: still JSON, but the checksum fails.
    auto damaged = lines;
    auto& last = damaged.back();
    const auto at = last.find("\"value\":") + 8;
    last[at] = last[at] == '1' ? '2' : '1';
    REQUIRE_FALSE(EvaluationLog::unseal(last).has_value());
    const std::string bad_line = last;
    write(damaged);
    const auto resumed = TieredSearch{options(log)}.run(model, test::SyntheticEvaluator{}, constraints());
    CHECK_THAT(resumed.log_repair, Catch::Contains("dropped a torn last line"));
    CHECK(resumed.evaluations == 1);  // only the dropped line is evaluated again
    REQUIRE(resumed.chosen.has_value());
    CHECK(resumed.chosen->setting == first.chosen->setting);
    CHECK(search::to_json(resumed).contains("log_repair"));
    // The same damage on an inner line is an error naming it.
    damaged = lines;
    damaged[2] = bad_line;
    write(damaged);
    CHECK_THROWS_WITH(TieredSearch{options(log)}.run(model, test::SyntheticEvaluator{}, constraints()),
                      Catch::Contains("line 3 fails its CRC-32C check"));
}

TEST_CASE("a log written for another model or evaluator is refused") {
    const auto log = temp_path("other.jsonl");
    (void)TieredSearch{options(log)}.run(test::small_model(1), test::SyntheticEvaluator{}, constraints());
    Options other = options(log);
    other.log_tag = "other data";
    CHECK_THROWS_WITH(TieredSearch{other}.run(test::small_model(1), test::SyntheticEvaluator{}, constraints()),
                      Catch::Contains("written for a different model"));
    CHECK_THROWS_WITH(TieredSearch{options(log)}.run(test::random_model(3, 2, 2), test::SyntheticEvaluator{},
                                                      constraints()),
                      Catch::Contains("different model"));
}

TEST_CASE("the report carries the fields the CLI needs") {
    const auto model = test::small_model();
    const auto r = TieredSearch{options("")}.run(model, test::SyntheticEvaluator{}, constraints());
    REQUIRE(r.satisfied);
    const nlohmann::json j = to_json(r);
    for (const char* key : {"baseline", "chosen", "memory_reduction", "constraints", "satisfied", "evaluations",
                            "seconds", "pareto", "exhaustive_settings", "tiers", "sensitivity", "message"})
        CHECK(j.contains(key));
    CHECK(j["baseline"]["bytes"] == r.baseline.bytes);
    CHECK(j["chosen"]["bytes"] == r.chosen->bytes);
    CHECK(j["chosen"]["widths"].size() == model.h.module_count());
    CHECK(j["chosen"]["widths"].contains("head.m0"));
    CHECK(j["chosen"]["bits_per_weight"].get<double>() < 8.5);
    CHECK(j["memory_reduction"].get<double>() > 0.7);
    CHECK(j["constraints"]["max_drop"] == 0.02);
    CHECK(j["satisfied"] == true);
    CHECK(j["pareto"].size() == r.pareto.size());
    CHECK(j["pareto"][0].contains("bytes"));
    CHECK(j["pareto"][0].contains("score"));
    CHECK(j["exhaustive_settings"].get<double>() == Approx(65536.0));
    REQUIRE(j["tiers"].size() >= 3);  // global, block, module (+ refine when it improved)
    CHECK(j["tiers"][0]["tier"] == "global");
    CHECK(j["tiers"][1]["tier"] == "block");
    CHECK(j["tiers"][2]["tier"] == "module");
}

TEST_CASE("the report of an unsatisfiable search has no chosen setting but the closest ones") {
    Constraints c;
    c.max_bytes = 10;
    const auto r = TieredSearch{options("")}.run(test::small_model(), test::SyntheticEvaluator{}, c);
    const nlohmann::json j = to_json(r);
    CHECK(j["chosen"].is_null());
    CHECK(j["satisfied"] == false);
    CHECK(j["closest"].size() == 3);
}

TEST_CASE("the Pareto plot is an SVG with the chosen point marked") {
    const auto r = TieredSearch{options("")}.run(test::small_model(), test::SyntheticEvaluator{}, constraints());
    const std::string svg = pareto_svg(r);
    CHECK(svg.starts_with("<svg"));
    CHECK_THAT(svg, Catch::Contains("id=\"chosen\""));
    CHECK_THAT(svg, Catch::Contains("polyline"));
    CHECK_THAT(svg, Catch::EndsWith("</svg>\n"));
    const auto path = temp_path("pareto.svg");
    write_pareto_svg(r, path);
    CHECK(std::filesystem::file_size(path) == svg.size());
}

TEST_CASE("progress counts evaluations and the terminal bar can be silenced") {
    std::vector<Progress> seen;
    Options o = options("");
    o.progress = [&](const Progress& p) { seen.push_back(p); };
    const auto r = TieredSearch{o}.run(test::small_model(), test::SyntheticEvaluator{}, constraints());
    REQUIRE_FALSE(seen.empty());
    for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i].done >= seen[i - 1].done);
    CHECK(seen.back().done == r.evaluations);
    CHECK(seen.back().planned >= seen.back().done);

    std::ostringstream out, quiet;
    TerminalProgressBar bar(out), silent(quiet, false);
    const Progress p{"sensitivity", 5, 10, 65.0, 65.0};
    bar(p);
    silent(p);
    bar.finish();
    CHECK_THAT(out.str(), Catch::Contains("5/10"));
    CHECK_THAT(out.str(), Catch::Contains("elapsed 1:05"));
    CHECK_THAT(out.str(), Catch::Contains("[############............]"));
    CHECK(quiet.str().empty());
}
