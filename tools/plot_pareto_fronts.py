#!/usr/bin/env python3
"""Several searches' Pareto fronts (memory vs score) in one SVG, one colour per search.

    python3 tools/plot_pareto_fronts.py --out fronts.svg nearest=a/report.json gptq=b/report.json ...

Each report.json is what `qslm search` writes: its `pareto` list ({bytes, score}, scored on the
calibration set), its `chosen` point (marked with a ring, at its calibration score so that it
sits on its front) and the float model's `baseline` (dashed line). Standard library only.
"""
import argparse
import json
import math
import sys

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
W, H = 760, 460
LEFT, RIGHT, TOP, BOTTOM = 80, 170, 30, 60


def load(label_and_path):
    label, sep, path = label_and_path.partition("=")
    if not sep or not label or not path:
        sys.exit(f"'{label_and_path}' is not LABEL=report.json")
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"{path}: {e}")
    if not report.get("pareto"):
        sys.exit(f"{path}: no Pareto front (is it a qslm search report.json?)")
    return label, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="SVG file to write")
    ap.add_argument("--linear", action="store_true", help="linear score axis (default: log scale)")
    ap.add_argument("--max-bytes", type=float, default=None,
                    help="leave out points above this many bytes (the near-float sensitivity points)")
    ap.add_argument("reports", nargs="+", metavar="LABEL=report.json")
    args = ap.parse_args()
    series = [load(r) for r in args.reports]
    if args.max_bytes:
        for _, r in series:
            r["pareto"] = [p for p in r["pareto"] if p["bytes"] <= args.max_bytes]
            if not r["pareto"]:
                sys.exit(f"no Pareto point at or below {args.max_bytes:.0f} bytes")

    metric = series[0][1].get("metric", "score")
    points = [(p["bytes"], p["score"]) for _, r in series for p in r["pareto"]]
    baselines = [r["baseline"]["calibration_score"] for _, r in series]
    xs = [b for b, _ in points]
    ys = [s for _, s in points] + baselines
    x0, x1 = 0.0, max(xs) * 1.05
    log = not args.linear and min(ys) > 0
    f = math.log10 if log else (lambda v: v)
    y0, y1 = f(min(ys)), f(max(ys))
    pad = (y1 - y0) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad

    def px(b):
        return LEFT + (b - x0) / (x1 - x0) * (W - LEFT - RIGHT)

    def py(s):
        return TOP + (1 - (f(s) - y0) / (y1 - y0)) * (H - TOP - BOTTOM)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="black"/>',
           f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="black"/>']
    for i in range(6):  # x ticks in MB
        b = x0 + (x1 - x0) * i / 5
        out.append(f'<text x="{px(b):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{b / 1e6:.1f}</text>')
    for i in range(6):
        v = y0 + (y1 - y0) * i / 5
        s = 10 ** v if log else v
        y = TOP + (1 - i / 5) * (H - TOP - BOTTOM)
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{s:.4g}</text>')
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 18}" text-anchor="middle">weight memory (MB)</text>')
    out.append(f'<text x="18" y="{(TOP + H - BOTTOM) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {(TOP + H - BOTTOM) / 2})">{metric} (calibration set{", log scale" if log else ""})</text>')
    base = baselines[0]
    out.append(f'<line x1="{LEFT}" y1="{py(base):.1f}" x2="{W - RIGHT}" y2="{py(base):.1f}" stroke="gray" stroke-dasharray="4 3"/>')
    out.append(f'<text x="{W - RIGHT + 6}" y="{py(base) + 4:.1f}" fill="gray">float {base:.4g}</text>')
    for k, (label, r) in enumerate(series):
        c = COLOURS[k % len(COLOURS)]
        front = sorted((p["bytes"], p["score"]) for p in r["pareto"])
        path = " ".join(f"{px(b):.1f},{py(s):.1f}" for b, s in front)
        out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="1.5"/>')
        for b, s in front:
            out.append(f'<circle cx="{px(b):.1f}" cy="{py(s):.1f}" r="2.5" fill="{c}"/>')
        chosen = r.get("chosen")
        if chosen:
            out.append(f'<circle cx="{px(chosen["bytes"]):.1f}" cy="{py(chosen["calibration_score"]):.1f}" r="7" '
                       f'fill="none" stroke="{c}" stroke-width="2"/>')
        y = TOP + 20 * k
        out.append(f'<rect x="{W - RIGHT + 10}" y="{y + 30}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{W - RIGHT + 28}" y="{y + 40}">{label}</text>')
    out.append(f'<text x="{W - RIGHT + 10}" y="{TOP + 20 * len(series) + 52}" fill="gray">ring = chosen</text>')
    out.append("</svg>")
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
