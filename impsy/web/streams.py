"""Live streams (server-sent events) share a bounded number of slots, and none holds one forever.

Each open stream takes a server worker. At most MAX_STREAMS are open: a new one is always let
in, and the oldest stream of the peer holding the most is told to end (so one address opening
many cannot lock the musician's monitor out). A stream also ends after LIFETIME, so streams of
tabs or clients long gone give their worker back. A browser reconnects on its own after the
`retry` each stream sends.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

MAX_STREAMS = 8
LIFETIME = 600.0  # seconds
RECONNECT_MS = 500  # what a browser waits before opening an ended stream again


class _Slot:
    def __init__(self, peer: str, number: int) -> None:
        self.peer = peer
        self.number = number
        self.started = time.monotonic()
        self.ended = False


class Streams:
    def __init__(self) -> None:
        self._open: list[_Slot] = []
        self._numbers = itertools.count()
        self._mutex = threading.Lock()

    def serve(self, peer: str, events: Iterator[str]) -> Iterator[str]:
        """`events` as long as this stream keeps its slot (see the module docstring)."""
        slot = self._take(peer)
        try:
            for event in events:
                if slot.ended or time.monotonic() - slot.started > LIFETIME:
                    yield f"retry: {RECONNECT_MS}\n\n"
                    return
                yield event
        finally:
            close = getattr(events, "close", None)
            if close:
                close()
            with self._mutex:
                self._open.remove(slot)

    def _take(self, peer: str) -> _Slot:
        with self._mutex:
            live = [s for s in self._open if not s.ended]
            if len(live) >= MAX_STREAMS:
                counts: dict[str, int] = {}
                for s in live:
                    counts[s.peer] = counts.get(s.peer, 0) + 1
                greedy = max(counts, key=lambda p: (counts[p], p == peer))
                min((s for s in live if s.peer == greedy), key=lambda s: s.number).ended = True
            slot = _Slot(peer, next(self._numbers))
            self._open.append(slot)
            return slot

    def __len__(self) -> int:
        with self._mutex:
            return sum(not s.ended for s in self._open)
