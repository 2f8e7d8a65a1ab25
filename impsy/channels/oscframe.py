"""An OSC datagram's framing, checked before python-osc parses it.

python-osc trusts the sizes written inside a packet: a bundle element of size -4 makes it loop
for ever, deep nesting overflows the stack, a float cut off the end is read as 0.0, and an
unknown type tag or element is only warned about on the root logger, once per item. A packet
that fails these checks is garbage, dropped and counted by the channel like any other.
"""

from __future__ import annotations

import struct

from pythonosc.osc_message import OscMessage
from pythonosc.osc_packet import OscPacket

BUNDLE = b"#bundle\0"
MAX_DEPTH = 8  # bundles inside bundles; OSC senders nest one or two
# The type tags python-osc reads: their sizes in bytes, and those that carry no data.
FIXED_SIZES = {"i": 4, "f": 4, "r": 4, "m": 4, "d": 8, "h": 8, "t": 8}
NO_DATA = frozenset("TFN[]")


def read_packet(data: bytes) -> list[OscMessage]:
    """The messages of one OSC datagram; ValueError saying why it is not one."""
    if problem := framing_problem(data):
        raise ValueError(problem)
    try:
        return [timed.message for timed in OscPacket(data).messages]
    except Exception as error:  # anything python-osc raises on a stranger's bytes
        raise ValueError(str(error) or type(error).__name__) from None


def framing_problem(data: bytes) -> str | None:
    """Why `data` is not a well-framed OSC packet, or None if it is."""
    return _packet(data, 0)


def _packet(data: bytes, depth: int) -> str | None:
    if not data or len(data) % 4:
        return f"{len(data)} bytes, not a multiple of 4"
    if data.startswith(BUNDLE):
        return _bundle(data, depth)
    if data.startswith(b"/"):
        return _message(data)
    return "neither a message nor a bundle"


def _bundle(data: bytes, depth: int) -> str | None:
    if depth >= MAX_DEPTH:
        return f"bundles nested more than {MAX_DEPTH} deep"
    if len(data) < 16:
        return "a bundle without its time tag"
    offset = 16
    while offset < len(data):
        (size,) = struct.unpack_from(">i", data, offset)
        offset += 4
        if size <= 0 or size % 4 or offset + size > len(data):
            return f"a bundle element of size {size} at byte {offset - 4}"
        if problem := _packet(data[offset : offset + size], depth + 1):
            return problem
        offset += size
    return None


def _message(data: bytes) -> str | None:
    offset = _after_string(data, 0)
    if offset is None:
        return "an address with no end"
    if offset == len(data) or data[offset : offset + 1] != b",":
        return None  # no type tags: python-osc reads no arguments, or refuses it
    tags_end = data.find(b"\0", offset)
    if tags_end < 0:
        return "type tags with no end"
    tags, offset = data[offset + 1 : tags_end].decode("latin-1"), _padded(tags_end)
    for tag in tags:
        if tag in FIXED_SIZES:
            offset += FIXED_SIZES[tag]
        elif tag == "s":
            offset = _after_string(data, offset)
        elif tag == "b":
            if offset + 4 > len(data):
                return "a message cut short"
            (size,) = struct.unpack_from(">i", data, offset)
            offset = None if size < 0 else offset + 4 + (size + 3) // 4 * 4
        elif tag not in NO_DATA:
            return f"unknown type tag {tag!r}"
        if offset is None or offset > len(data):
            return "a message cut short"
    return None


def _after_string(data: bytes, offset: int) -> int | None:
    """Where the next field starts after the padded string at `offset`, or None if unended."""
    end = data.find(b"\0", offset)
    return None if end < 0 else _padded(end)


def _padded(end: int) -> int:
    """The next 4-byte boundary after a string's terminating NUL at `end`."""
    return (end // 4 + 1) * 4
