"""What is in the working folder: logs, datasets and models, each with its figures.

Figures are cached by (name, size, mtime), so a page lists a folder of many files quickly once
each file has been read; model figures are also kept on disk (they take a child process).
"""

from __future__ import annotations

import json
import logging
import threading
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from impsy.dataset import Dataset, DatasetError, load_dataset
from impsy.logs import INTERFACE, LOG_NAME, RNN, log_dimension, log_lines
from impsy.web import modelcheck
from impsy.web.paths import MODEL_PLOTS, MODEL_REPORT, Workdir
from impsy.web.system import human_bytes

log = logging.getLogger(__name__)

Info = TypeVar("Info")

# Bytes of arrays a dataset may unpack to (zip bombs): well inside a Pi Zero 2 W's 512 MB,
# and about 25 hours of 9d playing.
DATASET_MAX_UNPACKED = 64 * 1024 * 1024


def _key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return path.name, stat.st_size, stat.st_mtime_ns


@dataclass
class LogInfo:
    name: str
    dimension: int
    bytes: int
    performer: int  # interface rows
    model: int  # rnn rows
    other: int  # rows that are neither (malformed)
    duration: float  # seconds from the first to the last row
    started: str  # from the file name, "2026-01-01 10:00:00"


def summarise_log(path: Path) -> LogInfo:
    """Count a log's rows and time span without parsing every number (fast on a Pi)."""
    performer = model = other = 0
    first = last = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in log_lines(handle):
            if not line.strip():
                continue
            stamp, _, rest = line.partition(",")
            source = rest.split(",", 1)[0]
            if source == INTERFACE:
                performer += 1
            elif source == RNN:
                model += 1
            else:
                other += 1
                continue
            first = first or stamp
            last = stamp
    duration = 0.0
    if first and last:
        try:
            duration = max(
                0.0, (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
            )
        except ValueError:
            duration = 0.0
    match = LOG_NAME.match(path.name)
    started = match[1] if match else ""
    if started:
        day, clock = started.split("T")
        started = f"{day} {clock.replace('-', ':')}"
    return LogInfo(
        path.name, log_dimension(path) or 0, path.stat().st_size, performer, model, other, duration, started
    )


@dataclass
class DatasetInfo:
    name: str
    bytes: int
    dimension: int | None = None
    events: int = 0
    performances: int = 0
    minutes: float = 0.0
    created: str = ""
    error: str | None = None


def load_safely(path: Path) -> Dataset:
    """A dataset file from anywhere (an upload, a backup): its arrays' unpacked size is checked
    before anything is unpacked (zip bombs), and it never unpickles (loading runs no code)."""
    limit = DATASET_MAX_UNPACKED  # read here, so that tests can lower it
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (OSError, zipfile.BadZipFile) as error:
        raise DatasetError(f"not a dataset file ({error})") from error
    if unpacked > limit:
        raise DatasetError(f"it would unpack to more than {human_bytes(limit)}")
    return load_dataset(path)


def summarise_dataset(path: Path) -> DatasetInfo:
    info = DatasetInfo(path.name, path.stat().st_size)
    try:
        dataset = load_safely(path)
    except DatasetError as error:
        info.error = str(error).replace(f"{path}: ", "")
        return info
    info.dimension = dataset.dimension
    info.events = len(dataset.events)
    info.performances = len(dataset.starts)
    info.minutes = round(dataset.duration / 60, 1)
    info.created = str(dataset.meta.get("created", ""))
    return info


@dataclass
class ModelInfo:
    name: str
    bytes: int
    dimension: int | None = None
    size: str | None = None
    layers: int | None = None
    units: int | None = None
    mixtures: int | None = None
    layout: str | None = None
    ms_per_step: float | None = None
    error: str | None = None
    plot: bool = False  # a training loss plot sits beside it
    report: bool = False


FIGURES = ("dimension", "size", "layers", "units", "mixtures", "layout", "ms_per_step", "error")


class Inventory:
    """Cached figures of the files in a working folder."""

    def __init__(self, workdir: Workdir, check_models=modelcheck.check_files) -> None:
        self.workdir = workdir
        self.check_models = check_models
        self._mutex = threading.Lock()
        self._logs: dict[tuple, LogInfo] = {}
        self._datasets: dict[tuple, DatasetInfo] = {}
        self._models: dict[str, dict] = self._load_model_cache()

    def _summaries(
        self, kind: str, cache: dict[tuple, Info], summarise: Callable[[Path], Info]
    ) -> list[Info]:
        """A summary of each file of a kind, read again only when a file's size or time changes."""
        found = []
        for path in self.workdir.files(kind):
            try:
                key = _key(path)
                with self._mutex:
                    info = cache.get(key)
                if info is None:
                    info = summarise(path)
                    with self._mutex:
                        cache[key] = info
            except OSError:
                continue
            found.append(info)
        return found

    def logs(self) -> list[LogInfo]:
        found = self._summaries("log", self._logs, summarise_log)
        return sorted(found, key=lambda i: i.name, reverse=True)  # newest first

    def datasets(self) -> list[DatasetInfo]:
        return self._summaries("dataset", self._datasets, summarise_dataset)

    # -- models --

    @property
    def _model_cache_file(self) -> Path:
        return self.workdir.state / "models.json"

    def _load_model_cache(self) -> dict[str, dict]:
        try:
            data = json.loads(self._model_cache_file.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save_model_cache(self) -> None:
        try:
            self._model_cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._model_cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._models))
            tmp.replace(self._model_cache_file)
        except OSError as error:
            log.debug("model cache not saved: %s", error)

    @staticmethod
    def _cache_key(path: Path) -> str:
        name, size, mtime = _key(path)
        return f"{name}:{size}:{mtime}"

    def remember_model(self, path: Path, figures: dict) -> None:
        """Keep figures already measured (an upload's check) so the list need not redo it."""
        with self._mutex:
            self._models[self._cache_key(path)] = figures
            self._save_model_cache()

    def models(self) -> list[ModelInfo]:
        paths = self.workdir.files("model")
        keys = {}
        for path in paths:
            try:
                keys[path] = self._cache_key(path)
            except OSError:
                continue
        with self._mutex:
            missing = [p for p, k in keys.items() if k not in self._models]
        if missing:
            for path, figures in zip(missing, self.check_models(missing), strict=True):
                with self._mutex:
                    self._models[keys[path]] = figures
            with self._mutex:
                live = set(keys.values())
                self._models = {k: v for k, v in self._models.items() if k in live}
                self._save_model_cache()
        found = []
        for path, key in keys.items():
            with self._mutex:
                figures = dict(self._models.get(key, {}))
            info = ModelInfo(path.name, path.stat().st_size)
            for field in (
                "dimension",
                "size",
                "layers",
                "units",
                "mixtures",
                "layout",
                "ms_per_step",
                "error",
            ):
                setattr(info, field, figures.get(field))
            stem = path.name[: -len(".tflite")]
            info.report = (path.parent / (stem + MODEL_REPORT)).is_file()
            info.plot = any((path.parent / (stem + suffix)).is_file() for suffix in MODEL_PLOTS)
            found.append(info)
        return found

    def model(self, name: str) -> ModelInfo | None:
        return next((m for m in self.models() if m.name == name), None)


def as_dict(info) -> dict:
    return asdict(info)
