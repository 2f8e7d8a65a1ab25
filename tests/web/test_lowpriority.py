"""Where training runs: the lowest priority and a memory cap, by a trampoline or a systemd unit."""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys

from impsy.web.lowpriority import IOPRIO_CLASS_IDLE, IOPRIO_CLASS_SHIFT, lowpriority_command
from impsy.web.options import build_parser
from impsy.web.paths import Workdir
from impsy.web.server import trainer
from impsy.web.trainer import TRAINER_ENV, ChildTrainer, UnitTrainer, cap_megabytes

IOPRIO_GET = {"x86_64": 252, "aarch64": 31}
REPORT = (
    "import ctypes, os, platform, resource, sys\n"
    "number = {ioprio_get!r}.get(platform.machine())\n"
    "io = ctypes.CDLL(None).syscall(number, 1, 0) if number else -1\n"
    "data = resource.getrlimit(resource.RLIMIT_DATA)[0]\n"
    "print(os.nice(0), data, io, os.environ.get('OPENBLAS_NUM_THREADS'))\n"
)


def test_a_child_trainer_runs_impsy_train_through_the_trampoline():
    command = ChildTrainer(memory_mb=300).command(["train", "-D", "9"])
    assert command == [
        sys.executable, "-m", "impsy.web.lowpriority", "--memory-mb", "300", "--",
        sys.executable, "-m", "impsy_train.cli", "train", "-D", "9",
    ]  # fmt: skip
    assert lowpriority_command(["x"], 12)[-4:] == ["--memory-mb", "12", "--", "x"]


def test_the_trampoline_sets_nice_19_idle_io_and_the_memory_cap(tmp_path):
    """What the trainer's process gets, read back from inside it."""
    script = tmp_path / "report.py"
    script.write_text(REPORT.format(ioprio_get=IOPRIO_GET))
    run = ChildTrainer(program=[sys.executable, str(script)], memory_mb=300).start([], tmp_path)
    nice, data, io, threads = " ".join(run.lines()).split()
    assert run.outcome().code == 0
    assert (int(nice), int(data), threads) == (19, 300 * 1024 * 1024, TRAINER_ENV["OPENBLAS_NUM_THREADS"])
    if platform.machine() in IOPRIO_GET:
        assert int(io) >> IOPRIO_CLASS_SHIFT == IOPRIO_CLASS_IDLE


def test_over_the_cap_an_allocation_fails_instead_of_the_machine_swapping(tmp_path):
    grab = "bytearray(200 * 1024 * 1024)"
    done = subprocess.run(
        lowpriority_command([sys.executable, "-c", grab], 100), capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "MemoryError" in done.stderr


def test_the_trampoline_names_a_command_it_cannot_run():
    done = subprocess.run(
        lowpriority_command(["/nonexistent/impsy-train"], 100), capture_output=True, text=True, check=False
    )
    assert done.returncode == 127
    assert (
        done.stderr.strip() == "impsy: error: cannot run /nonexistent/impsy-train: No such file or directory"
    )


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_the_webui_command_line_chooses_unit_or_child(tmp_path):
    workdir = Workdir.at(tmp_path)
    assert isinstance(trainer(parse(), workdir), ChildTrainer)
    unit = trainer(parse("--train-unit", "impsy-train.service"), workdir)
    assert unit == UnitTrainer(
        "impsy-train.service", workdir.state / "train.args", workdir.state / "train.out"
    )
    assert unit.systemctl == ["systemctl", "--no-ask-password"]


def test_the_unit_s_memory_cap_is_read_from_systemd():
    assert cap_megabytes("314572800") == 300
    assert cap_megabytes("16777216") == 16
    assert cap_megabytes("infinity") == 300  # no cap set: the one the unit ships with
