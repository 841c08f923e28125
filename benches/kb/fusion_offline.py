#!/usr/bin/env python3
"""Fusion experiments outside the server, on the labelled set.

    cargo run --release -p moat-kb --example keyword_quality -- /tmp/kb-corpus --dump /tmp/kw.jsonl
    .venv/bin/python benches/kb/fusion_offline.py --corpus /tmp/kb-corpus --dump /tmp/kw.jsonl \\
        --base-url http://127.0.0.1:8080/v1 --api-key KEY [--model ID]

The dump holds every question's keyword ranking of chunks (BM25) and of
whole files; the chunks' embedding texts are embedded once through the
server's `/v1/embeddings` (e5's `query: ` / `passage: ` prefixes when the
model id says e5; cached next to the dump as .npy), and exact cosine
similarity ranks them. Each line is one way of combining the two, scored as
`quality.py` scores the server: recall@5 and MRR@10 over distinct files.
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
from scoring import load_questions, outcome, summarise  # noqa: E402

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

    def keyword(q: dict) -> tuple[np.ndarray, np.ndarray]:
        """Chunk BM25 and the chunk's file's whole-document BM25, each over its best."""
        row = rows[q["id"]]
        chunk = np.zeros(n)
        for _, key, score in row["chunks"]:
            chunk[key] = score
        whole = dict(row["files"])
        document = np.array([whole.get(f, 0.0) for f in files])
        return chunk / max(chunk.max(), 1e-9), document / max(document.max(), 1e-9)

    def rrf(lists: list[np.ndarray], k: float = 60.0) -> np.ndarray:
        fused = np.zeros(n)
        for scores in lists:
            order = np.argsort(-scores, kind="stable")[:CANDIDATES]
            fused[order] += 1.0 / (k + np.arange(1, len(order) + 1))
        return fused

    variants = {
        "vector (exact)": lambda i, q: C @ Q[i],
        "keyword": lambda i, q: keyword(q)[0],
        "keyword + 1.0 document": lambda i, q: sum(keyword(q)),
        "rrf(keyword, vector), k=60 (the server's)": lambda i, q: rrf([keyword(q)[0], C @ Q[i]]),
        "rrf(keyword, vector), k=20": lambda i, q: rrf([keyword(q)[0], C @ Q[i]], 20),
        "rrf(keyword + 1.0 document, vector), k=60": lambda i, q: rrf([sum(keyword(q)), C @ Q[i]]),
        "rrf(keyword + 1.0 document, vector), k=20": lambda i, q: rrf([sum(keyword(q)), C @ Q[i]], 20),
        "0.1 keyword + 0.1 document + cosine": lambda i, q: 0.1 * sum(keyword(q)) + C @ Q[i],
    }
    print("| combination | recall@5 | MRR@10 | en | zh |\n|---|---|---|---|---|")
    for name, score in variants.items():
        outcomes = []
        for i, q in enumerate(questions):
            order = np.argsort(-score(i, q), kind="stable")[:60]
            outcomes.append(outcome(q, list(files[order])))
        s = summarise(outcomes)
        en, zh = s.get("en", {}), s.get("zh", {})
        print(
            f"| {name} | {s['all']['recall@5']:.3f} | {s['all']['mrr@10']:.3f} "
            f"| {en.get('recall@5', 0):.3f} / {en.get('mrr@10', 0):.3f} | {zh.get('recall@5', 0):.3f} / {zh.get('mrr@10', 0):.3f} |"
        )


if __name__ == "__main__":
    main()
