"""The `impsy` command: init, check, check-config, and friendly errors."""

import subprocess
import sys
import textwrap

import pytest
from conftest import SHIPPED_4D, SHIPPED_9D

from impsy import cli


def impsy(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "impsy", *args], capture_output=True, text=True, cwd=cwd)


def config(tmp_path, model: str = "", dimension: int = 9, size: str = "s", extra: str = ""):
    path = tmp_path / "config.toml"
    path.write_text(
        textwrap.dedent(f"""\
        [interaction]
        mode = "callresponse"
        threshold = 0.1
        [model]
        dimension = {dimension}
        file = "{model}"
        size = "{size}"
        sigmatemp = 0.01
        pitemp = 1
        timescale = 1
        """)
        + extra
    )
    return path


def test_init_makes_a_working_folder(tmp_path):
    run = impsy("init", str(tmp_path / "stage"))
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "stage"
    assert {p.name for p in folder.iterdir()} >= {"logs", "datasets", "models", "config.toml"}
    assert (folder / "models" / SHIPPED_9D.name).read_bytes() == SHIPPED_9D.read_bytes()
    check = impsy("check", "--steps", "50", cwd=folder)
    assert check.returncode == 0, check.stderr
    assert "dimension 9, size s (2 layers of 64 units, 10 mixtures, impsy layout)" in check.stdout
    assert "50 predictions:" in check.stdout and "ms per step" in check.stdout
    again = impsy("init", str(folder))
    assert "kept" in again.stdout and again.returncode == 0


def test_check_config_reports_problems_and_exit_status(tmp_path):
    good = config(tmp_path)
    run = impsy("check-config", str(good))
    assert run.returncode == 0 and run.stdout == f"{good}: OK\n"
    good.write_text(good.read_text().replace('"callresponse"', '"callresponce"') + "colour = 1\n")
    run = impsy("check-config", str(good))
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        f"{good}: interaction.mode: expected one of callresponse, polyphony, battle, useronly; "
        "found 'callresponce'; did you mean `callresponse`?",
        f"warning: {good}: model.colour: unknown key, ignored",
        f"{good}: not valid (1 warning)",
    ]


@pytest.mark.parametrize(
    ("command", "where"), [("train", "`impsy-train train"), ("test-mdrnn", "`impsy check`")]
)
def test_the_original_commands_found_elsewhere_say_where(command, where):
    run = impsy("--debug", command, "--dimension", "9")
    assert run.returncode == 2 and run.stderr.splitlines()[-1].startswith(f"impsy: error: {command}: ")
    assert where in run.stderr


def test_logs_pointing_at_a_file_is_refused_before_playing(tmp_path):
    (tmp_path / "quick.toml").write_text("")
    run = impsy("run", "-c", str(config(tmp_path)), "--logs", "quick.toml", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == (
        "impsy: error: --logs quick.toml: quick.toml is a file; logs go into a folder (default: logs)"
    )
    run = impsy("run", "-c", str(config(tmp_path)), "--logs", "quick.toml/logs", cwd=tmp_path)
    assert run.stderr.splitlines()[-1] == (
        "impsy: error: --logs quick.toml/logs: quick.toml is a file; logs go into a folder (default: logs)"
    )


def test_missing_config_is_one_friendly_line(tmp_path):
    run = impsy("run", cwd=tmp_path)
    assert run.returncode == 1
    expected = "impsy: error: config.toml: no such file; create a starter config with `impsy init`\n"
    assert run.stderr == expected


def test_debug_shows_the_traceback(tmp_path):
    run = impsy("--debug", "run", cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" in run.stderr


def test_size_mismatch_warns_and_the_file_wins(tmp_path, caplog):
    args = cli.build_parser().parse_args(["check", "-c", str(config(tmp_path, SHIPPED_9D, size="m"))])
    _, model = cli.prepare(args)
    assert model.info.size == "s"
    assert "model.size is 'm' but" in caplog.text and "the file wins" in caplog.text


def test_dimension_mismatch_warns_without_mappings(tmp_path, caplog):
    args = cli.build_parser().parse_args(["check", "-c", str(config(tmp_path, SHIPPED_4D, dimension=9))])
    _, model = cli.prepare(args)
    assert model.dimension == 4
    assert "model.dimension is 9 but" in caplog.text and "using 4" in caplog.text


def test_dimension_mismatch_with_a_mapping_is_an_error(tmp_path):
    mapping = ", ".join(f'["control_change", 1, {cc}]' for cc in range(8))
    extra = (
        f'[websocket]\nserver_ip = "127.0.0.1"\nserver_port = 5001\n'
        f"input = [{mapping}]\noutput = [{mapping}]\n"
    )
    path = config(tmp_path, SHIPPED_4D, dimension=9, extra=extra)
    run = impsy("check", "-c", str(path))
    assert run.returncode == 1
    assert "model.dimension: the model" in run.stderr
    assert "has dimension 4, but the config says 9" in run.stderr


def test_positional_model_overrides_the_config(tmp_path):
    path = config(tmp_path, "", dimension=4)
    args = cli.build_parser().parse_args(["check", str(SHIPPED_4D), "-c", str(path)])
    _, model = cli.prepare(args)
    assert model.info.layout == "impsy" and model.dimension == 4


def test_check_refuses_a_model_file_that_is_not_there(tmp_path):
    run = impsy("check", "--steps", "10", "-c", str(config(tmp_path, "models/none.tflite")), cwd=tmp_path)
    assert run.returncode == 1 and "models/none.tflite: no such file" in run.stderr


def test_check_runs_the_dummy_when_asked_for_it(tmp_path):
    run = impsy("check", "--steps", "10", "-c", str(config(tmp_path, "")), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "dummy (random gestures)" in run.stdout
