"""Learn from tonight, measured: does fine-tuning on later performances help on later still?

For each dimension, the logs are taken in the order they were recorded:
- earlier (all but the last 10 or so): a starting model is trained on them, as the model a
  musician brings to the gig;
- tonight: the next logs, at least TONIGHT_MINUTES of playing;
- later: the rest, which no training sees: the model is scored on them before and after.
Fine-tuning runs as `impsy-train finetune` in its own process (as the web UI runs it), so its
time and peak memory are those of the real command. Scores: NLL per event (scaled units,
lower is better), each later log cut at pauses over 10 s and run from a zero state.

usage: python bench/finetune.py [--data ../shared/data] [--dims 9 4]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from impsy_train.settings import TrainSettings
from impsy_train.tflite import read_weights
from impsy_train.threads import one_blas_thread
from impsy_train.training import heldout_nll, save, train
from model_quality import pieces

from impsy.dataset import DEFAULT_MAX_GAP, build_from_logs
from impsy.logs import find_logs

TONIGHT_MINUTES = 10.0
LATER_LOGS = 6
TARGETS = {"seconds": 60.0, "cpu_seconds": 60.0, "peak_rss_mb": 300.0}


def playing_minutes(logs: list[Path], dimension: int) -> float:
    return build_from_logs(logs, dimension, DEFAULT_MAX_GAP)[0].duration / 60


def run(data: Path, dimension: int, folder: Path) -> dict:
    logs = sorted(find_logs(data / f"performances-{dimension}d", dimension))
    later = logs[-LATER_LOGS:]
    tonight: list[Path] = []
    for log in reversed(logs[:-LATER_LOGS]):
        if playing_minutes(tonight, dimension) >= TONIGHT_MINUTES:
            break
        tonight.insert(0, log)
    earlier = logs[: len(logs) - LATER_LOGS - len(tonight)]

    # The starting model, and a workdir whose older logs predate it and tonight's come after.
    workdir = folder / f"{dimension}d"
    (workdir / "logs").mkdir(parents=True)
    with one_blas_thread():
        start = train(build_from_logs(earlier, dimension, DEFAULT_MAX_GAP)[0], TrainSettings())
    save(start, workdir / "start")
    model = next((workdir / "start").glob("*.tflite"))
    made = model.stat().st_mtime
    for log in earlier + tonight:
        copy = workdir / "logs" / log.name
        shutil.copyfile(log, copy)
        stamp = made - 3600 if log in earlier else made + 60
        os.utime(copy, (stamp, stamp))

    command = [sys.executable, "-m", "impsy_train.cli", "finetune", str(model),
               "--logs", str(workdir / "logs"), "--models", str(workdir / "tuned")]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"finetune failed:\n{done.stdout}{done.stderr}")
    tuned = read_weights(next((workdir / "tuned").glob("*.tflite")).read_bytes())
    scored = pieces(build_from_logs(later, dimension, np.inf)[0])
    with one_blas_thread():
        before, after = heldout_nll(start.weights, scored), heldout_nll(tuned, scored)
    return {
        "dimension": dimension,
        "logs": f"{len(earlier)} earlier, {len(tonight)} tonight, {len(later)} later",
        "tonight_minutes": playing_minutes(tonight, dimension),
        "before": before,
        "after": after,
        "seconds": seconds,
        # The children's figures: fine-tuning is this process's only child. Its CPU time is what
        # it costs on an idle core, whatever else this machine is doing.
        "cpu_seconds": children.ru_utime + children.ru_stime,
        "peak_rss_mb": children.ru_maxrss / 1024,
        "output": done.stdout.strip().splitlines()[-8:],
    }


def report(r: dict) -> None:
    print(f"{r['dimension']}d: {r['logs']} ({r['tonight_minutes']:.1f} min of playing tonight)")
    print(f"  held-out NLL on the later logs: {r['before']:.3f} before, {r['after']:.3f} after "
          f"({r['before'] - r['after']:+.3f} nats per event)")  # fmt: skip
    for key, target in TARGETS.items():
        print(f"  fine-tuning {key:12s} {r[key]:8.1f}   target {target:g}   ratio {r[key] / target:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--dims", type=int, nargs="+", default=[9, 4])
    parser.add_argument("--alone", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.alone:  # one dimension in this process: RUSAGE_CHILDREN is then its one run's peak
        with tempfile.TemporaryDirectory() as tmp:
            report(run(args.data, args.dims[0], Path(tmp)))
        return
    for dimension in args.dims:
        command = [sys.executable, __file__, "--alone", "--dims", str(dimension), "--data", str(args.data)]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
