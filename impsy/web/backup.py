"""The whole working folder as one .zip, and back.

A backup is streamed as it is made (nothing is held in memory or written to the card). A
restore is checked in full before anything is replaced: every member must be a plain file with
a name a working folder may hold, the sizes are bounded (zip bombs), the config must pass the
checker, datasets must load without pickle and models must run. Then the files move into place;
files the archive does not mention are left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from impsy.config import ERROR, Config
from impsy.dataset import DatasetError
from impsy.logs import LOG_NAME
from impsy.web import modelcheck
from impsy.web.configtext import check_text
from impsy.web.inventory import load_safely
from impsy.web.paths import CONFIG, PREVIOUS, SAFE_NAME, Workdir, fsync_folder, walk_files
from impsy.web.settings import DISK_RESERVE
from impsy.web.system import human_bytes

CHUNK = 256 * 1024
COMPRESSIBLE = (".log", ".toml", ".previous", ".json")
MAX_MEMBERS = 20000
# What a backup may hold: (pattern of the member name, what it is).
_MEMBERS = (
    (re.compile(re.escape(CONFIG)), "config"),
    (re.compile(re.escape(PREVIOUS)), "previous config"),
    (re.compile("logs/" + LOG_NAME.pattern.strip("^$")), "log"),
    (re.compile(rf"datasets/{SAFE_NAME}\.npz"), "dataset"),
    (re.compile(rf"models/{SAFE_NAME}\.tflite"), "model"),
    (re.compile(rf"models/{SAFE_NAME}\.(keras|h5|json|png)"), "model file"),
)


class _Pipe:
    """A write-only stream whose bytes are collected for a generator to hand on."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def stream_backup(workdir: Workdir, kinds: tuple[str, ...] | None = None) -> Iterator[bytes]:
    """The bytes of a .zip of the working folder (or of some of its folders), made as they are sent."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w") as archive:  # type: ignore[arg-type]  # unseekable is fine
        for name, path in backup_files(workdir, kinds):
            try:
                handle = open(path, "rb")  # noqa: SIM115  closed by the with below
            except OSError:
                continue
            with handle:
                info = zipfile.ZipInfo.from_file(path, name)
                if name.endswith(COMPRESSIBLE):
                    info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=True) as member:
                    while chunk := handle.read(CHUNK):
                        member.write(chunk)
                        if sum(map(len, pipe.chunks)) >= CHUNK:
                            yield pipe.take()
            yield pipe.take()
    yield pipe.take()


def backup_files(workdir: Workdir, kinds: tuple[str, ...] | None = None) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of what a backup holds: only what a restore would take back
    (notes.txt in logs/, a model named with spaces, are left out)."""
    return ((name, path) for name, path in walk_files(workdir, kinds) if member_kind(name))


class RestoreError(Exception):
    """The archive cannot be restored; nothing was changed."""


@dataclass
class RestoreReport:
    restored: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def member_kind(name: str) -> str | None:
    for pattern, kind in _MEMBERS:
        if pattern.fullmatch(name):
            return kind
    return None


def restore(
    workdir: Workdir,
    archive_path: Path,
    max_unpacked: int,
    check_models=modelcheck.check_files,
    recording: str | None = None,
) -> RestoreReport:
    """Check every member of a backup .zip, then move them into the working folder.

    `recording` is the log `impsy run` is writing: it is never replaced (its rows would be lost).
    """
    try:
        archive = zipfile.ZipFile(archive_path)
    except (OSError, zipfile.BadZipFile) as error:
        raise RestoreError(f"not a .zip archive ({error})") from error
    staging = workdir.state / "restore"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            _check_members(members)
            if recording and f"logs/{recording}" in {m.filename for m in members}:
                raise RestoreError(f"logs/{recording}: IMPSY is recording it now; stop IMPSY first")
            _check_size(workdir, sum(m.file_size for m in members), max_unpacked)
            staging.mkdir(parents=True)
            for member in members:
                _extract(archive, member, staging / member.filename)
        _check_contents(workdir, staging, members, check_models)
        return _move_into_place(workdir, staging, members)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_size(workdir: Workdir, unpacked: int, max_unpacked: int) -> None:
    if unpacked > max_unpacked:
        raise RestoreError(
            f"the archive would unpack to {human_bytes(unpacked)}, more than the "
            f"{human_bytes(max_unpacked)} allowed"
        )
    free = workdir.disk_free()
    if free is not None and unpacked > free - DISK_RESERVE:
        raise RestoreError(
            f"the archive would unpack to {human_bytes(unpacked)} and {human_bytes(free)} is free "
            "(delete old logs or datasets first)"
        )


def _check_members(members: list[zipfile.ZipInfo]) -> None:
    if not members:
        raise RestoreError("the archive is empty")
    if len(members) > MAX_MEMBERS:
        raise RestoreError(f"the archive holds more than {MAX_MEMBERS} files")
    seen = set()
    for member in members:
        name = member.filename
        mode = member.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise RestoreError(f"{name}: symbolic links are not restored")
        if name in seen:
            raise RestoreError(f"{name}: appears twice in the archive")
        seen.add(name)
        if member_kind(name) is None:
            raise RestoreError(
                f"{name!r} is not something a backup holds (config.toml, logs/*.log, "
                "datasets/*.npz, models/*.tflite and their reports)"
            )
        if member.flag_bits & 0x1:
            raise RestoreError(f"{name}: encrypted files are not restored")


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> None:
    """Copy one member out, never writing more than it declared (a lying header is refused)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with archive.open(member) as source, open(target, "wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > member.file_size:
                    raise RestoreError(f"{member.filename}: bigger than the archive says")
                out.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
        raise RestoreError(f"{member.filename}: cannot be read from the archive ({error})") from error


def _checked_config(path: Path, name: str) -> Config:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RestoreError(f"{name}: not UTF-8 text") from error
    config, problems = check_text(text, CONFIG)
    if config is None:
        first = next(p for p in problems if p.severity == ERROR)
        raise RestoreError(f"{name} in the archive is not valid: {first.text}")
    return config


def _check_contents(workdir: Workdir, staging: Path, members: list[zipfile.ZipInfo], check_models) -> None:
    models = []
    config = None  # the archive's, if it has one: that is the config the models will meet
    for member in members:
        path = staging / member.filename
        kind = member_kind(member.filename)
        if kind == "config":
            config = _checked_config(path, CONFIG)
        elif kind == "previous config":  # "Go back" would restore it
            _checked_config(path, PREVIOUS)
        elif kind == "dataset":
            try:
                load_safely(path)
            except DatasetError as error:
                message = str(error).replace(f"{path}: ", "")
                raise RestoreError(f"{member.filename}: {message}") from error
        elif kind == "model":
            models.append(path)
    if config is None and workdir.config.is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            config, _ = check_text(workdir.config.read_text(encoding="utf-8-sig"), CONFIG)
    active = workdir.active_model(config)
    for path, figures in zip(models, check_models(models), strict=True):
        if "error" in figures:
            raise RestoreError(f"models/{path.name}: {figures['error']}")
        if path.name == active and figures["dimension"] != config.model.dimension:
            # As for an upload: IMPSY would refuse to start with that config and model.
            raise RestoreError(
                f"models/{path.name} is the model config.toml plays as {config.model.dimension}d, "
                f"and the archive's is {figures['dimension']}d"
            )


def _move_into_place(workdir: Workdir, staging: Path, members: list[zipfile.ZipInfo]) -> RestoreReport:
    report = RestoreReport()
    # The config last, so that a model it names is there before it.
    names = sorted((m.filename for m in members), key=lambda n: n in (CONFIG, PREVIOUS))
    for name in names:  # every target is checked before anything moves
        target = workdir.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not workdir.inside(target.parent) or (target.is_symlink() and not workdir.inside(target)):
            raise RestoreError(f"{name}: its folder points outside the working folder")
    for name in names:
        target = workdir.root / name
        if name == CONFIG and target.is_file() and PREVIOUS not in names:
            shutil.copyfile(target, workdir.previous_config)
        (report.replaced if target.exists() else report.restored).append(name)
        os.replace(staging / name, target)
        fsync_folder(target.parent)
    return report
