"""The training report: a JSON file with every figure, and an SVG of the loss curves.

SVG rather than PNG: it is plain text that needs no plotting library (none on the Pi), and
the web UI and any browser show it.
"""

from __future__ import annotations

import json
import math
import os
import platform
from datetime import datetime
from html import escape
from itertools import pairwise
from pathlib import Path

import numpy as np

from impsy import __version__ as impsy_version
from impsy.cli import shipped
from impsy.model import SCALE, ModelError, load_model, model_filename
from impsy_train import __version__
from impsy_train.network import component_scores, logsumexp_rows
from impsy_train.training import TrainResult


def report_paths(stem: Path) -> tuple[Path, Path]:
    """Where the report of a model stem goes: (json, svg)."""
    return stem.with_name(stem.name + ".report.json"), stem.with_name(stem.name + ".loss.svg")


def runtime_nll(tflite: Path, performances: list[np.ndarray]) -> float:
    """Held-out NLL per event of any .tflite the runtime loads (ours or the original's), stepped
    through LiteRT from a zero state for each performance."""
    model = load_model(tflite)
    d, k = model.dimension, model.info.mixtures
    total, count = 0.0, 0
    for performance in performances:
        model.reset()
        for event, target in pairwise(performance):
            params = model.step(event).astype(np.float64)
            mus, sigmas = params[: k * d].reshape(1, k, d), params[k * d : 2 * k * d].reshape(1, k, d)
            logits = params[None, 2 * k * d :]
            log_pis = logits - logsumexp_rows(logits)[:, None]
            _, joint = component_scores(mus, sigmas, log_pis, target[None] * SCALE)
            total -= float(logsumexp_rows(joint)[0])
            count += 1
    return total / count if count else math.nan


def compare_with_shipped(result: TrainResult, validation: list[np.ndarray]) -> dict | None:
    """The best shipped model of the same dimension (any number of mixture components), scored
    on the same held-out performances, so a user sees at once whether the new model is any
    good (a 3-epoch model is not)."""
    if not validation:
        return None
    scores = []
    for path in sorted(shipped("models").glob(f"{model_filename(result.dimension, 2, 64, '*')}.tflite")):
        try:
            scores.append((runtime_nll(path, validation), path.name))
        except ModelError:
            continue
    if not scores:
        return None
    theirs, name = min(scores)
    better = theirs - result.heldout_nll
    verdict = (
        f"better than the shipped model by {better:.2f} nats per event"
        if better > 0
        else f"worse than the shipped model by {-better:.2f} nats per event: train longer, on more "
        "performances, or keep the shipped model"
    )
    return {"shipped_model": name, "shipped_heldout_nll": theirs, "verdict": verdict}


def report_data(result: TrainResult) -> dict:
    """Every figure of a run, plain JSON types only."""
    s, w = result.settings, result.weights
    return {
        "created": datetime.now().isoformat(timespec="seconds"),
        "model": {
            "dimension": result.dimension,
            "size": s.size,
            "layers": w.layers,
            "units": w.units,
            "mixtures": w.mixtures,
            "residual": w.residual,
            "log_dt": w.log_dt,
            "files": result.files,
            "started_from": result.started_from,
        },
        "data": {
            "train_events": result.train_events,
            "validation_events": result.validation_events,
            "validation_logs": result.validation_logs,
            "seq_len": s.seq_len,
            "max_gap_s": result.max_gap,
            "grid_levels": result.levels,  # controls on a grid of 1/levels steps (None: not found)
        },
        "training": {
            "epochs_run": len(result.history["loss"]),
            "best_epoch": result.best_epoch,
            "stopped": result.stopped,
            "seconds": round(result.seconds, 1),
            "cpu_seconds": round(result.cpu_seconds, 1),
            "settings": {k: v for k, v in vars(s).items() if k != "size"},
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "versions": {"impsy": impsy_version, "impsy-train": __version__, "numpy": np.__version__},
        },
        "results": {
            "loss": result.history["loss"],
            "val_loss": result.history["val_loss"],
            "heldout_nll_per_event": result.heldout_nll,
            "start_heldout_nll": result.start_nll,
            "nll_units": "negative log-likelihood of the next event, inputs scaled by 10",
            "compared": result.comparison,
        },
        "warnings": result.warnings,
        "export": {"parity_max_abs_diff": result.parity},
    }


def loss_svg(history: dict[str, list[float]], best_epoch: int, title: str) -> str:
    """Both loss curves against epochs, with the kept epoch marked."""
    width, height, left, bottom, top, right = 640, 360, 70, 40, 30, 20
    series = {"training": history["loss"], "validation (held-out performances)": history["val_loss"]}
    values = [v for vs in series.values() for v in vs if math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    high = high if high > low else low + 1.0
    epochs = max(len(history["loss"]), 2)

    def xy(epoch: int, value: float) -> str:
        x = left + (width - left - right) * (epoch - 1) / (epochs - 1)
        y = top + (height - top - bottom) * (high - value) / (high - low)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle">{escape(title)}</text>',
        f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle">epoch</text>',
        f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" text-anchor="middle">'
        "negative log-likelihood per event</text>",
    ]
    for tick in np.linspace(low, high, 5):
        y = xy(1, tick).split(",")[1]
        parts.append(f'<text x="{left - 6}" y="{y}" text-anchor="end">{tick:.1f}</text>')
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" stroke="#ddd"/>')
    x_best = xy(best_epoch, low).split(",")[0]
    parts.append(f'<line x1="{x_best}" x2="{x_best}" y1="{top}" y2="{height - bottom}" '
                 'stroke="grey" stroke-dasharray="3,3"/>')  # fmt: skip
    parts.append(
        f'<text x="{x_best}" y="{top - 2}" text-anchor="middle" fill="grey">kept: epoch {best_epoch}</text>'
    )
    for (name, vs), colour, row in zip(series.items(), ("#1f77b4", "#d62728"), (0, 1), strict=True):
        points = " ".join(xy(i + 1, v) for i, v in enumerate(vs) if math.isfinite(v))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        y = top + 14 + 16 * row
        parts.append(
            f'<text x="{width - right - 8}" y="{y}" text-anchor="end" fill="{colour}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_report(result: TrainResult, stem: Path) -> tuple[Path, Path]:
    """Write the JSON report and the loss plot next to the model files."""
    json_path, svg_path = report_paths(stem)
    result.files.update({"report": json_path.name, "plot": svg_path.name})
    json_path.write_text(json.dumps(report_data(result), indent=2) + "\n")
    svg_path.write_text(loss_svg(result.history, result.best_epoch, stem.name))
    return json_path, svg_path
