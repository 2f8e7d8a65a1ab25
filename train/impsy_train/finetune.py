"""Learn from tonight: carry on training a model on the performances recorded since it was made.

The new performances are mixed with as many events again from the older ones (replayed,
a fresh sample each epoch), so the model learns tonight's playing without forgetting the
rest. The last fifth of each new performance is held out to score each epoch, and the
model it started from competes as epoch 0: if no epoch predicts tonight's held-out playing
better, nothing is saved.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from impsy.dataset import DEFAULT_MAX_GAP, build_from_logs
from impsy.logs import find_logs
from impsy.model import size_name
from impsy_train.settings import TrainSettings
from impsy_train.tflite import read_weights
from impsy_train.timing_head import TimingHead, settings_for
from impsy_train.training import Progress, TrainingError, TrainResult, fit, heldout_nll, resolve_dequantise
from impsy_train.weights import Weights
from impsy_train.windows import chunk_batches, usable_events

HELD_OUT = 0.2  # of each new performance, its end
FINE_TUNING = TrainSettings(
    epochs=10, learning_rate=2e-4, final_learning_rate=1e-5, warmup_steps=100, average_decay=0.98
)


@dataclass
class Tonight:
    """The logs a fine-tuning run learns from."""

    new: list[Path]
    old: list[Path]
    since: datetime


def model_time(tflite: Path) -> datetime:
    """When a model was made: its report says so; else the file's own time."""
    report = tflite.with_name(tflite.stem + ".report.json")
    try:
        return datetime.fromisoformat(json.loads(report.read_text())["created"])
    except (OSError, ValueError, KeyError, TypeError):
        return datetime.fromtimestamp(tflite.stat().st_mtime)


def sort_logs(logs: Path, dimension: int, since: datetime) -> Tonight:
    """The dimension's logs, divided into those written since `since` and the older ones."""
    paths = find_logs(logs, dimension)
    cutoff = since.timestamp()
    new = [p for p in paths if p.stat().st_mtime > cutoff]
    old = [p for p in paths if p.stat().st_mtime <= cutoff]
    if not new:
        raise TrainingError(
            f"{logs}: no {dimension}d log was recorded since the model was made "
            f"({since:%Y-%m-%d %H:%M}); play first, or give --since an earlier time"
        )
    return Tonight(new, old, since)


def load_start(tflite: Path) -> Weights:
    """The weights a model file holds, if our own writer made it."""
    try:
        return read_weights(tflite.read_bytes())
    except ValueError as error:
        raise TrainingError(
            f"{tflite}: cannot fine-tune this model ({error}); only models written by impsy-train "
            "can be, so train a new one from the logs with `impsy-train train`"
        ) from None


def finetune(
    tflite: Path, tonight: Tonight, max_gap: float = DEFAULT_MAX_GAP,
    settings: TrainSettings = FINE_TUNING, progress: Progress | None = None,
) -> TrainResult:  # fmt: skip
    """Fine-tune the model in `tflite` on tonight's logs, replaying the older ones."""
    start = load_start(tflite)
    size = size_name(start.layers, start.units) or f"{start.layers}x{start.units}"
    head = TimingHead.found_in(start)
    settings = replace(settings, size=size, residual=start.residual, mixtures=start.mixtures)
    settings = settings_for(settings, head)
    new, _ = build_from_logs(tonight.new, start.dimension, max_gap)
    old, _ = build_from_logs(tonight.old, start.dimension, max_gap) if tonight.old else (None, None)
    learn, score = [], []
    for performance in new.performances():
        cut = len(performance) - max(2, round(len(performance) * HELD_OUT))
        if cut >= 2:
            learn.append(performance[:cut])
        score.append(performance[cut:] if cut >= 2 else performance)
    if not learn:
        raise TrainingError(f"the new logs hold {len(new.events)} events: too few to learn from; play more")
    replay = old.performances() if old is not None else []
    budget = sum(len(p) for p in learn)
    settings, levels = resolve_dequantise(settings, learn + replay)
    jitter = levels if settings.dequantise else None

    def epoch(rng: np.random.Generator) -> list:
        return chunk_batches(learn + sample_events(replay, budget, rng), settings.seq_len,
                             settings.batch_size, rng, jitter, settings.dequantise_width)  # fmt: skip

    result = fit(
        start, epoch, lambda w: heldout_nll(w, score), settings, progress, score_start=True, head=head
    )
    if result.best_epoch == 0:
        raise TrainingError(
            f"no epoch predicted tonight's held-out playing better than {tflite.name} does "
            f"({result.best_loss:.2f}); nothing was saved"
        )
    return TrainResult.of(
        result, settings, start.dimension, score, [p.name for p in tonight.new],
        train_events=usable_events(learn, 1) + min(budget, sum(len(p) for p in replay)),
        max_gap=max_gap, levels=levels, started_from=tflite.name, start_nll=result.start_loss,
    )  # fmt: skip


def sample_events(performances: list[np.ndarray], budget: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Whole stretches of older performances, about `budget` events in all, drawn afresh."""
    total = sum(len(p) for p in performances)
    if total <= budget:
        return performances
    share = budget / total
    out = []
    for p in performances:
        n = math.ceil(len(p) * share)
        if n >= 2:
            start = int(rng.integers(0, len(p) - n + 1))
            out.append(p[start : start + n])
    return out
