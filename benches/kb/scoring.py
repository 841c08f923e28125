"""Retrieval figures for the labelled set: the rank of the first relevant
document in a result list, recall@5 and MRR@10 per language, and the Markdown
table both harnesses print."""

from __future__ import annotations

import json
from pathlib import Path

RECALL_AT = 5
MRR_AT = 10
GROUPS = ("all", "en", "zh")


def load_questions(corpus: Path) -> list[dict]:
    with open(corpus / "questions.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def distinct(names: list[str]) -> list[str]:
    """File names in order of first appearance: several chunks of one file
    count as one result, at the rank of its best chunk."""
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name, None)
    return list(seen)


def first_rank(relevant: list[str], ranked: list[str]) -> int | None:
    """1-based rank of the first relevant file among `ranked` (distinct
    names), or None when none is in the first MRR_AT."""
    for i, name in enumerate(ranked[:MRR_AT], 1):
        if name in relevant:
            return i
    return None


def outcome(question: dict, ranked: list[str]) -> dict:
    """What one question's result list scores."""
    ranked = distinct(ranked)
    rank = first_rank(question["relevant"], ranked)
    before = ranked[: (rank - 1) if rank else MRR_AT]
    return {
        "id": question["id"],
        "lang": question["lang"],
        "type": question.get("type", ""),
        "rank": rank,
        "distractor_first": any(name in question.get("distractors", []) for name in before),
        "top": ranked[:RECALL_AT],
    }


def summarise(outcomes: list[dict], by: str = "lang") -> dict[str, dict]:
    """recall@5, MRR@10 and the share of questions where a same-family
    distractor outranks the relevant document, overall and per `by`."""
    groups: dict[str, list[dict]] = {"all": outcomes}
    for o in outcomes:
        groups.setdefault(o[by], []).append(o)
    out = {}
    for name, rows in groups.items():
        n = len(rows)
        out[name] = {
            "n": n,
            "recall@5": sum(1 for r in rows if r["rank"] and r["rank"] <= RECALL_AT) / n if n else 0.0,
            "mrr@10": sum(1 / r["rank"] for r in rows if r["rank"]) / n if n else 0.0,
            "distractor_first": sum(1 for r in rows if r["distractor_first"]) / n if n else 0.0,
        }
    return out


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def markdown_table(rows: list[tuple[str, dict[str, dict]]], extra: dict[str, tuple[str, str]] | None = None) -> str:
    """One line per (label, group): n, recall@5, MRR@10, distractor-first
    share, and any `extra` columns given per label as (header, value)."""
    extra = extra or {}
    headers = ["run", "group", "n", "recall@5", "MRR@10", "distractor first"]
    extra_headers = []
    for cols in extra.values():
        for h, _ in cols:
            if h not in extra_headers:
                extra_headers.append(h)
    lines = ["| " + " | ".join(headers + extra_headers) + " |", "|" + "---|" * (len(headers) + len(extra_headers))]
    for label, summary in rows:
        for group in sorted(summary, key=lambda g: (g not in GROUPS, GROUPS.index(g) if g in GROUPS else 0, g)):
            s = summary[group]
            cells = [label, group, str(s["n"]), f"{s['recall@5']:.3f}", f"{s['mrr@10']:.3f}", f"{s['distractor_first']:.3f}"]
            values = dict(extra.get(label, ())) if group == "all" else {}
            cells += [values.get(h, "") for h in extra_headers]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
