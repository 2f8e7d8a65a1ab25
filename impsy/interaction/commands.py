"""The live commands (/impsy/mode, /impsy/pause ...): their arguments checked in one place."""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Sequence

from impsy.config.settings import LIVE_RANGES, Range
from impsy.interaction.core import MODES


def _mode(args: Sequence[object]) -> object:
    if len(args) != 1 or args[0] not in MODES:
        raise ValueError(f"expects one of {', '.join(MODES)}")
    return args[0]


def _number(within: Range) -> Callable[[Sequence[object]], object]:
    def check(args: Sequence[object]) -> object:
        if len(args) == 1 and args[0] in within:
            return float(args[0])
        raise ValueError(f"expects {within}")

    return check


def _switch(args: Sequence[object]) -> object:
    if len(args) != 1 or args[0] not in (0, 1) or isinstance(args[0], str):
        raise ValueError("expects 1 (pause) or 0 (resume)")
    return bool(args[0])


def _anything(args: Sequence[object]) -> object:
    return None  # /impsy/reset's argument is unused, as in the original


CHECKS: dict[str, Callable[[Sequence[object]], object]] = {
    "mode": _mode,
    **{name: _number(within) for name, within in LIVE_RANGES.items()},
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


def refusal(name: str, value: object) -> str | None:
    """Why a command's value, already made by a channel, must not be applied; None if it may."""
    try:
        parse_command(PREFIX + name, [] if value is None else [value])
    except ValueError as error:
        return str(error)
    return None
