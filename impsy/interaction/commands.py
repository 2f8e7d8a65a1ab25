"""The live commands (/impsy/mode, /impsy/pause ...): their arguments checked in one place."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Sequence

from impsy.interaction.core import MODES


def _mode(args: Sequence[object]) -> object:
    if len(args) != 1 or args[0] not in MODES:
        raise ValueError(f"expects one of {', '.join(MODES)}")
    return args[0]


def _number(low: float, strict: bool) -> Callable[[Sequence[object]], object]:
    def check(args: Sequence[object]) -> object:
        ok = len(args) == 1 and isinstance(args[0], int | float) and not isinstance(args[0], bool)
        if ok and math.isfinite(args[0]) and (args[0] > low if strict else args[0] >= low):
            return float(args[0])
        raise ValueError(f"expects one number {'>' if strict else '>='} {low:g}")

    return check


def _switch(args: Sequence[object]) -> object:
    if len(args) != 1 or args[0] not in (0, 1) or isinstance(args[0], str):
        raise ValueError("expects 1 (pause) or 0 (resume)")
    return bool(args[0])


def _anything(args: Sequence[object]) -> object:
    return None  # /impsy/reset's argument is unused, as in the original


CHECKS: dict[str, Callable[[Sequence[object]], object]] = {
    "mode": _mode,
    "sigmatemp": _number(0.0, strict=False),
    "pitemp": _number(0.0, strict=False),
    "timescale": _number(0.0, strict=True),
    "reset": _anything,
    "pause": _switch,
}
PREFIX = "/impsy/"


def parse_command(address: str, args: Sequence[object]) -> tuple[str, object]:
    """(name, value) for an /impsy/<name> message; ValueError naming the fault otherwise."""
    name = address.removeprefix(PREFIX)
    if not address.startswith(PREFIX) or name not in CHECKS:
        raise ValueError(f"unknown command {address}")
    try:
        return name, CHECKS[name](args)
    except ValueError as error:
        # reprlib: a stranger's 1,000-character argument is shown cut short, not whole.
        raise ValueError(f"{address} {error}, got {reprlib.repr(list(args))}") from None
