"""[osc]: /interface in, /impsy/* commands in, predictions out as /impsy, over UDP."""

from __future__ import annotations

import numpy as np

from impsy.channels.base import Channel, Sink, check_vector
from impsy.channels.udp import OscEndpoint, open_sender, osc_message
from impsy.config import OscConfig
from impsy.interaction.commands import PREFIX, parse_command

INPUT_ADDRESS = "/interface"
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


class OscChannel(Channel):
    """Talks to Pure Data, Max, SuperCollider or anything else that speaks OSC."""

    name = "osc"

    def __init__(self, config: OscConfig, sink: Sink, dimension: int) -> None:
        self.config, self.sink, self.width = config, sink, dimension - 1
        self._server: OscEndpoint | None = None
        self._sender: OscEndpoint | None = None
        self._client = (config.client_ip, config.client_port)

    async def start(self) -> None:
        self._server = await OscEndpoint.open(
            self.config.server_ip,
            self.config.server_port,
            self._receive,
            lambda reason: self.sink.dropped(self.name, reason),
        )
        self._sender = await open_sender("0.0.0.0")

    def _receive(self, address: str, args: list) -> None:
        if address == INPUT_ADDRESS:
            values = check_vector(args, self.width)
            if isinstance(values, str):
                self.sink.dropped(self.name, f"{INPUT_ADDRESS}: {values}")
            else:
                self.sink.vector(self.name, values)
        elif not dispatch_commands(self.sink, self.name, address, args):
            self.sink.dropped(self.name, f"unknown address {address}")

    def send(self, values: np.ndarray) -> None:
        if self._sender is not None:
            self._sender.send(osc_message(OUTPUT_ADDRESS, values.tolist()), self._client)

    async def close(self) -> None:
        for endpoint in (self._server, self._sender):
            if endpoint is not None:
                endpoint.close()
