"""The web UI's side of [webui]: hear `impsy run` on the monitor port, command it on the other.

`impsy run` sends /monitor/in and /monitor/out with every vector, /monitor/forecast with what
the model expects next, and /monitor/state (a JSON string) on every change and once a second,
all to 127.0.0.1:monitor_port; it takes /impsy/*
commands on 127.0.0.1:command_port. A thread here receives the monitor messages and keeps the
latest state, the recent vectors (for the live stream) and the event rates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass

from impsy.channels.oscframe import read_packet
from impsy.channels.udp import osc_message

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
ALIVE_WITHIN = 3.0  # seconds: `impsy run` reports once a second
RATE_WINDOW = 5.0  # seconds over which event rates are counted
RING = 4096  # recent vectors kept for the live stream
COMMANDS = ("mode", "pause", "reset", "sigmatemp", "pitemp", "timescale")


@dataclass(frozen=True)
class Vector:
    seq: int
    kind: str  # "in", "out" or "forecast"
    time: float  # time.time() when received
    values: tuple[float, ...]


class Link:
    """Monitor listener and command sender; every method is thread-safe."""

    def __init__(self, monitor_port: int, command_port: int, clock=time.time) -> None:
        self.monitor_port = monitor_port
        self.command_port = command_port
        self.error: str | None = None  # why the monitor port could not be opened
        self._clock = clock
        self._cond = threading.Condition()
        self._seq = 0
        self._vectors: deque[Vector] = deque(maxlen=RING)
        self._state: dict | None = None
        self._state_seq = 0
        self._last_heard: float | None = None
        self._times: dict[str, deque[float]] = {"in": deque(), "out": deque()}
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    # -- the listener --

    def start(self) -> None:
        self._open()
        self._thread = threading.Thread(target=self._listen, name="impsy-monitor", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((LOCALHOST, self.monitor_port))
        except OSError as error:
            sock.close()
            self.error = (
                f"cannot listen on 127.0.0.1:{self.monitor_port} for `impsy run` ({error.strerror}): "
                "is another web UI running?"
            )
            log.error("%s", self.error)
            self._socket = None
            return
        sock.settimeout(1.0)  # so a change of port or a stop is noticed
        self.error = None
        self._socket = sock

    def reconfigure(self, monitor_port: int, command_port: int) -> None:
        """Follow a saved config's [webui] ports."""
        self.command_port = command_port
        if monitor_port == self.monitor_port and self._socket is not None:
            return
        old, self._socket = self._socket, None
        if old is not None:
            old.close()
        self.monitor_port = monitor_port
        self._open()

    def stop(self) -> None:
        self._stopping = True
        if self._socket is not None:
            self._socket.close()
        self._sender.close()

    def _listen(self) -> None:
        while not self._stopping:
            sock = self._socket
            if sock is None:
                time.sleep(1.0)  # the port was taken; reconfigure() may give us another
                continue
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                continue  # closed by reconfigure() or stop()
            self.receive(data)

    def receive(self, data: bytes) -> None:
        """Take one datagram (public so that tests can feed it without a socket)."""
        try:
            messages = read_packet(data)
        except ValueError:
            return
        now = self._clock()
        with self._cond:
            for message in messages:
                self._take(message.address, list(message.params), now)
            self._cond.notify_all()

    def _take(self, address: str, args: list, now: float) -> None:
        if address in ("/monitor/in", "/monitor/out"):
            kind = address.rsplit("/", 1)[1]
            values = tuple(float(v) for v in args if isinstance(v, int | float))
            self._seq += 1
            self._vectors.append(Vector(self._seq, kind, now, values))
            self._times[kind].append(now)
            self._last_heard = now
        elif address == "/monitor/forecast":
            # [K, dt, K weights, K x n means, K x n spreads]: kept as numbers for the browser to draw
            values = tuple(float(v) for v in args if isinstance(v, int | float))
            k = int(values[0]) if values else 0
            if k < 1 or (len(values) - 2 - k) % (2 * k):
                return
            self._seq += 1
            self._vectors.append(Vector(self._seq, "forecast", now, values))
        elif address == "/monitor/state" and args and isinstance(args[0], str):
            try:
                state = json.loads(args[0])
            except ValueError:
                return
            if isinstance(state, dict):
                self._seq += 1
                self._state, self._state_seq, self._last_heard = state, self._seq, now

    # -- what the pages read --

    def alive(self) -> bool:
        with self._cond:
            return self._last_heard is not None and self._clock() - self._last_heard <= ALIVE_WITHIN

    def status(self) -> dict:
        """Is `impsy run` alive, what it last reported, and the recent event rates."""
        now = self._clock()
        with self._cond:
            rates = {}
            for kind, times in self._times.items():
                while times and now - times[0] > RATE_WINDOW:
                    times.popleft()
                rates[kind] = len(times) / RATE_WINDOW
            heard = self._last_heard
            return {
                "alive": heard is not None and now - heard <= ALIVE_WITHIN,
                "last_heard": None if heard is None else round(now - heard, 1),
                "state": self._state,
                "rates": rates,
                "monitor_port": self.monitor_port,
                "command_port": self.command_port,
                "error": self.error,
            }

    @property
    def seq(self) -> int:
        with self._cond:
            return self._seq

    def wait(self, after: int, timeout: float) -> tuple[int, list[Vector], dict | None]:
        """Block until something newer than `after` arrives (or timeout).

        Returns the newest seq, the vectors after `after`, and the state if it changed.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self._stopping, timeout)
            vectors = [v for v in self._vectors if v.seq > after]
            state = self._state if self._state_seq > after else None
            return self._seq, vectors, state

    def wait_for_state(self, after: int, timeout: float) -> dict | None:
        """The next state report after seq `after`, or None if none came in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._state_seq <= after:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping:
                    return None
                self._cond.wait(left)
            return self._state

    # -- commands --

    def send(self, name: str, value: object) -> None:
        """Send /impsy/<name> value to `impsy run` (it checks the value and reports its state)."""
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name}")
        args = [] if value is None else [value]
        with contextlib.suppress(OSError):  # nobody listening is not an error for UDP
            self._sender.sendto(osc_message(f"/impsy/{name}", args), (LOCALHOST, self.command_port))
