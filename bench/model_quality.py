"""How well do models predict performances they never saw? Two recipes on the same folds.

For each fold, every tenth log (a different tenth per fold) is held out. Both recipes train
on the other logs with the same trainer (impsy-train's numpy network), and both are scored
on the same events: the held-out logs, cut at pauses over CUT seconds (the pause itself is
not predicted), each piece run from a zero state as a live performance starts. The figure
is the negative log-likelihood per event in the network's scaled units (lower is better).

- original: the original IMPSY's recipe: windows of 30 events starting at every event,
  batches of 100, the last 10% of windows for validation, early stopping with patience 10,
  the last epoch's weights, pauses as logged, Adam at 1e-3.
- ours: impsy-train's defaults (TrainSettings), pauses capped at 5 s as `impsy dataset` does.

usage: python bench/model_quality.py [--data ../shared/data] [--dims 9 4] [--folds 3]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from impsy_train.settings import TrainSettings
from impsy_train.threads import one_blas_thread
from impsy_train.training import fit, heldout_nll, train
from impsy_train.weights import random_weights

from impsy.dataset import DEFAULT_MAX_GAP, Dataset, build_from_logs
from impsy.logs import find_logs
from impsy.model import MIXTURES, SCALE, SIZES

CUT = 10.0  # seconds: a longer pause ends a piece of playing
ORIGINAL = TrainSettings(
    epochs=100, batch_size=100, seq_len=30, learning_rate=1e-3, final_learning_rate=1e-3,
    clip_norm=0.0, average_decay=0.0, early_stopping=True, patience=10,
)  # fmt: skip


def pieces(dataset: Dataset, cut: float = CUT) -> list[np.ndarray]:
    """Each performance cut wherever a pause is longer than `cut` seconds (dt = 0 there)."""
    out = []
    for performance in dataset.performances():
        cuts = np.flatnonzero(performance[:, 0] > cut)
        for part in np.split(performance, cuts):
            part = part.copy()
            part[0, 0] = 0.0
            out.append(part)
    return [p for p in out if len(p) >= 2]


def original_windows(performances: list[np.ndarray], seq_len: int) -> np.ndarray:
    """Overlapping windows of seq_len + 1 events starting at every event, scaled."""
    windows = [
        np.lib.stride_tricks.sliding_window_view(p, (seq_len + 1, p.shape[1]))[:, 0]
        for p in performances
        if len(p) > seq_len
    ]
    return np.concatenate(windows).astype(np.float32) * SCALE


def train_original(train_logs: list[Path], dimension: int, seed: int) -> tuple[object, dict]:
    """The original IMPSY's recipe, on our network code."""
    dataset, _ = build_from_logs(train_logs, dimension, max_gap=math.inf)
    windows = original_windows(dataset.performances(), ORIGINAL.seq_len)
    held = int(len(windows) * 0.1)
    fitting, validation = windows[:-held], windows[-held:]

    def time_major(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        block = block.transpose(1, 0, 2)
        return block[:-1], block[1:], np.ones(block.shape[:2], np.float32)[:-1]

    def epoch(rng: np.random.Generator) -> list:
        order = rng.permutation(len(fitting))
        return [time_major(fitting[order[k : k + 100]]) for k in range(0, len(order), 100)]

    def validate(weights) -> float:
        from impsy_train.network import event_nll

        total = 0.0
        for k in range(0, len(validation), 1000):
            x, y, _ = time_major(validation[k : k + 1000])
            total += float(event_nll(weights, x, y).sum())
        return total / (held * ORIGINAL.seq_len)

    layers, units = SIZES["s"]
    settings = TrainSettings(**{**ORIGINAL.__dict__, "seed": seed})
    result = fit(
        random_weights(dimension, layers, units, MIXTURES, seed), epoch, validate, settings, keep="last"
    )
    return result.weights, {"epochs": len(result.history["loss"]), "seconds": result.seconds}


def train_ours(train_logs: list[Path], dimension: int, seed: int) -> tuple[object, dict]:
    dataset, _ = build_from_logs(train_logs, dimension, max_gap=DEFAULT_MAX_GAP)
    result = train(dataset, TrainSettings(seed=seed))
    return result.weights, {
        "epochs": len(result.history["loss"]), "best_epoch": result.best_epoch, "seconds": result.seconds
    }  # fmt: skip


def run(data: Path, dimension: int, folds: int) -> list[dict]:
    logs = sorted(find_logs(data / f"performances-{dimension}d", dimension))
    rows = []
    for fold in range(folds):
        held = logs[fold::10]
        training = [p for p in logs if p not in held]
        test, _ = build_from_logs(held, dimension, max_gap=math.inf)
        scored = pieces(test)
        row = {"dimension": dimension, "fold": fold, "held_out": [p.name for p in held],
               "events": sum(len(p) - 1 for p in scored)}  # fmt: skip
        for name, recipe in (("original", train_original), ("ours", train_ours)):
            weights, info = recipe(training, dimension, seed=fold)
            row[name] = {"nll": heldout_nll(weights, scored), **info}
            print(f"  {dimension}d fold {fold} {name:8s} {row[name]}", flush=True)
        rows.append(row)
    return rows


def summary(rows: list[dict]) -> None:
    print("\n| dim | recipe | held-out NLL per event, each fold | mean ± sd | training time per fold |")
    print("|---|---|---|---|---|")
    for dimension in sorted({r["dimension"] for r in rows}, reverse=True):
        mine = [r for r in rows if r["dimension"] == dimension]
        for name in ("original", "ours"):
            values = np.array([r[name]["nll"] for r in mine])
            seconds = np.array([r[name]["seconds"] for r in mine])
            folds = ", ".join(f"{v:.2f}" for v in values)
            print(f"| {dimension}d | {name} | {folds} | {values.mean():.2f} ± {values.std(ddof=1):.2f} "
                  f"| {seconds.min() / 60:.1f}-{seconds.max() / 60:.1f} min |")  # fmt: skip
        gain = np.array([r["original"]["nll"] - r["ours"]["nll"] for r in mine])
        print(f"| {dimension}d | ours better by | {', '.join(f'{g:.2f}' for g in gain)} "
              f"| {gain.mean():.2f} ± {gain.std(ddof=1):.2f} nats per event | |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--dims", type=int, nargs="+", default=[9, 4])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    with one_blas_thread():
        for dimension in args.dims:
            rows += run(args.data, dimension, args.folds)
    summary(rows)
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
