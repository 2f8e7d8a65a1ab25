"""OSC datagrams that are cheap to send and were dear to read: one of each shape, 64 KB each."""

from __future__ import annotations

import struct
import time

from impsy.channels.osc import OscChannel
from impsy.channels.udp import OscEndpoint, osc_message
from impsy.config import OscConfig

LIMIT = 65504  # about the largest UDP payload, a multiple of 4


def _padded(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def _message(tags: str, payload: bytes = b"") -> bytes:
    return _padded(b"/interface") + _padded(b"," + tags.encode()) + payload


def _fill(make, unit: int) -> bytes:
    """make(n) with the largest n that fits in LIMIT bytes."""
    n = LIMIT // unit
    while len(data := make(n)) > LIMIT:
        n -= 1
    return data


def _bundle(elements: list[bytes]) -> bytes:
    return b"#bundle\0" + b"\0" * 7 + b"\1" + b"".join(struct.pack(">i", len(e)) + e for e in elements)


def _nested(depth: int) -> bytes:
    packet = _message("f", struct.pack(">f", 0.5))
    for _ in range(depth):
        packet = _bundle([packet])
    return packet


def normal() -> bytes:
    """What a performer's patch sends: eight controls."""
    return osc_message("/interface", [0.5] * 8)


HOSTILE = {
    "all [": lambda: _fill(lambda n: _message("[" * n), 1),
    "[ ] pairs": lambda: _fill(lambda n: _message("[]" * n), 2),
    "ints": lambda: _fill(lambda n: _message("i" * n, b"\0" * 4 * n), 5),
    "empty strings": lambda: _fill(lambda n: _message("s" * n, b"\0" * 4 * n), 5),
    "T F N": lambda: _fill(lambda n: _message("TFN" * n), 3),
    "tiny bundled messages": lambda: _fill(lambda n: _bundle([_padded(b"/a")] * n), 8),
    "bundled /interface": lambda: _fill(lambda n: _bundle([normal()] * n), len(normal()) + 4),
    "nested bundles": lambda: _nested(8),
    "one big blob": lambda: _message("b", struct.pack(">i", LIMIT - 64) + b"\0" * (LIMIT - 64)),
    "long address": lambda: _padded(b"/" + b"a" * (LIMIT - 8)),
}


class CountingSink:
    """Counts what arrives; memory must not grow over thousands of datagrams."""

    def __init__(self) -> None:
        self.vectors = self.drops = self.commands = 0

    def vector(self, source: str, values: object) -> None:
        self.vectors += 1

    def controls(self, source: str, changes: object) -> None:
        self.vectors += 1

    def command(self, source: str, name: str, value: object) -> None:
        self.commands += 1

    def dropped(self, source: str, reason: str) -> None:
        self.drops += 1


def receiver(sink: CountingSink) -> OscEndpoint:
    """The [osc] channel's receiving end, as `impsy run` builds it, without a socket."""
    channel = OscChannel(OscConfig("127.0.0.1", 1, "127.0.0.1", 2), sink, 9)
    return OscEndpoint(channel.receive, lambda reason: sink.dropped("osc", reason))


def cpu_per_datagram(data: bytes, repeat: int) -> float:
    """Seconds of this thread's CPU for one datagram: the best of 5 rounds of `repeat`."""
    endpoint, best = receiver(CountingSink()), float("inf")
    for _ in range(5):
        started = time.thread_time()
        for _ in range(repeat):
            endpoint.datagram_received(data, ("127.0.0.1", 9))
        best = min(best, (time.thread_time() - started) / repeat)
    return best
