"""The audit log through the real binary: one record per request (answered,
refused, streamed, cut off), `moat audit verify|search|export|erase`, tamper
detection on the real SQLite file, and a kill -9 under load."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from support import SMOL_ID, MoatServer, smol_gguf, sse_data

ROLES = """
[[roles]]
name = "recorded"
models = ["SmolLM2-*"]
audit_content = "full"

[[roles]]
name = "metered"
models = ["SmolLM2-*"]
per_key = { tokens_per_day = 100 }
"""
HI = [{"role": "user", "content": "Say hi. My phone is 13812345678."}]


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> Iterator[MoatServer]:
    workdir = tmp_path_factory.mktemp("moat-audit")
    (workdir / "moat.toml").write_text(ROLES)
    srv = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "2"])
    yield srv
    srv.stop()


def audit(srv: MoatServer, *args: str, check: bool = True):
    config = ["--config", "moat.toml"] if (srv.workdir / "moat.toml").exists() else []
    return srv.moat("audit", *config, *args, check=check)


def records(srv: MoatServer, *filters: str) -> list[dict]:
    out = audit(srv, "search", *filters).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def by_request_id(srv: MoatServer, request_id: str) -> dict:
    found = [r for r in records(srv) if r.get("request_id") == request_id]
    assert len(found) == 1, f"{len(found)} records for {request_id}"
    return found[0]


def test_every_kind_of_request_leaves_exactly_one_record(audited: MoatServer):
    key = audited.moat("keys", "create", "--config", "moat.toml", "--quiet", "--name", "r", "--role", "recorded").stdout.strip()
    body = {"model": SMOL_ID, "messages": HI, "max_tokens": 4}
    with audited.http(api_key=key) as http:
        answered = http.post("/v1/chat/completions", json=body)
        assert answered.status_code == 200
        with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as streamed:
            assert list(sse_data(streamed))[-1] == "[DONE]"
        denied = http.post("/v1/chat/completions", json={**body, "model": "other"})
        assert denied.status_code == 403
    with httpx.Client(base_url=audited.base_url, timeout=30) as anonymous:
        refused = anonymous.get("/v1/models", headers={"x-request-id": "req-e2e-refused-1"})
        assert refused.status_code == 401
        # moat's own id; the caller's is echoed apart and never stored.
        assert refused.headers["x-request-id"] != "req-e2e-refused-1"
        assert refused.headers["x-client-request-id"] == "req-e2e-refused-1"

    ok = by_request_id(audited, answered.headers["x-request-id"])
    assert ok["status"] == 200 and ok["outcome"] == "completed" and ok["model"] == SMOL_ID
    assert ok["completion_tokens"] == 4 and ok["prompt_tokens"] > 0 and ok["latency_ms"] >= 0
    assert ok["pii"] == {"mobile": 1}
    stream = by_request_id(audited, streamed.headers["x-request-id"])
    assert stream["outcome"] == "completed" and stream["ttft_ms"] is not None
    no = by_request_id(audited, denied.headers["x-request-id"])
    assert no["status"] == 403 and no["error_code"] == "model_not_allowed" and no["outcome"] == "refused"
    anon = by_request_id(audited, refused.headers["x-request-id"])
    assert anon["status"] == 401 and anon["error_code"] == "invalid_api_key"
    assert "req-e2e-refused-1" not in json.dumps(records(audited))
    assert "req-e2e-refused-1" not in audited.logs(tail=100000)
    # The principal is stored pseudonymized.
    assert key not in json.dumps(ok)
    verified = audit(audited, "verify")
    assert "intact" in verified.stdout


# Greedy SmolLM2 answers this with 121 tokens when nothing stops it.
COUNTING = [{"role": "user", "content": "List every integer from 1 to 5000 separated by commas."}]
# moat's estimate of that prompt before it is tokenized: (bytes + 16) / 3.
COUNTING_ESTIMATE = -(-(len(COUNTING[0]["content"]) + 16) // 3)


def test_an_answer_without_max_tokens_stops_at_the_quota_and_its_tokens_are_recorded(audited: MoatServer):
    for stream in (False, True):
        key = audited.moat(
            "keys", "create", "--config", "moat.toml", "--quiet", "--name", f"metered-{stream}", "--role", "metered"
        ).stdout.strip()
        body = {"model": SMOL_ID, "messages": COUNTING, "temperature": 0}
        with audited.http(api_key=key) as http:
            if stream:
                with http.stream(
                    "POST",
                    "/v1/chat/completions",
                    json={**body, "stream": True, "stream_options": {"include_usage": True}},
                ) as answer:
                    assert answer.status_code == 200
                    request_id = answer.headers["x-request-id"]
                    events = [json.loads(d) for d in sse_data(answer) if d != "[DONE]"]
                usage = events[-1]["usage"]
                finish = [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1]
            else:
                answer = http.post("/v1/chat/completions", json=body)
                assert answer.status_code == 200, answer.text
                request_id = answer.headers["x-request-id"]
                usage = answer.json()["usage"]
                finish = answer.json()["choices"][0]["finish_reason"]
            # Cut at what the quota had left after the prompt's estimate,
            # not at the end of the context.
            assert finish == "length"
            assert usage["completion_tokens"] == 100 - COUNTING_ESTIMATE, usage
            record = by_request_id(audited, request_id)
            assert record["prompt_tokens"] == usage["prompt_tokens"]
            assert record["completion_tokens"] == usage["completion_tokens"]
            # The quota is spent: the next request is refused up front.
            refused = http.post("/v1/chat/completions", json=body)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == "insufficient_quota"


def test_a_text_completion_without_max_tokens_has_16_tokens_at_most(audited: MoatServer):
    with audited.http() as http:
        answer = http.post("/v1/completions", json={"model": SMOL_ID, "prompt": "1, 2, 3, 4,", "temperature": 0})
        assert answer.status_code == 200, answer.text
        assert answer.json()["usage"]["completion_tokens"] == 16
        assert answer.json()["choices"][0]["finish_reason"] == "length"
        record = by_request_id(audited, answer.headers["x-request-id"])
        assert record["completion_tokens"] == 16


def test_export_formats(audited: MoatServer):
    lines = audit(audited, "export", "--format", "jsonl").stdout.splitlines()
    assert lines and all(json.loads(l)["seq"] >= 1 for l in lines)
    bulk = audit(audited, "export", "--format", "es-bulk", "--index", "moat-e2e").stdout.splitlines()
    assert len(bulk) == 2 * len(lines)
    action = json.loads(bulk[0])
    assert "moat-e2e" in json.dumps(action)


def key_id(srv: MoatServer, name: str) -> str:
    listed = srv.moat("keys", "list", "--config", "moat.toml").stdout
    return next(line.split()[0] for line in listed.splitlines() if f" {name} " in line)


def test_content_is_kept_per_role_policy_and_erased_on_request(audited: MoatServer):
    key = audited.moat("keys", "create", "--config", "moat.toml", "--quiet", "--name", "subject", "--role", "recorded").stdout.strip()
    with audited.http(api_key=key) as http:
        assert http.post("/v1/chat/completions", json={"model": SMOL_ID, "messages": HI, "max_tokens": 3}).status_code == 200
    subject = key_id(audited, "subject")
    [kept] = records(audited, "--principal", subject)
    assert kept["content"]["state"] == "readable" and kept["content"]["policy"] == "full"
    assert "13812345678" in kept["content"]["prompt"]  # `full` keeps the prompt as sent
    # The admin's built-in role keeps `masked` content.
    with audited.http() as admin:
        admin.post("/v1/chat/completions", json={"model": SMOL_ID, "messages": HI, "max_tokens": 3})
        [masked] = admin.get("/admin/audit", params={"principal": key_id(audited, "admin"), "limit": 1000}).json()["data"][-1:]
    assert masked["content"]["policy"] == "masked" and "138****5678" in masked["content"]["prompt"]

    assert "erased" in audit(audited, "erase", "--subject", subject).stdout
    gone, erasure = records(audited, "--principal", subject)
    assert gone["content"]["state"] == "erased" and gone["seq"] == kept["seq"]
    assert erasure["route"] == "audit.erase" and erasure["status"] == 200
    assert erasure["principal"] == kept["principal"]  # the subject's pseudonym, never the clear id
    assert subject not in json.dumps(records(audited))
    assert "intact" in audit(audited, "verify").stdout


def test_the_audit_api_is_for_auditors_and_admins(audited: MoatServer):
    user = audited.moat("keys", "create", "--config", "moat.toml", "--quiet", "--name", "u", "--role", "user").stdout.strip()
    with audited.http(api_key=user) as http:
        resp = http.get("/admin/audit")
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "permission_denied"
    with audited.http() as admin:
        page = admin.get("/admin/audit", params={"status": 401, "limit": 10}).json()["data"]
        assert page and all(r["status"] == 401 for r in page)
        mine = admin.get("/admin/audit", params={"principal": key_id(audited, "admin"), "limit": 1}).json()["data"]
        pseudonym = mine[0]["principal"]
        assert not pseudonym.startswith("key_")
        revealed = admin.get(f"/admin/audit/principals/{pseudonym}")
        assert revealed.json() == {"pseudonym": pseudonym, "principal": key_id(audited, "admin")}
        assert admin.get("/admin/audit/principals/nobody").status_code == 404
    with audited.http(api_key=user) as http:
        assert http.get(f"/admin/audit/principals/{pseudonym}").status_code == 403
    assert audit(audited, "reveal", pseudonym).stdout.strip() == key_id(audited, "admin")


def test_a_modified_record_is_detected(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("moat-tamper")
    srv = MoatServer(workdir, [smol_gguf()], ["--parallel", "1"])
    with srv.http() as http:
        for _ in range(3):
            assert http.get("/v1/models").status_code == 200
        report = http.get("/admin/audit/verify")
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["object"] == "moat.audit.verification"
        assert body["intact"] is True and body["first_break"] is None
        assert body["records"] >= 3 and body["last_seq"] == body["records"]
        newest = http.get("/admin/audit", params={"order": "desc", "limit": 2}).json()["data"]
        oldest = http.get("/admin/audit", params={"limit": 2}).json()["data"]
        assert [r["seq"] for r in oldest] == [1, 2]
        assert newest[0]["seq"] > newest[1]["seq"] >= body["last_seq"] - 1
        bad = http.get("/admin/audit", params={"order": "sideways"})
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
        keyless = httpx.get(f"{srv.base_url}/admin/audit/verify")
        assert keyless.status_code == 401
    admin_key = srv.admin_key
    assert srv.stop() == 0
    verified = srv.moat("audit", "verify")
    assert "intact" in verified.stdout and verified.returncode == 0
    with sqlite3.connect(workdir / "data" / "moat.db") as db:
        changed = db.execute(
            "UPDATE audit_records SET body = replace(body, '\"status\":200', '\"status\":404') WHERE seq = 2"
        ).rowcount
    assert changed == 1
    broken = srv.moat("audit", "verify", check=False)
    assert broken.returncode != 0
    assert "record 2" in broken.stderr and "Modified" in broken.stderr, broken.stderr
    again = MoatServer(workdir, [smol_gguf()], ["--parallel", "1"])
    try:
        with again.http(api_key=admin_key) as http:
            body = http.get("/admin/audit/verify").json()
        assert body["intact"] is False
        assert body["first_break"]["seq"] == 2 and body["first_break"]["kind"] == "modified"
    finally:
        again.stop()


def test_kill_9_under_load_loses_no_acknowledged_record(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("moat-kill9")
    srv = MoatServer(workdir, [smol_gguf()], ["--parallel", "2"])
    acknowledged: list[str] = []
    stop = threading.Event()

    def load(streaming: bool) -> None:
        body = {"model": SMOL_ID, "messages": [{"role": "user", "content": "Count to three."}], "max_tokens": 6}
        with srv.http(timeout=30) as http:
            while not stop.is_set():
                try:
                    if streaming:
                        with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
                            if r.status_code == 200 and list(sse_data(r))[-1:] == ["[DONE]"]:
                                acknowledged.append(r.headers["x-request-id"])
                    else:
                        r = http.post("/v1/chat/completions", json=body)
                        if r.status_code == 200 and r.json()["choices"]:
                            acknowledged.append(r.headers["x-request-id"])
                except (httpx.HTTPError, ValueError, json.JSONDecodeError):
                    return

    threads = [threading.Thread(target=load, args=(i % 2 == 0,), daemon=True) for i in range(6)]
    for t in threads:
        t.start()
    # Kill while requests are in flight, once enough have been answered.
    deadline = time.monotonic() + 120
    while len(acknowledged) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acknowledged) >= 5, "too little load to mean anything"

    again = MoatServer(workdir, [smol_gguf()], ["--parallel", "1"])
    try:
        ids = {r["request_id"] for r in records(again)}
        missing = [i for i in acknowledged if i not in ids]
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged requests have no record"
        # The restarted server goes on with the same chain.
        with again.http(api_key=srv.admin_key) as http:
            assert http.get("/v1/models").status_code == 200
        verified = again.moat("audit", "verify")
        assert "intact" in verified.stdout
    finally:
        again.stop()
