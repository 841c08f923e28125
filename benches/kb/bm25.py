"""Okapi BM25 over two tokenizations: whitespace tokens (what many systems
do, and which leaves a Chinese sentence as one token) and character bigrams
for Chinese with whole words for Latin letters and digits (what Lucene's CJK
analyzer does). Pure Python; the reference for the benchmark set and the
engine of the fake server."""

from __future__ import annotations

import collections
import math
import re
from pathlib import Path
from typing import Callable

from corpus.doc import plain_text

PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~，。、；：？！“”‘’（）《》【】〔〕…—·　"
LATIN = re.compile(r"[a-z0-9]+")
HAN_OR_LATIN = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9]+")


def whitespace_tokens(text: str) -> list[str]:
    """Lower-cased whitespace-separated words, punctuation trimmed at the ends."""
    out = []
    for word in text.lower().split():
        word = word.strip(PUNCT)
        if word:
            out.append(word)
    return out


def bigram_tokens(text: str) -> list[str]:
    """Runs of Latin letters and digits as words; runs of Chinese characters
    as overlapping bigrams (a lone character as itself)."""
    out = []
    for run in HAN_OR_LATIN.findall(text.lower()):
        if LATIN.fullmatch(run) or len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"whitespace": whitespace_tokens, "bigram": bigram_tokens}


class Bm25:
    """An inverted index over `texts` (key -> text) scored with BM25."""

    def __init__(self, texts: dict[str, str], tokenize: Callable[[str], list[str]], k1: float = 1.2, b: float = 0.75):
        self.tokenize = tokenize
        self.k1, self.b = k1, b
        self.postings: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
        self.length: dict[str, int] = {}
        for key, text in texts.items():
            tokens = tokenize(text)
            self.length[key] = len(tokens)
            for term, tf in collections.Counter(tokens).items():
                self.postings[term].append((key, tf))
        self.n = len(texts)
        self.avg = sum(self.length.values()) / self.n if self.n else 0.0

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The `k` best keys with their scores, best first (ties by key)."""
        scores: dict[str, float] = collections.defaultdict(float)
        for term in set(self.tokenize(query)):
            postings = self.postings.get(term)
            if not postings:
                continue
            idf = math.log(1 + (self.n - len(postings) + 0.5) / (len(postings) + 0.5))
            for key, tf in postings:
                norm = self.k1 * (1 - self.b + self.b * self.length[key] / self.avg)
                scores[key] += idf * tf * (self.k1 + 1) / (tf + norm)
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def read_documents(corpus: Path) -> dict[str, str]:
    """File name -> readable text of every document (HTML without its tags)."""
    return {p.name: plain_text(p.read_text(encoding="utf-8"), p.suffix.lstrip("."))
            for p in sorted((corpus / "docs").iterdir()) if p.is_file()}
