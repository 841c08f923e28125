#!/usr/bin/env python3
"""Knowledge-base search latency and ingest throughput at a given number of
chunks, through the real binary and the official SDK.

    .venv/bin/python benches/kb/latency.py [--chunks 10000,100000] [--queries 200]

Starts `moat serve` (MOAT_BIN, default target/release/moat) in a throwaway
home with the embedding model of `models/` (MiniLM, converted by
scripts/fetch-model.sh), generates documents of short mixed English and
Chinese paragraphs (one chunk each: static chunking of 100 tokens, no
overlap) with identifiers, and ingests them with
`file_batches.upload_and_poll` until the store holds each size in turn.
At each size it prints ingest throughput (MB/s of files, chunks/s, with
embedding), the server's resident memory, and the client-side latency
p50/p99 of `vector_stores.search` in each mode (keyword, vector, hybrid;
`max_num_results=10`; a warm-up call per mode first), as Markdown. From
100,000 vectors (`[knowledge] vector_graph_from`) vector search goes through
an HNSW graph built in the background: the bench waits for the server's
"vector graph built" log line before measuring that size (column `graph`).

`--home DIR` keeps the server's home (database, indexes, admin key) in DIR
and reuses it on the next run: sizes the store already holds are measured
without ingesting again (ingest columns empty), so a change to search can be
measured at 100,000 chunks in minutes instead of the half hour ingest takes.

`--reranker GGUF` serves that reranker as `[knowledge] reranker` (with
`rerank_candidates`, `--rerank-candidates`, default 20) and adds the mode
`hybrid+rerank`; the other modes are measured with `"rerank": false`. No
trained reranker is in any package: `scripts/convert_minilm.py
--test-reranker 7` writes one of MiniLM's size and shape whose scores mean
nothing, which costs what a MiniLM cross-encoder would.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("MOAT_BIN", str(ROOT / "target" / "release" / "moat"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scoring import percentile  # noqa: E402
from support import MoatServer  # noqa: E402
from test_embeddings import minilm_gguf  # noqa: E402

MODES = ("keyword", "vector", "hybrid")
RERANKED = "hybrid+rerank"
GRAPH_FROM = 100_000
GRAPH_WAIT_S = 900
PARAGRAPHS_PER_FILE = 50
BATCH_FILES = 40
CHINESE = "员工合同报销差旅住宿发票审批预算采购设备维修安全培训会议纪要规定条款期限费用标准部门负责人"


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(size)]


def paragraph(rng: random.Random, words: list[str], n: int) -> str:
    english = " ".join(rng.choice(words) for _ in range(rng.randint(18, 28)))
    chinese = "".join(rng.choice(CHINESE) for _ in range(rng.randint(8, 16)))
    return f"Item {n}: {english} 编号 HT-{n:07d}。{chinese}。"


def document(rng: random.Random, words: list[str], first: int) -> str:
    parts = []
    for n in range(first, first + PARAGRAPHS_PER_FILE):
        parts.append(f"## Section {n}\n\n{paragraph(rng, words, n)}\n")
    return "\n".join(parts)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def ingest(client, store_id: str, rng, words, start: int, files: int) -> tuple[int, float]:
    """Upload `files` documents in batches; (bytes, seconds)."""
    total_bytes, started = 0, time.perf_counter()
    n = start
    for first in range(0, files, BATCH_FILES):
        batch = []
        for _ in range(min(BATCH_FILES, files - first)):
            text = document(rng, words, n).encode()
            n += PARAGRAPHS_PER_FILE
            total_bytes += len(text)
            batch.append((f"doc-{n:08d}.md", io.BytesIO(text)))
        done = client.vector_stores.file_batches.upload_and_poll(
            vector_store_id=store_id,
            files=batch,
            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}},
            poll_interval_ms=200,
        )
        if done.file_counts.failed:
            raise SystemExit(f"{done.file_counts.failed} files failed to ingest")
    return total_bytes, time.perf_counter() - started


def wait_for_graph(srv: MoatServer) -> bool:
    deadline = time.monotonic() + GRAPH_WAIT_S
    while time.monotonic() < deadline:
        if "vector graph built" in srv.stderr_path.read_text(errors="replace"):
            return True
        time.sleep(1)
    return False


def load_state(home: Path) -> dict:
    path = home / "bench-state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save_state(home: Path, state: dict) -> None:
    (home / "bench-state.json").write_text(json.dumps(state))


def latencies(client, store_id: str, rng, words, top: int, queries: int, modes) -> dict[str, tuple[float, float]]:
    texts = []
    for _ in range(queries):
        n = rng.randrange(top)
        texts.append(rng.choice([f"HT-{n:07d}", " ".join(rng.choice(words) for _ in range(4)), f"差旅住宿 {rng.choice(words)}"]))
    out = {}
    for mode in modes:
        options = {"mode": "hybrid"} if mode == RERANKED else {"mode": mode}
        if RERANKED in modes and mode != RERANKED:
            options["rerank"] = False
        client.vector_stores.search(vector_store_id=store_id, query=texts[0], extra_body={"moat": options})
        times = []
        for text in texts:
            t0 = time.perf_counter()
            client.vector_stores.search(vector_store_id=store_id, query=text, max_num_results=10, extra_body={"moat": options})
            times.append((time.perf_counter() - t0) * 1000)
        out[mode] = (percentile(times, 50), percentile(times, 99))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", default="10000", help="comma-separated store sizes, ascending")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--home", type=Path, help="keep the server's home here and reuse it (see above)")
    parser.add_argument("--reranker", type=Path, help="a reranker GGUF to serve and measure (see above)")
    parser.add_argument("--rerank-candidates", type=int, default=20)
    args = parser.parse_args()
    modes = MODES + ((RERANKED,) if args.reranker else ())
    sizes = [int(s) for s in args.chunks.split(",")]
    rng = random.Random(7)
    words = vocabulary(rng)
    with tempfile.TemporaryDirectory(prefix="moat-kb-latency-") as scratch:
        home = args.home or Path(scratch)
        home.mkdir(parents=True, exist_ok=True)
        state = load_state(home)
        models, serve_args = [minilm_gguf()], []
        if args.reranker:
            models.append(args.reranker.resolve())
            (home / "moat.toml").write_text(
                f'[knowledge]\nreranker = "{args.reranker.stem}"\nrerank_candidates = {args.rerank_candidates}\n'
            )
            serve_args = ["--config", "moat.toml"]
        srv = MoatServer(home, models, serve_args)
        srv.admin_key = srv.admin_key or state.get("admin_key", "")
        try:
            client = srv.client().with_options(timeout=600)
            if "store_id" not in state:
                state = {"admin_key": srv.admin_key, "store_id": client.vector_stores.create(name="latency").id, "paragraphs": 0}
                save_state(home, state)
            store_id = state["store_id"]
            rows, paragraphs = [], state["paragraphs"]
            base_rss = rss_mib(srv.proc.pid)
            for size in sizes:
                files = max(0, (size - paragraphs) // PARAGRAPHS_PER_FILE)
                rng.seed(paragraphs)
                b, secs = ingest(client, store_id, rng, words, paragraphs, files)
                paragraphs += files * PARAGRAPHS_PER_FILE
                state["paragraphs"] = paragraphs
                save_state(home, state)
                chunks = sum(
                    (f.model_extra or {}).get("moat", {}).get("chunks", 0)
                    for f in client.vector_stores.files.list(vector_store_id=store_id, limit=100)
                )
                if chunks >= GRAPH_FROM:
                    # Opens the store's indexes, which starts the graph's build.
                    client.vector_stores.search(vector_store_id=store_id, query="warm-up", extra_body={"moat": {"mode": "vector"}})
                graph = chunks >= GRAPH_FROM and wait_for_graph(srv)
                lat = latencies(client, store_id, rng, words, paragraphs, args.queries, modes)
                row = {
                    "chunks": chunks,
                    "graph": graph,
                    "ingest_mb_s": b / 1e6 / secs if files else None,
                    "ingest_chunks_s": files * PARAGRAPHS_PER_FILE / secs if files else None,
                    "rss_mib": rss_mib(srv.proc.pid),
                    "base_rss_mib": base_rss,
                    **{f"{m}_p50_ms": lat[m][0] for m in modes},
                    **{f"{m}_p99_ms": lat[m][1] for m in modes},
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            srv.stop()
    print()
    print("| chunks | graph | ingest MB/s | ingest chunks/s | RSS MiB | " + " | ".join(f"{m} p50 / p99 ms" for m in modes) + " |")
    print("|---|---|---|---|---|" + "---|" * len(modes))
    for r in rows:
        lat = " | ".join(f"{r[f'{m}_p50_ms']:.1f} / {r[f'{m}_p99_ms']:.1f}" for m in modes)
        mb = "" if r["ingest_mb_s"] is None else f"{r['ingest_mb_s']:.3f}"
        cps = "" if r["ingest_chunks_s"] is None else f"{r['ingest_chunks_s']:.0f}"
        print(f"| {r['chunks']:,} | {'yes' if r['graph'] else 'no'} | {mb} | {cps} | {r['rss_mib']:.0f} | {lat} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
