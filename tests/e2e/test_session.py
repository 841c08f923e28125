"""Web UI sessions through the real binary: a key exchanged for a cookie,
the cookie acting as the key, writes refused without the CSRF token,
sign-out ending the session, and sign-ins in the audit log."""

from __future__ import annotations

import httpx

from support import MoatServer


def test_a_key_signs_in_and_the_cookie_works_until_sign_out(server: MoatServer):
    with httpx.Client(base_url=server.base_url, timeout=60) as browser:
        wrong = browser.post("/v1/moat/session", json={"api_key": "moat_" + "q" * 43})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        assert "moat_session" not in browser.cookies

        signed_in = browser.post("/v1/moat/session", json={"api_key": server.admin_key})
        assert signed_in.status_code == 200, signed_in.text
        set_cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie, set_cookie
        session = signed_in.json()
        assert session["object"] == "moat.session" and session["permissions"]["admin"] is True
        csrf = session["csrf_token"]

        models = browser.get("/v1/models")
        assert models.status_code == 200, models.text
        model = models.json()["data"][0]["id"]
        # A write without the CSRF token does nothing.
        body = {"model": model, "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]}
        refused = browser.post("/v1/chat/completions", json=body)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_token_invalid"
        chat = browser.post("/v1/chat/completions", json=body, headers={"X-CSRF-Token": csrf})
        assert chat.status_code == 200, chat.text

        # The audit log names the key behind the session for its requests.
        records = browser.get("/admin/audit", params={"limit": 1000})
        assert records.status_code == 200, records.text
        chats = [r for r in records.json()["data"] if r["route"] == "/v1/chat/completions"]
        refused_record = [r for r in chats if r["status"] == 403]
        assert refused_record and refused_record[-1]["error_code"] == "csrf_token_invalid", chats
        assert refused_record[-1]["principal"], "the refused write names the key behind the session"
        sign_ins = [r for r in records.json()["data"] if r["route"] == "/v1/moat/session"]
        assert sorted(r["status"] for r in sign_ins)[:2] == [200, 401], sign_ins

        out = browser.delete("/v1/moat/session", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200 and out.json()["deleted"] is True, out.text
        after = browser.get("/v1/models")
        assert after.status_code == 401, after.text
