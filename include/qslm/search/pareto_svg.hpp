#pragma once
// The Pareto plot as a self-contained SVG (no plotting library): x = model size in KiB,
// y = the metric. Every evaluated candidate is a grey dot, the Pareto front a blue line with
// dots, the float baseline a black square, the chosen setting a red ring with a label, the
// memory limit a dashed vertical line.
//
// Host-only header.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "qslm/io/atomic_file.hpp"
#include "qslm/host/error.hpp"
#include "qslm/search/search_result.hpp"

namespace qslm::search {

namespace detail {
inline std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}
inline std::string xml_escape(const std::string& s) {
    std::string o;
    for (const char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            default: o += c;
        }
    }
    return o;
}
/// About five round tick values covering [lo, hi].
inline std::vector<double> ticks(double lo, double hi) {
    const double span = hi - lo;
    const double raw = span / 5.0;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
    std::vector<double> t;
    for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) t.push_back(v);
    return t;
}
}  // namespace detail

inline std::string pareto_svg(const SearchResult& r, int width = 720, int height = 480) {
    if (r.candidates.empty()) fail(Status::invalid_argument, "a Pareto plot needs evaluated candidates");
    const double left = 80, right = 20, top = 40, bottom = 60;
    double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
    for (const auto& c : r.candidates) {
        const double kib = static_cast<double>(c.bytes) / 1024.0;
        x0 = std::min(x0, kib), x1 = std::max(x1, kib);
        y0 = std::min(y0, c.performance.value), y1 = std::max(y1, c.performance.value);
    }
    if (r.memory_limit) {
        const double lim = static_cast<double>(*r.memory_limit) / 1024.0;
        x0 = std::min(x0, lim), x1 = std::max(x1, lim);
    }
    x0 = std::max(0.0, x0 - 0.05 * (x1 - x0 + 1.0)), x1 += 0.05 * (x1 - x0 + 1.0);
    const double ypad = 0.08 * std::max(y1 - y0, std::max(std::abs(y1) * 1e-3, 1e-9));
    y0 -= ypad, y1 += ypad;
    const double pw = width - left - right, ph = height - top - bottom;
    auto X = [&](double kib) { return left + (kib - x0) / (x1 - x0) * pw; };
    auto Y = [&](double v) { return top + (1.0 - (v - y0) / (y1 - y0)) * ph; };
    auto px = [&](const Candidate& c) { return X(static_cast<double>(c.bytes) / 1024.0); };

    const std::string metric = detail::xml_escape(r.baseline.performance.metric);
    std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    s += "<text x=\"" + detail::fmt("%.1f", left) + "\" y=\"24\" font-size=\"15\">" +
         detail::xml_escape(r.hierarchy.name()) + ": " + metric + " against size (" +
         detail::xml_escape(r.strategy) + ", " + std::to_string(r.candidates.size()) + " settings)</text>\n";
    // axes and ticks
    s += "<g stroke=\"#444\" fill=\"none\"><rect x=\"" + detail::fmt("%.1f", left) + "\" y=\"" +
         detail::fmt("%.1f", top) + "\" width=\"" + detail::fmt("%.1f", pw) + "\" height=\"" +
         detail::fmt("%.1f", ph) + "\"/></g>\n";
    for (const double t : detail::ticks(x0, x1))
        s += "<text x=\"" + detail::fmt("%.1f", X(t)) + "\" y=\"" + detail::fmt("%.1f", top + ph + 18) +
             "\" text-anchor=\"middle\">" + detail::fmt("%g", t) + "</text>\n";
    for (const double t : detail::ticks(y0, y1))
        s += "<text x=\"" + detail::fmt("%.1f", left - 6) + "\" y=\"" + detail::fmt("%.1f", Y(t) + 4) +
             "\" text-anchor=\"end\">" + detail::fmt("%.4g", t) + "</text>\n";
    s += "<text x=\"" + detail::fmt("%.1f", left + pw / 2) + "\" y=\"" + detail::fmt("%.1f", height - 18.0) +
         "\" text-anchor=\"middle\">model size (KiB)</text>\n";
    s += "<text transform=\"translate(18," + detail::fmt("%.1f", top + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + metric +
         (r.baseline.performance.higher_is_better() ? " (higher is better)" : " (lower is better)") + "</text>\n";
    if (r.memory_limit) {
        const double lx = X(static_cast<double>(*r.memory_limit) / 1024.0);
        s += "<line x1=\"" + detail::fmt("%.1f", lx) + "\" y1=\"" + detail::fmt("%.1f", top) + "\" x2=\"" +
             detail::fmt("%.1f", lx) + "\" y2=\"" + detail::fmt("%.1f", top + ph) +
             "\" stroke=\"#c60\" stroke-dasharray=\"5,4\"/>\n";
    }
    s += "<g fill=\"#999\" fill-opacity=\"0.6\">\n";
    for (const auto& c : r.candidates)
        s += "<circle cx=\"" + detail::fmt("%.1f", px(c)) + "\" cy=\"" + detail::fmt("%.1f", Y(c.performance.value)) +
             "\" r=\"2.5\"/>\n";
    s += "</g>\n<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.5\" points=\"";
    for (const std::size_t i : r.pareto)
        s += detail::fmt("%.1f", px(r.candidates[i])) + "," + detail::fmt("%.1f", Y(r.candidates[i].performance.value)) + " ";
    s += "\"/>\n<g fill=\"#1f5fbf\">\n";
    for (const std::size_t i : r.pareto)
        s += "<circle cx=\"" + detail::fmt("%.1f", px(r.candidates[i])) + "\" cy=\"" +
             detail::fmt("%.1f", Y(r.candidates[i].performance.value)) + "\" r=\"3.5\"/>\n";
    s += "</g>\n";
    s += "<rect x=\"" + detail::fmt("%.1f", px(r.baseline) - 4) + "\" y=\"" +
         detail::fmt("%.1f", Y(r.baseline.performance.value) - 4) + "\" width=\"8\" height=\"8\" fill=\"black\"/>\n";
    if (r.chosen) {
        const double cx = px(*r.chosen), cy = Y(r.chosen->performance.value);
        s += "<circle id=\"chosen\" cx=\"" + detail::fmt("%.1f", cx) + "\" cy=\"" + detail::fmt("%.1f", cy) +
             "\" r=\"8\" fill=\"none\" stroke=\"#d00\" stroke-width=\"2.5\"/>\n";
        s += "<text x=\"" + detail::fmt("%.1f", cx + 11) + "\" y=\"" + detail::fmt("%.1f", cy - 10) +
             "\" fill=\"#d00\">chosen</text>\n";
    }
    s += "</svg>\n";
    return s;
}

/// Writes the plot atomically (io/atomic_file.hpp): a kill leaves the old plot or the new one.
inline void write_pareto_svg(const SearchResult& r, const std::string& path) {
    const std::string svg = pareto_svg(r);
    io::write_file_atomically(path, {reinterpret_cast<const std::uint8_t*>(svg.data()), svg.size()});
}

}  // namespace qslm::search
