#pragma once
// EvaluationLog: every evaluation the search makes, one JSON object per line, written as it
// happens and flushed, so that an interrupted search (Ctrl-C, a crash, a time limit) loses
// nothing. A later run with the same log reuses every logged result instead of evaluating
// again; the rest of the search then retraces the same decisions, so a resumed search returns
// exactly what an uninterrupted one would.
//
//   {"qslm_search_log":1,"fingerprint":"...","model":"spikegpt","modules":45}<TAB>1a2b3c4d   <- header
//   {"widths":[8,8,4,...],"full":false,"value":2.31,"metric":"bits_per_char","higher_is_better":false,"bytes":123456}<TAB>...
//   {"widths":[...],"full":false,"value":2.35,...,"kl":0.0123}<TAB>...
//
// Each line ends in a tab and the CRC-32C of the JSON text before it (8 lower-case hex digits),
// so damage is found by the checksum, not by whether the rest still happens to parse as JSON.
// Lines without the suffix (logs written before it existed) are read as plain JSON.
// The fingerprint covers the model structure, the quantization (granularity, rounding) and
// the caller's tag (which should name the evaluator and its data): a log written for something
// else is refused rather than silently mixed in. A torn last line (the process died while
// writing it: no final newline, or a checksum or JSON that fails) is dropped and reported by
// repair_note(); damage anywhere else is an error naming the line.
//
// Host-only header.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qslm/host/error.hpp"
#include "qslm/eval/performance.hpp"
#include "qslm/io/crc32c.hpp"
#include "qslm/search/setting.hpp"

namespace qslm::search {

struct LoggedEvaluation {
    eval::Performance performance;
    std::optional<double> kl;
};

class EvaluationLog {
public:
    static constexpr int format_version = 1;

    /// No file: nothing is logged or reused.
    EvaluationLog() = default;

    /// Opens (or creates) the log at `path`. Errors: io_error, corrupt_data (a bad line, with
    /// its number), invalid_argument (the log belongs to another model or setup).
    EvaluationLog(std::string path, std::string fingerprint, const std::string& model_name, std::size_t modules)
        : path_(std::move(path)), fingerprint_(std::move(fingerprint)) {
        if (std::filesystem::exists(path_)) load(modules);
        out_.open(path_, std::ios::app | std::ios::binary);
        if (!out_) fail(Status::io_error, "cannot open search log '" + path_ + "' for writing");
        if (!header_seen_) {
            nlohmann::json h = {{"qslm_search_log", format_version}, {"fingerprint", fingerprint_},
                                {"model", model_name}, {"modules", modules}};
            write_line(h.dump());
        }
    }

    [[nodiscard]] bool enabled() const noexcept { return !path_.empty(); }
    [[nodiscard]] std::size_t loaded() const noexcept { return entries_.size(); }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// What loading repaired (a dropped torn last line), empty when nothing: for the user.
    [[nodiscard]] const std::string& repair_note() const noexcept { return repair_note_; }

    /// "<json>\t<crc32c hex>": the line as written (without the newline).
    [[nodiscard]] static std::string seal(const std::string& json) {
        char crc[9];
        std::snprintf(crc, sizeof crc, "%08x",
                      io::crc32c({reinterpret_cast<const std::uint8_t*>(json.data()), json.size()}));
        return json + '\t' + crc;
    }

    /// The JSON text of a logged line: the checksum suffix verified and removed; a line without
    /// one (an older log) as it is. nullopt when the checksum does not match.
    [[nodiscard]] static std::optional<std::string> unseal(const std::string& line) {
        const std::size_t n = line.size();
        if (n < 9 || line[n - 9] != '\t') return line;
        std::uint32_t stored = 0;
        for (std::size_t i = n - 8; i < n; ++i) {
            const char c = line[i];
            const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return std::nullopt;
            stored = stored << 4 | static_cast<std::uint32_t>(d);
        }
        const std::string json = line.substr(0, n - 9);
        if (io::crc32c({reinterpret_cast<const std::uint8_t*>(json.data()), json.size()}) != stored) return std::nullopt;
        return json;
    }

    [[nodiscard]] std::optional<LoggedEvaluation> find(const Setting& s, bool full) const {
        std::lock_guard lock(mutex_);
        const auto it = entries_.find(key(s, full));
        if (it == entries_.end()) return std::nullopt;
        return it->second;
    }

    /// Appends one evaluation and flushes it to disk. Thread-safe.
    void append(const Setting& s, bool full, const LoggedEvaluation& e, std::size_t bytes) {
        if (!enabled()) return;
        nlohmann::json j = {{"widths", s.widths},
                            {"full", full},
                            {"value", e.performance.value},
                            {"metric", e.performance.metric},
                            {"higher_is_better", e.performance.higher_is_better()},
                            {"bytes", bytes}};
        if (e.kl) j["kl"] = *e.kl;
        std::lock_guard lock(mutex_);
        entries_[key(s, full)] = e;
        write_line(j.dump());
    }

private:
    static std::string key(const Setting& s, bool full) { return (full ? "F:" : "C:") + s.key(); }

    void write_line(const std::string& json) {
        out_ << seal(json) << '\n';
        out_.flush();
        if (!out_) fail(Status::io_error, "writing to search log '" + path_ + "' failed");
    }

    void load(std::size_t modules) {
        std::ifstream in(path_, std::ios::binary);
        if (!in) fail(Status::io_error, "cannot read search log '" + path_ + "'");
        std::string line;
        std::size_t line_no = 0, good_bytes = 0, offset = 0;
        std::string torn;
        while (std::getline(in, line)) {
            ++line_no;
            const bool complete = !in.eof();  // getline stopped at a '\n'
            offset += line.size() + (complete ? 1 : 0);
            if (line.empty()) {
                good_bytes = offset;
                continue;
            }
            const bool last = !complete || in.peek() == std::char_traits<char>::eof();
            // Every line is written with its newline; one without is the write a kill cut short.
            if (!complete) {
                torn = line;
                break;
            }
            const auto text = unseal(line);
            if (!text) {
                if (last) {
                    torn = line;  // the last line, damaged by an interruption: drop it
                    break;
                }
                fail(Status::corrupt_data, "search log '" + path_ + "' line " + std::to_string(line_no) +
                                               " fails its CRC-32C check (the file is damaged)");
            }
            nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
            if (j.is_discarded() || !j.is_object()) {
                if (last) {
                    torn = line;  // the last line, cut short by an interruption: drop it
                    break;
                }
                fail(Status::corrupt_data, "search log '" + path_ + "' line " + std::to_string(line_no) +
                                               " is not a JSON object");
            }
            if (line_no == 1 || j.contains("qslm_search_log")) {
                check_header(j, line_no);
            } else {
                read_entry(j, line_no, modules);
            }
            good_bytes = offset;
        }
        in.close();
        const auto size = std::filesystem::file_size(path_);
        if (!torn.empty() || good_bytes != size) {
            repair_note_ = "search log '" + path_ + "': dropped a torn last line (" + std::to_string(size - good_bytes) +
                           " bytes, line " + std::to_string(line_no) + ") left by an interrupted run; " +
                           std::to_string(entries_.size()) + " logged evaluations are reused";
            std::filesystem::resize_file(path_, good_bytes);
        }
    }

    void check_header(const nlohmann::json& j, std::size_t line_no) {
        if (!j.contains("qslm_search_log") || !j.contains("fingerprint"))
            fail(Status::corrupt_data, "search log '" + path_ + "' line " + std::to_string(line_no) +
                                           ": expected the header {\"qslm_search_log\":1,\"fingerprint\":...}");
        if (j["qslm_search_log"] != format_version)
            fail(Status::unsupported_version, "search log '" + path_ + "' has format version " +
                                                  j["qslm_search_log"].dump() + "; this build reads version 1");
        if (j["fingerprint"] != fingerprint_)
            fail(Status::invalid_argument, "search log '" + path_ +
                                               "' was written for a different model, quantization or evaluator "
                                               "(fingerprint " + j["fingerprint"].dump() + ", expected \"" +
                                               fingerprint_ + "\"); delete it or choose another log file");
        header_seen_ = true;
    }

    void read_entry(const nlohmann::json& j, std::size_t line_no, std::size_t modules) {
        const std::string where = "search log '" + path_ + "' line " + std::to_string(line_no) + ": ";
        try {
            Setting s{j.at("widths").get<std::vector<int>>()};
            if (s.size() != modules)
                fail(Status::corrupt_data, where + std::to_string(s.size()) + " widths for " +
                                               std::to_string(modules) + " modules");
            for (const int w : s.widths) check_width(w, where);
            LoggedEvaluation e;
            e.performance.value = j.at("value").get<double>();
            e.performance.metric = j.at("metric").get<std::string>();
            e.performance.direction = j.at("higher_is_better").get<bool>() ? eval::Direction::higher_is_better
                                                                          : eval::Direction::lower_is_better;
            if (j.contains("kl")) e.kl = j.at("kl").get<double>();
            entries_[key(s, j.at("full").get<bool>())] = e;
        } catch (const nlohmann::json::exception& ex) {
            fail(Status::corrupt_data, where + ex.what());
        } catch (const Error& ex) {
            if (ex.code() == Status::bad_bit_width) fail(Status::corrupt_data, ex.what());
            throw;
        }
    }

    std::string path_;
    std::string fingerprint_;
    std::string repair_note_;
    bool header_seen_ = false;
    std::ofstream out_;
    mutable std::mutex mutex_;
    std::map<std::string, LoggedEvaluation> entries_;
};

}  // namespace qslm::search
