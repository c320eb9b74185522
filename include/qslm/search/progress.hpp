#pragma once
// Progress of a long search: phase, evaluations done / planned, elapsed time and an ETA. The
// search calls a ProgressCallback (possibly from a worker thread, never two at once);
// TerminalProgressBar is the ready-made one for command-line tools:
//
//   sensitivity [##########..........]  135/270  elapsed 0:41  eta 0:41
//
// Host-only header.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>

namespace qslm::search {

struct Progress {
    std::string phase;        ///< "baseline", "sensitivity", "global", "block", "module", "verify", ...
    std::size_t done = 0;     ///< evaluations finished (this run, all phases)
    std::size_t planned = 0;  ///< evaluations expected in all (an estimate that tightens as tiers finish)
    double elapsed_seconds = 0.0;
    double eta_seconds = 0.0; ///< remaining, from the mean time per evaluation so far
};

using ProgressCallback = std::function<void(const Progress&)>;

inline std::string format_duration(double seconds) {
    const auto s = static_cast<long>(std::lround(std::max(seconds, 0.0)));
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

/// One line redrawn in place with '\r'; `enabled = false` (--quiet, --json) prints nothing.
class TerminalProgressBar {
public:
    explicit TerminalProgressBar(std::ostream& out, bool enabled = true, int width = 24)
        : out_(&out), enabled_(enabled), width_(width) {}

    void operator()(const Progress& p) {
        if (!enabled_) return;
        const double frac = p.planned == 0 ? 0.0 : std::min(1.0, static_cast<double>(p.done) / static_cast<double>(p.planned));
        const int filled = static_cast<int>(frac * width_);
        std::string bar(static_cast<std::size_t>(filled), '#');
        bar.append(static_cast<std::size_t>(width_ - filled), '.');
        std::string line = p.phase;
        line.resize(std::max<std::size_t>(line.size(), 11), ' ');
        line += " [" + bar + "] " + std::to_string(p.done) + "/" + std::to_string(p.planned) + "  elapsed " +
                format_duration(p.elapsed_seconds) + "  eta " + format_duration(p.eta_seconds);
        *out_ << '\r' << line << "   " << std::flush;
        drawn_ = true;
    }

    /// Ends the line so later output starts clean.
    void finish() {
        if (enabled_ && drawn_) *out_ << '\n' << std::flush;
        drawn_ = false;
    }

private:
    std::ostream* out_;
    bool enabled_;
    int width_;
    bool drawn_ = false;
};

}  // namespace qslm::search
