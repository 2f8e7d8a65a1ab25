"""Train an MDRNN on a dataset, keep the best weights, and save the model, its .tflite and a report."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from impsy.dataset import Dataset
from impsy.model import SCALE, SIZES, model_filename
from impsy_train.export import export_tflite
from impsy_train.network import build_model, mixture_nll
from impsy_train.settings import TrainSettings
from impsy_train.windows import Split, split_by_performance, usable_events, windows


@dataclass
class TrainResult:
    """What a run produced and the figures for its report."""

    model: keras.Model
    settings: TrainSettings
    dimension: int
    history: dict[str, list[float]]
    best_epoch: int  # 1-based
    stopped: str  # "completed", "early stopping" or "interrupted"
    seconds: float
    train_events: int
    validation_events: int
    windows: int
    validation_logs: list[str]
    heldout_nll: float  # per event, the network run over each held-out performance from a zero state
    max_gap: float | None = None  # seconds the dataset capped pauses at (None: not recorded)
    files: dict[str, str] = field(default_factory=dict)
    parity: float | None = None


class TrainingError(Exception):
    """Training could not produce a model."""


class StopOnInterrupt(keras.callbacks.Callback):
    """Ctrl-C (SIGINT) ends training after the current batch; a second Ctrl-C stops at once.

    A KeyboardInterrupt raised in the middle of a TensorFlow step can corrupt TensorFlow's
    memory and abort the process, losing the model; a flag checked between batches cannot.
    """

    def __init__(self) -> None:
        super().__init__()
        self.requested = False
        self._previous = None

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this batch, keeping the best epoch (Ctrl-C again stops at once)", flush=True)

    def on_train_begin(self, logs: dict | None = None) -> None:
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.requested:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class KeepBest(keras.callbacks.Callback):
    """Remember the weights of the epoch with the lowest validation loss."""

    def __init__(self) -> None:
        super().__init__()
        self.best = np.inf
        self.epoch = 0
        self.weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("val_loss", np.inf)
        if loss < self.best:
            self.best, self.epoch, self.weights = loss, epoch + 1, self.model.get_weights()


class RecordHistory(keras.callbacks.Callback):
    """Losses per epoch, kept even when fit() is interrupted (its own History is not returned then)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {"loss": [], "val_loss": []}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key in self.history:
            self.history[key].append(float((logs or {}).get(key, np.nan)))


def heldout_nll(model: keras.Model, performances: list[np.ndarray]) -> float:
    """Mean negative log-likelihood per predicted event (in the network's scaled units)."""
    loss = mixture_nll(model.get_layer("mdn").dimension, model.get_layer("mdn").mixtures)
    total, count = 0.0, 0
    for performance in performances:
        if len(performance) < 2:
            continue
        scaled = performance[None].astype(np.float32) * SCALE
        total += float(np.sum(loss(scaled[:, 1:], model(scaled[:, :-1]))))
        count += len(performance) - 1
    return total / count if count else float("nan")


def train(
    dataset: Dataset, settings: TrainSettings, verbose: int = 1, split: Split | None = None
) -> TrainResult:
    """Fit a new MDRNN; Ctrl-C stops early and keeps the best epoch so far.

    The held-out performances are drawn from the seed unless `split` names them.
    """
    keras.utils.set_random_seed(settings.seed)
    split = split or split_by_performance(
        dataset, settings.validation_fraction, settings.seed, min_events=settings.seq_len + 1
    )
    x_train, y_train = windows(split.train, settings.seq_len, settings.seq_step)
    # Validation windows do not overlap, so each held-out event counts once.
    x_val, y_val = windows(split.validation, settings.seq_len, settings.seq_len)
    model = build_model(dataset.dimension, settings.size, learning_rate=settings.learning_rate)
    best, record = KeepBest(), RecordHistory()
    interrupt = StopOnInterrupt()
    callbacks: list[keras.callbacks.Callback] = [best, record, interrupt]
    if settings.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience))
    started = time.perf_counter()
    stopped = "completed"
    try:
        model.fit(
            x_train,
            y_train,
            batch_size=settings.batch_size,
            epochs=settings.epochs,
            validation_data=(x_val, y_val),
            shuffle=True,
            callbacks=callbacks,
            verbose=verbose,
        )
    except KeyboardInterrupt:  # the second Ctrl-C: keep what the finished epochs gave
        stopped = "interrupted"
    if interrupt.requested:
        stopped = "interrupted"
    seconds = time.perf_counter() - started
    if best.weights is None:
        raise TrainingError("stopped before the first epoch ended: there is no model to save")
    if stopped == "completed" and len(record.history["loss"]) < settings.epochs:
        stopped = "early stopping"
    model.set_weights(best.weights)
    return TrainResult(
        model=model,
        settings=settings,
        dimension=dataset.dimension,
        history=record.history,
        best_epoch=best.epoch,
        stopped=stopped,
        seconds=seconds,
        train_events=usable_events(split.train, settings.seq_len),
        validation_events=sum(len(g) for g in split.validation),
        windows=len(x_train),
        validation_logs=split.validation_logs,
        heldout_nll=heldout_nll(model, split.validation),
        max_gap=dataset.meta.get("max_gap"),
    )


# What one trained model is made of, beside each other in models/.
MODEL_FILES = (".keras", ".tflite", ".report.json", ".loss.png")


def free_stem(folder: Path, name: str) -> Path:
    """folder/name, or name-2, -3 ...: a new model never replaces one that is there (the
    shipped one that config.toml plays, a model trained yesterday)."""
    candidate, n = name, 1
    while any((folder / (candidate + suffix)).exists() for suffix in MODEL_FILES):
        n += 1
        candidate = f"{name}-{n}"
    return folder / candidate


def save(result: TrainResult, models_dir: str | Path, parity_events: np.ndarray | None = None) -> TrainResult:
    """Write the .keras model, the checked .tflite, and the JSON and PNG report into models_dir."""
    from impsy_train.report import write_report

    layers, units = SIZES[result.settings.size]
    stem = free_stem(Path(models_dir), model_filename(result.dimension, layers, units))
    stem.parent.mkdir(parents=True, exist_ok=True)
    keras_path = stem.with_suffix(".keras")
    result.model.save(keras_path)
    tflite_path, result.parity = export_tflite(result.model, stem.with_suffix(".tflite"), parity_events)
    result.files = {"keras": keras_path.name, "tflite": tflite_path.name}
    write_report(result, stem)
    return result
