"""config.toml as text: check it, point at the lines of its problems, edit [model], write one.

The web UI never rewrites a user's file from parsed values (that would drop their comments):
it edits the lines of the keys it changes, then checks the result with the same checker as
`impsy check-config`, and refuses anything that would not load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from impsy.config import ERROR, MODES, Config, Problem, parse_config
from impsy.config.modelfile import model_file_problems
from impsy.model import SIZES
from impsy.web.paths import KINDS

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")
_STRING = r'"(?:[^"\\\n]|\\.)*"' + r"|'[^'\n]*'"
_VALUE = rf"(?:{_STRING}|[^\s#]+)"


@dataclass(frozen=True)
class ShownProblem:
    """A problem as the editor shows it: with a line to jump to where one can be found."""

    severity: str
    key: str
    message: str
    line: int | None
    text: str  # the whole line as `impsy check-config` prints it

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def model_file_problem(config: Config) -> Problem | None:
    """The web UI's one rule beyond `impsy check-config`: a config it accepts (Save, Go back, a
    restore) may play only a model of the working folder's models/ folder, or none.

    On a laptop a config may name any file; on the instrument a config comes from the network,
    and one naming /etc/passwd or ../secret would have the runtime, and the pages that describe
    the model, open a file the musician never put there.
    """
    file = config.model.file
    folder, _, name = file.partition("/")
    if file == "" or (folder == KINDS["model"][0] and KINDS["model"][1].fullmatch(name)):
        return None
    return Problem(
        config.source,
        "model.file",
        f'[model] file must be "" (the random dummy model) or models/NAME.tflite, a model in the '
        f"working folder's models/ (upload it on the Models page); found {file!r}",
        ERROR,
    )


def check_text(
    text: str, source: str = "config.toml", workdir: Path | None = None
) -> tuple[Config | None, list[ShownProblem]]:
    """Parse and check a config's text (with the web UI's model file rule); problems with the
    line each one is about. Given the working folder, a model file that is not there (or
    empty) is an error too, as in `impsy check-config`: the musician would hear random noise."""
    config, problems = parse_config(text, source)
    if config is not None and (problem := model_file_problem(config)):
        config, problems = None, [problem, *problems]
    elif config is not None and workdir is not None and (
        missing := model_file_problems(config, workdir / "config.toml", load=False)
    ):
        config, problems = None, [*missing, *problems]
    shown = [
        ShownProblem(
            p.severity,
            p.key,
            p.message,
            p.line if p.line is not None else locate(text, p.key),
            str(p) if p.severity == ERROR else f"warning: {p}",
        )
        for p in sorted(problems, key=lambda p: p.severity != ERROR)
    ]
    return config, shown


def _sections(lines: list[str]) -> dict[str, tuple[int, int]]:
    """section name -> (header index, end index exclusive); "" is the top level."""
    spans: dict[str, tuple[int, int]] = {}
    current, start = "", 0
    for i, line in enumerate(lines):
        if _ANY_HEADER.match(line):
            spans.setdefault(current, (start, i))
            match = _HEADER.match(line)
            current, start = (match[1] if match else f"?{i}"), i
    spans.setdefault(current, (start, len(lines)))
    return spans


def locate(text: str, key: str) -> int | None:
    """The 1-based line a problem's key path is about, if it can be found (else None)."""
    if not key or key.startswith("--"):
        return None
    lines = text.splitlines()
    spans = _sections(lines)
    first = re.split(r"[.\[]", key, maxsplit=1)[0]
    rest = key[len(first) :].lstrip(".")
    if first in spans and first != "":
        start, end = spans[first]
        name = re.split(r"[.\[]", rest, maxsplit=1)[0].strip('"') if rest else ""
        if name:
            pattern = re.compile(rf"^\s*(\"{re.escape(name)}\"|{re.escape(name)})\s*[.=]")
            for i in range(start + 1, end):
                if pattern.match(lines[i]):
                    return i + 1
        return start + 1
    if "" in spans:  # a top-level key
        start, end = spans[""]
        pattern = re.compile(rf"^\s*{re.escape(first)}\s*=")
        for i in range(start, end):
            if pattern.match(lines[i]):
                return i + 1
    return None


def toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m[0]):04x}", escaped)
    return f'"{escaped}"'


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    return repr(value)


class EditError(Exception):
    """The text could not be edited as asked (the message says what to do by hand)."""


def set_keys(text: str, section: str, values: dict[str, object]) -> str:
    """The config text with these keys of [section] set, comments and layout kept."""
    lines = text.splitlines()
    spans = _sections(lines)
    if section not in spans:
        block = [f"[{section}]", *(f"{k} = {toml_value(v)}" for k, v in values.items())]
        body = "\n".join(lines).rstrip("\n")
        return (body + "\n\n" if body else "") + "\n".join(block) + "\n"
    start, end = spans[section]
    first = start + 1 if section else start  # the top level has no header line
    missing = dict(values)
    for i in range(first, end):
        for key in list(missing):
            match = re.match(rf"^(\s*{re.escape(key)}\s*=\s*)({_VALUE})(.*)$", lines[i])
            if match:
                lines[i] = match[1] + toml_value(missing.pop(key)) + match[3]
                break
    if missing:
        at = first
        for i in range(first, end):  # after the section's last key line
            if lines[i].strip() and not lines[i].lstrip().startswith("#"):
                at = i + 1
        lines[at:at] = [f"{k} = {toml_value(v)}" for k, v in missing.items()]
    return "\n".join(lines) + "\n"


def with_model(text: str, file: str, dimension: int, size: str | None, source: str) -> str:
    """The config text with [model] file, dimension (and size) set, checked to load as intended.

    Raises EditError with the checker's problems, or if the edit did not land (unusual TOML).
    """
    values: dict[str, object] = {"file": file, "dimension": dimension}
    if size:
        values["size"] = size
    edited = set_keys(text, "model", values)
    config, problems = parse_config(edited, source)
    errors = [p for p in problems if p.severity == ERROR]
    if config is None:
        raise EditError("\n".join(str(p) for p in errors))
    if config.model.file != file or config.model.dimension != dimension:
        raise EditError(
            f"config.toml is written in a way this page cannot edit safely; set [model] "
            f'file = "{file}" and dimension = {dimension} on the Configuration page'
        )
    return edited


def problems_text(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


# ---- The setup wizard ---------------------------------------------------------------------------

CHANNELS = ("osc", "midi", "websocket", "serial", "serialmidi")


@dataclass
class WizardChoices:
    """What the wizard asks; defaults make a working OSC setup for the shipped 9d model."""

    title: str = "My IMPSY"
    mode: str = "callresponse"
    dimension: int = 9
    model: str = ""  # a file name in models/, or "" for the random dummy model
    size: str = "s"
    channels: tuple[str, ...] = ("osc",)
    osc_server_port: int = 6000
    osc_client_ip: str = "127.0.0.1"
    osc_client_port: int = 6001
    midi_in: str = ""
    midi_out: str = ""
    midi_channel: int = 1
    midi_kind: str = "control_change"  # or note_on
    midi_first_cc: int = 1
    websocket_port: int = 5001
    serial_port: str = "/dev/ttyACM0"
    serial_baudrate: int = 115200
    serialmidi_port: str = "/dev/ttyAMA0"
    monitor_port: int = 4001  # kept from the current config, so the web UI keeps hearing IMPSY
    command_port: int = 4002


def _mapping(choices: WizardChoices) -> str:
    n = choices.dimension - 1
    if choices.midi_kind == "note_on":
        entries = [f'["note_on", {((choices.midi_channel - 1 + i) % 16) + 1}]' for i in range(n)]
    else:
        entries = [
            f'["control_change", {choices.midi_channel}, {min(127, choices.midi_first_cc + i)}]'
            for i in range(n)
        ]
    return "[" + ", ".join(entries) + "]"


def moves_one_at_a_time(c: WizardChoices) -> bool:
    """Whether the model should move one control per event: a MIDI instrument played into IMPSY
    sends one change per message, so that is what its logs, and models trained on them, hold."""
    return ("midi" in c.channels and bool(c.midi_in)) or "serialmidi" in c.channels


def wizard_text(c: WizardChoices) -> str:
    """A commented config.toml for the wizard's choices (check it with check_text)."""
    model_file = f"models/{c.model}" if c.model else ""
    lines = [
        "# Written by the IMPSY web UI's setup wizard. Every key is explained in docs/configuration.md.",
        f"title = {toml_string(c.title)}",
        "verbose = false",
        "log_predictions = false   # logs hold only your playing, so new models learn from you",
        "",
        "[interaction]",
        f"mode = {toml_string(c.mode)}    # {', '.join(MODES)}",
        "threshold = 0.1           # seconds you must be still before IMPSY answers",
        "input_thru = false",
        "",
        "[model]",
        f"dimension = {c.dimension}             # {c.dimension - 1} controls plus the time between events",
        f"file = {toml_string(model_file)}" + ("" if model_file else '   # "" plays random gestures'),
        f"size = {toml_string(c.size)}",
        "sigmatemp = 0.5",
        "pitemp = 1",
        "timescale = 1",
        f"one_at_a_time = {toml_value(moves_one_at_a_time(c))}"
        "   # true: each event moves one control, as MIDI sends one change per message",
    ]
    if "osc" in c.channels:
        lines += [
            "",
            f"# OSC: send /interface with {c.dimension - 1} floats (0 to 1); IMPSY answers with /impsy.",
            "[osc]",
            'server_ip = "0.0.0.0"',
            f"server_port = {c.osc_server_port}",
            f"client_ip = {toml_string(c.osc_client_ip)}",
            f"client_port = {c.osc_client_port}",
        ]
    if "midi" in c.channels:
        mapping = _mapping(c)
        lines += ["", "[midi]"]
        lines.append(f"in_device = [{toml_string(c.midi_in)}]" if c.midi_in else "in_device = []")
        lines.append(f"out_device = [{toml_string(c.midi_out)}]" if c.midi_out else "out_device = []")
        if c.midi_in:
            lines.append(f"input.{toml_string(c.midi_in)} = {mapping}")
        if c.midi_out:
            lines.append(f"output.{toml_string(c.midi_out)} = {mapping}")
    if "websocket" in c.channels:
        lines += [
            "",
            "[websocket]",
            'server_ip = "0.0.0.0"',
            f"server_port = {c.websocket_port}",
            f"input = {_mapping(c)}",
            f"output = {_mapping(c)}",
        ]
    if "serial" in c.channels:
        lines += [
            "",
            "[serial]",
            f"port = {toml_string(c.serial_port)}",
            f"baudrate = {c.serial_baudrate}",
        ]
    if "serialmidi" in c.channels:
        lines += [
            "",
            "[serialmidi]",
            f"port = {toml_string(c.serialmidi_port)}",
            "baudrate = 31250",
            f"input = {_mapping(c)}",
            f"output = {_mapping(c)}",
        ]
    lines += [
        "",
        "# Local ports between `impsy run` and the web UI.",
        "[webui]",
        f"monitor_port = {c.monitor_port}",
        f"command_port = {c.command_port}",
    ]
    return "\n".join(lines) + "\n"


SIZE_NAMES = tuple(SIZES)

# The wizard's plain fields: where each one lives in the file.
WIZARD_KEYS = {
    "title": ("", "title"),
    "mode": ("interaction", "mode"),
    "dimension": ("model", "dimension"),
    "model": ("model", "file"),
    "size": ("model", "size"),
    "osc_server_port": ("osc", "server_port"),
    "osc_client_ip": ("osc", "client_ip"),
    "osc_client_port": ("osc", "client_port"),
    "websocket_port": ("websocket", "server_port"),
    "serial_port": ("serial", "port"),
    "serial_baudrate": ("serial", "baudrate"),
    "serialmidi_port": ("serialmidi", "port"),
    "monitor_port": ("webui", "monitor_port"),
    "command_port": ("webui", "command_port"),
}
# Fields that the MIDI mappings are made from: a change rewrites the mapped sections.
MAPPING_FIELDS = ("dimension", "midi_in", "midi_out", "midi_channel", "midi_kind", "midi_first_cc")
MAPPED = ("midi", "websocket", "serialmidi")


def wizard_edit(text: str, before: WizardChoices, after: WizardChoices) -> str:
    """The current config with only what the wizard changed: its keys set in place, channels
    added or removed as sections, every other line and comment kept. Mapped sections are written
    anew only when what their mapping is made from changed (the wizard cannot edit a mapping)."""
    fresh = wizard_text(after).splitlines()
    fresh_spans = _sections(fresh)
    for name in CHANNELS:
        if name in before.channels and name not in after.channels:
            text = _without_section(text, name)
    rewrite = [n for n in MAPPED if any(getattr(before, f) != getattr(after, f) for f in MAPPING_FIELDS)]
    for name in CHANNELS:
        wanted = name in after.channels
        if wanted and (name not in before.channels or name in rewrite):
            start, end = fresh_spans[name]
            block = "\n".join(fresh[start:end]).rstrip()
            text = _without_section(text, name).rstrip("\n") + "\n\n" + block + "\n"
    for field_name, (section, key) in WIZARD_KEYS.items():
        old, new = getattr(before, field_name), getattr(after, field_name)
        if old == new or (section in CHANNELS and section not in after.channels):
            continue
        if field_name == "model":
            new = f"models/{new}" if new else ""
        text = set_keys(text, section, {key: new})
    if moves_one_at_a_time(before) != moves_one_at_a_time(after):
        text = set_keys(text, "model", {"one_at_a_time": moves_one_at_a_time(after)})
    return text


def _without_section(text: str, name: str) -> str:
    lines = text.splitlines()
    span = _sections(lines).get(name)
    if span is None:
        return text
    start, end = span
    return "\n".join(lines[:start] + lines[end:]) + "\n"


def example_files(folders: list[Path]) -> dict[str, Path]:
    """Example configs by file name; earlier folders win."""
    found: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                if path.is_file():
                    found.setdefault(path.name, path)
    return dict(sorted(found.items()))
