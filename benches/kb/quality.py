#!/usr/bin/env python3
"""Retrieval quality of a knowledge-base server on the labelled set, through
the official OpenAI SDK.

    .venv/bin/python benches/kb/quality.py --corpus /tmp/kb-corpus \\
        --base-url http://127.0.0.1:8080/v1 --api-key KEY [--mode all] [--json out.json] [--keep]

Uploads every document of DIR/docs with
`vector_stores.file_batches.upload_and_poll` into a new vector store, then
asks each question of DIR/questions.jsonl with `vector_stores.search(...,
max_num_results=10)` and scores the file names of the results
(`result.filename`): recall@5 (a relevant file among the first five distinct
files) and MRR@10, overall and per language, for each retrieval mode. Also
prints the client-side latency of the search calls (p50, p99; one unmeasured
warm-up call per mode first) and how often a same-family distractor (the
other edition of a policy, the sibling model, the other counterparty) is
ranked above the right document. Several chunks of one file count once, at
the rank of the best. The store and the uploaded files are deleted at the
end unless --keep; --store-id reuses a store that already holds the corpus
(no upload, never deleted).

moat's extension to the search request: the body may carry
    {"moat": {"mode": "keyword" | "vector" | "hybrid"}}
sent here with the SDK's `extra_body`. "keyword" ranks chunks lexically
(BM25 over the server's tokenization), "vector" by embedding similarity to
the query, "hybrid" fuses the two rankings. A server that ignores the field
answers every mode with its default ranking, and the three rows then match.

Works with openai >= 1.66 (`client.vector_stores`) and with older SDKs that
have `client.beta.vector_stores` (from 1.40); where the SDK has no search
method yet, the search request is posted with the client's own `post`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import openai  # noqa: E402

from scoring import MRR_AT, load_questions, markdown_table, outcome, percentile, summarise  # noqa: E402

MODES = ("keyword", "vector", "hybrid")
MIME = {".md": "text/markdown", ".txt": "text/plain", ".html": "text/html"}
GIVE_UP_AFTER = 5  # failed searches in a row, with none succeeding, before a mode is abandoned


class KnowledgeBase:
    """The vector-store calls this harness makes, on whichever SDK is installed."""

    def __init__(self, client: openai.OpenAI):
        self.client = client
        self.beta = not hasattr(client, "vector_stores")
        self.stores = client.beta.vector_stores if self.beta else client.vector_stores
        self._names: dict[str, str] = {}
        self.weights: dict | None = None

    def create(self, name: str) -> str:
        return self.stores.create(name=name).id

    def upload(self, store_id: str, docs: list[Path]):
        files = [(p.name, p.read_bytes(), MIME.get(p.suffix, "text/plain")) for p in docs]
        return self.stores.file_batches.upload_and_poll(vector_store_id=store_id, files=files)

    def file_ids(self, store_id: str) -> list[str]:
        return [f.id for f in self.stores.files.list(vector_store_id=store_id, limit=100)]

    def failed_files(self, store_id: str) -> list[str]:
        failed = self.stores.files.list(vector_store_id=store_id, limit=100, filter="failed")
        return [f"{self.filename(f.id, None)}: {getattr(f.last_error, 'message', '') if f.last_error else ''}" for f in failed]

    def search(self, store_id: str, query: str, mode: str) -> list[str]:
        """File names of the results, best first."""
        body = {"moat": {"mode": mode, **({"weights": self.weights} if self.weights else {})}}
        if hasattr(self.stores, "search"):
            page = self.stores.search(store_id, query=query, max_num_results=MRR_AT, extra_body=body)
            return [self.filename(r.file_id, r.filename) for r in page.data]
        response = self.client.post(
            f"/vector_stores/{store_id}/search",
            body={"query": query, "max_num_results": MRR_AT, **body},
            options={"headers": {"OpenAI-Beta": "assistants=v2"}},
            cast_to=httpx.Response,
        )
        return [self.filename(r.get("file_id", ""), r.get("filename")) for r in response.json()["data"]]

    def filename(self, file_id: str, given: str | None) -> str:
        """The result's file name; looked up by id when a server leaves it out."""
        if given:
            return given
        if file_id not in self._names:
            self._names[file_id] = self.client.files.retrieve(file_id).filename
        return self._names[file_id]

    def delete(self, store_id: str, file_ids: list[str]) -> None:
        self.stores.delete(store_id)
        for file_id in file_ids:
            try:
                self.client.files.delete(file_id)
            except openai.APIError as e:
                print(f"could not delete file {file_id}: {e}", file=sys.stderr)


def run_mode(kb: KnowledgeBase, store_id: str, questions: list[dict], mode: str) -> dict:
    """Every question in one mode: outcomes, latencies and errors."""
    try:
        kb.search(store_id, questions[0]["question"], mode)  # warm-up, not measured
    except openai.APIError:
        pass
    outcomes, latencies, errors = [], [], []
    for q in questions:
        if len(errors) >= GIVE_UP_AFTER and not latencies:
            outcomes.append(outcome(q, []))  # abandoned: counted as a miss
            continue
        started = time.perf_counter()
        try:
            names = kb.search(store_id, q["question"], mode)
        except openai.APIError as e:
            errors.append({"id": q["id"], "error": str(e)})
            outcomes.append(outcome(q, []))
            if len(errors) == GIVE_UP_AFTER and not latencies:
                print(f"{mode}: the first {GIVE_UP_AFTER} searches failed; giving up on this mode ({e})", file=sys.stderr)
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        outcomes.append(outcome(q, names))
    return {"outcomes": outcomes, "latency_ms": latencies, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="folder written by make_corpus.py")
    ap.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
    ap.add_argument("--api-key", default=os.environ.get("MOAT_API_KEY") or os.environ.get("OPENAI_API_KEY"),
                    help="default: $MOAT_API_KEY, then $OPENAI_API_KEY")
    ap.add_argument("--mode", choices=[*MODES, "all"], default="all")
    ap.add_argument("--json", type=Path, help="write figures, latencies and per-question ranks here")
    ap.add_argument("--keep", action="store_true", help="leave the vector store and its files on the server")
    ap.add_argument("--store-id", help="search this existing store (already holding the corpus) instead of uploading")
    ap.add_argument("--limit", type=int, help="ask only the first N questions (a smoke test)")
    ap.add_argument("--weights", help="KEYWORD,VECTOR: moat's fusion weights for hybrid (moat.weights); default the server's")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per request (uploads and indexing included)")
    args = ap.parse_args()
    if not args.api_key:
        ap.error("no API key: pass --api-key or set MOAT_API_KEY")

    questions = load_questions(args.corpus)[: args.limit]
    docs = sorted(p for p in (args.corpus / "docs").iterdir() if p.suffix in MIME)
    modes = list(MODES) if args.mode == "all" else [args.mode]
    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key, timeout=args.timeout, max_retries=0)
    kb = KnowledgeBase(client)
    if args.weights:
        keyword, vector = (float(w) for w in args.weights.split(","))
        kb.weights = {"keyword": keyword, "vector": vector}
    report: dict = {"corpus": str(args.corpus), "base_url": args.base_url, "openai": openai.__version__,
                    "documents": len(docs), "questions": len(questions), "modes": {}}

    store_id, file_ids = args.store_id, []
    try:
        if store_id is None:
            store_id = kb.create(f"moat-kb-quality-{int(time.time())}")
            started = time.perf_counter()
            batch = kb.upload(store_id, docs)
            report["upload_s"] = round(time.perf_counter() - started, 2)
            file_ids = kb.file_ids(store_id)
            counts = batch.file_counts
            report["file_counts"] = counts.model_dump()
            print(f"uploaded and indexed {counts.completed}/{len(docs)} files in {report['upload_s']} s "
                  f"(batch {batch.status}, {counts.failed} failed)", file=sys.stderr)
            if counts.failed:
                for line in kb.failed_files(store_id)[:10]:
                    print(f"  failed: {line}", file=sys.stderr)
        report["store_id"] = store_id
        for mode in modes:
            result = run_mode(kb, store_id, questions, mode)
            summary = summarise(result["outcomes"])
            lat = result["latency_ms"]
            report["modes"][mode] = {
                "summary": summary,
                "by_type": summarise(result["outcomes"], by="type"),
                "latency_ms": {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "n": len(lat)},
                "errors": result["errors"],
                "questions": result["outcomes"],
            }
            print(f"{mode}: recall@5 {summary['all']['recall@5']:.3f}, MRR@10 {summary['all']['mrr@10']:.3f}, "
                  f"{len(result['errors'])} errors", file=sys.stderr)
    finally:
        if store_id and not args.store_id and not args.keep:
            file_ids = file_ids or kb.file_ids(store_id)
            kb.delete(store_id, file_ids)
            report["deleted"] = True
        elif store_id:
            print(f"kept vector store {store_id}", file=sys.stderr)

    rows = [(mode, m["summary"]) for mode, m in report["modes"].items()]
    extra = {mode: (("p50 ms", f"{m['latency_ms']['p50']:.1f}"), ("p99 ms", f"{m['latency_ms']['p99']:.1f}"),
                    ("errors", str(len(m["errors"])))) for mode, m in report["modes"].items()}
    print(markdown_table(rows, extra))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if any(m["errors"] for m in report["modes"].values()):
        sys.exit(1)  # figures with failed searches in them are not figures


if __name__ == "__main__":
    main()
