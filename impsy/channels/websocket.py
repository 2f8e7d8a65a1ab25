"""[websocket]: MIDI-shaped text messages with browsers (or anything else) over WebSocket.

One text message per frame, channels 1-16 as printed on MIDI gear:

    /channel/{ch}/noteon/{note}/{velocity}     note 0-127, velocity 0-127 (0 means note off)
    /channel/{ch}/noteoff/{note}/{velocity}
    /channel/{ch}/cc/{controller}/{value}      controller 0-127, value 0-127
    /channel/{ch}/pitchbend/{value}            value 0-16383, 8192 is the middle

Incoming messages go through the `input` mapping; IMPSY's output goes through the `output`
mapping to every connected client. Clients send the same shapes they receive, so a page can
echo. Anything else is dropped and counted. A client that disappears is simply forgotten.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from impsy.channels.base import Channel, Sink
from impsy.channels.midimap import (
    BEND_MAX,
    CONTROL_CHANGE,
    NOTE_OFF,
    NOTE_ON,
    PITCH_BEND,
    Decoder,
    Encoder,
    MidiEvent,
    note_on,
)
from impsy.config import WebSocketConfig

log = logging.getLogger("impsy.websocket")
# The library's own log of every connection, above our one line per client: problems only.
_library_log = logging.getLogger("impsy.websocket.library")
_library_log.setLevel(logging.WARNING)

MAX_MESSAGE = 4096  # bytes; our messages are a few dozen: a longer one is dropped and counted
MAX_FRAME = 1 << 16  # bytes; a client sending more is cut off (1009) before it costs memory
# Close codes the library sends when it refuses what a client sent.
REFUSED = {1002: "a broken frame", 1007: "text that is not UTF-8", 1009: f"a message over {MAX_FRAME} bytes"}
_WORDS = {NOTE_ON: "noteon", NOTE_OFF: "noteoff", CONTROL_CHANGE: "cc", PITCH_BEND: "pitchbend"}
# word -> (event kind, names and upper limits of the numbers after it)
_SHAPES = {
    "noteon": (NOTE_ON, (("note", 127), ("velocity", 127))),
    "noteoff": (NOTE_OFF, (("note", 127), ("velocity", 127))),
    "cc": (CONTROL_CHANGE, (("controller", 127), ("value", 127))),
    "pitchbend": (PITCH_BEND, (("value", BEND_MAX),)),
}
EXAMPLE = "/channel/1/noteon/60/100"


def format_event(event: MidiEvent) -> str:
    """The text message for an event (channels 1-based on the wire)."""
    head = f"/channel/{event.channel + 1}/{_WORDS[event.kind]}"
    if event.kind == PITCH_BEND:
        return f"{head}/{event.value}"
    return f"{head}/{event.number}/{event.value}"


def _number(text: str, what: str, high: int, low: int = 0) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{what} is not a whole number ({text[:20]!r})")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is outside {low}-{high}")
    return value


def parse_message(text: str) -> MidiEvent:
    """The event a text message describes; ValueError saying what is wrong with it."""
    parts = text.strip().split("/")
    if len(parts) < 4 or parts[0] != "" or parts[1] != "channel" or parts[3] not in _SHAPES:
        raise ValueError(f"unknown message {text[:60]!r} (expected e.g. {EXAMPLE})")
    kind, numbers = _SHAPES[parts[3]]
    if len(parts) != 4 + len(numbers):
        names = "/".join("{" + name + "}" for name, _ in numbers)
        raise ValueError(f"{text[:60]!r}: expected /channel/{{ch}}/{parts[3]}/{names}")
    channel = _number(parts[2], "channel", 16, low=1) - 1
    values = [_number(part, name, high) for part, (name, high) in zip(parts[4:], numbers, strict=True)]
    if kind == NOTE_ON:
        return note_on(channel, values[0], values[1])
    if kind == PITCH_BEND:
        return MidiEvent(PITCH_BEND, channel, 0, values[0])
    return MidiEvent(kind, channel, values[0], values[1])


class WebSocketChannel(Channel):
    """A WebSocket server: every client may play IMPSY and every client hears it."""

    name = "websocket"

    def __init__(self, config: WebSocketConfig, sink: Sink, dimension: int) -> None:
        self.config, self.sink = config, sink
        self.decoder = Decoder(config.input)
        self.encoder = Encoder(config.output)  # one for all clients: they all hear the same
        self.clients: set[ServerConnection] = set()
        self._server: Server | None = None

    @property
    def port(self) -> int | None:
        """The port actually listened on (the configured one, or the one picked for port 0)."""
        if self._server is None or not self._server.sockets:
            return None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await serve(
            self._client,
            self.config.server_ip,
            self.config.server_port,
            max_size=MAX_FRAME,
            compression=None,  # tiny messages: compressing costs more than it saves
            close_timeout=1,
            logger=_library_log,
        )
        log.info("websocket: listening on %s:%s", self.config.server_ip, self.port)

    async def _client(self, connection: ServerConnection) -> None:
        self.clients.add(connection)
        self.encoder.refresh()  # a browser that joins late hears every controller, not only changes
        log.info("websocket: client %s connected", _who(connection))
        try:
            async for message in connection:
                self._receive(message)
        except ConnectionClosed as closed:
            # The library hangs up on a message it refuses: that message is dropped, and counted.
            # (A client that closes first gets its own code echoed back: that is no refusal.)
            ours = closed.sent is not None and not closed.rcvd_then_sent
            refused = REFUSED.get(closed.sent.code) if ours else None
            if refused:
                self.sink.dropped(self.name, f"client {_who(connection)} cut off for {refused}")
        finally:
            self.clients.discard(connection)
            log.info("websocket: client %s left", _who(connection))

    def _receive(self, message: str | bytes) -> None:
        if len(message) > MAX_MESSAGE:
            self.sink.dropped(self.name, f"a message of {len(message)} bytes ignored (at most {MAX_MESSAGE})")
            return
        if isinstance(message, bytes):
            self.sink.dropped(self.name, f"binary message ignored: send text such as {EXAMPLE}")
            return
        try:
            event = parse_message(message)
        except ValueError as error:
            self.sink.dropped(self.name, str(error))
            return
        changes = self.decoder.decode(event)
        if changes:
            self.sink.controls(self.name, changes)

    def _broadcast(self, events: list[MidiEvent]) -> None:
        if self.clients:
            for event in events:
                # Never waits: a slow or vanished client cannot hold up the others.
                broadcast(self.clients, format_event(event))

    def send(self, values: np.ndarray) -> None:
        self._broadcast(self.encoder.encode(values))

    def silence(self) -> None:
        self._broadcast(self.encoder.silence())

    async def close(self) -> None:
        self.silence()
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            except TimeoutError:
                log.warning("websocket: clients did not close in time; leaving them")


def _who(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if address else "?"
