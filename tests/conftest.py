"""Shared fixtures: tests make their own logs and train their own tiny models."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from impsy.logs import INTERFACE, RNN, LogWriter

REPO = Path(__file__).resolve().parents[1]
# configs/default.toml plays the 9d model with 10 components; the one with 5 stays for configs
# that name it, as the original IMPSY's do.
SHIPPED_9D = REPO / "models" / "musicMDRNN-dim9-layers2-units64-mixtures10-scale10.tflite"
SHIPPED_9D_5 = REPO / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
SHIPPED_4D = REPO / "models" / "musicMDRNN-dim4-layers2-units64-mixtures5-scale10.tflite"


def gesture(n: int, controls: int, phase: float = 0.0, dt: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """A smooth, learnable gesture: dt around `dt`, each control a sine at its own speed."""
    t = np.arange(n) * dt
    values = np.column_stack([0.5 + 0.4 * np.sin(t * (k + 1) + phase) for k in range(controls)])
    return np.full(n, dt), values


def write_log(
    folder: Path,
    dimension: int,
    started: datetime,
    gestures: list[tuple[np.ndarray, np.ndarray]],
    pause: float = 60.0,
    rnn_every: int = 0,
) -> Path:
    """A real log file, written by LogWriter, with `pause` seconds of rest between gestures."""
    writer = LogWriter(folder, dimension, started)
    when = started
    for i, (dts, values) in enumerate(gestures):
        if i:
            when += timedelta(seconds=pause)
        for j, (dt, row) in enumerate(zip(dts, values, strict=True)):
            when += timedelta(seconds=float(dt))
            writer.write(INTERFACE, row, when)
            if rnn_every and j % rnn_every == 0:
                writer.write(RNN, np.clip(row[::-1], 0, 1), when)
    writer.close()
    return writer.path


@pytest.fixture
def make_logs(tmp_path: Path):
    """Write `performances` logs of two gestures each into tmp_path/logs; returns the folder."""

    def make(dimension: int = 4, performances: int = 4, events: int = 120) -> Path:
        folder = tmp_path / "logs"
        start = datetime(2026, 1, 1, 10, 0, 0)
        for p in range(performances):
            write_log(
                folder,
                dimension,
                start + timedelta(hours=p),
                [
                    gesture(events, dimension - 1, phase=p),
                    gesture(events, dimension - 1, phase=p + 1),
                ],
            )
        return folder

    return make


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> dict:
    """An xxs 4d MDRNN trained for a few epochs by impsy-train, exported and checked.

    Returns the TrainResult's files as paths, the result itself and the dataset.
    """
    from impsy_train.training import TrainSettings, save, train

    from impsy.dataset import Dataset

    performances = []
    for p in range(4):
        dt, values = gesture(160, 3, phase=p)
        dt[0] = 0.0
        performances.append(np.column_stack([dt, values]))
    dataset = Dataset(4, np.concatenate(performances), np.arange(4) * 160, [f"perf{p}.log" for p in range(4)])
    result = train(dataset, TrainSettings(size="xxs", epochs=3, seq_len=20))
    folder = tmp_path_factory.mktemp("tiny-model")
    save(result, folder)
    return {
        "result": result,
        "dataset": dataset,
        "folder": folder,
        **{kind: folder / name for kind, name in result.files.items()},
    }
