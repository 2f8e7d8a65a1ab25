"""Malformed messages: counted, and reported without flooding the terminal.

A controller that sends wrong values sends them all the time. The first is reported at once;
after that at most one line per source every `interval` seconds, saying how many were dropped
since the last line and showing the latest reason. The summary is due even if the controller
falls silent, so the count is never held back until `impsy run` stops.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger("impsy.run")

INTERVAL = 5.0  # seconds: at most one line per source this often

# Runs a callback after a delay (the event loop's call_later); None: a summary waits for the next drop.
Scheduler = Callable[[float, Callable[[], None]], object]


class DropReporter:
    """Counts malformed messages per source and warns about them at a bounded rate."""

    def __init__(
        self,
        interval: float = INTERVAL,
        schedule: Scheduler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.counts: Counter[str] = Counter()  # since the start, for the state report and the exit line
        self.schedule = schedule
        self._interval = interval
        self._clock = clock
        self._last_line: dict[str, float] = {}
        self._held: Counter[str] = Counter()  # dropped since the last line
        self._latest: dict[str, str] = {}
        self._summary_due: set[str] = set()

    def add(self, source: str, reason: str) -> None:
        self.counts[source] += 1
        self._held[source] += 1
        self._latest[source] = reason
        last = self._last_line.get(source)
        if last is None or self._clock() - last >= self._interval:
            self._say(source)
        elif self.schedule is not None and source not in self._summary_due:
            self._summary_due.add(source)
            self.schedule(last + self._interval - self._clock(), lambda: self._summarise(source))

    def _summarise(self, source: str) -> None:
        self._summary_due.discard(source)
        if self._held[source]:
            self._say(source)

    def _say(self, source: str) -> None:
        held, reason, now = self._held[source], self._latest[source], self._clock()
        last = self._last_line.get(source)
        if held == 1:
            log.warning("%s: dropped a message: %s", source, reason)
        else:
            log.warning(
                "%s: dropped %d messages in the last %.0f s; the latest: %s", source, held, now - last, reason
            )
        self._held[source] = 0
        self._last_line[source] = now
