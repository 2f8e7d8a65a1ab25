"""Performance logs in the original IMPSY format: one CSV file per run.

File name: ``YYYY-MM-DDTHH-MM-SS-{D}d-mdrnn.log``, the local time the run started, or
``YYYY-MM-DDTHH-MM-SS_N-{D}d-mdrnn.log`` (N = 2, 3, ...) when that name is already taken: a Pi
has no real-time clock, so after a power cut its clock restarts from the last saved time and
names repeat. Row: ``ISO-timestamp,source,x1,...,xn`` where source is ``interface`` (the
performer) or ``rnn`` (the model) and n = D - 1.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np

log = logging.getLogger(__name__)

# Groups: 1 the start time, 2 the dimension (the counter is not a group: callers index these).
LOG_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})(?:_(?:[2-9]|[1-9]\d+))?-(\d+)d-mdrnn\.log$")
INTERFACE, RNN = "interface", "rnn"
LOG_RETRY = 10.0  # seconds between attempts to log again after the disk failed


def log_dimension(path: str | Path) -> int | None:
    """The dimension a log's file name declares, or None if the name is not a log name."""
    match = LOG_NAME.match(Path(path).name)
    return int(match.group(2)) if match else None


def _log_order(path: Path) -> tuple[str, int]:
    """Start time, then counter (..._10-... after ..._9-...)."""
    counter = re.match(r"^.{19}_(\d+)-", path.name)
    return path.name[:19], int(counter.group(1)) if counter else 1


def find_logs(log_dir: str | Path, dimension: int | None = None) -> list[Path]:
    """Log files in a folder by start time then counter, optionally only those of one dimension."""
    folder = Path(log_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and log_dimension(p) is not None]
    if dimension is not None:
        found = [p for p in found if log_dimension(p) == dimension]
    return sorted(found, key=_log_order)


@dataclass
class LogRead:
    """The rows of one source in a log: times (s, Unix epoch) and controls [n, D-1].

    Times are as written, so they may jump backwards (a clock set by NTP after boot).
    """

    path: Path
    times: np.ndarray
    controls: np.ndarray
    rows: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)  # the first few, for the user to see

    @property
    def events(self) -> int:
        return len(self.times)


MAX_PROBLEMS_KEPT = 5
FLOAT32_MAX = float(np.finfo(np.float32).max)
# A row of 1,000 controls is about 20 KB: a longer "line" (a file of NULs, say) is read in
# pieces of this size, each one malformed, so that memory stays bounded.
MAX_LINE = 64 * 1024


def log_lines(handle: TextIO) -> Iterator[str]:
    """The lines of an open log, none longer than MAX_LINE characters."""
    return iter(lambda: handle.readline(MAX_LINE), "")


def read_log(path: str | Path, dimension: int | None = None, source: str = INTERFACE) -> LogRead:
    """Read the rows of one source from a log; malformed rows are skipped and counted."""
    path = Path(path)
    dimension = log_dimension(path) if dimension is None else dimension
    if dimension is None:
        raise ValueError(f"{path}: cannot tell the dimension from the file name")
    if dimension < 2:
        raise ValueError(f"{path}: a {dimension}d log has no controls (the dimension is controls + 1)")
    width = dimension - 1
    times: list[float] = []
    rows: list[list[float]] = []
    result = LogRead(path, np.empty(0), np.empty((0, width)))

    def skip(number: int, why: str) -> None:
        result.skipped += 1
        if len(result.problems) < MAX_PROBLEMS_KEPT:
            result.problems.append(f"{path.name}:{number}: {why}")

    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(log_lines(handle), start=1):
            line = line.strip()
            if not line:
                continue
            result.rows += 1
            fields = line.split(",")
            if len(fields) != width + 2:
                skip(number, f"expected {width + 2} fields, found {len(fields)}")
                continue
            if fields[1] != source:
                continue
            try:
                when = datetime.fromisoformat(fields[0]).timestamp()
                values = [float(v) for v in fields[2:]]
            except ValueError as error:
                skip(number, str(error))
                continue
            # Finite as stored: datasets keep float32, where 1e308 would become infinity.
            if not all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in values):
                skip(number, "a value is not a finite number")
                continue
            times.append(when)
            rows.append(values)
    result.times = np.asarray(times, dtype=np.float64)
    result.controls = np.asarray(rows, dtype=np.float32).reshape(-1, width)
    return result


def format_row(when: datetime, source: str, values: Iterable[float]) -> str:
    """One log row, exactly as the original wrote it."""
    return ",".join([when.isoformat(), source, *(repr(float(v)) for v in values)]) + "\n"


class LogWriter:
    """Appends rows to a new log file, each written straight through to the OS.

    The file is always new: it is created with O_EXCL, and if its name is taken (two runs in
    one second, or a clock that stepped back after a power cut) a counter is added, so a new
    performance never goes into an older one's file.

    One os.write per row on an O_APPEND descriptor: if the process is killed, at most the
    row being written is lost, and nothing already written is ever truncated. A disk that
    fails (full, read-only, removed) is reported, never raised: the performance goes on
    unlogged, and logging resumes in the same file once the disk takes rows again.
    """

    def __init__(
        self,
        log_dir: str | Path,
        dimension: int,
        started: datetime | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        started = started or datetime.now()
        self.dimension = dimension
        self._stamp = started.strftime("%Y-%m-%dT%H-%M-%S")
        self.path = self._named(1, Path(log_dir))
        self._created = False  # the file is ours once created; later opens append to it
        self.rows = 0
        self.failed = 0
        self._fd: int | None = None
        self._clock = clock
        self._retry_at = 0.0
        self._lost = 0  # rows not written since logging last stopped
        self._cut_row = False  # a failed write left part of a row in the file
        self._open()

    def _named(self, counter: int, folder: Path) -> Path:
        suffix = f"_{counter}" if counter > 1 else ""
        return folder / f"{self._stamp}{suffix}-{self.dimension}d-mdrnn.log"

    def _open(self) -> bool:
        # 0o666: the umask decides, so the services' group-writable umask reaches logs too.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._created:
                self._fd = os.open(self.path, flags, 0o666)
            else:
                counter = 1
                while self._fd is None:
                    try:
                        self._fd = os.open(self.path, flags | os.O_EXCL, 0o666)
                    except FileExistsError:
                        counter += 1
                        self.path = self._named(counter, self.path.parent)
                self._created = True
            if self._cut_row:  # end the partial row, which readers then skip as malformed
                os.write(self._fd, b"\n")
                self._cut_row = False
        except OSError as error:
            self._stop(error)
            return False
        return True

    def _stop(self, error: OSError) -> None:
        if not self._lost:  # said once, when logging stops, not at every retry that fails
            if error.errno == errno.ENOSPC:
                reason = "the disk is full"
            elif error.errno in (errno.EEXIST, errno.ENOTDIR):  # from mkdir
                reason = f"a file is in the way of the log folder {self.path.parent}"
            else:
                reason = error.strerror
            log.error(
                "logging stopped: %s (%s); the performance goes on unlogged, trying again every %g s",
                reason,
                self.path,
                LOG_RETRY,
            )
        self._retry_at = self._clock() + LOG_RETRY
        self.close()

    def write(self, source: str, values: Sequence[float], when: datetime | None = None) -> bool:
        """Write one row; False if it could not be written (the reason is logged)."""
        if self._fd is None and (self._clock() < self._retry_at or not self._open()):
            self._fail()
            return False
        data = format_row(when or datetime.now(), source, values).encode()
        try:
            written = os.write(self._fd, data)
            if written < len(data):  # the disk filled up inside this row
                self._cut_row = written > 0
                raise OSError(errno.ENOSPC, "short write")
        except OSError as error:
            self._stop(error)
            self._fail()
            return False
        self.rows += 1
        if self._lost:  # said once a row is really on the disk again, not when the file opens
            log.warning("logging resumed after %d rows were lost (%s)", self._lost, self.path)
            self._lost = 0
        return True

    def _fail(self) -> None:
        self.failed += 1
        self._lost += 1

    def close(self) -> None:
        """Flush to the disk and close; rows written so far survive a power cut after this."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.fsync(fd)
        os.close(fd)

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
