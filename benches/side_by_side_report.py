#!/usr/bin/env python3
"""Summarises side_by_side.sh results: medians per server, moat / llama-server
ratios and the targets.

Usage: side_by_side_report.py [--markdown] RESULTS_DIR [RESULTS_DIR...]

With several directories the repetitions of all of them are pooled (median
over every repetition). The text table goes to stdout; with one directory it
is also written to RESULTS_DIR/summary.txt and summary.json.
"""

import json
import statistics
import sys
from pathlib import Path

# label, scenario file, JSON path, unit, scale
ROWS = [
    ("decode tokens/s, 8 streams", "c8", "tokens_per_s", "tok/s", 1),
    ("  per-stream tokens/s, 8 streams", "c8", "stream_tokens_per_s_mean", "tok/s", 1),
    ("  TTFT p50, 8 streams", "c8", "ttft_ms.p50", "ms", 1),
    ("  TTFT p99, 8 streams", "c8", "ttft_ms.p99", "ms", 1),
    ("  ITL p50, 8 streams", "c8", "itl_ms.p50", "ms", 1),
    ("  ITL p99, 8 streams", "c8", "itl_ms.p99", "ms", 1),
    ("  ITL max, 8 streams", "c8", "itl_ms.max", "ms", 1),
    ("  completion tokens/request, 8 streams", "c8", "completion_tokens_mean", "tok", 1),
    ("  failed requests, 8 streams", "c8", "failed", "", 1),
    ("  other processes' CPU share, 8 streams", "c8", "other_busy_share", "%", 100),
    ("decode tokens/s, 1 stream", "c1", "tokens_per_s", "tok/s", 1),
    ("  per-stream tokens/s (after first token), 1 stream", "c1", "stream_tokens_per_s_mean", "tok/s", 1),
    ("  TTFT p50, 1 stream", "c1", "ttft_ms.p50", "ms", 1),
    ("  ITL p50, 1 stream", "c1", "itl_ms.p50", "ms", 1),
    ("  ITL p99, 1 stream", "c1", "itl_ms.p99", "ms", 1),
    ("  ITL max, 1 stream", "c1", "itl_ms.max", "ms", 1),
    ("  completion tokens/request, 1 stream", "c1", "completion_tokens_mean", "tok", 1),
    ("  failed requests, 1 stream", "c1", "failed", "", 1),
    ("  prompt tokens/request, 1 stream", "c1", "prompt_tokens_mean", "tok", 1),
    ("  other processes' CPU share, 1 stream", "c1", "other_busy_share", "%", 100),
    ("prefix: cold TTFT", "prefix", "cold_ttft_ms", "ms", 1),
    ("prefix: warm TTFT", "prefix", "warm_ttft_ms", "ms", 1),
    ("prefix: warm / cold TTFT", "prefix", "warm_over_cold", "", 1),
    ("prefix: prompt tokens (cold)", "prefix", "cold_prompt_tokens", "tok", 1),
    ("prefix: cached tokens (warm)", "prefix", "warm_cached_tokens", "tok", 1),
    ("prefix: other processes' CPU share", "prefix", "other_busy_share", "%", 100),
    ("peak RSS (VmRSS, sampled every 100 ms)", "memory", "peak_rss_kb", "MiB", 1 / 1024),
    ("peak RSS − model file size", "memory", "rss_over_model_kb", "MiB", 1 / 1024),
    ("peak anonymous RSS (RssAnon)", "memory", "peak_rss_anon_kb", "MiB", 1 / 1024),
]


def get(obj, path):
    for key in path.split("."):
        if not isinstance(obj, dict) or obj.get(key) is None:
            return None
        obj = obj[key]
    return obj


def load_runs(roots, server, scenario):
    runs = []
    for root in roots:
        model_bytes = json.loads((root / "setup.json").read_text())["model_bytes"]
        for d in sorted(root.glob(f"rep*-{server}")):
            f = d / f"{scenario}.json"
            if not f.exists():
                continue
            obj = json.loads(f.read_text())
            if scenario == "memory" and "peak_rss_kb" in obj:
                obj["rss_over_model_kb"] = obj["peak_rss_kb"] - model_bytes / 1024
            runs.append(obj)
    return runs


def values(roots, server, scenario, path, scale):
    vals = [get(o, path) for o in load_runs(roots, server, scenario)]
    return [v * scale for v in vals if isinstance(v, (int, float))]


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit == "":
        return f"{v:.3f}" if v != int(v) else f"{int(v)}"
    if abs(v) < 10:
        return f"{v:.2f}"
    return f"{v:.1f}"


def main(argv):
    markdown = "--markdown" in argv
    roots = [Path(a) for a in argv if a != "--markdown"]
    if not roots:
        print(__doc__, file=sys.stderr)
        return 2
    rows = []
    for label, scenario, path, unit, scale in ROWS:
        mv = values(roots, "moat", scenario, path, scale)
        lv = values(roots, "llama", scenario, path, scale)
        m = statistics.median(mv) if mv else None
        l = statistics.median(lv) if lv else None
        ratio = m / l if m is not None and l else None
        rows.append({"metric": label.strip(), "indent": label.startswith(" "), "scenario": scenario,
                     "unit": unit, "moat": m, "llama": l, "ratio": ratio, "moat_runs": mv, "llama_runs": lv})

    lines = []
    if markdown:
        lines.append("| metric | unit | moat | llama-server | moat / llama | runs: moat \\| llama |")
        lines.append("|---|---|--:|--:|--:|---|")
        for r in rows:
            name = ("&nbsp;&nbsp;" if r["indent"] else "") + r["metric"]
            ratio = f"{r['ratio']:.2f}×" if r["ratio"] is not None else "–"
            runs = " ".join(fmt(v, r["unit"]) for v in r["moat_runs"]) + " \\| " + " ".join(
                fmt(v, r["unit"]) for v in r["llama_runs"])
            lines.append(f"| {name} | {r['unit']} | {fmt(r['moat'], r['unit'])} | "
                         f"{fmt(r['llama'], r['unit'])} | {ratio} | {runs} |")
    else:
        header = (f"{'metric':52} {'unit':6} {'moat':>10} {'llama-server':>13} {'moat/llama':>10}"
                  "   runs (moat | llama)")
        lines += [header, "-" * len(header)]
        for r, (label, *_rest) in zip(rows, ROWS):
            ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "n/a"
            runs = " ".join(fmt(v, r["unit"]) for v in r["moat_runs"]) + " | " + " ".join(
                fmt(v, r["unit"]) for v in r["llama_runs"])
            lines.append(f"{label:52} {r['unit']:6} {fmt(r['moat'], r['unit']):>10} "
                         f"{fmt(r['llama'], r['unit']):>13} {ratio:>10}   {runs}")

    def row(metric):
        return next(r for r in rows if r["metric"] == metric)

    checks = []
    r8, r1 = row("decode tokens/s, 8 streams"), row("decode tokens/s, 1 stream")
    pre, mem = row("prefix: warm / cold TTFT"), row("peak RSS − model file size")
    if r8["ratio"] is not None:
        checks.append(("8-stream decode ≥ 1.0× llama-server (goal 1.15×)", r8["ratio"] >= 1.0,
                       f"{r8['ratio']:.2f}×" + (" (goal met)" if r8["ratio"] >= 1.15 else " (goal not met)")))
    if r1["ratio"] is not None:
        checks.append(("1-stream decode ≥ 0.95× llama-server", r1["ratio"] >= 0.95, f"{r1['ratio']:.2f}×"))
    if pre["moat"] is not None:
        checks.append(("moat warm-prefix TTFT ≤ 0.2× cold", pre["moat"] <= 0.2, f"{pre['moat']:.3f}×"))
    if mem["moat"] is not None:
        mb = mem["moat"] * 1024 * 1024 / 1e6  # the target is in MB (10^6 bytes)
        checks.append(("moat RSS above the model file ≤ 150 MB", mb <= 150,
                       f"{mb:.1f} MB = {mem['moat']:.1f} MiB"))
    lines.append("")
    lines.append("targets (medians)" + (":" if markdown else ""))
    if markdown:
        lines.append("")
    for name, ok, detail in checks:
        lines.append(("- " if markdown else "") + f"{'PASS' if ok else 'MISS'}  {name}: {detail}")

    text = "\n".join(lines)
    print(text)
    if len(roots) == 1 and not markdown:
        (roots[0] / "summary.txt").write_text(text + "\n")
        setup = json.loads((roots[0] / "setup.json").read_text())
        (roots[0] / "summary.json").write_text(json.dumps({"setup": setup, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
