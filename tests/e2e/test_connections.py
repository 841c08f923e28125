"""Slow, idle and too many connections through the real binary: every kind of
stalled connection is closed within its timeout, one client address cannot
hold more than its share, and /health stays answerable meanwhile."""

from __future__ import annotations

import resource
import socket
import ssl
import threading
import time
from typing import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from support import SMOL_ID, MoatServer, smol_gguf

TIMEOUT_S = 2
# How much later than its timeout a connection may close.
SLACK_S = 2.5
PER_CLIENT = 6


@pytest.fixture(scope="module")
def strict(tmp_path_factory) -> Iterator[MoatServer]:
    workdir = tmp_path_factory.mktemp("moat-connections")
    (workdir / "moat.toml").write_text(
        "[connections]\n"
        f"header_timeout_secs = {TIMEOUT_S}\n"
        f"body_timeout_secs = {TIMEOUT_S}\n"
        f"max_per_client = {PER_CLIENT}\n"
    )
    # The idle timeout from the environment, the way an operator may set it.
    srv = MoatServer(
        workdir,
        [smol_gguf()],
        ["--config", "moat.toml", "--parallel", "1"],
        extra_env={"MOAT_IDLE_TIMEOUT_SECS": str(TIMEOUT_S)},
    )
    yield srv
    srv.stop()


def connect(srv: MoatServer, source: str = "127.0.0.1") -> socket.socket:
    url = urlsplit(srv.base_url)
    return socket.create_connection((url.hostname, url.port), timeout=30, source_address=(source, 0))


def read_until_closed(sock: socket.socket, limit_s: float) -> tuple[float, bytes]:
    """Read until the server closes; (seconds it took, bytes received)."""
    start = time.monotonic()
    sock.settimeout(limit_s)
    received = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        pytest.fail(f"still open after {limit_s} s; received {received[:200]!r}")
    finally:
        sock.close()
    return time.monotonic() - start, received


def head(srv: MoatServer, method: str, path: str, extra: str = "") -> bytes:
    host = urlsplit(srv.base_url).netloc
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {srv.admin_key}\r\n{extra}\r\n"
    ).encode()


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /hea", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "],
    ids=["idle", "partial-request-line", "incomplete-headers"],
)
def test_a_stalled_head_is_closed_within_the_header_timeout(strict: MoatServer, sent: bytes):
    sock = connect(strict)
    sock.sendall(sent)
    took, received = read_until_closed(sock, TIMEOUT_S + SLACK_S)
    assert took >= TIMEOUT_S - 0.5, took
    assert received == b"", received


def test_a_head_sent_byte_by_byte_is_closed_at_the_header_timeout(strict: MoatServer):
    """Each byte does not buy more time (slowloris)."""
    sock = connect(strict)
    start = time.monotonic()
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 100
    try:
        for byte in request:
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
            if time.monotonic() - start > TIMEOUT_S + SLACK_S:
                pytest.fail("still accepting bytes after the header timeout")
    except (BrokenPipeError, ConnectionResetError):
        pass
    took = time.monotonic() - start
    assert took <= TIMEOUT_S + SLACK_S, took
    sock.close()


def test_a_body_short_of_its_length_is_answered_408_and_closed(strict: MoatServer):
    sock = connect(strict)
    sock.sendall(
        head(strict, "POST", "/v1/chat/completions", "Content-Type: application/json\r\nContent-Length: 100\r\n")
        + b'{"model": "'
    )
    took, received = read_until_closed(sock, TIMEOUT_S + SLACK_S)
    assert received.startswith(b"HTTP/1.1 408"), received[:300]
    assert b'"code":"request_timeout"' in received, received
    assert b"connection: close" in received.lower(), received
    assert took >= TIMEOUT_S - 0.5, took


def test_an_endless_chunked_body_is_answered_408_and_closed(strict: MoatServer):
    sock = connect(strict)
    sock.sendall(
        head(strict, "POST", "/v1/chat/completions", "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n")
    )
    stop = threading.Event()

    def dribble() -> None:
        try:
            sock.sendall(b"1\r\n{\r\n")
            while not stop.is_set():
                sock.sendall(b"1\r\n \r\n")
                time.sleep(0.2)
        except OSError:
            pass

    sender = threading.Thread(target=dribble, daemon=True)
    sender.start()
    try:
        took, received = read_until_closed(sock, TIMEOUT_S + SLACK_S)
    finally:
        stop.set()
        sender.join(timeout=5)
    assert received.startswith(b"HTTP/1.1 408"), received[:300]
    assert took <= TIMEOUT_S + SLACK_S, took


def test_an_idle_keep_alive_is_closed_within_the_idle_timeout(strict: MoatServer):
    sock = connect(strict)
    sock.sendall(head(strict, "GET", "/health"))
    sock.settimeout(10)
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200"), first
    took, received = read_until_closed(sock, TIMEOUT_S + SLACK_S)
    assert received == b"", received
    assert took >= TIMEOUT_S - 0.5, took


def test_a_keep_alive_connection_serves_requests_that_come_in_time(strict: MoatServer):
    sock = connect(strict)
    sock.settimeout(10)
    for _ in range(3):
        sock.sendall(head(strict, "GET", "/health"))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(TIMEOUT_S / 2)
    sock.close()


def test_one_address_cannot_hold_more_than_its_share(strict: MoatServer):
    held = [connect(strict) for _ in range(PER_CLIENT)]
    try:
        time.sleep(0.3)
        # One more from the same address is closed at once.
        extra = connect(strict)
        extra.sendall(head(strict, "GET", "/health"))
        took, received = read_until_closed(extra, 2)
        assert received == b"" and took < 1.5, (took, received)
        # Another address is served meanwhile.
        with httpx.Client(base_url=strict.base_url, timeout=10, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
            assert other.get("/health").status_code == 200
    finally:
        for sock in held:
            sock.close()
    # Once they are closed, the address is served again.
    deadline = time.monotonic() + 5
    while True:
        try:
            with httpx.Client(base_url=strict.base_url, timeout=5) as again:
                assert again.get("/health").status_code == 200
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the address stayed refused"
            time.sleep(0.1)


def test_health_answers_with_hundreds_of_idle_sockets_and_few_file_descriptors(tmp_path_factory):
    """300 idle sockets from 60 addresses against a server allowed 200 open
    files: the idle ones time out and /health is answered soon after; the
    accept loop does not spin while files run out."""
    workdir = tmp_path_factory.mktemp("moat-fds")
    (workdir / "moat.toml").write_text(f"[connections]\nheader_timeout_secs = {TIMEOUT_S}\n")
    srv = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    try:
        resource.prlimit(srv.proc.pid, resource.RLIMIT_NOFILE, (200, 200))
        idle = []
        for i in range(300):
            try:
                idle.append(connect(srv, source=f"127.0.1.{i // 5 + 1}"))
            except OSError:
                break
        assert len(idle) >= 250, len(idle)
        start = time.monotonic()
        answered = None
        while time.monotonic() - start < TIMEOUT_S * 3 + 10:
            try:
                with httpx.Client(base_url=srv.base_url, timeout=TIMEOUT_S * 3 + 5) as probe:
                    answered = probe.get("/health").status_code
                break
            except httpx.TransportError:
                time.sleep(0.2)
        took = time.monotonic() - start
        for sock in idle:
            sock.close()
        assert answered == 200, (answered, took)
        assert took < TIMEOUT_S * 3 + 5, took
        # The server still works, and logged the shortage a bounded number of times.
        with srv.http() as http:
            assert http.get("/v1/models").status_code == 200
        log = srv.stderr_path.read_text(errors="replace")
        assert log.count("accepting a connection failed") < 50, log[-2000:]
    finally:
        srv.stop()


def test_a_tls_handshake_that_never_completes_is_closed(tmp_path_factory):
    from test_access import make_cert

    workdir = tmp_path_factory.mktemp("moat-tls-timeout")
    cert, key = make_cert(workdir)
    (workdir / "moat.toml").write_text(
        f'[connections]\nheader_timeout_secs = {TIMEOUT_S}\n[tls]\ncert = "{cert}"\nkey = "{key}"\n'
    )
    srv = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    try:
        sock = connect(srv)
        sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, never finished
        took, _ = read_until_closed(sock, TIMEOUT_S + SLACK_S)
        assert took >= TIMEOUT_S - 0.5, took
        # A real client is served.
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=srv.base_url, verify=context, timeout=10) as https:
            assert https.get("/health").status_code == 200
    finally:
        srv.stop()
