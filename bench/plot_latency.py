#!/usr/bin/env python3
"""Latency against offered load, from the JSON reports of `parley-bench direct --rate R` runs.

Draws p50, p99 and p99.9 of send -> recipient frame (ms, log scale) against the offered rate,
marks the DESIGN.md target (p99 <= 2 ms at half of 50,000 msgs/s) and annotates each point
where the server delivered less than 95% of the offered rate (saturated: latency is then
queueing). Needs matplotlib (bench/requirements.txt; `.venv/bin/pip install -r
bench/requirements.txt`).

  .venv/bin/python bench/plot_latency.py --out docs/benchmarks-latency.png /tmp/sweep/*.json
"""
import argparse, json, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

LAT = "send -> recipient frame"
DELIVERED = "delivered (recipient frames)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", default="docs/benchmarks-latency.png")
    ap.add_argument("--title", default="parleyd: 1:1 send -> recipient frame latency vs offered load (open loop)")
    a = ap.parse_args()
    pts = []
    for f in a.files:
        j = json.load(open(f))
        if j.get("scenario") != "direct" or not j["config"].get("rate"):
            print(f"skipping {f}: not an open-loop direct run", file=sys.stderr)
            continue
        l = j["latency"][LAT]
        pts.append((j["config"]["rate"], j["rates_per_s"].get(DELIVERED, 0), l["p50_us"] / 1e3,
                    l["p99_us"] / 1e3, l["p99_9_us"] / 1e3, j.get("environment", {})))
    if not pts:
        sys.exit("no open-loop direct runs given")
    pts.sort()
    x = [p[0] for p in pts]
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    for i, (name, style) in enumerate([("p50", "o-"), ("p99", "s-"), ("p99.9", "^-")]):
        ax.plot(x, [p[2 + i] for p in pts], style, label=name, linewidth=1.8, markersize=6)
    ax.set_yscale("log")
    ax.set_xlabel("offered load (messages/s, open loop)")
    ax.set_ylabel("send -> recipient frame (ms, log scale)")
    ax.set_title(a.title, fontsize=11)
    ax.axhline(2.0, color="grey", linestyle="--", linewidth=1)
    ax.text(x[0], 2.0 * 1.08, "target: p99 <= 2 ms (at 25,000 msgs/s)", color="grey", fontsize=8)
    for p in pts:
        if p[1] < 0.95 * p[0]:
            ax.annotate(f"saturated:\n{p[1]:,.0f}/s delivered", (p[0], p[3]), textcoords="offset points",
                        xytext=(-8, -8), ha="right", va="top", fontsize=8, color="darkred")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left")
    loads = [p[5].get("load average (1 min) before / after", "") for p in pts]
    fig.text(0.01, 0.01, "1 run per rate; machine load average (1 min) before/after each run: " +
             "; ".join(l for l in loads if l), fontsize=7, color="dimgrey", wrap=True)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
