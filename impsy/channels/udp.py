"""OSC over UDP on the event loop: receive, dispatch by address, send. No threads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Sequence

from pythonosc.osc_message_builder import OscMessageBuilder

from impsy.channels.oscframe import read_packet

log = logging.getLogger(__name__)

Handler = Callable[[str, list], None]
RECEIVE_BUFFER = 1 << 20  # bytes; the kernel caps it at net.core.rmem_max


def osc_message(address: str, args: Sequence[object]) -> bytes:
    """Encode one OSC message; floats are sent as 32-bit floats, as every OSC client expects."""
    builder = OscMessageBuilder(address)
    for arg in args:
        if isinstance(arg, str):
            builder.add_arg(arg, OscMessageBuilder.ARG_TYPE_STRING)
        elif isinstance(arg, bool | int):
            builder.add_arg(int(arg), OscMessageBuilder.ARG_TYPE_INT)
        else:
            builder.add_arg(float(arg), OscMessageBuilder.ARG_TYPE_FLOAT)
    return builder.build().dgram


class OscEndpoint(asyncio.DatagramProtocol):
    """A UDP socket that hands each OSC message to `on_message(address, args)`.

    Packets that are not OSC are reported to `on_garbage(reason)` and otherwise ignored.
    """

    def __init__(self, on_message: Handler, on_garbage: Callable[[str], None]) -> None:
        self.on_message = on_message
        self.on_garbage = on_garbage
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(
        cls, host: str, port: int, on_message: Handler, on_garbage: Callable[[str], None]
    ) -> OscEndpoint:
        loop = asyncio.get_running_loop()
        transport, endpoint = await loop.create_datagram_endpoint(
            lambda: cls(on_message, on_garbage), local_addr=(host, port)
        )
        # A controller can burst faster than one message per loop turn; let the kernel hold more.
        with contextlib.suppress(OSError):
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        return endpoint

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            messages = read_packet(data)
        except ValueError as error:
            self.on_garbage(f"not an OSC packet ({error})")
            return
        for message in messages:
            try:
                self.on_message(message.address, list(message.params))
            except Exception:
                # asyncio closes a transport whose callback raises: keep listening instead.
                log.exception("error handling OSC %s", message.address)

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable" from a client that is not listening yet: harmless for UDP.
        log.debug("UDP error: %s", exc)

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, to)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_sender(host: str = "127.0.0.1") -> OscEndpoint:
    """A send-only endpoint on an ephemeral port; host "0.0.0.0" can reach other machines."""
    return await OscEndpoint.open(host, 0, lambda address, args: None, lambda reason: None)
