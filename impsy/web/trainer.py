"""Where `impsy-train` runs for the web UI: beside `impsy run`, at the lowest priority, capped.

Two ways, chosen by the web UI's settings (`impsy webui --train-unit`):

- `ChildTrainer` (a laptop): a child process through `impsy.web.lowpriority` (nice 19, idle
  I/O, RLIMIT_DATA). Past the cap an allocation fails and impsy-train exits with its
  out-of-memory code.
- `UnitTrainer` (the appliance): systemd's `impsy-train.service` (Nice=19, idle I/O,
  MemoryMax=300M), started and signalled over D-Bus with `systemctl` as the web UI's own user
  (the polkit rule allows group impsy). Its arguments go through a file, one a line
  (`impsy-train @FILE`), and it appends its output to a file that is followed here. Past the
  cap the kernel kills it and systemd reports the result `oom-kill`.

Either way a run gives its output lines as they come, can be interrupted (SIGINT: impsy-train
stops after the current batch and saves the best epoch), and ends with an `Outcome`.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from impsy.web.lowpriority import lowpriority_command

MEMORY_CAP_MB = 300  # a Zero 2 W has 512 MB, with `impsy run` and the web UI beside training
OUT_OF_MEMORY_EXIT = 3  # impsy-train's exit code after a MemoryError
# What running out of memory under an rlimit looks like when impsy-train cannot say it itself.
OUT_OF_MEMORY_SIGNS = re.compile(r"MemoryError|OpenBLAS error: Memory allocation|Cannot allocate memory")
TRAINER_ENV = {
    "PYTHONUNBUFFERED": "1",
    # impsy-train uses one BLAS thread; without this OpenBLAS reserves buffers for every core.
    "OPENBLAS_NUM_THREADS": "1",
}
UNIT_POLL = 0.5  # seconds between looks at the unit while its output is quiet
SYSTEMCTL_TIMEOUT = 60.0


class TrainerError(Exception):
    """impsy-train could not be started; the message says why and what to do."""


@dataclass
class Outcome:
    """How a run ended: impsy-train's exit code (negative: killed by that signal), and whether
    it was stopped for needing more memory than its cap."""

    code: int
    out_of_memory: bool = False
    cap_mb: int = MEMORY_CAP_MB


class TrainerRun(Protocol):
    def lines(self) -> Iterator[str]:
        """impsy-train's output, line by line, until it ends."""
        ...

    def interrupt(self) -> bool:
        """Ask it to stop and keep the best epoch; False if it is not running."""
        ...

    def outcome(self) -> Outcome:
        """How it ended (call after lines() is exhausted)."""
        ...


class Trainer(Protocol):
    def start(self, arguments: list[str], cwd: Path) -> TrainerRun:
        """Start `impsy-train ARGUMENTS`; TrainerError if it cannot be."""
        ...


# ---- a child process (a laptop) -------------------------------------------------------------------


@dataclass
class ChildTrainer:
    """impsy-train as a child process of the web UI, at nice 19 and idle I/O with a memory cap."""

    program: list[str] = field(default_factory=lambda: [sys.executable, "-m", "impsy_train.cli"])
    memory_mb: int = MEMORY_CAP_MB

    def command(self, arguments: list[str]) -> list[str]:
        command = [*self.program, *arguments]
        if os.name != "posix":  # no nice, rlimits or exec on Windows: run it as it is
            return command
        return lowpriority_command(command, self.memory_mb)

    def start(self, arguments: list[str], cwd: Path) -> ChildRun:
        try:
            process = subprocess.Popen(
                self.command(arguments),
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                env={**os.environ, **TRAINER_ENV},
            )
        except OSError as error:
            raise TrainerError(f"impsy-train could not be started: {error}") from None
        return ChildRun(process, self.memory_mb)


class ChildRun:
    def __init__(self, process: subprocess.Popen, cap_mb: int) -> None:
        self.process = process
        self.cap_mb = cap_mb
        self._memory_said = False

    def lines(self) -> Iterator[str]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._memory_said |= bool(OUT_OF_MEMORY_SIGNS.search(line))
            yield line.rstrip("\n")

    def interrupt(self) -> bool:
        if self.process.poll() is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        return True

    def outcome(self) -> Outcome:
        code = self.process.wait()
        memory = code == OUT_OF_MEMORY_EXIT or (code != 0 and self._memory_said)
        return Outcome(code, memory, self.cap_mb)


# ---- a systemd unit (the appliance) ---------------------------------------------------------------


@dataclass
class UnitTrainer:
    """impsy-train as systemd's `unit`, reading its arguments from `args_file` (one a line) and
    appending its output to `output_file`; both paths are fixed in the unit file."""

    unit: str
    args_file: Path
    output_file: Path
    systemctl: list[str] = field(default_factory=lambda: ["systemctl", "--no-ask-password"])

    def _systemctl(self, *arguments: str) -> subprocess.CompletedProcess:
        command = [*self.systemctl, *arguments]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return subprocess.CompletedProcess(command, 1, "", str(error))

    def show(self, *properties: str) -> dict[str, str]:
        """Properties of the unit, as `systemctl show` gives them (empty if it cannot be asked)."""
        done = self._systemctl("show", self.unit, *(f"--property={p}" for p in properties))
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

    def start(self, arguments: list[str], cwd: Path) -> UnitRun:
        state = self.show("ActiveState").get("ActiveState", "")
        if state in ("active", "activating", "deactivating", "reloading"):
            raise TrainerError(
                f"{self.unit} is running already (started before the web UI restarted?): wait for "
                f"it, or stop it with `sudo systemctl kill -s INT {self.unit}`"
            )
        if any("\n" in a for a in arguments):
            raise TrainerError("an argument for impsy-train holds a line break: refused")
        self.args_file.parent.mkdir(parents=True, exist_ok=True)
        self.args_file.write_text("".join(a + "\n" for a in arguments))
        # A fresh file of ours: one systemd created (as root) could not be emptied by the web UI.
        self.output_file.unlink(missing_ok=True)
        self.output_file.touch()
        done = self._systemctl("start", self.unit)
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            why_text = why[-1] if why else f"exit code {done.returncode}"
            hint = (
                ": the polkit rule that lets group impsy manage it is missing"
                if "authentication" in why_text.lower() or "access denied" in why_text.lower()
                else ""
            )
            raise TrainerError(f"`systemctl start {self.unit}` failed: {why_text}{hint}")
        return UnitRun(self)


class UnitRun:
    def __init__(self, trainer: UnitTrainer) -> None:
        self.trainer = trainer

    def _running(self) -> bool:
        state = self.trainer.show("ActiveState").get("ActiveState", "")
        return state in ("active", "activating", "deactivating", "reloading")

    def lines(self) -> Iterator[str]:
        with open(self.trainer.output_file, encoding="utf-8", errors="replace") as output:
            partial = ""
            while True:
                chunk = output.read()
                if chunk:
                    partial += chunk
                    *complete, partial = partial.split("\n")
                    yield from complete
                    continue
                if not self._running():
                    partial += output.read()  # what it wrote while we looked
                    yield from (line for line in partial.split("\n") if line)
                    return
                time.sleep(UNIT_POLL)

    def interrupt(self) -> bool:
        if not self._running():
            return False
        return self.trainer._systemctl("kill", "--signal=SIGINT", self.trainer.unit).returncode == 0

    def outcome(self) -> Outcome:
        props = self.trainer.show("Result", "ExecMainCode", "ExecMainStatus", "MemoryMax")
        # A failed unit stays listed by `systemctl --failed` until reset: the page says what failed.
        self.trainer._systemctl("reset-failed", self.trainer.unit)
        status = int(props.get("ExecMainStatus") or 0)
        killed = props.get("ExecMainCode") in ("2", "3", "killed", "dumped")  # CLD_KILLED, CLD_DUMPED
        code = -status if killed else status
        memory = props.get("Result") == "oom-kill" or code == OUT_OF_MEMORY_EXIT
        return Outcome(code, memory, cap_megabytes(props.get("MemoryMax", "")))


def cap_megabytes(memory_max: str) -> int:
    """MemoryMax as `systemctl show` gives it (bytes, or `infinity`) in MB."""
    return int(memory_max) // (1024 * 1024) if memory_max.isdigit() else MEMORY_CAP_MB
