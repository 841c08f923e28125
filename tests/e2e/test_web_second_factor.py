"""The second factor for administrators and auditors in the web UI
(`[ui] admin_second_factor = true`): an operator enrolls a key with
`moat keys totp`, the sign-in page then asks for the one-time code, a
wrong or reused code is refused on the page, the current one signs in; a
user's key signs in alone, and an administrator's key without a second
factor is told to ask for one. The codes are computed here as an
authenticator app computes them (RFC 6238)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from support import MoatServer, smol_gguf
from web_support import screenshot


def totp(secret_b32: str, at: float | None = None) -> str:
    secret = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((time.time() if at is None else at) // 30)
    digest = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[19] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator[MoatServer]:
    workdir = tmp_path_factory.mktemp("moat-web-2fa")
    (workdir / "moat.toml").write_text("[ui]\nadmin_second_factor = true\n")
    server = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"])
    yield server
    server.stop()


def create_key(srv: MoatServer, name: str, role: str) -> tuple[str, str]:
    key = srv.moat("keys", "create", "--config", "moat.toml", "--quiet", "--name", name, "--role", role).stdout.strip()
    listed = srv.moat("keys", "list", "--config", "moat.toml").stdout
    key_id = next(line.split()[0] for line in listed.splitlines() if f" {name} " in line)
    return key, key_id


def fill_key(page, key: str) -> None:
    page.goto("/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_an_administrator_signs_in_with_a_one_time_code(guarded: MoatServer, web_browser):
    key, key_id = create_key(guarded, "root-2fa", "admin")
    page = web_browser.page(guarded.base_url)

    # Not enrolled yet: the page says whom to ask.
    fill_key(page, key)
    expect(page.get_by_role("alert")).to_contain_text("no second factor")
    assert not any(c["name"] == "moat_session" for c in page.context.cookies())

    uri = guarded.moat("keys", "totp", "--config", "moat.toml", "--quiet", key_id).stdout.strip()
    assert uri.startswith("otpauth://totp/moat:root-2fa?")
    secret = parse_qs(urlparse(uri).query)["secret"][0]

    fill_key(page, key)
    code_box = page.get_by_label("One-time code")
    expect(code_box).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    screenshot(page, "sign-in-second-factor")
    code_box.fill("000000" if totp(secret) != "000000" else "111111")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    assert not any(c["name"] == "moat_session" for c in page.context.cookies())

    # A code at the very end of its step could expire in flight: wait for a fresh one.
    while time.time() % 30 > 25:
        time.sleep(0.5)
    code = totp(secret)
    page.get_by_label("One-time code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    expect(page.get_by_role("link", name="Keys")).to_be_visible()
    assert page.errors == []

    # The same code does not sign in a second time.
    second = web_browser.page(guarded.base_url)
    fill_key(second, key)
    second.get_by_label("One-time code").fill(code)
    second.get_by_role("button", name="Sign in").click()
    expect(second.get_by_role("alert")).to_contain_text("not valid")


def test_a_user_signs_in_with_the_key_alone(guarded: MoatServer, web_browser):
    key, _ = create_key(guarded, "clerk-2fa", "user")
    page = web_browser.page(guarded.base_url)
    fill_key(page, key)
    page.get_by_role("button", name="Sign out").wait_for()
    expect(page.get_by_label("One-time code")).to_have_count(0)
