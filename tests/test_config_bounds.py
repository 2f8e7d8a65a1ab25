"""Every value that reaches the OS, a resolver or the model is checked at check time: a bad one
is one error naming its own key, never a traceback and never an error about another key; a
model file that is not there, or does not fit the config, is an error."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import SHIPPED_4D, SHIPPED_9D

from impsy.config import ERROR, WARNING, check_config, parse_config

# Every section, each with its own port, and every key a user can get wrong.
FULL = """\
verbose = false
[interaction]
mode = "callresponse"
threshold = 0.1
[model]
dimension = 3
file = ""
sigmatemp = 0.01
pitemp = 1
timescale = 1
[osc]
server_ip = "127.0.0.1"
server_port = 6000
client_ip = "localhost"
client_port = 6001
[websocket]
server_ip = "0.0.0.0"
server_port = 5001
input = [["note_on", 1], ["control_change", 1, 1]]
output = [["note_on", 1], ["control_change", 1, 1]]
[serial]
port = "/dev/ttyACM0"
baudrate = 115200
[serialmidi]
port = "/dev/ttyAMA0"
baudrate = 31250
input = [["note_on", 1], ["control_change", 1, 1]]
output = [["note_on", 1], ["control_change", 1, 1]]
[midi]
in_device = ["KeyStep"]
out_device = ["KeyStep"]
input."KeyStep" = [["note_on", 1], ["control_change", 1, 1]]
output."KeyStep" = [["note_on", 1], ["control_change", 1, 1]]
feedback_threshold = 0.02
[webui]
monitor_port = 4001
command_port = 4002
[gpio]
pin_factory = "mock"
[gpio.buttons]
mode = 17
"""
KEYS = [
    "interaction.threshold", "model.dimension", "model.file", "model.sigmatemp", "model.pitemp",
    "model.timescale", "osc.server_ip", "osc.server_port", "osc.client_ip", "osc.client_port",
    "websocket.server_ip", "websocket.server_port", "serial.port", "serial.baudrate",
    "serialmidi.port", "serialmidi.baudrate", "midi.feedback_threshold", "webui.monitor_port",
    "webui.command_port", "gpio.pin_factory", "gpio.buttons.mode",
]  # fmt: skip
HOSTILE = [
    "", " ", "\u0000", "a\u0000b", "a\nb", "\u001b[2J", "x" * 5000, "a." * 200, "l" * 64 + ".local",
    "bad host!", "-leading", "/dev/../../etc/passwd\u0000", "\u202e", -1, 0, 1e308, -1e308,
    10**30, 2**63, 4.5, True, [], {}, [["x"]], "nan", "inf", "GPIO99", "BOARD1", "J8:0",
]  # fmt: skip
ACCEPTED = {  # values that are fine where they are
    ("interaction.threshold", 0), ("interaction.threshold", 4.5), ("model.sigmatemp", 0),
    ("model.sigmatemp", 4.5), ("model.pitemp", 0), ("model.pitemp", 4.5), ("model.timescale", 4.5),
    ("midi.feedback_threshold", 0), ("gpio.buttons.mode", 0), ("model.file", ""),
    ("osc.client_ip", ""), ("osc.client_ip", " "),  # wildcards: this machine, with a warning
}  # fmt: skip
# Strings that are a fine path (a file may be called anything printable) or host name.
PATHS = {"model.file", "serial.port", "serialmidi.port"}
HOST_NAMES = {"nan", "inf", "GPIO99", "BOARD1"}
PATH_NAMES = {*HOST_NAMES, "a." * 200, "l" * 64 + ".local", "bad host!", "-leading", "J8:0"}
HOSTS = {"osc.server_ip", "osc.client_ip", "websocket.server_ip"}


def accepted(key: str, value: object) -> bool:
    if not isinstance(value, str | int | float):
        return False
    fine_name = (key in PATHS and value in PATH_NAMES) or (key in HOSTS and value in HOST_NAMES)
    return fine_name or (key, value) in ACCEPTED


def with_value(key: str, value: object) -> str:
    *tables, name = key.split(".")
    header = f"[{'.'.join(tables)}]"
    lines, inside = FULL.splitlines(), False
    for i, line in enumerate(lines):
        if line.startswith("["):
            inside = line == header
        elif inside and line.split(" = ")[0] == name:
            lines[i] = f"{name} = {toml_value(value)}"
            return "\n".join(lines) + "\n"
    raise AssertionError(f"{key} is not in FULL")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        escaped = (c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in value)
        return '"' + "".join(escaped) + '"'
    if isinstance(value, float) and abs(value) > 1e300:
        return repr(value)
    if isinstance(value, list | dict):
        return "[]" if value == [] else "{}" if value == {} else '[["x"]]'
    return str(value)


def test_the_full_config_is_fine():
    config, problems = parse_config(FULL)
    assert config is not None and [p for p in problems if p.severity == ERROR] == []


@pytest.mark.parametrize("key", KEYS)
def test_a_hostile_value_is_one_error_naming_its_own_key(key):
    for value in HOSTILE:
        text = with_value(key, value)
        tomllib.loads(text)  # the test's own TOML is valid
        config, problems = parse_config(text)  # never raises
        errors = [p for p in problems if p.severity == ERROR]
        if accepted(key, value):
            assert errors == [], (value, errors)
            continue
        assert config is None and errors, f"{key} = {value!r} was accepted"
        assert {p.key for p in errors} == {key}, (value, [str(p) for p in errors])


# -- the model file ------------------------------------------------------------------------------


def config_file(folder: Path, file: str, dimension: int = 9, size: str = "s") -> Path:
    path = folder / "config.toml"
    path.write_text(
        FULL.replace('file = ""', f"file = {toml_value(file)}\nsize = {toml_value(size)}")
        .replace("dimension = 3", f"dimension = {dimension}")
        .split("[websocket]")[0]
    )
    return path


def only_errors(path: Path) -> list[str]:
    return [str(p) for p in check_config(path) if p.severity == ERROR]


def test_a_model_file_that_is_not_there_is_an_error(tmp_path):
    path = config_file(tmp_path, "models/gone.tflite")
    (error,) = only_errors(path)
    assert error.startswith(f"{path}: model.file: models/gone.tflite: no such file")
    assert 'file = ""' in error  # says how to ask for random gestures on purpose


@pytest.mark.parametrize("content", [b"", b"not a model at all"])
def test_a_model_file_that_cannot_be_run_is_an_error(tmp_path, content):
    (tmp_path / "broken.tflite").write_bytes(content)
    (error,) = only_errors(config_file(tmp_path, "broken.tflite"))
    assert ": model.file: " in error


def test_the_dummy_on_purpose_and_a_real_file_beside_the_config_are_fine(tmp_path):
    assert only_errors(config_file(tmp_path, "")) == []
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / SHIPPED_9D.name).write_bytes(SHIPPED_9D.read_bytes())
    assert only_errors(config_file(tmp_path, f"models/{SHIPPED_9D.name}")) == []


def test_a_dimension_or_size_the_file_does_not_have_is_reported(tmp_path):
    (error,) = only_errors(config_file(tmp_path, str(SHIPPED_4D), dimension=9))
    assert ": model.dimension: expected 4, the dimension of " in error and "found 9" in error
    path = config_file(tmp_path, str(SHIPPED_9D), size="xs")
    (warning,) = [str(p) for p in check_config(path) if p.severity == WARNING]
    assert ": model.size: " in warning and "is s" in warning


def test_check_config_and_run_say_so_from_the_command_line(tmp_path):
    path = config_file(tmp_path, "models/gone.tflite")
    checked = subprocess.run([sys.executable, "-m", "impsy", "check-config", str(path)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert checked.returncode == 1 and "model.file: models/gone.tflite: no such file" in checked.stdout
    assert "not valid" in checked.stdout and "Traceback" not in checked.stdout + checked.stderr
    ran = subprocess.run([sys.executable, "-m", "impsy", "run", "-c", str(path)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ran.returncode == 1 and "no such file" in ran.stderr and "using a random" not in ran.stderr


def test_without_loading_only_that_the_file_is_there_is_checked(tmp_path):
    """For the web UI, which must not run a model file in its own process."""
    from impsy.config import load_config
    from impsy.config.modelfile import model_file_problems

    (tmp_path / "fine.tflite").write_bytes(b"not a model, but there")
    there = load_config(config_file(tmp_path, "fine.tflite"))
    assert model_file_problems(there, tmp_path / "config.toml", load=False) == []
    gone = load_config(config_file(tmp_path, "gone.tflite"))
    (problem,) = model_file_problems(gone, tmp_path / "config.toml", load=False)
    assert problem.key == "model.file" and "no such file" in problem.message
