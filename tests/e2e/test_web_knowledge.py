"""Knowledge bases in the browser: a grounded answer lists its sources,
linked to the cited file; a file attached from the chat page is added to a
knowledge base and cited in the next answer."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import expect

from web_support import assistant_articles, send_message, set_options, sign_in, wait_for_answer

CANTEEN = "# Canteen\n\nThe canteen serves hotel-style breakfast from seven and lunch from noon.\n"
TRAVEL = "# Travel\n\nThe framework contract HT-2024-5082 with the travel agency covers hotel bookings.\n"


def wait_indexed(http: httpx.Client, store: str, file_id: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        status = http.get(f"/v1/vector_stores/{store}/files/{file_id}").json()["status"]
        if status == "completed":
            return
        assert status == "in_progress" and time.monotonic() < deadline, status
        time.sleep(0.3)


def test_citations_and_attaching_a_file(web, web_browser):
    with web.server.http() as http:
        store = http.post("/v1/vector_stores", json={"name": "handbook"}).json()["id"]
        uploaded = http.post("/v1/files", files={"file": ("canteen.md", CANTEEN.encode())}, data={"purpose": "assistants"})
        canteen = uploaded.json()["id"]
        assert http.post(f"/v1/vector_stores/{store}/files", json={"file_id": canteen}).status_code == 200
        wait_indexed(http, store, canteen)

    page = web_browser.page(web.base_url)
    sign_in(page, web.admin_key)
    page.get_by_label("Model").select_option("scripted")
    set_options(page, temperature=None)
    page.get_by_role("checkbox", name="handbook").check()
    send_message(page, "#cite breakfast when does the canteen serve breakfast?")
    wait_for_answer(page)
    answer = assistant_articles(page).last
    expect(answer.locator(".markdown")).to_contain_text("This is in the handbook [1].")
    sources = answer.get_by_role("region", name="Sources")
    link = sources.get_by_role("link", name="canteen.md")
    expect(link).to_have_attribute("href", f"/v1/files/{canteen}/content")
    expect(sources).to_contain_text("breakfast from seven")

    # Attach a file from the page, then ask about it.
    page.get_by_text("Attach a file").click()
    page.get_by_label("Knowledge base for the file").select_option(label="handbook")
    page.get_by_label("File to attach").set_input_files(
        files=[{"name": "travel.md", "mimeType": "text/markdown", "buffer": TRAVEL.encode()}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("travel.md added to handbook.")).to_be_visible()
    with web.server.http() as http:
        files = http.get(f"/v1/vector_stores/{store}/files").json()["data"]
        names = {f["id"]: http.get(f"/v1/files/{f['id']}").json()["filename"] for f in files}
        travel = next(i for i, n in names.items() if n == "travel.md")
        wait_indexed(http, store, travel)
    send_message(page, "#cite HT-2024-5082 which contract covers hotels?")
    wait_for_answer(page)
    sources = assistant_articles(page).last.get_by_role("region", name="Sources")
    expect(sources.get_by_role("link", name="travel.md")).to_have_attribute("href", f"/v1/files/{travel}/content")
    assert page.errors == []
