"""Access control through the real binary: the first admin key, `moat keys`,
roles and default deny, rate limits, the admin API, `moat usage`, the client
allow-list and TLS."""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path
from typing import Iterator

import httpx
import openai
import pytest

from support import SMOL_ID, MoatServer, error_of, smol_gguf, start_server

HI = [{"role": "user", "content": "Say hi."}]

ROLES = """
[[roles]]
name = "limited"
models = ["SmolLM2-*"]
per_key = { requests_per_minute = 2 }

[[roles]]
name = "nothing"
models = ["some-other-model"]
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator[MoatServer]:
    workdir = tmp_path_factory.mktemp("moat-access")
    (workdir / "moat.toml").write_text(ROLES)
    srv = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "2"])
    yield srv
    srv.stop()


def new_key(srv: MoatServer, *args: str) -> str:
    return srv.moat("keys", "create", "--config", "moat.toml", "--quiet", *args).stdout.strip()


def test_first_start_prints_one_admin_key_and_never_logs_it(guarded: MoatServer):
    assert guarded.admin_key.startswith("moat_") and len(guarded.admin_key) == 48
    printed = [line for line in guarded.stdout_lines if guarded.admin_key in line]
    assert len(printed) == 1, guarded.stdout_lines
    assert guarded.admin_key not in guarded.stderr_path.read_text()
    secret = (guarded.workdir / "data" / "moat.secret").read_text()
    assert guarded.admin_key not in secret
    # The data directory is private; the secret file too.
    assert (guarded.workdir / "data").stat().st_mode & 0o777 == 0o700
    assert (guarded.workdir / "data" / "moat.secret").stat().st_mode & 0o777 == 0o600
    # The store (database and write-ahead log) holds a hash only.
    for stored in (guarded.workdir / "data").iterdir():
        assert guarded.admin_key.encode() not in stored.read_bytes(), stored


def test_requests_without_a_valid_key_get_401(guarded: MoatServer):
    with httpx.Client(base_url=guarded.base_url, timeout=30) as anonymous:
        for headers in ({}, {"Authorization": "Bearer moat_" + "x" * 43}, {"Authorization": "Basic abc"}):
            resp = anonymous.get("/v1/models", headers=headers)
            assert resp.status_code == 401
            assert error_of(resp)["code"] == "invalid_api_key"
        assert anonymous.get("/health").status_code == 200
    with pytest.raises(openai.AuthenticationError):
        guarded.client(api_key="moat_" + "y" * 43).models.list()


def test_a_key_made_with_the_cli_works_at_once_and_revocation_follows(guarded: MoatServer):
    key = new_key(guarded, "--name", "app", "--role", "user", "--expires", "30d")
    client = guarded.client(api_key=key)
    answer = client.chat.completions.create(model=SMOL_ID, messages=HI, max_tokens=4)
    assert answer.choices[0].message.content
    listed = guarded.moat("keys", "list").stdout
    line = next(l for l in listed.splitlines() if " app " in l)
    assert key not in listed and "active" in line
    key_id = line.split()[0]
    guarded.moat("keys", "revoke", key_id)
    deadline = time.monotonic() + 1.5
    while True:
        try:
            client.models.list()
        except openai.AuthenticationError:
            break
        assert time.monotonic() < deadline, "the revoked key still works after 1.5 s"
        time.sleep(0.1)
    assert "revoked" in guarded.moat("keys", "list").stdout


def test_roles_decide_which_models_a_key_sees(guarded: MoatServer):
    nothing = guarded.client(api_key=new_key(guarded, "--name", "n", "--role", "nothing"))
    assert nothing.models.list().data == []
    with pytest.raises(openai.PermissionDeniedError) as denied:
        nothing.chat.completions.create(model=SMOL_ID, messages=HI, max_tokens=4)
    assert denied.value.code == "model_not_allowed"
    narrowed = guarded.client(api_key=new_key(guarded, "--name", "m", "--role", "user", "--models", "other-*"))
    assert narrowed.models.list().data == []
    with pytest.raises(openai.NotFoundError):
        guarded.client().chat.completions.create(model="no-such-model", messages=HI, max_tokens=4)


def test_a_per_key_rate_limit_answers_429_with_retry_after(guarded: MoatServer):
    key = new_key(guarded, "--name", "limited", "--role", "limited")
    body = {"model": SMOL_ID, "messages": HI, "max_tokens": 2}
    with guarded.http(api_key=key) as http:
        first = http.post("/v1/chat/completions", json=body)
        assert first.status_code == 200, first.text
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        assert http.post("/v1/chat/completions", json=body).status_code == 200
        third = http.post("/v1/chat/completions", json=body)
        assert third.status_code == 429
        assert error_of(third)["code"] == "rate_limit_exceeded"
        assert 1 <= int(third.headers["retry-after"]) <= 30
    with pytest.raises(openai.RateLimitError):
        guarded.client(api_key=key).chat.completions.create(model=SMOL_ID, messages=HI, max_tokens=2)


def test_the_admin_api_is_for_admins(guarded: MoatServer):
    user = new_key(guarded, "--name", "plain", "--role", "user")
    with guarded.http(api_key=user) as http:
        resp = http.get("/admin/keys")
        assert resp.status_code == 403 and error_of(resp)["code"] == "permission_denied"
    with guarded.http() as admin:
        made = admin.post("/admin/keys", json={"name": "via-api", "role": "user", "expires_in": "1d"})
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        assert guarded.client(api_key=key).models.list().data[0].id == SMOL_ID
        listed = admin.get("/admin/keys").text
        assert "via-api" in listed and key not in listed
        bad = admin.post("/admin/keys", json={"name": "x", "role": "no-such-role"})
        assert bad.status_code == 400 and "no-such-role" in error_of(bad)["message"]


def test_usage_is_recorded_per_key_and_model(guarded: MoatServer):
    key = new_key(guarded, "--name", "counted", "--role", "user")
    answer = guarded.client(api_key=key).chat.completions.create(model=SMOL_ID, messages=HI, max_tokens=3)
    deadline = time.monotonic() + 5
    while True:
        with guarded.http() as admin:
            rows = admin.get("/admin/usage", params={"by": "model"}).json()["data"]
        if rows and sum(r["requests"] for r in rows) >= 1:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)
    assert rows[0]["model"] == SMOL_ID
    cli = guarded.moat("usage", "--by", "model").stdout
    assert SMOL_ID in cli
    by_key = guarded.moat("usage", "--by", "key").stdout
    assert answer.usage.total_tokens > 0 and "REQUESTS" in by_key


def test_restart_keeps_keys_and_prints_no_new_admin_key(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("moat-restart")
    first = MoatServer(workdir, [smol_gguf()], ["--parallel", "1"])
    key = first.admin_key
    assert first.stop() == 0
    second = MoatServer(workdir, [smol_gguf()], ["--parallel", "1"])
    try:
        assert second.admin_key == "", second.stdout_lines
        assert second.client(api_key=key).models.list().data[0].id == SMOL_ID
    finally:
        second.stop()


def test_addresses_outside_the_allow_list_get_403(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("moat-cidr")
    (workdir / "moat.toml").write_text('allow_clients = ["10.0.0.0/8"]\n')
    srv = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    try:
        with srv.http() as http:
            resp = http.get("/v1/models")
            assert resp.status_code == 403
            assert error_of(resp)["code"] == "address_not_allowed"
    finally:
        srv.stop()


def make_cert(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


def test_tls_serves_https_only(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("moat-tls")
    cert, key = make_cert(workdir)
    (workdir / "moat.toml").write_text(f'[tls]\ncert = "{cert}"\nkey = "{key}"\ntls13_only = true\n')
    srv = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    try:
        assert srv.base_url.startswith("https://")
        with httpx.Client(base_url=srv.base_url, verify=ssl.create_default_context(cafile=str(cert)), timeout=60,
                          headers={"Authorization": f"Bearer {srv.admin_key}"}) as https:
            resp = https.post("/v1/chat/completions", json={"model": SMOL_ID, "messages": HI, "max_tokens": 3})
            assert resp.status_code == 200, resp.text
            assert https.get("/v1/models").json()["data"][0]["id"] == SMOL_ID
        plain = srv.base_url.replace("https://", "http://")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{plain}/health", timeout=5)
    finally:
        srv.stop()


def test_failures_from_one_address_never_lock_out_a_valid_key(guarded: MoatServer):
    """Behind a NAT everyone shares one address: 24 bad requests from it (in
    parallel, the way a scanner sends them) lock failures out, not users."""
    wrong = "moat_" + "x" * 43

    def bad(_: int) -> int:
        with httpx.Client(base_url=guarded.base_url, timeout=60, headers={"Authorization": f"Bearer {wrong}"}) as http:
            return http.get("/v1/models").status_code

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(bad, range(24)))
    assert set(statuses) <= {401, 429} and 429 in statuses, statuses
    with guarded.http() as http:
        resp = http.get("/v1/models")
        assert resp.status_code == 200, resp.text
    with httpx.Client(base_url=guarded.base_url, timeout=60, headers={"Authorization": f"Bearer {wrong}"}) as http:
        locked = http.get("/v1/models")
        assert locked.status_code == 429 and error_of(locked)["code"] == "too_many_auth_failures"
        assert int(locked.headers["retry-after"]) > 0


def audit_records(srv: MoatServer, *filters: str) -> list[dict]:
    import json

    config = ["--config", "moat.toml"] if (srv.workdir / "moat.toml").exists() else []
    out = srv.moat("audit", *config, "search", *filters).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_forwarded_clients_are_believed_from_trusted_proxies_only(tmp_path_factory):
    allow = 'allow_clients = ["203.0.113.0/24"]\n'
    trusting = tmp_path_factory.mktemp("moat-proxied")
    (trusting / "moat.toml").write_text(allow + 'trusted_proxies = ["127.0.0.0/8"]\n')
    doubting = tmp_path_factory.mktemp("moat-unproxied")
    (doubting / "moat.toml").write_text(allow)
    behind = MoatServer(trusting, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    direct = MoatServer(doubting, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    try:
        with behind.http() as http:
            # The proxy itself is not an allowed client.
            assert http.get("/v1/models").status_code == 403
            # The right-most address the proxy did not add itself is the client.
            ok = http.get("/v1/models", headers={"x-forwarded-for": "6.6.6.6, 203.0.113.9"})
            assert ok.status_code == 200, ok.text
            assert http.get("/v1/models", headers={"x-forwarded-for": "203.0.113.9, 6.6.6.6"}).status_code == 403
            assert http.get("/v1/models", headers={"forwarded": 'for="203.0.113.10:5555"'}).status_code == 200
            # Failures are counted per forwarded client: another one is not slowed or locked.
            with httpx.Client(base_url=behind.base_url, timeout=60) as anonymous:
                for _ in range(3):
                    anonymous.get("/v1/models", headers={"x-forwarded-for": "203.0.113.66"})
        clients = {r.get("client") for r in audit_records(behind)}
        assert "203.0.113.9" in clients and "203.0.113.66" in clients, clients
        with direct.http() as http:
            # Not a trusted proxy: the headers are ignored.
            resp = http.get("/v1/models", headers={"x-forwarded-for": "203.0.113.9", "forwarded": "for=203.0.113.9"})
            assert resp.status_code == 403
            assert error_of(resp)["code"] == "address_not_allowed"
    finally:
        behind.stop()
        direct.stop()
