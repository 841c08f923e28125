#!/usr/bin/env python3
"""Test-only: proves that quality.py's calls and parsing work end to end
with the real OpenAI SDK, against a small fake of the files and vector-store
endpoints served on 127.0.0.1.

    .venv/bin/python benches/kb/fake_server_check.py [--corpus DIR]

The fake stores uploads (multipart, as the SDK sends them), chunks each file
by paragraphs, answers file batches as "in_progress" first so the SDK has to
poll, pages its file listings 100 at a time, and ranks chunks by the extra
body's mode: keyword = BM25 over bigrams, vector = BM25 over whitespace
tokens (a stand-in that ranks differently), hybrid = reciprocal-rank fusion
of the two; an unknown mode is a 400. It records what it was asked and what
it answered, and the check then asserts that quality.py searched every
question in every mode with the right mode, that its figures are the ones
recomputed from the fake's own answers, that it deleted the store and the
files, that --keep keeps them, and that results without a filename are
resolved through /v1/files/{id}, and that an SDK without a search method
falls back to posting the request itself. Without --corpus it generates the set in a
temporary folder first.
"""

from __future__ import annotations

import argparse
import collections
import email.parser
import email.policy
import itertools
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import openai  # noqa: E402

from bm25 import Bm25, bigram_tokens, whitespace_tokens  # noqa: E402
from corpus.doc import plain_text  # noqa: E402
from quality import KnowledgeBase  # noqa: E402
from scoring import load_questions, outcome, summarise  # noqa: E402

API_KEY = "fake-key"
CHUNK_CHARS = 800
PAGE = 100
RRF_K = 60


def chunks(text: str) -> list[str]:
    """Paragraphs packed into chunks of about CHUNK_CHARS characters."""
    out, current = [], ""
    for para in (p.strip() for p in text.split("\n\n")):
        if current and len(current) + len(para) > CHUNK_CHARS:
            out.append(current)
            current = ""
        current = f"{current}\n\n{para}" if current else para
    return out + ([current] if current else [])


class Store:
    def __init__(self, sid: str, name: str):
        self.id, self.name, self.created = sid, name, int(time.time())
        self.files: list[str] = []
        self.chunks: dict[str, tuple[str, str]] = {}  # chunk key -> (file id, text)
        self.indexes: dict[str, Bm25] = {}

    def add(self, file_id: str, text: str) -> None:
        self.files.append(file_id)
        for i, chunk in enumerate(chunks(text)):
            self.chunks[f"{file_id}#{i:04d}"] = (file_id, chunk)
        texts = {k: t for k, (_, t) in self.chunks.items()}
        self.indexes = {"keyword": Bm25(texts, bigram_tokens), "vector": Bm25(texts, whitespace_tokens)}

    def search(self, query: str, mode: str, k: int) -> list[tuple[str, float]]:
        if mode in self.indexes:
            return self.indexes[mode].search(query, k)
        fused: dict[str, float] = collections.defaultdict(float)
        for index in self.indexes.values():
            for rank, (key, _) in enumerate(index.search(query, 50), 1):
                fused[key] += 1 / (RRF_K + rank)
        return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


class Fake:
    """The state of the fake server and the record of what it was asked."""

    def __init__(self):
        self.ids = itertools.count(1)
        self.files: dict[str, dict] = {}
        self.contents: dict[str, bytes] = {}
        self.stores: dict[str, Store] = {}
        self.batches: dict[str, dict] = {}
        self.uploaded: list[str] = []  # file names, in upload order
        self.searches: list[dict] = []
        self.deleted_files: list[str] = []
        self.deleted_stores: list[str] = []
        self.auth: set[str] = set()
        self.omit_filenames = False
        self.lock = threading.Lock()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids):06d}"


def handler(fake: Fake):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, obj: dict, headers: dict | None = None) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})

        def _route(self, method: str) -> None:
            fake.auth.add(self.headers.get("Authorization", ""))
            url = urlparse(self.path)
            parts = url.path.strip("/").split("/")[1:]  # drop "v1"
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = self._body()
            with fake.lock:
                answer = route(fake, method, parts, query, body, self.headers)
            if answer[0] < 400:
                self._send(*answer)
            else:
                self._error(answer[0], answer[1]["message"])

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler


def _file_object(f: dict) -> dict:
    return {"id": f["id"], "object": "file", "bytes": f["bytes"], "created_at": f["created_at"],
            "filename": f["filename"], "purpose": f["purpose"], "status": "processed"}


def _store_object(s: Store) -> dict:
    n = len(s.files)
    return {"id": s.id, "object": "vector_store", "created_at": s.created, "name": s.name, "usage_bytes": 0,
            "status": "completed", "last_active_at": s.created, "metadata": {},
            "file_counts": {"in_progress": 0, "completed": n, "failed": 0, "cancelled": 0, "total": n}}


def route(fake: Fake, method: str, parts: list[str], query: dict, body: bytes, headers) -> tuple:
    """(status, JSON object[, headers]) for one request."""
    if parts == ["files"] and method == "POST":
        raw = b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        form = {p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()}
        upload = form["file"]
        data = upload.get_payload(decode=True)
        fid = fake.new_id("file-")
        fake.files[fid] = {"id": fid, "bytes": len(data), "created_at": int(time.time()),
                           "filename": upload.get_filename(), "purpose": form["purpose"].get_content().strip()}
        fake.contents[fid] = data
        fake.uploaded.append(upload.get_filename())
        return 200, _file_object(fake.files[fid])
    if len(parts) == 2 and parts[0] == "files":
        f = fake.files.get(parts[1])
        if f is None:
            return 404, {"message": f"No such file: {parts[1]}"}
        if method == "DELETE":
            del fake.files[parts[1]]
            fake.deleted_files.append(parts[1])
            return 200, {"id": parts[1], "object": "file", "deleted": True}
        return 200, _file_object(f)
    if parts == ["vector_stores"] and method == "POST":
        req = json.loads(body or b"{}")
        store = Store(fake.new_id("vs_"), req.get("name", ""))
        fake.stores[store.id] = store
        return 200, _store_object(store)
    if not parts or parts[0] != "vector_stores" or len(parts) < 2:
        return 404, {"message": f"no route for {method} /{'/'.join(parts)}"}
    store = fake.stores.get(parts[1])
    if store is None:
        return 404, {"message": f"No vector store found with id '{parts[1]}'."}
    rest = parts[2:]
    if not rest and method == "DELETE":
        del fake.stores[store.id]
        fake.deleted_stores.append(store.id)
        return 200, {"id": store.id, "object": "vector_store.deleted", "deleted": True}
    if not rest:
        return 200, _store_object(store)
    if rest == ["file_batches"] and method == "POST":
        ids = json.loads(body)["file_ids"]
        for fid in ids:
            name = fake.files[fid]["filename"]
            store.add(fid, plain_text(fake.contents[fid].decode("utf-8"), name.rsplit(".", 1)[-1]))
        bid = fake.new_id("vsfb_")
        fake.batches[bid] = {"id": bid, "object": "vector_store.files_batch", "created_at": int(time.time()),
                             "vector_store_id": store.id, "status": "in_progress",
                             "file_counts": {"in_progress": len(ids), "completed": 0, "failed": 0, "cancelled": 0, "total": len(ids)}}
        return 200, fake.batches[bid], {"openai-poll-after-ms": "20"}
    if len(rest) == 2 and rest[0] == "file_batches":
        batch = fake.batches[rest[1]]
        n = batch["file_counts"]["total"]
        batch["status"] = "completed"
        batch["file_counts"] = {"in_progress": 0, "completed": n, "failed": 0, "cancelled": 0, "total": n}
        return 200, batch, {"openai-poll-after-ms": "20"}
    if rest == ["files"] and method == "GET":
        if query.get("filter") not in (None, "completed"):
            listed = []
        else:
            listed = store.files
        start = listed.index(query["after"]) + 1 if "after" in query else 0
        limit = int(query.get("limit", 20))
        page = listed[start : start + min(limit, PAGE)]
        data = [{"id": fid, "object": "vector_store.file", "created_at": store.created, "usage_bytes": 0,
                 "vector_store_id": store.id, "status": "completed", "last_error": None} for fid in page]
        return 200, {"object": "list", "data": data, "first_id": page[0] if page else None,
                     "last_id": page[-1] if page else None, "has_more": start + len(page) < len(listed)}
    if rest == ["search"] and method == "POST":
        req = json.loads(body)
        mode = req.get("moat", {}).get("mode", "hybrid")
        if mode not in ("keyword", "vector", "hybrid"):
            return 400, {"message": f"unknown moat.mode {mode!r}"}
        hits = store.search(req["query"], mode, int(req.get("max_num_results", 10)))
        data = []
        for key, score in hits:
            fid, text = store.chunks[key]
            data.append({"file_id": fid, "filename": None if fake.omit_filenames else fake.files[fid]["filename"],
                         "score": score, "attributes": {}, "content": [{"type": "text", "text": text}]})
        fake.searches.append({"store": store.id, "query": req["query"], "mode": mode,
                              "max": req.get("max_num_results"),
                              "filenames": [fake.files[d["file_id"]]["filename"] for d in data]})
        return 200, {"object": "vector_store.search_results.page", "search_query": [req["query"]],
                     "data": data, "has_more": False, "next_page": None}
    return 404, {"message": f"no route for {method} /v1/{'/'.join(parts)}"}


class WithoutSearch:
    """A vector-stores resource as older SDKs had it: everything but `search`."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name: str):
        if name == "search":
            raise AttributeError(name)
        return getattr(self._inner, name)


def quality(base_url: str, corpus: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(HERE / "quality.py"), "--corpus", str(corpus), "--base-url", base_url,
           "--api-key", API_KEY, "--json", str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def check(corpus: Path) -> None:
    questions = load_questions(corpus)
    doc_names = sorted(p.name for p in (corpus / "docs").iterdir())
    fake = Fake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(fake))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    tmp = Path(tempfile.mkdtemp(prefix="kb-fake-"))
    try:
        # 1. every mode, store deleted afterwards
        run = quality(base_url, corpus, tmp / "all.json")
        print(run.stdout)
        assert run.returncode == 0, run.stderr
        report = json.loads((tmp / "all.json").read_text())
        assert fake.auth == {f"Bearer {API_KEY}"}, fake.auth
        assert sorted(fake.uploaded) == doc_names, "uploaded file names differ from the corpus"
        assert report["documents"] == len(doc_names)
        store_id = report["store_id"]
        assert fake.deleted_stores == [store_id], fake.deleted_stores
        assert not fake.files, f"{len(fake.files)} uploaded files were not deleted"
        assert len(fake.deleted_files) == len(doc_names)
        for mode in ("keyword", "vector", "hybrid"):
            asked = [s for s in fake.searches if s["mode"] == mode and s["store"] == store_id]
            assert len(asked) == len(questions) + 1, f"{mode}: {len(asked)} searches"  # + the warm-up
            assert all(s["max"] == 10 for s in asked)
            answered = {}
            for s in asked[1:]:
                answered.setdefault(s["query"], s["filenames"])
            expected = summarise([outcome(q, answered[q["question"]]) for q in questions])
            got = report["modes"][mode]["summary"]
            assert got == expected, f"{mode}: reported {got['all']} but the fake's answers give {expected['all']}"
            assert report["modes"][mode]["latency_ms"]["n"] == len(questions)
        kw, vec = report["modes"]["keyword"]["summary"], report["modes"]["vector"]["summary"]
        assert kw["zh"]["recall@5"] > vec["zh"]["recall@5"], "modes did not reach the fake: keyword and vector agree on Chinese"

        # 2. --keep, and results without filenames resolved through /v1/files/{id}
        fake.omit_filenames = True
        run = quality(base_url, corpus, tmp / "keep.json", "--mode", "vector", "--limit", "20", "--keep")
        assert run.returncode == 0, run.stderr
        kept = json.loads((tmp / "keep.json").read_text())
        assert kept["store_id"] in fake.stores and len(fake.files) == len(doc_names), "--keep deleted the store"
        first = {o["id"]: o for o in report["modes"]["vector"]["questions"][:20]}
        assert all(o["top"] == first[o["id"]]["top"] for o in kept["modes"]["vector"]["questions"]), "filename lookup differs"

        # 3. --store-id reuses the kept store and leaves it; an unknown mode fails loudly
        fake.omit_filenames = False
        run = quality(base_url, corpus, tmp / "reuse.json", "--store-id", kept["store_id"], "--mode", "keyword", "--limit", "10")
        assert run.returncode == 0, run.stderr
        assert kept["store_id"] in fake.stores
        assert route(fake, "POST", ["vector_stores", kept["store_id"], "search"], {},
                     json.dumps({"query": "x", "moat": {"mode": "semantic"}}).encode(), {})[0] == 400

        # 4. an SDK without a search method: the request goes through client.post
        kb = KnowledgeBase(openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0))
        kb.stores = WithoutSearch(kb.stores)
        q = questions[0]["question"]
        before = len(fake.searches)
        names = kb.search(kept["store_id"], q, "hybrid")
        assert len(fake.searches) == before + 1 and fake.searches[-1]["mode"] == "hybrid"
        assert names == fake.searches[-1]["filenames"], "raw search parsed differently"
        print(f"fake server check passed: {len(doc_names)} files uploaded and deleted, "
              f"{len(fake.searches)} searches, figures match the fake's answers in every mode")
    finally:
        server.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, help="folder written by make_corpus.py (default: generate one)")
    args = ap.parse_args()
    if args.corpus:
        check(args.corpus)
        return
    with tempfile.TemporaryDirectory(prefix="kb-corpus-") as tmp:
        made = subprocess.run([sys.executable, str(HERE / "make_corpus.py"), "--out", tmp], capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        check(Path(tmp))


if __name__ == "__main__":
    main()
