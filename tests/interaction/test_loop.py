"""The performance loop keeps playing through a broken channel and a failing model step."""

import asyncio
import dataclasses
import io
import math

import numpy as np
from udp_harness import free_udp_port

from impsy.channels.base import Channel
from impsy.config import parse_config
from impsy.interaction.loop import Performance
from impsy.model import DummyModel

WAIT = 20.0  # a guard against hanging, not a measurement


def config(mode: str = "battle"):
    text = f"""
[interaction]
mode = "{mode}"
threshold = 0.1
[model]
dimension = 3
sigmatemp = 0.01
pitemp = 1
timescale = 0.01
[webui]
monitor_port = {free_udp_port()}
command_port = {free_udp_port()}
"""
    parsed, problems = parse_config(text)
    assert parsed is not None, problems
    return parsed


class Recorder(Channel):
    name = "recorder"

    def __init__(self, wanted: int) -> None:
        self.sent: list[np.ndarray] = []
        self.silenced = 0
        self.enough = asyncio.Event()
        self.wanted = wanted

    def send(self, values):
        self.sent.append(values)
        if len(self.sent) >= self.wanted:
            self.enough.set()

    def silence(self):
        self.silenced += 1


class Broken(Channel):
    name = "broken"

    def send(self, values):
        raise OSError("device gone")


class FailsOnce(DummyModel):
    def __init__(self) -> None:
        super().__init__(3, seed=0)
        self.failed = False

    def step(self, x):
        if not self.failed:
            self.failed = True
            raise FloatingPointError("a bug, once")
        return super().step(x)


def play(performance: Performance, recorder: Recorder) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(performance.run(stop))
        await asyncio.wait_for(recorder.enough.wait(), WAIT)
        stop.set()
        await task

    asyncio.run(main())


def test_a_broken_channel_does_not_silence_the_others(tmp_path):
    recorder = Recorder(wanted=20)
    performance = Performance(config(), DummyModel(3, seed=1), tmp_path, [Broken(), recorder])
    play(performance, recorder)
    assert len(recorder.sent) >= 20
    assert performance.drops.counts["broken"] >= 20
    assert recorder.silenced >= 1  # shutdown silences every channel


def test_a_failing_model_step_is_logged_and_the_music_goes_on(tmp_path, caplog):
    recorder = Recorder(wanted=10)
    model = FailsOnce()
    performance = Performance(config("polyphony"), model, tmp_path, [recorder])

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(performance.run(stop))
        while performance.core is None:
            await asyncio.sleep(0)
        for i in range(12):  # the first input meets the bug; the rest are answered
            performance.vector("test", np.full(2, i / 12))
            await asyncio.sleep(0.01)
        await asyncio.wait_for(recorder.enough.wait(), WAIT)
        stop.set()
        await task

    asyncio.run(main())
    assert model.failed and len(recorder.sent) >= 10
    assert "error while handling input; the performance goes on" in caplog.text


class Quick(DummyModel):
    """Every event 0.03 s after the last: 0.3 ms at timescale 0.01, inside the loop's SERVE_NOW."""

    def sample(self, params, pitemp=1.0, sigmatemp=0.01, persistence=0.0, one_at_a_time=False):
        event = super().sample(params, pitemp, sigmatemp, persistence, one_at_a_time)
        event[0] = 0.03
        return event


def test_a_deadline_served_early_plays_at_once_without_spinning(tmp_path, monkeypatch):
    from impsy.interaction import loop

    calls = []

    class CountingCore(loop.Core):
        def on_timer(self, now):
            actions = super().on_timer(now)
            calls.append(len(actions))
            return actions

    monkeypatch.setattr(loop, "Core", CountingCore)
    recorder = Recorder(wanted=200)
    play(Performance(config(), Quick(3, seed=0), tmp_path, [recorder]), recorder)
    # Each wake-up plays its event: none finds the event it was woken for not yet due.
    assert calls.count(0) <= 2 and sum(calls) >= 200


def test_a_refused_command_from_any_channel_is_counted_and_not_applied():
    """OSC and the web UI's port parse their commands; GPIO (or any channel) calls the sink
    directly, and the loop checks again before applying."""
    performance = Performance(config("battle"), DummyModel(3, seed=0), channels=[Recorder(3)])

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(performance.run(stop))
        while performance.core is None:
            await asyncio.sleep(0.001)
        for name, value in [("sigmatemp", 1e300), ("timescale", math.nan), ("pitemp", -1.0), ("mode", "x")]:
            performance.command("gpio", name, value)
        performance.command("gpio", "sigmatemp", 0.5)  # in range: applied
        stop.set()
        await task

    asyncio.run(main())
    assert performance.drops.counts["gpio"] == 4
    state = performance.core.state()
    live = (state["sigmatemp"], state["timescale"], state["pitemp"], state["mode"])
    assert live == (0.5, 0.01, 1.0, "battle")


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_output_that_fails_stops_the_printing_once_and_nothing_else(caplog):
    verbose = dataclasses.replace(config("battle"), verbose=True)
    recorder = Recorder(20)
    performance = Performance(verbose, DummyModel(3, seed=0), channels=[recorder], out=ClosedPipe())
    play(performance, recorder)
    assert performance.counts["rnn"] >= 20
    assert caplog.text.count("printing stops") == 1
