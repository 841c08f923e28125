"""End-to-end fixtures: the real `moat` binary serving SmolLM2 on a free port."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest
from openai import OpenAI

from support import MoatServer, smol_gguf, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[MoatServer]:
    """SmolLM2 behind `--parallel 4`, shared by the whole session."""
    srv = start_server(tmp_path_factory, "moat-p4", [smol_gguf()], ["--parallel", "4"])
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def client(server: MoatServer) -> OpenAI:
    return server.client()


@pytest.fixture(scope="session")
def http(server: MoatServer) -> Iterator[httpx.Client]:
    with server.http() as c:
        yield c


# The browser tests of the web UI (tests/e2e/test_web_*.py, web_support.py).


@pytest.fixture(scope="session")
def web(tmp_path_factory):
    """One server for the browser tests: SmolLM2, MiniLM, a scripted
    upstream model and a confirm-first tool (web_support.WebServer)."""
    import web_support

    yield from web_support.web_server(tmp_path_factory)


@pytest.fixture(scope="session")
def web_browser():
    """Debian's chromium, headless, through Playwright."""
    import web_support

    yield from web_support.browser()
