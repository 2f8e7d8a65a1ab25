"""[webui]: the localhost link between `impsy run` and the web UI.

`impsy run` listens for /impsy/* commands on 127.0.0.1:command_port and reports to
127.0.0.1:monitor_port: /monitor/in and /monitor/out with every vector, /monitor/forecast with
what the model expects next (at most 30 a second), and /monitor/state with a JSON string of its
live state (mode, temperatures, model, counters) on every change and once a second, so the web
UI can tell that it is alive.
"""

from __future__ import annotations

import json

import numpy as np

from impsy.channels.base import Sink
from impsy.channels.osc import OscLink
from impsy.config import WebUIConfig

LOCALHOST = "127.0.0.1"
MONITOR_IN, MONITOR_OUT, MONITOR_STATE = "/monitor/in", "/monitor/out", "/monitor/state"
MONITOR_FORECAST = "/monitor/forecast"


class ControlChannel(OscLink):
    """Commands in from the web UI; monitor messages out to it."""

    name = "control"

    def __init__(self, config: WebUIConfig, sink: Sink) -> None:
        super().__init__(sink, (LOCALHOST, config.command_port), "webui.command_port", LOCALHOST)
        self.config = config
        self._monitor = (LOCALHOST, config.monitor_port)

    def send(self, values: np.ndarray) -> None:
        self.emit(MONITOR_OUT, values.tolist(), self._monitor)

    def monitor_input(self, values: np.ndarray) -> None:
        self.emit(MONITOR_IN, values.tolist(), self._monitor)

    def forecast(self, summary: list[float]) -> None:
        """What the model expects next (impsy.interaction.forecast.summarise)."""
        self.emit(MONITOR_FORECAST, summary, self._monitor)

    def report(self, state: dict) -> None:
        self.emit(MONITOR_STATE, [json.dumps(state, separators=(",", ":"))], self._monitor)
