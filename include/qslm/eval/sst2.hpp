#pragma once
// SST-2 (GLUE) sentiment data as tab-separated text: a header row, then one example per line,
// label first ("0" negative, "1" positive), a tab, the sentence. The shared copies use the
// headers "label<TAB>sentence" and "label<TAB>content"; any header whose first field is
// "label" is accepted. Malformed lines are errors that name the file and line number: a
// silently skipped example would change the accuracy the search optimises.
//
// Host-only header.

#include <cstddef>
#include <istream>
#include <sstream>
#include <string>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/eval/text_data.hpp"

namespace qslm::eval {

struct LabelledText {
    int label = 0;
    std::string text;
};

/// Parses SST-2 TSV from a stream; `source` names it in error messages. `num_labels` bounds
/// the labels (2 for SST-2). Errors (corrupt_data): missing header, a line without a tab, a
/// label that is not an integer in [0, num_labels), an empty sentence, no examples.
inline std::vector<LabelledText> parse_sst2_tsv(std::istream& in, const std::string& source, int num_labels = 2) {
    std::vector<LabelledText> out;
    std::string line;
    std::size_t line_no = 0;
    auto where = [&] { return source + ":" + std::to_string(line_no) + ": "; };
    while (std::getline(in, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();  // files written on Windows
        if (line_no == 1) {
            const std::string_view header = strip_utf8_bom(line);
            if (!header.starts_with("label\t"))
                fail(Status::corrupt_data, where() + "expected a header row starting with 'label<TAB>', found '" +
                                               std::string(header.substr(0, 40)) + "'");
            continue;
        }
        if (line.empty()) continue;  // a trailing blank line is harmless
        // A text file has no NUL: one means a binary file or damage, not a sentence.
        if (line.find('\0') != std::string::npos) fail(Status::corrupt_data, where() + "contains a NUL byte (not text)");
        const std::size_t tab = line.find('\t');
        if (tab == std::string::npos) fail(Status::corrupt_data, where() + "no tab between label and sentence");
        const std::string label_text = line.substr(0, tab);
        int label = -1;
        std::size_t used = 0;
        try {
            label = std::stoi(label_text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != label_text.size() || label < 0 || label >= num_labels)
            fail(Status::corrupt_data, where() + "label '" + label_text + "' is not an integer in [0, " +
                                           std::to_string(num_labels) + ")");
        std::string text = line.substr(tab + 1);
        if (text.find_first_not_of(" \t") == std::string::npos)
            fail(Status::corrupt_data, where() + "empty sentence");
        out.push_back({label, std::move(text)});
    }
    if (in.bad()) fail(Status::io_error, "reading '" + source + "' failed");
    if (line_no == 0) fail(Status::corrupt_data, source + ": empty file (no header row)");
    if (out.empty()) fail(Status::corrupt_data, source + ": a header but no examples");
    return out;
}

inline std::vector<LabelledText> read_sst2_tsv(const std::string& path, int num_labels = 2) {
    std::istringstream in(read_text_file(path));
    return parse_sst2_tsv(in, path, num_labels);
}

}  // namespace qslm::eval
