"""Turn a dataset into training examples: a held-out set of whole performances, and windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impsy.dataset import Dataset
from impsy.model import SCALE

SEQ_LEN = 100  # events per training run: long enough for the state to matter, short enough to shuffle
# Dequantisation: controls recorded on a grid of at most this many steps (MIDI's 7 bits: 127;
# a 7-bit touch surface: 128) are spread over their grid cells; finer data is left alone.
MAX_LEVELS = 1024
GRID_TOLERANCE = 1e-3  # of a step: logs keep 6 decimals, datasets float32


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


def quantisation_levels(performances: list[np.ndarray], max_levels: int = MAX_LEVELS) -> int | None:
    """n when every control value (dt aside) is a multiple of 1/n, with at least 3 values in
    use (a switch's 0 and 1 is no grid): the smallest such n up to max_levels. Else None."""
    if not performances:
        return None
    values = np.unique(np.concatenate([p[:, 1:].ravel() for p in performances])).astype(np.float64)
    if not 3 <= len(values) <= max_levels + 1:
        return None
    steps = np.arange(2, max_levels + 1, dtype=np.float64)[:, None] * values[None, :]
    fits = np.all(np.abs(steps - np.round(steps)) <= GRID_TOLERANCE, axis=1)
    return int(np.argmax(fits)) + 2 if fits.any() else None


def dequantised(run: np.ndarray, levels: int, width: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of a run with each control moved uniformly within `width` of its grid cell
    (width 1: anywhere in the cell of 1/levels centred on it); dt is left alone.

    Quantised targets let a Gaussian mixture win unbounded likelihood by shrinking a sigma onto
    "this control stays exactly where it was"; spreading them over their cells caps that win
    (at a cost in held-out NLL on quantised logs: see the README).
    """
    out = run.copy()
    out[:, 1:] += (rng.random(out[:, 1:].shape, dtype=np.float32) - 0.5) * np.float32(width / levels)
    return out


def chunk_batches(
    performances: list[np.ndarray],
    seq_len: int,
    batch_size: int,
    rng: np.random.Generator,
    levels: int | None = None,
    width: float = 1.0,
) -> list[Batch]:
    """One epoch: every performance cut into runs of seq_len + 1 events from a random offset, so
    each event is a target about once an epoch, shuffled into batches.

    Runs share their edge event (the target of one is the first input of the next); a
    performance's tail shorter than a run is kept, padded, when it has at least 2 events.
    With `levels`, each run is dequantised afresh (`dequantised`), inputs and targets alike.
    """
    runs = []
    for p in performances:
        offset = int(rng.integers(0, seq_len)) if len(p) > seq_len + 1 else 0
        if offset >= 1:
            runs.append(p[: offset + 1])
        runs += [p[start : start + seq_len + 1] for start in range(offset, len(p) - 1, seq_len)]
    runs = [r for r in runs if len(r) >= 2]
    if levels and width > 0:
        runs = [dequantised(r, levels, width, rng) for r in runs]
    order = rng.permutation(len(runs))
    return [padded([runs[i] for i in order[k : k + batch_size]]) for k in range(0, len(order), batch_size)]


def usable_events(performances: list[np.ndarray], seq_len: int = SEQ_LEN) -> int:
    """Events in performances long enough to make at least one window."""
    return sum(len(p) for p in performances if len(p) > seq_len)
