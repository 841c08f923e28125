"""Start-up lines, the `moat models` command and graceful shutdown."""

from __future__ import annotations

import re
import subprocess
import time

import httpx

from support import SMOL_ID, MoatServer, moat_bin, place_model, smol_gguf, start_server


def test_startup_lines(server: MoatServer):
    serving = [line for line in server.stdout_lines if line.startswith("moat serving model ")]
    assert len(serving) == 1, server.stdout_lines
    assert serving[0].split()[3] == SMOL_ID
    # The serving line comes before the listening line.
    listening = next(i for i, l in enumerate(server.stdout_lines) if l.startswith("moat listening on "))
    assert server.stdout_lines.index(serving[0]) < listening


def test_models_command(tmp_path):
    place_model(smol_gguf(), tmp_path)
    out = subprocess.run(
        [str(moat_bin()), "models", "--models-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if SMOL_ID in l]
    assert len(lines) == 1, out.stdout
    line = lines[0]
    assert "llama" in line
    assert re.search(r"q4_1", line, re.IGNORECASE), line
    assert "8192" in line, line  # context length


def test_sigterm_is_graceful(tmp_path_factory):
    srv = start_server(tmp_path_factory, "moat-term", [smol_gguf()], ["--parallel", "1"])
    with srv.http(timeout=30) as http:
        assert http.get("/ready").status_code == 200
    started = time.monotonic()
    code = srv.stop()
    assert code == 0, f"exit status {code} after SIGTERM\n{srv.logs()}"
    assert time.monotonic() - started < 20
    try:
        httpx.get(f"{srv.base_url}/health", timeout=2)
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("still answering after exit")
