"""How one web UI is set up: its working folder, commands, trainer, password, host names and size limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from impsy.web.modelcheck import check_files
from impsy.web.paths import Workdir
from impsy.web.trainer import ChildTrainer, Trainer

MB = 1024 * 1024
DISK_RESERVE = 20 * MB  # never fill the card completely: logs must still be written


@dataclass(frozen=True)
class Limits:
    """Largest request bodies accepted, in bytes."""

    form: int = 1 * MB
    config: int = 256 * 1024
    log: int = 64 * MB
    dataset: int = 256 * MB
    model: int = 128 * MB
    backup: int = 4096 * MB
    unpacked: int = 8192 * MB  # what a backup may unpack to


@dataclass
class Settings:
    """How one web UI is set up (the command line fills this in; tests make their own)."""

    workdir: Workdir
    restart_command: list[str] = field(default_factory=list)
    password_file: Path | None = None
    allowed_hosts: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    training: bool | None = None  # None: offered where impsy-train is installed
    trainer: Trainer = field(default_factory=ChildTrainer)  # UnitTrainer on the appliance
    example_folders: list[Path] = field(default_factory=list)
    check_models: Callable[[list[Path]], list[dict]] = check_files
