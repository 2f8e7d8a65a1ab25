"""impsy-train end to end on generated data: train, export, parity, report, CLI."""

import json
import os
import signal
from datetime import datetime

import numpy as np
import pytest
from impsy_train import cli
from impsy_train.export import PARITY_TOLERANCE, ExportError, parity
from impsy_train.tflite import read_weights
from impsy_train.training import TrainSettings, train
from impsy_train.windows import chunk_batches, split_by_performance

from impsy.dataset import Dataset
from impsy.model import load_model

pytestmark = pytest.mark.train


def test_export_matches_the_network_and_loads_in_the_runtime(tiny_model):
    result = tiny_model["result"]
    assert result.parity <= PARITY_TOLERANCE
    model = load_model(tiny_model["tflite"])
    assert (model.info.dimension, model.info.layers, model.info.units, model.info.size) == (
        4,
        2,
        16,
        "xxs",
    )
    # An independent re-check on other events than the export used.
    events = tiny_model["dataset"].events[100:300]
    assert parity(result.weights, tiny_model["tflite"], events) <= PARITY_TOLERANCE


def test_the_weights_read_back_from_the_tflite_are_the_trained_ones(tiny_model):
    weights = read_weights(tiny_model["tflite"].read_bytes())
    trained = tiny_model["result"].weights
    assert weights.residual == trained.residual
    assert all(np.array_equal(a, b) for a, b in zip(weights.arrays(), trained.arrays(), strict=True))


def test_parity_failure_is_loud_and_writes_nothing(tiny_model, tmp_path, monkeypatch):
    import impsy_train.export as export

    monkeypatch.setattr(export, "parity", lambda *a: 0.5)
    with pytest.raises(ExportError, match=r"disagree by 5\.00e-01"):
        export.export_tflite(tiny_model["result"].weights, tmp_path / "x.tflite")
    assert not list(tmp_path.iterdir())


def test_report_holds_the_figures(tiny_model):
    report = json.loads(tiny_model["report"].read_text())
    assert report["model"]["size"] == "xxs"
    assert len(report["results"]["loss"]) == report["training"]["epochs_run"] == 3
    assert np.isfinite(report["results"]["heldout_nll_per_event"])
    assert report["export"]["parity_max_abs_diff"] <= PARITY_TOLERANCE
    svg = tiny_model["plot"].read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and "kept: epoch" in svg


def test_validation_holds_out_whole_performances(tiny_model):
    dataset = tiny_model["dataset"]
    split = split_by_performance(dataset, 0.25, seed=0)
    assert len(split.validation_logs) == 1 and len(split.validation) == 1 and len(split.train) == 3
    held = dataset.sources.index(split.validation_logs[0])
    assert np.shares_memory(split.validation[0], dataset.performances()[held])
    assert not any(np.shares_memory(t, split.validation[0]) for t in split.train)


def test_only_performances_long_enough_for_a_window_are_held_out():
    short = [np.zeros((30, 4), np.float32)] * 5  # shorter than one window of 50 + 1
    long = [np.ones((160, 4), np.float32)] * 2
    performances = short + long
    dataset = Dataset(4, np.concatenate(performances), np.cumsum([0] + [len(p) for p in performances[:-1]]),
                      [f"p{i}.log" for i in range(7)])  # fmt: skip
    for seed in range(20):
        split = split_by_performance(dataset, 0.5, seed=seed, min_events=51)
        assert split.validation_logs in (["p5.log"], ["p6.log"])
    with pytest.raises(ValueError, match=r"at least two performances of 51 events or more .* 0 of the 5"):
        split_by_performance(Dataset(4, np.concatenate(short), np.arange(5) * 30, []), min_events=51)


def test_an_epoch_uses_every_event_once_and_never_crosses_performances():
    a = np.zeros((95, 2), np.float32)
    b = np.ones((40, 2), np.float32)
    batches = chunk_batches([a, b], seq_len=10, batch_size=4, rng=np.random.default_rng(0))
    targets = sum(float(mask.sum()) for _, _, mask in batches)
    assert targets == (95 - 1) + (40 - 1)  # each event but a performance's first is a target once
    for inputs, outputs, mask in batches:
        for column in range(inputs.shape[1]):
            used = mask[:, column] > 0
            values = np.concatenate([inputs[used, column], outputs[used, column]])
            assert np.all(values == values[0])  # one performance per run


def test_ctrl_c_keeps_the_best_epoch_so_far(tiny_model):
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job

    def progress(figures):
        if figures["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered to this process

    result = train(tiny_model["dataset"], TrainSettings(size="xxs", epochs=10, seq_len=20), progress=progress)
    assert result.stopped == "interrupted"
    # Ctrl-C as epoch 2 ends: training stops there, without starting epoch 3.
    assert len(result.history["loss"]) == 2
    assert result.history["val_loss"][result.best_epoch - 1] == min(result.history["val_loss"])
    assert signal.getsignal(signal.SIGINT) is before  # handler given back


def test_early_stopping_stops_and_keeps_the_best(tiny_model):
    from impsy_train.training import fit
    from impsy_train.weights import random_weights
    from impsy_train.windows import padded

    scores = iter([5.0, 4.0, 4.5, 4.2, 4.1, 3.0])
    batch = padded(tiny_model["dataset"].performances()[:2])
    result = fit(random_weights(4, 2, 16, 5), lambda rng: [batch], lambda w: next(scores),
                 TrainSettings(epochs=6, early_stopping=True, patience=2))  # fmt: skip
    assert result.stopped == "early stopping"
    assert result.history["val_loss"] == [5.0, 4.0, 4.5, 4.2]  # two epochs without a better score
    assert (result.best_epoch, result.best_loss) == (2, 4.0)


def test_cli_trains_from_logs(make_logs, tmp_path, capsys):
    logs = make_logs(dimension=3, performances=3, events=60)
    models = tmp_path / "models"
    code = cli.main(
        [
            "train",
            "-D",
            "3",
            "-M",
            "xxs",
            "--epochs",
            "1",
            "--seq-len",
            "10",
            "--logs",
            str(logs),
            "--models",
            str(models),
            "--max-gap",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3 performances, 360 events" in out
    stem = models / "musicMDRNN-dim3-layers2-units16-mixtures5-scale10"
    assert stem.with_suffix(".tflite").is_file()
    report = json.loads(stem.with_suffix(".report.json").read_text())
    assert report["data"]["max_gap_s"] == 3.0  # what the model learnt pauses as
    assert "LiteRT and the trained network agree within" in out


def test_cli_refuses_an_original_pickled_dataset_unless_allowed(tmp_path, capsys):
    perfs = np.empty(2, dtype=object)
    perfs[0], perfs[1] = np.zeros((5, 3)), np.zeros((7, 3))
    np.savez(tmp_path / "old.npz", perfs=perfs)
    code = cli.main(["train", "-D", "3", "--dataset", str(tmp_path / "old.npz")])
    assert code == 1
    assert "stored with pickle" in capsys.readouterr().err


def test_export_of_a_keras_model_says_where_its_tflite_is(tmp_path, capsys):
    old = tmp_path / "musicMDRNN-dim4-layers2-units64-mixtures5-scale10.keras"
    old.write_bytes(b"PK")
    assert cli.main(["export", str(old)]) == 1
    err = capsys.readouterr().err
    assert "has its .tflite beside it" in err and "train a new one from the same logs" in err


def test_a_new_model_never_replaces_one_that_is_there(tmp_path):
    from impsy_train.training import free_stem

    name = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10"
    assert free_stem(tmp_path, name) == tmp_path / name
    (tmp_path / f"{name}.tflite").write_bytes(b"the shipped model config.toml plays")
    assert free_stem(tmp_path, name) == tmp_path / f"{name}-2"
    (tmp_path / f"{name}-2.report.json").write_text("{}")  # any of a model's files takes the name
    assert free_stem(tmp_path, name) == tmp_path / f"{name}-3"
    (tmp_path / f"{name}-3.loss.svg").write_text("<svg/>")  # even its loss plot alone
    assert free_stem(tmp_path, name) == tmp_path / f"{name}-4"


def test_training_too_little_data_is_a_clear_error():
    tiny = Dataset(3, np.zeros((2, 3)), np.array([0, 1]), ["a", "b"])
    with pytest.raises(ValueError, match=r"at least two performances of 2 events or more .* 0 of the 2"):
        train(tiny, TrainSettings(size="xxs", epochs=1))


def test_ctrl_c_on_the_real_command_saves_the_best_epoch_even_if_started_ignoring_it(make_logs, tmp_path):
    """`nohup impsy-train ... &` starts it with SIGINT ignored; Ctrl-C (or the web UI's Stop) still works."""
    import signal
    import subprocess
    import sys

    logs = make_logs(dimension=3, performances=3, events=60)
    models = tmp_path / "models"
    command = [
        sys.executable,
        "-m",
        "impsy_train.cli",
        "train",
        "-D",
        "3",
        "-M",
        "xxs",
        "--epochs",
        "500",
        "--seq-len",
        "10",
        "--logs",
        str(logs),
        "--models",
        str(models),
    ]
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    lines = []
    for line in child.stdout:
        lines.append(line)
        if line.startswith("epoch 3/"):
            child.send_signal(signal.SIGINT)
            break
    out = "".join(lines) + child.communicate(timeout=120)[0]
    assert child.returncode == 0, out
    assert "interrupted after" in out
    assert (models / "musicMDRNN-dim3-layers2-units16-mixtures5-scale10.tflite").is_file()


def quantised(rng: np.random.Generator, levels: int, n: int = 300, dimension: int = 4) -> np.ndarray:
    """A performance whose controls are on a grid of 1/levels (as logs keep them: 6 decimals)."""
    events = np.round(rng.integers(0, levels + 1, (n, dimension)) / levels, 6).astype(np.float32)
    events[:, 0] = rng.uniform(0.01, 0.2, n)  # dt is never on a grid
    return events


@pytest.mark.parametrize("levels", [127, 128, 100])
def test_the_grid_of_quantised_controls_is_found(levels):
    from impsy_train.windows import quantisation_levels

    rng = np.random.default_rng(0)
    assert quantisation_levels([quantised(rng, levels), quantised(rng, levels)]) == levels


def test_continuous_controls_and_switches_have_no_grid():
    from impsy_train.windows import quantisation_levels

    rng = np.random.default_rng(0)
    continuous = rng.uniform(0, 1, (300, 4)).astype(np.float32)
    assert quantisation_levels([continuous]) is None
    # One stray continuous value among grid values is enough to find no grid.
    almost = quantised(rng, 127)
    almost[5, 2] = 0.123457
    assert quantisation_levels([almost]) is None
    switch = rng.integers(0, 2, (300, 4)).astype(np.float32)  # only 0 and 1: no grid to spread over
    assert quantisation_levels([switch]) is None


@pytest.mark.parametrize("width", [1.0, 0.5])
def test_dequantised_values_stay_in_their_cells_and_dt_is_untouched(width):
    from impsy_train.windows import dequantised

    rng = np.random.default_rng(1)
    run = quantised(rng, 127, n=2000)
    out = dequantised(run, 127, width, rng)
    moved = out[:, 1:] - run[:, 1:]
    assert np.array_equal(out[:, 0], run[:, 0])
    assert np.abs(moved).max() <= width * 0.5 / 127 + 1e-7
    assert np.abs(moved).max() > width * 0.45 / 127  # spread over the whole cell, not a sliver
    assert not np.shares_memory(out, run)


def test_batches_are_dequantised_afresh_each_epoch_only_when_asked():
    rng = np.random.default_rng(2)
    performances = [quantised(rng, 127, n=60), quantised(rng, 127, n=45)]
    plain = chunk_batches(performances, 10, 4, np.random.default_rng(0))
    for inputs, _, mask in plain:
        steps = inputs[mask > 0][:, 1:] * 127 / 10
        assert np.allclose(steps, np.round(steps), atol=1e-3)
    epochs = [chunk_batches(performances, 10, 4, np.random.default_rng(seed), 127) for seed in (0, 1)]
    for batches in epochs:
        for inputs, targets, mask in batches:
            used = mask > 0
            for values in (inputs[used][:, 1:] / 10, targets[used][:, 1:] / 10):
                off = values * 127 - np.round(values * 127)
                assert np.abs(off).max() <= 0.5 + 1e-3 and np.abs(off).max() > 0.3
    first = np.concatenate([i[m > 0] for i, _, m in epochs[0]])
    second = np.concatenate([i[m > 0] for i, _, m in epochs[1]])
    assert not np.allclose(np.sort(first, axis=0), np.sort(second, axis=0))  # fresh noise each epoch


def test_dequantise_auto_is_on_only_for_data_on_a_grid():
    from impsy_train.training import TrainingError, resolve_dequantise

    rng = np.random.default_rng(3)
    on_grid = [quantised(rng, 127)]
    continuous = [rng.uniform(0, 1, (300, 4)).astype(np.float32)]
    auto = TrainSettings(dequantise=None)
    assert resolve_dequantise(auto, on_grid) == (TrainSettings(dequantise=True), 127)
    assert resolve_dequantise(auto, continuous) == (TrainSettings(dequantise=False), None)
    off = TrainSettings(dequantise=False)
    assert resolve_dequantise(off, on_grid) == (off, 127)
    with pytest.raises(TrainingError, match="on no grid"):
        resolve_dequantise(TrainSettings(dequantise=True), continuous)


def test_the_report_records_dequantisation_and_the_grid(tmp_path, capsys):
    rng = np.random.default_rng(4)
    performances = [quantised(rng, 127, n=80, dimension=3) for _ in range(3)]
    path = Dataset(3, np.concatenate(performances), [0, 80, 160], ["a.log", "b.log", "c.log"]).save(
        tmp_path / "d.npz"
    )
    models = tmp_path / "models"
    argv = ["train", "-D", "3", "-M", "xxs", "--epochs", "1", "--seq-len", "10", "--dataset", str(path),
            "--models", str(models), "--dequantise", "auto"]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr()
    report = json.loads(next(models.glob("*.report.json")).read_text())
    assert report["training"]["settings"]["dequantise"] is True
    assert report["data"]["grid_levels"] == 127


def test_dequantise_epochs_spreads_only_the_first_epochs(monkeypatch, tmp_path, capsys):
    import impsy_train.training as training

    spread = []  # the grid each epoch's batches were spread over (None: the values as recorded)
    real = training.chunk_batches

    def watched(performances, seq_len, batch_size, rng, levels=None, width=1.0):
        spread.append(levels)
        return real(performances, seq_len, batch_size, rng, levels, width)

    monkeypatch.setattr(training, "chunk_batches", watched)
    rng = np.random.default_rng(5)
    performances = [quantised(rng, 127, n=80, dimension=3) for _ in range(3)]
    dataset = Dataset(3, np.concatenate(performances), [0, 80, 160], ["a.log", "b.log", "c.log"])
    path = dataset.save(tmp_path / "d.npz")
    argv = ["train", "-D", "3", "-M", "xxs", "--epochs", "3", "--seq-len", "10", "--dataset", str(path),
            "--models", str(tmp_path), "--dequantise", "on", "--dequantise-epochs", "2"]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr()
    assert spread == [127, 127, None]
    report = json.loads(next(tmp_path.glob("*.report.json")).read_text())
    assert report["training"]["settings"]["dequantise_epochs"] == 2

    from impsy_train.training import TrainingError

    with pytest.raises(TrainingError, match="needs --dequantise on"):
        train(dataset, TrainSettings(size="xxs", epochs=1, seq_len=10, dequantise_epochs=2))
    with pytest.raises(SystemExit):
        cli.main(["train", "-D", "3", "--dequantise-epochs", "-1"])
    assert "--dequantise-epochs: expected a whole number of at least 0" in capsys.readouterr().err


def test_the_number_of_mixture_components_is_a_setting_the_runtime_reads_from_the_file(make_logs, tmp_path):
    logs = make_logs(dimension=3, performances=3, events=60)
    models = tmp_path / "models"
    argv = ["train", "-D", "3", "-M", "xxs", "--mixtures", "3", "--epochs", "1", "--seq-len", "10",
            "--logs", str(logs), "--models", str(models)]  # fmt: skip
    assert cli.main(argv) == 0
    stem = models / "musicMDRNN-dim3-layers2-units16-mixtures3-scale10"
    model = load_model(stem.with_suffix(".tflite"))
    assert model.info.mixtures == 3
    assert json.loads(stem.with_suffix(".report.json").read_text())["model"]["mixtures"] == 3
    assert model.sample(model.step(np.zeros(3)), 1.0, 0.5, 0.9).shape == (3,)


def test_too_few_events_for_the_size_is_said_once(tmp_path, capsys):
    from conftest import gesture, write_log

    for p in range(3):
        write_log(tmp_path / "logs", 3, datetime(2026, 1, 1, 20 + p), [gesture(60, 2, phase=p)], pause=0)
    code = cli.main(["train", "-D", "3", "-M", "s", "--epochs", "1", "--seq-len", "20",
                     "--logs", str(tmp_path / "logs"), "--models", str(tmp_path / "models")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("warning:") == 1 and "size" in out.split("warning:")[1].split("\n")[0]


def test_a_new_model_is_compared_with_the_best_shipped_model_of_its_dimension():
    from types import SimpleNamespace

    from conftest import SHIPPED_9D, SHIPPED_9D_5, gesture
    from impsy_train.report import compare_with_shipped, runtime_nll

    dt, values = gesture(300, 8)
    validation = [np.column_stack([dt, values])]
    scores = {p.name: runtime_nll(p, validation) for p in (SHIPPED_9D, SHIPPED_9D_5)}  # 10 and 5 components
    best = min(scores, key=scores.get)
    comparison = compare_with_shipped(SimpleNamespace(dimension=9, heldout_nll=0.0), validation)
    assert (comparison["shipped_model"], comparison["shipped_heldout_nll"]) == (best, scores[best])
    nothing_shipped = SimpleNamespace(dimension=7, heldout_nll=0.0)
    assert compare_with_shipped(nothing_shipped, validation) is None
