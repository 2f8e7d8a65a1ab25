"""Messages a musician meets on the terminal: each says what happened and what to do, and the
C libraries' chatter (LiteRT's delegate line, ALSA's complaints) never reaches them."""

import logging
import subprocess
import sys

import numpy as np
import pytest
from conftest import SHIPPED_9D

from impsy.channels.base import check_vector
from impsy.interaction.drops import DropReporter
from impsy.model import ModelError, load_model
from impsy.quiet import native_noise_filtered


def impsy(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "impsy", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_check_a_model_file_needs_no_working_folder(tmp_path):
    run = impsy("check", str(SHIPPED_9D), "--steps", "5", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "the model is checked alone" in run.stdout and "dimension 9" in run.stdout


def test_check_a_missing_model_file_says_so(tmp_path):
    run = impsy("check", "nothing.tflite", cwd=tmp_path)
    assert run.stderr == "impsy: error: nothing.tflite: no such file\n"


def test_loading_a_model_prints_no_litert_delegate_line(tmp_path):
    # LiteRT writes it from C to fd 2, so only a real process shows whether it gets out.
    run = impsy("check", str(SHIPPED_9D), "--steps", "5", cwd=tmp_path)
    assert "XNNPACK" not in run.stderr + run.stdout and run.stderr == ""


def test_midi_ports_shows_no_raw_alsa_line(tmp_path):
    run = impsy("midi-ports", cwd=tmp_path)
    assert "ALSA lib" not in run.stderr + run.stdout
    if run.returncode:  # no MIDI system here: one line of ours, saying what to do
        assert run.stderr.startswith("impsy midi-ports: cannot list MIDI ports: ")
        assert len(run.stderr.strip().splitlines()) == 1


def test_filtering_keeps_everything_but_the_noise(capfd):
    import os

    with native_noise_filtered():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"ALSA lib seq_hw.c:466:(snd_seq_hw_open) open /dev/snd/seq failed\n")
        os.write(2, b"something else that matters\n")
        print("python's own warning", file=sys.stderr)
    err = capfd.readouterr().err
    assert "something else that matters\n" in err and "python's own warning\n" in err
    assert "XNNPACK" not in err and "ALSA" not in err


def wrong_shapes_model(path):
    """A .tflite that parses but cannot run: its first layer's kernel is two rows too tall."""
    from impsy_train import tflite
    from impsy_train.weights import random_weights

    weights = random_weights(3, 1, 8, 2)
    kernel, recurrent, bias = weights.lstm[0]
    tall = np.zeros((kernel.shape[0] + 2, kernel.shape[1]), np.float32)
    broken = weights.with_arrays([tall, recurrent, bias, weights.head_kernel, weights.head_bias])
    graph, inputs, outputs = tflite._step_graph(broken)
    path.write_bytes(tflite._serialise(graph, inputs, outputs, b"{}"))
    return path


def test_a_model_whose_layers_do_not_fit_is_explained_not_xnnpack(tmp_path):
    with pytest.raises(ModelError) as raised:
        load_model(wrong_shapes_model(tmp_path / "m.tflite"))
    message = str(raised.value)
    assert "XNNPack" not in message and "runtimeNode" not in message
    assert "IMPSY cannot run it: its layers do not fit together" in message
    assert "Use a .tflite model that impsy-train wrote" in message


def test_an_uploaded_model_that_cannot_run_gets_the_same_words(tmp_path):
    from impsy.web.modelcheck import check_files

    [result] = check_files([wrong_shapes_model(tmp_path / "m.tflite")])
    assert result["error"].startswith("a .tflite file, but IMPSY cannot run it")


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ([0.5, 1.5, 0.2], "position 2 is 1.5, outside 0..1"),
        ([0.5, "x", 0.2], "position 2 is not a number (str 'x')"),
        ([0.5, 0.2, float("nan")], "position 3 is nan, not a number between 0 and 1"),
    ],
)
def test_a_dropped_vector_names_the_position_and_the_value(values, said):
    assert check_vector(values, 3) == said


def test_a_controller_sending_0_to_127_is_told_to_scale():
    reason = check_vector([64, 127, 0], 3)
    assert reason.startswith("position 1 is 64, outside 0..1")
    assert "divide each value by 127" in reason


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.due = []

    def schedule(self, delay, callback):
        self.due.append((self.now + delay, callback))

    def advance(self, seconds):
        self.now += seconds
        for at, callback in [d for d in self.due if d[0] <= self.now]:
            self.due.remove((at, callback))
            callback()


def test_drop_warnings_repeat_every_few_seconds_with_a_count(caplog):
    clock = FakeTime()
    drops = DropReporter(interval=5.0, schedule=clock.schedule, clock=lambda: clock.now)
    with caplog.at_level(logging.WARNING, "impsy.run"):
        for _ in range(40):  # a knob turned for 4 s, then left alone
            drops.add("osc", "/interface: position 1 is 64, outside 0..1")
            clock.advance(0.1)
        assert len(caplog.records) == 1  # the first at once
        clock.advance(1.0)  # the controller is silent, and the count still comes
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "osc: dropped a message: /interface: position 1 is 64, outside 0..1",
        "osc: dropped 39 messages in the last 5 s; the latest: /interface: position 1 is 64, outside 0..1",
    ]
    assert drops.counts["osc"] == 40
