"""What every channel offers the loop, and what the loop offers every channel."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

log = logging.getLogger("impsy.channels")

# Values a hair outside [0, 1] are rounding, not a wrong message: they are clipped, not dropped.
RANGE_TOLERANCE = 1e-6


class Sink(Protocol):
    """Where channels deliver what arrives; always called on the event loop's thread."""

    def vector(self, source: str, values: np.ndarray) -> None:
        """All controls at once (OSC, serial CSV)."""

    def controls(self, source: str, changes: dict[int, float]) -> None:
        """Some controls changed (a MIDI note's pitch and velocity, a CC): one event."""

    def command(self, source: str, name: str, value: object) -> None:
        """A live command: mode, pause, reset, sigmatemp, pitemp, timescale."""

    def dropped(self, source: str, reason: str) -> None:
        """A message was malformed and ignored."""


class Channel:
    """An I/O edge: started, given every output, silenced when the model stops, closed."""

    name = "channel"

    async def start(self) -> None:
        """Open ports and begin delivering input to the sink."""

    def send(self, values: np.ndarray) -> None:
        """Play controls (dimension - 1 values in [0, 1]); must not block."""

    def silence(self) -> None:
        """End anything still sounding (MIDI notes); most channels have nothing to do."""

    def monitor_input(self, values: np.ndarray) -> None:
        """The performer played (on any channel); for monitors and activity lights."""

    def report(self, state: dict) -> None:
        """The performance's state changed, or a second passed (see Performance.report)."""

    async def close(self) -> None:
        """Release ports; called once, also after a failed start."""


class ChannelError(Exception):
    """A channel cannot start; the message names the channel and the port."""


def close_quietly(thing: Any, channel: str) -> None:
    """Close a port or device that may already be gone (a vanished device complains on the way out)."""
    try:
        thing.close()
    except Exception as error:
        log.debug("%s: closing %r: %s", channel, getattr(thing, "name", thing), error)


def check_vector(values: Sequence[object], width: int) -> np.ndarray | str:
    """Controls as floats in [0, 1], or the reason they are not acceptable (positions count from 1)."""
    if len(values) != width:
        return f"expected {width} values, got {len(values)}"
    out = np.empty(width)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | float):
            return f"position {i + 1} is not a number ({type(v).__name__} {str(v)[:20]!r})"
        if not math.isfinite(v):
            return f"position {i + 1} is {v}, not a number between 0 and 1"
        if not -RANGE_TOLERANCE <= v <= 1 + RANGE_TOLERANCE:
            return f"position {i + 1} is {v:g}, outside 0..1{_scale_hint(values)}"
        out[i] = v
    return np.clip(out, 0.0, 1.0, out=out)


def _scale_hint(values: Sequence[object]) -> str:
    """Whole numbers up to 127: a MIDI-style controller, whose values need dividing by 127."""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if numbers and all(0 <= v <= 127 and float(v).is_integer() for v in numbers):
        return " (it looks like 0-127: divide each value by 127 before sending, e.g. [/ 127] in Pure Data)"
    return ""
