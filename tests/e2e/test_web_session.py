"""Signing in to the web UI: an API key exchanged for a session cookie
(HttpOnly, SameSite=Strict, out of reach of script), writes refused without
the CSRF token, a wrong key refused on the page, signing out and a revoked
key ending the session; the UI in Chinese and in dark mode."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from web_support import TIMEOUT_MS, screenshot, sign_in

WRITE = """async (token) => {
    const headers = {'Content-Type': 'application/json'};
    if (token) headers['X-CSRF-Token'] = token;
    const r = await fetch('/v1/conversations', {method: 'POST', headers, body: JSON.stringify({metadata: {}})});
    return [r.status, await r.json()];
}"""


def test_the_session_cookie_and_csrf(web, web_browser):
    page = web_browser.page(web.base_url)
    sign_in(page, web.admin_key)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["moat_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/"
    assert "moat_session" not in page.evaluate("document.cookie")
    # The API key itself is nowhere in the page's storage.
    stored = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert web.admin_key not in stored

    status, body = page.evaluate(WRITE, None)
    assert status == 403 and body["error"]["code"] == "csrf_token_invalid", body
    status, body = page.evaluate(WRITE, "not-the-token")
    assert status == 403, body
    token = page.evaluate("fetch('/v1/moat/session').then(r => r.json()).then(s => s.csrf_token)")
    status, body = page.evaluate(WRITE, token)
    assert status == 200 and body["id"].startswith("conv_"), body


def test_a_wrong_key_is_refused_and_signing_out_ends_the_session(web, web_browser):
    page = web_browser.page(web.base_url)
    page.goto("/")
    page.get_by_label("API key").fill("moat_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert not any(c["name"] == "moat_session" for c in page.context.cookies())

    sign_in(page, web.admin_key)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("fetch('/v1/moat/session').then(r => r.status)") == 401
    page.reload()
    expect(page.get_by_label("API key")).to_be_visible()


def test_revoking_the_key_ends_its_session(web, web_browser):
    key = web.key("short-lived", "user")
    page = web_browser.page(web.base_url)
    sign_in(page, key)
    key_id = next(
        line.split()[0]
        for line in web.server.moat("keys", "list", "--config", "moat.toml").stdout.splitlines()
        if " short-lived " in line
    )
    web.server.moat("keys", "revoke", "--config", "moat.toml", key_id)
    deadline = time.monotonic() + 30
    while page.evaluate("fetch('/v1/moat/session').then(r => r.status)") != 401:
        assert time.monotonic() < deadline, "the session outlived its key"
        time.sleep(0.2)
    # The next request the page makes finds the session gone.
    page.get_by_label("Search conversations").fill("anything")
    expect(page.get_by_text("Your session has ended. Sign in again.")).to_be_visible()
    expect(page.get_by_label("API key")).to_be_visible()


def test_the_ui_in_chinese_and_in_dark_mode(web, web_browser):
    page = web_browser.page(web.base_url, locale="zh-CN", color_scheme="dark")
    page.goto("/")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.get_by_label("API 密钥").fill(web.admin_key)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible(timeout=TIMEOUT_MS)
    for name in ["发送", "停止", "新对话"]:
        expect(page.get_by_role("button", name=name)).to_be_visible()
    expect(page.get_by_label("消息")).to_be_visible()
    expect(page.get_by_label("模型")).to_be_visible()
    nav = page.get_by_role("navigation", name="对话列表")
    expect(nav).to_be_visible()
    expect(page.get_by_label("模型").locator("option").first).to_be_attached()
    expect(nav.get_by_text("加载中…")).to_have_count(0)
    screenshot(page, "chat-zh-dark")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")

    page.get_by_role("button", name="深色模式").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != dark
    page.get_by_role("button", name="语言").click()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    # Both choices are remembered.
    page.reload()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
