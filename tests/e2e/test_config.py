"""The configuration's layers through the real binary: the file, then MOAT_*
variables, then flags; mistakes named by file, line, key or variable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support import MoatServer, moat_bin, smol_gguf

GRAMMAR_OFF_LOG = "tool-call grammar off"


def run_moat(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOAT_")}
    clean.update(env or {})
    return subprocess.run(
        [str(moat_bin()), *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=120
    )


def grammar_is_off(workdir: Path, args: list[str], env: dict[str, str] | None = None) -> bool:
    srv = MoatServer(workdir, [smol_gguf()], ["--parallel", "1", *args], extra_env=env)
    try:
        return GRAMMAR_OFF_LOG in srv.stderr_path.read_text(errors="replace")
    finally:
        srv.stop()


def test_the_tool_grammar_switch_goes_through_every_layer(tmp_path: Path):
    config = tmp_path / "moat.toml"
    config.write_text('tool_grammar = "off"\n')
    file = ["--config", str(config)]
    assert not grammar_is_off(tmp_path / "default", [])
    assert grammar_is_off(tmp_path / "file", file)
    assert not grammar_is_off(tmp_path / "env", file, {"MOAT_TOOL_GRAMMAR": "on"})
    assert grammar_is_off(tmp_path / "flag", [*file, "--tool-grammar", "off"], {"MOAT_TOOL_GRAMMAR": "on"})


def test_a_bad_variable_is_named(tmp_path: Path):
    out = run_moat(["serve"], tmp_path, {"MOAT_PARALLEL": "many"})
    assert out.returncode != 0
    assert "MOAT_PARALLEL" in out.stderr and "many" in out.stderr, out.stderr


def test_an_unknown_key_names_the_file_the_line_and_the_key(tmp_path: Path):
    config = tmp_path / "moat.toml"
    config.write_text('listen = "127.0.0.1:0"\n[connections]\nmax_per_clients = 3\n')
    out = run_moat(["models", "--config", str(config)], tmp_path)
    assert out.returncode != 0
    assert str(config) in out.stderr, out.stderr
    assert "line 3" in out.stderr and "max_per_clients" in out.stderr, out.stderr


def test_the_file_is_under_the_environment_and_the_flags(tmp_path: Path):
    models = tmp_path / "models"
    models.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    config = tmp_path / "moat.toml"
    config.write_text(f'models_dir = "{models}"\n')
    # The file's folder is empty: no models.
    out = run_moat(["models", "--config", str(config)], tmp_path)
    assert out.returncode != 0 and str(models) in out.stderr, out.stderr
    # The variable wins over the file, the flag over the variable.
    out = run_moat(["models", "--config", str(config)], tmp_path, {"MOAT_MODELS_DIR": str(other)})
    assert out.returncode != 0 and str(other) in out.stderr, out.stderr
    out = run_moat(
        ["models", "--config", str(config), "--models-dir", str(smol_gguf().parent)],
        tmp_path,
        {"MOAT_MODELS_DIR": str(other)},
    )
    assert out.returncode == 0, out.stderr
