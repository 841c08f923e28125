"""The web UI's page from the real binary: served without credentials, with
the strict security headers, and asset paths that cannot leave its folder."""

from __future__ import annotations

import httpx

from support import MoatServer


def test_the_page_has_strict_headers_and_assets_stay_in_their_folder(server: MoatServer):
    with httpx.Client(base_url=server.base_url, timeout=30) as anonymous:
        page = anonymous.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        for path in ["/assets/../../Cargo.toml", "/assets/%2e%2e/%2e%2e/Cargo.toml", "/assets/missing.js"]:
            refused = anonymous.get(path)
            assert refused.status_code == 404, path
            assert "[workspace]" not in refused.text
        # The API behind it still wants a key.
        assert anonymous.get("/v1/models").status_code == 401
