"""A model served by an upstream OpenAI-compatible server, configured in moat.toml.

The upstream is a second real moat serving SmolLM2: the front moat relays
requests and streams, and maps an unreachable upstream to 502.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from openai import OpenAI

from support import SMOL_ID, MoatServer, chat_text, error_of, start_server, stream_events

REMOTE = "smol-remote"
ASK = [{"role": "user", "content": "Name three rivers in Europe."}]


@pytest.fixture(scope="module")
def front(server: MoatServer, tmp_path_factory) -> Iterator[MoatServer]:
    config = tmp_path_factory.mktemp("front-config") / "moat.toml"
    config.write_text(
        f"""
[[models]]
id = "{REMOTE}"
backend = "upstream"
base_url = "{server.base_url}/v1"
upstream_model = "{SMOL_ID}"
api_key_env = "E2E_UPSTREAM_KEY"
context_length = 4096

[[models]]
id = "nowhere"
backend = "upstream"
base_url = "http://127.0.0.1:9/v1"
timeout_secs = 5
"""
    )
    # The front presents a key of the upstream moat, made with its CLI.
    key = server.moat("keys", "create", "--name", "front", "--role", "user", "--quiet").stdout.strip()
    os.environ["E2E_UPSTREAM_KEY"] = key
    srv = start_server(tmp_path_factory, "moat-front", [], ["--config", str(config)])
    yield srv
    srv.stop()


def test_upstream_models_are_listed(front: MoatServer):
    ids = sorted(m.id for m in front.client().models.list().data)
    assert ids == ["nowhere", REMOTE]


def test_relayed_chat_equals_the_upstream_answer(front: MoatServer, client: OpenAI):
    direct = client.chat.completions.create(model=SMOL_ID, messages=ASK, max_tokens=24, temperature=0)
    relayed = front.client().chat.completions.create(model=REMOTE, messages=ASK, max_tokens=24, temperature=0)
    assert relayed.model == REMOTE
    assert relayed.choices[0].message.content == direct.choices[0].message.content
    assert relayed.usage.completion_tokens == direct.usage.completion_tokens
    assert relayed.choices[0].finish_reason == direct.choices[0].finish_reason


def test_relayed_stream(front: MoatServer, client: OpenAI):
    direct = client.chat.completions.create(model=SMOL_ID, messages=ASK, max_tokens=24, temperature=0)
    with front.http() as http:
        status, events, done = stream_events(
            http,
            "/v1/chat/completions",
            {"model": REMOTE, "messages": ASK, "max_tokens": 24, "temperature": 0, "stream": True,
             "stream_options": {"include_usage": True}},
        )
    assert status == 200
    assert done == 1
    assert chat_text(events) == direct.choices[0].message.content
    assert events[-1]["usage"]["completion_tokens"] == direct.usage.completion_tokens


def test_upstream_errors_pass_through(front: MoatServer):
    with front.http() as http:
        r = http.post("/v1/chat/completions", json={"model": REMOTE, "messages": ASK, "max_tokens": 100000})
    assert r.status_code == 400, r.text
    assert error_of(r)["code"] == "context_length_exceeded"


def test_unreachable_upstream_is_502(front: MoatServer):
    with front.http() as http:
        r = http.post("/v1/chat/completions", json={"model": "nowhere", "messages": ASK, "max_tokens": 4})
    assert r.status_code == 502, r.text
    err = error_of(r)
    assert err["code"] == "upstream_error"
    assert "127.0.0.1:9" not in err["message"], "the upstream address must not leak"
