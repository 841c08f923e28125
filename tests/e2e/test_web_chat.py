"""The web UI's chat in a real browser against the real binary: an answer of
SmolLM2 streams into an assistant article, Stop cancels a generation, the
conversation is kept on the server (found again after a reload, renamed,
searched, deleted), reasoning folds away, and the model picker offers only
the caller's models."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from web_support import (
    assistant_articles,
    screenshot,
    send_message,
    set_options,
    sign_in,
    wait_for_answer,
)

# Notes whether an assistant article ever showed text while still streaming.
WATCH_STREAMING = """() => {
    window.__partial = false;
    new MutationObserver(() => {
        for (const a of document.querySelectorAll('article[data-role=assistant][data-status=streaming]')) {
            if (a.querySelector('.markdown').textContent.trim()) window.__partial = true;
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def test_an_answer_streams_and_the_conversation_is_kept(web, web_browser):
    page = web_browser.page(web.base_url)
    sign_in(page, web.admin_key)
    page.get_by_label("Model").select_option("SmolLM2-135M-Instruct.Q4_1")
    set_options(page, temperature="0", max_tokens="48")
    page.evaluate(WATCH_STREAMING)
    send_message(page, "What is the capital of France?")

    # The answer streams: part of its text is shown while it is still coming.
    answer = assistant_articles(page).last
    wait_for_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    assert page.evaluate("window.__partial") is True, "no text was shown before the answer ended"
    text = answer.locator(".markdown").inner_text().strip()
    assert len(text) > 0
    expect(answer.get_by_text("AI-generated")).to_be_visible()
    expect(page.locator("article[data-role=user]").last).to_have_text(re.compile("What is the capital of France"))

    # The conversation is on the server: the URL names it and the list shows it.
    page.wait_for_url(re.compile(r"#/c/conv_"))
    conversation = page.url.split("#/c/")[1]
    nav = page.get_by_role("navigation", name="Conversations")
    entry = nav.get_by_role("link", name=re.compile("What is the capital"))
    expect(entry).to_be_visible()
    screenshot(page, "chat")

    # A second message goes to the same conversation, with the first as history.
    send_message(page, "And of Italy?")
    wait_for_answer(page)
    expect(page.locator("article[data-role=assistant]")).to_have_count(2)
    assert page.url.endswith(conversation)

    # A reload signs in again from the cookie and finds the conversation.
    page.reload()
    expect(page.locator("article[data-role=user]")).to_have_count(2)
    expect(page.locator("article[data-role=assistant]")).to_have_count(2)
    assert assistant_articles(page).first.locator(".markdown").inner_text().strip() == text
    nav = page.get_by_role("navigation", name="Conversations")
    expect(nav.get_by_role("link", name=re.compile("What is the capital"))).to_have_attribute("aria-current", "page")

    # Rename, search, delete.
    nav.get_by_role("button", name=re.compile("^Rename: What is the capital")).click()
    nav.get_by_label("New title").fill("Capitals quiz")
    nav.get_by_role("button", name="Save").click()
    expect(nav.get_by_role("link", name="Capitals quiz")).to_be_visible()
    nav.get_by_label("Search conversations").fill("quiz")
    expect(nav.get_by_role("link", name="Capitals quiz")).to_be_visible()
    nav.get_by_label("Search conversations").fill("no such words anywhere")
    expect(nav.get_by_role("link", name="Capitals quiz")).to_have_count(0)
    nav.get_by_label("Search conversations").fill("")
    page.once("dialog", lambda dialog: dialog.accept())
    nav.get_by_role("button", name="Delete: Capitals quiz").click()
    expect(nav.get_by_role("link", name="Capitals quiz")).to_have_count(0)
    expect(page.locator("article")).to_have_count(0)
    with web.server.http() as http:
        assert http.get(f"/v1/conversations/{conversation}").status_code == 404
    assert page.errors == []


def test_stop_cancels_the_generation(web, web_browser):
    page = web_browser.page(web.base_url)
    sign_in(page, web.admin_key)
    page.get_by_label("Model").select_option("scripted")
    web.rec.slow_cut.clear()
    send_message(page, "#slow tell me everything")
    answer = assistant_articles(page).last
    expect(answer.locator(".markdown")).to_contain_text("word3")
    page.get_by_role("button", name="Stop").click()
    expect(answer).to_have_attribute("data-status", "stopped")
    expect(answer.get_by_text("Stopped.")).to_be_visible()
    # moat saw the client go and stopped reading the model's stream.
    assert web.rec.slow_cut.wait(60), "the upstream stream was not cut"
    shown = answer.locator(".markdown").inner_text()
    page.wait_for_timeout(1000)
    assert answer.locator(".markdown").inner_text() == shown, "text kept arriving after Stop"
    # Send works again, and New chat starts afresh.
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()
    page.get_by_role("button", name="New chat").click()
    expect(page.locator("article")).to_have_count(0)


def test_reasoning_folds_away_and_code_is_highlighted(web, web_browser):
    page = web_browser.page(web.base_url)
    sign_in(page, web.admin_key)
    page.get_by_label("Model").select_option("scripted")
    send_message(page, "#think what is six times seven")
    wait_for_answer(page)
    answer = assistant_articles(page).last
    reasoning = answer.locator("details.reasoning")
    expect(reasoning.locator("summary")).to_have_text("Reasoning")
    expect(reasoning.get_by_text("Weighing the options.")).to_be_hidden()
    reasoning.locator("summary").click()
    expect(reasoning.get_by_text("Weighing the options.")).to_be_visible()
    expect(answer.locator(".markdown strong")).to_have_text("42")
    assert "<think>" not in answer.inner_text()

    send_message(page, "#hostile show me code")
    wait_for_answer(page)
    code = assistant_articles(page).last.locator("pre[data-language=python] code")
    expect(code.locator(".hljs-keyword").first).to_have_text("def")


def test_the_model_picker_offers_only_the_callers_models(web, web_browser):
    page = web_browser.page(web.base_url)
    sign_in(page, web.key("reader", "reader"))
    options = page.get_by_label("Model").locator("option")
    expect(options).to_have_count(1)
    expect(options).to_have_text("SmolLM2-135M-Instruct.Q4_1")
    # Not an administrator: no admin pages in the menu.
    menu = page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link", name="Chat")).to_be_visible()
    expect(menu.get_by_role("link", name="Keys")).to_have_count(0)
    expect(menu.get_by_role("link", name="Audit")).to_have_count(0)
