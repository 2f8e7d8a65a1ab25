"""Training and fine-tuning as web UI jobs: impsy-train's JSON lines become epoch events, and the
models it writes move into models/ under names that never replace one already there.

impsy-train (--progress json) prints `{"progress": {...}}` after each epoch and `{"saved": {...}}`
at the end; `finetune` also prints `tonight's held-out playing: X before, Y after`. Every other
line is output for people, shown as it is.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
from pathlib import Path

from impsy.web.jobs import Job
from impsy.web.paths import MODEL_COMPANIONS, Workdir, unique_name
from impsy.web.trainer import Outcome, Trainer, TrainerError

_NUMBER = r"([-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf))"
_HELDOUT = re.compile(rf"tonight's held-out playing: {_NUMBER} before, {_NUMBER} after")
_ERROR = "impsy-train: error: "
EPOCH_FIELDS = ("epoch", "epochs", "loss", "val_loss", "best_epoch", "seconds", "eta")


def training_available() -> bool:
    """Is impsy-train installed beside the web UI? Looked up without importing it."""
    return importlib.util.find_spec("impsy_train") is not None


def train_arguments(
    dataset: Path, dimension: int, size: str, epochs: int, early: bool, out: Path
) -> list[str]:
    """`impsy-train` arguments that train a new model from a dataset into `out`."""
    arguments = ["train", "-D", str(dimension), "-M", size, "--epochs", str(epochs)]
    arguments += ["--dataset", str(dataset), "--models", str(out), "--progress", "json"]
    return [*arguments, "--earlystopping"] if early else arguments


def finetune_arguments(model: Path, logs: Path, out: Path) -> list[str]:
    """`impsy-train` arguments that carry on training `model` on the logs recorded since it was made."""
    return ["finetune", str(model), "--logs", str(logs), "--models", str(out), "--progress", "json"]


def parse_line(line: str) -> tuple[str, dict] | None:
    """An event from a line of impsy-train's output: ("epoch", ...), ("saved", ...),
    ("heldout", {"before", "after"}), or None for a line meant for people."""
    if line.startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("progress"), dict):
            return "epoch", {key: data["progress"].get(key) for key in EPOCH_FIELDS}
        if isinstance(data, dict) and isinstance(data.get("saved"), dict):
            return "saved", data["saved"]
        return None
    if match := _HELDOUT.search(line):
        return "heldout", {"before": float(match[1]), "after": float(match[2])}
    return None


def training_job(workdir: Workdir, trainer: Trainer, arguments: list[str], staging: Path):
    """Run impsy-train with these arguments (its --models is `staging`), streaming its output
    and epochs; on success the new files move from staging into models/."""

    def work(job: Job) -> None:
        staging.mkdir(parents=True, exist_ok=True)
        job.emit("line", text="$ impsy-train " + shlex.join(arguments))
        try:
            run = trainer.start(arguments, workdir.root)
        except TrainerError as error:
            shutil.rmtree(staging, ignore_errors=True)
            job.finish("failed", str(error))
            return
        job.run = run
        heldout: dict | None = None
        last_error = ""
        for line in run.lines():
            event = parse_line(line)
            if event is None:
                if line.strip():
                    job.emit("line", text=line)
                    last_error = line[len(_ERROR) :] if line.startswith(_ERROR) else last_error
                continue
            kind, data = event
            if kind == "heldout":
                heldout = data
                job.emit("line", text=line)
            job.emit(kind, **data)
        outcome = run.outcome()
        models = collect_trained(workdir, staging)
        shutil.rmtree(staging, ignore_errors=True)
        state, message = ending(outcome, models, job.result.get("stop_requested", False), last_error)
        if heldout and models:
            message += (
                f" Tonight's held-out playing: {heldout['before']:.3f} before, "
                f"{heldout['after']:.3f} after (lower is better)."
            )
        job.finish(state, message, models=models, heldout=heldout)

    return work


def ending(outcome: Outcome, models: list[str], stopped: bool, error: str) -> tuple[str, str]:
    """The job's end state and the message the page shows."""
    if outcome.out_of_memory:
        return "failed", (
            f"training needed more than its {outcome.cap_mb} MB and was stopped; "
            "try a smaller size or fewer logs"
        )
    if outcome.code == 0 and models:
        how = "stopped early; kept the best epoch so far" if stopped else "finished"
        return "done", f"training {how}: {', '.join(models)} is in models/."
    if stopped:
        return "stopped", "training stopped before any epoch ended: no model saved"
    if error:
        return "failed", f"impsy-train stopped: {error}"
    return "failed", f"impsy-train stopped with exit code {outcome.code}: see its output above"


def stop_training(job: Job) -> bool:
    """Ask the training to stop: it ends the current batch and saves the best epoch so far."""
    if job.run is None:
        return False
    job.result["stop_requested"] = True
    return job.run.interrupt()


def collect_trained(workdir: Workdir, staging: Path) -> list[str]:
    """Move trained models (with their report and plot) from staging into models/."""
    models = workdir.folder("model")
    models.mkdir(parents=True, exist_ok=True)
    moved = []
    for tflite in sorted(staging.glob("*.tflite")):
        stem = tflite.name[: -len(".tflite")]
        name = unique_name(models, tflite.name, ".tflite")
        new_stem = name[: -len(".tflite")]
        for suffix in MODEL_COMPANIONS:
            extra = staging / (stem + suffix)
            if extra.is_file():
                shutil.move(str(extra), models / (new_stem + suffix))
        shutil.move(str(tflite), models / name)
        moved.append(name)
    return moved
