#!/usr/bin/env python3
"""Writes the retrieval-quality benchmark set for knowledge bases: about 250
organisational documents, half Chinese and half English, and the labelled
questions asked of them.

    python3 benches/kb/make_corpus.py --out /tmp/kb-corpus [--seed 7]

DIR/docs/*.{md,txt,html}  policies, contracts, specifications, minutes,
                          procedures, FAQ pages, regulations and HR notices
DIR/questions.jsonl       {"id", "lang", "question", "relevant": [file],
                           "answer_hint", "evidence", "type", "doc_kind",
                           "distractors": [file]}
DIR/documents.jsonl       {"file", "lang", "kind", "family", "title"}

Documents come from templates (corpus/) filled from a seeded random source,
so a seed always yields the same set. Documents of one family (two editions
of a policy, one contract template for two counterparties, sibling models,
successive minutes of one committee, one procedure at several
organisations) are each other's hard distractors; each organisation's
"quick answers" page, worded like the paraphrased questions but without
their figures, is a decoy for its policies. `distractors` lists both, and a
question is only kept when its evidence occurs in its own document and in
no other document of the family. `type` is "identifier" (the
question quotes a contract, model, form or article number), "numeric" (a
figure or date, asked in the document's own words) or "paraphrase" (asked
in other words than the document's). Standard library only.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import KINDS  # noqa: E402
from corpus.doc import Doc, evidence_text, plain_text, render  # noqa: E402
from corpus.world import World  # noqa: E402

MIN_DOCS = 240
MIN_QUESTIONS = 240
WORDS = (150, 1500)  # English words per document
HANZI = (300, 3000)  # Chinese characters per document
TYPE_MIX = {"identifier": 0.35, "numeric": 0.25, "paraphrase": 0.4}
SECOND_QUESTION = 0.35  # chance that a document gets a second question
OUR_FILE = re.compile(r"^(en|zh)-[a-z]+-\d{3}\.(md|txt|html)$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def build(seed: int) -> tuple[list[tuple[str, Doc, str]], list[dict]]:
    """The documents as (file name, doc, rendered text) and the questions."""
    w = World(seed)
    docs = [doc for kind in KINDS for doc in kind.build(w)]
    named = []
    for lang in ("en", "zh"):
        mine = [d for d in docs if d.lang == lang]
        w.rng.shuffle(mine)
        for n, d in enumerate(mine, 1):
            named.append((f"{lang}-{d.kind}-{n:03d}.{d.ext}", d, render(d)))
    family = collections.defaultdict(list)
    for name, d, text in named:
        family[d.family].append((name, text))
    questions, orphans = [], []
    for name, d, text in named:
        siblings = [(n, t) for n, t in family[d.family] if n != name]
        decoys = [nt for f in d.decoys for nt in family[f]]
        usable = []
        for draft in d.drafts:
            evidence = evidence_text(d, draft.evidence)
            if evidence is None or evidence not in text:
                continue
            if any(evidence in t for _, t in siblings):
                continue  # the sibling says the same: not a question that tells them apart
            usable.append((draft, evidence))
        if not usable:
            orphans.append(f"{name} ({d.title})")
            continue
        for draft, evidence in _choose(w.rng, usable):
            questions.append({
                "lang": d.lang,
                "question": draft.question,
                "relevant": [name],
                "answer_hint": draft.answer,
                "evidence": evidence,
                "type": draft.kind,
                "doc_kind": d.kind,
                "distractors": sorted(n for n, _ in siblings + decoys),
            })
    assert not orphans, "no question tells these from their families: " + "; ".join(orphans)
    w.rng.shuffle(questions)
    for i, q in enumerate(questions, 1):
        q["id"] = f"q{i:04d}"
    return named, [{"id": q.pop("id"), **q} for q in questions]


def _choose(rng, usable: list) -> list:
    """One or two of a document's questions, of different types where it
    can, each type drawn with the weights of TYPE_MIX."""
    rng.shuffle(usable)
    chosen = []
    for _ in range(2 if rng.random() < SECOND_QUESTION else 1):
        left = [u for u in usable if u not in chosen]
        if not left:
            break
        fresh = [u for u in left if u[0].kind not in {c[0].kind for c in chosen}] or left
        kinds = sorted({u[0].kind for u in fresh})
        kind = rng.choices(kinds, weights=[TYPE_MIX[k] for k in kinds])[0]
        chosen.append(next(u for u in fresh if u[0].kind == kind))
    return chosen


def check(named: list[tuple[str, Doc, str]], questions: list[dict]) -> None:
    """The promises of the set, asserted."""
    texts = {name: text for name, _, text in named}
    assert len(texts) == len(named), "file names collide"
    assert len(named) >= MIN_DOCS, f"only {len(named)} documents"
    assert len(questions) >= MIN_QUESTIONS, f"only {len(questions)} questions"
    langs = collections.Counter(d.lang for _, d, _ in named)
    assert min(langs.values()) >= 0.4 * len(named), f"languages unbalanced: {dict(langs)}"
    assert len({t for t in texts.values()}) == len(texts), "two documents are identical"
    for name, d, text in named:
        if d.lang == "en":
            words = len(plain_text(text, d.ext).split())
            assert WORDS[0] <= words <= WORDS[1], f"{name}: {words} words"
        else:
            hanzi = len(CJK.findall(plain_text(text, d.ext)))
            assert HANZI[0] <= hanzi <= HANZI[1], f"{name}: {hanzi} Chinese characters"
    ids = [q["id"] for q in questions]
    assert len(set(ids)) == len(ids), "question ids repeat"
    assert len({q["question"] for q in questions}) == len(questions), "a question is asked twice"
    for q in questions:
        assert q["lang"] in ("zh", "en")
        assert q["relevant"] and all(r in texts for r in q["relevant"]), f"{q['id']}: relevant doc missing"
        assert all(q["evidence"] in texts[r] for r in q["relevant"]), f"{q['id']}: evidence not verbatim"
        assert not any(q["evidence"] in texts[x] for x in q["distractors"]), f"{q['id']}: evidence in a distractor"
        assert q["type"] in ("identifier", "numeric", "paraphrase")


def write(out: Path, named: list[tuple[str, Doc, str]], questions: list[dict]) -> None:
    docs_dir = out / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    for old in docs_dir.iterdir():
        if OUR_FILE.match(old.name):
            old.unlink()
    for name, _, text in named:
        (docs_dir / name).write_text(text, encoding="utf-8")
    with open(out / "questions.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    with open(out / "documents.jsonl", "w", encoding="utf-8") as f:
        for name, d, _ in named:
            f.write(json.dumps({"file": name, "lang": d.lang, "kind": d.kind, "family": d.family, "title": d.title},
                               ensure_ascii=False) + "\n")


def summary(named: list[tuple[str, Doc, str]], questions: list[dict]) -> str:
    kinds = collections.Counter((d.lang, d.kind) for _, d, _ in named)
    types = collections.Counter((q["lang"], q["type"]) for q in questions)
    lines = [f"{len(named)} documents, {len(questions)} questions"]
    for lang in ("en", "zh"):
        k = ", ".join(f"{kind} {n}" for (l, kind), n in sorted(kinds.items()) if l == lang)
        t = ", ".join(f"{typ} {n}" for (l, typ), n in sorted(types.items()) if l == lang)
        lines.append(f"  {lang}: {sum(n for (l, _), n in kinds.items() if l == lang)} docs ({k}); "
                     f"{sum(n for (l, _), n in types.items() if l == lang)} questions ({t})")
    with_distractor = sum(1 for q in questions if q["distractors"])
    lines.append(f"  questions whose document has a same-family distractor: {with_distractor}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder to write docs/ and questions.jsonl into")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    named, questions = build(args.seed)
    check(named, questions)
    write(args.out, named, questions)
    print(summary(named, questions))


if __name__ == "__main__":
    main()
