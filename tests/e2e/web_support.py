"""Support for the browser tests of the web UI (tests/e2e/test_web_*.py).

The tests drive Debian's chromium (/usr/bin/chromium, or MOAT_CHROMIUM)
through Playwright's sync API against the real binary, whose `ui/dist` must
have been built in (scripts/build-ui.sh before cargo build). One server
serves them all (`web` in conftest.py):

- SmolLM2 (embedded) for real answers, and MiniLM for knowledge bases;
- `scripted`, an OpenAI-compatible upstream model in this process whose
  answer is chosen by a `#command` at the start of the last user message:
  `#hostile` (markdown meant to run script), `#email` (a call to the
  confirm-first tool `send_email`, then the tool's result), `#slow` (a word
  every 0.2 s for a minute), `#think` (reasoning, then an answer), `#cite
  WORD` (the number of the knowledge-base source holding WORD), and
  anything else its own text back;
- `send_email`, a server-side tool on a real local HTTP service that
  records what it was sent.

With MOAT_SCREENSHOTS=1 the tests write docs/screenshots/*.png.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Iterator

import pytest

from support import REPO, MoatServer, send, serve, smol_gguf

# Generous: the CI machine has two slow cores shared with the model.
TIMEOUT_MS = 90_000
HOSTILE = (
    "Here is a picture: <img src=x onerror=\"window.__pwned='img'\">\n\n"
    "<script>window.__pwned='script'</script>\n\n"
    "<svg onload=\"window.__pwned='svg'\"></svg>\n\n"
    "[click me](javascript:window.__pwned='link')\n\n"
    "![logo](x\" onerror=\"window.__pwned='md-img')\n\n"
    "<a href=\"javascript:window.__pwned='a'\" onclick=\"window.__pwned='onclick'\">a link</a>\n\n"
    "<iframe src=\"javascript:window.__pwned='iframe'\"></iframe>\n\n"
    "```python\ndef greet(name):\n    return f\"hello {name}\"\n```\n"
)
SOURCE = re.compile(r'<source n="(\d+)" file="([^"]*)" key="([0-9a-f]{16})">\n(.*?)\n</source key="\3">', re.S)


def chromium_path() -> str:
    path = os.environ.get("MOAT_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        pytest.fail(f"{path} not found: install Debian's chromium (apt-get install chromium)", pytrace=False)
    return path


@dataclass
class Recorder:
    """What the scripted model and the tool service received."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    model_requests: list[dict] = field(default_factory=list)
    emails: list[dict] = field(default_factory=list)
    slow_cut: threading.Event = field(default_factory=threading.Event)


def scripted_answer(request: dict) -> tuple[list[dict], float]:
    """The deltas of the scripted model's answer, and the pause between them."""
    messages = request["messages"]
    user = [m for m in messages if m["role"] == "user"][-1]["content"]
    if isinstance(user, list):
        user = "".join(part.get("text", "") for part in user)
    results = [m.get("content") or "" for m in messages if m["role"] == "tool"]
    command = user.split()[0] if user.split() else ""
    if "Question: " in user:  # grounded: the question follows the sources
        command = user.rsplit("Question: ", 1)[-1].split()[0]
    if command == "#hostile":
        return [{"content": HOSTILE[i : i + 40]} for i in range(0, len(HOSTILE), 40)], 0.0
    if command == "#email" and not results:
        call = {"name": "send_email", "arguments": json.dumps({"to": "customer@example.com", "subject": "Order A-1001", "body": "It shipped."})}
        return [{"tool_calls": [{"index": 0, "id": "call_0", "type": "function", "function": call}]}], 0.0
    if command == "#email":
        return [{"content": f"Tool said: {results[-1]}"}], 0.0
    if command == "#slow":
        return [{"content": f"word{i} "} for i in range(300)], 0.2
    if command == "#think":
        return [{"content": "<think>"}, {"content": "Weighing the options."}, {"content": "</think>"}, {"content": "The answer is **42**."}], 0.05
    if command == "#cite":
        word = user.rsplit("Question: ", 1)[-1].split()[1]
        for n, _, _, text in SOURCE.findall(user):
            if word in text:
                return [{"content": f"This is in the handbook [{n}]."}], 0.0
        return [{"content": "I cannot tell from the sources."}], 0.0
    return [{"content": f"Echo: {user}"}], 0.0


def scripted_model(rec: Recorder):
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: the stream ends when the connection closes, so each
        # chunk can be written as it is made.
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            send(self, "application/json", json.dumps({"object": "list", "data": [{"id": "scripted", "object": "model"}]}).encode())

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with rec.lock:
                rec.model_requests.append(request)
            deltas, pause = scripted_answer(request)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": "scripted"}
            finish = "tool_calls" if any("tool_calls" in d for d in deltas) else "stop"
            try:
                for i, delta in enumerate(deltas):
                    if i == 0:
                        delta = {"role": "assistant", **delta}
                    self.event({**base, "choices": [{"index": 0, "delta": delta}]})
                    if pause:
                        time.sleep(pause)
                self.event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
                self.event({**base, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": len(deltas), "total_tokens": 9 + len(deltas)}})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                rec.slow_cut.set()

        def event(self, chunk: dict) -> None:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

    return serve(Handler)


def tool_service(rec: Recorder):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            with rec.lock:
                rec.emails.append(body)
            send(self, "application/json", b'{"sent": true}')

    return serve(Handler)


def config(model_port: int, tools_port: int) -> str:
    return f"""
[[models]]
id = "scripted"
backend = "upstream"
base_url = "http://127.0.0.1:{model_port}/v1"

[[roles]]
name = "agent"
models = ["scripted"]
tools = ["send_email"]
default_tools = ["send_email"]
knowledge_bases = ["*"]

[[roles]]
name = "reader"
models = ["SmolLM2-*"]

[[tools]]
name = "send_email"
description = "Send an e-mail."
parameters = {{ type = "object", properties = {{ to = {{ type = "string" }}, subject = {{ type = "string" }}, body = {{ type = "string" }} }}, required = ["to", "subject", "body"] }}
confirm = true
http = {{ method = "POST", url = "http://127.0.0.1:{tools_port}/email" }}
"""


class WebServer:
    """The server the browser tests share, with its scripted model and tool."""

    def __init__(self, tmp_path_factory, embedding_model: Path):
        self.rec = Recorder()
        self._model, model_port = scripted_model(self.rec)
        self._tools, tools_port = tool_service(self.rec)
        workdir = tmp_path_factory.mktemp("moat-web")
        (workdir / "moat.toml").write_text(config(model_port, tools_port))
        self.server = MoatServer(workdir, [smol_gguf(), embedding_model], ["--config", "moat.toml", "--parallel", "2"])
        self.admin_key = self.server.admin_key
        self.base_url = self.server.base_url

    def key(self, name: str, role: str) -> str:
        return self.server.moat(
            "keys", "create", "--config", "moat.toml", "--quiet", "--name", name, "--role", role
        ).stdout.strip()

    def stop(self) -> None:
        self.server.stop()
        self._model.shutdown()
        self._tools.shutdown()


class Browser:
    """One headless chromium for the whole session."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self.chromium = self._playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )

    def page(self, base_url: str, locale: str = "en-US", color_scheme: str = "light"):
        """A new page in a fresh context (its own cookies), with the page's
        errors collected in `page.errors`."""
        context = self.chromium.new_context(
            base_url=base_url, locale=locale, color_scheme=color_scheme, viewport={"width": 1280, "height": 860}
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    def close(self) -> None:
        self.chromium.close()
        self._playwright.stop()


def sign_in(page, key: str) -> None:
    """Open the UI and sign in with `key`, waiting for the chat page."""
    page.goto("/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def assistant_articles(page):
    return page.locator("article[data-role=assistant]")


def wait_for_answer(page, index: int = -1) -> None:
    """Wait until the assistant article `index` is no longer streaming."""
    articles = assistant_articles(page)
    target = articles.nth(index) if index >= 0 else articles.last
    target.wait_for()
    page.wait_for_function(
        """(index) => {
            const all = document.querySelectorAll('article[data-role=assistant]');
            const a = index >= 0 ? all[index] : all[all.length - 1];
            return a && a.dataset.status !== 'streaming';
        }""",
        arg=index,
        timeout=TIMEOUT_MS,
    )


def set_options(page, temperature: str | None = "0", max_tokens: str | None = None, tools: str | None = None) -> None:
    page.get_by_text("Options").click()
    if temperature is not None:
        page.get_by_label("Temperature").fill(temperature)
    if max_tokens is not None:
        page.get_by_label("Max tokens").fill(max_tokens)
    if tools is not None:
        page.get_by_label("Server tools (comma-separated)").fill(tools)


def send_message(page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def screenshot(page, name: str) -> None:
    """docs/screenshots/NAME.png, only when MOAT_SCREENSHOTS=1."""
    if os.environ.get("MOAT_SCREENSHOTS") != "1":
        return
    folder = REPO / "docs" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def minilm_gguf() -> Path:
    folder = Path(os.environ.get("MOAT_TEST_MODELS", REPO / "models"))
    path = folder / "all-MiniLM-L6-v2-minilm.f16.gguf"
    if not path.is_file():
        pytest.fail(f"{path} not found: run scripts/fetch-model.sh", pytrace=False)
    return path.resolve()


def web_server(tmp_path_factory) -> Iterator[WebServer]:
    web = WebServer(tmp_path_factory, minilm_gguf())
    yield web
    web.stop()


def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()

