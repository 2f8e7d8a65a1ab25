"""How well do models predict performances they never saw? Two recipes on the same folds.

For each fold, every tenth log is held out (a different tenth per fold: the logs a model
trained with `--seed FOLD` holds out, so fold 0 is the shipped models' split). Both recipes train
on the other logs with the same trainer (impsy-train's numpy network), and both are scored
on the same events: the held-out logs, cut at pauses over CUT seconds (the pause itself is
not predicted), each piece run from a zero state as a live performance starts. The figure
is the negative log-likelihood per event in the network's scaled units (lower is better).

- original: the original IMPSY's recipe: windows of 30 events starting at every event,
  batches of 100, the last 10% of windows for validation, early stopping with patience 10,
  the last epoch's weights, pauses as logged, Adam at 1e-3.
- ours: impsy-train's defaults (TrainSettings), pauses capped at 5 s as `impsy dataset` does.
- dequantised: ours with `--dequantise on` (controls spread over their grid cells in training).
- mixtures10: ours with `--mixtures 10` (10 Gaussian components instead of 5).
- timings5: ours with `--timings 5` (dt gets 5 components of its own; 25 in the file).
- timings5-slow: timings5 at a third of the learning rate (3e-4) for 100 epochs.
- mixtures10-slow: mixtures10 so (the shipped default 9d recipe).
- timings5-memory: timings5-slow for 140 epochs with `--log-dt`, the first 40 dequantised (the
  shipped 4d touch recipe: the network learns to remember its recent gaps).

Each result is appended to a JSON-lines file as it comes, so recipes and dimensions can run
as separate processes (two at a time on two cores) and the table be printed at the end:

usage: python bench/model_quality.py [--dims 9 4] [--folds 3] [--recipes original ours]
                                     [--results FILE] [--table-only]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from impsy_train.settings import TrainSettings
from impsy_train.threads import one_blas_thread
from impsy_train.training import fit, heldout_nll, train
from impsy_train.weights import random_weights
from impsy_train.windows import split_by_performance

from impsy.dataset import DEFAULT_MAX_GAP, Dataset, build_from_logs
from impsy.logs import find_logs
from impsy.model import MIXTURES, SCALE, SIZES

CUT = 10.0  # seconds: a longer pause ends a piece of playing
ORIGINAL = TrainSettings(
    epochs=100, batch_size=100, seq_len=30, learning_rate=1e-3, final_learning_rate=1e-3,
    clip_norm=0.0, event_clip=0.0, average_decay=0.0, adam_beta2=0.999, early_stopping=True, patience=10,
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
    start = random_weights(dimension, layers, units, MIXTURES, seed)
    result = fit(start, epoch, validate, settings, progress=show, keep="last")
    return result.weights, {
        "epochs": len(result.history["loss"]), "seconds": result.seconds, "cpu_seconds": result.cpu_seconds
    }  # fmt: skip


def train_ours(train_logs: list[Path], dimension: int, seed: int, **settings: object) -> tuple[object, dict]:
    dataset, _ = build_from_logs(train_logs, dimension, max_gap=DEFAULT_MAX_GAP)
    result = train(dataset, TrainSettings(seed=seed, **settings), progress=show)
    return result.weights, {
        "epochs": len(result.history["loss"]), "best_epoch": result.best_epoch, "seconds": result.seconds,
        "cpu_seconds": result.cpu_seconds,
    }  # fmt: skip


def show(p: dict) -> None:
    print(f"    epoch {p['epoch']}: {p['loss']:.3f} / {p['val_loss']:.3f}, {p['seconds']:.0f} s",
          file=sys.stderr, flush=True)  # fmt: skip


SLOW = {"learning_rate": 3e-4, "epochs": 100}  # a third of the default rate, 2.5 times as long
# ours with other settings, each a line of the list in the docstring above
RECIPES = {
    "original": train_original,
    "ours": train_ours,
    "dequantised": partial(train_ours, dequantise=True),
    "mixtures10": partial(train_ours, mixtures=10),
    "timings5": partial(train_ours, timings=5),
    "timings5-slow": partial(train_ours, timings=5, **SLOW),
    "timings5-memory": partial(
        train_ours, timings=5, learning_rate=3e-4, epochs=140, log_dt=True,
        dequantise=True, dequantise_epochs=40,
    ),
    "mixtures10-slow": partial(train_ours, mixtures=10, **SLOW),
}


def run(data: Path, dimension: int, folds: int, recipes: list[str], results: Path) -> None:
    logs = sorted(find_logs(data / f"performances-{dimension}d", dimension))
    everything = build_from_logs(logs, dimension, DEFAULT_MAX_GAP)[0]
    for fold in range(folds):
        # The same held-out logs as a shipped model trained with seed `fold` (fold 0: seed 0).
        names = split_by_performance(everything, seed=fold).validation_logs
        held = [p for p in logs if p.name in names]
        training = [p for p in logs if p not in held]
        scored = pieces(build_from_logs(held, dimension, max_gap=math.inf)[0])
        for name in recipes:
            weights, info = RECIPES[name](training, dimension, seed=fold)
            row = {"dimension": dimension, "fold": fold, "recipe": name,
                   "nll": heldout_nll(weights, scored), "events": sum(len(p) - 1 for p in scored),
                   "held_out": [p.name for p in held], **info}  # fmt: skip
            print(json.dumps(row), flush=True)
            with results.open("a") as out:
                out.write(json.dumps(row) + "\n")


def summary(rows: list[dict]) -> None:
    """Both recipes side by side per dimension, with their spread over the folds."""
    print("\n| dim | recipe | held-out NLL per event, each fold | mean ± sd | training time per fold (CPU) |")
    print("|---|---|---|---|---|")
    for dimension in sorted({r["dimension"] for r in rows}, reverse=True):
        mine = {(r["recipe"], r["fold"]): r for r in rows if r["dimension"] == dimension}
        folds = sorted({fold for _, fold in mine})
        for name in RECIPES:
            got = [mine[(name, f)] for f in folds if (name, f) in mine]
            if not got:
                continue
            values = np.array([r["nll"] for r in got])
            minutes = np.array([r.get("cpu_seconds", r["seconds"]) for r in got]) / 60
            spread = f"{values.std(ddof=1):.2f}" if len(values) > 1 else "n/a"
            each = ", ".join(f"{v:.2f}" for v in values)
            print(f"| {dimension}d | {name} | {each} | {values.mean():.2f} ± {spread} "
                  f"| {minutes.min():.1f}-{minutes.max():.1f} min |")  # fmt: skip
        paired = [f for f in folds if ("original", f) in mine and ("ours", f) in mine]
        if paired:
            gain = np.array([mine[("original", f)]["nll"] - mine[("ours", f)]["nll"] for f in paired])
            spread = f"{gain.std(ddof=1):.2f}" if len(gain) > 1 else "n/a"
            print(f"| {dimension}d | ours better by | {', '.join(f'{g:.2f}' for g in gain)} "
                  f"| {gain.mean():.2f} ± {spread} nats per event | |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--dims", type=int, nargs="+", default=[9, 4])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--results", type=Path, default=Path("model_quality.jsonl"),
                        help="JSON lines, appended to (default: %(default)s)")  # fmt: skip
    parser.add_argument("--table-only", action="store_true", help="print the table of the results so far")
    args = parser.parse_args()
    started = time.perf_counter()
    if not args.table_only:
        with one_blas_thread():
            for dimension in args.dims:
                run(args.data, dimension, args.folds, args.recipes, args.results)
        print(f"{time.perf_counter() - started:.0f} s in all")
    summary([json.loads(line) for line in args.results.read_text().splitlines() if line.strip()])


if __name__ == "__main__":
    main()
