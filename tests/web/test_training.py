"""The Training page: impsy-train as a child process, its epochs streamed, the model kept in models/."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import gesture
from web.helpers import FAKE_TRAINER

from impsy.dataset import Dataset
from impsy.web.jobs import parse_training_line, training_command
from impsy.web.paths import Workdir


def fake_command(script: Path, mode: str):
    def command(dataset, dimension, size, epochs, early, out):
        return [sys.executable, str(script), str(out), mode, "train"]

    return command


@pytest.fixture
def dataset(workdir: Workdir) -> Path:
    dt, values = gesture(80, 3)
    dt[0] = 0.0
    data = Dataset(4, np.column_stack([dt, values]), np.array([0]), ["a.log"])
    return data.save(workdir.folder("dataset") / "training-dataset-4d.npz")


@pytest.fixture
def trainer(tmp_path: Path) -> Path:
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    return script


def wait_for(job, kind: str) -> dict:
    seen = 0
    while True:
        events = job.wait(seen, 30.0)
        assert events, "the job went quiet"
        seen = events[-1]["seq"]
        for event in events:
            if event["type"] == kind:
                return event


def test_keras_lines_become_epochs():
    state: dict = {}
    assert parse_training_line("Epoch 1/2", state) is None
    assert parse_training_line("1/1 - 8s - 8s/step - loss: 49.9635 - val_loss: 34.4103", state) == {
        "epoch": 1,
        "epochs": 2,
        "loss": 49.9635,
        "val_loss": 34.4103,
    }
    assert parse_training_line("Epoch 2/2", state) is None
    assert parse_training_line("1/1 - 0s - 279ms/step - loss: 4.8e-01", state)["loss"] == 0.48
    assert parse_training_line("loss: nan - val_loss: nan", state)["val_loss"] != 0
    assert parse_training_line("completed after 2 epochs", state) is None


def test_the_training_command_is_impsy_train(tmp_path):
    command = training_command(tmp_path / "d.npz", 9, "m", 50, True, tmp_path / "out")
    assert command[1:] == [
        "-m",
        "impsy_train.cli",
        "train",
        "-D",
        "9",
        "-M",
        "m",
        "--epochs",
        "50",
        "--dataset",
        str(tmp_path / "d.npz"),
        "--models",
        str(tmp_path / "out"),
        "--earlystopping",
    ]


def test_training_streams_epochs_and_keeps_the_model(make_ui, workdir, dataset, trainer):
    (workdir.folder("model") / "musicMDRNN-dim4-layers2-units64-mixtures5-scale10.tflite").write_bytes(b"old")
    ui, client = make_ui(training=True, train_command=fake_command(trainer, "ok"))
    page = client.get("/training").text
    assert '<option value="training-dataset-4d.npz">training-dataset-4d.npz (4d, 80 events)</option>' in page
    response = client.post(
        "/training/start", {"dataset": "training-dataset-4d.npz", "size": "s", "epochs": "3"}
    )
    assert response.status == 303
    job = ui.jobs.get(response.location.split("=")[1])
    end = wait_for(job, "end")
    epochs = [(e["epoch"], e["loss"], e["val_loss"]) for e in job.events if e["type"] == "epoch"]
    assert epochs == [(1, 2.5, 3.25), (2, 2.0, 3.0), (3, 1.5, 2.75)]
    new = "musicMDRNN-dim4-layers2-units64-mixtures5-scale10-2.tflite"
    assert end["state"] == "done"
    assert end["message"] == f"training finished: {new} is in models/"
    models = workdir.folder("model")
    assert (models / "musicMDRNN-dim4-layers2-units64-mixtures5-scale10.tflite").read_bytes() == b"old"
    assert (models / new).read_text() == "trained .tflite"
    assert (models / new.replace(".tflite", ".loss.png")).exists()
    assert not list((workdir.state / "training").iterdir())
    page = client.get(f"/training?job={job.id}").text
    assert "Go to Models to make it active" in page


def test_training_can_be_stopped_and_keeps_the_best_epoch(make_ui, workdir, dataset, trainer):
    ui, client = make_ui(training=True, train_command=fake_command(trainer, "wait"))
    response = client.post("/training/start", {"dataset": "training-dataset-4d.npz"})
    job = ui.jobs.get(response.location.split("=")[1])
    seen = 0
    while not any(e["type"] == "line" and e["text"] == "waiting" for e in job.events):
        seen = job.wait(seen, 30.0)[-1]["seq"]
    busy = client.post(
        "/training/start", {"dataset": "training-dataset-4d.npz"}, headers={"Accept": "application/json"}
    )
    assert busy.status == 409
    assert busy.json() == {"error": "a model is being trained already: wait for it, or stop it"}
    stop = client.post("/training/stop")
    assert stop.status == 303
    end = wait_for(job, "end")
    assert end["message"] == (
        "training stopped early; kept the best epoch so far: "
        "musicMDRNN-dim4-layers2-units64-mixtures5-scale10.tflite is in models/"
    )


def test_a_failed_training_says_so(make_ui, dataset, trainer):
    ui, client = make_ui(training=True, train_command=fake_command(trainer, "fail"))
    job = ui.jobs.get(
        client.post("/training/start", {"dataset": "training-dataset-4d.npz"}).location.split("=")[1]
    )
    end = wait_for(job, "end")
    assert end["state"] == "failed"
    assert end["message"] == "impsy-train stopped with exit code 1: see its output above"
    assert any(e.get("text") == "Traceback: something broke" for e in job.events)


def test_without_impsy_train_training_is_refused(client, dataset):
    response = client.post(
        "/training/start", {"dataset": "training-dataset-4d.npz"}, headers={"Accept": "application/json"}
    )
    assert response.status == 409
    assert response.json() == {
        "error": "impsy-train is not installed here: train on a laptop (the Training page says how)"
    }


@pytest.mark.parametrize(
    "form, status, message",
    [
        ({"dataset": "nothing.npz"}, 404, "there is no dataset called 'nothing.npz'"),
        (
            {"dataset": "../config.toml"},
            400,
            "'../config.toml' is not a dataset file name: use letters, digits, "
            "'.', '_' and '-' only, not starting with '.'",
        ),
        (
            {"dataset": "training-dataset-4d.npz", "size": "huge"},
            400,
            "size: expected one of xxs, xs, s, m, l, xl, found 'huge'",
        ),
        (
            {"dataset": "training-dataset-4d.npz", "epochs": "0"},
            400,
            "epochs: expected a number from 1 to 10000, found 0",
        ),
    ],
)
def test_bad_training_choices_are_refused(make_ui, dataset, trainer, form, status, message):
    _, client = make_ui(training=True, train_command=fake_command(trainer, "ok"))
    response = client.post("/training/start", form, headers={"Accept": "application/json"})
    assert response.status == status
    assert response.json() == {"error": message}


def test_stopping_when_nothing_runs(make_ui):
    _, client = make_ui(training=True)
    response = client.post("/training/stop", headers={"Accept": "application/json"})
    assert response.status == 409
    assert response.json() == {"error": "no training is running"}


def test_the_training_form_is_offered_where_impsy_train_is_installed(make_ui, dataset):
    _, client = make_ui(training=True)
    page = client.get("/training").text
    assert 'action="/training/start"' in page
    assert "impsy-train pull" not in page


@pytest.mark.slow
@pytest.mark.train
def test_real_impsy_train_output_is_understood(make_ui, workdir):
    """The real trainer (TensorFlow) for two epochs: its Keras lines must parse into epochs."""
    rows, starts = [], []
    for p in range(4):
        dt, values = gesture(80, 3, phase=p)
        dt[0] = 0.0
        starts.append(len(rows) * 80)
        rows.append(np.column_stack([dt, values]))
    Dataset(4, np.concatenate(rows), np.array(starts), [f"p{p}" for p in range(4)]).save(
        workdir.folder("dataset") / "training-dataset-4d.npz"
    )

    def short(dataset, dimension, size, epochs, early, out):
        return [*training_command(dataset, dimension, size, epochs, early, out), "--seq-len", "20"]

    ui, client = make_ui(training=True, train_command=short)
    response = client.post(
        "/training/start", {"dataset": "training-dataset-4d.npz", "size": "xxs", "epochs": "2"}
    )
    job = ui.jobs.get(response.location.split("=")[1])
    end = wait_for(job, "end")
    assert end["state"] == "done", [e.get("text") for e in job.events]
    epochs = [e for e in job.events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and all(e["loss"] > 0 and e["val_loss"] > 0 for e in epochs)
    assert end["models"] == ["musicMDRNN-dim4-layers2-units16-mixtures5-scale10.tflite"]
    assert (workdir.folder("model") / "musicMDRNN-dim4-layers2-units16-mixtures5-scale10.loss.png").exists()
