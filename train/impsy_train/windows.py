"""Turn a dataset into training examples: a held-out set of whole performances, and windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impsy.dataset import Dataset
from impsy.model import SCALE

SEQ_LEN = 100  # events per training run: long enough for the state to matter, short enough to shuffle


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

    They are spread evenly over the recording order (every tenth, from the seed's offset),
    so validation spans the early and the late playing; seeds 0, 1, 2 ... hold out disjoint
    sets (the folds of bench/model_quality.py). Only performances of at least `min_events`
    are held out: a short one would leave validation empty however long the others are.
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
    stride = len(long_enough) // held
    chosen = set(long_enough[seed % stride :: stride][:held])
    return Split(
        train=[p for i, p in enumerate(performances) if i not in chosen],
        validation=[p for i, p in enumerate(performances) if i in chosen],
        validation_logs=sorted(names[i] for i in chosen),
    )


Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # inputs, targets [T, B, D] (scaled), mask [T, B]


def padded(sequences: list[np.ndarray]) -> Batch:
    """Sequences of events side by side, time-major and scaled: each predicts its next event.

    Shorter sequences are padded at the end; the mask is 0 there.
    """
    steps = max(len(s) for s in sequences) - 1
    dimension = sequences[0].shape[1]
    data = np.zeros((steps + 1, len(sequences), dimension), np.float32)
    mask = np.zeros((steps, len(sequences)), np.float32)
    for b, sequence in enumerate(sequences):
        data[: len(sequence), b] = sequence
        mask[: len(sequence) - 1, b] = 1.0
    data *= SCALE
    return data[:-1], data[1:], mask


def chunk_batches(
    performances: list[np.ndarray], seq_len: int, batch_size: int, rng: np.random.Generator
) -> list[Batch]:
    """One epoch: every performance cut into runs of seq_len + 1 events from a random offset, so
    each event is a target about once an epoch, shuffled into batches.

    Runs share their edge event (the target of one is the first input of the next); a
    performance's tail shorter than a run is kept, padded, when it has at least 2 events.
    """
    runs = []
    for p in performances:
        offset = int(rng.integers(0, seq_len)) if len(p) > seq_len + 1 else 0
        if offset >= 1:
            runs.append(p[: offset + 1])
        runs += [p[start : start + seq_len + 1] for start in range(offset, len(p) - 1, seq_len)]
    runs = [r for r in runs if len(r) >= 2]
    order = rng.permutation(len(runs))
    return [padded([runs[i] for i in order[k : k + batch_size]]) for k in range(0, len(order), batch_size)]


def usable_events(performances: list[np.ndarray], seq_len: int = SEQ_LEN) -> int:
    """Events in performances long enough to make at least one window."""
    return sum(len(p) for p in performances if len(p) > seq_len)
