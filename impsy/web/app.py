"""The bottle application: one `WebUI` object, its routes and where their handlers live.

Every request passes `Checks` (checks.py) first: host name, password, then for anything that
changes state the body size, the origin, the CSRF token and the performance lock. Handlers only
ever name files through `Workdir.file`, which keeps them inside the working folder.

The handlers are grouped by area, a class a module, and `WebUI` combines them: pages_live.py
(dashboard, monitor, commands, lock, restart), pages_config.py (editor, wizard, examples),
pages_files.py (logs, datasets, models), pages_jobs.py (dataset builds, training: see training.py
and trainer.py), pages_backup.py, pages_login.py and api.py; handling.py has what they all use.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from pathlib import Path

import bottle

from impsy.config import WebUIConfig
from impsy.web.api import Api
from impsy.web.checks import Checks
from impsy.web.handling import VIEWS, Answer
from impsy.web.headers import SecureBottle
from impsy.web.inventory import Inventory
from impsy.web.jobs import Jobs
from impsy.web.link import Link
from impsy.web.pages_backup import BackupPages
from impsy.web.pages_config import ConfigPages
from impsy.web.pages_files import FilePages
from impsy.web.pages_jobs import JobPages
from impsy.web.pages_live import LivePages
from impsy.web.pages_login import LoginPages
from impsy.web.security import Guard, load_secret
from impsy.web.settings import Settings
from impsy.web.streams import Streams
from impsy.web.training import training_available

log = logging.getLogger(__name__)

STATIC = str(Path(__file__).resolve().parent / "static")


def default_examples() -> list[Path]:
    from impsy.cli import shipped

    return [shipped("configs")]


class WebUI(LoginPages, LivePages, ConfigPages, FilePages, JobPages, BackupPages, Api):
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
        self.jobs = Jobs()
        self.training = training_available() if settings.training is None else settings.training
        self.streams = Streams()
        self._config_mutex = threading.Lock()
        self.app = SecureBottle()
        self.app.install(Checks(self))
        self._routes()
        for code in (400, 403, 404, 405, 413, 500):
            self.app.error(code)(self.error_page)

    def webui_ports(self) -> WebUIConfig:
        config, _ = self.read_config()
        return config.webui if config else WebUIConfig()

    def _routes(self) -> None:
        app, L = self.app, self.settings.limits
        # A form percent-encodes the text: up to three bytes for each byte of the config.
        config_form = 3 * L.config + 64 * 1024
        # Bottle refuses to parse a form body over MEMFILE_MAX (100 KB) with its own 413; our
        # Checks hold every route to its limit before any body is read, so let bottle parse them.
        bottle.BaseRequest.MEMFILE_MAX = max(bottle.BaseRequest.MEMFILE_MAX, config_form, L.form)
        route = app.route
        route("/static/<path:path>", "GET", self.static, public=True)
        route("/login", "GET", self.login_page, public=True)
        route("/login", "POST", self.login, public=True, lock_ok=True)
        route("/logout", "POST", self.logout, lock_ok=True)
        route("/", "GET", self.dashboard)
        route("/monitor", "GET", self.monitor_page)
        # The original web UI's name for it, in users' bookmarks and workshop notes.
        route("/realtime", "GET", lambda: bottle.redirect("/monitor", 301))
        route("/monitor/stream", "GET", self.monitor_stream)
        route("/commands", "GET", self.commands_page)
        route("/commands/<name>", "POST", self.command, lock_ok=True)
        route("/api/commands/<name>", "POST", self.command, lock_ok=True)
        route("/lock", "POST", self.lock, lock_ok=True)
        route("/config", "GET", self.config_page)
        route("/config", "POST", self.config_save, max_body=config_form)
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
        route("/training/finetune", "POST", self.training_finetune)
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

    def static(self, path: str) -> Answer:
        response = bottle.static_file(path, root=STATIC)
        response.set_header("Cache-Control", "max-age=3600")
        return response

    def error_page(self, error: bottle.HTTPError) -> str:
        """bottle's own errors (no such page, too large, a crash) shown like any refusal."""
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
                **self.page_values("error"),
                title=bottle.HTTP_CODES.get(error.status_code, "Error"),
                message=message,
            )
        except Exception:  # the error page must never fail itself
            return f"<h1>{error.status_code}</h1><p>{bottle.html_escape(message)}</p>"


def create_app(settings: Settings, link: Link | None = None) -> WebUI:
    """The web UI for a working folder; call `ui.link.start()` to hear `impsy run`."""
    if not settings.example_folders:
        settings.example_folders = default_examples()
    return WebUI(settings, link)
