#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "qslm/eval/sst2.hpp"
#include "qslm/eval/text_data.hpp"
#include "data_dir.hpp"

using namespace qslm;
using namespace qslm::eval;

namespace {
std::vector<LabelledText> parse(const std::string& text) {
    std::istringstream in(text);
    return parse_sst2_tsv(in, "dev.tsv");
}
}  // namespace

TEST_CASE("SST-2 TSV is read label first, after a header row") {
    const auto ex = parse("label\tsentence\n0\ta dull film .\n1\tgreat fun\r\n\n");
    REQUIRE(ex.size() == 2);
    CHECK(ex[0].label == 0);
    CHECK(ex[0].text == "a dull film .");
    CHECK(ex[1].label == 1);
    CHECK(ex[1].text == "great fun");
}

TEST_CASE("malformed SST-2 lines are errors that name the line") {
    CHECK_THROWS_WITH(parse("sentence\tlabel\nfoo\t1\n"), Catch::Contains("dev.tsv:1: expected a header row"));
    CHECK_THROWS_WITH(parse("label\tsentence\n1\tok\nno tab here\n"), Catch::Contains("dev.tsv:3: no tab"));
    CHECK_THROWS_WITH(parse("label\tsentence\n2\ttoo positive\n"), Catch::Contains("dev.tsv:2: label '2'"));
    CHECK_THROWS_WITH(parse("label\tsentence\nx\twhat\n"), Catch::Contains("dev.tsv:2: label 'x'"));
    CHECK_THROWS_WITH(parse("label\tsentence\n1x\twhat\n"), Catch::Contains("label '1x'"));
    CHECK_THROWS_WITH(parse("label\tsentence\n1\t  \n"), Catch::Contains("dev.tsv:2: empty sentence"));
    CHECK_THROWS_WITH(parse(""), Catch::Contains("empty file"));
    CHECK_THROWS_WITH(parse("label\tsentence\n"), Catch::Contains("no examples"));
    CHECK_THROWS_WITH(read_sst2_tsv("/nonexistent/dev.tsv"), Catch::Contains("cannot open"));
    CHECK_THROWS_WITH(parse(std::string("label\tsentence\n1\ta fine\0 film\n", 30)), Catch::Contains("dev.tsv:2: contains a NUL"));
}

TEST_CASE("a text file larger than the cap, or an endless device, is refused without reading it all") {
    const auto path = std::filesystem::temp_directory_path() / "qslm_test_cap.txt";
    {
        std::ofstream out(path, std::ios::binary);
        out << std::string(3000, 'a');
    }
    CHECK(read_text_file(path.string(), 3000).size() == 3000);
    CHECK_THROWS_WITH(read_text_file(path.string(), 2999), Catch::Contains("holds more than"));
    std::filesystem::remove(path);
    // /dev/zero never ends: refused once the cap is passed (1 MiB here, to keep it quick).
    if (std::filesystem::exists("/dev/zero"))
        CHECK_THROWS_WITH(read_text_file("/dev/zero", std::size_t{1} << 20), Catch::Contains("endless stream"));
}

TEST_CASE("text becomes byte tokens without the UTF-8 byte-order mark") {
    const auto t = byte_tokens("\xEF\xBB\xBFhi \xC3\xA9");
    CHECK(t == std::vector<int>{'h', 'i', ' ', 0xC3, 0xA9});
    CHECK(count_words(" = Robert <unk> = \n Robert is\tan actor . ") == 9);
    CHECK(count_words("") == 0);
}

TEST_CASE("token streams are cut into sequences that each predict something") {
    const std::vector<int> tokens = {1, 2, 3, 4, 5, 6, 7};
    const auto s = split_sequences(tokens, 3);
    REQUIRE(s.size() == 2);  // a lone last token predicts nothing and is dropped
    CHECK(s[0] == std::vector<int>{1, 2, 3});
    CHECK(s[1] == std::vector<int>{4, 5, 6});
    CHECK(split_sequences(std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}, 3).back() == std::vector<int>{7, 8});
    CHECK(split_sequences(tokens, 2, 2).size() == 2);
    CHECK_THROWS_WITH(split_sequences(tokens, 1), Catch::Contains("at least 2"));
    CHECK_THROWS_WITH(split_sequences(std::vector<int>{1}, 4), Catch::Contains("fewer than 2 tokens"));
}

// Needs the shared data: its own ctest entry (test_eval_data), skipped without it.
TEST_CASE("the shared SST-2 dev set and WikiText-2 test set load", "[.data-eval]") {
    const auto dev = read_sst2_tsv(qslm_test::data_file_or_skip("sst2/dev.tsv").string());
    CHECK(dev.size() == 872);
    const auto text = read_text_file(qslm_test::data_file_or_skip("wikitext-2/test.txt").string());
    const auto tokens = byte_tokens(text);
    CHECK(tokens.size() + 3 == text.size());  // the BOM is gone
    CHECK(tokens[0] == ' ');
    CHECK(count_words(text) > 200000);
}
