#!/usr/bin/env python3
"""Fusion experiments outside the server, on the labelled set.

    cargo run --release -p moat-kb --example keyword_quality -- /tmp/kb-corpus --dump /tmp/kw.jsonl
    .venv/bin/python benches/kb/fusion_offline.py --corpus /tmp/kb-corpus --dump /tmp/kw.jsonl \\
        --base-url http://127.0.0.1:8080/v1 --api-key KEY [--model ID]

The dump holds every question's keyword ranking of chunks (as the index
ranks them: chunk BM25 with the file's whole-document evidence); the chunks'
embedding texts are embedded once through the
server's `/v1/embeddings` (e5's `query: ` / `passage: ` prefixes when the
model id says e5; cached next to the dump as .npy), and exact cosine
similarity ranks them. Each line is one way of combining the two, scored as
`quality.py` scores the server: recall@5 and MRR@10 over the distinct
files of the best 10 chunks.
Candidate lists are 40 long, as the server asks each index for 10 results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import MRR_AT, load_questions, outcome, summarise  # noqa: E402

CANDIDATES = 40


def embed(client: openai.OpenAI, model: str, texts: list[str]) -> np.ndarray:
    out = []
    for i in range(0, len(texts), 16):
        out += [d.embedding for d in client.embeddings.create(model=model, input=texts[i : i + 16]).data]
    vectors = np.array(out, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--dump", type=Path, required=True)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--model", help="embedding model id (default: the first whose id has e5 or minilm)")
    args = ap.parse_args()

    questions = load_questions(args.corpus)
    chunks = json.loads(args.dump.with_suffix(".chunks.json").read_text(encoding="utf-8"))
    files = np.array([c["file"] for c in chunks])
    rows = {}
    with open(args.dump, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            rows[row["id"]] = row

    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key)
    model = args.model or next(m.id for m in client.models.list().data if "e5" in m.id or "minilm" in m.id.lower())
    print(f"embedding model: {model}")
    query, passage = ("query: ", "passage: ") if "e5" in model else ("", "")
    cache = args.dump.with_suffix(f".{model.replace('/', '_')}.npz")
    if cache.exists():
        saved = np.load(cache)
        C, Q = saved["chunks"], saved["questions"]
    else:
        C = embed(client, model, [passage + c["embed"] for c in chunks])
        Q = embed(client, model, [query + q["question"] for q in questions])
        np.savez(cache, chunks=C, questions=Q)

    n = len(chunks)

    def keyword(q: dict) -> np.ndarray:
        """The keyword index's scores, over their best."""
        chunk = np.zeros(n)
        for _, key, score in rows[q["id"]]["chunks"]:
            chunk[key] = score
        return chunk / max(chunk.max(), 1e-9)

    def rrf(lists: list[np.ndarray], k: float = 60.0) -> np.ndarray:
        fused = np.zeros(n)
        for scores in lists:
            order = np.argsort(-scores, kind="stable")[:CANDIDATES]
            fused[order] += 1.0 / (k + np.arange(1, len(order) + 1))
        return fused

    def relative(scores: np.ndarray) -> np.ndarray:
        """Scores of the best CANDIDATES scaled to 0..1 (the rest 0), as relative-score fusion does."""
        order = np.argsort(-scores, kind="stable")[:CANDIDATES]
        top = scores[order]
        scaled = np.zeros(n)
        scaled[order] = (top - top.min()) / max(top.max() - top.min(), 1e-9)
        return scaled

    variants = {
        "vector (exact)": lambda i, q: C @ Q[i],
        "keyword": lambda i, q: keyword(q),
        "rrf(keyword, vector), k=60 (the server's)": lambda i, q: rrf([keyword(q), C @ Q[i]]),
        "rrf(keyword, vector), k=20": lambda i, q: rrf([keyword(q), C @ Q[i]], 20),
        **{f"{a} keyword + cosine": (lambda a: lambda i, q: a * keyword(q) + C @ Q[i])(a) for a in (0.02, 0.03, 0.05, 0.07, 0.1)},
        **{f"relative: {a} keyword + min-max cosine": (lambda a: lambda i, q: a * keyword(q) + relative(C @ Q[i]))(a) for a in (0.1, 0.3, 0.5)},
    }
    print("| combination | recall@5 | MRR@10 | en | zh |\n|---|---|---|---|---|")
    for name, score in variants.items():
        outcomes = []
        for i, q in enumerate(questions):
            # The server's answer: the best MRR_AT chunks, as quality.py asks.
            order = np.argsort(-score(i, q), kind="stable")[:MRR_AT]
            outcomes.append(outcome(q, list(files[order])))
        s = summarise(outcomes)
        en, zh = s.get("en", {}), s.get("zh", {})
        print(
            f"| {name} | {s['all']['recall@5']:.3f} | {s['all']['mrr@10']:.3f} "
            f"| {en.get('recall@5', 0):.3f} / {en.get('mrr@10', 0):.3f} | {zh.get('recall@5', 0):.3f} / {zh.get('mrr@10', 0):.3f} |"
        )


if __name__ == "__main__":
    main()
