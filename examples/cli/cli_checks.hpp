#pragma once
// Checks for qslm's command-line values and output files, kept apart from qslm.cpp so that the
// subcommands stay readable.
//
// Numbers: CLI11 converts "-1" into an unsigned option by wrapping it (18446744073709551615),
// and its Range/PositiveNumber validators let NaN through (every comparison with NaN is false).
// The validators here read the text themselves: an integer is digits only, a real number must
// be finite, and both must lie in a stated range; the message names the accepted range.
// Enumerations list the accepted values.

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qslm/host/error.hpp"
#include "qslm/io/atomic_file.hpp"

namespace qslm_cli {

/// An integer in [lo, hi]: decimal digits only (no sign, no exponent, no wrap-around).
inline CLI::Validator integer_in(std::uint64_t lo, std::uint64_t hi) {
    const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return CLI::Validator(
        [lo, hi, range](std::string& s) -> std::string {
            bool digits = !s.empty() && s.size() <= 20;
            for (const char c : s) digits = digits && c >= '0' && c <= '9';
            errno = 0;
            const unsigned long long v = digits ? std::strtoull(s.c_str(), nullptr, 10) : 0;
            if (!digits || errno == ERANGE || v < lo || v > hi)
                return "'" + s + "' is not a whole number in " + range;
            return {};
        },
        "INT in " + range, "integer_in");
}

/// A finite real number in [lo, hi] (NaN and infinities refused).
inline CLI::Validator real_in(double lo, double hi, bool lo_open = false) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%g, %g]", lo_open ? "(" : "[", lo, hi);
    const std::string range = buf;
    return CLI::Validator(
        [lo, hi, lo_open, range](std::string& s) -> std::string {
            char* end = nullptr;
            errno = 0;
            const double v = s.empty() ? std::nan("") : std::strtod(s.c_str(), &end);
            if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < lo || v > hi || (lo_open && v == lo))
                return "'" + s + "' is not a finite number in " + range;
            return {};
        },
        "NUMBER in " + range, "real_in");
}

/// One of `accepted`; the message lists them.
inline CLI::Validator one_of(std::vector<std::string> accepted) {
    std::string list;
    for (const auto& a : accepted) list += (list.empty() ? "" : ", ") + a;
    return CLI::Validator(
        [accepted, list](std::string& s) -> std::string {
            for (const auto& a : accepted)
                if (s == a) return {};
            return "'" + s + "' is not one of: " + list;
        },
        "{" + list + "}", "one_of");
}

/// "tensor" | "channel" | "per-tensor" | "per-channel" | "group:G" with G a whole number in
/// [1, 2^20] and nothing after it. Returns the group size (0 for tensor/channel) or -1.
inline long granularity_group(std::string_view g) {
    if (g == "tensor" || g == "per-tensor" || g == "channel" || g == "per-channel") return 0;
    constexpr std::string_view prefix = "group:";
    if (!g.starts_with(prefix)) return -1;
    g.remove_prefix(prefix.size());
    if (g.empty() || g.size() > 7) return -1;
    long n = 0;
    for (const char c : g) {
        if (c < '0' || c > '9') return -1;
        n = n * 10 + (c - '0');
    }
    return n >= 1 && n <= (1L << 20) ? n : -1;
}

inline CLI::Validator granularity() {
    return CLI::Validator(
        [](std::string& s) -> std::string {
            if (granularity_group(s) < 0)
                return "'" + s + "' is not tensor, channel or group:G (G a whole number in [1, 1048576])";
            return {};
        },
        "tensor|channel|group:G", "granularity");
}

/// A file the tool reads whole: it must exist and be a regular file (a device or a FIFO such
/// as /dev/zero can be endless; the readers cap what they read as well).
inline CLI::Validator regular_file() {
    return CLI::Validator(
        [](std::string& s) -> std::string {
            std::error_code ec;
            const auto st = std::filesystem::status(s, ec);
            if (ec || !std::filesystem::exists(st)) return "file '" + s + "' does not exist";
            if (std::filesystem::is_directory(st)) return "'" + s + "' is a folder, not a file";
            if (!std::filesystem::is_regular_file(st))
                return "'" + s + "' is not a regular file (a device or pipe can be endless)";
            return {};
        },
        "FILE", "regular_file");
}

// ---- output files -----------------------------------------------------------------------------

/// Writes `text` to `path` through the atomic-write helper (temporary file in the same folder,
/// fsync, rename, fsync of the folder); an error names the path.
inline void write_output(const std::filesystem::path& path, std::string_view text) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        qslm::fail(qslm::Status::io_error, "cannot write '" + path.string() + "': it is a folder");
    qslm::io::write_file_atomically(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

/// Removes temporary files that an interrupted earlier run left beside `targets` in `dir`:
/// the atomic-write helper's own names only ("<target>.tmp-" followed by 6 to 9 letters and
/// digits), nothing else. Returns how many were removed.
inline std::size_t remove_stale_temporaries(const std::filesystem::path& dir, std::initializer_list<std::string_view> targets) {
    std::size_t removed = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        for (const auto t : targets) {
            const std::string prefix = std::string(t) + ".tmp-";
            if (!name.starts_with(prefix)) continue;
            const std::string_view tail = std::string_view(name).substr(prefix.size());
            bool ours = tail.size() >= 7 && tail.size() <= 9;
            for (const char c : tail) ours = ours && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'));
            std::error_code rm;
            if (ours && e.is_regular_file(rm) && std::filesystem::remove(e.path(), rm)) ++removed;
        }
    }
    return removed;
}

}  // namespace qslm_cli
