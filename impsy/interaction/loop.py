"""The performance: core, model, channels, log and monitor on one asyncio event loop.

Everything happens on the loop's thread: channels deliver input through the Sink methods,
the core decides, and one timer handle wakes the loop exactly when the core's next
deadline falls. With nothing scheduled the loop sleeps in epoll: no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from impsy import __version__
from impsy.channels import build_channels
from impsy.channels.base import Channel, ChannelError
from impsy.config import Config
from impsy.control import ControlChannel
from impsy.interaction.commands import refusal
from impsy.interaction.core import Action, Core, Log, Play, Settings, Silence
from impsy.interaction.drops import DropReporter
from impsy.interaction.forecast import RATE as FORECAST_RATE
from impsy.interaction.forecast import summarise
from impsy.logs import LogWriter
from impsy.model import Model
from impsy.notify import notify, watchdog_period

log = logging.getLogger("impsy.run")

HEARTBEAT = 1.0  # seconds between state reports to the web UI
# A deadline closer than this is served at once: epoll sleeps in whole milliseconds.
SERVE_NOW = 0.0005


def settings_from(config: Config) -> Settings:
    """The live settings a config starts a performance with."""
    return Settings(
        mode=config.interaction.mode,
        threshold=config.interaction.threshold,
        input_thru=config.interaction.input_thru,
        reseed=config.interaction.reseed,
        timescale=config.model.timescale,
        sigmatemp=config.model.sigmatemp,
        pitemp=config.model.pitemp,
        persistence=config.model.persistence,
        one_at_a_time=config.model.one_at_a_time,
        log_input=config.log_input,
        log_predictions=config.log_predictions,
    )


def _discard_output(stream: TextIO) -> None:
    """Point a stream that cannot be written at /dev/null, so what it still holds is dropped
    quietly at exit instead of failing again with a traceback."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no descriptor: nothing to do
        target = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, target)
        finally:
            os.close(null)


class Performance:
    """One run of `impsy run`: also the Sink every channel delivers to."""

    def __init__(
        self,
        config: Config,
        model: Model,
        log_dir: str | Path = "logs",
        channels: list[Channel] | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.config = config
        self.model = model
        self.dimension = model.dimension
        self.settings = settings_from(config)
        self.control = ControlChannel(config.webui, self)
        self.channels = [
            self.control,
            *(channels if channels is not None else build_channels(config, self, self.dimension)),
        ]
        self.drops = DropReporter()
        self.counts: Counter[str] = Counter()
        self.core: Core | None = None
        self._log_dir = Path(log_dir)
        self._started = datetime.now()
        self._writer: LogWriter | None = None
        self._controls = np.zeros(self.dimension - 1)  # the last value of every control
        self._out = out or sys.stdout
        self._printing = config.verbose
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._stopping = False
        self._reported_playing = False
        self._forecast_at = -np.inf  # when the monitor was last told what the model expects
        self._forecast_timer: asyncio.TimerHandle | None = None

    # -- Sink: called by channels on the loop's thread ----------------------------------

    def vector(self, source: str, values: np.ndarray) -> None:
        self._controls = np.asarray(values, dtype=float)
        self._input(self._controls)

    def controls(self, source: str, changes: dict[int, float]) -> None:
        controls = self._controls.copy()
        for index, value in changes.items():
            controls[index] = value
        self._controls = controls
        self._input(controls)

    def command(self, source: str, name: str, value: object) -> None:
        core, now = self.core, self._now()
        if core is None:
            return
        if why := refusal(name, value):  # checked here too: not every channel parses its commands
            self.dropped(source, why)
            return
        log.info("%s: %s %s", source, name, "" if value is None else value)
        if name == "mode":
            self._perform(core.set_mode(now, str(value)))
        elif name == "pause":
            self._perform(core.set_paused(now, bool(value)))
        elif name == "reset":
            self._perform(core.reset(now))
        elif name == "timescale":
            self._perform(core.set_timescale(now, float(value)))
        else:  # sigmatemp, pitemp: apply from the next sample on
            setattr(self.settings, name, value)
        self._rearm()
        self.report()
        self._forecast()  # the band follows a temperature at once

    def dropped(self, source: str, reason: str) -> None:
        self.drops.add(source, reason)

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Open every channel, play until `stop` is set, then close everything cleanly."""
        self._loop = asyncio.get_running_loop()
        self.drops.schedule = self._loop.call_later  # a drop summary is due even if input stops
        try:
            # The web UI's link last: a second `impsy run` then names the performer's port it cannot have.
            for channel in [*self.channels[1:], self.control]:
                try:
                    await channel.start()
                except OSError as error:
                    raise ChannelError(f"{channel.name}: cannot start: {error.strerror or error}") from error
            self.core = Core(self.model, self.settings, self._now())
            self.report()  # channels (GPIO's mode button, the web UI) know the state from the start
            self._rearm()
            notify("READY=1")
            self._every(HEARTBEAT, self.report)
            period = watchdog_period()
            if period:
                self._every(period, lambda: notify("WATCHDOG=1"))
            log.info("playing in %s mode; Ctrl-C stops", self.settings.mode)
            await stop.wait()
        finally:
            await self._shutdown()

    def _now(self) -> float:
        return self._loop.time() if self._loop else time.monotonic()

    def _every(self, seconds: float, job) -> None:
        def tick() -> None:
            if not self._stopping:
                job()
                self._loop.call_later(seconds, tick)

        self._loop.call_later(seconds, tick)

    def _input(self, controls: np.ndarray) -> None:
        if self.core is None:
            return
        self.counts["in"] += 1
        with self._carry_on("handling input"):
            self._perform(self.core.on_input(self._now(), controls))
        self._rearm()
        for channel in self.channels:
            channel.monitor_input(controls)
        self._forecast()
        self._print("in ", controls)  # last: printing never costs the input its row or reply

    def _on_timer(self) -> None:
        due, self._timer, self._timer_at = self._timer_at, None, None
        if self.core is not None:
            with self._carry_on("playing"):
                # Served early (SERVE_NOW) is served: the core must not find it not yet due.
                self._perform(self.core.on_timer(max(self._now(), due)))
            self._rearm()
            self._forecast()

    @contextlib.contextmanager
    def _carry_on(self, doing: str) -> Iterator[None]:
        """A bug while handling one event is logged, and the performance goes on with the next."""
        try:
            yield
        except Exception:
            log.exception("error while %s; the performance goes on", doing)

    def _rearm(self) -> None:
        """Set the one timer to the core's next deadline (no timer if there is none)."""
        deadline = self.core.next_deadline() if self.core and not self._stopping else None
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        if deadline is None:
            self._timer = None
        elif deadline - self._now() < SERVE_NOW:
            self._timer = self._loop.call_soon(self._on_timer)
        else:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _perform(self, actions: list[Action]) -> None:
        if self.core is not None and self.core.playing != self._reported_playing:
            self.report()  # lights and monitors follow the hand-over at once
        for action in actions:
            if isinstance(action, Play):
                self.counts[action.source] += 1
                for channel in self.channels:
                    try:
                        channel.send(action.values)
                    except Exception as error:  # one broken channel must not silence the others
                        self.drops.add(channel.name, f"could not send: {error!r}")
            elif isinstance(action, Log):
                self._write_log(action)
            elif isinstance(action, Silence):
                for channel in self.channels:
                    channel.silence()
        for action in actions:  # after every note and row
            if isinstance(action, Play) and action.source != "thru":
                self._print("out", action.values)

    def _forecast(self) -> None:
        """Tell the monitor what the model expects next, at most FORECAST_RATE times a second:
        a forecast due sooner waits on a timer and then sends the latest one."""
        if self._forecast_timer is not None or self._stopping:
            return
        wait = self._forecast_at + 1 / FORECAST_RATE - self._now()
        if wait > 0:
            self._forecast_timer = self._loop.call_later(wait, self._send_forecast)
        else:
            self._send_forecast()

    def _send_forecast(self) -> None:
        self._forecast_timer = None
        params = self.core.forecast if self.core else None
        if params is None or self._stopping:
            return
        self._forecast_at = self._now()
        s, info = self.settings, self.model.info
        with self._carry_on("telling the monitor"):
            self.control.forecast(
                summarise(params, self.dimension, info.mixtures, s.pitemp, s.sigmatemp, s.timescale)
            )

    def _write_log(self, action: Log) -> None:
        if self._writer is None:  # created at the first row: a run with no events leaves no file
            self._writer = LogWriter(self._log_dir, self.dimension, self._started)
            log.info("logging to %s", self._writer.path)
        self._writer.write(action.source, action.values)

    def _print(self, label: str, values: np.ndarray) -> None:
        """--verbose: one line per gesture; output that fails (`| head -n 1`) stops the printing only."""
        if not self._printing:
            return
        try:
            self._out.write(f"{label} {' '.join(f'{v:.3f}' for v in values)}\n")
            self._out.flush()
        except (OSError, ValueError) as error:  # a closed pipe, a full disk, a closed file
            self._printing = False
            log.warning("cannot print gestures (%s); printing stops, the performance goes on", error)
            _discard_output(self._out)

    def report(self) -> None:
        """Tell the web UI how things stand."""
        if self.core is None:
            return
        info = self.model.info
        self._reported_playing = self.core.playing
        state = {
            **self.core.state(),
            "version": __version__,
            "model": {
                "file": info.path,
                "dimension": info.dimension,
                "size": info.size,
                "layout": info.layout,
            },
            "config": self.config.source,
            "log": str(self._writer.path) if self._writer else None,
            "counts": dict(self.counts),
            "dropped": dict(self.drops.counts),
            "log_failed": self._writer.failed if self._writer else 0,
        }
        for channel in self.channels:
            channel.report(state)

    async def _shutdown(self) -> None:
        self._stopping = True
        notify("STOPPING=1")
        for timer in (self._timer, self._forecast_timer):
            if timer is not None:
                timer.cancel()
        for channel in self.channels:
            channel.silence()  # no hanging notes, whatever state the model was in
        for channel in self.channels:
            try:
                await channel.close()
            except Exception:  # one channel failing to close must not keep the others open
                log.exception("%s: error while closing", channel.name)
        if self._writer is not None:
            self._writer.close()
        dropped = sum(self.drops.counts.values())
        log.info(
            "stopped: %d inputs, %d model events%s%s",
            self.counts["in"],
            self.counts["rnn"],
            f"; {dropped} malformed messages dropped ({dict(self.drops.counts)})" if dropped else "",
            f"; logged to {self._writer.path}" if self._writer and self._writer.rows else "",
        )
