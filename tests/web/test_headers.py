"""Every response forbids framing, sniffing and referrers, and lets the page load only its own files."""

from __future__ import annotations

import pytest
from web.helpers import Client

WANTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
CSP = (
    "default-src 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)


def assert_secure(headers) -> None:
    found = {}
    for name, value in headers:
        found.setdefault(name.lower(), []).append(value)
    for name, value in WANTED.items():
        assert found.get(name.lower()) == [value], name
    policy = found.get("content-security-policy")
    assert policy and len(policy) == 1, policy
    parts = [p.strip() for p in policy[0].split(";")]
    for part in CSP:
        assert part in parts
    assert "unsafe-inline" not in policy[0] and "unsafe-eval" not in policy[0]
    assert "*" not in policy[0]


REQUESTS = [
    ("GET", "/"),
    ("GET", "/logs"),
    ("GET", "/config"),
    ("GET", "/static/app.js"),
    ("GET", "/static/style.css"),
    ("GET", "/static/no-such-file.js"),
    ("GET", "/no-such-page"),
    ("GET", "/logs/..%2Fconfig.toml"),
    ("GET", "/api/status"),
    ("GET", "/api/logs/nothing.log"),
    ("GET", "/realtime"),
    ("POST", "/config"),  # no CSRF token: refused
    ("POST", "/api/logs?name=x.log"),
    ("GET", "/backup/download"),
]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_every_response_carries_the_security_headers(client, method, path):
    response = client.request(method, path)
    assert_secure(response.headers)


def test_refusals_of_the_host_name_and_the_password_carry_them_too(ui, workdir):
    assert_secure(Client(ui.app, host="evil.example:4000").get("/").headers)
    from impsy.web.passwords import write_password_hash

    write_password_hash(workdir.state / "password", "secret")
    assert_secure(Client(ui.app).get("/").headers)  # the redirect to /login
    assert_secure(Client(ui.app).get("/api/status").headers)  # 401


def test_a_crash_carries_them_too(ui, client, monkeypatch):
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ui.inventory, "logs", broken)
    response = client.get("/logs")
    assert response.status == 500
    assert_secure(response.headers)


def test_the_live_stream_carries_them(client):
    status, headers, stream = client.stream("/monitor/stream")
    try:
        assert status == 200
        assert_secure(headers)
    finally:
        stream.close()


def test_pages_need_no_inline_script_or_style(client):
    """A strict policy blocks inline code: the pages must work without any."""
    import re

    for path in (
        "/",
        "/monitor",
        "/commands",
        "/config",
        "/config/wizard",
        "/logs",
        "/datasets",
        "/models",
        "/training",
        "/backup",
        "/restart",
        "/no-such-page",
    ):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path
