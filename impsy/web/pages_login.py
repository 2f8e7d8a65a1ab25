"""Logging in and out (only needed when the web UI has a password)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import bottle

from impsy.web.checks import BUSY, peer
from impsy.web.handling import Answer, Handling
from impsy.web.passwords import Busy, Throttled
from impsy.web.security import AUTH_COOKIE
from impsy.web.sessions import LIFETIME

APPLIANCE_WORKDIR = Path("/srv/impsy")  # the SD-card image's working folder


def safe_next(target: str) -> str:
    """Only a path on this site: never //elsewhere or http://elsewhere."""
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


class LoginPages(Handling):
    def login_page(self) -> Answer:
        if not self.guard.password_required:
            return bottle.redirect("/", 303)
        return self.render(
            "login", next=safe_next(bottle.request.query.get("next", "/")), **self.forgotten_password()
        )

    def forgotten_password(self) -> dict:
        """Where to clear the password: this web UI's own folder, named only on the instrument
        (a laptop's folder would tell anyone who opens the login page the user's name)."""
        on_instrument = self.workdir.root.resolve() == APPLIANCE_WORKDIR
        command = "impsy webui --clear-password"
        if on_instrument:
            command += f" --workdir {APPLIANCE_WORKDIR}"
        if self.settings.password_file is not None:
            command += " --password-file FILE"
        return {"clear_command": command, "on_instrument": on_instrument}

    def login(self) -> Answer:
        target = safe_next(bottle.request.forms.get("next", "/"))
        if not self.guard.password_required:
            return bottle.redirect(target, 303)
        try:
            ok = self.guard.check_password(bottle.request.forms.get("password", ""), peer())
        except Throttled:
            return self.refuse(
                429,
                "Too many wrong passwords: wait a minute and try again.",
                "login",
                next=target,
                **self.forgotten_password(),
            )
        except Busy:
            return self.refuse(
                503, BUSY[0].upper() + BUSY[1:] + ".", "login", next=target, **self.forgotten_password()
            )
        if not ok:
            return self.refuse(401, "Wrong password.", "login", next=target, **self.forgotten_password())
        bottle.response.set_cookie(
            AUTH_COOKIE,
            self.guard.login(),
            path="/",
            httponly=True,
            samesite="lax",
            max_age=int(LIFETIME),
        )
        return bottle.redirect(target, 303)

    def logout(self) -> Answer:
        self.guard.logout(bottle.request.get_cookie(AUTH_COOKIE))
        bottle.response.delete_cookie(AUTH_COOKIE, path="/")
        return bottle.redirect("/login" if self.guard.password_required else "/", 303)
