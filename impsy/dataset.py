"""Logs -> dataset of gestures, stored without pickle so that loading one cannot run code.

A dataset is a list of gestures, each a run of events ``[dt, x1..xn]`` where dt is the
time in seconds since the previous event of the same gesture. A log is cut into gestures
wherever the performer paused longer than ``max_gap`` seconds (or the clock jumped back):
a pause of minutes is the performer resting, not playing, and one such dt scaled by 10
dominates a Gaussian mixture's loss. The first event of every gesture has dt = 0.

File: a ``.npz`` holding plain arrays only: ``events`` float32 [N, D], ``starts`` int64 [G]
(the first row of each gesture), ``sources`` (log file names, one per gesture) and
``meta`` (a JSON string). ``np.load(..., allow_pickle=False)`` reads it.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from impsy.logs import find_logs, log_dimension, read_log

log = logging.getLogger(__name__)

FORMAT = "impsy-dataset-1"
DEFAULT_MAX_GAP = 5.0  # seconds; see the module docstring and docs/datasets.md for the figures


class DatasetError(Exception):
    """A dataset file cannot be read; the message names the file and the fault."""


def dataset_filename(dimension: int) -> str:
    """The original IMPSY dataset name for a dimension."""
    return f"training-dataset-{dimension}d.npz"


@dataclass
class Dataset:
    """Gestures of one dimension, as one array of events and the start row of each gesture."""

    dimension: int
    events: np.ndarray
    starts: np.ndarray
    sources: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.events = np.asarray(self.events, dtype=np.float32).reshape(-1, self.dimension)
        self.starts = np.asarray(self.starts, dtype=np.int64).reshape(-1)

    def gestures(self) -> list[np.ndarray]:
        """Each gesture as its own [n, D] array (views into ``events``)."""
        return np.split(self.events, self.starts[1:]) if len(self.starts) else []

    @property
    def logs(self) -> int:
        return len(set(self.sources))

    @property
    def duration(self) -> float:
        """Seconds of playing: the sum of all dts (pauses longer than max_gap excluded)."""
        return float(self.events[:, 0].sum()) if len(self.events) else 0.0

    def summary(self) -> str:
        minutes, seconds = divmod(round(self.duration), 60)
        return (
            f"{self.logs} performances ({len(self.starts)} gestures), {len(self.events):,} events, "
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


def split_gestures(times: np.ndarray, max_gap: float = DEFAULT_MAX_GAP) -> tuple[np.ndarray, np.ndarray]:
    """dt for each event (0 at each gesture's start) and the indices where gestures start."""
    if len(times) == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    dt = np.diff(times, prepend=times[0])
    breaks = (dt > max_gap) | (dt < 0)
    breaks[0] = True
    dt[breaks] = 0.0
    return dt, np.flatnonzero(breaks)


@dataclass
class BuildReport:
    """What building a dataset read and dropped, for the user."""

    files: int = 0
    rows: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


def build_dataset(
    log_dir: str | Path, dimension: int, max_gap: float = DEFAULT_MAX_GAP
) -> tuple[Dataset, BuildReport]:
    """Collect the performer's events from every log of one dimension into gestures."""
    report = BuildReport()
    events, starts, sources = [], [], []
    offset = 0
    for path in find_logs(log_dir, dimension):
        read = read_log(path, dimension)
        report.files += 1
        report.rows += read.rows
        report.skipped += read.skipped
        report.problems += read.problems[: max(0, 10 - len(report.problems))]
        if read.events == 0:
            continue
        dt, gesture_starts = split_gestures(read.times, max_gap)
        events.append(np.column_stack([dt, read.controls]).astype(np.float32))
        starts.append(gesture_starts + offset)
        sources += [path.name] * len(gesture_starts)
        offset += read.events
    dataset = Dataset(
        dimension=dimension,
        events=np.concatenate(events) if events else np.zeros((0, dimension), np.float32),
        starts=np.concatenate(starts) if starts else np.zeros(0, np.int64),
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
    # Original datasets kept long pauses; cut them into gestures the same way as logs.
    events, starts, offset = [], [], 0
    for perf in (p for p in perfs if len(p)):
        dt, gesture_starts = split_gestures(np.cumsum(perf[:, 0], dtype=np.float64))
        events.append(np.column_stack([dt, perf[:, 1:]]).astype(np.float32))
        starts.append(gesture_starts + offset)
        offset += len(perf)
    events, starts = np.concatenate(events), np.concatenate(starts)
    _check_arrays(path, events.shape[1], events, starts)
    return Dataset(events.shape[1], events, starts, [path.name] * len(starts), {"original": True})


def dimensions_in(log_dir: str | Path) -> list[int]:
    """The dimensions for which a folder holds logs."""
    return sorted({d for p in find_logs(log_dir) if (d := log_dimension(p)) is not None})
