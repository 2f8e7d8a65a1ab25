"""Learn from tonight, on small generated data: the mechanics, not the music.

(bench/finetune.py measures the gain on real performances: a start model trained on earlier
logs, fine-tuned on later ones, scored on later still.)
"""

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, gesture, write_log
from impsy_train import cli
from impsy_train.tflite import read_weights
from impsy_train.timing_head import TIMING_EVENT_CLIP, TimingHead

from impsy.model import load_model


def make_gig(tmp_path: Path, *train_options: str) -> dict:
    """A model trained on yesterday's logs, then tonight's logs of a new gesture."""
    logs, models = tmp_path / "logs", tmp_path / "models"
    yesterday = datetime(2026, 1, 1, 20, 0)
    for p in range(3):
        write_log(logs, 3, yesterday + timedelta(hours=p), [gesture(150, 2, phase=p, dt=0.05)], pause=0)
    assert cli.main(["train", "-D", "3", "-M", "xxs", "--epochs", "3", "--seq-len", "20", *train_options,
                     "--logs", str(logs), "--models", str(models)]) == 0  # fmt: skip
    model = next(models.glob("*.tflite"))
    past = time.time() - 3600
    for log in logs.iterdir():
        os.utime(log, (past, past))  # yesterday's logs are older than the model
    tonight = datetime(2026, 1, 2, 20, 0)
    for p in range(2):  # a faster gesture than any the model knows
        write_log(logs, 3, tonight + timedelta(hours=p), [gesture(300, 2, phase=5 + p, dt=0.02)], pause=0)
    return {"logs": logs, "models": models, "model": model}


@pytest.fixture
def gig(tmp_path: Path) -> dict:
    return make_gig(tmp_path)


def test_learning_from_tonight_makes_a_new_model_that_predicts_tonight_better(gig, capsys):
    folders = ["--logs", str(gig["logs"]), "--models", str(gig["models"])]
    code = cli.main(["finetune", str(gig["model"]), *folders, "--epochs", "4"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "learning from 2 new logs, replaying 3 older ones" in out
    tuned = gig["models"] / (gig["model"].stem + "-2.tflite")  # never over the model it started from
    report = json.loads(tuned.with_name(tuned.stem + ".report.json").read_text())
    assert report["model"]["started_from"] == gig["model"].name
    assert report["results"]["heldout_nll_per_event"] < report["results"]["start_heldout_nll"]
    start, after = read_weights(gig["model"].read_bytes()), read_weights(tuned.read_bytes())
    assert not np.array_equal(start.head_kernel, after.head_kernel)
    assert load_model(tuned).info.dimension == 3  # the runtime plays it


def test_a_model_with_timings_of_its_own_keeps_them_when_it_learns(tmp_path, capsys):
    gig = make_gig(tmp_path, "--mixtures", "2", "--timings", "2")
    folders = ["--logs", str(gig["logs"]), "--models", str(gig["models"])]
    assert cli.main(["finetune", str(gig["model"]), *folders, "--epochs", "4"]) == 0, capsys.readouterr().out
    tuned = gig["models"] / (gig["model"].stem + "-2.tflite")
    after = read_weights(tuned.read_bytes())
    assert TimingHead.found_in(after) == TimingHead(3, 2, 2)  # still 2 timings x 2 gestures
    assert not np.array_equal(read_weights(gig["model"].read_bytes()).head_kernel, after.head_kernel)
    settings = json.loads(tuned.with_name(tuned.stem + ".report.json").read_text())["training"]["settings"]
    assert (settings["mixtures"], settings["timings"], settings["event_clip"]) == (2, 2, TIMING_EVENT_CLIP)


def test_nothing_new_since_the_model_is_a_clear_error(gig, capsys):
    for log in gig["logs"].iterdir():
        os.utime(log, (0, 0))
    assert cli.main(["finetune", str(gig["model"]), "--logs", str(gig["logs"])]) == 1
    assert "no 3d log was recorded since the model was made" in capsys.readouterr().err


def test_a_model_impsy_train_did_not_write_cannot_be_fine_tuned(gig, capsys):
    original = REPO / "tests" / "data" / "models" / "original-positional-4d.tflite"
    assert cli.main(["finetune", str(original), "--logs", str(gig["logs"])]) == 1
    err = capsys.readouterr().err
    assert "cannot fine-tune this model" in err and "train a new one" in err


def test_no_better_epoch_saves_nothing(gig, capsys, monkeypatch):
    import impsy_train.finetune as finetune

    monkeypatch.setattr(finetune, "heldout_nll", lambda weights, performances: 1.0)  # nothing ever improves
    folders = ["--logs", str(gig["logs"]), "--models", str(gig["models"])]
    assert cli.main(["finetune", str(gig["model"]), *folders, "--epochs", "2"]) == 1
    assert "nothing was saved" in capsys.readouterr().err
    assert sorted(p.name for p in gig["models"].glob("*.tflite")) == [gig["model"].name]
