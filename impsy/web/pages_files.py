"""The working folder's files: the logs, datasets and models pages, their uploads, downloads and
deletions, and making a model the active one."""

from __future__ import annotations

import time
from collections.abc import Callable

import bottle

from impsy.dataset import DEFAULT_MAX_GAP, DatasetError, dimensions_in
from impsy.logs import log_dimension, read_log
from impsy.web import backup
from impsy.web.configtext import EditError, with_model
from impsy.web.handling import Answer, Handling, Refused, start_attachment
from impsy.web.inventory import load_safely
from impsy.web.paths import CONFIG, KINDS, MODEL_PLOTS, write_atomically


class FilePages(Handling):
    # ---- any kind: download, delete ----------------------------------------------------------------

    def download(self, kind: str) -> Callable[..., Answer]:
        def handler(name: str) -> Answer:
            path = self.workdir.file(kind, name)
            return bottle.static_file(path.name, root=str(path.parent), download=path.name)

        return handler

    def confirm_delete(self, kind: str) -> Callable[..., Answer]:
        def handler(name: str) -> Answer:
            path = self.workdir.file(kind, name)
            config, _ = self.read_config()
            warning = None
            if kind == "model" and self.workdir.active_model(config) == name:
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

    def delete(self, kind: str) -> Callable[..., Answer]:
        def handler(name: str) -> Answer:
            path = self.workdir.file(kind, name)
            folder = KINDS[kind][0]
            if kind == "log" and self.writing_now(name):
                return self.refuse(409, f"impsy run is writing {name} right now: delete it after a restart")
            if kind == "model":
                config, _ = self.read_config()
                if self.workdir.active_model(config) == name:
                    return self.refuse(409, f"{name} is the active model: make another one active first")
                for companion in self.workdir.model_companions(name):
                    companion.unlink()
            path.unlink()
            return self.done(f"Deleted {folder}/{name}.", f"/{folder}")

        return handler

    # ---- logs --------------------------------------------------------------------------------------

    def logs_page(self) -> Answer:
        logs = self.inventory.logs()
        writing = next((log.name for log in logs if self.writing_now(log.name)), None)
        return self.render("logs", logs=logs, writing=writing, limit=self.settings.limits.log)

    def logs_archive(self) -> Answer:
        start_attachment(f"impsy-logs-{time.strftime('%Y-%m-%d-%H%M')}.zip", "application/zip")
        return backup.stream_backup(self.workdir, kinds=("log",))

    def upload_log(self) -> Answer:
        name = self.upload_name("log")
        with self.uploaded("log", name) as part:
            try:
                part.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                raise Refused(422, f"{name} is not a text file, so it is not an IMPSY log") from None
            try:
                read = read_log(part, log_dimension(name))
            except ValueError as error:  # 0d, 1d: the name says it holds no controls
                raise Refused(422, f"{name}: {str(error).split(': ', 1)[1]}") from None
            good = read.rows - read.skipped
            if good == 0:
                why = f" (for example {read.problems[0].split(': ', 1)[1]})" if read.problems else ""
                raise Refused(422, f"{name} has no rows in IMPSY's log format{why}")
        note = f"; {read.skipped} malformed rows will be skipped" if read.skipped else ""
        return {"ok": True, "message": f"Uploaded logs/{name}: {good} rows{note}.", "name": name}

    # ---- datasets ----------------------------------------------------------------------------------

    def datasets_page(self) -> Answer:
        job = self.jobs.get(bottle.request.query.get("job", ""))
        if job is None and (current := self.jobs.current("dataset")) and current.running:
            job = current
        logs = self.workdir.listable("log")
        dimensions = dimensions_in(logs) if logs else []
        return self.render(
            "datasets",
            datasets=self.inventory.datasets(),
            dimensions=dimensions,
            job=job,
            max_gap=DEFAULT_MAX_GAP,
            limit=self.settings.limits.dataset,
        )

    def upload_dataset(self) -> Answer:
        name = self.upload_name("dataset")
        with self.uploaded("dataset", name, replace="delete it first to replace it") as part:
            try:
                dataset = load_safely(part)
            except DatasetError as error:
                message = str(error).replace(f"{part}: ", "")
                raise Refused(422, f"{name} was not accepted: {message}") from None
        return {"ok": True, "message": f"Uploaded datasets/{name}: {dataset.summary()}.", "name": name}

    # ---- models ------------------------------------------------------------------------------------

    def models_page(self) -> Answer:
        config, _ = self.read_config()
        return self.render(
            "models",
            models=self.inventory.models(),
            active=self.workdir.active_model(config),
            config=config,
            limit=self.settings.limits.model,
        )

    def model_plot(self, name: str) -> Answer:
        self.workdir.file("model", name)
        plots = self.workdir.model_companions(name, MODEL_PLOTS)
        if not plots:
            return self.refuse(404, f"{name} has no training plot")
        plot = plots[0]
        if plot.suffix == ".png":
            return bottle.static_file(plot.name, root=str(plot.parent), mimetype="image/png")
        answer = bottle.static_file(plot.name, root=str(plot.parent), mimetype="image/svg+xml")
        # Our trainer wrote it, but an SVG is a document that could hold script: pages show it
        # in an <img> (which runs none), and opened on its own it may run or load nothing.
        answer.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
        answer.set_header("X-Content-Type-Options", "nosniff")
        return answer

    def upload_model(self) -> Answer:
        query = bottle.request.query
        name = self.sent_name()
        if name.endswith((".keras", ".h5")):
            return self.refuse(
                415,
                f"{name}: the runtime plays .tflite models; convert it on your laptop with "
                f"`impsy-train export {name}` and upload the .tflite",
            )
        name = self.upload_name("model")
        replacing = (self.workdir.folder("model") / name).exists()
        with self.uploaded("model", name, replace="tick 'replace' to overwrite it") as part:
            figures = self.settings.check_models([part])[0]
            if "error" in figures:
                raise Refused(422, f"{name} was not accepted: {figures['error']}")
            config, _ = self.read_config()
            if name == self.workdir.active_model(config) and figures["dimension"] != config.model.dimension:
                # Replacing it would leave a config that `impsy run` refuses at its next start.
                raise Refused(
                    409,
                    f"models/{name} is the active model, which config.toml plays as "
                    f"{config.model.dimension}d, and this file is {figures['dimension']}d: upload it "
                    "under another name and make that one active",
                )
            target = part.with_name(name)  # where uploaded() keeps it
            # The old model's report, plot and .keras describe another network: they go with it.
            stale = self.workdir.model_companions(name) if replacing else []
        for companion in stale:
            companion.unlink(missing_ok=True)
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

    def model_activate(self, name: str) -> Answer:
        """Make a model active; with the form field restart=1, restart IMPSY to play it too."""
        self.workdir.file("model", name)
        info = self.inventory.model(name)
        if info is None or info.error:
            why = info.error if info else "it cannot be read"
            return self.refuse(422, f"{name} cannot be made active: {why}")
        restart = bottle.request.forms.get("restart") == "1"
        if restart:
            self.restart_command()  # refused before anything changes if there is none
        message = self._activate(name, {"dimension": info.dimension, "size": info.size})
        if not restart:
            return self.done(message, "/models")
        self.restart_impsy()
        return self.done(f"models/{name} is now the active model, and IMPSY is restarting to play it.", "/")

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
