"""Concurrent streams, client disconnects and a full queue."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import httpx
import pytest

from support import (
    SMOL_ID,
    MoatServer,
    chat_text,
    error_of,
    smol_gguf,
    sse_data,
    start_server,
)

# A raw prompt the model keeps continuing: it counts until max_tokens.
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,"


@pytest.fixture(scope="module")
def server8(tmp_path_factory) -> Iterator[MoatServer]:
    srv = start_server(tmp_path_factory, "moat-p8", [smol_gguf()], ["--parallel", "8"])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def server1(tmp_path_factory) -> Iterator[MoatServer]:
    srv = start_server(
        tmp_path_factory,
        "moat-p1",
        [smol_gguf()],
        ["--parallel", "1", "--ctx-size", "8192", "--queue-size", "1"],
    )
    yield srv
    srv.stop()


def test_eight_concurrent_streams(server8: MoatServer):
    topics = ["cats", "rivers", "mountains", "bread", "trains", "the sea", "music", "winter"]
    barrier = threading.Barrier(len(topics))

    def one(topic: str):
        body = {
            "model": SMOL_ID,
            "messages": [{"role": "user", "content": f"Write two sentences about {topic}."}],
            "max_tokens": 32,
            "stream": True,
        }
        events, done, first_token_at = [], 0, None
        with server8.http() as http:
            barrier.wait(timeout=30)
            with http.stream("POST", "/v1/chat/completions", json=body) as resp:
                assert resp.status_code == 200, resp.read()
                for payload in sse_data(resp):
                    if payload == "[DONE]":
                        done += 1
                        continue
                    events.append(json.loads(payload))
                    if first_token_at is None and chat_text(events[-1:]):
                        first_token_at = time.monotonic()
        return events, done, first_token_at, time.monotonic()

    with ThreadPoolExecutor(len(topics)) as pool:
        results = list(pool.map(one, topics))

    for topic, (events, done, _, _) in zip(topics, results):
        assert done == 1, topic
        assert chat_text(events).strip(), (topic, events)
    # Generated together: every stream had its first token before any stream ended.
    last_first_token = max(r[2] for r in results)
    first_end = min(r[3] for r in results)
    assert last_first_token < first_end, "streams were served one after another"


def test_disconnect_frees_the_slot(server1: MoatServer):
    """With one slot, a dropped stream must not keep generating."""
    body = {"model": SMOL_ID, "prompt": COUNTING, "max_tokens": 8000, "temperature": 0, "stream": True}
    client = server1.http(timeout=60)
    with client.stream("POST", "/v1/completions", json=body) as resp:
        assert resp.status_code == 200, resp.read()
        seen = 0
        for payload in sse_data(resp):
            assert payload != "[DONE]", "generation ended before the disconnect"
            json.loads(payload)
            seen += 1
            if seen == 2:
                break
    client.close()  # closes the connection mid-stream

    # Generating the remaining ~8000 tokens would take far longer than this.
    started = time.monotonic()
    with server1.http(timeout=30) as http:
        resp = http.post(
            "/v1/chat/completions",
            json={"model": SMOL_ID, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8},
        )
    elapsed = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"]
    assert elapsed < 20, f"the next request waited {elapsed:.1f} s: the slot was not freed"


def test_full_queue_is_overloaded_not_a_hang(server1: MoatServer):
    """One slot, a queue of one: a burst of requests gets quick 503s, the rest succeed."""
    n = 8
    barrier = threading.Barrier(n)
    body = {"model": SMOL_ID, "prompt": COUNTING, "max_tokens": 96, "temperature": 0}

    def one(_: int) -> httpx.Response:
        with server1.http(timeout=120) as http:
            barrier.wait(timeout=30)
            return http.post("/v1/completions", json=body)

    with ThreadPoolExecutor(n) as pool:
        responses = list(pool.map(one, range(n)))

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 503}, [(r.status_code, r.text[:200]) for r in responses]
    overloaded = [r for r in responses if r.status_code == 503]
    assert overloaded, f"no request was refused: {statuses}"
    assert len(overloaded) < n, f"every request was refused: {statuses}"
    for r in overloaded:
        assert error_of(r)["code"] == "overloaded", r.text
    for r in responses:
        if r.status_code == 200:
            assert r.json()["choices"][0]["text"], r.text

    # Once the burst is over the server takes work again.
    with server1.http(timeout=60) as http:
        again = http.post("/v1/completions", json={**body, "max_tokens": 4})
    assert again.status_code == 200, again.text
