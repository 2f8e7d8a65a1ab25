"""The training report: a JSON file with the figures and a PNG of the loss curves."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import keras
import tensorflow as tf

from impsy import __version__ as impsy_version
from impsy.model import SIZES
from impsy_train.training import TrainResult


def report_paths(stem: Path) -> tuple[Path, Path]:
    """Where the report of a model stem goes: (json, png)."""
    return stem.with_name(stem.name + ".report.json"), stem.with_name(stem.name + ".loss.png")


def report_data(result: TrainResult) -> dict:
    """Every figure of a run, plain JSON types only."""
    s = result.settings
    layers, units = SIZES[s.size]
    return {
        "model": {
            "dimension": result.dimension,
            "size": s.size,
            "layers": layers,
            "units": units,
            "mixtures": result.model.get_layer("mdn").mixtures,
            "files": result.files,
        },
        "data": {
            "train_events": result.train_events,
            "validation_events": result.validation_events,
            "validation_logs": result.validation_logs,
            "windows": result.windows,
            "seq_len": s.seq_len,
            "seq_step": s.seq_step,
            "max_gap_s": result.max_gap,
        },
        "training": {
            "epochs_run": len(result.history["loss"]),
            "best_epoch": result.best_epoch,
            "stopped": result.stopped,
            "seconds": round(result.seconds, 1),
            "batch_size": s.batch_size,
            "learning_rate": s.learning_rate,
            "early_stopping": s.early_stopping,
            "patience": s.patience,
            "seed": s.seed,
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "versions": {
                "impsy": impsy_version,
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
            },
        },
        "results": {
            "loss": result.history["loss"],
            "val_loss": result.history["val_loss"],
            "best_val_loss": min(result.history["val_loss"], default=None),
            "heldout_nll_per_event": result.heldout_nll,
            "nll_units": "negative log-likelihood of the next event, inputs scaled by 10",
        },
        "export": {"parity_max_abs_diff": result.parity},
    }


def write_report(result: TrainResult, stem: Path) -> tuple[Path, Path]:
    """Write the JSON report and the loss plot next to the model files."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen needed
    import matplotlib.pyplot as plt

    json_path, png_path = report_paths(stem)
    result.files.update({"report": json_path.name, "plot": png_path.name})
    json_path.write_text(json.dumps(report_data(result), indent=2) + "\n")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    epochs = range(1, len(result.history["loss"]) + 1)
    ax.plot(epochs, result.history["loss"], label="training")
    ax.plot(epochs, result.history["val_loss"], label="validation (held-out performances)")
    ax.axvline(result.best_epoch, color="grey", linestyle=":", label=f"kept: epoch {result.best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative log-likelihood per event")
    ax.set_title(f"{stem.name}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return json_path, png_path
