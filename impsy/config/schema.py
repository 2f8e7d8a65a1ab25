"""What each section of a config may hold: its keys, their checks, defaults and examples."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from impsy.config.settings import (
    BAUDRATE_RANGE,
    DIMENSION_RANGE,
    FEEDBACK_THRESHOLD,
    MODES,
    PERSISTENCE,
    PIN_FACTORIES,
    PITEMP,
    RESEED,
    SIGMATEMP,
    THRESHOLD,
    TIMESCALE,
)
from impsy.config.values import (
    PORT,
    Check,
    Invalid,
    boolean,
    device_path,
    host,
    integer,
    log_input_flag,
    model_path,
    number,
    one_of,
    port_names,
    send_address,
    string,
)
from impsy.model.base import SIZES

REQUIRED = object()


@dataclass(frozen=True)
class Field:
    """One key of a table: its check, its default, and the usual setting to suggest if missing."""

    check: Check
    default: Any = REQUIRED
    example: str = ""


TOP = {
    "title": Field(string, None),
    "owner": Field(string, None),
    "description": Field(string, None),
    "verbose": Field(boolean, False),
    "log_predictions": Field(boolean, False),
    "log_input": Field(log_input_flag, True),
}
INTERACTION = {
    "mode": Field(one_of(MODES), example='mode = "callresponse"'),
    "threshold": Field(number(THRESHOLD), example="threshold = 0.1"),
    "input_thru": Field(boolean, False),
    "reseed": Field(number(RESEED), 55.0),
}
MODEL = {
    "dimension": Field(integer(*DIMENSION_RANGE), example="dimension = 9"),
    "file": Field(model_path, ""),
    "size": Field(one_of(SIZES), "s"),
    "sigmatemp": Field(number(SIGMATEMP), example="sigmatemp = 0.5"),
    "pitemp": Field(number(PITEMP), example="pitemp = 1"),
    "persistence": Field(number(PERSISTENCE), 0.92),
    "one_at_a_time": Field(boolean, False),
    "timescale": Field(number(TIMESCALE), example="timescale = 1"),
}
MIDI = {
    "in_device": Field(port_names, ()),
    "out_device": Field(port_names, ()),
    "feedback_protection": Field(boolean, False),
    "feedback_threshold": Field(number(FEEDBACK_THRESHOLD), 0.02),
}
OSC = {
    "server_ip": Field(host, example='server_ip = "0.0.0.0"'),
    "server_port": Field(PORT, example="server_port = 6000"),
    "client_ip": Field(send_address, example='client_ip = "127.0.0.1"'),
    "client_port": Field(PORT, example="client_port = 6001"),
}
WEBSOCKET = {
    "server_ip": Field(host, example='server_ip = "0.0.0.0"'),
    "server_port": Field(PORT, example="server_port = 5001"),
}
SERIAL = {
    "port": Field(device_path, example='port = "/dev/ttyACM0"'),
    "baudrate": Field(integer(*BAUDRATE_RANGE), example="baudrate = 115200"),
}
SERIALMIDI = {"baudrate": Field(integer(*BAUDRATE_RANGE), 31250)}  # and a port: see serialmidi_spec
WEBUI = {"monitor_port": Field(PORT, 4001), "command_port": Field(PORT, 4002)}
GPIO = {"pin_factory": Field(one_of(PIN_FACTORIES), None)}
SECTIONS = (
    "interaction",
    "model",
    "midi",
    "osc",
    "websocket",
    "serial",
    "serialmidi",
    "webui",
    "gpio",
)


def same_device(a: object, b: str) -> bool:
    """Two port paths name one device (/dev/serial0 is a link to /dev/ttyAMA0 on a Pi)."""
    return checked_port(a) is not None and (a == b or os.path.realpath(a) == os.path.realpath(b))


def checked_port(port: object) -> str | None:
    """A raw port value if it is a device path (its own key reports it if not), else None."""
    try:
        return device_path(port)
    except Invalid:
        return None


def serial_port(data: dict) -> str | None:
    """[serial]'s port, if it names one: the port [serialmidi] borrows when it has none."""
    serial = data.get("serial")
    return checked_port(serial.get("port") if isinstance(serial, dict) else None)


def serialmidi_spec(data: dict) -> dict[str, Field]:
    """[serialmidi]'s keys: without its own port it uses [serial]'s, as the original did."""
    default = serial_port(data) or REQUIRED
    return {"port": Field(device_path, default, 'port = "/dev/ttyAMA0"'), **SERIALMIDI}


# The shapes of mapping entries: kind -> the item names after the kind.
ENTRY_SHAPES = {
    "note_on": ("channel",),
    "note_velocity": ("channel",),
    "control_change": ("channel", "controller"),
    "pitch_bend": ("channel",),
}
MAPPING_KINDS = tuple(ENTRY_SHAPES)
# The original's longer forms: a controller squeezed into min..max, a note at a fixed velocity.
ENTRY_EXTRAS = {"control_change": ("min", "max"), "note_on": ("velocity",)}
ENTRY_EXAMPLE = '["note_on", 1] or ["control_change", 1, 74]'
CHANNEL, BYTE, VELOCITY = integer(1, 16), integer(0, 127), integer(1, 127)
