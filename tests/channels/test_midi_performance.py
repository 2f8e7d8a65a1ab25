"""No hanging notes in a whole performance: the real loop and core, MIDI through the fake backend.

Each way the model stops (the performer plays again in callresponse, pause, a mode change,
shutdown) must leave the synth silent.
"""

from __future__ import annotations

import asyncio
import socket

import mido
import pytest
from fakes import mido_backend as fake
from fakes.sink import run, until

from impsy.channels.midi import MidiChannel
from impsy.config import parse_config
from impsy.interaction.loop import Performance
from impsy.model import load_model

KEYS, SYNTH = "Keys:Keys MIDI 1 20:0", "Synth:Synth MIDI 1 24:0"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def backend(monkeypatch):
    monkeypatch.setenv("MIDO_BACKEND", "fakes.mido_backend")
    fake.reset()
    fake.plug(KEYS, output=False)
    fake.plug(SYNTH, input=False)
    yield
    fake.reset()


def notes_started() -> int:
    return sum(m.type == "note_on" and m.velocity > 0 for m in fake.sent.get(SYNTH, []))


def performance_with_midi(tmp_path, mode: str, input_thru: bool = False) -> Performance:
    """A real Performance with the dummy model, a keyboard in and a synth out."""
    text = f"""
[interaction]
mode = "{mode}"
threshold = 0.01
input_thru = {str(input_thru).lower()}
[model]
dimension = 3
sigmatemp = 0.01
pitemp = 1
timescale = 0.05
[midi]
in_device = ["Keys"]
out_device = ["Synth"]
input."Keys" = [["note_on", 1], ["note_velocity", 1]]
output."Synth" = [["note_on", 1], ["note_on", 2]]
[webui]
monitor_port = {free_udp_port()}
command_port = {free_udp_port()}
"""
    config, problems = parse_config(text)
    assert config is not None, problems
    performance = Performance(config, load_model("", 3, seed=1), log_dir=tmp_path, channels=[])
    performance.channels.append(MidiChannel(config.midi, performance, 3))
    return performance


def test_every_way_the_model_stops_leaves_no_note_sounding(tmp_path):
    performance = performance_with_midi(tmp_path, "callresponse")

    async def go():
        stop = asyncio.Event()
        running = asyncio.create_task(performance.run(stop))
        await until(lambda: notes_started() >= 4, "the model answering in callresponse")

        # 1. The performer plays again: the model stops at once (and, with a long threshold,
        # does not start again while we look).
        performance.settings.threshold = 1000.0
        fake.play(KEYS, mido.Message("note_on", note=60, velocity=90))
        await until(lambda: performance.counts["in"] == 1, "the performer's note")
        assert fake.sounding(SYNTH) == set()
        assert performance.core.playing is False

        # 2. A mode change while the model plays.
        performance.command("test", "mode", "battle")
        started = notes_started()
        await until(lambda: notes_started() >= started + 4, "the model playing in battle")
        performance.command("test", "mode", "useronly")
        assert fake.sounding(SYNTH) == set()

        # 3. Pause while the model plays.
        performance.command("test", "mode", "battle")
        started = notes_started()
        await until(lambda: notes_started() >= started + 4, "battle again")
        performance.command("test", "pause", True)
        assert fake.sounding(SYNTH) == set()

        # 4. Shutdown while the model plays.
        performance.command("test", "pause", False)
        started = notes_started()
        await until(lambda: notes_started() >= started + 4, "playing after the pause")
        assert fake.sounding(SYNTH)  # something is sounding right now ...
        stop.set()
        await running

    run(go())
    assert fake.sounding(SYNTH) == set()  # ... and nothing after IMPSY stopped
    assert fake._inputs == []


def test_pause_and_mode_change_end_polyphony_replies_and_notes_passed_through(tmp_path):
    # A polyphony reply and a thru note have no end of their own: nothing is scheduled after
    # them, yet the synth must fall silent when the performer pauses or changes mode.
    performance = performance_with_midi(tmp_path, "polyphony", input_thru=True)

    async def go():
        stop = asyncio.Event()
        running = asyncio.create_task(performance.run(stop))
        await until(lambda: performance.core is not None, "the performance starting")
        fake.play(KEYS, mido.Message("note_on", note=64, velocity=100))
        await until(lambda: performance.counts["rnn"] == 1, "the model's reply")
        assert fake.sounding(SYNTH)  # the thru note and the reply
        performance.command("test", "pause", True)
        assert fake.sounding(SYNTH) == set()

        performance.command("test", "pause", False)
        performance.command("test", "mode", "useronly")
        fake.play(KEYS, mido.Message("note_on", note=67, velocity=100))
        await until(lambda: performance.counts["thru"] == 2, "the second note passed through")
        assert fake.sounding(SYNTH)
        performance.command("test", "mode", "callresponse")
        assert fake.sounding(SYNTH) == set()
        stop.set()
        await running

    run(go())
