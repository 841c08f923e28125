"""Grammar-constrained tool calls through the real binary and SmolLM2 (which
never calls tools by itself): `tool_choice` "required" and a named function
force valid calls, streamed or not; hostile schemas and unknown functions are
refused with a 400 naming the parameter."""

from __future__ import annotations

import json
import os
import time
from typing import Iterator

import httpx
import pytest
from openai import OpenAI

from support import SMOL_ID, MoatServer, error_of, finish_reasons, moat_bin, smol_gguf, stream_events

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 40},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
EMAIL = {
    "type": "function",
    "function": {
        "name": "send_email",
        "description": "Send an email.",
        "parameters": {
            "type": "object",
            "properties": {
                "to": {"type": "string", "maxLength": 60},
                "subject": {"type": "string", "maxLength": 60},
                "body": {"type": "string", "maxLength": 200},
            },
            "required": ["to", "subject", "body"],
            "additionalProperties": False,
        },
    },
}
TOOLS = [WEATHER, EMAIL]
ASK = [{"role": "user", "content": "What's the weather like in Lisbon today?"}]


def check_arguments(name: str, arguments: str) -> dict:
    """Parse a call's arguments and check them against its tool's schema
    (a hand check of the small schemas above)."""
    tool = next(t for t in TOOLS if t["function"]["name"] == name)
    schema = tool["function"]["parameters"]
    args = json.loads(arguments)
    assert isinstance(args, dict), arguments
    assert set(schema["required"]) <= set(args), arguments
    assert set(args) <= set(schema["properties"]), arguments
    for key, value in args.items():
        prop = schema["properties"][key]
        assert isinstance(value, str), arguments
        assert len(value) <= prop.get("maxLength", 10**9), arguments
        if "enum" in prop:
            assert value in prop["enum"], arguments
    return args


def test_required_forces_a_valid_call(client: OpenAI):
    resp = client.chat.completions.create(
        model=SMOL_ID,
        messages=ASK,
        tools=TOOLS,
        tool_choice="required",
        temperature=0.7,
        seed=1,
        max_tokens=300,
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls
    assert calls, choice.message
    for call in calls:
        assert call.type == "function"
        assert call.id.startswith("call_")
        check_arguments(call.function.name, call.function.arguments)


def test_a_named_function_is_the_one_called_once(client: OpenAI):
    resp = client.chat.completions.create(
        model=SMOL_ID,
        messages=ASK,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "send_email"}},
        parallel_tool_calls=False,
        temperature=0,
        max_tokens=300,
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1, choice.message
    assert calls[0].function.name == "send_email"
    check_arguments("send_email", calls[0].function.arguments)


def test_required_calls_stream_with_the_sdk(client: OpenAI):
    stream = client.chat.completions.create(
        model=SMOL_ID,
        messages=ASK,
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=False,
        temperature=0.7,
        seed=3,
        max_tokens=300,
        stream=True,
    )
    calls: dict[int, dict] = {}
    reasons = []
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"name": "", "arguments": ""})
                if delta.function and delta.function.name:
                    call["name"] += delta.function.name
                if delta.function and delta.function.arguments:
                    call["arguments"] += delta.function.arguments
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
    assert reasons == ["tool_calls"]
    assert list(calls) == [0], calls
    check_arguments(calls[0]["name"], calls[0]["arguments"])


def test_auto_leaves_a_plain_answer_alone(client: OpenAI):
    resp = client.chat.completions.create(
        model=SMOL_ID,
        messages=[{"role": "user", "content": "Say hello in French."}],
        tools=TOOLS,
        temperature=0,
        max_tokens=32,
    )
    choice = resp.choices[0]
    assert choice.finish_reason in ("stop", "length")
    assert not choice.message.tool_calls
    assert choice.message.content


def test_hostile_schemas_are_refused_naming_tools(http: httpx.Client):
    recursive = {
        "type": "function",
        "function": {
            "name": "tree",
            "parameters": {
                "type": "object",
                "$defs": {
                    "node": {
                        "type": "object",
                        "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                    }
                },
                "properties": {"root": {"$ref": "#/$defs/node"}},
            },
        },
    }
    huge = {
        "type": "function",
        "function": {
            "name": "huge",
            "parameters": {
                "type": "object",
                "properties": {"s": {"type": "string", "minLength": 1000000}},
            },
        },
    }
    for tool, words in [(recursive, "recursive"), (huge, "minLength")]:
        for stream in (False, True):
            body = {
                "model": SMOL_ID,
                "messages": ASK,
                "tools": [WEATHER, tool],
                "tool_choice": "required",
                "stream": stream,
            }
            r = http.post("/v1/chat/completions", json=body)
            assert r.status_code == 400, r.text
            error = error_of(r)
            assert error["type"] == "invalid_request_error"
            assert error["param"] == "tools"
            assert words in error["message"] and tool["function"]["name"] in error["message"]


def test_bad_tool_choices_are_refused_before_generation(http: httpx.Client):
    for choice, tools in [
        ({"type": "function", "function": {"name": "rm_rf"}}, TOOLS),
        ("required", None),
        ("sometimes", TOOLS),
    ]:
        body = {"model": SMOL_ID, "messages": ASK, "tool_choice": choice}
        if tools:
            body["tools"] = tools
        r = http.post("/v1/chat/completions", json=body)
        assert r.status_code == 400, r.text
        assert error_of(r)["param"] == "tool_choice"


def test_streamed_refusal_is_an_http_error_not_a_stream(http: httpx.Client):
    body = {
        "model": SMOL_ID,
        "messages": ASK,
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "nope"}},
    }
    status, events, done = stream_events(http, "/v1/chat/completions", body)
    assert status == 400 and done == 0, events
    assert finish_reasons(events) == []


def test_patterned_arguments_end_and_match(client: OpenAI):
    """Patterns with open repetitions (which a small model would repeat to
    `max_tokens`), a negated class and no anchors: every call ends and its
    strings match their patterns (Python's `re.search`, as JSON Schema)."""
    import re

    properties = {
        "to": {"type": "string", "pattern": r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", "maxLength": 100},
        "order": {"type": "string", "pattern": r"^ORD-\d{6}$"},
        "note": {"type": "string", "pattern": r"^[^<>]*$", "maxLength": 80},
        "ref": {"type": "string", "pattern": r"\d{3}", "maxLength": 40},
    }
    tool = {
        "type": "function",
        "function": {
            "name": "send_order_mail",
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }
    for seed in (1, 2, 3):
        resp = client.chat.completions.create(
            model=SMOL_ID,
            messages=[{"role": "user", "content": "Email bob@example.com about order ORD-123456."}],
            tools=[tool],
            tool_choice="required",
            parallel_tool_calls=False,
            temperature=0.7,
            seed=seed,
            max_tokens=256,
        )
        choice = resp.choices[0]
        assert choice.finish_reason == "tool_calls", choice
        assert choice.message.tool_calls, choice
        for call in choice.message.tool_calls:
            args = json.loads(call.function.arguments)
            assert set(args) == set(properties), args
            for key, value in args.items():
                assert re.search(properties[key]["pattern"], value), (key, value)
                assert len(value) <= properties[key].get("maxLength", 10**9), (key, value)


# Contradictory bounds: llama.cpp turned `minLength: 10, maxLength: 2` into
# `char{10,2}` and expanded it without end (the process was killed).
SECRET_TOOL = "lookup_zq7_private_tool"
SECRET_ENUM = "zq7-private-enum-value"


def bound_tool(prop: dict) -> dict:
    return {
        "type": "function",
        "function": {
            "name": SECRET_TOOL,
            "parameters": {
                "type": "object",
                "properties": {
                    "city": prop,
                    "unit": {"type": "string", "enum": [SECRET_ENUM, "kelvin"]},
                },
                "required": ["city"],
            },
        },
    }


CONTRADICTIONS = [
    ({"type": "string", "minLength": 10, "maxLength": 2}, "minLength"),
    ({"type": "array", "items": {"type": "string"}, "minItems": 10, "maxItems": 2}, "minItems"),
    ({"type": "object", "minProperties": 5, "maxProperties": 1}, "minProperties"),
    ({"type": "integer", "minimum": 10, "maximum": 2}, "minimum"),
    ({"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 4}, "minimum"),
    ({"type": "number", "exclusiveMinimum": 5, "maximum": 5}, "exclusiveMinimum"),
    ({"type": "string", "minLength": -1}, "minLength"),
    ({"type": "string", "maxLength": 2.5}, "maxLength"),
    ({"type": "integer", "maximum": 1e300}, "maximum"),
]


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory) -> Iterator[MoatServer]:
    """A server whose address space is capped at 4 GB, so that a runaway
    allocation fails instead of eating the machine."""
    folder = tmp_path_factory.mktemp("moat-capped")
    wrapper = folder / "moat-capped.sh"
    wrapper.write_text(f'#!/bin/sh\nexec prlimit --as=4000000000 -- "{moat_bin()}" "$@"\n')
    wrapper.chmod(0o755)
    previous = os.environ.get("MOAT_BIN")
    os.environ["MOAT_BIN"] = str(wrapper)
    try:
        srv = MoatServer(folder / "work", [smol_gguf()], ["--parallel", "2"])
    finally:
        if previous is None:
            os.environ.pop("MOAT_BIN", None)
        else:
            os.environ["MOAT_BIN"] = previous
    yield srv
    srv.stop()


@pytest.mark.parametrize("tool_choice", ["required", "auto"])
def test_contradictory_bounds_are_a_quick_400_naming_the_keyword(capped_server: MoatServer, tool_choice: str):
    with capped_server.http(timeout=60) as http:
        for prop, keyword in CONTRADICTIONS:
            started = time.monotonic()
            r = http.post(
                "/v1/chat/completions",
                json={
                    "model": SMOL_ID,
                    "messages": ASK,
                    "tools": [bound_tool(prop)],
                    "tool_choice": tool_choice,
                    "max_tokens": 8,
                },
            )
            elapsed = time.monotonic() - started
            assert r.status_code == 400, (prop, r.text, capped_server.logs())
            error = error_of(r)
            assert error["type"] == "invalid_request_error"
            assert error["param"] == f"tools[0].function.parameters.properties.city.{keyword}", (prop, error)
            assert elapsed < 5, (prop, elapsed)
        assert http.get("/health").status_code == 200
        ok = http.post(
            "/v1/chat/completions",
            json={"model": SMOL_ID, "messages": ASK, "tools": [WEATHER], "tool_choice": "required", "max_tokens": 60},
        )
        assert ok.status_code == 200, ok.text
    assert capped_server.proc.poll() is None, capped_server.logs()


def test_refused_grammars_leave_no_request_data_in_the_log(capped_server: MoatServer):
    # Runs after the refusals above (same module server): nothing of the
    # tools (name, enum values, the grammar) reached stdout or stderr.
    with capped_server.http(timeout=60) as http:
        for prop, _ in CONTRADICTIONS[:2]:
            r = http.post(
                "/v1/chat/completions",
                json={"model": SMOL_ID, "messages": ASK, "tools": [bound_tool(prop)], "tool_choice": "required"},
            )
            assert r.status_code == 400
    logs = capped_server.logs(tail=100_000)
    for secret in (SECRET_TOOL, SECRET_ENUM, "::="):
        assert secret not in logs, logs[-4000:]


def content_and_calls(http: httpx.Client, body: dict) -> tuple[str, list[dict], list[str]]:
    """The content, the calls and the finish reasons of one request,
    streamed or not."""
    if body.get("stream"):
        status, events, dones = stream_events(http, "/v1/chat/completions", body)
        assert status == 200 and dones == 1, events
        content = ""
        calls: list[dict] = []
        for event in events:
            for choice in event.get("choices", []):
                delta = choice.get("delta") or {}
                piece = delta.get("content") or ""
                assert "<tool_call>" not in piece and "</tool_call>" not in piece, piece
                content += piece
                calls.extend(delta.get("tool_calls") or [])
        return content, calls, finish_reasons(events)
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    return choice["message"].get("content") or "", choice["message"].get("tool_calls") or [], [choice["finish_reason"]]


NAMED = {"type": "function", "function": {"name": "get_weather"}}


def test_forced_calls_never_leak_call_markup_into_content(http: httpx.Client):
    for stream in (False, True):
        for choice in ("required", NAMED):
            for parallel in (False, True):
                for max_tokens in (300, 70):
                    body = {
                        "model": SMOL_ID,
                        "messages": ASK,
                        "tools": TOOLS,
                        "tool_choice": choice,
                        "parallel_tool_calls": parallel,
                        "temperature": 0.8,
                        "seed": 11,
                        "max_tokens": max_tokens,
                        "stream": stream,
                    }
                    case = (stream, choice, parallel, max_tokens)
                    content, calls, reasons = content_and_calls(http, body)
                    assert "<tool_call>" not in content and "</tool_call>" not in content, (case, content)
                    if not parallel:
                        assert len(calls) <= 1, (case, calls)
                        if max_tokens == 300:
                            assert len(calls) == 1 and reasons == ["tool_calls"], (case, calls, reasons)
                    for call in calls:
                        check_arguments(call["function"]["name"], call["function"]["arguments"])
