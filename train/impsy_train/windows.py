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
    """Performances for training and for validation."""

    train: list[np.ndarray]
    validation: list[np.ndarray]
    validation_logs: list[str]


def split_by_performance(
    dataset: Dataset, validation_fraction: float = 0.1, seed: int = 0, min_events: int = 0
) -> Split:
    """Hold out whole performances, so validation never sees a neighbour of a training window.

    Only performances of at least `min_events` (one window) are held out: a short one would
    leave validation empty however long the others are.
    """
    performances = dataset.performances()
    if len(performances) < 2:
        raise ValueError("validation needs at least two performances (log files); record another one")
    long_enough = [i for i, p in enumerate(performances) if len(p) >= min_events]
    if len(long_enough) < 2:
        raise ValueError(
            f"validation needs at least two performances of {min_events} events or more "
            f"(a training window); {len(long_enough)} of the {len(performances)} are that long"
        )
    names = dataset.sources or [f"performance {i + 1}" for i in range(len(performances))]
    held = min(len(long_enough) - 1, max(1, round(validation_fraction * len(performances))))
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(long_enough, size=held, replace=False).tolist())
    return Split(
        train=[p for i, p in enumerate(performances) if i not in chosen],
        validation=[p for i, p in enumerate(performances) if i in chosen],
        validation_logs=sorted(names[i] for i in chosen),
    )


def windows(
    performances: list[np.ndarray], seq_len: int = SEQ_LEN, step: int = SEQ_STEP
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [n, seq_len, D] and next-event targets, scaled; windows never cross performances."""
    slices = [
        p[start : start + seq_len + 1] for p in performances for start in range(0, len(p) - seq_len, step)
    ]
    if not slices:
        longest = max((len(p) for p in performances), default=0)
        raise ValueError(
            f"no performance has the {seq_len + 1} events a training window needs (longest: {longest});"
            " record longer performances or lower --seq-len"
        )
    data = np.stack(slices).astype(np.float32) * SCALE
    return data[:, :-1], data[:, 1:]


def usable_events(performances: list[np.ndarray], seq_len: int = SEQ_LEN) -> int:
    """Events in performances long enough to make at least one window."""
    return sum(len(p) for p in performances if len(p) > seq_len)
