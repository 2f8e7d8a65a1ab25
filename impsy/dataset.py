"""Logs -> dataset of performances, stored without pickle so that loading one cannot run code.

A dataset is a list of performances (one per log), each a run of events ``[dt, x1..xn]``
where dt is the time in seconds since the performer's previous event; the first event of a
performance has dt = 0. Real logs hold pauses of minutes: the performer resting, not
playing. One such dt, scaled by 10, dominates a Gaussian mixture's loss and teaches the
model to go silent for minutes, so every dt is capped at ``max_gap`` seconds (and a clock
that jumped backwards gives dt = 0). docs/datasets.md has the figures behind this choice.

File: a ``.npz`` holding plain arrays only: ``events`` float32 [N, D], ``starts`` int64 [P]
(the first row of each performance), ``sources`` (log file names, one per performance) and
``meta`` (a JSON string). ``np.load(..., allow_pickle=False)`` reads it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from impsy.logs import find_logs, log_dimension, read_log

log = logging.getLogger(__name__)

FORMAT = "impsy-dataset-1"
DEFAULT_MAX_GAP = 5.0  # seconds; see the module docstring and docs/datasets.md for the figures
Progress = Callable[[int, int, Path], None]  # (logs done, logs in all, the log just read)


class DatasetError(Exception):
    """A dataset file cannot be read; the message names the file and the fault."""


def dataset_filename(dimension: int) -> str:
    """The original IMPSY dataset name for a dimension."""
    return f"training-dataset-{dimension}d.npz"


@dataclass
class Dataset:
    """Performances of one dimension, as one array of events and the start row of each."""

    dimension: int
    events: np.ndarray
    starts: np.ndarray
    sources: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.events = np.asarray(self.events, dtype=np.float32).reshape(-1, self.dimension)
        self.starts = np.asarray(self.starts, dtype=np.int64).reshape(-1)

    def performances(self) -> list[np.ndarray]:
        """Each performance as its own [n, D] array (views into ``events``)."""
        return np.split(self.events, self.starts[1:]) if len(self.starts) else []

    @property
    def duration(self) -> float:
        """Seconds of playing: the sum of all dts (each pause counted as at most max_gap)."""
        return float(self.events[:, 0].sum()) if len(self.events) else 0.0

    def summary(self) -> str:
        minutes, seconds = divmod(round(self.duration), 60)
        return (
            f"{len(self.starts)} performances, {len(self.events):,} events, "
            f"{minutes} min {seconds:02d} s of playing"
        )

    def save(self, path: str | Path) -> Path:
        """Write the dataset (compressed, pickle-free)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "dimension": self.dimension, **self.meta}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            events=self.events,
            starts=self.starts,
            sources=np.array(self.sources, dtype=np.str_),
            meta=np.array(json.dumps(meta)),
        )
        tmp.replace(path)  # readers never see a half-written dataset
        return path


def max_gap_argument(text: str) -> float:
    """--max-gap on a command line: a number of seconds above 0 (argparse's type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, found {text!r}")
    return value


def event_dt(times: np.ndarray, max_gap: float = DEFAULT_MAX_GAP) -> np.ndarray:
    """dt for each event of a performance: 0 first, then the time since the last, in [0, max_gap]."""
    if len(times) == 0:
        return np.zeros(0)
    return np.clip(np.diff(times, prepend=times[0]), 0.0, max_gap)


@dataclass
class BuildReport:
    """What building a dataset read and dropped, for the user."""

    files: int = 0
    rows: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


def build_dataset(
    log_dir: str | Path, dimension: int, max_gap: float = DEFAULT_MAX_GAP, progress: Progress | None = None
) -> tuple[Dataset, BuildReport]:
    """Collect the performer's events from every log of one dimension in a folder."""
    return build_from_logs(find_logs(log_dir, dimension), dimension, max_gap, progress)


def build_from_logs(
    paths: Iterable[Path], dimension: int, max_gap: float = DEFAULT_MAX_GAP, progress: Progress | None = None
) -> tuple[Dataset, BuildReport]:
    """Collect the performer's events from these logs, one performance per log."""
    paths = list(paths)
    report = BuildReport()
    events, starts, sources = [], [], []
    offset = 0
    for done, path in enumerate(paths, start=1):
        read = read_log(path, dimension)
        report.files += 1
        report.rows += read.rows
        report.skipped += read.skipped
        report.problems += read.problems[: max(0, 10 - len(report.problems))]
        if read.events:
            events.append(np.column_stack([event_dt(read.times, max_gap), read.controls]).astype(np.float32))
            starts.append(offset)
            sources.append(path.name)
            offset += read.events
        if progress:
            progress(done, len(paths), path)
    dataset = Dataset(
        dimension=dimension,
        events=np.concatenate(events) if events else np.zeros((0, dimension), np.float32),
        starts=np.array(starts, dtype=np.int64),
        sources=sources,
        meta={"max_gap": max_gap, "created": datetime.now().isoformat(timespec="seconds")},
    )
    return dataset, report


def load_dataset(path: str | Path, allow_pickle: bool = False) -> Dataset:
    """Read a dataset file; an original IMPSY (pickled) dataset only with allow_pickle=True."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if "perfs" in keys:
                return _load_original(path, allow_pickle)
            missing = {"events", "starts", "meta"} - keys
            if missing:
                raise DatasetError(f"{path}: not an IMPSY dataset (missing {', '.join(sorted(missing))})")
            meta = json.loads(str(data["meta"]))
            events, starts = data["events"], data["starts"]
            sources = [str(s) for s in data["sources"]] if "sources" in keys else []
    except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as error:
        raise DatasetError(f"{path}: cannot read dataset ({error})") from error
    dimension = meta.get("dimension") if isinstance(meta, dict) else None
    if not isinstance(dimension, int) or dimension < 2:
        raise DatasetError(f"{path}: meta.dimension must be an integer >= 2, found {dimension!r}")
    _check_arrays(path, dimension, events, starts)
    meta = {k: v for k, v in meta.items() if k not in ("format", "dimension")}
    return Dataset(dimension, events, starts, sources, meta)


def _check_arrays(path: Path, dimension: int, events: np.ndarray, starts: np.ndarray) -> None:
    if events.dtype.kind != "f" or events.ndim != 2 or events.shape[1] != dimension:
        raise DatasetError(
            f"{path}: events must be floats of shape [n, {dimension}], found {events.dtype} {events.shape}"
        )
    if not np.isfinite(events).all():
        raise DatasetError(f"{path}: events contain NaN or infinite values")
    if starts.dtype.kind not in "iu" or starts.ndim != 1:
        raise DatasetError(f"{path}: starts must be a 1-d integer array")
    if len(events) and (
        len(starts) == 0 or starts[0] != 0 or np.any(np.diff(starts) <= 0) or starts[-1] >= len(events)
    ):
        raise DatasetError(f"{path}: starts must rise from 0 and stay below {len(events)}")


def _load_original(path: Path, allow_pickle: bool) -> Dataset:
    """An original IMPSY dataset: ``perfs``, an object array of [n, D] arrays (pickled)."""
    if not allow_pickle:
        raise DatasetError(
            f"{path}: this is an original IMPSY dataset, stored with pickle, and loading it could run "
            "code hidden in the file. If you made it yourself, allow it with --allow-pickle; "
            "otherwise rebuild it from the logs with `impsy dataset`"
        )
    with np.load(path, allow_pickle=True) as data:
        perfs = [np.asarray(p, dtype=np.float32) for p in data["perfs"]]
    if not perfs or any(p.ndim != 2 for p in perfs) or len({p.shape[1] for p in perfs}) != 1:
        raise DatasetError(f"{path}: perfs must be [n, D] arrays of one dimension D")
    # Original datasets kept long pauses: cap them as logs are capped.
    perfs = [p for p in perfs if len(p)]
    events = np.concatenate(perfs)
    events[:, 0] = np.clip(events[:, 0], 0.0, DEFAULT_MAX_GAP)
    starts = np.cumsum([0, *(len(p) for p in perfs[:-1])])
    _check_arrays(path, events.shape[1], events, starts)
    names = [f"{path.name} #{i + 1}" for i in range(len(starts))]
    return Dataset(events.shape[1], events, starts, names, {"original": True})


def dimensions_in(log_dir: str | Path) -> list[int]:
    """The dimensions for which a folder holds logs."""
    return sorted({d for p in find_logs(log_dir) if (d := log_dimension(p)) is not None})
