"""Malformed and refused requests get OpenAI error JSON with the right status."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import httpx
import openai
import pytest
from openai import OpenAI

from support import SMOL_ID, MoatServer, error_of, sse_data

HELLO = [{"role": "user", "content": "Hello"}]
CHAT = "/v1/chat/completions"


def test_health_and_ready(http: httpx.Client):
    assert http.get("/health").status_code == 200
    assert http.get("/ready").status_code == 200


def test_invalid_json(http: httpx.Client):
    resp = http.post(CHAT, content=b'{"model": "x", "messages": [', headers={"content-type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert error_of(resp)["type"] == "invalid_request_error"


def test_wrong_type_names_the_param(http: httpx.Client):
    resp = http.post(CHAT, json={"model": SMOL_ID, "messages": HELLO, "temperature": "hot"})
    assert resp.status_code == 400, resp.text
    error = error_of(resp)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "temperature"


def test_out_of_range_value_names_the_param(http: httpx.Client):
    resp = http.post(CHAT, json={"model": SMOL_ID, "messages": HELLO, "top_p": 7})
    assert resp.status_code == 400, resp.text
    assert error_of(resp)["param"] == "top_p"


def test_missing_messages(http: httpx.Client):
    resp = http.post(CHAT, json={"model": SMOL_ID})
    assert resp.status_code == 400, resp.text
    assert error_of(resp)["type"] == "invalid_request_error"


def test_unknown_model(http: httpx.Client, client: OpenAI):
    resp = http.post(CHAT, json={"model": "no-such-model", "messages": HELLO})
    assert resp.status_code == 404, resp.text
    assert error_of(resp)["code"] == "model_not_found"

    # The SDK maps it to its NotFoundError.
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    assert info.value.code == "model_not_found"


def test_context_length_exceeded(http: httpx.Client):
    resp = http.post(CHAT, json={"model": SMOL_ID, "messages": HELLO, "max_tokens": 10_000_000})
    assert resp.status_code == 400, resp.text
    assert error_of(resp)["code"] == "context_length_exceeded"


def test_context_length_exceeded_in_stream_request(http: httpx.Client):
    """Refused before the stream starts: a plain 400, not an SSE body."""
    body = {"model": SMOL_ID, "messages": HELLO, "max_tokens": 10_000_000, "stream": True}
    with http.stream("POST", CHAT, json=body) as resp:
        resp.read()
    assert resp.status_code == 400, resp.text
    assert error_of(resp)["code"] == "context_length_exceeded"


def post_oversized(base_url: str, path: str, size: int, key: str = "", timeout: float = 60) -> bytes:
    """POST a JSON body of `size` bytes over a raw socket; return the raw response.

    The server may answer 413 and close before the whole body is sent, so the
    body is written from a second thread while this one reads the answer.
    """
    url = urlsplit(base_url)
    filler = b"a" * (size - 64)
    body = b'{"model": "' + SMOL_ID.encode() + b'", "messages": [], "x": "' + filler + b'"}'
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        + (f"Authorization: Bearer {key}\r\n" if key else "")
        + "\r\n"
    ).encode()
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout)

    def send() -> None:
        try:
            sock.sendall(head)
            view = memoryview(body)
            for i in range(0, len(view), 1 << 16):
                sock.sendall(view[i : i + (1 << 16)])
        except OSError:
            pass  # the server stopped reading: expected for an oversized body

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except OSError:
        pass
    finally:
        sock.close()
        sender.join(timeout=5)
    return received


def test_body_too_large(server: MoatServer):
    raw = post_oversized(server.base_url, CHAT, 9 * 1024 * 1024, key=server.admin_key)
    assert raw.startswith(b"HTTP/1.1 413"), raw[:300]


def test_an_unauthenticated_large_body_is_refused_before_it_is_read(server: MoatServer):
    raw = post_oversized(server.base_url, CHAT, 9 * 1024 * 1024)
    assert raw.startswith(b"HTTP/1.1 401"), raw[:300]


def test_large_body_under_the_limit_is_parsed(http: httpx.Client):
    """A 1 MiB body is parsed (and refused for its content, not its size)."""
    resp = http.post(CHAT, json={"model": SMOL_ID, "messages": "x" * (1 << 20)})
    assert resp.status_code == 400, resp.text[:300]


def test_error_in_stream_request_for_unknown_model(http: httpx.Client):
    body = {"model": "no-such-model", "messages": HELLO, "stream": True}
    with http.stream("POST", CHAT, json=body) as resp:
        if resp.status_code == 200:
            # Accepted as a stream: the error must come as a JSON event, then [DONE].
            payloads = list(sse_data(resp))
            assert payloads[-1] == "[DONE]" and payloads.count("[DONE]") == 1, payloads
            assert '"error"' in payloads[0], payloads
        else:
            resp.read()
            assert resp.status_code == 404, resp.text
            assert error_of(resp)["code"] == "model_not_found"


def audit_records(srv: MoatServer, *filters: str) -> list[dict]:
    import json

    out = srv.moat("audit", "search", *filters).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_too_many_headers_get_an_error_body_and_a_record(server: MoatServer, http: httpx.Client):
    headers = {f"x-filler-{i}": "v" for i in range(120)}
    resp = http.get("/v1/models", headers={**headers, "x-request-id": "req-e2e-431"})
    assert resp.status_code == 431, resp.text
    error = error_of(resp)
    assert error["code"] == "request_header_fields_too_large" and error["type"] == "invalid_request_error"
    found = [r for r in audit_records(server) if r.get("status") == 431]
    assert found and found[-1]["error_code"] == "request_header_fields_too_large", found
    assert found[-1]["outcome"] == "refused"
    # A few headers are fine.
    assert http.get("/v1/models", headers={f"x-filler-{i}": "v" for i in range(20)}).status_code == 200


@pytest.mark.parametrize("number", ["1e309", "-1e999", "123456789e400"])
def test_a_number_out_of_any_range_names_its_parameter(http: httpx.Client, number: str):
    body = f'{{"model": "{SMOL_ID}", "messages": [{{"role": "user", "content": "hi"}}], "temperature": {number}}}'
    resp = http.post(CHAT, content=body.encode(), headers={"content-type": "application/json"})
    assert resp.status_code == 400, resp.text
    error = error_of(resp)
    assert error["param"] == "temperature", error
    assert "out of range" in error["message"], error


@pytest.mark.parametrize(
    ("field", "value"),
    [("temperature", 1e308), ("top_p", 1e39), ("max_tokens", 1e20), ("n", -1), ("seed", 1e30), ("top_k", 1e10)],
)
def test_huge_and_negative_numbers_name_their_parameter(http: httpx.Client, field: str, value: float):
    resp = http.post(CHAT, json={"model": SMOL_ID, "messages": HELLO, field: value})
    assert resp.status_code == 400, resp.text
    assert error_of(resp)["param"] == field


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "multipart/form-data; boundary=x",
     "application/json; charset=utf-16"],
)
def test_a_body_not_declared_json_is_refused_with_415(http: httpx.Client, content_type: str | None):
    body = f'{{"model": "{SMOL_ID}", "messages": [{{"role": "user", "content": "hi"}}], "max_tokens": 1}}'.encode()
    request = http.build_request("POST", CHAT, content=body)
    if content_type is None:
        request.headers.pop("content-type", None)
    else:
        request.headers["content-type"] = content_type
    resp = http.send(request)
    assert resp.status_code == 415, resp.text
    assert error_of(resp)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.moat+json"])
def test_json_content_types_are_accepted(http: httpx.Client, content_type: str):
    body = f'{{"model": "{SMOL_ID}", "messages": [{{"role": "user", "content": "hi"}}], "max_tokens": 1}}'.encode()
    resp = http.post(CHAT, content=body, headers={"content-type": content_type})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(
    ("method", "path", "known"),
    [("GET", "/v1/nope", 404), ("GET", "/admin/nope", 404), ("GET", "/v1", 404), ("DELETE", "/v1/models", 405),
     ("GET", "/v1/chat/completions", 405), ("PUT", "/admin/keys", 405)],
)
def test_unknown_routes_under_the_api_need_credentials_first(server: MoatServer, method: str, path: str, known: int):
    with httpx.Client(base_url=server.base_url, timeout=30) as anonymous:
        resp = anonymous.request(method, path)
        assert resp.status_code == 401, resp.text
        assert error_of(resp)["code"] == "invalid_api_key"
    with server.http() as http:
        resp = http.request(method, path)
        assert resp.status_code == known, resp.text
        assert error_of(resp)["code"] == ("not_found" if known == 404 else "method_not_allowed")


def test_paths_outside_the_api_are_404_for_everyone(server: MoatServer):
    with httpx.Client(base_url=server.base_url, timeout=30) as anonymous:
        resp = anonymous.get("/nope")
        assert resp.status_code == 404 and error_of(resp)["code"] == "not_found"
