"""impsy.config: users' configs load unchanged, and every kind of mistake gets an exact message."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impsy.config import (
    Config,
    ConfigError,
    GpioConfig,
    MappingEntry,
    MidiConfig,
    ModelConfig,
    OscConfig,
    Problem,
    SerialConfig,
    SerialMidiConfig,
    WebSocketConfig,
    WebUIConfig,
    add_override_arguments,
    apply_overrides,
    check_config,
    format_problems,
    load_config,
    parse_config,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data" / "configs"

# The smallest valid file; tests add the sections they are about.
BASE = """\
[interaction]
mode = "callresponse"
threshold = 0.1

[model]
dimension = 3
sigmatemp = 0.01
pitemp = 1
timescale = 1
"""


def parse(text: str) -> tuple[Config | None, list[str]]:
    config, problems = parse_config(text)
    return config, [str(p) for p in problems]


def errors(text: str) -> list[str]:
    """The error messages of a text that must not load."""
    config, problems = parse_config(text)
    assert config is None
    return [str(p) for p in problems if p.severity == "error"]


def warnings(text: str) -> list[str]:
    """The warnings of a text that must still load."""
    config, problems = parse_config(text)
    assert config is not None, format_problems(problems)
    return [str(p) for p in problems if p.severity == "warning"]


def one_error(text: str) -> str:
    found = errors(text)
    assert len(found) == 1, found
    return found[0]


# ---- Existing configs load unchanged -----------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "quickstart",
        "midi-s1-quneo",
        "websocket",
        "serial-microbit",
        "serialmidi",
        "useronly",
        "docker-pd",
        "everything",
    ],
)
def test_existing_configs_load_without_any_problem(name: str) -> None:
    path = FIXTURES / f"{name}.toml"
    # Their model files are not in this repository: check-config says so, and nothing else.
    assert [p for p in check_config(path) if "no such file" not in p.message] == []
    assert parse_config(path.read_text(), str(path))[1] == []
    assert load_config(path).source == str(path)


def test_quickstart_values() -> None:
    config = load_config(FIXTURES / "quickstart.toml")
    assert config.title == "Minimal IMPSY"
    assert (config.verbose, config.log_predictions, config.log_input) == (True, False, True)
    assert config.interaction.mode == "callresponse"
    assert config.interaction.threshold == 0.1
    assert config.model == ModelConfig(
        9, "models/musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite", "s", 0.01, 1.0, 1.0
    )
    assert isinstance(config.model.pitemp, float)  # `pitemp = 1` in the file
    assert config.osc == OscConfig("0.0.0.0", 6000, "127.0.0.1", 6001)
    assert config.webui == WebUIConfig(4001, 4002)
    assert (config.midi, config.websocket, config.serial, config.serialmidi, config.gpio) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_midi_with_quoted_port_keys_and_thru_matrix() -> None:
    config = load_config(FIXTURES / "midi-s1-quneo.toml")
    assert config.description == "QuNeo pads drive the S-1; IMPSY answers on the S-1."
    midi = config.midi
    assert isinstance(midi, MidiConfig)
    assert midi.in_device == ("QuNeo", "S-1")
    assert midi.out_device == ("S-1",)
    assert (midi.feedback_protection, midi.feedback_threshold) == (True, 0.02)
    assert midi.thru_matrix == {"QuNeo": ("S-1",)}
    # Channels are 0-based inside, 1-based in the file.
    assert midi.input["QuNeo"] == (
        MappingEntry("note_on", 0),
        MappingEntry("control_change", 0, 1),
        MappingEntry("control_change", 0, 2),
        MappingEntry("control_change", 0, 3, 20, 100),
    )
    assert midi.input["S-1"][3] == MappingEntry("pitch_bend", 9)
    assert midi.output["S-1"][3] == MappingEntry("note_velocity", 9)
    assert set(midi.output) == {"S-1"}


def test_websocket_serial_and_everything() -> None:
    websocket = load_config(FIXTURES / "websocket.toml")
    assert websocket.websocket == WebSocketConfig(
        "0.0.0.0",
        5001,
        (
            MappingEntry("note_on", 0),
            MappingEntry("control_change", 0, 7),
            MappingEntry("control_change", 0, 10),
        ),
        (
            MappingEntry("note_on", 1),
            MappingEntry("control_change", 1, 7),
            MappingEntry("control_change", 1, 10),
        ),
    )
    assert websocket.model.file == "" and websocket.model.size == "s"  # the defaults
    assert load_config(FIXTURES / "serial-microbit.toml").serial == SerialConfig("/dev/ttyACM0", 115200)
    config = load_config(FIXTURES / "everything.toml")
    assert config.serialmidi == SerialMidiConfig(
        "/dev/ttyAMA0",
        (MappingEntry("note_on", 0), MappingEntry("pitch_bend", 0)),
        (MappingEntry("note_on", 0), MappingEntry("pitch_bend", 0)),
        38400,
    )
    assert config.gpio == GpioConfig(
        buttons={"mode": 17, "pause": "GPIO27", "reset": "BOARD15"},
        leds={"input": 5, "output": "BCM6", "playing": 13},
        pin_factory="lgpio",
    )
    assert config.webui == WebUIConfig(5101, 5102)
    assert config.midi.output["Microfreak"][0] == MappingEntry("control_change", 0, 23, 0, 64)


def test_serialmidi_names_its_own_port_with_the_default_baud_rate() -> None:
    config = load_config(FIXTURES / "serialmidi.toml")
    assert (config.serialmidi.port, config.serialmidi.baudrate) == ("/dev/ttyAMA0", 31250)
    assert config.serial is None
    assert config.interaction.input_thru is False  # missing: defaults to false, no problem


def test_old_stub_serial_for_serialmidi_loads_and_opens_the_port_once() -> None:
    # The original needed a stub [serial] to hold serial MIDI's port: such a file still loads,
    # serial MIDI takes the port and the CSV serial channel stays off, so it is opened once.
    path = FIXTURES / "serialmidi-stub-serial.toml"
    config, problems = parse_config(path.read_text(), str(path))
    assert config is not None, format_problems(problems)
    assert (config.serialmidi.port, config.serialmidi.baudrate) == ("/dev/ttyAMA0", 31250)
    assert config.serial is None
    assert [str(p) for p in problems] == [
        f"{path}: serial: [serialmidi] has no port of its own, so it uses [serial]'s "
        "('/dev/ttyAMA0') and the CSV serial channel stays off; to say so directly, move "
        '`port = "/dev/ttyAMA0"` into [serialmidi] and remove [serial]'
    ]


def test_serial_and_serialmidi_naming_one_port_give_it_to_serial_midi(tmp_path: Path) -> None:
    # The original's example config names /dev/ttyAMA0 in both tables: it loads, and the port
    # is opened once, by serial MIDI (the original's serial MIDI always used [serial]'s port).
    mappings = 'input = [["note_on", 1], ["note_on", 2]]\noutput = [["note_on", 1], ["note_on", 2]]\n'
    serial = '[serial]\nport = "/dev/ttyS0"\nbaudrate = 9600\n'
    text = BASE + serial + '[serialmidi]\nport = "/dev/ttyS0"\n' + mappings
    config, problems = parse_config(text, "c.toml")
    assert config is not None, format_problems(problems)
    assert (config.serial, config.serialmidi.port) == (None, "/dev/ttyS0")
    assert [str(p) for p in problems] == [
        "c.toml: serial: [serial] and [serialmidi] both name '/dev/ttyS0', and a port serves one "
        "channel: serial MIDI gets it and the CSV serial channel stays off; to say so directly, "
        "remove [serial]"
    ]
    # A link to the same device (a Pi's /dev/serial0 -> ttyAMA0) is the same port.
    device, link = tmp_path / "ttyAMA0", tmp_path / "serial0"
    device.touch()
    link.symlink_to(device)
    text = BASE + serial.replace("/dev/ttyS0", str(device)) + f'[serialmidi]\nport = "{link}"\n' + mappings
    config, problems = parse_config(text, "c.toml")
    assert (config.serial, config.serialmidi.port) == (None, str(link))
    # Two different ports: both channels run.
    text = BASE + serial + '[serialmidi]\nport = "/dev/ttyS1"\n' + mappings
    config, problems = parse_config(text, "c.toml")
    assert (config.serial.port, config.serialmidi.port, problems) == ("/dev/ttyS0", "/dev/ttyS1", [])


def test_serialmidi_without_any_port() -> None:
    assert one_error(
        BASE + '[serialmidi]\ninput = [["note_on", 1], ["note_on", 2]]\n'
        'output = [["note_on", 1], ["note_on", 2]]\n'
    ) == (
        'config.toml: serialmidi.port: required key is missing; add `port = "/dev/ttyAMA0"` to [serialmidi]'
    )


def test_legacy_midi_shapes_load_with_warnings(caplog: pytest.LogCaptureFixture) -> None:
    path = FIXTURES / "legacy-midi.toml"
    with caplog.at_level(logging.WARNING, logger="impsy.config"):
        config = load_config(path)
    assert config.midi.in_device == ("X-TOUCH MINI",)
    mapping = (MappingEntry("control_change", 10, 1), MappingEntry("control_change", 10, 2))
    assert config.midi.input == {"X-TOUCH MINI": mapping}
    assert config.midi.output == {"X-TOUCH MINI": mapping, "Microfreak": mapping}
    assert caplog.messages == [
        f'{path}: midi.in_device: a single name is read as a list of one; write ["X-TOUCH MINI"]',
        f"{path}: midi.input: one mapping for every device is an older form, still read; the "
        'current form gives each device its own: input."X-TOUCH MINI" = [...]',
        f"{path}: midi.output: one mapping for every device is an older form, still read; the "
        'current form gives each device its own: output."X-TOUCH MINI" = [...]',
    ]


def test_default_config_is_the_shipped_model_over_osc() -> None:
    path = ROOT / "configs" / "default.toml"
    assert check_config(path) == []
    config = load_config(path)
    assert config.model == ModelConfig(
        9, "models/musicMDRNN-dim9-layers2-units64-mixtures10-scale10.tflite", "s", 0.5, 1.0, 1.0,
        persistence=0.92, one_at_a_time=True,
    )  # fmt: skip
    assert (config.interaction.mode, config.interaction.threshold) == ("callresponse", 0.1)
    assert config.interaction.reseed == 55.0
    assert (config.verbose, config.log_predictions) == (True, False)
    assert config.osc == OscConfig("0.0.0.0", 6000, "127.0.0.1", 6001)
    assert config.webui == WebUIConfig()
    assert (config.midi, config.websocket, config.serial, config.serialmidi) == (None,) * 4


def test_configs_are_frozen() -> None:
    config = load_config(FIXTURES / "quickstart.toml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.interaction.mode = "battle"  # type: ignore[misc]


# ---- Types, ranges and choices -----------------------------------------------------------------


def test_bad_enum_message() -> None:
    text = BASE.replace('"callresponse"', '"callresponce"')
    assert one_error(text) == (
        "config.toml: interaction.mode: expected one of callresponse, polyphony, battle, "
        "useronly; found 'callresponce'; did you mean `callresponse`?"
    )
    assert one_error(BASE + 'size = "xxl"\n').endswith(
        "model.size: expected one of xxs, xs, s, m, l, xl; found 'xxl'; did you mean `xl`?"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "threshold = 0.1",
            'threshold = "0.1"',
            "interaction.threshold: expected a number from 0 to 60; found '0.1'",
        ),
        (
            "threshold = 0.1",
            "threshold = -0.1",
            "interaction.threshold: expected a number from 0 to 60; found -0.1",
        ),
        (
            "threshold = 0.1",
            "threshold = true",
            "interaction.threshold: expected a number from 0 to 60; found true",
        ),
        (
            "threshold = 0.1",
            "threshold = nan",
            "interaction.threshold: expected a number from 0 to 60; found nan",
        ),
        (
            "dimension = 3",
            "dimension = 3.0",
            "model.dimension: expected an integer from 2 to 64; found 3.0",
        ),
        (
            "dimension = 3",
            "dimension = true",
            "model.dimension: expected an integer from 2 to 64; found true",
        ),
        ("dimension = 3", "dimension = 1", "model.dimension: expected an integer from 2 to 64; found 1"),
        ("timescale = 1", "timescale = 0", "model.timescale: expected a number from 0.001 to 100; found 0"),
        ("sigmatemp = 0.01", "sigmatemp = -1", "model.sigmatemp: expected a number from 0 to 10; found -1"),
        ("pitemp = 1", "pitemp = [1]", "model.pitemp: expected a number from 0 to 100; found [1]"),
        (
            "[model]",
            "input_thru = 1\n[model]",
            "interaction.input_thru: expected true or false; found 1",
        ),
        (
            "[model]",
            "[model]\nfile = 9",
            'model.file: expected a file path of at most 1024 characters, or "" for random gestures; found 9',
        ),
    ],
)
def test_wrong_types_and_ranges(old: str, new: str, message: str) -> None:
    assert one_error(BASE.replace(old, new, 1)) == f"config.toml: {message}"


def test_top_level_types() -> None:
    assert errors('verbose = "yes"\ntitle = 3\n' + BASE) == [
        "config.toml: title: expected a string; found 3",
        "config.toml: verbose: expected true or false; found 'yes'",
    ]


def test_log_input_false_is_honoured_with_a_warning() -> None:
    # The original never read log_input: an old `false` would now silently stop the logging.
    config, problems = parse("log_input = false\n" + BASE)
    assert config.log_input is False
    assert problems == [
        "config.toml: log_input: false: the performer's playing is not logged (the original IMPSY "
        "ignored this key and always logged it); remove it or set true to log"
    ]
    assert parse("log_input = true\n" + BASE) == (parse(BASE)[0], [])
    wrong = one_error('log_input = "no"\n' + BASE)
    assert wrong == "config.toml: log_input: expected true or false; found 'no'"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            'server_ip = "0.0.0.0"\nserver_port = 70000\nclient_ip = "127.0.0.1"\nclient_port = 6001',
            "osc.server_port: expected an integer from 1 to 65535; found 70000",
        ),
        (
            'server_ip = "0.0.0.0"\nserver_port = 6000\nclient_ip = "127.0.0.1"\nclient_port = 0',
            "osc.client_port: expected an integer from 1 to 65535; found 0",
        ),
        (
            'server_ip = ""\nserver_port = 6000\nclient_ip = "127.0.0.1"\nclient_port = 6001',
            "osc.server_ip: expected an IP address or host name, such as \"127.0.0.1\" or "
            "\"laptop.local\"; found ''",
        ),
    ],
)
def test_osc_values(section: str, message: str) -> None:
    assert one_error(f"{BASE}[osc]\n{section}\n") == f"config.toml: {message}"


def test_wildcard_client_ip_becomes_localhost_with_a_warning() -> None:
    text = (
        BASE + '[osc]\nserver_ip = "0.0.0.0"\nserver_port = 6000\nclient_ip = "0.0.0.0"\nclient_port = 6001\n'
    )
    assert warnings(text) == [
        "config.toml: osc.client_ip: '0.0.0.0' is a wildcard, not an address to send to; "
        "using '127.0.0.1' (this machine)"
    ]
    assert parse_config(text)[0].osc.client_ip == "127.0.0.1"


def test_a_section_that_is_not_a_table() -> None:
    assert one_error("osc = 6000\n" + BASE) == ("config.toml: osc: expected a table [osc]; found 6000")


def test_ports_that_would_collide() -> None:
    text = (
        BASE + '[osc]\nserver_ip = "0.0.0.0"\nserver_port = 4002\nclient_ip = "127.0.0.1"\n'
        "client_port = 6001\n"
    )
    assert one_error(text) == (
        "config.toml: webui.command_port: expected a port no other channel uses; found 4002, "
        "which osc.server_port already uses"
    )
    assert one_error(BASE + "[webui]\nmonitor_port = 5000\ncommand_port = 5000\n") == (
        "config.toml: webui.command_port: expected a port no other channel uses; found 5000, "
        "which webui.monitor_port already uses"
    )


# ---- Missing keys ------------------------------------------------------------------------------


def test_missing_required_keys_say_what_to_add() -> None:
    text = BASE.replace("threshold = 0.1\n", "").replace("sigmatemp = 0.01\n", "")
    assert errors(text) == [
        "config.toml: interaction.threshold: required key is missing; add `threshold = 0.1` to [interaction]",
        "config.toml: model.sigmatemp: required key is missing; add `sigmatemp = 0.5` to [model]",
    ]


def test_missing_key_next_to_a_misspelling() -> None:
    text = BASE.replace("threshold", "treshold")
    config, problems = parse(text)
    assert config is None
    assert problems == [
        "config.toml: interaction.treshold: unknown key, ignored; did you mean `threshold`?",
        "config.toml: interaction.threshold: required key is missing; add `threshold = 0.1` to "
        "[interaction] (is `treshold` a misspelling of it?)",
    ]


def test_missing_required_tables() -> None:
    assert errors("verbose = true\n") == [
        "config.toml: interaction: required table is missing; add [interaction] with "
        '`mode = "callresponse"`, `threshold = 0.1`',
        "config.toml: model: required table is missing; add [model] with "
        "`dimension = 9`, `sigmatemp = 0.5`, `pitemp = 1`, `timescale = 1`",
    ]


def test_missing_osc_keys() -> None:
    assert errors(BASE + '[osc]\nserver_ip = "0.0.0.0"\n') == [
        "config.toml: osc.server_port: required key is missing; add `server_port = 6000` to [osc]",
        'config.toml: osc.client_ip: required key is missing; add `client_ip = "127.0.0.1"` to [osc]',
        "config.toml: osc.client_port: required key is missing; add `client_port = 6001` to [osc]",
    ]


# ---- Unknown keys ------------------------------------------------------------------------------


def test_unknown_keys_warn_with_suggestions() -> None:
    text = "verbos = true\nfoo = 1\n" + BASE + "\n[websockets]\nserver_port = 1\n"
    assert warnings(text) == [
        "config.toml: verbos: unknown key, ignored; did you mean `verbose`?",
        "config.toml: foo: unknown key, ignored",
        "config.toml: websockets: unknown table, ignored; did you mean `websocket`?",
    ]


def test_top_level_key_written_under_a_section() -> None:
    assert warnings(BASE + "verbose = true\n") == [
        "config.toml: model.verbose: unknown key in [model], ignored; `verbose` is a top-level "
        "key: move it above the first [section] header"
    ]


# ---- TOML syntax, files ------------------------------------------------------------------------


def test_toml_syntax_error_gives_the_line() -> None:
    config, problems = parse_config(BASE.replace('"callresponse"', "callresponse"))
    assert config is None
    assert [(p.line, p.severity) for p in problems] == [(2, "error")]
    assert str(problems[0]) == (
        "config.toml:2: TOML syntax error: invalid value at column 8 (if it is text, put it in "
        'double quotes: mode = "callresponse")'
    )
    assert str(parse_config("[model\n", "x.toml")[1][0]) == (
        "x.toml:1: TOML syntax error: expected ']' at the end of a table declaration at column 7"
    )
    assert str(parse_config("a = [1,\n")[1][0]) == (
        "config.toml:1: TOML syntax error: invalid value at the end of the file"
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: no such file; create a starter config with `impsy init`"
    assert [p.severity for p in check_config(path)] == ["error"]


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "latin1.toml").write_bytes(b'title = "caf\xe9"\n')
    assert str(check_config(tmp_path / "latin1.toml")[0]) == (
        f"{tmp_path / 'latin1.toml'}: cannot read the file: it is not UTF-8 text"
    )
    assert str(check_config(tmp_path)[0]) == f"{tmp_path}: cannot read the file: Is a directory"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_text("\ufeff" + BASE, encoding="utf-8")
    assert load_config(path).model.dimension == 3


def test_every_problem_is_reported_at_once() -> None:
    text = (
        BASE.replace('"callresponse"', '"loud"').replace("dimension = 3", "dimension = 0")
        + '[serial]\nport = "/dev/ttyACM0"\nbaudrate = "fast"\n'
    )
    assert errors(text) == [
        "config.toml: interaction.mode: expected one of callresponse, polyphony, battle, "
        "useronly; found 'loud'",
        "config.toml: model.dimension: expected an integer from 2 to 64; found 0",
        "config.toml: serial.baudrate: expected an integer from 50 to 4000000; found 'fast'",
    ]


# ---- Mappings ----------------------------------------------------------------------------------

MIDI = (
    BASE
    + """
[midi]
in_device = ["S-1"]
out_device = ["S-1"]
input."S-1" = [{entries}]
output."S-1" = [["note_on", 1], ["note_on", 2]]
"""
)


def midi_error(entries: str) -> str:
    return one_error(MIDI.format(entries=entries))


def test_mapping_length_must_be_dimension_minus_one() -> None:
    assert midi_error('["note_on", 1]') == (
        'config.toml: midi.input."S-1": expected 2 entries, one per control (model.dimension 3 '
        "minus 1); found 1"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('["note_on", 0]', "channel: expected an integer from 1 to 16; found 0"),
        ('["note_on", 17]', "channel: expected an integer from 1 to 16; found 17"),
        ('["note_on", 1.0]', "channel: expected an integer from 1 to 16; found 1.0"),
        ('["note_on", "1"]', "channel: expected an integer from 1 to 16; found '1'"),
        ('["note_on", 1, 0]', "velocity: expected an integer from 1 to 127; found 0"),
        (
            '["note_on", 1, 60, 1]',
            'expected ["note_on", channel] or ["note_on", channel, velocity]; found [\'note_on\', 1, 60, 1]',
        ),
        ('["note_velocity"]', "expected [\"note_velocity\", channel]; found ['note_velocity']"),
        ('["pitch_bend", 99]', "channel: expected an integer from 1 to 16; found 99"),
        (
            '["control_change", 1]',
            'expected ["control_change", channel, controller] or ["control_change", channel, '
            "controller, min, max]; found ['control_change', 1]",
        ),
        ('["control_change", 1, 128]', "controller: expected an integer from 0 to 127; found 128"),
        ('["control_change", 1, 7, 0, 200]', "max: expected an integer from 0 to 127; found 200"),
        (
            '["note_off", 1]',
            "expected a message kind, one of note_on, note_velocity, control_change, pitch_bend; "
            "found 'note_off'; did you mean `note_on`?",
        ),
        (
            '"note_on"',
            'expected a mapping entry such as ["note_on", 1] or ["control_change", 1, 74]; found \'note_on\'',
        ),
        (
            "[]",
            'expected a mapping entry such as ["note_on", 1] or ["control_change", 1, 74]; found []',
        ),
    ],
)
def test_bad_mapping_entries(entry: str, message: str) -> None:
    assert midi_error(f'["note_on", 1], {entry}') == (f'config.toml: midi.input."S-1"[1]: {message}')


def test_the_originals_longer_entries_load():
    # A fixed velocity, a range run backwards (a fader that turns the sound down), a pinned CC.
    text = BASE.replace("dimension = 3", "dimension = 4") + (
        '[midi]\nin_device = ["S-1"]\nout_device = ["S-1"]\n'
        'input."S-1" = [["note_on", 1], ["note_on", 2], ["note_on", 3]]\n'
        'output."S-1" = [["note_on", 1, 100], ["control_change", 1, 74, 127, 0],\n'
        '  ["control_change", 1, 7, 64, 64]]\n'
    )
    config, problems = parse_config(text)
    assert config is not None, format_problems(problems)
    assert config.midi.output["S-1"] == (
        MappingEntry("note_on", 0, velocity=100),
        MappingEntry("control_change", 0, 74, 127, 0),
        MappingEntry("control_change", 0, 7, 64, 64),
    )


def test_every_bad_entry_is_reported() -> None:
    assert errors(MIDI.format(entries='["note_on", 0], ["control_change", 0, 300]')) == [
        'config.toml: midi.input."S-1"[0]: channel: expected an integer from 1 to 16; found 0',
        'config.toml: midi.input."S-1"[1]: channel: expected an integer from 1 to 16; found 0',
        'config.toml: midi.input."S-1"[1]: controller: expected an integer from 0 to 127; found 300',
    ]


def test_mapping_that_is_not_a_list() -> None:
    text = (
        BASE + '[websocket]\nserver_ip = "0.0.0.0"\nserver_port = 5001\ninput = 3\n'
        'output = [["note_on", 1], ["note_on", 2]]\n'
    )
    assert one_error(text) == (
        'config.toml: websocket.input: expected a list of mapping entries such as [["note_on", 1] '
        'or ["control_change", 1, 74]]; found 3'
    )


def test_websocket_needs_both_mappings() -> None:
    text = (
        BASE + '[websocket]\nserver_ip = "0.0.0.0"\nserver_port = 5001\n'
        'input = [["note_on", 1], ["note_on", 2]]\n'
    )
    assert one_error(text) == (
        "config.toml: websocket.output: required key is missing; add `output = [...]` to "
        "[websocket], with one entry per control"
    )


def test_every_midi_device_needs_a_mapping() -> None:
    text = (
        BASE
        + """
[midi]
in_device = ["S-1", "QuNeo"]
out_device = []
input."S-1" = [["note_on", 1], ["note_on", 2]]
input."Quneo" = [["note_on", 1], ["note_on", 2]]
"""
    )
    config, problems = parse(text)
    assert config is None
    assert problems == [
        'config.toml: midi.input."Quneo": midi.in_device has no device named "Quneo", so this '
        "mapping is not used; did you mean `QuNeo`?",
        'config.toml: midi.input."QuNeo": every device in midi.in_device needs a mapping; add '
        '`input."QuNeo" = [...]` to [midi]',
    ]


def test_thru_matrix_names_are_checked() -> None:
    text = MIDI.format(entries='["note_on", 1], ["note_on", 2]') + 'thru_matrix."S1" = ["S-1", "Synth"]\n'
    assert warnings(text) == [
        'config.toml: midi.thru_matrix."S1": midi.in_device has no device named "S1", so this '
        "route is not used; did you mean `S-1`?",
        'config.toml: midi.thru_matrix."S1": midi.out_device has no device named "Synth", so '
        "nothing is sent to it",
    ]
    assert one_error(MIDI.format(entries='["note_on", 1], ["note_on", 2]') + 'thru_matrix."S-1" = [1]\n') == (
        'config.toml: midi.thru_matrix."S-1": expected a list of port names of at most 255 characters, '
        'such as ["S-1"]; found [1]'
    )


def test_midi_without_devices_warns() -> None:
    assert warnings(BASE + "[midi]\n") == [
        "config.toml: midi: no devices in in_device or out_device, so [midi] does nothing"
    ]


# ---- GPIO --------------------------------------------------------------------------------------


def gpio(body: str) -> str:
    return BASE + "[gpio]\n" + body


def test_gpio_duplicate_pin() -> None:
    assert one_error(gpio('[gpio.buttons]\nmode = 17\n[gpio.leds]\nplaying = "BOARD11"\n')) == (
        "config.toml: gpio.leds.playing: expected a pin of its own; found 'BOARD11', which "
        "gpio.buttons.mode already uses (GPIO17)"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "[gpio.buttons]\nstop = 17\n",
            "gpio.buttons.stop: expected a command, one of mode, pause, reset; found 'stop'",
        ),
        (
            "[gpio.leds]\nblink = 17\n",
            "gpio.leds.blink: expected an activity, one of input, output, playing; found 'blink'",
        ),
        (
            "[gpio.buttons]\nmode = 28\n",
            'gpio.buttons.mode: expected a GPIO number from 0 to 27 or a pin name such as "GPIO17" or '
            '"BOARD11"; found 28',
        ),
        (
            '[gpio.buttons]\nmode = "BOARD1"\n',
            'gpio.buttons.mode: expected a GPIO number from 0 to 27 or a pin name such as "GPIO17" or '
            "\"BOARD11\"; found 'BOARD1'",
        ),
        (
            'pin_factory = "wiringpi"\n',
            "gpio.pin_factory: expected one of lgpio, rpigpio, pigpio, native, mock; found 'wiringpi'",
        ),
        (
            "buttons = 17\n",
            "gpio.buttons: expected a table of command = pin, such as mode = 17; found 17",
        ),
    ],
)
def test_gpio_errors(body: str, message: str) -> None:
    assert one_error(gpio(body)) == f"config.toml: {message}"


def test_gpio_pin_names() -> None:
    config, _ = parse_config(gpio('[gpio.buttons]\nmode = "gpio4"\npause = "J8:40"\n'))
    assert config.gpio == GpioConfig(buttons={"mode": "GPIO4", "pause": "J8:40"})


# ---- Problems ----------------------------------------------------------------------------------


def test_problem_and_error_formatting() -> None:
    warning = Problem("c.toml", "foo", "unknown key, ignored", "warning")
    error = Problem("c.toml", "", "TOML syntax error: oops", "error", line=4)
    assert str(error) == "c.toml:4: TOML syntax error: oops"
    assert format_problems([warning, error]) == (
        "c.toml:4: TOML syntax error: oops\nwarning: c.toml: foo: unknown key, ignored"
    )
    assert str(ConfigError([warning, error])) == "c.toml:4: TOML syntax error: oops"
    assert ConfigError([warning, error]).problems == [warning, error]


# ---- Overrides ---------------------------------------------------------------------------------


def overrides(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_override_arguments(parser)
    return parser.parse_args(argv)


def test_no_overrides_leave_the_config_alone() -> None:
    config = load_config(FIXTURES / "quickstart.toml")
    args = overrides()
    assert all(value is None for value in vars(args).values())
    assert apply_overrides(config, args) == config


def test_overrides_are_applied() -> None:
    config = load_config(FIXTURES / "quickstart.toml")
    changed = apply_overrides(
        config,
        overrides(
            "--mode",
            "battle",
            "--threshold",
            "2",
            "--input-thru",
            "--sigma-temp",
            "0.05",
            "--pi-temp",
            "2",
            "--timescale",
            "0.5",
            "--quiet",
            "--no-log-input",
            "--no-log-predictions",
            "--dimension",
            "4",
        ),
    )
    assert changed.interaction == dataclasses.replace(
        config.interaction, mode="battle", threshold=2.0, input_thru=True
    )
    assert changed.model == dataclasses.replace(
        config.model, dimension=4, sigmatemp=0.05, pitemp=2.0, timescale=0.5
    )
    assert (changed.verbose, changed.log_input, changed.log_predictions) == (False, False, False)
    assert config.interaction.mode == "callresponse"  # the original is untouched
    assert apply_overrides(config, overrides("--no-input-thru", "--verbose")).verbose is True


def test_verbose_and_quiet_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        overrides("--verbose", "--quiet")
    assert "not allowed with argument --verbose" in capsys.readouterr().err


def test_bad_override_values_name_the_option() -> None:
    config = load_config(FIXTURES / "quickstart.toml")
    with pytest.raises(ConfigError) as caught:
        apply_overrides(config, overrides("--threshold", "-1", "--mode", "loud", "--timescale", "0"))
    assert str(caught.value).splitlines() == [
        "--mode: expected one of callresponse, polyphony, battle, useronly; found 'loud'",
        "--threshold: expected a number from 0 to 60; found -1.0",
        "--timescale: expected a number from 0.001 to 100; found 0.0",
    ]


def test_dimension_override_must_fit_the_mappings() -> None:
    config = load_config(FIXTURES / "midi-s1-quneo.toml")
    assert apply_overrides(config, overrides("--dimension", "5")).model.dimension == 5
    with pytest.raises(ConfigError) as caught:
        apply_overrides(config, overrides("--dimension", "9"))
    assert str(caught.value).splitlines() == [
        '--dimension: expected 5, as midi.input."QuNeo" has 4 entries; found 9',
        '--dimension: expected 5, as midi.input."S-1" has 4 entries; found 9',
        '--dimension: expected 5, as midi.output."S-1" has 4 entries; found 9',
    ]
    with pytest.raises(ConfigError, match=r"^--dimension: expected an integer from 2 to 64; found 1$"):
        apply_overrides(config, overrides("--dimension", "1"))


# ---- Robustness --------------------------------------------------------------------------------


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


SCALARS = st.one_of(st.booleans(), st.integers(-(10**6), 10**6), st.floats(), st.text(max_size=8))
VALUES = st.one_of(SCALARS, st.lists(st.one_of(SCALARS, st.lists(SCALARS, max_size=5)), max_size=5))
KEYS = [
    "mode",
    "threshold",
    "input_thru",
    "dimension",
    "size",
    "sigmatemp",
    "server_port",
    "client_ip",
    "in_device",
    "input",
    "port",
    "baudrate",
    "mode",
    "channel",
    "extra",
]
SECTIONS = [
    "interaction",
    "model",
    "midi",
    "osc",
    "websocket",
    "serial",
    "serialmidi",
    "webui",
    "gpio",
    "gpio.buttons",
    "gpio.leds",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SECTIONS), st.sampled_from(KEYS), VALUES), max_size=8))
def test_parse_config_never_raises(assignments: list[tuple[str, str, object]]) -> None:
    tables: dict[str, dict[str, object]] = {
        "interaction": {"mode": "callresponse", "threshold": 0.1},
        "model": {"dimension": 3, "sigmatemp": 0.01, "pitemp": 1, "timescale": 1},
    }
    for section, key, value in assignments:
        tables.setdefault(section, {})[key] = value
    text = "".join(
        f"[{section}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in body.items())
        for section, body in tables.items()
    )
    config, problems = parse_config(text)
    assert (config is None) == any(p.severity == "error" for p in problems)
    assert all(str(p).startswith("config.toml") for p in problems)


@pytest.mark.parametrize(
    ("section", "line", "said"),
    [
        ("interaction", 'mode = "callresponce"', "found 'callresponce'; did you mean `callresponse`?"),
        ("interaction", 'mode = "Polyphony"', "found 'Polyphony'; did you mean `polyphony`?"),
        ("model", 'size = "S"', "found 'S'; did you mean `s`?"),
    ],
)
def test_a_misspelt_value_gets_a_did_you_mean(section, line, said):
    text = (
        '[interaction]\nmode = "callresponse"\nthreshold = 0.1\n'
        "[model]\ndimension = 3\nsigmatemp = 0.01\npitemp = 1\ntimescale = 1\n"
    )
    key = line.split(" =")[0]
    text = text.replace(f'{key} = "callresponse"\n', "") if section == "interaction" else text
    text = text.replace(f"[{section}]\n", f"[{section}]\n{line}\n")
    _, problems = parse_config(text)
    options = "callresponse, polyphony, battle, useronly" if key == "mode" else "xxs, xs, s, m, l, xl"
    found = [p.message for p in problems if p.key == f"{section}.{key}"]
    assert found == [f"expected one of {options}; {said}"]
