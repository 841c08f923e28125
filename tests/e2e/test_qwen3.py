"""The Qwen3 architecture and its chat template, on a tiny random-weight model.

The model's words are noise; what is checked is that the qwen3 GGUF loads,
is listed, generates, and that `chat_template_kwargs` reach the template.
"""

from __future__ import annotations

import json
from typing import Iterator

import pytest
from openai import OpenAI

from support import QWEN3_ID, MoatServer, qwen3_gguf, sse_data, start_server

HELLO = [{"role": "user", "content": "Hello, who are you?"}]


@pytest.fixture(scope="module")
def qwen3(tmp_path_factory) -> Iterator[MoatServer]:
    srv = start_server(tmp_path_factory, "moat-qwen3", [qwen3_gguf()], ["--parallel", "2"])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def qclient(qwen3: MoatServer) -> OpenAI:
    return qwen3.client()


def test_qwen3_is_served(qwen3: MoatServer, qclient: OpenAI):
    assert any(f"moat serving model {QWEN3_ID}" in line for line in qwen3.stdout_lines), qwen3.stdout_lines
    assert [m.id for m in qclient.models.list().data] == [QWEN3_ID]


def test_qwen3_chat(qclient: OpenAI):
    resp = qclient.chat.completions.create(model=QWEN3_ID, messages=HELLO, max_tokens=8, temperature=0)
    assert resp.model == QWEN3_ID
    assert resp.usage.completion_tokens > 0
    assert resp.usage.completion_tokens <= 8
    assert resp.choices[0].finish_reason in ("stop", "length")


def test_qwen3_enable_thinking_false_reaches_the_template(qclient: OpenAI):
    default = qclient.chat.completions.create(model=QWEN3_ID, messages=HELLO, max_tokens=8, temperature=0)
    no_think = qclient.chat.completions.create(
        model=QWEN3_ID,
        messages=HELLO,
        max_tokens=8,
        temperature=0,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    assert no_think.usage.completion_tokens > 0
    # Qwen3's template appends an empty "<think>\n\n</think>\n\n" when thinking is off.
    assert no_think.usage.prompt_tokens > default.usage.prompt_tokens


def test_qwen3_stream(qclient: OpenAI):
    stream = qclient.chat.completions.create(
        model=QWEN3_ID, messages=HELLO, max_tokens=8, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    reasons = [c.finish_reason for ch in chunks for c in ch.choices if c.finish_reason]
    assert reasons and reasons[0] in ("stop", "length")



@pytest.fixture(scope="module")
def thinking(tmp_path_factory) -> Iterator[MoatServer]:
    """The tiny Qwen3 with a template whose generation prompt opens <think>."""
    srv = start_server(
        tmp_path_factory, "moat-qwen3-thinking", [qwen3_gguf("MOAT_QWEN3_THINKING_GGUF")], ["--parallel", "1"]
    )
    yield srv
    srv.stop()


def test_output_inside_an_open_think_block_is_reasoning(thinking: MoatServer):
    """Random weights never write </think>: everything generated is reasoning, nothing is content."""
    model = "tiny-qwen3-thinking"
    # Greedy decoding of random weights repeats "\n"; a seeded draw gives words.
    body = {"model": model, "messages": HELLO, "max_tokens": 12, "temperature": 1.5, "seed": 3}
    with thinking.http() as http:
        message = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
        assert message["reasoning_content"], message
        assert not message["content"], message
        assert "<think>" not in message["reasoning_content"]

        with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as resp:
            deltas = [json.loads(p)["choices"][0]["delta"] for p in sse_data(resp) if p != "[DONE]" and json.loads(p)["choices"]]
    streamed = "".join(d.get("reasoning_content") or "" for d in deltas)
    assert streamed == message["reasoning_content"]
    assert not "".join(d.get("content") or "" for d in deltas)


def test_reasoning_is_a_reasoning_item_in_the_responses_api(thinking: MoatServer):
    """The same generation through /v1/responses: the <think> text is a
    `reasoning` item, streamed as reasoning_text deltas."""
    model = "tiny-qwen3-thinking"
    ask = {"model": model, "input": "Hello", "max_output_tokens": 12, "temperature": 1.5}
    client = thinking.client()
    chat = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Hello"}], max_tokens=12, temperature=1.5, seed=3
    )
    reasoning = chat.choices[0].message.model_extra["reasoning_content"]
    r = client.responses.create(**ask, extra_body={"seed": 3})
    assert [item.type for item in r.output] == ["reasoning"], r.output
    assert r.output[0].content[0].type == "reasoning_text"
    assert r.output[0].content[0].text == reasoning
    events = list(client.responses.create(**ask, stream=True, extra_body={"seed": 3}))
    streamed = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    assert streamed == reasoning
    assert events[-1].response.output[0].type == "reasoning"
