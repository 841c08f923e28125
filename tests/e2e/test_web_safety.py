"""A model answer written to run script in the page (raw HTML with event
handlers, script and iframe tags, javascript: links, markdown images) runs
nothing: it is shown as text, sanitized, under a CSP without inline
script, live and again when the conversation is loaded from the server.
The user's own text is never markup either."""

from __future__ import annotations

from playwright.sync_api import expect

from web_support import assistant_articles, send_message, sign_in, wait_for_answer

# Anything in the chat that could run script or load something.
DANGEROUS = """() => {
    const found = [];
    for (const el of document.querySelectorAll('#app *')) {
        for (const attr of el.attributes) {
            const value = attr.value.trim().toLowerCase();
            if (attr.name.startsWith('on') || value.startsWith('javascript:')) found.push(el.tagName + ' ' + attr.name);
        }
    }
    for (const el of document.querySelectorAll('#app script, #app iframe, #app img, #app object, #app embed, .messages svg')) {
        found.push(el.tagName);
    }
    return found;
}"""


def assert_nothing_ran(page) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate(DANGEROUS) == []
    assert page.errors == []


def test_a_hostile_answer_runs_nothing(web, web_browser):
    page = web_browser.page(web.base_url)
    sign_in(page, web.admin_key)
    page.get_by_label("Model").select_option("scripted")
    send_message(page, "#hostile <img src=x onerror=\"window.__pwned='user'\">")
    wait_for_answer(page)
    answer = assistant_articles(page).last
    # Shown as text, not markup.
    expect(answer).to_contain_text("<img src=x onerror=")
    expect(answer).to_contain_text("<script>window.__pwned='script'</script>")
    expect(page.locator("article[data-role=user]").last).to_contain_text("<img src=x onerror=")
    # The javascript: link lost its target; the code block is still code.
    expect(answer.get_by_text("click me")).not_to_have_attribute("href", "javascript:window.__pwned='link'")
    expect(answer.locator("pre code")).to_contain_text("def greet(name):")
    # Clicking everything that looks clickable runs nothing either.
    for link in answer.locator("a").all():
        link.click(modifiers=["Alt"], no_wait_after=True)
    page.wait_for_timeout(500)
    assert_nothing_ran(page)

    # The same answer from the server, after a reload.
    page.reload()
    expect(assistant_articles(page).last).to_contain_text("<svg onload=")
    nav = page.get_by_role("navigation", name="Conversations")
    expect(nav.get_by_role("link").first).to_contain_text("#hostile <img")
    assert_nothing_ran(page)
