"""The keyword index on disk, through the real binary: each file is ranked
whole as well as by its chunks, so the clause of the policy a question
names outranks the same clause of a near-duplicate by another owner; and a
store whose index folder is of the older layout (chunks only, in
`keyword/`) is rebuilt from the database at start, with the same ranking."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import openai

from support import MoatServer
from test_embeddings import minilm_gguf

FILLER = "Staff book trains in second class and keep every ticket. " * 40
CLAUSE = "Hotel costs are reimbursed within thirty days of the trip."
QUESTION = "How soon does Acme reimburse hotel costs?"


def policy(owner: str) -> bytes:
    # Plain text with no headings: the owner is named in the first chunk
    # only, the clause is in the last one, word for word in both files.
    return f"{owner} travel policy, 2024 edition.\n\n{FILLER}\n\n{CLAUSE}\n".encode()


def first(client: openai.OpenAI, store_id: str) -> tuple[str, str]:
    found = client.vector_stores.search(
        vector_store_id=store_id, query=QUESTION, extra_body={"moat": {"mode": "keyword"}}
    )
    assert found.data, "nothing found"
    top = found.data[0]
    return top.filename, top.content[0].text


def test_whole_file_evidence_and_an_older_index_folder_rebuilt(tmp_path: Path):
    workdir = tmp_path / "moat"
    srv = MoatServer(workdir, [minilm_gguf()], [])
    admin_key = srv.admin_key
    try:
        client = srv.client()
        vs = client.vector_stores.create(name="travel")
        # Globex first: its clause has the smaller key, which wins a tie.
        for owner in ["Globex Insurance", "Acme Bank"]:
            name = f"{owner.split()[0].lower()}.txt"
            f = client.files.create(file=(name, io.BytesIO(policy(owner))), purpose="assistants")
            done = client.vector_stores.files.create_and_poll(
                vector_store_id=vs.id,
                file_id=f.id,
                chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}},
            )
            assert done.status == "completed", done.last_error
        chunks = client.vector_stores.search(
            vector_store_id=vs.id, query="trains ticket", max_num_results=50, extra_body={"moat": {"mode": "keyword"}}
        )
        assert len([r for r in chunks.data if r.filename == "acme.txt"]) >= 3, "the file must span several chunks"
        name, text = first(client, vs.id)
        assert name == "acme.txt" and CLAUSE in text, (name, text)
    finally:
        srv.stop()

    # The older layout: the chunks' index alone, in `keyword/`.
    store_dir = workdir / "data" / "kb" / vs.id
    assert (store_dir / "keywords" / "files" / "meta.json").is_file(), sorted(p.name for p in store_dir.iterdir())
    shutil.move(store_dir / "keywords" / "chunks", store_dir / "keyword")
    shutil.rmtree(store_dir / "keywords")

    srv = MoatServer(workdir, [minilm_gguf()], [])
    srv.admin_key = admin_key
    try:
        name, text = first(srv.client(), vs.id)
        assert name == "acme.txt" and CLAUSE in text, (name, text)
        assert not (store_dir / "keyword").exists()
        assert (store_dir / "keywords" / "files" / "meta.json").is_file()
    finally:
        srv.stop()
