"""The admin console in the browser: create a key (its secret shown once and
working), revoke it (refused from then on), the usage chart drawn from real
usage, the audit search finding the requests just made, the guard's test
box."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import expect

from web_support import screenshot, send_message, set_options, sign_in, wait_for_answer


def eventually(check, timeout_s: float = 30) -> None:
    """Wait for `check()` to hold: revocations and usage reach the server's
    caches and tables within about a second."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def open_page(page, name: str) -> None:
    """Follow the menu link `name` and wait for its page's heading."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
    page.get_by_role("heading", name=name, level=1).wait_for()


def admin_page(web, web_browser):
    page = web_browser.page(web.base_url)
    sign_in(page, web.admin_key)
    return page


def test_create_and_revoke_a_key(web, web_browser):
    page = admin_page(web, web_browser)
    open_page(page, "Keys")
    page.get_by_label("Name", exact=True).fill("browser-made")
    page.get_by_label("Roles (comma-separated)").fill("user")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("Secret of browser-made")
    expect(secret).to_have_value(re.compile(r"^moat_[A-Za-z0-9]{43}$"))
    key = secret.input_value()
    with httpx.Client(base_url=web.base_url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
        assert http.get("/v1/models").status_code == 200
    row = page.locator("tr", has_text="browser-made")
    expect(row).to_have_attribute("data-status", "active")
    screenshot(page, "admin-keys")

    # Rotating shows the new secret once; the old one stops working.
    page.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_label("Secret of browser-made")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Rotate: browser-made").click()
    expect(secret).to_have_value(re.compile(r"^moat_[A-Za-z0-9]{43}$"))
    rotated = secret.input_value()
    assert rotated != key
    with httpx.Client(base_url=web.base_url, timeout=60) as http:
        eventually(lambda: http.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401)
        assert http.get("/v1/models", headers={"Authorization": f"Bearer {rotated}"}).status_code == 200
    key = rotated

    page.get_by_role("button", name="Dismiss").click()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke: browser-made").click()
    expect(row).to_have_attribute("data-status", "revoked")
    with httpx.Client(base_url=web.base_url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
        eventually(lambda: http.get("/v1/models").status_code == 401)
    assert page.errors == []


def test_usage_chart_and_audit_search_show_the_requests_just_made(web, web_browser):
    page = admin_page(web, web_browser)
    page.get_by_label("Model").select_option("SmolLM2-135M-Instruct.Q4_1")
    set_options(page, temperature="0", max_tokens="8")
    send_message(page, "Say hello.")
    wait_for_answer(page)
    with web.server.http() as http:
        smol = "SmolLM2-135M-Instruct.Q4_1"
        eventually(lambda: any(r["model"] == smol for r in http.get("/admin/usage?by=model").json()["data"]))

    open_page(page, "Usage")
    chart = page.get_by_role("img", name="Usage chart: Tokens")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar").first).to_be_attached()
    assert chart.locator("g.bar-row").count() >= 1
    page.get_by_label("Group by").select_option("model")
    expect(chart.locator("g.bar-row[data-label='SmolLM2-135M-Instruct.Q4_1']")).to_be_attached()
    page.get_by_label("Measure").select_option("requests")
    expect(page.get_by_role("img", name="Usage chart: Requests").locator("rect.bar.requests").first).to_be_attached()
    screenshot(page, "admin-usage")

    open_page(page, "Audit")
    chain = page.get_by_role("region", name="Audit chain")
    expect(chain.get_by_role("status")).to_contain_text("Chain intact")
    expect(chain).to_contain_text(re.compile("Last signed checkpoint: record [0-9]+|No signed checkpoint yet"))
    page.get_by_label("Model").fill("SmolLM2-135M-Instruct.Q4_1")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.audit tbody tr", has_text="/v1/chat/completions")
    expect(rows.first).to_be_visible()
    expect(rows.first).to_contain_text("200")
    screenshot(page, "admin-audit")
    page.get_by_label("HTTP status").fill("599")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No records match.")).to_be_visible()


def test_the_guard_test_box(web, web_browser):
    page = admin_page(web, web_browser)
    open_page(page, "Guard")
    page.get_by_label("Text to scan").fill("Call me on 13812345678 please.")
    page.get_by_role("button", name="Scan").click()
    findings = page.locator("table.findings tbody tr")
    expect(findings).to_have_count(1)
    expect(findings.first).not_to_contain_text("13812345678")


def test_knowledge_bases_are_managed_from_the_console(web, web_browser):
    page = admin_page(web, web_browser)
    open_page(page, "Knowledge bases")
    page.get_by_label("Name", exact=True).fill("console-made")
    page.get_by_role("button", name="Create knowledge base").click()
    row = page.locator("table.stores tr", has_text="console-made")
    expect(row).to_be_visible()
    store = row.get_attribute("data-store-id")
    assert store and store.startswith("vs_")
    files = page.get_by_role("region", name="Files of console-made")
    expect(files.get_by_text("No files yet.")).to_be_visible()
    files.get_by_label("File to attach").set_input_files(
        files=[{"name": "leave.md", "mimeType": "text/markdown", "buffer": b"# Leave\n\nStaff have 25 days of annual leave."}]
    )
    files.get_by_role("button", name="Upload").click()
    file_row = files.locator("table.files tbody tr")
    expect(file_row).to_have_count(1)
    file_id = file_row.get_attribute("data-file-id")
    with web.server.http() as http:
        eventually(lambda: http.get(f"/v1/vector_stores/{store}/files/{file_id}").json()["status"] == "completed", 120)
    # Reopened, the store shows the file ready.
    page.get_by_role("button", name="Files: console-made").click()
    page.get_by_role("button", name="Files: console-made").click()
    expect(files.locator("table.files tbody tr")).to_contain_text("completed")
    expect(row).to_contain_text("1 ready")
    screenshot(page, "admin-knowledge")

    page.once("dialog", lambda dialog: dialog.accept())
    files.get_by_role("button", name=f"Remove: {file_id}").click()
    expect(files.get_by_text("No files yet.")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete: console-made").click()
    expect(page.locator("table.stores tr", has_text="console-made")).to_have_count(0)
    with web.server.http() as http:
        assert http.get(f"/v1/vector_stores/{store}").status_code == 404
    assert page.errors == []
