"""Single sign-on to the web UI through a real OpenID provider on
loopback: the authorization code flow with PKCE (S256). The provider here
is a small one written for the test (discovery, JWKS, a sign-in page, a
token endpoint that checks the code verifier, EdDSA-signed ID tokens with
the nonce); the browser is Debian's chromium. Groups map to roles as for
bearer tokens; a forged or replayed callback, a wrong verifier and a
refused sign-in end on the sign-in page, without a session."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Iterator
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import expect

from support import MoatServer, send, serve, smol_gguf

CLIENT_ID = "moat-ui"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Provider:
    """What the provider saw, and what it is told to do."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    issuer: str = ""
    requests: dict[str, dict] = field(default_factory=dict)
    codes: dict[str, dict] = field(default_factory=dict)
    token_calls: list[dict] = field(default_factory=list)
    user: str = "alice"
    groups: list[str] = field(default_factory=lambda: ["analysts"])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def jwks(self) -> dict:
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(public), "kid": "k1", "alg": "EdDSA", "use": "sig"}]}

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        header = {"alg": "EdDSA", "typ": "JWT", "kid": "k1"}
        claims = {"iss": self.issuer, "sub": self.user, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": nonce, "groups": self.groups}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        return f"{signing_input}.{b64url(self.key.sign(signing_input.encode()))}"


def start_provider(provider: Provider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                body = {"issuer": provider.issuer, "jwks_uri": f"{provider.issuer}/jwks",
                        "authorization_endpoint": f"{provider.issuer}/authorize",
                        "token_endpoint": f"{provider.issuer}/token"}
                send(self, "application/json", json.dumps(body).encode())
            elif url.path == "/jwks":
                send(self, "application/json", json.dumps(provider.jwks()).encode())
            elif url.path == "/authorize":
                request_id = secrets.token_urlsafe(8)
                with provider.lock:
                    provider.requests[request_id] = query
                page = (f"<!doctype html><title>Provider</title><h1>Sign in to the provider</h1>"
                        f"<a href='/approve?id={request_id}'>Continue as {provider.user}</a> "
                        f"<a href='/deny?id={request_id}'>Cancel</a>")
                send(self, "text/html", page.encode())
            elif url.path in ("/approve", "/deny"):
                with provider.lock:
                    request = provider.requests.pop(query["id"])
                if url.path == "/deny":
                    target = {"error": "access_denied", "state": request["state"]}
                else:
                    code = secrets.token_urlsafe(16)
                    with provider.lock:
                        provider.codes[code] = request
                    target = {"code": code, "state": request["state"]}
                self.send_response(302)
                self.send_header("Location", f"{request['redirect_uri']}?{urlencode(target)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                send(self, "text/plain", b"not found", 404)

        def do_POST(self) -> None:
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
            with provider.lock:
                provider.token_calls.append(form)
                request = provider.codes.pop(form.get("code", ""), None)
            challenge = b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
            good = (
                request is not None
                and form.get("grant_type") == "authorization_code"
                and form.get("client_id") == CLIENT_ID
                and form.get("redirect_uri") == request["redirect_uri"]
                and request.get("code_challenge_method") == "S256"
                and challenge == request["code_challenge"]
            )
            if not good:
                send(self, "application/json", b'{"error": "invalid_grant"}', 400)
                return
            body = {"access_token": "opaque", "token_type": "Bearer", "id_token": provider.id_token(request["nonce"])}
            send(self, "application/json", json.dumps(body).encode())

    return serve(Handler)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sso(tmp_path_factory) -> Iterator[tuple[MoatServer, Provider]]:
    provider = Provider()
    idp, idp_port = start_provider(provider)
    provider.issuer = f"http://127.0.0.1:{idp_port}"
    port = free_port()
    workdir = tmp_path_factory.mktemp("moat-web-sso")
    (workdir / "moat.toml").write_text(f"""
[auth.oidc]
issuer = "{provider.issuer}"
audience = ["{CLIENT_ID}"]
client_id = "{CLIENT_ID}"
redirect_url = "http://127.0.0.1:{port}/v1/moat/session/oidc/callback"
algorithms = ["EdDSA"]
roles_claim = "groups"
role_map = {{ analysts = ["user"], auditors = ["auditors"] }}

[[roles]]
name = "auditors"
models = ["*"]
auditor = true
""")
    server = MoatServer(workdir, [smol_gguf()], ["--config", "moat.toml", "--parallel", "1"], listen=f"127.0.0.1:{port}")
    yield server, provider
    server.stop()
    idp.shutdown()


def no_session(page) -> bool:
    return not any(c["name"] == "moat_session" for c in page.context.cookies())


def test_signing_in_through_the_provider(sso, web_browser):
    server, provider = sso
    page = web_browser.page(server.base_url)
    page.goto("/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    expect(page.get_by_role("heading", name="Sign in to the provider")).to_be_visible()
    # What the provider was asked: a code, with an S256 challenge, for moat's callback.
    asked = next(iter(provider.requests.values()))
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["redirect_uri"] == f"{server.base_url}/v1/moat/session/oidc/callback"
    assert "openid" in asked["scope"].split() and asked["nonce"] and asked["state"]
    page.get_by_role("link", name="Continue as alice").click()
    page.get_by_role("button", name="Sign out").wait_for()
    assert page.evaluate("fetch('/v1/moat/session').then(r => r.json()).then(s => s.principal.id)") == "oidc:alice"
    # The verifier went to the token endpoint, never in a URL.
    verifier = provider.token_calls[-1]["code_verifier"]
    assert verifier not in json.dumps(asked)
    # A user: no admin console.
    expect(page.get_by_role("link", name="Keys")).to_have_count(0)
    session = next(c for c in page.context.cookies() if c["name"] == "moat_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert not any(c["name"] == "moat_sign_in" and c["value"] for c in page.context.cookies())
    assert page.errors == []

    # Groups map to roles: an auditor gets the audit page.
    provider.groups = ["auditors"]
    other = web_browser.page(server.base_url)
    other.goto("/")
    other.get_by_role("link", name="Sign in with single sign-on").click()
    other.get_by_role("link", name="Continue as alice").click()
    expect(other.get_by_role("link", name="Audit")).to_be_visible()
    provider.groups = ["analysts"]


def test_a_refused_or_forged_sign_in_gives_no_session(sso, web_browser):
    server, provider = sso
    page = web_browser.page(server.base_url)
    page.goto("/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("alert")).to_contain_text("Single sign-on did not work")
    assert no_session(page)

    with httpx.Client(base_url=server.base_url, follow_redirects=False) as http:
        # A callback this browser never started (no sign-in cookie).
        forged = http.get("/v1/moat/session/oidc/callback", params={"code": "x", "state": "y"})
        assert forged.status_code == 302 and forged.headers["location"] == "/?sign_in_failed=1"
        assert "moat_session" not in forged.headers.get("set-cookie", "")
        # A started sign-in, then the provider's answer with another state.
        started = http.get("/v1/moat/session/oidc/start")
        assert started.status_code == 302
        cookie = started.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/v1/moat/session/oidc" in cookie
        wrong_state = http.get("/v1/moat/session/oidc/callback", params={"code": "x", "state": "not-it"})
        assert wrong_state.headers["location"] == "/?sign_in_failed=1"
        # A failed callback ended that sign-in (its cookie is cleared):
        # start again, and send the real state with a code the provider
        # never issued; the token endpoint says no.
        assert "moat_sign_in" not in http.cookies
        started = http.get("/v1/moat/session/oidc/start")
        state = parse_qs(urlparse(started.headers["location"]).query)["state"][0]
        bad_code = http.get("/v1/moat/session/oidc/callback", params={"code": "never-issued", "state": state})
        assert bad_code.headers["location"] == "/?sign_in_failed=1"
        assert provider.token_calls[-1]["code"] == "never-issued"
        assert http.get("/v1/moat/session").status_code == 401
        methods = http.get("/v1/moat/session/methods").json()
        assert methods == {"object": "moat.session.methods", "api_key": True, "single_sign_on": True}
