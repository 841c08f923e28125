"""Server-side tool calls that need a person's approval, in the browser: the
pending call shows Approve and Reject; approving runs the tool on a real
local HTTP service and the answer goes on, rejecting never runs it."""

from __future__ import annotations

from playwright.sync_api import expect

from web_support import assistant_articles, screenshot, send_message, sign_in, wait_for_answer


def ask_to_email(web, web_browser):
    page = web_browser.page(web.base_url)
    # The agent role offers send_email (confirm = true) by default.
    sign_in(page, web.key("agent", "agent"))
    expect(page.get_by_label("Model")).to_have_value("scripted")
    send_message(page, "#email Tell the customer it shipped.")
    answer = assistant_articles(page).last
    pending = answer.get_by_role("group", name="The assistant wants to run send_email. Approve?")
    expect(pending).to_be_visible()
    expect(pending).to_contain_text("customer@example.com")
    expect(answer).to_have_attribute("data-status", "pending")
    return page, answer, pending


def test_an_approved_call_runs_and_the_answer_goes_on(web, web_browser):
    before = len(web.rec.emails)
    page, answer, pending = ask_to_email(web, web_browser)
    screenshot(page, "tool-approval")
    assert len(web.rec.emails) == before, "sent before approval"
    pending.get_by_role("button", name="Approve").click()
    wait_for_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.get_by_text("Approved: send_email")).to_be_visible()
    # What moat ran is shown in the answer, as it happened.
    expect(answer.get_by_role("list", name="Tools moat ran")).to_contain_text("Ran send_email")
    expect(answer.locator(".markdown")).to_contain_text('Tool said: {"sent": true}')
    expect(answer.get_by_role("button", name="Approve")).to_have_count(0)
    assert len(web.rec.emails) == before + 1
    assert web.rec.emails[-1]["subject"] == "Order A-1001"
    assert page.errors == []


def test_a_rejected_call_never_runs(web, web_browser):
    before = len(web.rec.emails)
    page, answer, pending = ask_to_email(web, web_browser)
    pending.get_by_role("button", name="Reject").click()
    wait_for_answer(page)
    expect(answer.get_by_text("Rejected: send_email")).to_be_visible()
    expect(answer.locator(".markdown")).to_contain_text("rejected")
    assert len(web.rec.emails) == before
