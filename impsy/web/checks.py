"""The checks every request goes through before its handler, as a bottle plugin.

In order: the host name (against DNS rebinding), the password; then, for anything that changes
state, the body's size, the origin, the CSRF token and the performance lock.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlparse

import bottle

from impsy.web.handling import Handling, Refused
from impsy.web.passwords import Busy, Throttled
from impsy.web.security import AUTH_COOKIE, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE
from impsy.web.system import human_bytes


class Checks:
    """A bottle plugin; a route's config says what it is spared: `public` (no password needed),
    `lock_ok` (allowed under the performance lock), `max_body` (its own body limit)."""

    name = "impsy-checks"
    api = 2

    def __init__(self, ui: Handling) -> None:
        self.ui = ui

    def apply(self, callback: Callable, route: bottle.Route) -> Callable:
        config = route.config
        public = bool(config.get("public"))
        lock_ok = bool(config.get("lock_ok"))
        max_body = int(config.get("max_body") or self.ui.settings.limits.form)

        def checked(*args, **kwargs):
            ui = self.ui
            try:
                self.check(public, lock_ok, max_body)
                return callback(*args, **kwargs)
            except Refused as refused:
                return ui.refuse(refused.status, refused.message)

        return checked

    def check(self, public: bool, lock_ok: bool, max_body: int) -> None:
        ui, request = self.ui, bottle.request
        guard = ui.guard
        if not guard.host_ok(request.get_header("Host")):
            raise Refused(
                403,
                f"this web UI does not answer to the name {request.get_header('Host')!r} "
                "(start it with --allow-host NAME to allow it)",
            )
        ui.session()
        if not public and not self.logged_in():
            if request.method == "GET" and not ui.wants_json():
                here = request.fullpath + (f"?{request.query_string}" if request.query_string else "")
                raise bottle.HTTPResponse(
                    status=303, headers={"Location": "/login?next=" + quote(here, safe="/")}
                )
            raise Refused(401, "log in first: this web UI has a password")
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if "chunked" in request.get_header("Transfer-Encoding", "").lower():
            raise Refused(411, "send the length of the body (Content-Length), not chunks")
        length = request.environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit():
            raise Refused(400, "Content-Length is not a number")
        if int(length) > max_body:
            raise Refused(413, f"too large: the most this accepts is {human_bytes(max_body)}")
        origin = request.get_header("Origin")
        if origin and origin != "null":
            host = request.get_header("Host", "")
            if urlparse(origin).netloc.lower() != host.lower():
                raise Refused(403, f"refused a request sent from another site ({origin})")
        token = request.get_header(CSRF_HEADER)
        if token is None and request.content_type.startswith("application/x-www-form-urlencoded"):
            token = request.forms.get(CSRF_FIELD)
        if not guard.csrf_ok(request.get_cookie(SESSION_COOKIE), token):
            raise Refused(
                403,
                "this form was out of date or came from elsewhere (its security token did not match): "
                "reload the page and try again",
            )
        if guard.locked and not lock_ok:
            raise Refused(
                423,
                "the performance lock is on: unlock it on the Commands page to change anything",
            )

    def logged_in(self) -> bool:
        guard, request = self.ui.guard, bottle.request
        if not guard.password_required:
            return True
        if guard.login_ok(request.get_cookie(AUTH_COOKIE)):
            return True
        header = request.get_header("Authorization")
        if not header:
            return False
        try:
            return guard.basic_ok(header, peer())
        except Throttled:  # said as such, not as "wrong password"
            raise Refused(429, "too many wrong passwords: wait a minute and try again") from None
        except Busy:
            raise Refused(503, BUSY) from None


BUSY = "too many passwords are being checked right now: try again in a moment"


def peer() -> str:
    """The address of the socket the request came on; never X-Forwarded-For or any other
    header a client writes itself (bottle's remote_addr believes those)."""
    return bottle.request.environ.get("REMOTE_ADDR") or ""
