#!/usr/bin/env python3
"""How hard the knowledge-base benchmark set is, with no server: BM25 over
whole documents with two tokenizations, scored like quality.py scores a
server.

    python3 benches/kb/baseline.py --corpus /tmp/kb-corpus [--json PATH] [--by-type]

"whitespace" splits on spaces, as many systems do; a Chinese sentence then
stays one token, so Chinese questions mostly find nothing. "bigram" indexes
Chinese as overlapping character pairs and Latin text as words, the usual
lexical fix. Both rank whole documents (no chunking) and see HTML without
its tags. Prints recall@5, MRR@10 and how often a same-family distractor
(the other edition, the sibling model, the other counterparty) is ranked
above the right document, overall and per language (--by-type: per question
type too). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bm25 import TOKENIZERS, Bm25, read_documents  # noqa: E402
from scoring import MRR_AT, load_questions, markdown_table, outcome, summarise  # noqa: E402


def run(corpus: Path) -> dict[str, list[dict]]:
    """Tokenizer name -> one outcome per question."""
    docs = read_documents(corpus)
    questions = load_questions(corpus)
    results = {}
    for name, tokenize in TOKENIZERS.items():
        index = Bm25(docs, tokenize)
        results[name] = [outcome(q, [key for key, _ in index.search(q["question"], MRR_AT)]) for q in questions]
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="folder written by make_corpus.py")
    ap.add_argument("--json", type=Path, help="write the figures and per-question ranks here")
    ap.add_argument("--by-type", action="store_true", help="also break the figures down by question type")
    args = ap.parse_args()
    results = run(args.corpus)
    rows = [(f"bm25-{name}", summarise(outcomes)) for name, outcomes in results.items()]
    print(markdown_table(rows))
    if args.by_type:
        print()
        for lang in ("en", "zh"):
            by_type = [(f"bm25-{name} {lang}", summarise([o for o in outcomes if o["lang"] == lang], by="type"))
                       for name, outcomes in results.items()]
            print(markdown_table(by_type))
            print()
    if args.json:
        args.json.write_text(json.dumps({
            "corpus": str(args.corpus),
            "runs": {f"bm25-{name}": {"summary": summarise(outcomes), "by_type": summarise(outcomes, by="type"),
                                      "questions": outcomes} for name, outcomes in results.items()},
        }, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
