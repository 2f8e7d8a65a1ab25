"""The running instrument: the dashboard, the live monitor and its stream, commands, the
performance lock and restarting IMPSY."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator

import bottle

from impsy.config import MODES
from impsy.interaction.commands import parse_command
from impsy.web.checks import peer
from impsy.web.controls import control_names
from impsy.web.handling import Answer, Handling, sse, start_event_stream
from impsy.web.link import COMMANDS
from impsy.web.pages_login import safe_next
from impsy.web.system import cpu_temperature, human_number

STREAM_KEEPALIVE = 2.0  # seconds between status events on a quiet stream
STREAM_MIN_GAP = 0.04  # at most 25 batches of vectors a second per browser
COMMAND_ANSWER = 1.5  # seconds to wait for `impsy run` to report its state after a command
SETTING_NAMES = {"sigmatemp": "Sigma temperature", "pitemp": "Pi temperature", "timescale": "Timescale"}


class LivePages(Handling):
    def dashboard(self) -> Answer:
        config, _, problems = self.checked_config()
        return self.render(
            "dashboard",
            config=config,
            config_exists=self.workdir.config.is_file(),
            config_errors=[p for p in problems if p.is_error],
            active_model=self.workdir.active_model(config),
            disk_free=self.workdir.disk_free(),
            temperature=cpu_temperature(),
            workdir=str(self.workdir.root),
            restart_command=self.settings.restart_command,
        )

    def monitor_page(self) -> Answer:
        config, _ = self.read_config()
        return self.render("monitor", controls=control_names(config) if config else [])

    def monitor_stream(self) -> Answer:
        """Server-sent events: `status` (alive, state, rates) and `vectors` (batched)."""
        with_vectors = bottle.request.query.get("vectors", "1") != "0"
        start_event_stream()
        bottle.response.set_header("X-Accel-Buffering", "no")
        return self.streams.serve(peer(), self._stream(with_vectors))

    def _stream(self, with_vectors: bool) -> Iterator[str]:
        link = self.link
        last, last_status = link.seq, time.monotonic()  # anything after this is sent
        yield "retry: 2000\n\n"
        yield sse("status", link.status())
        while True:
            last, vectors, state = link.wait(last, STREAM_KEEPALIVE)
            if with_vectors and vectors:
                batch = {"in": [], "out": [], "forecast": []}
                for v in vectors[-512:]:
                    values = [round(x, 4) for x in v.values] if v.kind == "forecast" else v.values
                    batch[v.kind].append([round(v.time, 4), values])
                yield sse("vectors", batch)
            now = time.monotonic()
            if state is not None or now - last_status >= STREAM_KEEPALIVE:
                yield sse("status", link.status())
                last_status = now
            time.sleep(STREAM_MIN_GAP)

    def commands_page(self) -> Answer:
        return self.render("commands", modes=MODES)

    def command(self, name: str) -> Answer:
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

    def lock(self) -> Answer:
        value = bottle.request.forms.get("locked", "")
        if value not in ("on", "off"):
            return self.refuse(400, "locked: expected on or off")
        self.guard.set_locked(value == "on")
        message = (
            "Performance lock on: only the Commands page can change anything until you unlock."
            if value == "on"
            else "Performance lock off: everything can be changed again."
        )
        back = safe_next(bottle.request.forms.get("next", "/commands"))
        return self.done(message, back, locked=value == "on")

    def restart_page(self) -> Answer:
        return self.render(
            "restart",
            command=self.settings.restart_command,
            command_text=shlex.join(self.settings.restart_command),
            workdir=str(self.workdir.root),
        )

    def restart(self) -> Answer:
        self.restart_impsy()
        return self.done("Restarting IMPSY: the dashboard shows it running again in a few seconds.", "/")


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
    return f"{SETTING_NAMES.get(name, name)} is now {human_number(state.get(name))}."
