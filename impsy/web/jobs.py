"""Work that takes a while, done beside the pages: building a dataset here, training a model
(training.py).

A job keeps a list of events (progress, output lines, epochs, the end) that a page follows
through server-sent events; one job of each kind runs at a time.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from impsy.dataset import DEFAULT_MAX_GAP, build_from_logs, dataset_filename
from impsy.logs import find_logs
from impsy.web.paths import Workdir

if TYPE_CHECKING:
    from impsy.web.trainer import TrainerRun

log = logging.getLogger(__name__)

MAX_EVENTS = 5000


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
        self.run: TrainerRun | None = None  # a training job's impsy-train, once started
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
