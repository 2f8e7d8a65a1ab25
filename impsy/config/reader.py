"""Reading a config file: TOML in, a Config and every problem found on the way out."""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from impsy.config.modelfile import model_file_problems
from impsy.config.problems import ERROR, WARNING, ConfigError, Problem, describe, key_path, quote, suggest
from impsy.config.schema import (
    BYTE,
    CHANNEL,
    ENTRY_EXAMPLE,
    ENTRY_EXTRAS,
    ENTRY_SHAPES,
    GPIO,
    INTERACTION,
    MAPPING_KINDS,
    MIDI,
    MODEL,
    OSC,
    REQUIRED,
    SECTIONS,
    SERIAL,
    TOP,
    VELOCITY,
    WEBSOCKET,
    WEBUI,
    Field,
    same_device,
    serial_port,
    serialmidi_spec,
)
from impsy.config.settings import (
    GPIO_ACTIVITIES,
    GPIO_COMMANDS,
    Config,
    GpioConfig,
    InteractionConfig,
    MappingEntry,
    MidiConfig,
    MidiMapping,
    ModelConfig,
    OscConfig,
    SerialConfig,
    SerialMidiConfig,
    WebSocketConfig,
    WebUIConfig,
)
from impsy.config.values import Check, Invalid, Lenient, bcm_number, pin_name, port_names

log = logging.getLogger("impsy.config")

_BAD = object()  # a value that failed its check (already reported)


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
        except Invalid as bad:
            self.error(key, f"expected {bad}; found {describe(raw)}{bad.hint}")
            return _BAD
        if isinstance(result, Lenient):
            self.warn(key, result.note)
            return result.value
        return result

    def section(
        self, data: dict, name: str, spec: Mapping[str, Field], required: bool = False
    ) -> dict | None:
        """The table [name], or None if it is absent or not a table (reported)."""
        table = data.get(name)
        if table is None:
            if required:
                needed = ", ".join(f"`{f.example}`" for f in spec.values() if f.example)
                self.error(name, f"required table is missing; add [{name}] with {needed}")
            return None
        if not isinstance(table, dict):
            self.error(name, f"expected a table [{name}]; found {describe(table)}")
            return None
        return table

    def fields(
        self, table: dict, path: str, spec: Mapping[str, Field], also: Iterable[str] = ()
    ) -> dict[str, Any]:
        """The checked values of spec's keys (defaults filled in); `also` are read elsewhere."""
        known = [*spec, *also]
        unknown = [name for name in table if name not in known]
        for name in unknown:
            self.unknown(path, name, table[name], known)
        values = {}
        for name, spec_field in spec.items():
            key = key_path(path, name)
            if name in table:
                value = self.value(spec_field.check, table[name], key)
                if value is not _BAD:
                    values[name] = value
            elif spec_field.default is not REQUIRED:
                values[name] = spec_field.default
            else:
                typo = difflib.get_close_matches(name, unknown, n=1)
                hint = f" (is `{typo[0]}` a misspelling of it?)" if typo else ""
                self.error(key, f"required key is missing; add `{spec_field.example}` to [{path}]{hint}")
        return values

    def unknown(self, path: str, name: str, value: Any, known: list[str]) -> None:
        if path and name in TOP:
            # TOML puts every key after a [header] into that table: a classic slip.
            self.warn(
                key_path(path, name),
                f"unknown key in [{path}], ignored; `{name}` is a "
                "top-level key: move it above the first [section] header",
            )
            return
        what = "table" if isinstance(value, dict) else "key"
        self.warn(key_path(path, name), f"unknown {what}, ignored{suggest(name, known)}")

    def simple(
        self, data: dict, name: str, spec: Mapping[str, Field], cls: type, required: bool = False
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
                f"expected a list of mapping entries such as [{ENTRY_EXAMPLE}]; found {describe(raw)}",
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
            self.error(key, f"expected a mapping entry such as {ENTRY_EXAMPLE}; found {describe(raw)}")
            return None
        kind, items = raw[0], raw[1:]
        if kind not in ENTRY_SHAPES:
            self.error(
                key,
                f"expected a message kind, one of {', '.join(MAPPING_KINDS)}; "
                f"found {kind!r}{suggest(kind, MAPPING_KINDS)}",
            )
            return None
        names = ENTRY_SHAPES[kind]
        extras = ENTRY_EXTRAS.get(kind, ())
        if extras and len(items) == len(names) + len(extras):
            names = (*names, *extras)
        if len(items) != len(names):
            shapes = f'["{kind}", {", ".join(names)}]'
            if extras:
                shapes += f' or ["{kind}", {", ".join((*names, *extras))}]'
            self.error(key, f"expected {shapes}; found {describe(raw)}")
            return None
        values = {}
        checks = {"channel": CHANNEL, "velocity": VELOCITY}
        for name, item in zip(names, items, strict=True):
            try:
                values[name] = checks.get(name, BYTE)(item)
            except Invalid as bad:
                self.error(key, f"{name}: expected {bad}; found {describe(item)}")
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
        table = self.section(data, "midi", MIDI)
        if table is None:
            return None
        before = self.errors()
        values = self.fields(table, "midi", MIDI, also=("input", "output", "thru_matrix"))
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
        example = f"{name}.{quote(devices[0] if devices else 'S-1')} = [...]"
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
                f"expected a table of mappings, one per device, such as {example}; found {describe(raw)}",
            )
            return {}
        mappings = {}
        for device, mapping in (raw or {}).items():
            key = key_path(path, device, quoted=True)
            mappings[device] = self.mapping(mapping, key, dimension)
            if devices is not None and device not in devices:
                self.warn(
                    key,
                    f"midi.{list_name} has no device named {quote(device)}, so this "
                    f"mapping is not used{suggest(device, devices)}",
                )
        for device in devices or ():
            if device not in mappings:
                self.error(
                    key_path(path, device, quoted=True),
                    f"every device in midi.{list_name} "
                    f"needs a mapping; add `{name}.{quote(device)} = [...]` to [midi]",
                )
        return mappings

    def thru_matrix(self, raw: Any, ins: tuple | None, outs: tuple | None) -> dict[str, tuple[str, ...]]:
        if not isinstance(raw, dict):
            self.error(
                "midi.thru_matrix",
                f'expected a table of routes such as thru_matrix."S-1" = ["Synth"]; found {describe(raw)}',
            )
            return {}
        routes = {}
        for device, targets in raw.items():
            key = key_path("midi.thru_matrix", device, quoted=True)
            targets = self.value(port_names, targets, key)
            if targets is _BAD:
                continue
            routes[device] = targets
            if ins is not None and device not in ins:
                self.warn(
                    key,
                    f"midi.in_device has no device named {quote(device)}, so this "
                    f"route is not used{suggest(device, ins)}",
                )
            for target in targets:
                if outs is not None and target not in outs:
                    self.warn(
                        key,
                        f"midi.out_device has no device named {quote(target)}, so "
                        f"nothing is sent to it{suggest(target, outs)}",
                    )
        return routes

    def with_mappings(
        self, data: dict, name: str, spec: Mapping[str, Field], cls: type, dimension: int | None
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
        table = self.section(data, "gpio", GPIO)
        if table is None:
            return None
        before = self.errors()
        values = self.fields(table, "gpio", GPIO, also=("buttons", "leds"))
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
                f"expected a table of {what} = pin, such as {names[0]} = 17; found {describe(raw)}",
            )
            return {}
        pins = {}
        for name, value in raw.items():
            key = key_path(path, name)
            if name not in names:
                article = "an" if what[0] in "aeiou" else "a"
                self.error(key, f"expected {article} {what}, one of {', '.join(names)}; found {name!r}")
                continue
            pin = self.value(pin_name, value, key)
            if pin is _BAD:
                continue
            bcm = bcm_number(pin)
            if bcm in used:
                self.error(
                    key,
                    f"expected a pin of its own; found {describe(value)}, which "
                    f"{used[bcm]} already uses (GPIO{bcm})",
                )
                continue
            used[bcm] = key
            pins[name] = pin
        return pins

    # -- the whole file --

    def config(self, data: dict) -> Config | None:
        top = self.fields(data, "", TOP, also=SECTIONS)
        interaction = self.simple(data, "interaction", INTERACTION, InteractionConfig, required=True)
        model_table = self.section(data, "model", MODEL, required=True)
        model_values = {} if model_table is None else self.fields(model_table, "model", MODEL)
        dimension = model_values.get("dimension")  # None: mapping lengths cannot be checked
        sections = {
            "midi": self.midi(data, dimension),
            "osc": self.simple(data, "osc", OSC, OscConfig),
            "websocket": self.with_mappings(data, "websocket", WEBSOCKET, WebSocketConfig, dimension),
            "serial": self.simple(data, "serial", SERIAL, SerialConfig),
            "serialmidi": self.with_mappings(
                data, "serialmidi", serialmidi_spec(data), SerialMidiConfig, dimension
            ),
            "gpio": self.gpio(data),
        }
        webui = self.simple(data, "webui", WEBUI, WebUIConfig) or WebUIConfig()
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
        port, serialmidi = serial_port(data), data.get("serialmidi")
        if port is not None and isinstance(serialmidi, dict):
            # The original's serial MIDI always used [serial]'s port, and its example configs
            # name it in both tables. A port serves one channel: serial MIDI gets it and CSV
            # serial stays off, so it is opened once.
            if "port" not in serialmidi:
                why = (
                    f"[serialmidi] has no port of its own, so it uses [serial]'s ({port!r}) and the CSV "
                    f"serial channel stays off; to say so directly, move `port = {quote(port)}` into "
                    "[serialmidi] and remove [serial]"
                )
            elif same_device(serialmidi["port"], port):
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
    """Every problem in a config file and the model file it names (an empty list means it is fine)."""
    config, problems = _read(path)
    return problems if config is None else problems + model_file_problems(config, Path(path))


def load_config(path: str | Path) -> Config:
    """The Config in a file; warnings are logged, errors raise ConfigError."""
    config, problems = _read(path)
    for problem in problems:
        if problem.severity == WARNING:
            log.warning("%s", problem)
    if config is None:
        raise ConfigError(problems)
    return config
