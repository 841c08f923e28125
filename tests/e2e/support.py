"""Support for the end-to-end tests: start the real `moat` binary, read SSE.

Environment:
  MOAT_BIN          path of the moat binary (required)
  MOAT_TEST_MODELS  folder holding SmolLM2-135M-Instruct.Q4_1.gguf (default: models/)
  MOAT_QWEN3_GGUF   the tiny random-weight Qwen3 GGUF (tests/fixtures/make_tiny_qwen3.py)
  MOAT_QWEN3_THINKING_GGUF  the same with a template that opens <think> (--thinking)

Each server runs in its own temporary working directory, with a models folder
that holds only the model under test (a hard link or a copy), and with every MOAT_*
variable removed from its environment so that only the flags given here apply.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
from openai import OpenAI

REPO = Path(__file__).resolve().parents[2]
SMOL_ID = "SmolLM2-135M-Instruct.Q4_1"
QWEN3_ID = "tiny-qwen3"
LISTEN_RE = re.compile(r"^moat listening on (https?://127\.0\.0\.1:\d+)\s*$")
# The first admin key, printed once on first start.
ADMIN_KEY_RE = re.compile(r"^\s+(moat_[A-Za-z0-9]{43})\s*$")
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 20
REQUEST_TIMEOUT_S = 120


def moat_bin() -> Path:
    value = os.environ.get("MOAT_BIN")
    if not value:
        pytest.fail("MOAT_BIN is not set: point it at target/release/moat", pytrace=False)
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"MOAT_BIN={value} is not an executable file (build it first)", pytrace=False)
    return path


def smol_gguf() -> Path:
    folder = Path(os.environ.get("MOAT_TEST_MODELS", REPO / "models"))
    path = folder / f"{SMOL_ID}.gguf"
    if not path.is_file():
        pytest.fail(f"{path} not found: run scripts/fetch-model.sh", pytrace=False)
    return path.resolve()


def qwen3_gguf(variable: str = "MOAT_QWEN3_GGUF") -> Path:
    value = os.environ.get(variable)
    if not value or not Path(value).is_file():
        pytest.fail(
            f"{variable}={value!r} is not a file: build it with "
            "tests/fixtures/make_tiny_qwen3.py",
            pytrace=False,
        )
    return Path(value).resolve()


def place_model(model: Path, folder: Path) -> Path:
    """Put `model` in `folder`: a hard link when possible, else a copy.

    Not a symlink: moat refuses links that lead outside its model folders.
    """
    dest = folder / model.name
    if dest.exists():
        return dest
    try:
        os.link(model, dest)
    except OSError:
        shutil.copyfile(model, dest)
    return dest


class MoatServer:
    """One running `moat serve` process."""

    def __init__(
        self,
        workdir: Path,
        models: list[Path],
        args: list[str],
        extra_env: dict[str, str] | None = None,
        listen: str = "127.0.0.1:0",
    ):
        self.workdir = workdir
        self.models_dir = workdir / "models"
        self.models_dir.mkdir(parents=True, exist_ok=True)
        for model in models:
            place_model(model, self.models_dir)
        self.stderr_path = workdir / "moat.stderr.log"
        self.stdout_lines: list[str] = []
        self.base_url = ""
        self.admin_key = ""
        self.returncode: int | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOAT_")}
        env.setdefault("RUST_BACKTRACE", "1")
        env.update(extra_env or {})
        self.cmd = [
            str(moat_bin()),
            "serve",
            "--listen",
            listen,
            "--models-dir",
            str(self.models_dir),
            *args,
        ]
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        self._wait_listening()

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                pytest.fail(f"moat did not print its listening line in {START_TIMEOUT_S} s\n{self.logs()}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.stop()
                pytest.fail(f"moat exited with {self.proc.returncode} before listening\n{self.logs()}")
            key = ADMIN_KEY_RE.match(line)
            if key:
                self.admin_key = key.group(1)
            match = LISTEN_RE.match(line)
            if match:
                self.base_url = match.group(1)
                return

    def logs(self, tail: int = 40) -> str:
        err = self.stderr_path.read_text(errors="replace").splitlines()[-tail:]
        return (
            f"command: {' '.join(self.cmd)}\n"
            f"stdout:\n  " + "\n  ".join(self.stdout_lines[-tail:]) + "\n"
            f"stderr (last {tail} lines):\n  " + "\n  ".join(err)
        )

    def moat(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `moat ARGS` in this server's directory (same store and secret)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOAT_")}
        result = subprocess.run(
            [str(moat_bin()), *args], cwd=self.workdir, env=env, capture_output=True, text=True, timeout=60
        )
        if check and result.returncode != 0:
            pytest.fail(f"moat {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def client(self, api_key: str | None = None, **kwargs) -> OpenAI:
        return OpenAI(
            base_url=f"{self.base_url}/v1",
            api_key=api_key or self.admin_key,
            timeout=REQUEST_TIMEOUT_S,
            max_retries=0,
            **kwargs,
        )

    def http(self, timeout: float = REQUEST_TIMEOUT_S, api_key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key or self.admin_key}"},
        )

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        self.returncode = self.proc.returncode
        return self.returncode


def start_server(tmp_path_factory, name: str, models: list[Path], args: list[str]) -> MoatServer:
    return MoatServer(tmp_path_factory.mktemp(name), models, args)


def sse_data(response: httpx.Response) -> Iterator[str]:
    """Yield the `data:` payloads of an SSE response, in order ("[DONE]" included)."""
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        if line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def stream_events(http: httpx.Client, path: str, body: dict) -> tuple[int, list[dict], int]:
    """POST a streaming request; return (status, JSON events, number of [DONE] markers)."""
    events: list[dict] = []
    done = 0
    with http.stream("POST", path, json={**body, "stream": True}) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, [response.json()], 0
        assert response.headers["content-type"].startswith("text/event-stream"), response.headers
        for payload in sse_data(response):
            if payload == "[DONE]":
                done += 1
                continue
            assert done == 0, f"event after [DONE]: {payload}"
            events.append(json.loads(payload))
    return 200, events, done


def chat_text(events: list[dict]) -> str:
    return "".join(
        (choice.get("delta") or {}).get("content") or ""
        for event in events
        for choice in event.get("choices", [])
    )


def completion_text(events: list[dict]) -> str:
    return "".join(
        choice.get("text") or "" for event in events for choice in event.get("choices", [])
    )


def finish_reasons(events: list[dict]) -> list[str]:
    return [
        choice["finish_reason"]
        for event in events
        for choice in event.get("choices", [])
        if choice.get("finish_reason")
    ]


def error_of(response: httpx.Response) -> dict:
    """The OpenAI error object of a response, checking its shape."""
    body = response.json()
    assert isinstance(body, dict) and "error" in body, body
    error = body["error"]
    for key in ("message", "type", "param", "code"):
        assert key in error, f"error object without {key!r}: {body}"
    assert isinstance(error["message"], str) and error["message"], body
    return error


def serve(handler_class, wrap: Callable | None = None) -> tuple[ThreadingHTTPServer, int]:
    """A real HTTP service on a free local port, served from a thread;
    `wrap` turns its socket into a TLS one."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    if wrap is not None:
        server.socket = wrap(server.socket)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def send(handler: BaseHTTPRequestHandler, content_type: str, body: bytes, status: int = 200) -> None:
    """Answer one request of a `serve`d handler."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
