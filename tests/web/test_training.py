"""The Training page: impsy-train run beside `impsy run` (a child process, or the appliance's
systemd unit), its JSON epochs streamed, the model kept in models/ and made active in one click."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import gesture, write_log
from web.helpers import FAKE_SYSTEMCTL, FAKE_TRAINER

from impsy.dataset import Dataset
from impsy.web.paths import Workdir
from impsy.web.trainer import ChildTrainer, UnitTrainer
from impsy.web.training import finetune_arguments, parse_line, train_arguments

MODEL = "musicMDRNN-dim4-layers2-units64-mixtures5-scale10"
OOM_MESSAGE = "training needed more than its {} MB and was stopped; try a smaller size or fewer logs"


@pytest.fixture
def dataset(workdir: Workdir) -> Path:
    dt, values = gesture(80, 3)
    dt[0] = 0.0
    data = Dataset(4, np.column_stack([dt, values]), np.array([0]), ["a.log"])
    return data.save(workdir.folder("dataset") / "training-dataset-4d.npz")


@pytest.fixture
def trainer(tmp_path: Path):
    """fake(mode) -> a ChildTrainer running the stand-in for impsy-train in that mode."""
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    return lambda mode: ChildTrainer(program=[sys.executable, str(script), mode])


@pytest.fixture
def unit(tmp_path: Path, workdir: Workdir):
    """fake(mode, **setup) -> (UnitTrainer, state folder): impsy-train.service, faked with systemctl."""
    script, systemctl = tmp_path / "fake_trainer.py", tmp_path / "fake_systemctl.py"
    script.write_text(FAKE_TRAINER)
    systemctl.write_text(FAKE_SYSTEMCTL)

    def make(mode: str, **setup) -> tuple[UnitTrainer, Path]:
        state = tmp_path / f"systemd-{mode}"
        state.mkdir()
        made = UnitTrainer(
            "impsy-train.service",
            workdir.state / "train.args",
            workdir.state / "train.out",
            systemctl=[sys.executable, str(systemctl), str(state)],
        )
        files = {"args_file": str(made.args_file), "output_file": str(made.output_file)}
        setup = {"trainer": [sys.executable, str(script), mode], **files, **setup}
        (state / "unit.json").write_text(json.dumps(setup))
        return made, state

    return make


@pytest.fixture
def active_model(workdir: Workdir) -> str:
    """An active 4d model (the fake model check reads its first bytes) and logs to learn from."""
    (workdir.folder("model") / f"{MODEL}.tflite").write_bytes(b"MODEL dim=4")
    text = workdir.config.read_text().replace('file = ""', f'file = "models/{MODEL}.tflite"')
    workdir.config.write_text(text)
    write_log(workdir.folder("log"), 4, datetime(2026, 1, 1, 20), [gesture(50, 3)])
    return f"{MODEL}.tflite"


def started(ui, response):
    assert response.status == 303, response.text
    return ui.jobs.get(response.location.split("=")[1])


def wait_for(job, kind: str) -> dict:
    seen = 0
    while True:
        events = job.wait(seen, 30.0)
        assert events, "the job went quiet"
        seen = events[-1]["seq"]
        for event in events:
            if event["type"] == kind:
                return event


def wait_for_line(job, text: str) -> None:
    seen = 0
    while not any(e["type"] == "line" and e["text"] == text for e in job.events):
        seen = job.wait(seen, 30.0)[-1]["seq"]


# ---- impsy-train's output and arguments -----------------------------------------------------------


def test_json_lines_become_events_and_other_lines_stay_output():
    progress = {
        "epoch": 2,
        "epochs": 9,
        "loss": 1.5,
        "val_loss": 2.0,
        "best_epoch": 2,
        "seconds": 3.0,
        "eta": 21.0,
    }
    assert parse_line(json.dumps({"progress": progress})) == ("epoch", progress)
    saved = {"tflite": "m.tflite", "report": "m.report.json", "plot": "m.loss.svg"}
    assert parse_line(json.dumps({"saved": saved})) == ("saved", saved)
    line = "  tonight's held-out playing: 1.234 before, 1.100 after"
    assert parse_line(line) == ("heldout", {"before": 1.234, "after": 1.1})
    for other in ("completed after 2 epochs", "{not json", '{"other": 1}', "Epoch 1/2"):
        assert parse_line(other) is None


def test_the_arguments_are_impsy_train_s(tmp_path):
    assert train_arguments(tmp_path / "d.npz", 9, "m", 50, True, tmp_path / "out") == [
        "train", "-D", "9", "-M", "m", "--epochs", "50", "--dataset", str(tmp_path / "d.npz"),
        "--models", str(tmp_path / "out"), "--progress", "json", "--earlystopping",
    ]  # fmt: skip
    assert finetune_arguments(tmp_path / "m.tflite", tmp_path / "logs", tmp_path / "out") == [
        "finetune", str(tmp_path / "m.tflite"), "--logs", str(tmp_path / "logs"),
        "--models", str(tmp_path / "out"), "--progress", "json",
    ]  # fmt: skip


def test_impsy_train_reads_its_arguments_from_a_file(tmp_path):
    """impsy-train.service runs `impsy-train @FILE`: one argument a line, no shell, no quoting."""
    pytest.importorskip("impsy_train")
    from impsy_train.cli import build_parser

    arguments = finetune_arguments(tmp_path / "a model.tflite", tmp_path / "logs", tmp_path / "out")
    (tmp_path / "args").write_text("".join(a + "\n" for a in arguments))
    parsed = build_parser().parse_args([f"@{tmp_path / 'args'}"])
    assert (parsed.command, parsed.model, parsed.progress) == (
        "finetune",
        tmp_path / "a model.tflite",
        "json",
    )


# ---- training a new model -------------------------------------------------------------------------


def test_training_streams_epochs_and_keeps_the_model(make_ui, workdir, dataset, trainer):
    (workdir.folder("model") / f"{MODEL}.tflite").write_bytes(b"old")
    ui, client = make_ui(training=True, trainer=trainer("ok"))
    page = client.get("/training").text
    assert '<option value="training-dataset-4d.npz">training-dataset-4d.npz (4d, 80 events)</option>' in page
    assert "TensorFlow" not in page
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz", "epochs": "3"}))
    end = wait_for(job, "end")
    epochs = [
        (e["epoch"], e["loss"], e["val_loss"], e["best_epoch"]) for e in job.events if e["type"] == "epoch"
    ]
    assert epochs == [(1, 2.5, 3.25, 1), (2, 2.0, 3.0, 2), (3, 1.5, 2.75, 3)]
    assert [e["eta"] for e in job.events if e["type"] == "epoch"] == pytest.approx([0.2, 0.1, 0.0])
    lines = [e["text"] for e in job.events if e["type"] == "line"]
    assert lines[0].startswith("$ impsy-train train -D 4 -M s --epochs 3 --dataset ")
    assert not any(line.startswith("{") for line in lines)  # JSON is for the plot, not the output
    new = f"{MODEL}-2.tflite"
    assert (end["state"], end["message"]) == ("done", f"training finished: {new} is in models/.")
    models = workdir.folder("model")
    assert (models / f"{MODEL}.tflite").read_bytes() == b"old"
    assert (models / new).read_text() == "MODEL dim=4 trained .tflite"
    assert (models / f"{MODEL}-2.loss.svg").exists() and (models / f"{MODEL}-2.report.json").exists()
    assert not list((workdir.state / "training").iterdir())
    page = client.get(f"/training?job={job.id}").text
    assert f'<form method="post" action="/models/{new}/activate" data-job-done >' in page
    assert f"Make <span data-job-model>{new}</span> active</button>" in page  # no restart command here


def test_training_can_be_stopped_and_keeps_the_best_epoch(make_ui, dataset, trainer):
    ui, client = make_ui(training=True, trainer=trainer("wait"))
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz"}))
    wait_for_line(job, "waiting")
    busy = client.post(
        "/training/start", {"dataset": "training-dataset-4d.npz"}, headers={"Accept": "application/json"}
    )
    assert busy.status == 409
    assert busy.json() == {"error": "a model is being trained already: wait for it, or stop it"}
    assert client.post("/training/stop").status == 303
    end = wait_for(job, "end")
    assert (
        end["message"] == f"training stopped early; kept the best epoch so far: {MODEL}.tflite is in models/."
    )


@pytest.mark.parametrize(
    "mode, message",
    [
        ("fail", "impsy-train stopped with exit code 1: see its output above"),
        (
            "refused",
            "impsy-train stopped: nothing improved on tonight's held-out playing (2.500): no model saved",
        ),
        ("memory", OOM_MESSAGE.format(300)),
    ],
)
def test_a_failed_training_says_why(make_ui, dataset, trainer, mode, message):
    ui, client = make_ui(training=True, trainer=trainer(mode))
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz"}))
    end = wait_for(job, "end")
    assert (end["state"], end["message"]) == ("failed", message)


def test_without_impsy_train_training_is_refused_and_the_page_says_how_to_get_it(client, dataset):
    for action in ("/training/start", "/training/finetune"):
        response = client.post(
            action, {"dataset": "training-dataset-4d.npz"}, headers={"Accept": "application/json"}
        )
        assert response.status == 409
        assert response.json() == {
            "error": "impsy-train is not installed beside this web UI: install it "
            "(`pip install -e ./train` in the IMPSY source) and restart the web UI"
        }
    page = client.get("/training").text
    assert "pip install -e ./train" in page and "TensorFlow" in page  # "no TensorFlow"
    assert "install TensorFlow" not in page


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
    _, client = make_ui(training=True, trainer=trainer("ok"))
    response = client.post("/training/start", form, headers={"Accept": "application/json"})
    assert response.status == status
    assert response.json() == {"error": message}


def test_stopping_when_nothing_runs(make_ui):
    _, client = make_ui(training=True)
    response = client.post("/training/stop", headers={"Accept": "application/json"})
    assert response.status == 409
    assert response.json() == {"error": "no training is running"}


# ---- learning from tonight ------------------------------------------------------------------------


def test_learn_from_tonight_fine_tunes_the_active_model(make_ui, workdir, active_model, trainer):
    ui, client = make_ui(training=True, trainer=trainer("ok"))
    page = client.get("/training").text
    assert f"Carry on training <code>{active_model}</code>" in page
    job = started(ui, client.post("/training/finetune"))
    end = wait_for(job, "end")
    assert job.title == f"Learning from tonight: {active_model}"
    command = next(e["text"] for e in job.events if e["type"] == "line")
    model_path = workdir.folder("model") / active_model
    assert command.startswith(f"$ impsy-train finetune {model_path} --logs {workdir.folder('log')} --models ")
    heldout = wait_for(job, "heldout")
    assert (heldout["before"], heldout["after"]) == (2.5, 2.25)
    assert end["message"] == (
        f"training finished: {MODEL}-2.tflite is in models/. "
        "Tonight's held-out playing: 2.500 before, 2.250 after (lower is better)."
    )
    assert end["heldout"] == {"before": 2.5, "after": 2.25}
    assert (workdir.folder("model") / active_model).read_bytes() == b"MODEL dim=4"  # never replaced


def test_learn_from_tonight_needs_an_active_model_and_logs(make_ui, workdir, trainer):
    _, client = make_ui(training=True, trainer=trainer("ok"))
    json_please = {"Accept": "application/json"}
    response = client.post("/training/finetune", headers=json_please)
    assert (response.status, response.json()) == (
        409,
        {"error": "there is no active model in models/ to learn from: make one active on the Models page"},
    )
    assert "There is no active model to learn from" in client.get("/training").text
    (workdir.folder("model") / "m.tflite").write_bytes(b"MODEL dim=4")
    workdir.config.write_text(workdir.config.read_text().replace('file = ""', 'file = "models/m.tflite"'))
    response = client.post("/training/finetune", headers=json_please)
    assert (response.status, response.json()) == (
        409,
        {"error": "there are no logs to learn from yet: play first"},
    )


# ---- make it active and restart, in one click -----------------------------------------------------


def test_make_active_and_restart_is_one_click(make_ui, workdir, dataset, trainer, tmp_path):
    restarted = tmp_path / "restarted"
    command = [sys.executable, "-c", f"open({str(restarted)!r}, 'w').close()"]
    ui, client = make_ui(training=True, trainer=trainer("ok"), restart_command=command)
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz"}))
    new = wait_for(job, "end")["models"][0]
    page = client.get(f"/training?job={job.id}").text
    assert '<input type="hidden" name="restart" value="1">' in page
    assert f"Make <span data-job-model>{new}</span> active and restart</button>" in page
    response = client.post(
        f"/models/{new}/activate", {"restart": "1"}, headers={"Accept": "application/json"}
    )
    assert response.json() == {
        "ok": True,
        "message": f"models/{new} is now the active model, and IMPSY is restarting to play it.",
    }
    assert f'file = "models/{new}"' in workdir.config.read_text()
    assert restarted.exists()


def test_make_active_and_restart_changes_nothing_where_it_cannot_restart(make_ui, workdir, dataset, trainer):
    ui, client = make_ui(training=True, trainer=trainer("ok"))
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz"}))
    new = wait_for(job, "end")["models"][0]
    before = workdir.config.read_text()
    json_please = {"Accept": "application/json"}
    response = client.post(f"/models/{new}/activate", {"restart": "1"}, headers=json_please)
    assert response.status == 409
    assert response.json()["error"].startswith("this web UI has no restart command")
    assert workdir.config.read_text() == before


# ---- impsy-train.service (the appliance) ----------------------------------------------------------


def test_the_unit_gets_its_arguments_from_a_file_and_its_output_is_followed(make_ui, workdir, dataset, unit):
    trainer, state = unit("ok")
    ui, client = make_ui(training=True, trainer=trainer)
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz", "size": "xxs"}))
    end = wait_for(job, "end")
    assert (end["state"], end["message"]) == ("done", f"training finished: {MODEL}.tflite is in models/.")
    assert [e["epoch"] for e in job.events if e["type"] == "epoch"] == [1, 2, 3]
    assert "completed after 3 epochs" in [e["text"] for e in job.events if e["type"] == "line"]
    arguments = trainer.args_file.read_text().splitlines()
    assert arguments[:5] == ["train", "-D", "4", "-M", "xxs"]
    calls = (state / "calls").read_text().splitlines()
    assert "start impsy-train.service" in calls and calls[-1] == "reset-failed impsy-train.service"


def test_a_unit_killed_for_memory_says_so_plainly(make_ui, dataset, unit):
    trainer, _ = unit("wait", oom=True, memory_max=str(16 * 1024 * 1024))
    ui, client = make_ui(training=True, trainer=trainer)
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz"}))
    end = wait_for(job, "end")
    assert (end["state"], end["message"]) == ("failed", OOM_MESSAGE.format(16))


def test_stopping_the_unit_sends_sigint_and_keeps_the_best_epoch(make_ui, dataset, unit):
    trainer, state = unit("wait")
    ui, client = make_ui(training=True, trainer=trainer)
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz"}))
    wait_for_line(job, "waiting")
    assert client.post("/training/stop").status == 303
    end = wait_for(job, "end")
    assert (
        end["message"] == f"training stopped early; kept the best epoch so far: {MODEL}.tflite is in models/."
    )
    assert "kill --signal=SIGINT impsy-train.service" in (state / "calls").read_text()


def test_a_unit_already_running_is_not_started_twice(make_ui, dataset, unit):
    trainer, state = unit("ok")
    (state / "state.json").write_text(json.dumps({"ActiveState": "active"}))
    ui, client = make_ui(training=True, trainer=trainer)
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz"}))
    end = wait_for(job, "end")
    assert end["message"] == (
        "impsy-train.service is running already (started before the web UI restarted?): wait for it, "
        "or stop it with `sudo systemctl kill -s INT impsy-train.service`"
    )
    assert "start impsy-train.service" not in (state / "calls").read_text()


# ---- the real trainer -----------------------------------------------------------------------------


def real_dataset(workdir: Workdir) -> None:
    rows, starts = [], []
    for p in range(4):
        dt, values = gesture(80, 3, phase=p)
        dt[0] = 0.0
        starts.append(len(rows) * 80)
        rows.append(np.column_stack([dt, values]))
    Dataset(4, np.concatenate(rows), np.array(starts), [f"p{p}" for p in range(4)]).save(
        workdir.folder("dataset") / "training-dataset-4d.npz"
    )


@pytest.mark.slow
@pytest.mark.train
def test_real_impsy_train_output_is_understood(make_ui, workdir):
    """The real trainer for two epochs, at nice 19 under the 300 MB cap: its JSON lines are epochs."""
    pytest.importorskip("impsy_train")
    real_dataset(workdir)
    ui, client = make_ui(training=True, trainer=ChildTrainer())
    form = {"dataset": "training-dataset-4d.npz", "size": "xxs", "epochs": "2"}
    job = started(ui, client.post("/training/start", form))
    end = wait_for(job, "end")
    assert end["state"] == "done", [e.get("text") for e in job.events]
    epochs = [e for e in job.events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and all(e["loss"] and e["val_loss"] for e in epochs)
    assert end["models"] == ["musicMDRNN-dim4-layers2-units16-mixtures5-scale10.tflite"]
    assert (workdir.folder("model") / "musicMDRNN-dim4-layers2-units16-mixtures5-scale10.loss.svg").exists()


@pytest.mark.slow
@pytest.mark.train
def test_real_impsy_train_over_its_memory_cap_fails_with_a_clear_message(make_ui, workdir):
    """Under a cap far too small, the rlimit makes an allocation fail, and the page says so plainly."""
    pytest.importorskip("impsy_train")
    real_dataset(workdir)
    ui, client = make_ui(training=True, trainer=ChildTrainer(memory_mb=40))
    job = started(ui, client.post("/training/start", {"dataset": "training-dataset-4d.npz", "size": "xxs"}))
    end = wait_for(job, "end")
    assert (end["state"], end["message"]) == ("failed", OOM_MESSAGE.format(40))
