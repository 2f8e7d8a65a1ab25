"""The working folder: every path a request names is checked to stay inside it.

A request only ever names a plain file name inside one of the known folders (logs/, datasets/,
models/); a name with a slash, a leading dot or the wrong shape is refused. A file is served,
listed or backed up only if, with every symlink followed, it stays in its own folder and out of
.webui/ (the secret key and password hash): a link named like a log that leads to the secret,
or to config.toml, is not a log.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from impsy.config import Config
from impsy.logs import LOG_NAME

CONFIG = "config.toml"
PREVIOUS = "config.toml.previous"
STATE = ".webui"  # the web UI's own files: secret key, password hash, lock, caches
PART = ".part"  # uploads being received

SAFE_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}"
KINDS: dict[str, tuple[str, re.Pattern[str], str]] = {
    # kind: (folder, allowed names, what a user is told a name must look like)
    "log": ("logs", LOG_NAME, "YYYY-MM-DDTHH-MM-SS-<D>d-mdrnn.log, as IMPSY names its logs"),
    "dataset": ("datasets", re.compile(SAFE_NAME + r"\.npz"), "a name ending in .npz"),
    "model": ("models", re.compile(SAFE_NAME + r"\.tflite"), "a name ending in .tflite"),
}
# Files beside a model: its training report and loss plot (.loss.png and the .keras twin from
# the TensorFlow impsy-train, still found beside older models).
MODEL_REPORT = ".report.json"
MODEL_PLOTS = (".loss.svg", ".loss.png")
MODEL_COMPANIONS = (".keras", MODEL_REPORT, *MODEL_PLOTS)
NAME_RULE = "letters, digits, '.', '_' and '-' only, not starting with '.'"


class Refused(Exception):
    """A request is refused: the status to answer with, and a message saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_name(kind: str, name: str) -> str:
    """The name if it is a plain file name of this kind; Refused(400) otherwise."""
    _, pattern, shape = KINDS[kind]
    if not name or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
        raise Refused(400, f"{name!r} is not a {kind} file name: use {NAME_RULE}")
    if not pattern.fullmatch(name):
        raise Refused(400, f"{name!r} is not a {kind} file name: expected {shape} ({NAME_RULE})")
    return name


@dataclass(frozen=True)
class Workdir:
    """The folder `impsy run` works in: config.toml, logs/, datasets/, models/."""

    root: Path

    @classmethod
    def at(cls, folder: str | Path) -> Workdir:
        return cls(Path(folder).absolute())

    @property
    def real(self) -> Path:
        return self.root.resolve()

    @property
    def config(self) -> Path:
        return self._own(CONFIG)

    @property
    def previous_config(self) -> Path:
        return self._own(PREVIOUS)

    def _own(self, name: str, shown: str | None = None) -> Path:
        """root/name to read or write; Refused(403) if it is a symlink out of the working folder."""
        path = self.root / name
        if path.is_symlink() and not self.inside(path):
            raise Refused(403, f"{shown or name} points outside the working folder: refused")
        return path

    @property
    def state(self) -> Path:
        return self.root / STATE

    def folder(self, kind: str) -> Path:
        """logs/, datasets/ or models/, to read or write in (checked as _own)."""
        return self._own(KINDS[kind][0], KINDS[kind][0] + "/")

    def listable(self, kind: str) -> Path | None:
        """The folder of a kind if it is there and inside the working folder: what lists show
        (one symlinked out is left out of them, not refused)."""
        path = self.root / KINDS[kind][0]
        return path if path.is_dir() and self.inside(path) else None

    def active_model(self, config: Config | None) -> str | None:
        """The models/ file name the config plays, if it names one there."""
        if config is None or not config.model.file:
            return None
        path = Path(config.model.file)
        path = path if path.is_absolute() else self.root / path
        if path.suffix in (".h5", ".keras"):
            path = path.with_suffix(".tflite")
        folder = self.listable("model")
        with contextlib.suppress(OSError, ValueError):
            if folder is not None and path.resolve().parent == folder.resolve():
                return path.name
        return None

    def model_companions(self, name: str, suffixes: tuple[str, ...] = MODEL_COMPANIONS) -> list[Path]:
        """The files that belong to models/<name>.tflite: its report, plot and .keras twin
        (those of `suffixes`, in their order)."""
        folder, stem = self.root / KINDS["model"][0], name.removesuffix(".tflite")
        paths = [folder / (stem + suffix) for suffix in suffixes]
        return [path for path in paths if path.is_file() and self.inside(path, folder)]

    def inside(self, path: Path, folder: Path | None = None) -> bool:
        """Does this path, with every symlink followed, stay inside `folder` (the working folder
        if None; itself inside the working folder) and out of .webui/?"""
        try:
            real = path.resolve()
            base = (folder or self.root).resolve()
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop
            return False
        root = self.real
        return (
            real.is_relative_to(base)
            and base.is_relative_to(root)
            and not real.is_relative_to(root / STATE)
        )

    def file(self, kind: str, name: str, must_exist: bool = True) -> Path:
        """The path of a named file of a kind, checked: Refused(400/403/404) otherwise."""
        check_name(kind, name)
        folder = self.folder(kind)
        path = folder / name
        if not self.inside(path, folder):
            raise Refused(403, f"{KINDS[kind][0]}/{name} leads out of its folder: refused")
        if must_exist and not path.is_file():
            raise Refused(404, f"there is no {kind} called {name!r}")
        return path

    def files(self, kind: str) -> list[Path]:
        """Files of a kind that may be served, sorted by name (escaping symlinks left out)."""
        base, pattern = self.listable(kind), KINDS[kind][1]
        if base is None:
            return []
        found = []
        for path in base.iterdir():
            if pattern.fullmatch(path.name) and path.is_file() and self.inside(path, base):
                found.append(path)
        return sorted(found, key=lambda p: p.name)

    def ensure(self) -> None:
        """Create the folders (not the config); fine if they exist."""
        for kind in KINDS:
            self.folder(kind).mkdir(parents=True, exist_ok=True)

    def disk_free(self) -> int | None:
        try:
            return shutil.disk_usage(self.root).free
        except OSError:
            return None


def part_file(folder: Path, suffix: str = PART) -> Path:
    """A fresh hidden file name in `folder` for an upload in progress (same file system)."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".upload-{secrets.token_hex(8)}{suffix}"


def write_atomically(path: Path, data: bytes, keep_previous: Path | None = None) -> None:
    """Write a file so that a reader (or a power cut) sees the old or the new one, never half.

    With keep_previous, the file being replaced is first copied there.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o664)
        if keep_previous is not None and path.is_file():
            write_atomically(keep_previous, path.read_bytes())
        os.replace(tmp, path)
        fsync_folder(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every system allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def unique_name(folder: Path, name: str, suffix: str) -> str:
    """`name` if free in folder, else name with -2, -3 ... before the suffix."""
    stem = name[: -len(suffix)]
    candidate, n = name, 1
    while (folder / candidate).exists():
        n += 1
        candidate = f"{stem}-{n}{suffix}"
    return candidate


def walk_files(workdir: Workdir, kinds: tuple[str, ...] | None = None) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of everything a backup holds: config and the three folders.

    With kinds, only the files of those folders ("log", "dataset", "model").
    """
    if kinds is None:
        for name in (CONFIG, PREVIOUS):
            path = workdir.root / name
            if path.is_file() and workdir.inside(path):
                yield name, path
    for kind in kinds or KINDS:
        base = workdir.listable(kind)
        if base is None:
            continue
        for path in sorted(base.iterdir(), key=lambda p: p.name):
            if path.name.startswith(".") or not path.is_file() or not workdir.inside(path, base):
                continue
            yield f"{KINDS[kind][0]}/{path.name}", path
