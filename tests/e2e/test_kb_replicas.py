"""Two replicas sharing a real PostgreSQL serve the same knowledge bases:
a file ingested through one is found through the other (keyword and
vector), a file deleted through one is gone from the other, and a replica
restarted after files were ingested elsewhere catches up from the database
although its own keyword index on disk predates them."""

from __future__ import annotations

import io
from pathlib import Path

import openai

from support import MoatServer
from test_embeddings import minilm_gguf
from test_replicas import fresh_database, service_url

DOCS = {
    "travel.md": "# Travel\n\nHotels of up to 180 euros a night are allowed under contract HT-2024-5082.\n",
    "parking.md": "# Parking\n\nStaff park their cars in garage B, level minus two, badge KX-310A.\n",
    "canteen.md": "# Canteen\n\nThe canteen serves hot lunches from noon until two o'clock, menu E37.\n",
}


def search(client: openai.OpenAI, store_id: str, query: str, mode: str) -> list[str]:
    found = client.vector_stores.search(vector_store_id=store_id, query=query, extra_body={"moat": {"mode": mode}})
    return [r.filename for r in found.data]


def ingest(client: openai.OpenAI, store_id: str, name: str) -> str:
    f = client.files.create(file=(name, io.BytesIO(DOCS[name].encode())), purpose="assistants")
    done = client.vector_stores.files.create_and_poll(vector_store_id=store_id, file_id=f.id)
    assert done.status == "completed", done.last_error
    return f.id


def test_replicas_share_knowledge_bases(tmp_path: Path):
    postgres = fresh_database(service_url("MOAT_TEST_POSTGRES_URL"))
    shared = tmp_path / "shared"
    shared.mkdir()
    args = [
        "--store", postgres,
        "--secret-file", str(shared / "moat.secret"),
        "--audit-keys", str(shared / "audit.key"),
        "--parallel", "1",
    ]
    model = minilm_gguf()
    a = MoatServer(tmp_path / "a", [model], args)
    b = MoatServer(tmp_path / "b", [model], args)
    b.admin_key = a.admin_key
    try:
        ca, cb = a.client(), b.client()
        vs = ca.vector_stores.create(name="shared")
        travel = ingest(ca, vs.id, "travel.md")
        # B has not opened this store yet; then, once open, it catches up.
        assert search(cb, vs.id, "HT-2024-5082", "keyword")[:1] == ["travel.md"]
        ingest(cb, vs.id, "parking.md")
        assert search(ca, vs.id, "KX-310A", "keyword")[:1] == ["parking.md"]
        assert search(ca, vs.id, "where do employees leave their cars", "vector")[:1] == ["parking.md"]
        assert search(cb, vs.id, "hotel price limit per night", "vector")[:1] == ["travel.md"]

        # Deleted through A: gone from B, from both rankings.
        assert ca.files.delete(travel).deleted
        for mode in ["keyword", "vector", "hybrid"]:
            assert "travel.md" not in search(cb, vs.id, "HT-2024-5082 hotels", mode), mode

        # B stops; A ingests; B comes back with its old index on disk.
        b.stop()
        ingest(ca, vs.id, "canteen.md")
        b = MoatServer(tmp_path / "b", [model], args)
        b.admin_key = a.admin_key
        cb = b.client()
        assert search(cb, vs.id, "E37", "keyword")[:1] == ["canteen.md"]
        assert search(cb, vs.id, "when is lunch served", "vector")[:1] == ["canteen.md"]
        assert "travel.md" not in search(cb, vs.id, "HT-2024-5082", "keyword")
        listed = cb.vector_stores.files.list(vector_store_id=vs.id)
        assert len(listed.data) == 2
    finally:
        a.stop()
        b.stop()
