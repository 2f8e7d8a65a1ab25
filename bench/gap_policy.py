"""Does cutting logs into gestures at long pauses help? Train with three policies and compare.

Policies for the time between events (dt) in real logs, which holds pauses of minutes:
  raw:   keep every dt as logged
  cap:   clip dt at MAX_GAP seconds
  split: end a gesture at any pause over MAX_GAP seconds (what `impsy dataset` does)
Every model is scored on the same held-out performances, cut into gestures (the playing we
want the model to learn), as negative log-likelihood per event; and it then plays 2,000 steps
on its own, to see how often it asks for a pause longer than MAX_GAP.

usage: python bench/gap_policy.py LOGDIR DIMENSION [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from impsy_train.export import export_tflite
from impsy_train.training import TrainSettings, heldout_nll, train
from impsy_train.windows import split_by_performance

from impsy.dataset import DEFAULT_MAX_GAP, Dataset, build_dataset
from impsy.model import load_model


def with_policy(raw: Dataset, policy: str) -> Dataset:
    """The raw (unsplit) dataset with one dt policy applied."""
    if policy == "raw":
        return raw
    events = raw.events.copy()
    events[:, 0] = np.minimum(events[:, 0], DEFAULT_MAX_GAP)
    return Dataset(raw.dimension, events, raw.starts, raw.sources)


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
        "long_pauses_pct": round(100 * float(np.mean(dts > DEFAULT_MAX_GAP)), 2),
        "max_dt": round(float(dts.max()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("logs", type=Path)
    parser.add_argument("dimension", type=int)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    split_ds, _ = build_dataset(args.logs, args.dimension, DEFAULT_MAX_GAP)
    raw_ds, _ = build_dataset(args.logs, args.dimension, float("inf"))
    settings = TrainSettings(size="s", epochs=args.epochs, early_stopping=True, patience=5)
    held = split_by_performance(split_ds, settings.validation_fraction, settings.seed)
    datasets = {"raw": raw_ds, "cap": with_policy(raw_ds, "cap"), "split": split_ds}
    results = {}
    for policy, dataset in datasets.items():
        result = train(dataset, settings, verbose=0)
        assert result.validation_logs == held.validation_logs  # same held-out performances
        with tempfile.TemporaryDirectory() as tmp:
            tflite, _ = export_tflite(result.model, Path(tmp) / "m.tflite")
            play = free_play(tflite)
        results[policy] = {
            "heldout_nll_per_event": round(heldout_nll(result.model, held.validation), 3),
            "best_epoch": result.best_epoch,
            "minutes": round(result.seconds / 60, 1),
            **play,
        }
        print(policy, json.dumps(results[policy]), flush=True)
    print(
        json.dumps(
            {
                "dimension": args.dimension,
                "held_out": held.validation_logs,
                "max_gap": DEFAULT_MAX_GAP,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    started = time.time()
    main()
    print(f"total {time.time() - started:.0f} s")
