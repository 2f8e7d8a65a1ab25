"""Write trained weights as a one-step, built-in-ops .tflite and prove LiteRT runs it as trained.

The file comes from our own FlatBuffer writer (impsy_train.tflite), not from a converter, so
exporting needs neither TensorFlow nor a network. Nothing is written unless LiteRT's answers
match the numpy reference step to within PARITY_TOLERANCE over PARITY_STEPS events.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from impsy.model import SCALE
from impsy.model.litert import LiteRTModel
from impsy_train.tflite import write_tflite
from impsy_train.weights import Weights, step

PARITY_STEPS = 200
PARITY_TOLERANCE = 1e-4


class ExportError(Exception):
    """The export failed or does not match the trained network."""


def parity(weights: Weights, tflite_path: str | Path, events: np.ndarray) -> float:
    """Largest difference between the numpy reference and LiteRT's mixture parameters over a
    run of events (data units), each network carrying its own state."""
    runtime = LiteRTModel(tflite_path)
    reference = weights.astype(np.float64)
    state = np.zeros((weights.layers, 2, weights.units))
    worst = 0.0
    for event in events:
        expected, state = step(reference, event.astype(np.float32) * SCALE, state)
        worst = max(worst, float(np.max(np.abs(expected - runtime.step(event)))))
    return worst


def parity_events(dimension: int, steps: int = PARITY_STEPS, seed: int = 0) -> np.ndarray:
    """A plausible run of events: dt around 50 ms, controls anywhere in [0, 1]."""
    rng = np.random.default_rng(seed)
    events = rng.random((steps, dimension)).astype(np.float32)
    events[:, 0] = rng.exponential(0.05, steps)
    return events


def export_tflite(weights: Weights, path: str | Path, events: np.ndarray | None = None) -> tuple[Path, float]:
    """Write the .tflite and check it against the reference; returns (path, max difference)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(write_tflite(weights.astype(np.float32)))
    if events is None or len(events) < PARITY_STEPS:
        events = parity_events(weights.dimension)
    try:
        difference = parity(weights, tmp, events[:PARITY_STEPS])
    except Exception:
        tmp.unlink()
        raise
    if not difference <= PARITY_TOLERANCE:  # also catches NaN
        tmp.unlink()
        raise ExportError(
            f"{path.name}: LiteRT and the trained network disagree by {difference:.2e} over "
            f"{PARITY_STEPS} steps (allowed {PARITY_TOLERANCE:.0e}); the file was not written"
        )
    tmp.replace(path)
    return path, difference
