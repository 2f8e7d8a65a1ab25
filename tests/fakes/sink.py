"""A Sink that records what channels deliver, and helpers for running a channel's coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

GUARD = 20.0  # seconds: only a hung test ever gets near this; no test measures speed with it


class RecordingSink:
    """Everything a channel delivered, in order."""

    def __init__(self) -> None:
        self.vectors: list[np.ndarray] = []
        self.changes: list[dict[int, float]] = []  # from controls()
        self.commands: list[tuple[str, object]] = []
        self.drops: list[str] = []
        self.sources: set[str] = set()

    def vector(self, source: str, values: np.ndarray) -> None:
        self.sources.add(source)
        self.vectors.append(np.array(values))

    def controls(self, source: str, changes: dict[int, float]) -> None:
        self.sources.add(source)
        self.changes.append(dict(changes))

    def command(self, source: str, name: str, value: object) -> None:
        self.sources.add(source)
        self.commands.append((name, value))

    def dropped(self, source: str, reason: str) -> None:
        self.sources.add(source)
        self.drops.append(reason)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a test's coroutine on a fresh event loop, failing (not hanging) if it never ends."""

    async def guarded() -> Any:
        return await asyncio.wait_for(coroutine, GUARD)

    return asyncio.run(guarded())


async def settle(rounds: int = 5) -> None:
    """Let callbacks already handed to the loop (call_soon_threadsafe) run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool], what: str = "condition") -> None:
    """Wait, on the loop, for something that real I/O will bring about."""
    deadline = asyncio.get_running_loop().time() + GUARD / 2
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.002)
