"""Train an MDRNN on a dataset: epochs of shuffled runs, scored on held-out performances,
keeping the best epoch; then save its .tflite (checked) and a report."""

from __future__ import annotations

import itertools
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from impsy.dataset import Dataset
from impsy.model import MIXTURES, SCALE, SIZES, model_filename
from impsy_train.network import event_nll, loss_and_gradients
from impsy_train.optimizer import Adam, Average, cosine_rate
from impsy_train.settings import TrainSettings
from impsy_train.timing_head import TimingHead, settings_for
from impsy_train.weights import Weights, random_weights
from impsy_train.windows import (
    MAX_LEVELS,
    Batch,
    Split,
    chunk_batches,
    padded,
    quantisation_levels,
    split_by_performance,
    usable_events,
)

Progress = Callable[[dict], None]  # called after each epoch with its figures


@dataclass
class TrainResult:
    """What a run produced and the figures for its report."""

    weights: Weights
    settings: TrainSettings
    dimension: int
    history: dict[str, list[float]]
    best_epoch: int  # 1-based
    stopped: str  # "completed", "early stopping" or "interrupted"
    seconds: float
    cpu_seconds: float
    train_events: int
    validation_events: int
    validation_logs: list[str]
    heldout_nll: float  # per event, each held-out performance run from a zero state
    max_gap: float | None = None  # seconds the dataset capped pauses at (None: not recorded)
    levels: int | None = None  # the grid the controls were found on (1/levels steps), if any
    started_from: str | None = None  # the model a fine-tuning run began with
    start_nll: float | None = None  # that model's score on the same held-out events
    files: dict[str, str] = field(default_factory=dict)
    parity: float | None = None
    warnings: list[str] = field(default_factory=list)
    comparison: dict | None = None
    validation: list[np.ndarray] = field(default_factory=list, repr=False)  # the held-out events

    @classmethod
    def of(cls, fit: Fit, settings: TrainSettings, dimension: int, validation: list[np.ndarray],
           validation_logs: list[str], **more: object) -> TrainResult:  # fmt: skip
        """A run's result from what fit() returned and what the run was given."""
        return cls(
            weights=fit.weights, settings=settings, dimension=dimension, history=fit.history,
            best_epoch=fit.best_epoch, stopped=fit.stopped, seconds=fit.seconds, cpu_seconds=fit.cpu_seconds,
            validation_events=sum(len(p) for p in validation), validation_logs=validation_logs,
            validation=validation, heldout_nll=fit.best_loss, **more,
        )  # fmt: skip


class TrainingError(Exception):
    """Training could not produce a model."""


class Interrupt:
    """Ctrl-C (SIGINT) ends training after the current batch, keeping the best epoch; a second
    Ctrl-C stops at once (after the epochs already finished)."""

    def __init__(self) -> None:
        self.requested = False

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this batch, keeping the best epoch (Ctrl-C again stops at once)", flush=True)

    @contextmanager
    def installed(self) -> Iterator[Interrupt]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield self
            return
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def resolve_dequantise(
    settings: TrainSettings, performances: list[np.ndarray]
) -> tuple[TrainSettings, int | None]:
    """The settings with `dequantise` decided (None: on when the data are on a grid), and the grid."""
    levels = quantisation_levels(performances)
    if settings.dequantise and levels is None:
        raise TrainingError(
            "dequantise was asked for, but the control values are on no grid of at most "
            f"{MAX_LEVELS} steps: they are continuous already"
        )
    dequantise = levels is not None if settings.dequantise is None else settings.dequantise
    return replace(settings, dequantise=dequantise), levels


def heldout_nll(weights: Weights, performances: list[np.ndarray]) -> float:
    """Mean negative log-likelihood per predicted event (in the network's scaled units), each
    performance run whole from a zero state, as a live performance starts."""
    performances = [p for p in performances if len(p) >= 2]
    if not performances:
        return float("nan")
    total, count = 0.0, 0
    # A few performances at a time: one padded batch of all of them could hold gigabytes.
    for k in range(0, len(performances), 8):
        inputs, targets, mask = padded(performances[k : k + 8])
        total += float((event_nll(weights, inputs, targets) * mask).sum())
        count += int(mask.sum())
    return total / count


@dataclass
class Fit:
    """The outcome of fitting weights: the kept ones and the history behind them."""

    weights: Weights
    history: dict[str, list[float]]
    best_epoch: int  # 0: the weights it started from
    best_loss: float
    start_loss: float | None  # the starting weights' score, with score_start
    stopped: str
    seconds: float
    cpu_seconds: float  # this process's CPU time: what the run costs on an otherwise idle core


def fit(
    weights: Weights,
    epoch_batches: Callable[[np.random.Generator], list[Batch]],
    validate: Callable[[Weights], float],
    settings: TrainSettings,
    progress: Progress | None = None,
    keep: str = "best",
    score_start: bool = False,
    head: TimingHead | None = None,
) -> Fit:
    """Run epochs of Adam over the batches, scoring each epoch with `validate`.

    keep="best" returns the weights of the epoch with the lowest validation loss, "last"
    those of the last epoch (the original IMPSY recipe). Early stopping, if set, ends the run
    after `patience` epochs without a better validation loss. With score_start, the weights
    it began with compete as epoch 0 (fine-tuning must not make a model worse). With `head`,
    Adam moves its compact columns and every step uses their expansion (see TimingHead).
    """
    rng = np.random.default_rng(settings.seed)
    params = weights.arrays()
    if head is not None:  # the caller's weights keep their own head; Adam moves these columns
        params[-2:] = head.compact(*params[-2:])

    def network(arrays: list[np.ndarray]) -> Weights:
        return weights.with_arrays(arrays if head is None else [*arrays[:-2], *head.expand(*arrays[-2:])])

    optimizer = Adam(params, settings.learning_rate, settings.clip_norm or None, beta2=settings.adam_beta2)
    average = None
    if settings.average_decay:
        average = Average(params, settings.average_decay, ramp=not score_start)
    steps = 0
    history: dict[str, list[float]] = {"loss": [], "val_loss": []}
    best, best_epoch, best_loss, start_loss = None, 0, math.inf, None
    if score_start:
        best = network([a.copy() for a in params])
        best_loss = validate(best)
        start_loss = best_loss
    stopped = "completed"
    started, cpu_started = time.perf_counter(), time.process_time()
    interrupt = Interrupt()

    def scored() -> Weights:
        arrays = average.average if average else params
        return network([a.copy() for a in arrays])

    try:
        with interrupt.installed():
            for epoch in range(settings.epochs):
                rate = cosine_rate(
                    settings.learning_rate, settings.final_learning_rate, epoch / max(settings.epochs - 1, 1)
                )
                losses = []
                for inputs, targets, mask in epoch_batches(rng):
                    net = network(params)
                    loss, grads = loss_and_gradients(net, inputs, targets, mask, settings.event_clip)
                    if head is not None:
                        grads[-2:] = head.gradients(*grads[-2:])
                    # Warm-up: Adam's first steps move every weight by about the full rate at once,
                    # which wrecks a trained network's tiny sigmas when fine-tuning.
                    steps += 1
                    warm = min(1.0, steps / settings.warmup_steps) if settings.warmup_steps else 1.0
                    optimizer.learning_rate = rate * warm
                    if math.isfinite(optimizer.step(grads)):
                        losses.append(loss)
                    if average:
                        average.update()
                    if interrupt.requested:
                        break
                candidate = scored()
                val_loss = validate(candidate)
                history["loss"].append(float(np.mean(losses)) if losses else math.nan)
                history["val_loss"].append(val_loss)
                if val_loss < best_loss or best is None:
                    best, best_epoch, best_loss = candidate, epoch + 1, val_loss
                seconds = time.perf_counter() - started
                if progress:
                    progress({
                        "epoch": epoch + 1, "epochs": settings.epochs, "loss": history["loss"][-1],
                        "val_loss": val_loss, "best_epoch": best_epoch, "seconds": seconds,
                        "eta": seconds / (epoch + 1) * (settings.epochs - epoch - 1),
                    })  # fmt: skip
                if interrupt.requested:
                    stopped = "interrupted"
                    break
                if settings.early_stopping and epoch + 1 - best_epoch >= settings.patience:
                    stopped = "early stopping"
                    break
    except KeyboardInterrupt:  # the second Ctrl-C: keep what the finished epochs gave
        stopped = "interrupted"
    if best is None:
        raise TrainingError("stopped before the first epoch ended: there is no model to save")
    if keep == "last" and history["val_loss"]:
        best, best_epoch, best_loss = candidate, len(history["val_loss"]), history["val_loss"][-1]
    return Fit(best, history, best_epoch, best_loss, start_loss, stopped, time.perf_counter() - started,
               time.process_time() - cpu_started)  # fmt: skip


def parameter_count(dimension: int, size: str, mixtures: int = MIXTURES) -> int:
    """Trainable numbers in a network of this dimension and size."""
    layers, units = SIZES[size]
    lstm = sum(4 * units * (inputs + units + 1) for inputs in [dimension] + [units] * (layers - 1))
    return lstm + (units + 1) * mixtures * (2 * dimension + 1)


def size_warning(dimension: int, size: str, events: int) -> str | None:
    """A warning when the data is too little for the size: fewer events than numbers to learn
    overfits (the network remembers the performances instead of learning the gestures)."""
    if events >= parameter_count(dimension, size):
        return None
    fitting = [name for name in SIZES if parameter_count(dimension, name) <= events]
    advice = f"use --modelsize {fitting[-1]}, or record more" if fitting else "record more performances"
    return (
        f"{events:,} training events are few for size {size} "
        f"({parameter_count(dimension, size):,} weights to learn): it will learn the performances "
        f"by heart rather than your gestures; {advice}"
    )


def train(
    dataset: Dataset,
    settings: TrainSettings,
    split: Split | None = None,
    progress: Progress | None = None,
    start: Weights | None = None,
) -> TrainResult:
    """Fit an MDRNN (new, or from `start`); Ctrl-C stops early and keeps the best epoch so far.

    The held-out performances are drawn from the seed unless `split` names them.
    """
    split = split or split_by_performance(dataset, settings.validation_fraction, settings.seed, min_events=2)
    if not any(len(p) >= 2 for p in split.train):
        raise TrainingError("no training performance has the 2 events a prediction needs")
    layers, units = SIZES[settings.size]
    if start is not None:
        if (start.dimension, start.layers, start.units) != (dataset.dimension, layers, units):
            raise TrainingError(
                f"the model to start from is {start.dimension}d, {start.layers} layers of {start.units} "
                f"units; the data is {dataset.dimension}d and size {settings.size} is {layers} of {units}"
            )
        weights = start.astype(np.float32)
        head = TimingHead.found_in(weights)
    else:
        head = None
        if settings.timings:
            head = TimingHead(dataset.dimension, settings.timings, settings.mixtures)
        mixtures = settings.mixtures if head is None else head.mixtures
        weights = random_weights(
            dataset.dimension, layers, units, mixtures, settings.seed, settings.residual, settings.log_dt
        )
        if head is not None:
            dts = np.concatenate([p[1:, 0] for p in split.train]) * SCALE
            expanded = head.expand(*head.start(units, dts, settings.seed))
            weights = weights.with_arrays([*weights.arrays()[:-2], *expanded])
    settings = settings_for(settings, head)
    train_events = usable_events(split.train, 1)
    warning = size_warning(dataset.dimension, settings.size, train_events)
    if settings.dequantise is False and settings.dequantise_epochs:
        raise TrainingError("--dequantise-epochs spreads the first epochs: it needs --dequantise on or auto")
    settings, levels = resolve_dequantise(settings, split.train)
    jitter = levels if settings.dequantise else None
    epochs = itertools.count()

    def batches(rng: np.random.Generator) -> list[Batch]:
        spread = jitter if next(epochs) < (settings.dequantise_epochs or settings.epochs) else None
        width = settings.dequantise_width
        return chunk_batches(split.train, settings.seq_len, settings.batch_size, rng, spread, width)

    result = fit(
        weights,
        batches,
        lambda w: heldout_nll(w, split.validation),
        settings,
        progress,
        head=head,
    )
    return TrainResult.of(
        result, settings, dataset.dimension, split.validation, split.validation_logs,
        train_events=train_events, max_gap=dataset.meta.get("max_gap"), levels=levels,
        warnings=[warning] if warning else [],
    )  # fmt: skip


# What one trained model is made of, beside each other in models/.
MODEL_FILES = (".tflite", ".report.json", ".loss.svg")


def free_stem(folder: Path, name: str) -> Path:
    """folder/name, or name-2, -3 ...: a new model never replaces one that is there (the
    shipped one that config.toml plays, a model trained yesterday)."""
    candidate, n = name, 1
    while any((folder / (candidate + suffix)).exists() for suffix in MODEL_FILES):
        n += 1
        candidate = f"{name}-{n}"
    return folder / candidate


def save(result: TrainResult, models_dir: str | Path, parity_events: np.ndarray | None = None) -> TrainResult:
    """Write the checked .tflite and the JSON and PNG report into models_dir."""
    from impsy_train.export import export_tflite
    from impsy_train.report import write_report

    w = result.weights
    stem = free_stem(Path(models_dir), model_filename(result.dimension, w.layers, w.units, w.mixtures))
    tflite_path, result.parity = export_tflite(w, stem.with_suffix(".tflite"), parity_events)
    result.files = {"tflite": tflite_path.name}
    write_report(result, stem)
    return result
