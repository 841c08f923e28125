"""The personal-data guard in the real binary: `[guard] policy` from the
configuration file, block refusing with 400 `pii_blocked` (also for values
written with unusual separators, in tool definitions and in large bodies),
and the default policy (pseudonymize) answering normally."""

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


# Separators a phone, card or ID may be grouped with; the guard normalises
# them, so under block none of these reaches the model.
SEPARATORS = {
    "nbsp": "\u00a0",
    "narrow nbsp": "\u202f",
    "thin space": "\u2009",
    "em space": "\u2003",
    "en dash": "\u2013",
    "em dash": "\u2014",
    "minus": "\u2212",
    "tab": "\t",
    "newline": "\n",
    "dot": ".",
    "zero-width space": "\u200b",
    "soft hyphen": "\u00ad",
    "word joiner": "\u2060",
    "zwnj": "\u200c",
    "bom": "\ufeff",
}


@pytest.mark.parametrize("name", sorted(SEPARATORS))
def test_block_refuses_values_with_unusual_separators(blocking: httpx.Client, name: str):
    sep = SEPARATORS[name]
    for kind, value in [
        ("mobile", sep.join(["138", "1234", "5678"])),
        ("bank_card", sep.join(["6222", "0212", "3456", "7890", "128"])),
        ("id_card", sep.join(["110105", "19491231", "002X"])),
    ]:
        resp = blocking.post(CHAT, json=chat(f"请记下 {value} 谢谢"))
        assert resp.status_code == 400, (name, kind, resp.text)
        error = error_of(resp)
        assert error["code"] == "pii_blocked"
        assert error["param"] == "messages"
        assert kind in error["message"], (name, error["message"])
        assert "1234" not in resp.text and "1949" not in resp.text


def test_block_refuses_full_width_and_other_digit_forms(blocking: httpx.Client):
    for value in ["１３８\u00a0１２３４\u00a0５６７８", "١٣٨١٢٣٤٥٦٧٨", "𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖"]:
        resp = blocking.post(CHAT, json=chat(f"tel {value}"))
        assert resp.status_code == 400, (value, resp.text)
        assert error_of(resp)["code"] == "pii_blocked"


def test_a_value_split_across_messages_is_not_joined(blocking: httpx.Client):
    # Documented in docs/guard.md: each text is scanned on its own.
    body = {
        "model": SMOL_ID,
        "max_tokens": 4,
        "messages": [
            {"role": "user", "content": "my number starts 138"},
            {"role": "user", "content": "and ends 1234 5678"},
        ],
    }
    resp = blocking.post(CHAT, json=body)
    assert resp.status_code == 200, resp.text


def order_tool(name: str = "get_orders", description: str = "Orders of a customer", enum=None) -> dict:
    phone = {"type": "string", "description": "the customer's phone"}
    if enum is not None:
        phone["enum"] = enum
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": {"phone": phone}, "required": ["phone"]},
        },
    }


def test_block_refuses_personal_data_in_tool_definitions(blocking: httpx.Client):
    for tool in [
        order_tool(description=f"Orders of the customer {ID}"),
        order_tool(enum=[f"138\u00a01234\u00a05678"]),
        order_tool(name=f"orders_{PHONE}"),
    ]:
        body = {**chat("Which orders are open?"), "tools": [tool]}
        resp = blocking.post(CHAT, json=body)
        assert resp.status_code == 400, (tool, resp.text)
        error = error_of(resp)
        assert error["code"] == "pii_blocked"
        assert error["param"] == "tools"
        assert ID not in resp.text and "1234" not in resp.text
    body = {**chat("Which orders are open?"), "tools": [order_tool()]}
    assert blocking.post(CHAT, json=body).status_code == 200


def test_pseudonymize_guards_tools_and_refuses_a_name_it_cannot_replace(default_policy: httpx.Client):
    body = {**chat("Which orders are open?"), "tools": [order_tool(enum=[PHONE, "13912345678"])]}
    resp = default_policy.post(CHAT, json=body)
    assert resp.status_code == 200, resp.text
    named = {**chat("Which orders are open?"), "tools": [order_tool(name=f"orders_{PHONE}")]}
    resp = default_policy.post(CHAT, json=named)
    assert resp.status_code == 400, resp.text
    error = error_of(resp)
    assert error["code"] == "pii_blocked"
    assert error["param"] == "tools"
    assert "cannot be replaced" in error["message"]
    assert PHONE not in resp.text


def test_block_refuses_a_large_body_scanned_off_the_runtime(blocking: httpx.Client):
    # Over 64 KiB of text: scanned on a blocking thread, with the same result.
    filler = "Nothing personal here. " * 4096
    resp = blocking.post(CHAT, json=chat(f"{filler} my phone is 138\u202f1234\u202f5678"))
    assert resp.status_code == 400, resp.text[:300]
    assert error_of(resp)["code"] == "pii_blocked"
    health = blocking.get("/health")
    assert health.status_code == 200


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
