"""Turn a dataset into training examples: a held-out set of whole performances, and windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impsy.dataset import Dataset
from impsy.model import SCALE

SEQ_LEN = 50  # steps of history the network learns from, as in the original IMPSY
SEQ_STEP = 5  # windows start this many events apart; 1 repeats every event 50 times per epoch


@dataclass
class Split:
    """Gestures for training and for validation, never sharing a performance."""

    train: list[np.ndarray]
    validation: list[np.ndarray]
    validation_logs: list[str]


def split_by_performance(dataset: Dataset, validation_fraction: float = 0.1, seed: int = 0) -> Split:
    """Hold out whole performances (log files), so validation never sees a training gesture's neighbours."""
    gestures = dataset.gestures()
    sources = (
        dataset.sources
        if len(dataset.sources) == len(gestures)
        else [f"gesture-{i}" for i in range(len(gestures))]
    )
    logs = sorted(set(sources))
    if len(logs) < 2:
        raise ValueError("validation needs at least two performances (log files); record another performance")
    rng = np.random.default_rng(seed)
    held = max(1, round(validation_fraction * len(logs)))
    chosen = set(rng.choice(logs, size=held, replace=False).tolist())
    train = [g for g, s in zip(gestures, sources, strict=True) if s not in chosen]
    validation = [g for g, s in zip(gestures, sources, strict=True) if s in chosen]
    return Split(train, validation, sorted(chosen))


def windows(
    gestures: list[np.ndarray], seq_len: int = SEQ_LEN, step: int = SEQ_STEP
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [n, seq_len, D] and next-event targets, scaled, from every gesture long enough."""
    slices = [g[start : start + seq_len + 1] for g in gestures for start in range(0, len(g) - seq_len, step)]
    if not slices:
        longest = max((len(g) for g in gestures), default=0)
        raise ValueError(
            f"no gesture has the {seq_len + 1} events a training window needs (longest: {longest});"
            " record longer performances or lower --seq-len"
        )
    data = np.stack(slices).astype(np.float32) * SCALE
    return data[:, :-1], data[:, 1:]


def usable_events(gestures: list[np.ndarray], seq_len: int = SEQ_LEN) -> int:
    """Events in gestures long enough to make at least one window."""
    return sum(len(g) for g in gestures if len(g) > seq_len)
