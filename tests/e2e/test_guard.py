"""The personal-data guard in the real binary: `[guard] policy` from the
configuration file, block refusing with 400 `pii_blocked`, and the default
policy (pseudonymize) answering normally."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from support import (
    SMOL_ID,
    MoatServer,
    error_of,
    moat_bin,
    smol_gguf,
    start_server,
    stream_events,
)

CHAT = "/v1/chat/completions"
ID = "11010519491231002X"
PHONE = "13812345678"


def chat(text: str) -> dict:
    return {"model": SMOL_ID, "messages": [{"role": "user", "content": text}], "max_tokens": 8}


def guarded_server(tmp_path_factory, name: str, config: str) -> MoatServer:
    folder = tmp_path_factory.mktemp(f"{name}-config")
    config_path = Path(folder) / "moat.toml"
    config_path.write_text(config)
    return start_server(tmp_path_factory, name, [smol_gguf()], ["--config", str(config_path)])


@pytest.fixture(scope="module")
def blocking(tmp_path_factory) -> Iterator[httpx.Client]:
    srv = guarded_server(tmp_path_factory, "moat-block", '[guard]\npolicy = "block"\n')
    with srv.http() as http:
        yield http
    srv.stop()


@pytest.fixture(scope="module")
def default_policy(tmp_path_factory) -> Iterator[httpx.Client]:
    srv = guarded_server(tmp_path_factory, "moat-pseudo", "parallel = 2\n")
    with srv.http() as http:
        yield http
    srv.stop()


def test_block_refuses_an_id_number(blocking: httpx.Client):
    resp = blocking.post(CHAT, json=chat(f"My ID number is {ID}, please remember it."))
    assert resp.status_code == 400, resp.text
    error = error_of(resp)
    assert error["code"] == "pii_blocked"
    assert error["type"] == "invalid_request_error"
    assert "id_card" in error["message"]
    assert ID not in resp.text and "19491231" not in resp.text


def test_block_refuses_a_stream_before_it_starts(blocking: httpx.Client):
    status, events, done = stream_events(blocking, CHAT, chat(f"call me at {PHONE}"))
    assert status == 400, events
    assert events[0]["error"]["code"] == "pii_blocked"
    assert done == 0


def test_block_lets_clean_text_through(blocking: httpx.Client):
    resp = blocking.post(CHAT, json=chat("What is the capital of France?"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["role"] == "assistant"


def test_default_policy_answers_a_chat_with_a_phone_number(default_policy: httpx.Client):
    resp = default_policy.post(CHAT, json=chat(f"Please call me at {PHONE} tomorrow."))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert isinstance(body["choices"][0]["message"]["content"], str)

    status, events, done = stream_events(default_policy, CHAT, chat(f"My phone is {PHONE}."))
    assert status == 200, events
    assert done == 1
    assert events[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_an_invalid_custom_recognizer_stops_the_start(tmp_path):
    config = tmp_path / "moat.toml"
    config.write_text('[[guard.recognizers]]\nname = "staff_no"\npattern = "q{4}"\n')
    out = subprocess.run(
        [str(moat_bin()), "serve", "--config", str(config), "--models-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode != 0
    assert "staff_no" in out.stderr, out.stderr
