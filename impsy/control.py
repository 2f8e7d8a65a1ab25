"""[webui]: the localhost link between `impsy run` and the web UI.

`impsy run` listens for /impsy/* commands on 127.0.0.1:command_port and reports to
127.0.0.1:monitor_port: /monitor/in and /monitor/out with every vector, and /monitor/state
with a JSON string of its live state (mode, temperatures, model, counters) on every change
and once a second, so the web UI can tell that it is alive.
"""

from __future__ import annotations

import json

import numpy as np

from impsy.channels.base import Channel, Sink
from impsy.channels.osc import dispatch_commands
from impsy.channels.udp import OscEndpoint, open_sender, osc_message
from impsy.config import WebUIConfig

LOCALHOST = "127.0.0.1"
MONITOR_IN, MONITOR_OUT, MONITOR_STATE = "/monitor/in", "/monitor/out", "/monitor/state"


class ControlChannel(Channel):
    """Commands in from the web UI; monitor messages out to it."""

    name = "control"

    def __init__(self, config: WebUIConfig, sink: Sink) -> None:
        self.config, self.sink = config, sink
        self._server: OscEndpoint | None = None
        self._sender: OscEndpoint | None = None
        self._monitor = (LOCALHOST, config.monitor_port)

    async def start(self) -> None:
        self._server = await OscEndpoint.open(
            LOCALHOST,
            self.config.command_port,
            self._receive,
            lambda reason: self.sink.dropped(self.name, reason),
        )
        self._sender = await open_sender(LOCALHOST)

    def _receive(self, address: str, args: list) -> None:
        if not dispatch_commands(self.sink, self.name, address, args):
            self.sink.dropped(self.name, f"unknown address {address}")

    def _emit(self, address: str, args: list) -> None:
        if self._sender is not None:
            self._sender.send(osc_message(address, args), self._monitor)

    def send(self, values: np.ndarray) -> None:
        self._emit(MONITOR_OUT, values.tolist())

    def monitor_input(self, values: np.ndarray) -> None:
        self._emit(MONITOR_IN, values.tolist())

    def report(self, state: dict) -> None:
        self._emit(MONITOR_STATE, [json.dumps(state, separators=(",", ":"))])

    async def close(self) -> None:
        for endpoint in (self._server, self._sender):
            if endpoint is not None:
                endpoint.close()
