"""The bottle application: pages, actions and the JSON API.

Every request passes `Checks` (a bottle plugin) first: host name, password, then for anything
that changes state the body size, the origin, the CSRF token and the performance lock. Handlers
only ever name files through `Workdir.file`, which keeps them inside the working folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import quote, urlparse

import bottle

from impsy import __version__
from impsy.config import ERROR, MODES, Config, WebUIConfig
from impsy.dataset import DEFAULT_MAX_GAP, DatasetError, dimensions_in, load_dataset
from impsy.interaction.commands import parse_command
from impsy.logs import log_dimension, read_log
from impsy.model import SIZES
from impsy.web import backup as backups
from impsy.web import jobs as jobs_module
from impsy.web import modelcheck
from impsy.web.configtext import (
    CHANNELS,
    EditError,
    WizardChoices,
    check_text,
    example_files,
    with_model,
    wizard_text,
)
from impsy.web.inventory import DATASET_MAX_UNPACKED, Inventory, as_dict, dataset_unpacked_size
from impsy.web.link import COMMANDS, Link
from impsy.web.paths import (
    CONFIG,
    KINDS,
    MODEL_EXTRAS,
    PathRefused,
    Workdir,
    check_name,
    part_file,
    write_atomically,
)
from impsy.web.security import (
    AUTH_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Guard,
    load_secret,
)
from impsy.web.system import cpu_temperature, human_bytes, human_duration

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
VIEWS = str(HERE / "views")
STATIC = str(HERE / "static")
MB = 1024 * 1024
DISK_RESERVE = 20 * MB  # never fill the card completely: logs must still be written
MAX_STREAMS = 16  # live streams at once (each holds a thread)
STREAM_KEEPALIVE = 2.0  # seconds between status events on a quiet stream
STREAM_MIN_GAP = 0.04  # at most 25 batches of vectors a second per browser
COMMAND_ANSWER = 1.5  # seconds to wait for `impsy run` to report its state after a command
RESTART_TIMEOUT = 60.0
DRAIN_LIMIT = 64 * MB  # a refused upload up to this size is read to its end before answering


@dataclass(frozen=True)
class Limits:
    """Largest request bodies accepted, in bytes."""

    form: int = 1 * MB
    config: int = 256 * 1024
    log: int = 64 * MB
    dataset: int = 256 * MB
    model: int = 128 * MB
    backup: int = 4096 * MB
    unpacked: int = 8192 * MB  # what a backup may unpack to


@dataclass
class Settings:
    """How one web UI is set up (the command line fills this in; tests make their own)."""

    workdir: Workdir
    restart_command: list[str] = field(default_factory=list)
    password_file: Path | None = None
    allowed_hosts: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    training: bool | None = None  # None: offered where impsy-train is installed
    train_command: Callable[..., list[str]] = jobs_module.training_command
    example_folders: list[Path] = field(default_factory=list)
    check_models: Callable[[list[Path]], list[dict]] = modelcheck.check_files


class Refused(Exception):
    """A request is refused; the handler's page or JSON shows the message with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def default_examples() -> list[Path]:
    from impsy.cli import shipped

    return [shipped("configs")]


class WebUI:
    """The app and everything it works with."""

    def __init__(self, settings: Settings, link: Link | None = None) -> None:
        self.settings = settings
        self.workdir = settings.workdir
        if self.workdir.root.is_dir():
            with contextlib.suppress(OSError):
                self.workdir.state.mkdir(exist_ok=True)
        self.guard = Guard(
            load_secret(self.workdir.state),
            settings.password_file or self.workdir.state / "password",
            self.workdir.state / "lock.json",
            settings.allowed_hosts,
        )
        ports = self.webui_ports()
        self.link = link or Link(ports.monitor_port, ports.command_port)
        self.inventory = Inventory(self.workdir, settings.check_models)
        self.jobs = jobs_module.Jobs()
        self.training = jobs_module.training_available() if settings.training is None else settings.training
        self._streams = 0
        self._streams_mutex = threading.Lock()
        self._config_mutex = threading.Lock()
        self.app = bottle.Bottle()
        self.app.install(Checks(self))
        self._routes()
        for code in (400, 403, 404, 405, 413, 500):
            self.app.error(code)(self._error_page)

    # ---- shared pieces ---------------------------------------------------------------------------

    def webui_ports(self) -> WebUIConfig:
        config, _ = self.read_config()
        return config.webui if config else WebUIConfig()

    def read_config(self) -> tuple[Config | None, str | None]:
        """The working folder's config (None if missing or invalid) and its text."""
        try:
            text = self.workdir.config.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return None, None
        config, _ = check_text(text, CONFIG)
        return config, text

    def active_model(self, config: Config | None) -> str | None:
        """The models/ file name the config plays, if it names one there."""
        if config is None or not config.model.file:
            return None
        path = Path(config.model.file)
        path = path if path.is_absolute() else self.workdir.root / path
        if path.suffix in (".h5", ".keras"):
            path = path.with_suffix(".tflite")
        folder = self.workdir.folder("model")
        with contextlib.suppress(OSError, ValueError):
            if path.resolve().parent == folder.resolve():
                return path.name
        return None

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

    def csrf(self) -> str:
        return self.guard.csrf_token(self.session())

    def wants_json(self) -> bool:
        request = bottle.request
        return request.path.startswith("/api/") or "application/json" in request.get_header("Accept", "")

    def render(self, view: str, status: int = 200, **values) -> bottle.HTTPResponse | str:
        run = self.link.status()
        page = {
            "csrf": self.csrf(),
            "locked": self.guard.locked,
            "password": self.guard.password_required,
            "version": __version__,
            "run": run,
            "flash": self.take_flash(),
            "human_bytes": human_bytes,
            "human_duration": human_duration,
            "quote": quote,
            "page": view,
            "path": bottle.request.path,
            "error": None,
            "notice": None,
            **values,
        }
        body = bottle.template(view, template_lookup=[VIEWS], **page)
        return self.respond(body, status)

    def respond(self, body: str, status: int, content_type: str | None = None):
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
        bottle.response.set_cookie("impsy_flash", value, path="/", httponly=True, samesite="lax")

    def take_flash(self) -> dict | None:
        raw = bottle.request.get_cookie("impsy_flash")
        if not raw:
            return None
        bottle.response.delete_cookie("impsy_flash", path="/")
        try:
            from urllib.parse import unquote

            data = json.loads(unquote(raw))
            return {"message": str(data["message"]), "kind": str(data.get("kind", "ok"))}
        except (ValueError, KeyError, TypeError):
            return None

    def done(self, message: str, to: str, kind: str = "ok", **data):
        """Answer a successful action: JSON for scripts, else a redirect with a flash message."""
        if self.wants_json():
            return {"ok": True, "message": message, **data}
        self.flash(message, kind)
        return bottle.redirect(to, 303)

    def refuse(self, status: int, message: str, view: str | None = None, **values):
        """Answer a refused request: JSON {"error"} for scripts, else a page showing why."""
        if self.wants_json():
            return self.respond(json.dumps({"error": message}), status, "application/json")
        if view:
            return self.render(view, status, error=message, **values)
        return self.render("error", status, title=bottle.HTTP_CODES.get(status, "Error"), message=message)

    def _error_page(self, error: bottle.HTTPError) -> str:
        message = error.body if isinstance(error.body, str) and error.body else "Something went wrong."
        if error.status_code == 404 and message.startswith("Not found"):
            message = f"There is no page at {bottle.request.path}."
        if error.status_code == 500:
            log.error("error on %s: %s", bottle.request.path, error.exception)
            message = "The web UI hit an error it did not expect; the details are in its log."
        if self.wants_json():
            bottle.response.content_type = "application/json"
            return json.dumps({"error": message})
        try:
            return bottle.template(
                "error",
                template_lookup=[VIEWS],
                title=bottle.HTTP_CODES.get(error.status_code, "Error"),
                message=message,
                csrf=self.csrf(),
                locked=self.guard.locked,
                password=self.guard.password_required,
                version=__version__,
                run=self.link.status(),
                flash=None,
                page="error",
                path=bottle.request.path,
                error=None,
                notice=None,
            )
        except Exception:  # the error page must never fail itself
            return f"<h1>{error.status_code}</h1><p>{bottle.html_escape(message)}</p>"

    def path_or_refuse(self, kind: str, name: str) -> Path:
        try:
            return self.workdir.file(kind, name)
        except PathRefused as refused:
            raise Refused(refused.status, refused.message) from None

    def form_number(self, name: str, kind=float, low=None, high=None, default=None):
        raw = bottle.request.forms.get(name, "")
        if raw == "" and default is not None:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise Refused(400, f"{name}: expected a number, found {raw!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise Refused(400, f"{name}: expected a number from {low} to {high}, found {raw}")
        return value

    # ---- uploads ---------------------------------------------------------------------------------

    def receive(self, folder: Path, limit: int) -> Path:
        """Stream the request body into a hidden file in `folder`; the caller checks and keeps it."""
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
        part = part_file(folder)
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

    def upload_name(self, kind: str) -> str:
        name = Path(bottle.request.query.get("name", "").replace("\\", "/")).name
        if not name:
            raise Refused(400, "name the file: ?name=FILE")
        try:
            return check_name(kind, name)
        except PathRefused as refused:
            raise Refused(refused.status, refused.message) from None

    # ---- routes ------------------------------------------------------------------------------------

    def _routes(self) -> None:
        app, L = self.app, self.settings.limits
        route = app.route
        route("/static/<path:path>", "GET", self.static, public=True)
        route("/login", "GET", self.login_page, public=True)
        route("/login", "POST", self.login, public=True, lock_ok=True)
        route("/logout", "POST", self.logout, lock_ok=True)
        route("/", "GET", self.dashboard)
        route("/monitor", "GET", self.monitor_page)
        route("/monitor/stream", "GET", self.monitor_stream)
        route("/commands", "GET", self.commands_page)
        route("/commands/<name>", "POST", self.command, lock_ok=True)
        route("/api/commands/<name>", "POST", self.command, lock_ok=True)
        route("/lock", "POST", self.lock, lock_ok=True)
        route("/config", "GET", self.config_page)
        route("/config", "POST", self.config_save, max_body=L.config + 64 * 1024)
        route("/config/previous", "POST", self.config_previous)
        route("/config/wizard", "GET", self.wizard_page)
        route("/config/wizard", "POST", self.wizard_make)
        route("/config/examples", "GET", self.examples_page)
        route("/config/examples/<name>", "GET", self.example_page)
        route("/logs", "GET", self.logs_page)
        route("/logs/all.zip", "GET", self.logs_archive)
        route("/logs/<name>", "GET", self.download("log"))
        route("/logs/<name>/delete", "GET", self.confirm_delete("log"))
        route("/logs/<name>/delete", "POST", self.delete("log"))
        route("/datasets", "GET", self.datasets_page)
        route("/datasets/build", "POST", self.dataset_build)
        route("/datasets/<name>", "GET", self.download("dataset"))
        route("/datasets/<name>/delete", "GET", self.confirm_delete("dataset"))
        route("/datasets/<name>/delete", "POST", self.delete("dataset"))
        route("/models", "GET", self.models_page)
        route("/models/<name>", "GET", self.download("model"))
        route("/models/<name>/plot", "GET", self.model_plot)
        route("/models/<name>/delete", "GET", self.confirm_delete("model"))
        route("/models/<name>/delete", "POST", self.delete("model"))
        route("/models/<name>/activate", "POST", self.model_activate)
        route("/training", "GET", self.training_page)
        route("/training/start", "POST", self.training_start)
        route("/training/stop", "POST", self.training_stop)
        route("/jobs/<job_id>/stream", "GET", self.job_stream)
        route("/backup", "GET", self.backup_page)
        route("/backup/download", "GET", self.backup_download)
        route("/restart", "GET", self.restart_page)
        route("/restart", "POST", self.restart)
        # The JSON API (also used by the pages' upload buttons and by impsy-train pull/push).
        route("/api/status", "GET", self.api_status)
        route("/api/csrf", "GET", self.api_csrf)
        route("/api/config", "GET", self.api_config)
        route("/api/logs", "GET", self.api_list("log"))
        route("/api/logs", "POST", self.upload_log, max_body=L.log)
        route("/api/logs/<name>", "GET", self.download("log"))
        route("/api/datasets", "GET", self.api_list("dataset"))
        route("/api/datasets", "POST", self.upload_dataset, max_body=L.dataset)
        route("/api/models", "GET", self.api_list("model"))
        route("/api/models", "POST", self.upload_model, max_body=L.model)
        route("/api/models/<name>/activate", "POST", self.model_activate)
        route("/api/jobs/<job_id>", "GET", self.api_job)
        route("/api/restart", "POST", self.restart)
        route("/api/backup/restore", "POST", self.backup_restore, max_body=L.backup)

    # ---- static, login -----------------------------------------------------------------------------

    def static(self, path: str):
        response = bottle.static_file(path, root=STATIC)
        response.set_header("Cache-Control", "max-age=3600")
        return response

    def login_page(self):
        if not self.guard.password_required:
            return bottle.redirect("/", 303)
        return self.render("login", next=self.safe_next(bottle.request.query.get("next", "/")))

    @staticmethod
    def safe_next(target: str) -> str:
        """Only a path on this site: never //elsewhere or http://elsewhere."""
        parsed = urlparse(target)
        if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
            return "/"
        return target

    def login(self):
        target = self.safe_next(bottle.request.forms.get("next", "/"))
        if not self.guard.password_required:
            return bottle.redirect(target, 303)
        if self.guard.throttled():
            return self.refuse(
                429, "Too many wrong passwords: wait a minute and try again.", "login", next=target
            )
        if not self.guard.check_password(bottle.request.forms.get("password", "")):
            return self.refuse(401, "Wrong password.", "login", next=target)
        bottle.response.set_cookie(
            AUTH_COOKIE,
            self.guard.login_cookie(),
            path="/",
            httponly=True,
            samesite="lax",
            max_age=30 * 86400,
        )
        return bottle.redirect(target, 303)

    def logout(self):
        bottle.response.delete_cookie(AUTH_COOKIE, path="/")
        return bottle.redirect("/login" if self.guard.password_required else "/", 303)

    # ---- dashboard, monitor, commands --------------------------------------------------------------

    def dashboard(self):
        config, text = self.read_config()
        problems = check_text(text, CONFIG)[1] if text is not None else []
        return self.render(
            "dashboard",
            config=config,
            config_exists=self.workdir.config.is_file(),
            config_errors=[p for p in problems if p.is_error],
            active_model=self.active_model(config),
            disk_free=self.workdir.disk_free(),
            temperature=cpu_temperature(),
            workdir=str(self.workdir.root),
            restart_command=self.settings.restart_command,
        )

    def monitor_page(self):
        config, _ = self.read_config()
        return self.render("monitor", dimension=config.model.dimension if config else None)

    def monitor_stream(self):
        """Server-sent events: `status` (alive, state, rates) and `vectors` (batched)."""
        with self._streams_mutex:
            if self._streams >= MAX_STREAMS:
                return self.refuse(503, "too many live views are open: close one and reload")
        with_vectors = bottle.request.query.get("vectors", "1") != "0"
        bottle.response.content_type = "text/event-stream"
        bottle.response.set_header("Cache-Control", "no-cache")
        bottle.response.set_header("X-Accel-Buffering", "no")
        return self._stream(with_vectors)

    def _stream(self, with_vectors: bool) -> Iterator[str]:
        link = self.link
        with self._streams_mutex:
            self._streams += 1
        try:
            last, last_status = link.seq, time.monotonic()  # anything after this is sent
            yield "retry: 2000\n\n"
            yield _sse("status", link.status())
            while True:
                last, vectors, state = link.wait(last, STREAM_KEEPALIVE)
                if with_vectors and vectors:
                    batch = {"in": [], "out": []}
                    for v in vectors[-512:]:
                        batch[v.kind].append([round(v.time, 4), v.values])
                    yield _sse("vectors", batch)
                now = time.monotonic()
                if state is not None or now - last_status >= STREAM_KEEPALIVE:
                    yield _sse("status", link.status())
                    last_status = now
                time.sleep(STREAM_MIN_GAP)
        finally:
            with self._streams_mutex:
                self._streams -= 1

    def commands_page(self):
        return self.render("commands", modes=MODES)

    def command(self, name: str):
        if name not in (*COMMANDS, "resume"):
            return self.refuse(404, f"there is no command {name!r}: use one of {', '.join(COMMANDS)}")
        raw = bottle.request.forms.get("value", "")
        if bottle.request.json is not None and isinstance(bottle.request.json, dict):
            raw = bottle.request.json.get("value", raw)
        name, value = _command_value(name, raw)
        try:
            name, value = parse_command(f"/impsy/{name}", [] if value is None else [value])
        except ValueError as error:
            return self.refuse(400, str(error).replace("/impsy/", ""))
        before = self.link.seq
        osc_value = int(value) if name == "pause" else (1 if name == "reset" else value)
        self.link.send(name, osc_value)
        state = self.link.wait_for_state(before, COMMAND_ANSWER)
        if state is None:
            message = f"sent {name}, but `impsy run` did not answer: is it running?"
            if self.wants_json():
                return self.respond(json.dumps({"error": message, "sent": True}), 504, "application/json")
            return self.done(message, "/commands", "warning")
        return self.done(_command_result(name, value, state), "/commands", state=state)

    def lock(self):
        value = bottle.request.forms.get("locked", "")
        if value not in ("on", "off"):
            return self.refuse(400, "locked: expected on or off")
        self.guard.set_locked(value == "on")
        message = (
            "Performance lock on: only the Commands page can change anything until you unlock."
            if value == "on"
            else "Performance lock off: everything can be changed again."
        )
        back = self.safe_next(bottle.request.forms.get("next", "/commands"))
        return self.done(message, back, locked=value == "on")

    # ---- configuration -----------------------------------------------------------------------------

    def config_page(self):
        query = bottle.request.query
        notice = None
        exists = self.workdir.config.is_file()
        if query.get("example"):
            examples = example_files(self.settings.example_folders)
            path = examples.get(query.example)
            if path is None:
                return self.refuse(404, f"there is no example config called {query.example!r}")
            text = path.read_text(encoding="utf-8-sig")
            notice = f"This is the example {path.name}, not yet saved: edit it, then Save to use it."
        elif query.get("previous"):
            try:
                text = self.workdir.previous_config.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                return self.refuse(404, "there is no previous version of config.toml")
            notice = "This is the previous version of config.toml, not yet saved: Save to go back to it."
        elif exists:
            try:
                text = self.workdir.config.read_bytes().decode("utf-8-sig")
            except (OSError, UnicodeDecodeError) as error:
                text, notice = "", f"config.toml cannot be read ({error}): write a new one below."
        else:
            text = ""
        problems = check_text(text, CONFIG)[1] if text.strip() else []
        return self.render(
            "config",
            text=text,
            problems=problems,
            exists=exists,
            notice=notice,
            has_previous=self.workdir.previous_config.is_file(),
            saved=False,
        )

    def config_save(self):
        raw = bottle.request.forms.getunicode("text", default=None)
        if raw is None:
            return self.refuse(400, "no config text was sent (the form's text field is missing)")
        text = raw.replace("\r\n", "\n")
        if len(text.encode()) > self.settings.limits.config:
            return self.refuse(413, f"a config may be at most {self.settings.limits.config // 1024} KB")
        config, problems = check_text(text, CONFIG)
        only_check = bottle.request.forms.get("action") == "check"
        values = {
            "text": text,
            "problems": problems,
            "exists": self.workdir.config.is_file(),
            "has_previous": self.workdir.previous_config.is_file(),
            "saved": False,
        }
        if config is None:
            errors = sum(p.is_error for p in problems)
            plural = "s" if errors != 1 else ""
            message = (
                f"{errors} problem{plural} to fix (see Problems). Nothing was saved."
                if only_check
                else f"Not saved: {errors} problem{plural} to fix first (see Problems)."
            )
            if self.wants_json():
                body = json.dumps({"error": message, "problems": [p.text for p in problems]})
                return self.respond(body, 422, "application/json")
            return self.render("config", 422, error=message, **values)
        if only_check:
            message = "The config is valid" + (" (with warnings)" if problems else "") + ": not saved yet."
            return self.render("config", notice=message, **values)
        try:
            with self._config_mutex:
                write_atomically(
                    self.workdir.config, text.encode(), keep_previous=self.workdir.previous_config
                )
        except OSError as error:
            return self.refuse(
                507, f"config.toml could not be written: {error.strerror or error}", "config", **values
            )
        self.link.reconfigure(config.webui.monitor_port, config.webui.command_port)
        message = "Saved config.toml (the previous version is kept). Restart IMPSY to use it."
        if problems:
            message += f" {len(problems)} warning{'s' if len(problems) != 1 else ''} (see Problems)."
        if self.wants_json():
            return {"ok": True, "message": message, "problems": [p.text for p in problems]}
        values.update(saved=True, has_previous=True, exists=True)
        return self.render("config", notice=message, **values)

    def config_previous(self):
        previous = self.workdir.previous_config
        try:
            text = previous.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return self.refuse(404, "there is no previous version of config.toml")
        config, _ = check_text(text, CONFIG)
        if config is None:
            return self.refuse(422, "the previous version is not valid, so it was not restored")
        with self._config_mutex:
            current = self.workdir.config.read_bytes() if self.workdir.config.is_file() else None
            write_atomically(self.workdir.config, text.encode())
            if current is not None:
                write_atomically(previous, current)
        self.link.reconfigure(config.webui.monitor_port, config.webui.command_port)
        return self.done(
            "Went back to the previous config.toml (the one replaced is now the previous).", "/config"
        )

    def wizard_page(self):
        config, _ = self.read_config()
        choices = WizardChoices()
        if config is not None:  # start from what the instrument has now
            choices = replace(
                choices,
                title=config.title or choices.title,
                mode=config.interaction.mode,
                dimension=config.model.dimension,
                model=self.active_model(config) or "",
                size=config.model.size,
                monitor_port=config.webui.monitor_port,
                command_port=config.webui.command_port,
            )
            if config.osc:
                choices = replace(
                    choices,
                    osc_server_port=config.osc.server_port,
                    osc_client_ip=config.osc.client_ip,
                    osc_client_port=config.osc.client_port,
                )
            if config.serial:
                choices = replace(
                    choices, serial_port=config.serial.port, serial_baudrate=config.serial.baudrate
                )
            channels = tuple(c for c in CHANNELS if getattr(config, c) is not None)
            choices = replace(choices, channels=channels)
        models = [m for m in self.inventory.models() if not m.error]
        return self.render("wizard", choices=choices, models=models, modes=MODES, sizes=list(SIZES))

    def wizard_make(self):
        forms = bottle.request.forms
        choices = WizardChoices()
        values: dict = {}
        for f in fields(WizardChoices):
            if f.name == "channels":
                values["channels"] = tuple(c for c in forms.getall("channels") if c in CHANNELS)
                continue
            raw = forms.getunicode(f.name)
            if raw is None:
                continue
            if isinstance(getattr(choices, f.name), int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    return self.refuse(400, f"{f.name}: expected a whole number, found {raw!r}")
            else:
                values[f.name] = raw.strip()
        choices = replace(choices, **values)
        if choices.model:  # a model from the list: its own dimension and size win
            info = self.inventory.model(choices.model)
            if info is None or info.error:
                return self.refuse(400, f"there is no usable model called {choices.model!r}")
            choices = replace(choices, dimension=info.dimension, size=info.size or choices.size)
        text = wizard_text(choices)
        config, problems = check_text(text, CONFIG)
        message = (
            "Here is your new config. Check it, then Save to use it."
            if config is not None
            else "The wizard's choices do not make a valid config yet: fix the problems listed, then Save."
        )
        return self.render(
            "config",
            422 if config is None else 200,
            text=text,
            problems=problems,
            exists=self.workdir.config.is_file(),
            has_previous=self.workdir.previous_config.is_file(),
            notice=message if config is not None else None,
            error=message if config is None else None,
            saved=False,
        )

    def examples_page(self):
        examples = []
        for name, path in example_files(self.settings.example_folders).items():
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                continue
            config, problems = check_text(text, name)
            examples.append({"name": name, "config": config, "problems": problems, "text": text})
        return self.render("examples", examples=examples)

    def example_page(self, name: str):
        path = example_files(self.settings.example_folders).get(name)
        if path is None:
            return self.refuse(404, f"there is no example config called {name!r}")
        text = path.read_text(encoding="utf-8-sig")
        config, problems = check_text(text, name)
        return self.render("example", name=name, text=text, config=config, problems=problems)

    # ---- files: download, delete -------------------------------------------------------------------

    def download(self, kind: str):
        def handler(name: str):
            path = self.path_or_refuse(kind, name)
            return bottle.static_file(path.name, root=str(path.parent), download=path.name)

        return handler

    def confirm_delete(self, kind: str):
        def handler(name: str):
            path = self.path_or_refuse(kind, name)
            config, _ = self.read_config()
            warning = None
            if kind == "model" and self.active_model(config) == name:
                warning = "This is the active model: make another one active before deleting it."
            if kind == "log" and self.writing_now(name):
                warning = "impsy run is writing this log right now: delete it after IMPSY has restarted."
            return self.render(
                "confirm",
                kind=kind,
                name=name,
                folder=KINDS[kind][0],
                size=path.stat().st_size,
                warning=warning,
                page=KINDS[kind][0],
            )

        return handler

    def delete(self, kind: str):
        def handler(name: str):
            path = self.path_or_refuse(kind, name)
            folder = KINDS[kind][0]
            if kind == "log" and self.writing_now(name):
                return self.refuse(409, f"impsy run is writing {name} right now: delete it after a restart")
            if kind == "model":
                config, _ = self.read_config()
                if self.active_model(config) == name:
                    return self.refuse(409, f"{name} is the active model: make another one active first")
                stem = name[: -len(".tflite")]
                for suffix in (".keras", *MODEL_EXTRAS):
                    extra = path.parent / (stem + suffix)
                    if extra.is_file() and self.workdir.inside(extra):
                        extra.unlink()
            path.unlink()
            return self.done(f"Deleted {folder}/{name}.", f"/{folder}")

        return handler

    # ---- logs ---------------------------------------------------------------------------------------

    def logs_page(self):
        logs = self.inventory.logs()
        writing = next((log.name for log in logs if self.writing_now(log.name)), None)
        return self.render("logs", logs=logs, writing=writing, limit=self.settings.limits.log)

    def logs_archive(self):
        stamp = time.strftime("%Y-%m-%d-%H%M")
        bottle.response.content_type = "application/zip"
        bottle.response.set_header("Content-Disposition", f'attachment; filename="impsy-logs-{stamp}.zip"')
        return backups.stream_backup(self.workdir, kinds=("log",))

    def writing_now(self, name: str) -> bool:
        """Is `impsy run` writing this log right now?"""
        status = self.link.status()
        current = (status["state"] or {}).get("log") if status["alive"] else None
        return bool(current) and Path(current).name == name

    def upload_log(self):
        name = self.upload_name("log")
        target = self.workdir.folder("log") / name
        if target.exists() or target.is_symlink():
            return self.refuse(409, f"logs/{name} already exists: delete it first to replace it")
        part = self.receive(self.workdir.folder("log"), self.settings.limits.log)
        try:
            try:
                part.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                return self.refuse(422, f"{name} is not a text file, so it is not an IMPSY log")
            read = read_log(part, log_dimension(name))
            good = read.rows - read.skipped
            if good == 0:
                why = f" (for example {read.problems[0].split(': ', 1)[1]})" if read.problems else ""
                return self.refuse(422, f"{name} has no rows in IMPSY's log format{why}")
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        note = f"; {read.skipped} malformed rows will be skipped" if read.skipped else ""
        return {"ok": True, "message": f"Uploaded logs/{name}: {good} rows{note}.", "name": name}

    # ---- datasets -----------------------------------------------------------------------------------

    def datasets_page(self):
        job = self.jobs.get(bottle.request.query.get("job", ""))
        if job is None and (current := self.jobs.current("dataset")) and current.running:
            job = current
        dimensions = dimensions_in(self.workdir.folder("log")) if self.workdir.folder("log").is_dir() else []
        return self.render(
            "datasets",
            datasets=self.inventory.datasets(),
            dimensions=dimensions,
            job=job,
            max_gap=DEFAULT_MAX_GAP,
            limit=self.settings.limits.dataset,
        )

    def dataset_build(self):
        dimension = self.form_number("dimension", int, 2, 1000)
        max_gap = self.form_number("max_gap", float, 0.01, 3600, default=DEFAULT_MAX_GAP)
        try:
            job = self.jobs.start(
                jobs_module.Job("dataset", f"Building the {dimension}d dataset"),
                jobs_module.build_dataset_job(self.workdir, dimension, max_gap),
            )
        except jobs_module.Busy:
            return self.refuse(409, "a dataset is being built already: wait for it to finish")
        return self.done(f"Building the {dimension}d dataset.", f"/datasets?job={job.id}", job=job.id)

    def upload_dataset(self):
        name = self.upload_name("dataset")
        target = self.workdir.folder("dataset") / name
        if (target.exists() or target.is_symlink()) and bottle.request.query.get("replace") != "1":
            return self.refuse(409, f"datasets/{name} already exists: delete it first to replace it")
        part = self.receive(self.workdir.folder("dataset"), self.settings.limits.dataset)
        try:
            try:
                if dataset_unpacked_size(part) > DATASET_MAX_UNPACKED:
                    raise DatasetError(f"it would unpack to more than {DATASET_MAX_UNPACKED // MB} MB")
                dataset = load_dataset(part)  # never allow_pickle: an upload must not run code
            except DatasetError as error:
                message = str(error).replace(f"{part}: ", "")
                return self.refuse(422, f"{name} was not accepted: {message}")
            if not self.workdir.inside(target.parent):
                return self.refuse(403, "datasets/ points outside the working folder: refused")
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        return {"ok": True, "message": f"Uploaded datasets/{name}: {dataset.summary()}.", "name": name}

    # ---- models -------------------------------------------------------------------------------------

    def models_page(self):
        config, _ = self.read_config()
        return self.render(
            "models",
            models=self.inventory.models(),
            active=self.active_model(config),
            config=config,
            limit=self.settings.limits.model,
        )

    def model_plot(self, name: str):
        path = self.path_or_refuse("model", name)
        plot = path.parent / (name[: -len(".tflite")] + MODEL_EXTRAS[1])
        if not plot.is_file() or not self.workdir.inside(plot):
            return self.refuse(404, f"{name} has no training plot")
        return bottle.static_file(plot.name, root=str(plot.parent), mimetype="image/png")

    def upload_model(self):
        query = bottle.request.query
        name = Path(query.get("name", "").replace("\\", "/")).name
        if name.endswith((".keras", ".h5")):
            return self.refuse(
                415,
                f"{name}: the runtime plays .tflite models; convert it on your laptop with "
                f"`impsy-train export {name}` and upload the .tflite",
            )
        name = self.upload_name("model")
        folder = self.workdir.folder("model")
        target = folder / name
        if (target.exists() or target.is_symlink()) and query.get("replace") != "1":
            return self.refuse(409, f"models/{name} already exists: tick 'replace' to overwrite it")
        part = self.receive(folder, self.settings.limits.model)
        try:
            checked = part.with_name(part.name[: -len(".part")] + ".tflite")
            os.replace(part, checked)
            part = checked
            figures = self.settings.check_models([part])[0]
            if "error" in figures:
                return self.refuse(422, f"{name} was not accepted: {figures['error']}")
            if not self.workdir.inside(folder):
                return self.refuse(403, "models/ points outside the working folder: refused")
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        self.inventory.remember_model(target, figures)
        message = (
            f"Uploaded models/{name}: dimension {figures['dimension']}, size {figures['size'] or '-'}, "
            f"{figures['ms_per_step']:.2f} ms per prediction."
        )
        result = {"ok": True, "message": message, "name": name, "model": figures}
        if query.get("activate") == "1":
            try:
                result["activated"] = self._activate(name, figures)
            except Refused as refused:
                result.update(activated=False, activate_error=refused.message)
                result["message"] += f" Not made active: {refused.message}"
            else:
                result["message"] += " It is now the active model: restart IMPSY to play it."
        return result

    def model_activate(self, name: str):
        self.path_or_refuse("model", name)
        info = self.inventory.model(name)
        if info is None or info.error:
            why = info.error if info else "it cannot be read"
            return self.refuse(422, f"{name} cannot be made active: {why}")
        message = self._activate(name, {"dimension": info.dimension, "size": info.size})
        return self.done(message, "/models")

    def _activate(self, name: str, figures: dict) -> str:
        """Point the config's [model] at models/<name> (checked before it is written)."""
        with self._config_mutex:
            try:
                text = self.workdir.config.read_bytes().decode("utf-8-sig")
            except FileNotFoundError:
                raise Refused(
                    409, "there is no config.toml yet: make one with the setup wizard first"
                ) from None
            except (OSError, UnicodeDecodeError) as error:
                raise Refused(409, f"config.toml cannot be read ({error})") from None
            try:
                edited = with_model(text, f"models/{name}", figures["dimension"], figures["size"], CONFIG)
            except EditError as error:
                raise Refused(
                    422,
                    f"making {name} active would leave config.toml invalid, so nothing was changed: "
                    f"{error} (a {figures['dimension']}d model needs mappings of {figures['dimension'] - 1} "
                    "controls: change them on the Configuration page or use the setup wizard)",
                ) from None
            write_atomically(self.workdir.config, edited.encode(), keep_previous=self.workdir.previous_config)
        return (
            f"models/{name} is now the active model (dimension {figures['dimension']}). "
            "Restart IMPSY to play it."
        )

    # ---- training -----------------------------------------------------------------------------------

    def training_page(self):
        config, _ = self.read_config()
        job = self.jobs.get(bottle.request.query.get("job", "")) or self.jobs.current("training")
        return self.render(
            "training",
            available=self.training,
            datasets=[d for d in self.inventory.datasets() if not d.error],
            dimension=config.model.dimension if config else 9,
            sizes=list(SIZES),
            job=job,
            host=bottle.request.get_header("Host", "impsypi.local:4000"),
        )

    def training_start(self):
        if not self.training:
            return self.refuse(
                409,
                "impsy-train is not installed here: train on a laptop (the Training page says how)",
            )
        forms = bottle.request.forms
        dataset = self.path_or_refuse("dataset", forms.get("dataset", ""))
        size = forms.get("size", "s")
        if size not in SIZES:
            return self.refuse(400, f"size: expected one of {', '.join(SIZES)}, found {size!r}")
        epochs = self.form_number("epochs", int, 1, 10000, default=100)
        early = forms.get("earlystopping") == "on"
        try:
            dimension = load_dataset(dataset).dimension
        except DatasetError as error:
            return self.refuse(422, str(error).replace(f"{dataset}: ", f"{dataset.name}: "))
        staging = self.workdir.state / "training" / str(int(time.time() * 1000))
        command = self.settings.train_command(dataset, dimension, size, epochs, early, staging)
        try:
            job = self.jobs.start(
                jobs_module.Job("training", f"Training a {dimension}d {size} model on {dataset.name}"),
                jobs_module.training_job(self.workdir, command, staging),
            )
        except jobs_module.Busy:
            return self.refuse(409, "a model is being trained already: wait for it, or stop it")
        return self.done("Training started.", f"/training?job={job.id}", job=job.id)

    def training_stop(self):
        job = self.jobs.current("training")
        if job is None or not job.running or not jobs_module.stop_training(job):
            return self.refuse(409, "no training is running")
        return self.done(
            "Stopping: the best epoch so far is kept and saved.", f"/training?job={job.id}", job=job.id
        )

    def job_stream(self, job_id: str):
        job = self.jobs.get(job_id)
        if job is None:
            return self.refuse(404, f"there is no job {job_id}")
        bottle.response.content_type = "text/event-stream"
        bottle.response.set_header("Cache-Control", "no-cache")

        def events() -> Iterator[str]:
            last = 0
            yield "retry: 2000\n\n"
            while True:
                batch = job.wait(last, 10.0)
                if not batch:
                    yield ": waiting\n\n"
                    continue
                for event in batch:
                    last = event["seq"]
                    yield _sse(event["type"], event)
                if any(e["type"] == "end" for e in batch):
                    return

        return events()

    def api_job(self, job_id: str):
        job = self.jobs.get(job_id)
        if job is None:
            return self.refuse(404, f"there is no job {job_id}")
        return {**job.summary(), "events": job.events[-200:]}

    # ---- backup, restart ---------------------------------------------------------------------------

    def backup_page(self):
        files = list(self._backup_sizes())
        return self.render(
            "backup",
            files=len(files),
            total=sum(size for _, size in files),
            limit=self.settings.limits.backup,
        )

    def _backup_sizes(self):
        from impsy.web.paths import walk_files

        for name, path in walk_files(self.workdir):
            with contextlib.suppress(OSError):
                yield name, path.stat().st_size

    def backup_download(self):
        stamp = time.strftime("%Y-%m-%d-%H%M")
        host = os.uname().nodename.split(".")[0] if hasattr(os, "uname") else "impsy"
        bottle.response.content_type = "application/zip"
        bottle.response.set_header(
            "Content-Disposition", f'attachment; filename="impsy-backup-{host}-{stamp}.zip"'
        )
        return backups.stream_backup(self.workdir)

    def backup_restore(self):
        part = self.receive(self.workdir.state, self.settings.limits.backup)
        try:
            with self._config_mutex:
                report = backups.restore(
                    self.workdir, part, self.settings.limits.unpacked, self.settings.check_models
                )
        except backups.RestoreError as error:
            return self.refuse(422, f"Nothing was restored: {error}")
        finally:
            part.unlink(missing_ok=True)
        config, _ = self.read_config()
        if config is not None:
            self.link.reconfigure(config.webui.monitor_port, config.webui.command_port)
        count = len(report.restored) + len(report.replaced)
        message = f"Restored {count} files ({len(report.replaced)} replaced). Restart IMPSY to use them."
        return {"ok": True, "message": message, "restored": report.restored, "replaced": report.replaced}

    def restart_page(self):
        return self.render(
            "restart",
            command=self.settings.restart_command,
            command_text=shlex.join(self.settings.restart_command),
            workdir=str(self.workdir.root),
        )

    def restart(self):
        command = self.settings.restart_command
        if not command:
            return self.refuse(
                409,
                "this web UI has no restart command: stop `impsy run` (Ctrl-C in its terminal) and start it "
                f"again with `impsy run --config {self.workdir.config}`",
            )
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=RESTART_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return self.refuse(500, f"`{shlex.join(command)}` could not be run: {error}")
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip().splitlines()
            why = output[-1] if output else f"exit code {done.returncode}"
            return self.refuse(500, f"`{shlex.join(command)}` failed: {why}")
        return self.done("Restarting IMPSY: the dashboard shows it running again in a few seconds.", "/")

    # ---- API ---------------------------------------------------------------------------------------

    def api_status(self):
        config, text = self.read_config()
        problems = check_text(text, CONFIG)[1] if text is not None else []
        return {
            "version": __version__,
            "run": self.link.status(),
            "config": {
                "exists": self.workdir.config.is_file(),
                "valid": config is not None,
                "errors": [p.text for p in problems if p.severity == ERROR],
                "model": self.active_model(config),
                "dimension": config.model.dimension if config else None,
            },
            "locked": self.guard.locked,
            "disk_free": self.workdir.disk_free(),
            "cpu_temperature": cpu_temperature(),
            "training": self.training,
        }

    def api_csrf(self):
        return {"token": self.csrf()}

    def api_config(self):
        config, text = self.read_config()
        problems = check_text(text, CONFIG)[1] if text is not None else []
        return {"text": text, "valid": config is not None, "problems": [p.text for p in problems]}

    def api_list(self, kind: str):
        def handler():
            items = {
                "log": self.inventory.logs,
                "dataset": self.inventory.datasets,
                "model": self.inventory.models,
            }
            return {KINDS[kind][0]: [as_dict(i) for i in items[kind]()]}

        return handler


def _sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _command_value(name: str, raw) -> tuple[str, object]:
    """A form's command value in the type `impsy run` expects."""
    if name == "resume":
        return "pause", 0
    if name == "pause":
        if raw in ("", None):
            return "pause", 1
        return "pause", {"1": 1, "0": 0, "on": 1, "off": 0, 1: 1, 0: 0}.get(raw, raw)
    if name == "reset":
        return "reset", None
    if name == "mode":
        return "mode", raw
    try:
        return name, float(raw)
    except (TypeError, ValueError):
        return name, raw


def _command_result(name: str, value, state: dict) -> str:
    if name == "mode":
        now = state.get("mode")
        return f"Mode is now {now}." if now == value else f"impsy run kept mode {now} (asked for {value})."
    if name == "pause":
        return "Paused: IMPSY is silent." if state.get("paused") else "Playing again."
    if name == "reset":
        return "The model's memory was reset."
    return f"{name} is now {state.get(name)}."


class Checks:
    """A bottle plugin: the checks every request goes through before its handler."""

    name = "impsy-checks"
    api = 2

    def __init__(self, ui: WebUI) -> None:
        self.ui = ui

    def apply(self, callback, route):
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
        return bool(header and not guard.throttled() and guard.basic_ok(header))


def create_app(settings: Settings, link: Link | None = None) -> WebUI:
    """The web UI for a working folder; call `ui.link.start()` to hear `impsy run`."""
    if not settings.example_folders:
        settings.example_folders = default_examples()
    return WebUI(settings, link)
