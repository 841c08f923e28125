"""Two replicas sharing a real PostgreSQL store, its secret and audit keys
files, and Redis counters, started by the test command
(scripts/services.sh): keys made on one work on the other, a revocation
reaches both, a per-key limit is shared, a conversation goes on on either,
and a replica with its own audit keys is refused at start."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import time
from typing import Iterator

import httpx
import openai
import pytest

from support import SMOL_ID, MoatServer, error_of, moat_bin, smol_gguf

ROLES = """
[[roles]]
name = "metered"
models = ["*"]
per_key = { requests_per_minute = 3 }
"""


def service_url(name: str) -> str:
    url = os.environ.get(name, "")
    if not url:
        if os.environ.get("MOAT_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{name} is not set (scripts/test.sh starts PostgreSQL and Redis)")
        pytest.skip(f"{name} not set; run through scripts/test.sh")
    return url


def fresh_database(admin_url: str) -> str:
    """A new, empty database on the test PostgreSQL; its URL."""
    psql = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))), None)
    assert psql, "psql not found (scripts/services.sh installs PostgreSQL)"
    name = f"moat_e2e_{secrets.token_hex(4)}"
    subprocess.run([psql, admin_url, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def replicas(tmp_path_factory) -> Iterator[tuple[MoatServer, MoatServer]]:
    postgres = fresh_database(service_url("MOAT_TEST_POSTGRES_URL"))
    redis = service_url("MOAT_TEST_REDIS_URL")
    shared = tmp_path_factory.mktemp("moat-shared")
    (shared / "moat.toml").write_text(ROLES)
    args = [
        "--config", str(shared / "moat.toml"),
        "--store", postgres,
        "--secret-file", str(shared / "moat.secret"),
        "--audit-keys", str(shared / "audit.key"),
        "--redis-url", redis,
        "--parallel", "1",
    ]
    first = MoatServer(tmp_path_factory.mktemp("replica-a"), [smol_gguf()], args)
    second = MoatServer(tmp_path_factory.mktemp("replica-b"), [smol_gguf()], args)
    yield first, second
    first.stop()
    second.stop()


def make_key(srv: MoatServer, name: str, role: str) -> tuple[str, str]:
    """A new key through `srv`'s admin API: its secret and id."""
    with srv.http() as admin:
        made = admin.post("/admin/keys", json={"name": name, "role": role})
        assert made.status_code == 201, made.text
        return made.json()["key"], made.json()["id"]


def test_one_admin_key_for_the_cluster(replicas):
    first, second = replicas
    assert first.admin_key.startswith("moat_")
    assert second.admin_key == "", "the second replica made another admin key"
    second.admin_key = first.admin_key
    with second.http() as http:
        assert http.get("/v1/models").json()["data"][0]["id"] == SMOL_ID


def test_limits_are_shared_and_revocation_reaches_both(replicas):
    first, second = replicas
    second.admin_key = first.admin_key
    key, key_id = make_key(first, "shared", "metered")
    body = {"model": SMOL_ID, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    a = httpx.Client(base_url=first.base_url, timeout=60, headers={"Authorization": f"Bearer {key}"})
    b = httpx.Client(base_url=second.base_url, timeout=60, headers={"Authorization": f"Bearer {key}"})
    try:
        statuses = [c.post("/v1/chat/completions", json=body).status_code for c in (a, b, a)]
        assert statuses == [200, 200, 200]
        fourth = b.post("/v1/chat/completions", json=body)
        assert fourth.status_code == 429, fourth.text
        assert error_of(fourth)["code"] == "rate_limit_exceeded"

        with first.http() as admin:
            assert admin.post(f"/admin/keys/{key_id}/revoke").status_code == 200
        deadline = time.monotonic() + 1.5
        while b.get("/v1/models").status_code != 401:
            assert time.monotonic() < deadline, "the other replica still accepts the revoked key"
            time.sleep(0.1)
    finally:
        a.close()
        b.close()


def test_conversations_are_shared_between_replicas(replicas):
    first, second = replicas
    second.admin_key = first.admin_key
    key, _ = make_key(first, "talker", "user")
    on_a, on_b = first.client(key), second.client(key)
    conversation = on_a.conversations.create(items=[{"role": "user", "content": "Started on replica A"}])
    # Read, and added to, on the other replica: one owner, one key, one store.
    listed = on_b.conversations.items.list(conversation.id, order="asc")
    assert [i.content[0].text for i in listed.data] == ["Started on replica A"]
    on_b.conversations.items.create(conversation.id, items=[{"role": "user", "content": "Went on on replica B"}])
    texts = [i.content[0].text for i in on_a.conversations.items.list(conversation.id, order="asc")]
    assert texts == ["Started on replica A", "Went on on replica B"]
    with pytest.raises(openai.NotFoundError):
        second.client().conversations.retrieve(conversation.id)  # the admin is not the owner


def test_a_replica_with_its_own_audit_keys_is_refused(tmp_path_factory):
    # Two first starts on a new database, each with a keys file of its own:
    # the second would write pseudonyms and content keys the first cannot
    # read, so it is refused before serving.
    postgres = fresh_database(service_url("MOAT_TEST_POSTGRES_URL"))
    shared = tmp_path_factory.mktemp("moat-stray-shared")
    args = ["--store", postgres, "--secret-file", str(shared / "moat.secret"), "--parallel", "1"]
    first = MoatServer(tmp_path_factory.mktemp("replica-own"), [smol_gguf()], args)
    try:
        workdir = tmp_path_factory.mktemp("replica-stray")
        stray = [
            str(moat_bin()), "serve", "--listen", "127.0.0.1:0", "--models-dir", str(first.models_dir),
            *args, "--audit-keys", str(workdir / "own-audit.key"),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOAT_")}
        result = subprocess.run(stray, cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0, result.stdout
        assert "not the one this log belongs to" in result.stderr and "--audit-keys" in result.stderr, result.stderr
        # The first replica serves on.
        with first.http() as http:
            assert http.get("/v1/models").status_code == 200
    finally:
        first.stop()
