"""`moat kb` against the real server: create, list, ingest a folder
recursively (what moat cannot read is counted, not uploaded), re-ingest
skipping unchanged files by content hash, replacing changed ones and
skipping duplicates, search, and rm; a key without the right role is
refused with the server's message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from support import MoatServer
from test_embeddings import minilm_gguf

SUMMARY = re.compile(
    r"(?P<added>\d+) added, (?P<replaced>\d+) replaced, (?P<unchanged>\d+) unchanged, "
    r"(?P<duplicate>\d+) duplicate, (?P<failed>\d+) failed, (?P<unsupported>\d+) unsupported; "
    r".* and (?P<chunks>\d+) chunks indexed"
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[MoatServer]:
    server = MoatServer(tmp_path_factory.mktemp("moat-kb-cli"), [minilm_gguf()], [])
    yield server
    server.stop()


def kb(srv: MoatServer, *args: str, key: str | None = None, check: bool = True):
    return srv.moat("kb", "--url", srv.base_url, "--api-key", key or srv.admin_key, *args, check=check)


def summary(out: str) -> dict[str, int]:
    match = SUMMARY.search(out)
    assert match, out
    return {k: int(v) for k, v in match.groupdict().items()}


def test_ingest_skips_what_did_not_change_and_replaces_what_did(srv: MoatServer, tmp_path: Path):
    store_id = kb(srv, "create", "manuals").stdout.strip()
    assert store_id.startswith("vs_")
    docs = tmp_path / "docs"
    (docs / "network").mkdir(parents=True)
    (docs / "vpn.md").write_text("# VPN\n\nConnect to the VPN gateway vpn.example.internal before opening the ledger.\n")
    (docs / "network" / "printers.txt").write_text("Printers on floor 3 use the queue PRN-3F-01.\n")
    (docs / "network" / "setup.exe").write_bytes(b"MZ\x90\x00")
    (docs / ".secret.md").write_text("hidden")

    # A folder needs --recursive.
    refused = kb(srv, "ingest", "manuals", str(docs), check=False)
    assert refused.returncode != 0 and "--recursive" in refused.stderr

    first = summary(kb(srv, "ingest", "manuals", str(docs), "--recursive").stdout)
    assert first == {"added": 2, "replaced": 0, "unchanged": 0, "duplicate": 0, "failed": 0, "unsupported": 1, "chunks": first["chunks"]}
    assert first["chunks"] >= 2

    again = summary(kb(srv, "ingest", "manuals", str(docs), "-r").stdout)
    assert (again["added"], again["replaced"], again["unchanged"], again["chunks"]) == (0, 0, 2, 0)

    (docs / "vpn.md").write_text("# VPN\n\nThe VPN gateway moved to vpn2.example.internal in May.\n")
    (docs / "copy-of-printers.txt").write_text((docs / "network" / "printers.txt").read_text())
    changed = summary(kb(srv, "ingest", "manuals", str(docs), "-r").stdout)
    assert (changed["added"], changed["replaced"], changed["unchanged"], changed["duplicate"]) == (0, 1, 1, 1)

    found = kb(srv, "search", "manuals", "which VPN gateway?", "--limit", "1").stdout
    assert "vpn2.example.internal" in found and "vpn.md" in found
    # The old version is gone from the store and from the files.
    assert "vpn.example.internal" not in kb(srv, "search", "manuals", "VPN gateway", "--mode", "keyword").stdout
    with srv.http() as http:
        files = http.get(f"/v1/vector_stores/{store_id}/files").json()["data"]
        assert len(files) == 2
        assert all(f["attributes"]["path"].startswith(str(docs.resolve())) for f in files)
        assert all(len(f["moat"]["content_sha256"]) == 64 for f in files)

    listed = kb(srv, "list").stdout
    assert re.search(rf"{store_id}\s+manuals\s+2/2", listed), listed

    assert "deleted manuals" in kb(srv, "rm", "manuals").stdout
    assert "manuals" not in kb(srv, "list").stdout
    missing = kb(srv, "ingest", "manuals", str(docs), "-r", check=False)
    assert missing.returncode != 0 and "moat kb create manuals" in missing.stderr


def test_a_key_without_the_role_is_refused_with_the_servers_message(srv: MoatServer):
    user = srv.moat("keys", "create", "--quiet", "--name", "reader", "--role", "user").stdout.strip()
    kb(srv, "create", "private")
    # The user role reads no knowledge base: the store is not even listed.
    assert "private" not in kb(srv, "list", key=user).stdout
    refused = kb(srv, "search", "private", "anything", key=user, check=False)
    assert refused.returncode != 0 and "no knowledge base `private`" in refused.stderr
    bad = kb(srv, "list", key="sk-moat-wrong", check=False)
    assert bad.returncode != 0 and "401" in bad.stderr
