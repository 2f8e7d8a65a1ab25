"""What every route handler shares: the session and its CSRF token, pages and answers, refusals,
form numbers and streamed uploads.

`Handling` is the base of the page classes (pages_*.py, api.py); `WebUI` (app.py) combines them
and sets the attributes declared here.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import bottle

from impsy import __version__
from impsy.config import Config
from impsy.web.configtext import ShownProblem, check_text
from impsy.web.inventory import Inventory
from impsy.web.jobs import Jobs
from impsy.web.link import Link
from impsy.web.paths import CONFIG, KINDS, PART, Refused, Workdir, check_name, part_file
from impsy.web.security import AUTH_COOKIE, SESSION_COOKIE, Guard
from impsy.web.settings import DISK_RESERVE, MB, Settings
from impsy.web.streams import Streams
from impsy.web.system import human_bytes, human_duration, human_number

VIEWS = str(Path(__file__).resolve().parent / "views")
DRAIN_LIMIT = 64 * MB  # a refused upload up to this size is read to its end before answering
FLASH_COOKIE = "impsy_flash"
RESTART_TIMEOUT = 60.0  # seconds for the restart command


# What a handler returns: a page, JSON (a dict), a file or redirect, or a stream of text.
Answer = str | dict | bottle.HTTPResponse | Iterator[str]


def sse(event: str, data: object) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def start_event_stream() -> None:
    bottle.response.content_type = "text/event-stream"
    bottle.response.set_header("Cache-Control", "no-cache")


def start_attachment(filename: str, content_type: str) -> None:
    """Headers for a download the browser saves as `filename`."""
    bottle.response.content_type = content_type
    bottle.response.set_header("Content-Disposition", f'attachment; filename="{filename}"')


class Handling:
    """The request helpers of the web UI; the attributes are set by `WebUI.__init__`."""

    settings: Settings
    workdir: Workdir
    guard: Guard
    link: Link
    inventory: Inventory
    jobs: Jobs
    streams: Streams
    training: bool
    _config_mutex: threading.Lock  # held while config.toml is read and rewritten

    # ---- the working folder's config ---------------------------------------------------------------

    def checked_config(self) -> tuple[Config | None, str | None, list[ShownProblem]]:
        """The working folder's config (None if missing or invalid), its text and its problems."""
        try:
            text = self.workdir.config.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return None, None, []
        config, problems = check_text(text, CONFIG)
        return config, text, problems

    def read_config(self) -> tuple[Config | None, str | None]:
        """The working folder's config (None if missing or invalid) and its text."""
        config, text, _ = self.checked_config()
        return config, text

    def recording(self) -> str | None:
        """The name of the log `impsy run` is writing right now, if it is running."""
        status = self.link.status()
        current = (status["state"] or {}).get("log") if status["alive"] else None
        return Path(current).name if current else None

    def writing_now(self, name: str) -> bool:
        """Is `impsy run` writing this log right now?"""
        return self.recording() == name

    # ---- session -----------------------------------------------------------------------------------

    def session(self) -> str:
        sid = bottle.request.environ.get("impsy.session")
        if sid:
            return sid
        sid = bottle.request.get_cookie(SESSION_COOKIE)
        if not sid or len(sid) > 64:
            sid = self.guard.new_session()
            bottle.response.set_cookie(SESSION_COOKIE, sid, path="/", httponly=True, samesite="lax")
        bottle.request.environ["impsy.session"] = sid
        return sid

    def signed_in(self) -> bool:
        """May this browser see the pages? (Without a password, everyone may.)"""
        return not self.guard.password_required or self.guard.login_ok(bottle.request.get_cookie(AUTH_COOKIE))

    def csrf(self) -> str:
        return self.guard.csrf_token(self.session())

    def wants_json(self) -> bool:
        request = bottle.request
        return request.path.startswith("/api/") or "application/json" in request.get_header("Accept", "")

    # ---- answers -----------------------------------------------------------------------------------

    def page_values(self, view: str) -> dict:
        """What every page template is given."""
        return {
            "csrf": self.csrf(),
            "locked": self.guard.locked,
            "password": self.guard.password_required,
            "signed_in": self.signed_in(),
            "version": __version__,
            "run": self.link.status(),
            "flash": None,
            "human_bytes": human_bytes,
            "human_duration": human_duration,
            "human_number": human_number,
            "quote": quote,
            "page": view,
            "path": bottle.request.path,
            "error": None,
            "notice": None,
        }

    def render(self, view: str, status: int = 200, **values) -> bottle.HTTPResponse | str:
        page = self.page_values(view)
        page["flash"] = self.take_flash()
        page.update(values)
        body = bottle.template(view, template_lookup=[VIEWS], **page)
        return self.respond(body, status)

    def respond(self, body: str, status: int, content_type: str | None = None) -> bottle.HTTPResponse | str:
        """A response with this status that keeps the cookies set so far (session, flash)."""
        if status == 200 and content_type is None:
            return body
        self.drain()
        answer = bottle.response.copy(cls=bottle.HTTPResponse)
        answer.status = status
        answer.body = body
        if content_type:
            answer.content_type = content_type
        return answer

    def drain(self) -> None:
        """Read an unread request body (up to a point) so the client sees our answer, not a reset."""
        environ = bottle.request.environ
        if environ.get("impsy.body_read") or "bottle.request.body" in environ:
            return
        environ["impsy.body_read"] = True
        length = environ.get("CONTENT_LENGTH") or "0"
        left = min(int(length), DRAIN_LIMIT) if length.isdigit() else 0
        stream = environ.get("wsgi.input")
        while left > 0 and stream is not None:
            chunk = stream.read(min(left, 256 * 1024))
            if not chunk:
                break
            left -= len(chunk)

    def flash(self, message: str, kind: str = "ok") -> None:
        value = quote(json.dumps({"message": message, "kind": kind}))
        bottle.response.set_cookie(FLASH_COOKIE, value, path="/", httponly=True, samesite="lax")

    def take_flash(self) -> dict | None:
        raw = bottle.request.get_cookie(FLASH_COOKIE)
        if not raw:
            return None
        bottle.response.delete_cookie(FLASH_COOKIE, path="/")
        try:
            data = json.loads(unquote(raw))
            return {"message": str(data["message"]), "kind": str(data.get("kind", "ok"))}
        except (ValueError, KeyError, TypeError):
            return None

    def done(self, message: str, to: str, kind: str = "ok", **data) -> dict:
        """Answer a successful action: JSON for scripts, else a redirect (raised) with a flash message."""
        if self.wants_json():
            return {"ok": True, "message": message, **data}
        self.flash(message, kind)
        return bottle.redirect(to, 303)

    def refuse(
        self, status: int, message: str, view: str | None = None, **values
    ) -> bottle.HTTPResponse | str:
        """Answer a refused request: JSON {"error"} for scripts, else a page showing why."""
        if self.wants_json():
            return self.respond(json.dumps({"error": message}), status, "application/json")
        if view:
            return self.render(view, status, error=message, **values)
        return self.render("error", status, title=bottle.HTTP_CODES.get(status, "Error"), message=message)

    def restart_command(self) -> list[str]:
        """The command that restarts `impsy run`; Refused(409) if this web UI has none."""
        if not self.settings.restart_command:
            raise Refused(
                409,
                "this web UI has no restart command: stop `impsy run` (Ctrl-C in its terminal) and start it "
                f"again with `impsy run --config {self.workdir.config}`",
            )
        return self.settings.restart_command

    def restart_impsy(self) -> None:
        """Run the restart command (systemd's, on the instrument); Refused if there is none or it fails."""
        command = self.restart_command()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=RESTART_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise Refused(500, f"`{shlex.join(command)}` could not be run: {error}") from None
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip().splitlines()
            why = output[-1] if output else f"exit code {done.returncode}"
            raise Refused(500, f"`{shlex.join(command)}` failed: {why}")

    # ---- reading the request -----------------------------------------------------------------------

    def form_number(
        self,
        name: str,
        kind: type[int] | type[float] = float,
        low: float | None = None,
        high: float | None = None,
        default: float | None = None,
    ) -> float:
        raw = bottle.request.forms.get(name, "")
        if raw == "" and default is not None:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise Refused(400, f"{name}: expected a number, found {raw!r}") from None
        if not math.isfinite(value):
            raise Refused(400, f"{name}: expected a number, found {raw!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise Refused(400, f"{name}: expected a number from {low} to {high}, found {raw}")
        return value

    def sent_name(self) -> str:
        """The file name an upload gives as ?name=, without any folder."""
        # getunicode: WSGI hands query strings over as latin-1; the name was sent as UTF-8.
        return Path((bottle.request.query.getunicode("name") or "").replace("\\", "/")).name

    def upload_name(self, kind: str) -> str:
        name = self.sent_name()
        if not name:
            raise Refused(400, "name the file: ?name=FILE")
        return check_name(kind, name)

    @contextlib.contextmanager
    def uploaded(self, kind: str, name: str, replace: str | None = None) -> Iterator[Path]:
        """Receive the body as the file `name` of `kind`: the block checks it (raising Refused
        to turn it down), and only a file it accepts takes the name. With `replace` (how to ask
        for it), ?replace=1 may overwrite a file of that name."""
        folder = self.workdir.folder(kind)
        target = folder / name
        may_replace = replace is not None and bottle.request.query.get("replace") == "1"
        if (target.exists() or target.is_symlink()) and not may_replace:
            how = "delete it first to replace it" if replace is None else replace
            raise Refused(409, f"{KINDS[kind][0]}/{name} already exists: {how}")
        part = self.receive(folder, target.suffix)
        try:
            yield part
            if may_replace:
                os.replace(part, target)
            elif not _place_new(part, target):  # taken while the body arrived: never overwrite
                raise Refused(409, f"{KINDS[kind][0]}/{name} was just uploaded by someone else")
        finally:
            part.unlink(missing_ok=True)

    def receive(self, folder: Path, suffix: str = PART) -> Path:
        """Stream the request body (its size was checked by `Checks`) into a hidden file in `folder`
        ending in `suffix`; the caller checks and keeps it."""
        length = int(bottle.request.environ.get("CONTENT_LENGTH") or 0)
        if length == 0:
            raise Refused(400, "the upload is empty: choose a file")
        free = self.workdir.disk_free()
        if free is not None and length > free - DISK_RESERVE:
            raise Refused(
                507,
                f"not enough space: the file is {human_bytes(length)} and {human_bytes(free)} is free "
                "(delete old logs or datasets first)",
            )
        stream = bottle.request.environ["wsgi.input"]
        bottle.request.environ["impsy.body_read"] = True
        part = part_file(folder, suffix)
        received = 0
        try:
            with open(part, "wb") as out:
                while received < length:
                    chunk = stream.read(min(256 * 1024, length - received))
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
            if received < length:
                raise Refused(400, f"the upload stopped after {received} of {length} bytes: try again")
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return part


def _place_new(part: Path, target: Path) -> bool:
    """Give `part` the name `target` only if no file has it; False if one does."""
    try:
        os.link(part, target)  # atomic: fails if the name exists
    except FileExistsError:
        return False
    except OSError:  # no hard links on this file system (FAT, some shares): check, then rename
        if target.exists():
            return False
        os.replace(part, target)
    return True
