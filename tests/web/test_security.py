"""CSRF, the origin and host checks, the optional password, the performance lock, body limits."""

from __future__ import annotations

import base64
import json
import re

import pytest
from web.helpers import Client

from impsy.web import sessions
from impsy.web.passwords import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    Throttle,
    hash_password,
    verify_password,
    write_password_hash,
)
from impsy.web.sessions import Sessions
from impsy.web.settings import Limits

CSRF_MESSAGE = (
    "this form was out of date or came from elsewhere (its security token did not match): "
    "reload the page and try again"
)
LOCK_MESSAGE = "the performance lock is on: unlock it on the Commands page to change anything"

# Every state-changing route, with the lock exempt ones marked.
ACTIONS = [
    ("/logout", True),
    ("/login", True),
    ("/commands/mode", True),
    ("/api/commands/mode", True),
    ("/lock", True),
    ("/config", False),
    ("/config/previous", False),
    ("/config/wizard", False),
    ("/logs/2026-01-01T10-00-00-4d-mdrnn.log/delete", False),
    ("/datasets/build", False),
    ("/datasets/training-dataset-4d.npz/delete", False),
    ("/models/a.tflite/delete", False),
    ("/models/a.tflite/activate", False),
    ("/training/start", False),
    ("/training/finetune", False),
    ("/training/stop", False),
    ("/restart", False),
    ("/api/logs?name=2026-01-01T10-00-00-4d-mdrnn.log", False),
    ("/api/datasets?name=x.npz", False),
    ("/api/models?name=a.tflite", False),
    ("/api/models/a.tflite/activate", False),
    ("/api/restart", False),
    ("/api/backup/restore", False),
]


def error_of(response) -> str:
    """The message of a refusal: JSON for /api/ paths, the page's alert otherwise."""
    if response.header("Content-Type").startswith("application/json"):
        return response.json()["error"]
    match = re.search(r'<p class="message error" role="alert">(.*?)</p>', response.text, re.S)
    assert match, response.text[:500]
    return match[1].replace("&#039;", "'").replace("&quot;", '"').replace("&amp;", "&")


def test_every_route_that_changes_state_is_listed_here(ui):
    routes = {(r.rule, r.method) for r in ui.app.routes if r.method != "GET"}
    listed = {re.sub(r"\?.*", "", path) for path, _ in ACTIONS}
    for rule, method in routes:
        concrete = rule.replace("<name>", "x")
        assert any(re.fullmatch(re.sub(r"<\w+>", "[^/]+", rule), p) for p in listed), (method, concrete)


@pytest.mark.parametrize("path", [p for p, _ in ACTIONS])
def test_a_post_without_the_csrf_token_is_refused(client, path):
    client.get("/")  # a session, as a browser that opened the page has
    response = client.post(path, {"value": "battle"}, csrf=False)
    assert response.status == 403
    assert error_of(response) == CSRF_MESSAGE


@pytest.mark.parametrize("path", [p for p, _ in ACTIONS])
def test_a_post_with_a_wrong_token_is_refused(client, path):
    response = client.post(path, {"value": "battle"}, csrf="0" * 64)
    assert response.status == 403
    assert error_of(response) == CSRF_MESSAGE


def test_a_token_from_another_session_is_refused(ui, client):
    other = Client(ui.app)
    stolen = other.token()
    response = client.post("/commands/mode", {"value": "battle"}, csrf=stolen)
    assert response.status == 403
    assert error_of(response) == CSRF_MESSAGE
    assert ui.link.sent == []


def test_a_token_without_its_session_cookie_is_refused(ui, client):
    token = client.token()
    client.cookies.clear()
    response = client.post("/commands/mode", {"value": "battle"}, csrf=token)
    assert response.status == 403
    assert ui.link.sent == []


def test_the_token_is_accepted_as_a_header_too(ui, client):
    token = client.token()
    response = client.request(
        "POST",
        "/api/commands/mode",
        json.dumps({"value": "battle"}).encode(),
        {"Content-Type": "application/json", "X-CSRF-Token": token},
    )
    assert response.status == 200
    assert ui.link.sent == [("mode", "battle")]


def test_a_request_from_another_site_is_refused_even_with_a_token(ui, client):
    response = client.post("/commands/mode", {"value": "battle"}, headers={"Origin": "http://evil.example"})
    assert response.status == 403
    assert error_of(response) == "refused a request sent from another site (http://evil.example)"
    assert ui.link.sent == []


def test_the_same_origin_is_accepted(ui, client):
    response = client.post("/commands/mode", {"value": "battle"}, headers={"Origin": "http://127.0.0.1:4000"})
    assert response.status == 303


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:4000",
        "169.254.1.1:4000",
        "[::1]:4000",
        "localhost:4000",
        "impsypi.local:4000",
        "impsypi.local",
    ],
)
def test_addresses_and_local_names_are_answered(ui, host):
    assert Client(ui.app, host=host).get("/").status == 200


@pytest.mark.parametrize("host", ["evil.example:4000", "attacker.com", "impsypi.local.evil.com"])
def test_other_host_names_are_refused_against_dns_rebinding(ui, host):
    response = Client(ui.app, host=host).get("/api/status")
    assert response.status == 403
    assert response.json() == {
        "error": f"this web UI does not answer to the name {host!r} "
        "(start it with --allow-host NAME to allow it)"
    }


def test_allow_host_adds_a_name(make_ui):
    ui, _ = make_ui(allowed_hosts=("impsy.lan",))
    assert Client(ui.app, host="impsy.lan:4000").get("/").status == 200
    assert Client(ui.app, host="IMPSY.LAN.").get("/").status == 200


# ---- Body limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, limit_name",
    [
        ("/api/logs?name=2026-01-01T10-00-00-4d-mdrnn.log", "log"),
        ("/api/datasets?name=x.npz", "dataset"),
        ("/api/models?name=a.tflite", "model"),
        ("/api/backup/restore", "backup"),
        ("/commands/mode", "form"),
    ],
)
def test_a_body_over_the_limit_is_refused_before_it_is_read(make_ui, workdir, path, limit_name):
    limits = Limits(form=2000, log=1000, dataset=1000, model=1000, backup=1000)
    _, client = make_ui(limits=limits)
    limit = getattr(limits, limit_name)
    token = client.token()
    response = client.request(
        "POST",
        path,
        b"x" * (limit + 1),
        {"Content-Type": "application/octet-stream", "X-CSRF-Token": token},
    )
    assert response.status == 413
    shown = f"{limit / 1024:.1f} KB" if limit >= 1024 else f"{limit} bytes"
    assert error_of(response) == f"too large: the most this accepts is {shown}"
    assert not any(p.name.startswith(".upload-") for p in workdir.root.rglob("*"))


def test_a_config_over_its_limit_is_refused(make_ui):
    _, client = make_ui(limits=Limits(config=100))
    response = client.post("/config", {"text": "# " + "x" * 200})
    assert response.status == 413
    assert error_of(response) == "a config may be at most 100 bytes"


def test_a_config_just_under_its_limit_is_accepted_however_the_form_encodes_it(make_ui, workdir):
    _, client = make_ui()
    limit = Limits().config
    padding = (limit - len(workdir.config.read_bytes()) - 10) // 5  # "é[]\"" is 5 bytes
    text = workdir.config.read_text() + "# " + 'é[]"' * padding + "\n"
    assert len(text.encode()) <= limit  # but nearly three times that once form-encoded
    response = client.post("/config", {"text": text, "action": "save"})
    assert response.status == 200 and "Saved config.toml" in response.text
    assert workdir.config.read_text() == text


def test_a_chunked_body_is_refused(client):
    token = client.token()
    response = client.request(
        "POST",
        "/api/models?name=a.tflite",
        b"",
        {"Transfer-Encoding": "chunked", "X-CSRF-Token": token},
    )
    assert response.status == 411
    assert response.json() == {"error": "send the length of the body (Content-Length), not chunks"}


# ---- The performance lock ------------------------------------------------------------------------


@pytest.mark.parametrize("path, exempt", ACTIONS)
def test_the_lock_makes_everything_but_commands_read_only(ui, client, path, exempt):
    ui.guard.set_locked(True)
    response = client.post(path, {"value": "battle", "locked": "on"})
    if exempt:
        assert response.status != 423
    else:
        assert response.status == 423
        assert error_of(response) == LOCK_MESSAGE


def test_commands_still_work_under_the_lock(ui, client):
    ui.guard.set_locked(True)
    response = client.post("/commands/mode", {"value": "battle"})
    assert response.status == 303
    assert ui.link.sent == [("mode", "battle")]


def test_locking_and_unlocking(ui, client, workdir):
    response = client.post("/lock", {"locked": "on"})
    assert response.status == 303 and response.location == "/commands"
    assert ui.guard.locked
    assert json.loads((workdir.state / "lock.json").read_text()) == {"locked": True}
    page = client.get("/config").text
    assert "Performance lock is on." in page
    assert re.search(r"<textarea[^>]*readonly", page)
    assert client.post("/lock", {"locked": "off", "next": "/config"}).location == "/config"
    assert not ui.guard.locked


def test_the_lock_survives_a_restart_of_the_web_ui(make_ui):
    ui, _ = make_ui()
    ui.guard.set_locked(True)
    again, client = make_ui()
    assert again.guard.locked
    assert client.post("/config", {"text": ""}).status == 423


def test_lock_needs_on_or_off(client):
    response = client.post("/lock", {"locked": "maybe"})
    assert response.status == 400
    assert error_of(response) == "locked: expected on or off"


def test_lock_never_redirects_elsewhere(client):
    assert client.post("/lock", {"locked": "on", "next": "https://evil.example/"}).location == "/"
    assert client.post("/lock", {"locked": "off", "next": "//evil.example/"}).location == "/"


# ---- The password ----------------------------------------------------------------------------------


@pytest.fixture
def with_password(workdir):
    write_password_hash(workdir.state / "password", "sesame")
    return "sesame"


def test_without_a_password_everything_is_open(client):
    assert client.get("/").status == 200
    assert client.get("/login").status == 303


def test_with_a_password_pages_redirect_to_the_login(client, with_password):
    response = client.get("/models?x=1")
    assert response.status == 303
    assert response.location == "/login?next=/models%3Fx%3D1"
    assert client.get("/login").status == 200
    assert client.get("/static/style.css").status == 200


def test_with_a_password_the_api_answers_401(client, with_password):
    response = client.get("/api/status")
    assert response.status == 401
    assert response.json() == {"error": "log in first: this web UI has a password"}
    assert client.get("/monitor/stream").status == 303


def test_logging_in_and_out(client, with_password):
    response = client.post("/login", {"password": "sesame", "next": "/models"})
    assert response.status == 303 and response.location == "/models"
    assert client.get("/models").status == 200
    assert client.post("/logout").location == "/login"
    assert client.get("/models").status == 303


def test_a_wrong_password_is_refused(client, with_password):
    response = client.post("/login", {"password": "open", "next": "/"})
    assert response.status == 401
    assert error_of(response) == "Wrong password."
    assert client.get("/").status == 303


def test_login_never_redirects_to_another_site(client, with_password):
    response = client.post("/login", {"password": "sesame", "next": "https://evil.example/"})
    assert response.location == "/"


def test_too_many_wrong_passwords_are_throttled(client, with_password):
    for _ in range(MAX_FAILURES):
        assert client.post("/login", {"password": "wrong"}).status == 401
    response = client.post("/login", {"password": "sesame"})
    assert response.status == 429
    assert error_of(response) == "Too many wrong passwords: wait a minute and try again."


def test_basic_auth_works_for_the_command_line_tools(client, with_password):
    good = "Basic " + base64.b64encode(b"impsy:sesame").decode()
    bad = "Basic " + base64.b64encode(b"impsy:open").decode()
    assert client.get("/api/status", headers={"Authorization": good}).status == 200
    assert client.get("/api/status", headers={"Authorization": bad}).status == 401
    assert client.get("/api/status", headers={"Authorization": "Basic !!!"}).status == 401


def test_changing_the_password_logs_everyone_out(client, with_password, workdir):
    client.post("/login", {"password": "sesame"})
    assert client.get("/").status == 200
    write_password_hash(workdir.state / "password", "another")
    assert client.get("/").status == 303


def test_a_forged_login_cookie_is_refused(client, with_password):
    client.cookies["impsy_auth"] = "9999999999.deadbeef"
    assert client.get("/").status == 303
    client.cookies["impsy_auth"] = "garbage"
    assert client.get("/").status == 303


def test_the_password_is_stored_as_a_salted_scrypt_hash(workdir, with_password):
    stored = (workdir.state / "password").read_text().strip()
    assert "sesame" not in stored
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("sesame", stored)
    assert not verify_password("Sesame", stored)
    assert hash_password("sesame") != hash_password("sesame")  # salted
    assert (workdir.state / "password").stat().st_mode & 0o777 == 0o640  # the service user reads it


def test_an_unreadable_password_file_locks_everyone_out(client, workdir):
    (workdir.state / "password").mkdir()  # exists, cannot be read as a file
    assert client.get("/").status == 303
    assert client.post("/login", {"password": ""}).status == 401
    assert client.get("/api/status", headers={"Authorization": "Basic aW1wc3k6"}).status == 401


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_sessions_end_after_12_hours_idle_or_7_days_in_all():
    clock = Clock()
    kept = Sessions(clock)
    busy, idle = kept.start("pw"), kept.start("pw")
    for _ in range(13):  # one request an hour keeps `busy` alive
        clock.now += 3600
        assert kept.valid(busy, "pw")
    assert not kept.valid(idle, "pw")  # 13 hours without a request
    started = clock.now - 13 * 3600
    while clock.now + 11 * 3600 < started + sessions.LIFETIME:
        clock.now += 11 * 3600
        assert kept.valid(busy, "pw")
    clock.now = started + sessions.LIFETIME + 1
    assert not kept.valid(busy, "pw")  # a week after the login, however busy


def test_sessions_are_bounded_and_the_least_recently_used_goes():
    clock = Clock()
    kept = Sessions(clock)
    first = kept.start("pw")
    for _ in range(sessions.MAX_SESSIONS * 3):
        clock.now += 1
        kept.valid(first, "pw")
        kept.start("pw")
    assert len(kept) == sessions.MAX_SESSIONS
    assert kept.valid(first, "pw")


def test_a_session_of_another_password_is_not_valid():
    kept = Sessions()
    token = kept.start("old")
    assert not kept.valid(token, "new")
    assert not kept.valid(token, "old")  # and it is gone


def test_logging_out_ends_the_session_on_the_server(client, with_password):
    client.post("/login", {"password": "sesame"})
    cookie = client.cookies["impsy_auth"]
    assert client.get("/").status == 200
    client.post("/logout")
    client.cookies["impsy_auth"] = cookie  # a copy of the cookie, kept by someone
    assert client.get("/").status == 303
    assert client.get("/api/status").status == 401


def test_changing_the_password_ends_sessions_even_with_the_same_password(client, with_password, workdir):
    client.post("/login", {"password": "sesame"})
    cookie = client.cookies["impsy_auth"]
    write_password_hash(workdir.state / "password", "sesame")
    client.cookies["impsy_auth"] = cookie
    assert client.get("/").status == 303


def test_the_login_cookie_is_a_random_name_that_lasts_a_week(client, with_password):
    response = client.post("/login", {"password": "sesame"})
    cookie = next(v for k, v in response.headers if k == "Set-Cookie" and v.startswith("impsy_auth="))
    assert f"max-age={7 * 86400}" in cookie.lower()
    assert "httponly" in cookie.lower()


def test_throttle_forgets_old_failures():
    clock = Clock(100.0)
    throttle = Throttle(clock)
    for _ in range(MAX_FAILURES):
        throttle.check("10.0.0.9", lambda: False)
    assert throttle.throttled("10.0.0.9")
    clock.now += FAILURE_WINDOW + 1
    assert not throttle.throttled("10.0.0.9")


def test_x_forwarded_for_does_not_buy_more_guesses(client, with_password):
    """The throttle counts the socket's peer address, never one a request claims for itself."""
    for n in range(MAX_FAILURES):
        headers = {"X-Forwarded-For": f"10.9.9.{n}", "X-Real-IP": f"10.8.8.{n}"}
        assert client.post("/login", {"password": "guess"}, headers=headers).status == 401
    for n in range(3):
        headers = {"X-Forwarded-For": f"10.7.7.{n}"}
        assert client.post("/login", {"password": "sesame"}, headers=headers).status == 429
        basic = "Basic " + base64.b64encode(b"impsy:guess").decode()
        response = client.get("/api/status", headers={**headers, "Authorization": basic})
        assert response.status == 429


def test_parallel_guesses_from_one_peer_get_no_more_than_the_limit(client, with_password):
    import threading

    answers = []

    def guess() -> None:
        answers.append(Client(client.app).post("/login", {"password": "guess"}).status)

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(401) <= MAX_FAILURES
    assert set(answers) <= {401, 429, 503}


def test_one_client_guessing_does_not_lock_out_another(client, with_password):
    stranger = Client(client.app, remote="10.0.0.66")  # someone else on the venue's network
    for _ in range(MAX_FAILURES):
        assert stranger.post("/login", {"password": "guess"}).status == 401
    assert stranger.post("/login", {"password": "sesame"}).status == 429
    assert client.post("/login", {"password": "sesame"}).status == 303  # the owner, on the cable


def test_session_cookie_is_http_only(client):
    response = client.get("/")
    cookie = next(v for k, v in response.headers if k == "Set-Cookie" and v.startswith("impsy_session="))
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
