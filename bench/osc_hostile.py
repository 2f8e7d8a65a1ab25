"""CPU the loop spends on one OSC datagram, hostile shapes against a performer's normal packet.

Each datagram goes through what `impsy run` does with it: framing, parsing, dispatch to the
[osc] channel, and (for /interface) a vector to the sink. Thread CPU time, best of 5 rounds.

usage: python bench/osc_hostile.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.hostile_osc import HOSTILE, normal
from fakes.sink import RecordingSink

from impsy.channels.osc import OscChannel
from impsy.channels.udp import OscEndpoint
from impsy.config import OscConfig


class CountingSink(RecordingSink):
    """Keeps counts only: memory must not grow over thousands of datagrams."""

    def __init__(self) -> None:
        super().__init__()
        self.received = 0

    def vector(self, source, values) -> None:
        self.received += 1

    def dropped(self, source, reason) -> None:
        self.received += 1


def endpoint() -> OscEndpoint:
    sink = CountingSink()
    channel = OscChannel(OscConfig("127.0.0.1", 1, "127.0.0.1", 2), sink, 9)
    return OscEndpoint(channel.receive, lambda reason: sink.dropped("osc", reason))


def cpu_per_datagram(data: bytes, repeat: int) -> float:
    """Seconds of this thread's CPU for one datagram, the best of 5 rounds of `repeat`."""
    receiver, best = endpoint(), float("inf")
    for _ in range(5):
        started = time.thread_time()
        for _ in range(repeat):
            receiver.datagram_received(data, ("127.0.0.1", 9))
        best = min(best, (time.thread_time() - started) / repeat)
    return best


def main() -> int:
    base = cpu_per_datagram(normal(), 2000)
    print(f"{'normal /interface (8 floats)':32s} {base * 1e6:9.1f} us")
    for name, make in HOSTILE.items():
        cost = cpu_per_datagram(make(), 20)
        print(f"{name:32s} {cost * 1e6:9.1f} us  ({cost / base:7.1f} x normal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
