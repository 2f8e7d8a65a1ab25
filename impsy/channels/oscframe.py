"""An OSC datagram's framing, checked before python-osc parses it.

python-osc trusts the sizes written inside a packet: a bundle element of size -4 makes it loop
for ever, deep nesting overflows the stack, a float cut off the end is read as 0.0, and an
unknown type tag or element is only warned about on the root logger, once per item. And it
reads whatever a packet holds: 64 KB of `[` type tags took it 40 ms. So the work per datagram
is bounded here, in a few microseconds: the address's length, the arguments per message, the
arrays' nesting and the elements per datagram are capped well above what a performer's patch
sends (a model has at most a few dozen values). A packet that fails these checks is garbage,
dropped and counted by the channel like any other.
"""

from __future__ import annotations

import struct

from pythonosc.osc_message import OscMessage
from pythonosc.osc_packet import OscPacket

BUNDLE = b"#bundle\0"
MAX_DEPTH = 8  # bundles inside bundles; OSC senders nest one or two
MAX_ELEMENTS = 16  # messages and bundles in one datagram, the outermost included
MAX_ADDRESS = 256  # bytes in an address, its NUL and padding included
MAX_ARGUMENTS = 64  # type tags in one message; /interface's dimension - 1 fits (DIMENSION_RANGE)
MAX_ARRAY_DEPTH = 4  # arrays inside arrays
# The type tags python-osc reads: their sizes in bytes, and those that carry no data.
FIXED_SIZES = {"i": 4, "f": 4, "r": 4, "m": 4, "d": 8, "h": 8, "t": 8}
NO_DATA = frozenset("TFN")


def read_packet(data: bytes) -> list[OscMessage]:
    """The messages of one OSC datagram; ValueError saying why it is not one."""
    if problem := framing_problem(data):
        raise ValueError(problem)
    try:
        return [timed.message for timed in OscPacket(data).messages]
    except Exception as error:  # anything python-osc raises on a stranger's bytes
        raise ValueError(str(error) or type(error).__name__) from None


def framing_problem(data: bytes) -> str | None:
    """Why `data` is not a well-framed OSC packet within the limits, or None if it is."""
    return _Framing(data).problem()


class _Framing:
    """One datagram's framing walked once, counting its elements against MAX_ELEMENTS."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.elements = 0

    def problem(self) -> str | None:
        if not self.data or len(self.data) % 4:
            return f"{len(self.data)} bytes, not a multiple of 4"
        return self._packet(0, len(self.data), 0)

    def _packet(self, start: int, end: int, depth: int) -> str | None:
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            return f"more than {MAX_ELEMENTS} bundle elements"
        if self.data.startswith(BUNDLE, start, end):
            return self._bundle(start, end, depth)
        if self.data.startswith(b"/", start, end):
            return self._message(start, end)
        return "neither a message nor a bundle"

    def _bundle(self, start: int, end: int, depth: int) -> str | None:
        if depth >= MAX_DEPTH:
            return f"bundles nested more than {MAX_DEPTH} deep"
        if end - start < 16:
            return "a bundle without its time tag"
        offset = start + 16
        while offset < end:
            (size,) = struct.unpack_from(">i", self.data, offset)
            offset += 4
            if size <= 0 or size % 4 or offset + size > end:
                return f"a bundle element of size {size} at byte {offset - 4 - start}"
            if problem := self._packet(offset, offset + size, depth + 1):
                return problem
            offset += size
        return None

    def _message(self, start: int, end: int) -> str | None:
        data = self.data
        offset = _after_string(data, start, min(end, start + MAX_ADDRESS))
        if offset is None and end - start > MAX_ADDRESS:
            return f"an address longer than {MAX_ADDRESS} bytes"
        if offset is None:
            return "an address with no end"
        if offset == end or data[offset : offset + 1] != b",":
            return None  # no type tags: python-osc reads no arguments, or refuses it
        # "," then at most MAX_ARGUMENTS tags, then the NUL: looked for no further than that.
        tags_end = data.find(b"\0", offset, min(end, offset + MAX_ARGUMENTS + 2))
        if tags_end < 0 and end - offset > MAX_ARGUMENTS + 1:
            return f"more than {MAX_ARGUMENTS} arguments"
        if tags_end < 0:
            return "type tags with no end"
        tags, offset = data[offset + 1 : tags_end].decode("latin-1"), _padded(tags_end)
        arrays = 0
        for tag in tags:
            if tag in FIXED_SIZES:
                offset += FIXED_SIZES[tag]
            elif tag == "s":
                offset = _after_string(data, offset, end)
            elif tag == "b":
                if offset + 4 > end:
                    return "a message cut short"
                (size,) = struct.unpack_from(">i", data, offset)
                offset = None if size < 0 else offset + 4 + (size + 3) // 4 * 4
            elif tag == "[":
                arrays += 1
                if arrays > MAX_ARRAY_DEPTH:
                    return f"arrays nested more than {MAX_ARRAY_DEPTH} deep"
            elif tag == "]":
                arrays -= 1
                if arrays < 0:
                    return "an array closed that was not opened"
            elif tag not in NO_DATA:
                return f"unknown type tag {tag!r}"
            if offset is None or offset > end:
                return "a message cut short"
        return "an array that is not closed" if arrays else None


def _after_string(data: bytes, offset: int, end: int) -> int | None:
    """Where the next field starts after the padded string at `offset`, or None if it does not
    end before `end`."""
    nul = data.find(b"\0", offset, end)
    return None if nul < 0 else _padded(nul)


def _padded(end: int) -> int:
    """The next 4-byte boundary after a string's terminating NUL at `end`."""
    return (end // 4 + 1) * 4
