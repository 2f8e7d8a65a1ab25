"""Checks of single values: each returns the value converted, or raises Invalid(what was expected)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from impsy.config.problems import quote, suggest
from impsy.config.settings import Range


class Invalid(Exception):
    """A value does not fit; the argument says what was expected, `hint` what was likely meant."""

    def __init__(self, expected: str, hint: str = "") -> None:
        super().__init__(expected)
        self.hint = hint


@dataclass(frozen=True)
class Lenient:
    """A value accepted in an older form, converted, with a note showing the current form."""

    value: Any
    note: str


Check = Callable[[Any], Any]


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid("true or false")


def log_input_flag(value: Any) -> bool | Lenient:
    # The original never read this key, so an old file's `false` meant nothing until now.
    if boolean(value):
        return True
    return Lenient(
        False,
        "false: the performer's playing is not logged (the original IMPSY ignored "
        "this key and always logged it); remove it or set true to log",
    )


def string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise Invalid("a string")


# Strings handed to the OS (paths, device names) or a resolver (host names): bounded, and
# printable, so no NUL (a ValueError deep inside open() or getaddrinfo()) and no control codes.
MAX_PATH = 1024
MAX_NAME = 255


def _printable(value: Any, limit: int, expected: str) -> str:
    if isinstance(value, str) and value.strip() and len(value) <= limit and value.isprintable():
        return value
    raise Invalid(expected)


def device_path(value: Any) -> str:
    """A serial device: /dev/ttyACM0, /dev/impsy/microbit, COM3."""
    expected = f"a device path of at most {MAX_PATH} characters, such as /dev/ttyACM0"
    return _printable(value, MAX_PATH, expected)


def model_path(value: Any) -> str:
    """A model file, or "" for the random dummy."""
    if value == "":
        return value
    expected = f'a file path of at most {MAX_PATH} characters, or "" for random gestures'
    return _printable(value, MAX_PATH, expected)


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def host(value: Any) -> str:
    """An IP address or a host name that a resolver can be asked about (RFC 1123 labels)."""
    expected = 'an IP address or host name, such as "127.0.0.1" or "laptop.local"'
    name = _printable(value, 253, expected)
    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        pass
    if all(_HOST_LABEL.fullmatch(label) for label in name.removesuffix(".").split(".")):
        return name
    raise Invalid(expected)


def integer(low: int, high: int) -> Check:
    def check(value: Any) -> int:
        # bool is an int subclass in Python, but `true` is never a number in a config.
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if is_int and low <= value <= high:
            return value
        raise Invalid(f"an integer from {low} to {high}")

    return check


def number(within: Range) -> Check:
    def check(value: Any) -> float:
        if value in within:
            return float(value)
        raise Invalid(str(within))

    return check


def one_of(options: Iterable[str]) -> Check:
    options = tuple(options)

    def check(value: Any) -> str:
        if isinstance(value, str) and value in options:
            return value
        # Polyphony, polyfony; values are short, so only a close match is offered (not wiringpi: rpigpio)
        hint = suggest(value.lower(), options, cutoff=0.75) if isinstance(value, str) else ""
        raise Invalid("one of " + ", ".join(options), hint)

    return check


PORT = integer(1, 65535)
_WILDCARDS = ("0.0.0.0", "::", "")


def send_address(value: Any) -> str | Lenient:
    address = string(value)
    if address.strip() in _WILDCARDS:
        # The original coerced these too: a wildcard is not a destination, and macOS refuses it.
        return Lenient(
            "127.0.0.1",
            f"{address!r} is a wildcard, not an address to send to; using '127.0.0.1' (this machine)",
        )
    return host(address)


def port_names(value: Any) -> tuple[str, ...] | Lenient:
    names = [value] if isinstance(value, str) else value
    expected = f'a list of port names of at most {MAX_NAME} characters, such as ["S-1"]'
    if not isinstance(names, list):
        raise Invalid(expected)
    for name in names:
        _printable(name, MAX_NAME, expected)
    if isinstance(value, str):
        note = f"a single name is read as a list of one; write [{quote(value)}]"
        return Lenient((value,), note)
    return tuple(names)


# The 40-pin header's physical pin -> BCM GPIO number, for BOARD<n> and J8:<n> pin names.
_HEADER = {
    3: 2,
    5: 3,
    7: 4,
    8: 14,
    10: 15,
    11: 17,
    12: 18,
    13: 27,
    15: 22,
    16: 23,
    18: 24,
    19: 10,
    21: 9,
    22: 25,
    23: 11,
    24: 8,
    26: 7,
    27: 0,
    28: 1,
    29: 5,
    31: 6,
    32: 12,
    33: 13,
    35: 19,
    36: 16,
    37: 26,
    38: 20,
    40: 21,
}
_PIN_NAME = re.compile(r"(GPIO|BCM|BOARD|J8:)(\d+)")


def bcm_number(pin: Any) -> int:
    """The BCM GPIO number of a pin as written in a config (17, "GPIO17", "BOARD11", "J8:11")."""
    if isinstance(pin, int) and not isinstance(pin, bool) and 0 <= pin <= 27:
        return pin
    match = _PIN_NAME.fullmatch(pin.strip().upper()) if isinstance(pin, str) else None
    if match:
        scheme, number = match[1], int(match[2])
        bcm = number if scheme in ("GPIO", "BCM") else _HEADER.get(number)
        if bcm is not None and 0 <= bcm <= 27:
            return bcm
    raise Invalid('a GPIO number from 0 to 27 or a pin name such as "GPIO17" or "BOARD11"')


def pin_name(value: Any) -> int | str:
    bcm_number(value)
    return value.strip().upper() if isinstance(value, str) else value
