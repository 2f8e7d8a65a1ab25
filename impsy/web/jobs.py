"""Work that takes a while, done beside the pages: building a dataset, training a model.

A job keeps a list of events (progress, output lines, epochs, the end) that a page follows
through server-sent events; one job of each kind runs at a time.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from impsy.dataset import DEFAULT_MAX_GAP, build_from_logs, dataset_filename
from impsy.logs import find_logs
from impsy.web.paths import MODEL_COMPANIONS, Workdir, unique_name

log = logging.getLogger(__name__)

MAX_EVENTS = 5000
_EPOCH = re.compile(r"^Epoch (\d+)/(\d+)")
_NUMBER = r"([-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf))"
_LOSS = re.compile(rf"(?<![_\w])loss: {_NUMBER}")
_VAL_LOSS = re.compile(rf"val_loss: {_NUMBER}")


class Busy(Exception):
    """A job of this kind is already running."""


class Job:
    """One piece of work and what it has said so far."""

    _ids = itertools.count(1)

    def __init__(self, kind: str, title: str) -> None:
        self.id = str(next(self._ids))
        self.kind = kind
        self.title = title
        self.state = "running"  # running, done, failed, stopped
        self.message = ""
        self.started = time.time()
        self.events: list[dict] = []
        self._seq = 0
        self._cond = threading.Condition()
        self.process: subprocess.Popen | None = None
        self.result: dict = {}

    @property
    def running(self) -> bool:
        return self.state == "running"

    def emit(self, kind: str, **data) -> None:
        with self._cond:
            self._seq += 1
            self.events.append({"seq": self._seq, "type": kind, **data})
            del self.events[:-MAX_EVENTS]
            self._cond.notify_all()

    def finish(self, state: str, message: str, **data) -> None:
        with self._cond:
            self.state, self.message = state, message
            self.result = data
        self.emit("end", state=state, message=message, **data)

    def wait(self, after: int, timeout: float) -> list[dict]:
        """Events after seq `after`, waiting up to `timeout` for one if there are none yet."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after, timeout)
            return [e for e in self.events if e["seq"] > after]

    def summary(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "state": self.state,
            "message": self.message,
            "result": self.result,
        }


class Jobs:
    """The jobs of this web UI process."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._mutex = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self._mutex:
            return self._jobs.get(job_id)

    def current(self, kind: str) -> Job | None:
        """The running job of a kind, else the latest one of that kind."""
        with self._mutex:
            jobs = [j for j in self._jobs.values() if j.kind == kind]
        running = [j for j in jobs if j.running]
        return (running or jobs or [None])[-1]

    def _add(self, job: Job) -> Job:
        with self._mutex:
            if any(j.kind == job.kind and j.running for j in self._jobs.values()):
                raise Busy(f"a {job.kind} job is already running")
            self._jobs[job.id] = job
        return job

    def start(self, job: Job, work: Callable[[Job], None]) -> Job:
        self._add(job)

        def run() -> None:
            try:
                work(job)
            except Exception as error:  # a job's failure is shown on its page, never lost
                log.exception("%s job failed", job.kind)
                job.finish("failed", f"failed: {error}")

        threading.Thread(target=run, name=f"impsy-{job.kind}", daemon=True).start()
        return job


# ---- Building a dataset ---------------------------------------------------------------------------


def build_dataset_job(workdir: Workdir, dimension: int, max_gap: float = DEFAULT_MAX_GAP):
    """The work of building datasets/training-dataset-<D>d.npz, with a progress event per log."""

    def work(job: Job) -> None:
        paths = [p for p in find_logs(workdir.folder("log"), dimension) if workdir.inside(p)]
        if not paths:
            job.finish("failed", f"there are no {dimension}d logs to build from")
            return

        def progress(done: int, total: int, path: Path) -> None:
            job.emit("progress", done=done, total=total, message=f"read {path.name}")

        dataset, report = build_from_logs(paths, dimension, max_gap, progress)
        if not len(dataset.events):
            job.finish("failed", f"the {dimension}d logs hold no performer events")
            return
        target = workdir.folder("dataset") / dataset_filename(dimension)
        replaced = " (it replaces the one built or uploaded before)" if target.exists() else ""
        target = dataset.save(target)
        note = f"; {report.skipped} malformed rows skipped" if report.skipped else ""
        job.finish("done", f"{target.name}{replaced}: {dataset.summary()}{note}", dataset=target.name)

    return work


# ---- Training a model -----------------------------------------------------------------------------


def training_available() -> bool:
    """Is impsy-train installed here (a laptop)? Looked up without importing TensorFlow."""
    import importlib.util

    return importlib.util.find_spec("impsy_train") is not None


def training_command(dataset: Path, dimension: int, size: str, epochs: int, early: bool, out: Path):
    command = [
        sys.executable,
        "-m",
        "impsy_train.cli",
        "train",
        "-D",
        str(dimension),
        "-M",
        size,
        "--epochs",
        str(epochs),
        "--dataset",
        str(dataset),
        "--models",
        str(out),
    ]
    return [*command, "--earlystopping"] if early else command


def parse_training_line(line: str, state: dict) -> dict | None:
    """An epoch event from a line of Keras output (verbose=2), or None; `state` carries the epoch."""
    if match := _EPOCH.match(line.strip()):
        state["epoch"], state["epochs"] = int(match[1]), int(match[2])
        return None
    loss, val = _LOSS.search(line), _VAL_LOSS.search(line)
    if loss and "epoch" in state:
        return {
            "epoch": state["epoch"],
            "epochs": state["epochs"],
            "loss": float(loss[1]),
            "val_loss": float(val[1]) if val else None,
        }
    return None


def training_job(workdir: Workdir, command: list[str], staging: Path):
    """Run `impsy-train train` as a child process, streaming its output and losses.

    It writes into a staging folder; on success the new files move into models/ under names
    that do not overwrite any model already there.
    """

    def work(job: Job) -> None:
        staging.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
        job.emit("line", text="$ impsy-train " + " ".join(command[command.index("train") :]))
        process = subprocess.Popen(
            command,
            cwd=workdir.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=env,
        )
        job.process = process
        state: dict = {}
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            job.emit("line", text=line)
            epoch = parse_training_line(line, state)
            if epoch:
                job.emit("epoch", **epoch)
        code = process.wait()
        stopped = job.result.get("stop_requested", False) or job.state == "stopping"
        models = collect_trained(workdir, staging)
        shutil.rmtree(staging, ignore_errors=True)
        if code == 0 and models:
            how = "stopped early; kept the best epoch so far" if stopped else "finished"
            job.finish("done", f"training {how}: {', '.join(models)} is in models/", models=models)
        elif stopped:
            job.finish("stopped", "training stopped before any epoch ended: no model saved", models=models)
        else:
            job.finish("failed", f"impsy-train stopped with exit code {code}: see its output above")

    return work


def stop_training(job: Job) -> bool:
    """Ask the training to stop (Ctrl-C: Keras keeps the best epoch so far)."""
    if job.process is None or job.process.poll() is not None:
        return False
    job.result["stop_requested"] = True
    with contextlib.suppress(ProcessLookupError):
        job.process.send_signal(signal.SIGINT)
    return True


def collect_trained(workdir: Workdir, staging: Path) -> list[str]:
    """Move trained models (and their .keras, report and plot) from staging into models/."""
    models = workdir.folder("model")
    models.mkdir(parents=True, exist_ok=True)
    moved = []
    for tflite in sorted(staging.glob("*.tflite")):
        stem = tflite.name[: -len(".tflite")]
        name = unique_name(models, tflite.name, ".tflite")
        new_stem = name[: -len(".tflite")]
        for suffix in MODEL_COMPANIONS:
            extra = staging / (stem + suffix)
            if extra.is_file():
                shutil.move(str(extra), models / (new_stem + suffix))
        shutil.move(str(tflite), models / name)
        moved.append(name)
    return moved
