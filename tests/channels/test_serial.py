"""[serial]: CSV lines over real pseudo-terminals, event-driven and with the thread fallback."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from fakes.pty_device import PtyDevice
from fakes.sink import RecordingSink, run, settle, until

from impsy.channels import serial
from impsy.channels.serial import SerialChannel
from impsy.config import SerialConfig

DIMENSION = 4  # three controls: a micro:bit's accelerometer


@pytest.fixture
def device(tmp_path, monkeypatch):
    monkeypatch.setattr(serial, "RETRY_INTERVAL", 0.01)
    made: list[PtyDevice] = []

    def make(plugged: bool = True) -> PtyDevice:
        made.append(PtyDevice(tmp_path / "microbit", plugged))
        return made[-1]

    yield make
    for each in made:
        each.close()


def channel_on(device: PtyDevice, threaded: bool = False) -> tuple[SerialChannel, RecordingSink]:
    sink = RecordingSink()
    config = SerialConfig(port=str(device.link), baudrate=115200)
    return SerialChannel(config, sink, DIMENSION, threaded=threaded), sink


@pytest.mark.parametrize("threaded", [False, True], ids=["event-driven", "thread"])
def test_lines_in_and_out(device, threaded):
    microbit = device()
    channel, sink = channel_on(microbit, threaded)

    async def go():
        await channel.start()
        assert channel.link.threaded is threaded
        microbit.write(b"0.25,0.5,1\n")
        microbit.write(b" 0 , 0.125 ,0.75 \r\n")  # spaces and a carriage return are fine
        microbit.write(b"0.5,0.")  # half a line now ...
        await until(lambda: len(sink.vectors) == 2, "two lines")
        microbit.write(b"5,0.5\n")  # ... and the rest later
        await until(lambda: len(sink.vectors) == 3, "the line that came in two pieces")
        channel.send(np.array([0.25, 0.5, 1.0]))
        channel.send(np.array([1.5, -0.25, np.nan]))  # clipped to what an instrument expects
        await until(lambda: microbit.read().count(b"\n") == 2, "two lines out")
        await channel.close()

    run(go())
    assert [v.tolist() for v in sink.vectors] == [[0.25, 0.5, 1.0], [0.0, 0.125, 0.75], [0.5, 0.5, 0.5]]
    assert microbit.read() == b"0.2500,0.5000,1.0000\n1.0000,0.0000,0.0000\n"
    assert sink.drops == [] and sink.sources == {"serial"}


BAD_LINES = [
    b"0.1,0.2\n",  # too few values
    b"0.1,0.2,0.3,0.4\n",  # too many
    b"0.1,,0.3\n",  # an empty field
    b"0.1,high,0.3\n",  # not a number
    b"0.1,nan,0.3\n",
    b"0.1,inf,0.3\n",
    b"0.1,1.5,0.3\n",  # out of range
    b"-0.1,0.5,0.3\n",
    b"\xff\xfe\x00garbage\n",  # noise at the wrong baud rate
    b"9" * 3000 + b",0,0\n",  # one enormous line: dropped once, not once per piece
]


@pytest.mark.parametrize("threaded", [False, True], ids=["event-driven", "thread"])
def test_bad_lines_are_dropped_and_counted_and_good_lines_still_arrive(device, threaded):
    microbit = device()
    channel, sink = channel_on(microbit, threaded)

    async def go():
        await channel.start()
        for line in BAD_LINES:
            microbit.write(line)
        microbit.write(b"\n\r\n   \n")  # blank lines are nothing at all
        microbit.write(b"0.5,0.5,0.5\n")
        await until(lambda: len(sink.vectors) == 1, "the good line")
        await channel.close()

    run(go())
    assert len(sink.drops) == len(BAD_LINES), sink.drops
    assert "expected 3 values, got 2" in sink.drops[0]
    assert "not a number between 0 and 1" in sink.drops[4]
    assert "outside 0..1" in sink.drops[6]
    assert "not text" in sink.drops[8]
    assert "longer than 1024 bytes" in sink.drops[9]
    assert sink.vectors[0].tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("threaded", [False, True], ids=["event-driven", "thread"])
def test_an_unplugged_port_is_reopened_when_it_comes_back(device, threaded, caplog):
    microbit = device()
    channel, sink = channel_on(microbit, threaded)

    async def go():
        await channel.start()
        microbit.write(b"0.1,0.2,0.3\n")
        await until(lambda: len(sink.vectors) == 1, "a line before the cable is pulled")
        microbit.write(b"0.1,0.")  # cut off mid-line
        await until(lambda: len(channel._buffer) > 0, "half a line buffered")
        microbit.unplug()
        await until(lambda: not channel.link.is_open, "the port closed")
        channel.send(np.array([0.5, 0.5, 0.5]))  # nowhere to go: dropped quietly
        await settle()
        microbit.plug()
        await until(lambda: channel.link.opened == 2, "the port reopened")
        microbit.write(b"2,0.3\n0.4,0.5,0.6\n")  # the rest of the old line means nothing now
        await until(lambda: len(sink.vectors) == 2, "a line after replugging")
        channel.send(np.array([0.5, 0.5, 0.5]))
        await until(lambda: microbit.read() == b"0.5000,0.5000,0.5000\n", "output after replugging")
        await channel.close()

    with caplog.at_level(logging.WARNING):
        run(go())
    assert sink.vectors[1].tolist() == [0.4, 0.5, 0.6]
    assert len(sink.drops) == 1  # "2,0.3": a partial line, dropped and counted
    assert f"serial: {microbit.link} went away" in caplog.text


def test_a_line_too_long_is_dropped_once_however_it_arrives():
    sink = RecordingSink()
    channel = SerialChannel(SerialConfig("/dev/null", 9600), sink, DIMENSION)
    for _ in range(10):
        channel._data(b"0.5," * 100)  # 4 kB of one line, in pieces, never ending
    channel._data(b"0.5\n0.1,0.2,0.3\n")
    assert len(sink.drops) == 1 and "longer than 1024 bytes" in sink.drops[0]
    assert [v.tolist() for v in sink.vectors] == [[0.1, 0.2, 0.3]]


def test_a_port_missing_at_start_is_a_warning_and_opens_when_it_appears(device, caplog):
    microbit = device(plugged=False)
    channel, sink = channel_on(microbit)

    async def go():
        with caplog.at_level(logging.WARNING):
            await channel.start()
        assert not channel.link.is_open
        microbit.plug()
        await until(lambda: channel.link.is_open, "the port opened")
        microbit.write(b"1,1,1\n")
        await until(lambda: len(sink.vectors) == 1, "a line")
        await channel.close()

    run(go())
    assert f"serial: cannot open {microbit.link}" in caplog.text
    assert "IMPSY will open it when it is there" in caplog.text


def test_output_never_blocks_when_the_device_stops_reading(device):
    microbit = device()
    channel, _ = channel_on(microbit)

    async def go():
        await channel.start()
        for _ in range(5000):  # ~100 kB to a device that reads nothing
            channel.send(np.array([0.5, 0.5, 0.5]))
        overflows = channel.link.overflows
        await channel.close()
        return overflows

    assert run(go()) > 0  # the excess was dropped rather than queued without end
    assert microbit.read().startswith(b"0.5000,0.5000,0.5000\n")  # what fitted went out whole
