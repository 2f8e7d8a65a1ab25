"""[osc]: /interface in, /impsy/* commands in, predictions out as /impsy, over UDP."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from pathlib import Path

import numpy as np

from impsy.channels.base import Channel, ChannelError, Sink, check_vector
from impsy.channels.udp import OscEndpoint, open_sender, osc_message
from impsy.config import OscConfig
from impsy.interaction.commands import PREFIX, parse_command

log = logging.getLogger(__name__)

RESOLVE_RETRY = 10.0  # seconds between looks for a client name that cannot be found yet
INPUT_ADDRESS = "/interface"
SERVICE = "impsy-run.service"
SERVICE_FOLDERS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
OUTPUT_ADDRESS = "/impsy"


def dispatch_commands(sink: Sink, source: str, address: str, args: list) -> bool:
    """Hand an /impsy/* message to the sink as a command; False if the address is not one."""
    if not address.startswith(PREFIX):
        return False
    try:
        name, value = parse_command(address, args)
    except ValueError as error:
        sink.dropped(source, str(error))
    else:
        sink.command(source, name, value)
    return True


def port_taken_hint(key: str) -> str:
    """What to do about a port in use: most often it is IMPSY itself, already running."""
    if any(Path(folder, SERVICE).exists() for folder in SERVICE_FOLDERS):  # the instrument
        return (
            "another program has it: most likely IMPSY's service. `sudo systemctl stop impsy-run` stops it "
            "(`systemctl status impsy-run` shows it)"
        )
    return (
        "another program has it: most likely an `impsy run` already running in another terminal "
        f"(stop it there with Ctrl-C), or choose another port for {key} in the config"
    )


class OscLink(Channel):
    """Listens for OSC on one UDP port (set by config key `key`) and sends from an ephemeral one."""

    def __init__(self, sink: Sink, listen: tuple[str, int], key: str, send_from: str) -> None:
        self.sink = sink
        self._listen, self._key, self._send_from = listen, key, send_from
        self._server: OscEndpoint | None = None
        self._sender: OscEndpoint | None = None

    async def start(self) -> None:
        host, port = self._listen
        try:
            self._server = await OscEndpoint.open(
                host, port, self.receive, lambda reason: self.sink.dropped(self.name, reason)
            )
        except OSError as error:
            hint = f"; {port_taken_hint(self._key)}" if error.errno == errno.EADDRINUSE else ""
            raise ChannelError(
                f"{self.name}: cannot listen on {host}:{port} ({self._key}): {error.strerror or error}{hint}"
            ) from error
        self._sender = await open_sender(self._send_from)

    def receive(self, address: str, args: list) -> None:
        """One OSC message arrived: here, only /impsy/* commands are understood."""
        if not dispatch_commands(self.sink, self.name, address, args):
            self.sink.dropped(self.name, f"unknown address {address}")

    def emit(self, address: str, args: list, to: tuple[str, int]) -> None:
        if self._sender is not None:
            self._sender.send(osc_message(address, args), to)

    async def close(self) -> None:
        for endpoint in (self._server, self._sender):
            if endpoint is not None:
                endpoint.close()


class OscChannel(OscLink):
    """Talks to Pure Data, Max, SuperCollider or anything else that speaks OSC."""

    name = "osc"

    def __init__(self, config: OscConfig, sink: Sink, dimension: int) -> None:
        super().__init__(sink, (config.server_ip, config.server_port), "osc.server_port", "0.0.0.0")
        self.config, self.width = config, dimension - 1
        self._client: tuple[str, int] | None = None  # resolved: no name lookup at each send
        self._retry: asyncio.TimerHandle | None = None
        self._lookup: asyncio.Task | None = None  # held: the loop keeps only weak references

    async def start(self) -> None:
        await super().start()
        await self._resolve()
        c = self.config
        log.info(
            "osc: listening on %s:%d for %s with %d values from 0 to 1; answers go to %s:%d as %s",
            c.server_ip,
            c.server_port,
            INPUT_ADDRESS,
            self.width,
            c.client_ip,
            c.client_port,
            OUTPUT_ADDRESS,
        )

    async def _resolve(self) -> None:
        """Look the client's name up once; while it cannot be found, answers wait and it is
        looked up again (host.docker.internal, a laptop not yet on the network)."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                self.config.client_ip, self.config.client_port, family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
        except OSError as error:
            if self._retry is None:  # warned at the first failure only
                log.warning(
                    "osc: cannot resolve client_ip %r (%s); answers are not sent until it resolves",
                    self.config.client_ip,
                    error,
                )
            self._retry = loop.call_later(RESOLVE_RETRY, self._look_again)
            return
        self._client = infos[0][4]
        if self._retry is not None:
            log.info("osc: client_ip %r is %s now", self.config.client_ip, self._client[0])

    def receive(self, address: str, args: list) -> None:
        if address != INPUT_ADDRESS:
            super().receive(address, args)
            return
        values = check_vector(args, self.width)
        if isinstance(values, str):
            self.sink.dropped(self.name, f"{INPUT_ADDRESS}: {values}")
        else:
            self.sink.vector(self.name, values)

    def _look_again(self) -> None:
        self._lookup = asyncio.get_running_loop().create_task(self._resolve())

    def send(self, values: np.ndarray) -> None:
        if self._client is not None:
            self.emit(OUTPUT_ADDRESS, values.tolist(), self._client)

    async def close(self) -> None:
        for pending in (self._retry, self._lookup):  # no lookup may outlive the channel
            if pending is not None:
                pending.cancel()
        await super().close()
