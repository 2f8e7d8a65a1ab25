"""OSC framing checks: hostile packets are refused before python-osc sees them."""

import struct

import pytest
from fakes.hostile_osc import HOSTILE, cpu_per_datagram, normal
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from impsy.channels.oscframe import (
    MAX_ADDRESS,
    MAX_ARGUMENTS,
    MAX_ARRAY_DEPTH,
    MAX_DEPTH,
    MAX_ELEMENTS,
    framing_problem,
)
from impsy.channels.udp import osc_message


def padded(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def bundle(*elements: bytes) -> bytes:
    return b"#bundle\0" + b"\0" * 7 + b"\1" + b"".join(struct.pack(">i", len(e)) + e for e in elements)


def every_type() -> bytes:
    builder = OscMessageBuilder("/every")
    for value, tag in [(1, "i"), (2.5, "f"), (2.5, "d"), ("text", "s"), (b"blob!", "b"), (2**40, "h"),
                       (True, "T"), (False, "F"), (None, "N"), ([1, 2], None)]:  # fmt: skip
        builder.add_arg(value, tag) if tag else builder.add_arg(value)
    return builder.build().dgram


def test_what_osc_senders_send_passes_and_parses():
    nested = OscBundleBuilder(IMMEDIATELY)
    nested.add_content(OscMessageBuilder("/a").build())
    outer = OscBundleBuilder(IMMEDIATELY)
    outer.add_content(nested.build())
    outer.add_content(OscMessageBuilder("/b").build())
    for packet in [osc_message("/interface", [0.1] * 8), osc_message("/impsy/mode", ["battle"]),
                   every_type(), outer.build().dgram, bundle()]:  # fmt: skip
        assert framing_problem(packet) is None
        OscPacket(packet)  # and python-osc reads it


@pytest.mark.parametrize(
    ("packet", "problem"),
    [
        (b"", "0 bytes, not a multiple of 4"),
        (osc_message("/interface", [0.1, 0.2])[:-2], "22 bytes, not a multiple of 4"),
        # python-osc loops for ever on this one (its index steps back to the same element).
        (bundle()[:16] + struct.pack(">i", -4), "a bundle element of size -4 at byte 16"),
        (bundle()[:16] + struct.pack(">i", 64) + b"/a\0\0", "a bundle element of size 64 at byte 16"),
        (bundle(b"\0\0\0\0"), "neither a message nor a bundle"),
        (b"#bundle\0", "a bundle without its time tag"),
        (padded(b"/interface") + padded(b",fff") + struct.pack(">ff", 0.1, 0.2), "a message cut short"),
        (padded(b"/x") + padded(b",s") + b"abcd", "a message cut short"),
        (padded(b"/x") + padded(b",b") + struct.pack(">i", 100), "a message cut short"),
        (padded(b"/x") + padded(b",b") + struct.pack(">i", -1), "a message cut short"),
        (padded(b"/x") + padded(b"," + b"x" * 10), "unknown type tag 'x'"),
        (b"/abc", "an address with no end"),
        (b"junk", "neither a message nor a bundle"),
    ],
)
def test_hostile_packets_are_refused_with_the_reason(packet, problem):
    assert framing_problem(packet) == problem


def test_nesting_is_bounded_so_parsing_cannot_overflow_the_stack():
    packet = osc_message("/a", [])
    for _ in range(MAX_DEPTH):
        packet = bundle(packet)
    assert framing_problem(packet) is None
    assert framing_problem(bundle(packet)) == f"bundles nested more than {MAX_DEPTH} deep"
    for _ in range(600):
        packet = bundle(packet)
    assert framing_problem(packet) == f"bundles nested more than {MAX_DEPTH} deep"


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_a_hostile_datagram_costs_the_loop_about_what_a_normal_one_does(shape):
    """64 KB of `[`, of empty strings, of tiny bundled messages ... cost the loop 40 ms each: a
    few a second pushed the performer's latency to most of a second. Bounded now, and measured
    as a ratio to a normal packet (both on this machine, now), not as a time."""
    normal_cost = cpu_per_datagram(normal(), 500)
    assert cpu_per_datagram(HOSTILE[shape](), 20) < 25 * normal_cost


def test_what_is_refused_first_is_said():
    assert framing_problem(HOSTILE["all ["]()) == f"more than {MAX_ARGUMENTS} arguments"
    assert framing_problem(HOSTILE["tiny bundled messages"]()) == f"more than {MAX_ELEMENTS} bundle elements"
    assert framing_problem(HOSTILE["long address"]()) == f"an address longer than {MAX_ADDRESS} bytes"
    nested = padded(b"/x") + padded(b"," + b"[" * (MAX_ARRAY_DEPTH + 1) + b"]" * (MAX_ARRAY_DEPTH + 1))
    assert framing_problem(nested) == f"arrays nested more than {MAX_ARRAY_DEPTH} deep"
    assert framing_problem(padded(b"/x") + padded(b",]")) == "an array closed that was not opened"
    assert framing_problem(padded(b"/x") + padded(b",[i")) is not None


def test_the_limits_leave_room_for_every_dimension_a_config_allows():
    from impsy.config import DIMENSION_RANGE

    width = DIMENSION_RANGE[1] - 1
    assert framing_problem(osc_message("/interface", [0.5] * width)) is None
    fullest = bundle(*[osc_message("/interface", [0.5] * width)] * (MAX_ELEMENTS - 1))  # and itself
    assert framing_problem(fullest) is None
