"""config.toml -> typed, validated settings, and the `impsy run` command-line overrides.

Everything in a file is checked before anything starts, and every problem is reported at once,
each naming the file, the key, what was expected and what was found. Configs written for the
original IMPSY load unchanged; the few older shapes it tolerated still load, with a warning
that shows the current form.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from impsy.model.base import SIZES

log = logging.getLogger("impsy.config")

MODES = ("callresponse", "polyphony", "battle", "useronly")
GPIO_COMMANDS = ("mode", "pause", "reset")
GPIO_ACTIVITIES = ("input", "output", "playing")
PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")
ERROR, WARNING = "error", "warning"


# ---- Problems -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where it is, what is wrong, and how bad."""

    file: str  # the config file, or "" for a command-line option (then key names the option)
    key: str  # the key path, e.g. midi.input."S-1"[2]; "" for the file as a whole
    message: str
    severity: str  # ERROR or WARNING
    line: int | None = None  # only known for TOML syntax errors

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return ": ".join(part for part in (where, self.key, self.message) if part)


class ConfigError(Exception):
    """A config cannot be used; str() lists its errors, one per line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == ERROR] or self.problems
        super().__init__("\n".join(str(p) for p in errors))


def format_problems(problems: Iterable[Problem]) -> str:
    """Problems one per line, errors first; warnings are marked as such."""
    ordered = sorted(problems, key=lambda p: p.severity != ERROR)
    return "\n".join(str(p) if p.severity == ERROR else f"warning: {p}" for p in ordered)


# ---- The settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InteractionConfig:
    """How the performer and the model take turns."""

    mode: str  # one of MODES
    threshold: float  # seconds of performer silence before the model answers (callresponse)
    input_thru: bool = False  # also send the performer's input straight to the outputs
    reseed: float = 60.0  # seconds of a hold before the model playing alone starts afresh; 0: never


@dataclass(frozen=True)
class ModelConfig:
    """Which MDRNN to load and how to sample from it."""

    dimension: int  # values per event: dt plus dimension - 1 controls
    file: str = ""  # "" runs the random dummy model
    size: str = "s"  # one of impsy.model.SIZES
    sigmatemp: float = 0.5  # bench/liveliness.py: livelier solos than 0.01 (issue 15)
    pitemp: float = 1.0
    timescale: float = 1.0  # multiplies the predicted dt before playback


@dataclass(frozen=True)
class MappingEntry:
    """One control <-> one kind of MIDI message; channel is 0-based (the file says 1-16)."""

    kind: str  # note_on, note_velocity, control_change or pitch_bend
    channel: int
    control: int | None = None  # the controller number, for control_change only
    low: int = 0  # control_change values span low..high (high < low runs the other way)
    high: int = 127
    velocity: int | None = None  # note_on: a fixed velocity for the notes it sends


MidiMapping = tuple[MappingEntry, ...]


@dataclass(frozen=True)
class MidiConfig:
    """MIDI ports by (partial) name, each with its own mapping."""

    in_device: tuple[str, ...]
    out_device: tuple[str, ...]
    input: dict[str, MidiMapping]  # keyed by the names in in_device
    output: dict[str, MidiMapping]  # keyed by the names in out_device
    feedback_protection: bool = False
    feedback_threshold: float = 0.02  # seconds
    thru_matrix: dict[str, tuple[str, ...]] = field(default_factory=dict)  # input -> outputs


@dataclass(frozen=True)
class OscConfig:
    """The OSC server IMPSY listens on and the client it sends predictions to."""

    server_ip: str
    server_port: int
    client_ip: str
    client_port: int


@dataclass(frozen=True)
class WebSocketConfig:
    """A WebSocket server exchanging MIDI-shaped messages with browsers."""

    server_ip: str
    server_port: int
    input: MidiMapping
    output: MidiMapping


@dataclass(frozen=True)
class SerialConfig:
    """Comma-separated values over a serial port."""

    port: str
    baudrate: int


@dataclass(frozen=True)
class SerialMidiConfig:
    """Raw MIDI bytes over a serial port (a UART wired to DIN sockets)."""

    port: str
    input: MidiMapping
    output: MidiMapping
    baudrate: int = 31250


@dataclass(frozen=True)
class WebUIConfig:
    """The localhost-only UDP ports between `impsy run` and the web UI."""

    monitor_port: int = 4001  # run -> web UI: every input and output vector
    command_port: int = 4002  # web UI -> run: mode, pause, reset, temperatures


@dataclass(frozen=True)
class GpioConfig:
    """Buttons and LEDs on a Raspberry Pi's header, for playing without a laptop."""

    buttons: dict[str, str | int] = field(default_factory=dict)  # GPIO_COMMANDS -> pin
    leds: dict[str, str | int] = field(default_factory=dict)  # GPIO_ACTIVITIES -> pin
    pin_factory: str | None = None  # one of PIN_FACTORIES; None lets gpiozero choose


@dataclass(frozen=True, kw_only=True)
class Config:
    """A whole config file; a channel section that is None is switched off."""

    title: str | None = None
    owner: str | None = None
    description: str | None = None
    verbose: bool = False
    log_predictions: bool = False
    log_input: bool = True  # performer rows in the log; the original always logged them
    interaction: InteractionConfig
    model: ModelConfig
    midi: MidiConfig | None = None
    osc: OscConfig | None = None
    websocket: WebSocketConfig | None = None
    serial: SerialConfig | None = None
    serialmidi: SerialMidiConfig | None = None
    webui: WebUIConfig = field(default_factory=WebUIConfig)
    gpio: GpioConfig | None = None
    source: str = "config.toml"


# ---- Value checks: return the converted value or raise _Invalid(what was expected) -----------


class _Invalid(Exception):
    """A value does not fit; the argument says what was expected."""


@dataclass(frozen=True)
class _Lenient:
    """A value accepted in an older form, converted, with a note showing the current form."""

    value: Any
    note: str


Check = Callable[[Any], Any]


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Invalid("true or false")


def _log_input(value: Any) -> bool | _Lenient:
    # The original never read this key, so an old file's `false` meant nothing until now.
    if _boolean(value):
        return True
    return _Lenient(
        False,
        "false: the performer's playing is not logged (the original IMPSY ignored "
        "this key and always logged it); remove it or set true to log",
    )


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid("a string")


def _text(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise _Invalid("a non-empty string")


def _integer(low: int, high: int | None = None) -> Check:
    expected = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"

    def check(value: Any) -> int:
        # bool is an int subclass in Python, but `true` is never a number in a config.
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if is_int and value >= low and (high is None or value <= high):
            return value
        raise _Invalid(expected)

    return check


def _number(low: float, inclusive: bool = True) -> Check:
    expected = f"a number {'>=' if inclusive else '>'} {low:g}"

    def check(value: Any) -> float:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and math.isfinite(value) and (value >= low if inclusive else value > low):
            return float(value)
        raise _Invalid(expected)

    return check


def _choice(options: Iterable[str]) -> Check:
    options = tuple(options)

    def check(value: Any) -> str:
        if isinstance(value, str) and value in options:
            return value
        raise _Invalid("one of " + ", ".join(options))

    return check


_PORT = _integer(1, 65535)
_WILDCARDS = ("0.0.0.0", "::", "")


def _send_address(value: Any) -> str | _Lenient:
    address = _string(value)
    if address.strip() in _WILDCARDS:
        # The original coerced these too: a wildcard is not a destination, and macOS refuses it.
        return _Lenient(
            "127.0.0.1",
            f"{address!r} is a wildcard, not an address to send to; using '127.0.0.1' (this machine)",
        )
    return address


def _names(value: Any) -> tuple[str, ...] | _Lenient:
    names = [value] if isinstance(value, str) else value
    if not (isinstance(names, list) and all(isinstance(n, str) and n.strip() for n in names)):
        raise _Invalid('a list of port names, such as ["S-1"]')
    if isinstance(value, str):
        note = f"a single name is read as a list of one; write [{_quote(value)}]"
        return _Lenient((value,), note)
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


def _bcm(pin: Any) -> int:
    """The BCM GPIO number of a pin as written in a config (17, "GPIO17", "BOARD11", "J8:11")."""
    if isinstance(pin, int) and not isinstance(pin, bool) and 0 <= pin <= 27:
        return pin
    match = _PIN_NAME.fullmatch(pin.strip().upper()) if isinstance(pin, str) else None
    if match:
        scheme, number = match[1], int(match[2])
        bcm = number if scheme in ("GPIO", "BCM") else _HEADER.get(number)
        if bcm is not None and 0 <= bcm <= 27:
            return bcm
    raise _Invalid('a GPIO number from 0 to 27 or a pin name such as "GPIO17" or "BOARD11"')


def _pin(value: Any) -> int | str:
    _bcm(value)
    return value.strip().upper() if isinstance(value, str) else value


# ---- What each section may hold -------------------------------------------------------------

_REQUIRED = object()


@dataclass(frozen=True)
class _Field:
    """One key of a table: its check, its default, and the usual setting to suggest if missing."""

    check: Check
    default: Any = _REQUIRED
    example: str = ""


_TOP = {
    "title": _Field(_string, None),
    "owner": _Field(_string, None),
    "description": _Field(_string, None),
    "verbose": _Field(_boolean, False),
    "log_predictions": _Field(_boolean, False),
    "log_input": _Field(_log_input, True),
}
_INTERACTION = {
    "mode": _Field(_choice(MODES), example='mode = "callresponse"'),
    "threshold": _Field(_number(0), example="threshold = 0.1"),
    "input_thru": _Field(_boolean, False),
    "reseed": _Field(_number(0), 60.0),
}
_MODEL = {
    "dimension": _Field(_integer(2), example="dimension = 9"),
    "file": _Field(_string, ""),
    "size": _Field(_choice(SIZES), "s"),
    "sigmatemp": _Field(_number(0), example="sigmatemp = 0.5"),
    "pitemp": _Field(_number(0), example="pitemp = 1"),
    "timescale": _Field(_number(0, inclusive=False), example="timescale = 1"),
}
_MIDI = {
    "in_device": _Field(_names, ()),
    "out_device": _Field(_names, ()),
    "feedback_protection": _Field(_boolean, False),
    "feedback_threshold": _Field(_number(0), 0.02),
}
_OSC = {
    "server_ip": _Field(_text, example='server_ip = "0.0.0.0"'),
    "server_port": _Field(_PORT, example="server_port = 6000"),
    "client_ip": _Field(_send_address, example='client_ip = "127.0.0.1"'),
    "client_port": _Field(_PORT, example="client_port = 6001"),
}
_WEBSOCKET = {
    "server_ip": _Field(_text, example='server_ip = "0.0.0.0"'),
    "server_port": _Field(_PORT, example="server_port = 5001"),
}
_SERIAL = {
    "port": _Field(_text, example='port = "/dev/ttyACM0"'),
    "baudrate": _Field(_integer(1), example="baudrate = 115200"),
}
_SERIALMIDI = {"baudrate": _Field(_integer(1), 31250)}  # and a port: see _serialmidi_spec
_WEBUI = {"monitor_port": _Field(_PORT, 4001), "command_port": _Field(_PORT, 4002)}
_GPIO = {"pin_factory": _Field(_choice(PIN_FACTORIES), None)}
_SECTIONS = (
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


def _same_device(a: object, b: str) -> bool:
    """Two port paths name one device (/dev/serial0 is a link to /dev/ttyAMA0 on a Pi)."""
    return isinstance(a, str) and (a == b or os.path.realpath(a) == os.path.realpath(b))


def _serial_port(data: dict) -> str | None:
    """[serial]'s port, if it names one: the port [serialmidi] borrows when it has none."""
    serial = data.get("serial")
    port = serial.get("port") if isinstance(serial, dict) else None
    return port if isinstance(port, str) and port.strip() else None


def _serialmidi_spec(data: dict) -> dict[str, _Field]:
    """[serialmidi]'s keys: without its own port it uses [serial]'s, as the original did."""
    default = _serial_port(data) or _REQUIRED
    return {"port": _Field(_text, default, 'port = "/dev/ttyAMA0"'), **_SERIALMIDI}


# The shapes of mapping entries: kind -> the item names after the kind.
_ENTRY_SHAPES = {
    "note_on": ("channel",),
    "note_velocity": ("channel",),
    "control_change": ("channel", "controller"),
    "pitch_bend": ("channel",),
}
MAPPING_KINDS = tuple(_ENTRY_SHAPES)
# The original's longer forms: a controller squeezed into min..max, a note at a fixed velocity.
_ENTRY_EXTRAS = {"control_change": ("min", "max"), "note_on": ("velocity",)}
_ENTRY_EXAMPLE = '["note_on", 1] or ["control_change", 1, 74]'
_CHANNEL, _BYTE, _VELOCITY = _integer(1, 16), _integer(0, 127), _integer(1, 127)


# ---- Reading a file -------------------------------------------------------------------------

_BAD = object()  # a value that failed its check (already reported)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _quote(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _key(path: str, name: str, quoted: bool = False) -> str:
    """A key path as TOML would spell it; device names are always quoted, as in the file."""
    part = name if _BARE_KEY.fullmatch(name) and not quoted else _quote(name)
    return f"{path}.{part}" if path else part


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"; did you mean `{close[0]}`?" if close else ""


class _Reader:
    """Converts the tables of one file, collecting every problem on the way."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def error(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.source, key, message, ERROR))

    def warn(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.source, key, message, WARNING))

    def errors(self) -> int:
        return sum(p.severity == ERROR for p in self.problems)

    def value(self, check: Check, raw: Any, key: str) -> Any:
        """raw converted by check, or _BAD once the reason is reported."""
        try:
            result = check(raw)
        except _Invalid as bad:
            self.error(key, f"expected {bad}; found {_describe(raw)}")
            return _BAD
        if isinstance(result, _Lenient):
            self.warn(key, result.note)
            return result.value
        return result

    def section(
        self, data: dict, name: str, spec: Mapping[str, _Field], required: bool = False
    ) -> dict | None:
        """The table [name], or None if it is absent or not a table (reported)."""
        table = data.get(name)
        if table is None:
            if required:
                needed = ", ".join(f"`{f.example}`" for f in spec.values() if f.example)
                self.error(name, f"required table is missing; add [{name}] with {needed}")
            return None
        if not isinstance(table, dict):
            self.error(name, f"expected a table [{name}]; found {_describe(table)}")
            return None
        return table

    def fields(
        self, table: dict, path: str, spec: Mapping[str, _Field], also: Iterable[str] = ()
    ) -> dict[str, Any]:
        """The checked values of spec's keys (defaults filled in); `also` are read elsewhere."""
        known = [*spec, *also]
        unknown = [name for name in table if name not in known]
        for name in unknown:
            self.unknown(path, name, table[name], known)
        values = {}
        for name, spec_field in spec.items():
            key = _key(path, name)
            if name in table:
                value = self.value(spec_field.check, table[name], key)
                if value is not _BAD:
                    values[name] = value
            elif spec_field.default is not _REQUIRED:
                values[name] = spec_field.default
            else:
                typo = difflib.get_close_matches(name, unknown, n=1)
                hint = f" (is `{typo[0]}` a misspelling of it?)" if typo else ""
                self.error(key, f"required key is missing; add `{spec_field.example}` to [{path}]{hint}")
        return values

    def unknown(self, path: str, name: str, value: Any, known: list[str]) -> None:
        if path and name in _TOP:
            # TOML puts every key after a [header] into that table: a classic slip.
            self.warn(
                _key(path, name),
                f"unknown key in [{path}], ignored; `{name}` is a "
                "top-level key: move it above the first [section] header",
            )
            return
        what = "table" if isinstance(value, dict) else "key"
        self.warn(_key(path, name), f"unknown {what}, ignored{_suggest(name, known)}")

    def simple(
        self, data: dict, name: str, spec: Mapping[str, _Field], cls: type, required: bool = False
    ) -> Any:
        """A section that is nothing but plain keys, as its dataclass; None if absent or bad."""
        table = self.section(data, name, spec, required)
        if table is None:
            return None
        before = self.errors()
        values = self.fields(table, name, spec)
        return cls(**values) if self.errors() == before else None

    # -- mappings --

    def mapping(self, raw: Any, key: str, dimension: int | None) -> MidiMapping | None:
        if not isinstance(raw, list):
            self.error(
                key,
                f"expected a list of mapping entries such as [{_ENTRY_EXAMPLE}]; found {_describe(raw)}",
            )
            return None
        entries = [self.entry(item, f"{key}[{i}]") for i, item in enumerate(raw)]
        if dimension is not None and len(raw) != dimension - 1:
            self.error(
                key,
                f"expected {dimension - 1} entries, one per control "
                f"(model.dimension {dimension} minus 1); found {len(raw)}",
            )
            return None
        return None if None in entries else tuple(entries)

    def entry(self, raw: Any, key: str) -> MappingEntry | None:
        if not (isinstance(raw, list) and raw and isinstance(raw[0], str)):
            self.error(key, f"expected a mapping entry such as {_ENTRY_EXAMPLE}; found {_describe(raw)}")
            return None
        kind, items = raw[0], raw[1:]
        if kind not in _ENTRY_SHAPES:
            self.error(
                key,
                f"expected a message kind, one of {', '.join(MAPPING_KINDS)}; "
                f"found {kind!r}{_suggest(kind, MAPPING_KINDS)}",
            )
            return None
        names = _ENTRY_SHAPES[kind]
        extras = _ENTRY_EXTRAS.get(kind, ())
        if extras and len(items) == len(names) + len(extras):
            names = (*names, *extras)
        if len(items) != len(names):
            shapes = f'["{kind}", {", ".join(names)}]'
            if extras:
                shapes += f' or ["{kind}", {", ".join((*names, *extras))}]'
            self.error(key, f"expected {shapes}; found {_describe(raw)}")
            return None
        values = {}
        checks = {"channel": _CHANNEL, "velocity": _VELOCITY}
        for name, item in zip(names, items, strict=True):
            try:
                values[name] = checks.get(name, _BYTE)(item)
            except _Invalid as bad:
                self.error(key, f"{name}: expected {bad}; found {_describe(item)}")
        if len(values) != len(names):
            return None
        return MappingEntry(
            kind,
            values["channel"] - 1,
            values.get("controller"),
            values.get("min", 0),
            values.get("max", 127),
            values.get("velocity"),
        )

    def required_mapping(
        self, table: dict, section: str, name: str, dimension: int | None
    ) -> MidiMapping | None:
        key = f"{section}.{name}"
        if name not in table:
            self.error(
                key,
                f"required key is missing; add `{name} = [...]` to [{section}], with one entry per control",
            )
            return None
        return self.mapping(table[name], key, dimension)

    # -- sections with more than plain keys --

    def midi(self, data: dict, dimension: int | None) -> MidiConfig | None:
        table = self.section(data, "midi", _MIDI)
        if table is None:
            return None
        before = self.errors()
        values = self.fields(table, "midi", _MIDI, also=("input", "output", "thru_matrix"))
        ins, outs = values.get("in_device"), values.get("out_device")
        inputs = self.device_mappings(table.get("input"), "input", "in_device", ins, dimension)
        outputs = self.device_mappings(table.get("output"), "output", "out_device", outs, dimension)
        thru = self.thru_matrix(table.get("thru_matrix", {}), ins, outs)
        if ins == () and outs == ():
            self.warn("midi", "no devices in in_device or out_device, so [midi] does nothing")
        if self.errors() != before:
            return None
        return MidiConfig(input=inputs, output=outputs, thru_matrix=thru, **values)

    def device_mappings(
        self, raw: Any, name: str, list_name: str, devices: tuple | None, dimension: int | None
    ) -> dict[str, MidiMapping]:
        """midi.input or midi.output: one mapping per device, keyed by its name."""
        path = f"midi.{name}"
        example = f"{name}.{_quote(devices[0] if devices else 'S-1')} = [...]"
        if isinstance(raw, list):
            self.warn(
                path,
                "one mapping for every device is an older form, still read; the "
                f"current form gives each device its own: {example}",
            )
            mapping = self.mapping(raw, path, dimension)
            return {device: mapping for device in devices or ()}
        if raw is not None and not isinstance(raw, dict):
            self.error(
                path,
                f"expected a table of mappings, one per device, such as {example}; found {_describe(raw)}",
            )
            return {}
        mappings = {}
        for device, mapping in (raw or {}).items():
            key = _key(path, device, quoted=True)
            mappings[device] = self.mapping(mapping, key, dimension)
            if devices is not None and device not in devices:
                self.warn(
                    key,
                    f"midi.{list_name} has no device named {_quote(device)}, so this "
                    f"mapping is not used{_suggest(device, devices)}",
                )
        for device in devices or ():
            if device not in mappings:
                self.error(
                    _key(path, device, quoted=True),
                    f"every device in midi.{list_name} "
                    f"needs a mapping; add `{name}.{_quote(device)} = [...]` to [midi]",
                )
        return mappings

    def thru_matrix(self, raw: Any, ins: tuple | None, outs: tuple | None) -> dict[str, tuple[str, ...]]:
        if not isinstance(raw, dict):
            self.error(
                "midi.thru_matrix",
                f'expected a table of routes such as thru_matrix."S-1" = ["Synth"]; found {_describe(raw)}',
            )
            return {}
        routes = {}
        for device, targets in raw.items():
            key = _key("midi.thru_matrix", device, quoted=True)
            targets = self.value(_names, targets, key)
            if targets is _BAD:
                continue
            routes[device] = targets
            if ins is not None and device not in ins:
                self.warn(
                    key,
                    f"midi.in_device has no device named {_quote(device)}, so this "
                    f"route is not used{_suggest(device, ins)}",
                )
            for target in targets:
                if outs is not None and target not in outs:
                    self.warn(
                        key,
                        f"midi.out_device has no device named {_quote(target)}, so "
                        f"nothing is sent to it{_suggest(target, outs)}",
                    )
        return routes

    def with_mappings(
        self, data: dict, name: str, spec: Mapping[str, _Field], cls: type, dimension: int | None
    ) -> Any:
        """A section of plain keys plus an `input` and an `output` mapping, as its dataclass."""
        table = self.section(data, name, spec)
        if table is None:
            return None
        before = self.errors()
        values = self.fields(table, name, spec, also=("input", "output"))
        inputs = self.required_mapping(table, name, "input", dimension)
        outputs = self.required_mapping(table, name, "output", dimension)
        if self.errors() != before:
            return None
        return cls(input=inputs, output=outputs, **values)

    def gpio(self, data: dict) -> GpioConfig | None:
        table = self.section(data, "gpio", _GPIO)
        if table is None:
            return None
        before = self.errors()
        values = self.fields(table, "gpio", _GPIO, also=("buttons", "leds"))
        used: dict[int, str] = {}  # BCM number -> the key that took it
        buttons = self.pins(table.get("buttons", {}), "gpio.buttons", "command", GPIO_COMMANDS, used)
        leds = self.pins(table.get("leds", {}), "gpio.leds", "activity", GPIO_ACTIVITIES, used)
        if self.errors() != before:
            return None
        return GpioConfig(buttons=buttons, leds=leds, **values)

    def pins(
        self, raw: Any, path: str, what: str, names: tuple[str, ...], used: dict[int, str]
    ) -> dict[str, str | int]:
        if not isinstance(raw, dict):
            self.error(
                path,
                f"expected a table of {what} = pin, such as {names[0]} = 17; found {_describe(raw)}",
            )
            return {}
        pins = {}
        for name, value in raw.items():
            key = _key(path, name)
            if name not in names:
                article = "an" if what[0] in "aeiou" else "a"
                self.error(key, f"expected {article} {what}, one of {', '.join(names)}; found {name!r}")
                continue
            pin = self.value(_pin, value, key)
            if pin is _BAD:
                continue
            bcm = _bcm(pin)
            if bcm in used:
                self.error(
                    key,
                    f"expected a pin of its own; found {_describe(value)}, which "
                    f"{used[bcm]} already uses (GPIO{bcm})",
                )
                continue
            used[bcm] = key
            pins[name] = pin
        return pins

    # -- the whole file --

    def config(self, data: dict) -> Config | None:
        top = self.fields(data, "", _TOP, also=_SECTIONS)
        interaction = self.simple(data, "interaction", _INTERACTION, InteractionConfig, required=True)
        model_table = self.section(data, "model", _MODEL, required=True)
        model_values = {} if model_table is None else self.fields(model_table, "model", _MODEL)
        dimension = model_values.get("dimension")  # None: mapping lengths cannot be checked
        sections = {
            "midi": self.midi(data, dimension),
            "osc": self.simple(data, "osc", _OSC, OscConfig),
            "websocket": self.with_mappings(data, "websocket", _WEBSOCKET, WebSocketConfig, dimension),
            "serial": self.simple(data, "serial", _SERIAL, SerialConfig),
            "serialmidi": self.with_mappings(
                data, "serialmidi", _serialmidi_spec(data), SerialMidiConfig, dimension
            ),
            "gpio": self.gpio(data),
        }
        webui = self.simple(data, "webui", _WEBUI, WebUIConfig) or WebUIConfig()
        self.cross_check(data, sections, webui)
        if self.errors():
            return None
        return Config(
            interaction=interaction,
            model=ModelConfig(**model_values),
            webui=webui,
            source=self.source,
            **top,
            **sections,
        )

    def cross_check(self, data: dict, sections: dict[str, Any], webui: WebUIConfig) -> None:
        # Read from the raw tables, so this is reported even alongside other serial problems.
        port, serialmidi = _serial_port(data), data.get("serialmidi")
        if port is not None and isinstance(serialmidi, dict):
            # The original's serial MIDI always used [serial]'s port, and its example configs
            # name it in both tables. A port serves one channel: serial MIDI gets it and CSV
            # serial stays off, so it is opened once.
            if "port" not in serialmidi:
                why = (
                    f"[serialmidi] has no port of its own, so it uses [serial]'s ({port!r}) and the CSV "
                    f"serial channel stays off; to say so directly, move `port = {_quote(port)}` into "
                    "[serialmidi] and remove [serial]"
                )
            elif _same_device(serialmidi["port"], port):
                why = (
                    f"[serial] and [serialmidi] both name {port!r}, and a port serves one channel: serial "
                    "MIDI gets it and the CSV serial channel stays off; to say so directly, remove [serial]"
                )
            else:
                why = None
            if why:
                self.warn("serial", why)
                sections["serial"] = None
        # These three UDP ports are all bound on this machine, so no two may be the same.
        udp = {"webui.monitor_port": webui.monitor_port, "webui.command_port": webui.command_port}
        if sections["osc"]:
            udp = {"osc.server_port": sections["osc"].server_port, **udp}
        taken: dict[int, str] = {}
        for key, port in udp.items():
            if port in taken:
                self.error(
                    key,
                    f"expected a port no other channel uses; found {port}, which {taken[port]} already uses",
                )
            taken.setdefault(port, key)


_AT_LINE = re.compile(r" \(at line (\d+), column (\d+)\)$")
_AT_END = " (at end of document)"


def _syntax_problem(source: str, error: tomllib.TOMLDecodeError, text: str) -> Problem:
    message, line = str(error), None
    if match := _AT_LINE.search(message):
        line = int(match[1])
        message = f"{message[: match.start()]} at column {match[2]}"
        if message.startswith("Invalid value"):  # most often text written without quotes
            message += ' (if it is text, put it in double quotes: mode = "callresponse")'
    elif message.endswith(_AT_END):
        line = max(1, len(text.splitlines()))
        message = message.removesuffix(_AT_END) + " at the end of the file"
    return Problem(source, "", f"TOML syntax error: {message[0].lower()}{message[1:]}", ERROR, line)


def parse_config(text: str, source: str = "config.toml") -> tuple[Config | None, list[Problem]]:
    """A config's text -> (Config, problems); the Config is None if any problem is an error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return None, [_syntax_problem(source, error, text)]
    reader = _Reader(source)
    config = reader.config(data)
    return config, reader.problems


def _read(path: str | Path) -> tuple[Config | None, list[Problem]]:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # -sig: editors on Windows add a BOM
    except FileNotFoundError:
        return None, [Problem(source, "", "no such file; create a starter config with `impsy init`", ERROR)]
    except UnicodeDecodeError:
        return None, [Problem(source, "", "cannot read the file: it is not UTF-8 text", ERROR)]
    except OSError as error:
        return None, [Problem(source, "", f"cannot read the file: {error.strerror}", ERROR)]
    return parse_config(text, source)


def check_config(path: str | Path) -> list[Problem]:
    """Every problem in a config file (an empty list means it is fine)."""
    return _read(path)[1]


def load_config(path: str | Path) -> Config:
    """The Config in a file; warnings are logged, errors raise ConfigError."""
    config, problems = _read(path)
    for problem in problems:
        if problem.severity == WARNING:
            log.warning("%s", problem)
    if config is None:
        raise ConfigError(problems)
    return config


# ---- Command-line overrides for `impsy run` ---------------------------------------------------

# (option, argparse dest, section ("" for top level), key, help)
_OVERRIDES = (
    ("--dimension", "dimension", "model", "dimension", "values per event: controls + 1"),
    ("--mode", "mode", "interaction", "mode", "interaction mode: " + ", ".join(MODES)),
    (
        "--threshold",
        "threshold",
        "interaction",
        "threshold",
        "seconds of silence before the model answers",
    ),
    (
        "--input-thru",
        "input_thru",
        "interaction",
        "input_thru",
        "send the performer's input straight to the outputs too",
    ),
    ("--sigma-temp", "sigma_temp", "model", "sigmatemp", "sigma temperature (lower = smoother)"),
    ("--pi-temp", "pi_temp", "model", "pitemp", "pi temperature (higher = more varied)"),
    ("--timescale", "timescale", "model", "timescale", "multiply predicted time gaps by this"),
    ("--verbose", "verbose", "", "verbose", "print every input and output"),
    ("--log-input", "log_input", "", "log_input", "log the performer's input (default: on)"),
    (
        "--log-predictions",
        "log_predictions",
        "",
        "log_predictions",
        "log the model's predictions as well",
    ),
)
_SPECS = {"": _TOP, "interaction": _INTERACTION, "model": _MODEL}
_ARG_TYPES = {"dimension": int, "mode": str}


def add_override_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that override config values for one run; each defaults to None."""
    group = parser.add_argument_group("config overrides")
    for option, dest, section, key, help_text in _OVERRIDES:
        if key == "verbose":
            quiet = group.add_mutually_exclusive_group()
            quiet.add_argument(
                option, dest=dest, action="store_const", const=True, default=None, help=help_text
            )
            quiet.add_argument(
                "--quiet",
                dest=dest,
                action="store_const",
                const=False,
                help="do not print every input and output",
            )
        elif isinstance(_SPECS[section][key].default, bool):
            group.add_argument(
                option,
                dest=dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            group.add_argument(
                option,
                dest=dest,
                type=_ARG_TYPES.get(key, float),
                default=None,
                metavar=key.upper(),
                help=help_text,
            )


def _mappings(config: Config) -> Iterator[tuple[str, MidiMapping]]:
    """Every mapping in a config, with its key path."""
    if config.midi:
        for name, table in (("input", config.midi.input), ("output", config.midi.output)):
            for device, mapping in table.items():
                yield _key(f"midi.{name}", device, quoted=True), mapping
    for section in ("websocket", "serialmidi"):
        if channel := getattr(config, section):
            yield f"{section}.input", channel.input
            yield f"{section}.output", channel.output


def apply_overrides(config: Config, args: argparse.Namespace) -> Config:
    """config with the options given in args applied; a bad value raises ConfigError."""
    changes: dict[str, dict[str, Any]] = {"": {}, "interaction": {}, "model": {}}
    problems = []
    for option, dest, section, key, _help in _OVERRIDES:
        value = getattr(args, dest, None)
        if value is None:
            continue
        try:
            checked = _SPECS[section][key].check(value)
        except _Invalid as bad:
            problems.append(Problem("", option, f"expected {bad}; found {_describe(value)}", ERROR))
            continue
        # A file's lenient reading warns; an option given for this run says what it means.
        changes[section][key] = checked.value if isinstance(checked, _Lenient) else checked
    dimension = changes["model"].get("dimension")
    if dimension is not None:
        problems += [
            Problem(
                "",
                "--dimension",
                f"expected {len(mapping) + 1}, as {path} has {len(mapping)} entries; found {dimension}",
                ERROR,
            )
            for path, mapping in _mappings(config)
            if len(mapping) != dimension - 1
        ]
    if problems:
        raise ConfigError(problems)
    return replace(
        config,
        interaction=replace(config.interaction, **changes["interaction"]),
        model=replace(config.model, **changes["model"]),
        **changes[""],
    )
