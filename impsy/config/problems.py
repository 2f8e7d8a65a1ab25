"""What is wrong with a config: Problem, ConfigError, and key paths spelled as TOML spells them."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where it is, what is wrong, and how bad."""

    file: str  # the config file, or "" for a command-line option (then key names the option)
    key: str  # the key path, e.g. midi.input."S-1"[2]; "" for the file as a whole
    message: str
    severity: str  # ERROR or WARNING
    line: int | None = None  # only known for TOML syntax errors

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return ": ".join(part for part in (where, self.key, self.message) if part)


class ConfigError(Exception):
    """A config cannot be used; str() lists its errors, one per line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == ERROR] or self.problems
        super().__init__("\n".join(str(p) for p in errors))


def format_problems(problems: Iterable[Problem]) -> str:
    """Problems one per line, errors first; warnings are marked as such."""
    ordered = sorted(problems, key=lambda p: p.severity != ERROR)
    return "\n".join(str(p) if p.severity == ERROR else f"warning: {p}" for p in ordered)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def quote(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def key_path(path: str, name: str, quoted: bool = False) -> str:
    """A key path as TOML would spell it; device names are always quoted, as in the file."""
    part = name if _BARE_KEY.fullmatch(name) and not quoted else quote(name)
    return f"{path}.{part}" if path else part


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f"; did you mean `{close[0]}`?" if close else ""
