"""impsy-train end to end on generated data: train, export, parity, report, CLI."""

import json
import os
import signal

import keras
import numpy as np
import pytest
from impsy_train import cli
from impsy_train.export import PARITY_TOLERANCE, ExportError, export_tflite, parity
from impsy_train.training import TrainSettings, train
from impsy_train.windows import split_by_performance, windows

from impsy.dataset import Dataset
from impsy.model import load_model

pytestmark = pytest.mark.train


def test_export_matches_keras_and_loads_in_the_runtime(tiny_model):
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
    assert parity(result.model, tiny_model["tflite"], events) <= PARITY_TOLERANCE


def test_keras_file_reloads_and_reexports(tiny_model, tmp_path):
    import impsy_train.network  # noqa: F401  registers the custom layer

    model = keras.saving.load_model(tiny_model["keras"], compile=False)
    path, difference = export_tflite(model, tmp_path / "again.tflite")
    assert difference <= PARITY_TOLERANCE and path.is_file()


def test_parity_failure_is_loud_and_writes_nothing(tiny_model, tmp_path, monkeypatch):
    import impsy_train.export as export

    monkeypatch.setattr(export, "parity", lambda *a: 0.5)
    with pytest.raises(ExportError, match=r"disagree by 5\.00e-01"):
        export.export_tflite(tiny_model["result"].model, tmp_path / "x.tflite")
    assert not list(tmp_path.iterdir())


def test_report_holds_the_figures(tiny_model):
    report = json.loads(tiny_model["report"].read_text())
    assert report["model"]["size"] == "xxs"
    assert len(report["results"]["loss"]) == report["training"]["epochs_run"] == 3
    assert np.isfinite(report["results"]["heldout_nll_per_event"])
    assert report["export"]["parity_max_abs_diff"] <= PARITY_TOLERANCE
    assert tiny_model["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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


def test_windows_never_cross_performances():
    a = np.zeros((30, 2), np.float32)
    b = np.ones((30, 2), np.float32)
    x, y = windows([a, b], seq_len=10, step=5)
    assert len(x) == 8  # 4 windows per 30-event performance
    assert all(np.all(w == w[0, 0]) for w in np.concatenate([x, y], axis=1))


def test_ctrl_c_keeps_the_best_epoch_so_far(tiny_model):
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job

    class StopAtEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered to this process

    original = keras.Model.fit

    def fit(self, *args, callbacks=(), **kwargs):
        return original(self, *args, callbacks=[*callbacks, StopAtEpoch()], **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keras.Model, "fit", fit)
        result = train(tiny_model["dataset"], TrainSettings(size="xxs", epochs=10, seq_len=20))
    assert result.stopped == "interrupted"
    # The flag is seen after the first batch of epoch 3, which ends there (validated, recorded).
    assert len(result.history["loss"]) == 3
    assert result.history["val_loss"][result.best_epoch - 1] == min(result.history["val_loss"])
    assert signal.getsignal(signal.SIGINT) is before  # handler given back


def test_early_stopping_stops_and_keeps_the_best(tiny_model):
    settings = TrainSettings(
        size="xxs", epochs=50, seq_len=20, early_stopping=True, patience=1, learning_rate=0.05
    )
    result = train(tiny_model["dataset"], settings)
    val = result.history["val_loss"]
    assert result.stopped == "early stopping" and len(val) < 50
    assert val[result.best_epoch - 1] == min(val)


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
    assert "Keras and LiteRT agree within" in out


def test_cli_refuses_an_original_pickled_dataset_unless_allowed(tmp_path, capsys):
    perfs = np.empty(2, dtype=object)
    perfs[0], perfs[1] = np.zeros((5, 3)), np.zeros((7, 3))
    np.savez(tmp_path / "old.npz", perfs=perfs)
    code = cli.main(["train", "-D", "3", "--dataset", str(tmp_path / "old.npz")])
    assert code == 1
    assert "stored with pickle" in capsys.readouterr().err


def test_export_of_an_original_weights_only_h5_says_to_retrain(tmp_path, capsys):
    import h5py

    old = tmp_path / "musicMDRNN-dim4-layers2-units64-mixtures5-scale10.h5"
    with h5py.File(old, "w") as f:  # what the original's save_weights left: weights, no model
        f.attrs["layer_names"] = [b"lstm0"]
        f.create_group("lstm0").create_dataset("kernel:0", data=np.zeros((4, 256)))
    assert cli.main(["export", str(old)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"impsy-train: error: {old}: not an MDRNN impsy-train can read (")
    assert "train a new one from the same logs with `impsy-train train`" in err


def test_a_new_model_never_replaces_one_that_is_there(tmp_path):
    from impsy_train.training import free_stem

    name = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10"
    assert free_stem(tmp_path, name) == tmp_path / name
    (tmp_path / f"{name}.tflite").write_bytes(b"the shipped model config.toml plays")
    assert free_stem(tmp_path, name) == tmp_path / f"{name}-2"
    (tmp_path / f"{name}-2.report.json").write_text("{}")  # any of a model's files takes the name
    assert free_stem(tmp_path, name) == tmp_path / f"{name}-3"


def test_export_never_writes_over_the_model_it_exports(tiny_model, capsys):
    keras_file = tiny_model["keras"]
    before = keras_file.read_bytes()
    assert cli.main(["export", str(keras_file), "--out", str(keras_file)]) == 1
    assert "that is the model being exported; give a .tflite name" in capsys.readouterr().err
    assert keras_file.read_bytes() == before


def test_training_too_little_data_is_a_clear_error():
    tiny = Dataset(3, np.zeros((20, 3)), np.array([0, 10]), ["a", "b"])
    with pytest.raises(
        ValueError, match=r"at least two performances of 51 events or more \(a training window\); 0 of the 2"
    ):
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
        if line.startswith("Epoch 3/"):
            child.send_signal(signal.SIGINT)
            break
    out = "".join(lines) + child.communicate(timeout=120)[0]
    assert child.returncode == 0, out
    assert "interrupted after" in out
    assert (models / "musicMDRNN-dim3-layers2-units16-mixtures5-scale10.tflite").is_file()
