"""Conversations through the real binary with the official `openai` SDK:
create, retrieve, update, items (add, page, retrieve, delete), delete;
another user's conversation is 404 (administrators included) while a
`read_all_conversations` role reads it, audited; `moat audit erase
--subject` erases the owner's conversations; a role's retention expires
them at once and the purge at start deletes them; nothing said is in the
database file as text."""

from __future__ import annotations

import json
import sqlite3
from typing import Iterator

import openai
import pytest

from support import MoatServer, smol_gguf

ROLES = """
[[roles]]
name = "clerk"
models = ["SmolLM2-*"]
conversation_retention_days = 1

[[roles]]
name = "reader"
models = ["SmolLM2-*"]
read_all_conversations = true
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[MoatServer]:
    workdir = tmp_path_factory.mktemp("moat-conversations")
    (workdir / "moat.toml").write_text(ROLES)
    server = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    yield server
    server.stop()


def new_key(srv: MoatServer, name: str, role: str) -> str:
    return srv.moat("keys", "create", "--config", "moat.toml", "--quiet", "--name", name, "--role", role).stdout.strip()


def key_id(srv: MoatServer, name: str) -> str:
    listed = srv.moat("keys", "list", "--config", "moat.toml").stdout
    return next(line.split()[0] for line in listed.splitlines() if f" {name} " in line)


def test_the_sdk_round_trip(srv: MoatServer):
    client = srv.client(new_key(srv, "sdk", "user"))
    conversation = client.conversations.create(
        metadata={"topic": "demo"},
        items=[{"type": "message", "role": "user", "content": "Hello!"}],
    )
    assert conversation.id.startswith("conv_") and conversation.object == "conversation"
    assert conversation.metadata == {"topic": "demo"}
    assert client.conversations.retrieve(conversation.id).id == conversation.id

    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "assistant", "content": "Hi! How can I help?"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
            {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city":"Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
    )
    assert [i.type for i in added.data] == ["message", "message", "function_call", "function_call_output"]
    assert added.data[0].content[0].type == "output_text"

    # The SDK pages through every item by itself (two at a time).
    texts = []
    for item in client.conversations.items.list(conversation.id, limit=2, order="asc"):
        texts.append(item.content[0].text if item.type == "message" else item.type)
    assert texts == ["Hello!", "Hi! How can I help?", "Weather in Paris?", "function_call", "function_call_output"]
    newest = client.conversations.items.list(conversation.id, limit=1)
    assert newest.data[0].type == "function_call_output", "newest first by default"

    call = added.data[2]
    assert client.conversations.items.retrieve(call.id, conversation_id=conversation.id).name == "weather"
    after = client.conversations.items.delete(call.id, conversation_id=conversation.id)
    assert after.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(call.id, conversation_id=conversation.id)

    updated = client.conversations.update(conversation.id, metadata={"title": "Paris"})
    assert updated.metadata == {"title": "Paris"}
    deleted = client.conversations.delete(conversation.id)
    assert deleted.deleted is True and deleted.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)


def test_another_users_conversation_is_404_and_reading_all_is_audited(srv: MoatServer):
    alice = srv.client(new_key(srv, "alice", "user"))
    created = alice.conversations.with_raw_response.create(
        items=[{"role": "user", "content": "my account number is 6222"}]
    )
    mine = created.parse()
    for other in (srv.client(new_key(srv, "bob", "user")), srv.client()):  # a user, then the admin
        with pytest.raises(openai.NotFoundError) as refused:
            other.conversations.retrieve(mine.id)
        assert refused.value.body["code"] == "not_found"
        with pytest.raises(openai.NotFoundError):
            other.conversations.items.list(mine.id)
        with pytest.raises(openai.NotFoundError):
            other.conversations.delete(mine.id)
    reader = srv.client(new_key(srv, "reader", "reader"))
    read = reader.conversations.items.with_raw_response.list(mine.id)
    assert read.parse().data[0].content[0].text == "my account number is 6222"
    with pytest.raises(openai.NotFoundError):
        reader.conversations.update(mine.id, metadata={"taken": "yes"})
    # The reader's request names the owner (pseudonymized) in its record.
    request_id = read.headers["x-request-id"]
    out = srv.moat("audit", "--config", "moat.toml", "search").stdout
    records = {r["request_id"]: r for r in map(json.loads, filter(str.strip, out.splitlines()))}
    assert records[request_id]["conversation_of"] == records[created.headers["x-request-id"]]["principal"]
    # The owner's own requests name nobody.
    assert "conversation_of" not in records[created.headers["x-request-id"]]
    assert key_id(srv, "alice") not in out
    assert alice.conversations.retrieve(mine.id).id == mine.id


def test_erasing_the_owner_erases_their_conversations(srv: MoatServer):
    carol = srv.client(new_key(srv, "carol", "user"))
    conversation = carol.conversations.create(items=[{"role": "user", "content": "Project Nightingale budget"}])
    # Sealed: the text is nowhere in the database files.
    data = srv.workdir / "data"
    for path in data.glob("moat.db*"):
        assert b"Nightingale" not in path.read_bytes(), path
    assert "erased" in srv.moat("audit", "--config", "moat.toml", "erase", "--subject", key_id(srv, "carol")).stdout
    with pytest.raises(openai.NotFoundError):
        carol.conversations.retrieve(conversation.id)
    with sqlite3.connect(data / "moat.db") as db:
        assert db.execute("SELECT count(*) FROM conversations WHERE id = ?", (conversation.id,)).fetchone() == (0,)


def test_retention_expires_a_conversation_and_the_purge_deletes_it(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("moat-retention")
    (workdir / "moat.toml").write_text(ROLES)
    first = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    try:
        clerk = first.client(new_key(first, "clerk", "clerk"))
        kept = first.client(new_key(first, "keeper", "user")).conversations.create()
        expiring = clerk.conversations.create(items=[{"role": "user", "content": "hello"}])
        db_path = workdir / "data" / "moat.db"
        with sqlite3.connect(db_path) as db:
            created, expires = db.execute(
                "SELECT updated_ms, expires_ms FROM conversations WHERE id = ?", (expiring.id,)
            ).fetchone()
            assert expires == created + 86_400_000, "one day after the last change"
            # A day passes.
            db.execute("UPDATE conversations SET expires_ms = 1 WHERE id = ?", (expiring.id,))
        with pytest.raises(openai.NotFoundError):
            clerk.conversations.retrieve(expiring.id)
    finally:
        assert first.stop() == 0
    again = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    try:
        with sqlite3.connect(db_path) as db:
            ids = {row[0] for row in db.execute("SELECT id FROM conversations")}
        assert expiring.id not in ids and kept.id in ids
    finally:
        again.stop()
