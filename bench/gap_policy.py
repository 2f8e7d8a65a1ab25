"""What to do with long pauses in the logs? Train with three policies and compare.

Real logs hold pauses of minutes between gestures. Policies for the time between events (dt):
  raw:   keep every dt as logged
  cap:   clip dt at MAX_GAP seconds (what `impsy dataset` does)
  split: cut a performance into gestures at any pause over MAX_GAP seconds (dt = 0 at each cut)
Every model is trained with the same settings and scored on the same held-out performances,
cut into gestures (the playing we want a model to learn), as negative log-likelihood per
event; then it plays 2,000 steps on its own, to see how often it asks for a long pause.

usage: python bench/gap_policy.py LOGDIR DIMENSION [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from impsy_train.export import export_tflite
from impsy_train.training import TrainSettings, heldout_nll, train
from impsy_train.windows import Split, split_by_performance

from impsy.dataset import DEFAULT_MAX_GAP as MAX_GAP
from impsy.dataset import Dataset, build_dataset
from impsy.model import load_model


def split_at_gaps(raw: Dataset) -> Dataset:
    """Each performance cut into gestures wherever dt > MAX_GAP; a gesture keeps its log's name."""
    cuts = np.flatnonzero(raw.events[:, 0] > MAX_GAP)
    starts = np.union1d(raw.starts, cuts)
    events = raw.events.copy()
    events[starts, 0] = 0.0
    owner = np.searchsorted(raw.starts, starts, side="right") - 1
    return Dataset(raw.dimension, events, starts, [raw.sources[i] for i in owner])


def holding_out(dataset: Dataset, logs: list[str]) -> Split:
    """The dataset's segments divided by whether their log is held out."""
    parts = list(zip(dataset.performances(), dataset.sources, strict=True))
    return Split([p for p, s in parts if s not in logs], [p for p, s in parts if s in logs], logs)


def free_play(tflite: Path, steps: int = 2000) -> dict:
    """Let the model play alone (battle mode) and describe the pauses it asks for."""
    model = load_model(tflite, seed=1)
    x = np.zeros(model.dimension, np.float32)
    dts = []
    for _ in range(steps):
        x = model.sample(model.step(x), pitemp=1.0, sigmatemp=1.0)
        dts.append(x[0])
    dts = np.array(dts)
    return {
        "median_dt": round(float(np.median(dts)), 4),
        "long_pauses_pct": round(100 * float(np.mean(dts > MAX_GAP)), 2),
        "max_dt": round(float(dts.max()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("logs", type=Path)
    parser.add_argument("dimension", type=int)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    raw, _ = build_dataset(args.logs, args.dimension, float("inf"))
    datasets = {
        "raw": raw,
        "cap": build_dataset(args.logs, args.dimension, MAX_GAP)[0],
        "split": split_at_gaps(raw),
    }
    settings = TrainSettings(size="s", epochs=args.epochs, early_stopping=True, patience=5)
    held_logs = split_by_performance(raw, settings.validation_fraction, settings.seed).validation_logs
    scored_on = holding_out(datasets["split"], held_logs).validation
    results = {}
    for policy, dataset in datasets.items():
        result = train(dataset, settings, split=holding_out(dataset, held_logs))
        with tempfile.TemporaryDirectory() as tmp:
            tflite, _ = export_tflite(result.weights, Path(tmp) / "m.tflite")
            play = free_play(tflite)
        results[policy] = {
            "heldout_nll_per_event": round(heldout_nll(result.weights, scored_on), 3),
            "best_epoch": result.best_epoch,
            "minutes": round(result.seconds / 60, 1),
            **play,
        }
        print(policy, json.dumps(results[policy]), flush=True)
    print(
        json.dumps(
            {"dimension": args.dimension, "held_out": held_logs, "max_gap": MAX_GAP, "results": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    started = time.time()
    main()
    print(f"total {time.time() - started:.0f} s")
