#!/usr/bin/env python3
"""Where a message's time goes: the per-stage histograms of parleyd's /metrics, diffed around a
command (usually a parley-bench run), summed over every node, with p50/p99 estimated inside the
buckets.

  bench/stages.py [--node URL ...] -- COMMAND [ARGS ...]
  bench/stages.py --node http://127.0.0.1:18081 --node http://127.0.0.1:18082 \\
      --node http://127.0.0.1:18083 -- build/bench/parley-bench --url http://127.0.0.1:28080 \\
      --users 20 direct --rate 100

Without --node it reads http://127.0.0.1:8080. The command's output passes through; the table
follows it. Only histograms that counted something during the command are shown.
"""
import argparse
import re
import subprocess
import sys
import urllib.request

LINE = re.compile(r'^(\w+)_bucket\{le="([^"]+)"\} (\d+)$')
SUM = re.compile(r'^(\w+)_sum (\S+)$')


def scrape(url):
    """({histogram name: [(upper bound, cumulative count), ...]}, {name: sum in seconds}) from
    one node's /metrics."""
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out, sums = {}, {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            bound = float("inf") if m.group(2) == "+Inf" else float(m.group(2))
            out.setdefault(m.group(1), []).append((bound, int(m.group(3))))
            continue
        m = SUM.match(line)
        if m:
            sums[m.group(1)] = float(m.group(2))
    return out, sums


def total(scrapes):
    """Sums the cumulative buckets (and the sums) of every node, histogram by histogram."""
    out, sums = {}, {}
    for buckets_of, sums_of in scrapes:
        for name, buckets in buckets_of.items():
            acc = out.setdefault(name, [[b, 0] for b, _ in buckets])
            for i, (_, c) in enumerate(buckets):
                acc[i][1] += c
            sums[name] = sums.get(name, 0.0) + sums_of.get(name, 0.0)
    return out, sums


def quantile(buckets, q):
    """Linear interpolation inside the bucket holding the q-th observation (seconds)."""
    n = buckets[-1][1]
    if n == 0:
        return None
    rank = q * n
    lower_bound, lower_count = 0.0, 0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            span = count - lower_count
            frac = (rank - lower_count) / span if span else 1.0
            return lower_bound + (bound - lower_bound) * frac
        lower_bound, lower_count = bound, count
    return lower_bound


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--node", action="append", help="a parleyd base URL (repeat per node)")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    nodes = args.node or ["http://127.0.0.1:8080"]
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command to run (put it after --)")
    before, sums0 = total(scrape(u) for u in nodes)
    rc = subprocess.call(cmd)
    after, sums1 = total(scrape(u) for u in nodes)
    print(f"\nstages over {len(nodes)} node(s), during the command (ms; p50/p99 estimated within buckets)")
    print(f"  {'histogram':44} {'count':>8} {'mean':>9} {'p50':>9} {'p99':>9}")
    for name in sorted(after):
        b0 = before.get(name, [[b, 0] for b, _ in after[name]])
        diff = [(b, c - c0) for (b, c), (_, c0) in zip(after[name], b0)]
        n = diff[-1][1]
        if n <= 0:
            continue
        p50, p99 = quantile(diff, 0.5), quantile(diff, 0.99)
        mean = (sums1.get(name, 0.0) - sums0.get(name, 0.0)) / n
        print(f"  {name:44} {n:8d} {mean * 1e3:9.2f} {p50 * 1e3:9.2f} {p99 * 1e3:9.2f}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
