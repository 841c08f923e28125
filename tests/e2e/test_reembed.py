"""A store re-embeds itself when its embedding model changes, through the
real binary: a store made with all-MiniLM keeps it while MiniLM is served
and e5 is merely the new default; `[knowledge] embedding_model` naming e5
switches it at the next start, the old vectors are dropped at once, the
chunks are embedded again in the background (keyword search works
meanwhile), a SIGKILL in the middle loses nothing done, and the next start
resumes from where it stopped instead of starting over."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import httpx
import openai
import pytest

from support import MoatServer
from test_e5_embeddings import E5_ID, e5_gguf, wheel  # noqa: F401 (fixtures)
from test_embeddings import MINILM_ID, minilm_gguf

CONFIG = f'[knowledge]\nembedding_model = "{E5_ID}"\n'

TRAVEL_ZH = """# 差旅费报销办法

第十七条 员工出差发生的住宿费用，在直辖市每晚不超过六百元，其他城市每晚不超过四百元。
"""

CAFETERIA = """# Cafeteria

The staff cafeteria serves hot meals from noon to two o'clock on weekdays.
"""

TOPICS = ["budget", "hiring", "security", "facilities", "training", "procurement", "legal", "audit"]


def report(i: int) -> str:
    """Report `i`: ten paragraphs, each about one chunk of 100 tokens."""
    topic = TOPICS[i % len(TOPICS)]
    paragraphs = [
        f"Paragraph {j} of report {i} on {topic}: the committee reviewed item {i * 10 + j}, "
        f"compared it with the figures of quarter {j % 4 + 1}, and recorded that the {topic} "
        f"plan for unit {i} stays within the limits agreed in the annual review, subject to "
        f"the usual checks by the department heads and the internal control office."
        for j in range(10)
    ]
    return f"# Report {i} on {topic}\n\n" + "\n\n".join(paragraphs) + "\n"


def store_object(srv: MoatServer, store_id: str) -> dict:
    with srv.http() as http:
        r = http.get(f"/v1/vector_stores/{store_id}")
        r.raise_for_status()
        return r.json()


def reembedded_chunks(srv: MoatServer) -> int:
    with httpx.Client(base_url=srv.base_url, timeout=10) as http:
        text = http.get("/metrics").text
    match = re.search(r"^moat_knowledge_reembedded_chunks_total (\d+)", text, re.M)
    return int(match.group(1)) if match else 0


def kill(srv: MoatServer) -> None:
    srv.proc.kill()
    srv.proc.wait()
    srv._stderr.close()


def restart(workdir: Path, models: list[Path], args: list[str], admin_key: str) -> MoatServer:
    srv = MoatServer(workdir, models, args)
    srv.admin_key = srv.admin_key or admin_key
    return srv


def keyword(client: openai.OpenAI, store_id: str, query: str) -> list[str]:
    found = client.vector_stores.search(vector_store_id=store_id, query=query, extra_body={"moat": {"mode": "keyword"}})
    return [r.filename for r in found.data]


def vector(client: openai.OpenAI, store_id: str, query: str) -> list[str]:
    found = client.vector_stores.search(vector_store_id=store_id, query=query, extra_body={"moat": {"mode": "vector"}})
    return [r.filename for r in found.data]


def test_a_changed_embedding_model_reembeds_and_resumes_after_a_kill(tmp_path: Path, e5_gguf: Path):  # noqa: F811
    workdir = tmp_path
    minilm = minilm_gguf()
    srv = MoatServer(workdir, [minilm], ["--parallel", "2"])
    admin_key = srv.admin_key
    try:
        client = srv.client()
        vs = client.vector_stores.create(
            name="reports",
            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}},
        )
        files = [
            client.files.create(file=(f"report-{i}.md", io.BytesIO(report(i).encode())), purpose="assistants").id
            for i in range(32)
        ]
        for name, text in [("差旅.md", TRAVEL_ZH), ("cafeteria.md", CAFETERIA)]:
            files.append(client.files.create(file=(name, io.BytesIO(text.encode())), purpose="assistants").id)
        batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=vs.id, file_ids=files)
        assert batch.file_counts.completed == len(files), batch.file_counts
        made = store_object(srv, vs.id)
        assert made["moat"] == {"embedding_model": MINILM_ID}
    finally:
        srv.stop()

    # e5 served too, but only as the default for new stores: this store's
    # model is still served, so it keeps it and nothing is re-embedded.
    srv = restart(workdir, [minilm, e5_gguf], ["--parallel", "2"], admin_key)
    try:
        kept = store_object(srv, vs.id)
        assert kept["moat"] == {"embedding_model": MINILM_ID}
        assert kept["status"] == "completed"
        assert reembedded_chunks(srv) == 0
        assert vector(srv.client(), vs.id, "when can employees eat lunch")[:1] == ["cafeteria.md"]
    finally:
        srv.stop()

    # The configured model differs: the store switches and re-embeds. Kill
    # the server once part of it is done.
    (workdir / "moat.toml").write_text(CONFIG)
    args = ["--config", "moat.toml", "--parallel", "2"]
    srv = restart(workdir, [minilm, e5_gguf], args, admin_key)
    try:
        first = store_object(srv, vs.id)
        assert first["moat"]["embedding_model"] == E5_ID
        total = first["moat"]["reembed"]["chunks_total"]
        assert total >= 200, first
        assert first["status"] == "in_progress"
        # Meanwhile, keyword search answers from every chunk.
        assert keyword(srv.client(), vs.id, "住宿费用")[:1] == ["差旅.md"]
        deadline = time.monotonic() + 120
        embedded = 0
        while time.monotonic() < deadline:
            progress = store_object(srv, vs.id)["moat"].get("reembed")
            assert progress is not None, "the re-embed finished before it could be interrupted"
            embedded = progress["chunks_embedded"]
            if embedded >= 64:
                break
            time.sleep(0.05)
        assert 64 <= embedded < total
        kill(srv)
    except BaseException:
        srv.stop()
        raise

    # The next start resumes: what was stored before the kill is not done
    # again, and the store ends fully embedded by e5.
    srv = restart(workdir, [minilm, e5_gguf], args, admin_key)
    try:
        resumed = store_object(srv, vs.id)["moat"]["reembed"]
        assert resumed["chunks_total"] == total
        assert resumed["chunks_embedded"] >= embedded
        before_kill = resumed["chunks_embedded"]
        deadline = time.monotonic() + 300
        while "reembed" in (current := store_object(srv, vs.id))["moat"]:
            assert time.monotonic() < deadline, current
            time.sleep(0.2)
        assert current["moat"] == {"embedding_model": E5_ID}
        assert current["status"] == "completed"
        assert reembedded_chunks(srv) == total - before_kill

        client = srv.client()
        # Vectors are e5's now, and every chunk has one.
        assert vector(client, vs.id, "出差的时候酒店一晚能报多少钱")[:1] == ["差旅.md"]
        assert vector(client, vs.id, "when can employees eat lunch")[:1] == ["cafeteria.md"]
        # A new file is embedded by e5 as well.
        new = client.files.create(file=("new.md", io.BytesIO(b"# Parking\n\nStaff park in garage B.\n")), purpose="assistants")
        done = client.vector_stores.files.create_and_poll(vector_store_id=vs.id, file_id=new.id)
        assert done.status == "completed", done.last_error
        assert vector(client, vs.id, "where do employees leave their cars")[:1] == ["new.md"]
    finally:
        srv.stop()
    # Nothing is left to do at the next start.
    srv = restart(workdir, [minilm, e5_gguf], args, admin_key)
    try:
        assert store_object(srv, vs.id)["moat"] == {"embedding_model": E5_ID}
        assert reembedded_chunks(srv) == 0
    finally:
        srv.stop()


def test_an_unserved_embedding_model_stops_the_start_naming_the_served(tmp_path: Path):
    (tmp_path / "moat.toml").write_text('[knowledge]\nembedding_model = "bge-m3"\n')
    with pytest.raises(BaseException) as failed:
        MoatServer(tmp_path, [minilm_gguf()], ["--config", "moat.toml"])
    assert "exited" in str(failed.value), failed.value
    log = (tmp_path / "moat.stderr.log").read_text()
    assert "[knowledge] embedding_model `bge-m3` is not a served embedding model" in log, log
    assert MINILM_ID in log, log
