"""[serialmidi]: the MIDI byte parser, and the channel over real pseudo-terminals at 31250 baud."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fakes.pty_device import PtyDevice
from fakes.sink import RecordingSink, run, until
from hypothesis import given, settings
from hypothesis import strategies as st

from impsy.channels import serial
from impsy.channels.midimap import CONTROL_CHANGE, NOTE_OFF, NOTE_ON, PITCH_BEND, MidiEvent
from impsy.channels.serialmidi import SYSEX_SKIPPED, MidiParser, SerialMidiChannel
from impsy.config import parse_config


def parse(*chunks: bytes) -> tuple[list[MidiEvent], list[str]]:
    parser, events, problems = MidiParser(), [], []
    for chunk in chunks:
        more, trouble = parser.feed(chunk)
        events += more
        problems += trouble
    return events, problems


# ---- the parser -----------------------------------------------------------------------------------


def test_each_kind_of_message():
    events, problems = parse(
        bytes([0x99, 60, 100, 0x89, 60, 64, 0x99, 61, 0, 0xB1, 74, 127, 0xE2, 0x00, 0x40])
    )
    assert events == [
        MidiEvent(NOTE_ON, 9, 60, 100),
        MidiEvent(NOTE_OFF, 9, 60, 64),
        MidiEvent(NOTE_OFF, 9, 61, 0),  # a note on with velocity 0 is a note off
        MidiEvent(CONTROL_CHANGE, 1, 74, 127),
        MidiEvent(PITCH_BEND, 2, 0, 8192),
    ]
    assert problems == []


def test_running_status_even_across_reads():
    events, problems = parse(bytes([0x90, 60, 100, 62]), bytes([100]), bytes([64, 0]))
    assert events == [
        MidiEvent(NOTE_ON, 0, 60, 100),
        MidiEvent(NOTE_ON, 0, 62, 100),
        MidiEvent(NOTE_OFF, 0, 64, 0),
    ]
    assert problems == []


def test_real_time_bytes_anywhere_do_not_disturb_a_message():
    events, problems = parse(bytes([0xF8, 0x90, 0xF8, 60, 0xFE, 100, 0xFA, 62, 0xFF, 90]))
    assert events == [MidiEvent(NOTE_ON, 0, 60, 100), MidiEvent(NOTE_ON, 0, 62, 90)]
    assert problems == []


def test_system_exclusive_is_skipped_counted_and_cancels_running_status():
    events, problems = parse(
        bytes([0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7]),  # "General MIDI on": skipped whole
        bytes([0x90, 60, 100, 0xF0, 1, 2, 0xF7, 62, 100]),  # after a sysex, no running status
        bytes([0xF0, 1, 2, 0xB0, 7, 64]),  # a sysex ended by another status byte (no F7)
    )
    assert events == [MidiEvent(NOTE_ON, 0, 60, 100), MidiEvent(CONTROL_CHANGE, 0, 7, 64)]
    stray = "2 data byte(s) with no status byte before them"
    assert problems == [SYSEX_SKIPPED, SYSEX_SKIPPED, stray, SYSEX_SKIPPED]


def test_garbage_partial_messages_and_stray_bytes_are_dropped_and_counted():
    events, problems = parse(
        bytes([1, 2, 3, 0x90, 60, 100]),  # noise before the first status byte
        bytes([0x90, 60, 0xB0, 7, 64]),  # a note cut short by a controller
        bytes([0xF7]),  # the end of a sysex that never began
    )
    assert events == [MidiEvent(NOTE_ON, 0, 60, 100), MidiEvent(CONTROL_CHANGE, 0, 7, 64)]
    assert problems == [
        "3 data byte(s) with no status byte before them",
        "message cut short: status 0x90 had 1 of 2 data bytes when 0xB0 arrived",
        "end of system exclusive (0xF7) without a start",
    ]


def test_other_valid_messages_are_understood_and_skipped():
    events, problems = parse(
        bytes([0xC0, 5, 6]),  # two program changes, the second by running status
        bytes([0xD0, 7, 0xA0, 60, 50]),  # channel and key pressure
        bytes([0xF2, 1, 2, 0xF1, 3, 0xF3, 4, 0xF6]),  # song position, time code, song select, tune
        bytes([0x90, 60, 100]),
    )
    assert events == [MidiEvent(NOTE_ON, 0, 60, 100)]
    assert problems == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_any_bytes_at_all_never_raise_and_give_only_valid_events(first, second):
    events, problems = parse(first, second)
    for event in events:
        assert 0 <= event.channel <= 15
        assert 0 <= event.number <= 127
        assert 0 <= event.value <= (16383 if event.kind == PITCH_BEND else 127)
    assert all(isinstance(problem, str) for problem in problems)


events_strategy = st.lists(
    st.one_of(
        st.builds(MidiEvent, st.just(NOTE_ON), st.integers(0, 15), st.integers(0, 127), st.integers(1, 127)),
        st.builds(MidiEvent, st.just(NOTE_OFF), st.integers(0, 15), st.integers(0, 127), st.integers(0, 127)),
        st.builds(
            MidiEvent, st.just(CONTROL_CHANGE), st.integers(0, 15), st.integers(0, 127), st.integers(0, 127)
        ),
        st.builds(MidiEvent, st.just(PITCH_BEND), st.integers(0, 15), st.just(0), st.integers(0, 16383)),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(events_strategy, st.data())
def test_a_valid_stream_with_running_status_and_real_time_bytes_gives_back_every_event(events, data):
    stream, status = bytearray(), None
    for event in events:
        raw = event.to_bytes()
        if raw[0] == status and data.draw(st.booleans()):  # a sender may leave the status out
            raw = raw[1:]
        status = event.to_bytes()[0]
        for byte in raw:
            if data.draw(st.integers(0, 5)) == 0:
                stream.append(data.draw(st.sampled_from([0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF])))
            stream.append(byte)
    cut = data.draw(st.integers(0, len(stream)))  # and it arrives in two reads, split anywhere
    assert parse(bytes(stream[:cut]), bytes(stream[cut:])) == (events, [])


# ---- the channel over a pty -------------------------------------------------------------------------

SECTION = """
[serialmidi]
port = "/dev/ttyAMA0"
input = [["note_on", 1], ["note_velocity", 1], ["control_change", 1, 1]]
output = [["note_on", 2], ["control_change", 2, 74], ["pitch_bend", 2]]
"""


@pytest.fixture
def uart(tmp_path, monkeypatch):
    monkeypatch.setattr(serial, "RETRY_INTERVAL", 0.01)
    device = PtyDevice(tmp_path / "ttyAMA0")
    yield device
    device.close()


def channel_on(device: PtyDevice) -> tuple[SerialMidiChannel, RecordingSink]:
    text = (
        "[interaction]\nmode = 'callresponse'\nthreshold = 0.1\n"
        f"[model]\ndimension = 4\nsigmatemp = 0.01\npitemp = 1\ntimescale = 1\n{SECTION}"
    )
    config, problems = parse_config(text)
    assert config is not None, problems
    assert config.serialmidi.baudrate == 31250
    sink = RecordingSink()
    return SerialMidiChannel(replace(config.serialmidi, port=str(device.link)), sink, 4), sink


def test_midi_bytes_in_through_the_mapping_bad_bytes_counted(uart):
    channel, sink = channel_on(uart)

    async def go():
        await channel.start()
        uart.write(bytes([0xFE, 5, 6, 0x90, 64, 127, 0xF8, 0xB0, 1]))  # sensing, noise, a note, half a CC
        uart.write(bytes([127, 0xF0, 1, 2, 3, 0xF7, 0x90, 60]))  # ... its end, a sysex, half a note
        uart.write(bytes([0xB0, 1, 0]))  # which a controller cuts short
        await until(lambda: len(sink.changes) == 3, "three mapped messages")
        await channel.close()

    run(go())
    assert sink.changes == [{0: 64 / 127, 1: 1.0}, {2: 1.0}, {2: 0.0}]
    assert sink.drops == [
        "2 data byte(s) with no status byte before them",
        SYSEX_SKIPPED,
        "message cut short: status 0x90 had 1 of 2 data bytes when 0xB0 arrived",
    ]


def test_output_bytes_and_every_note_ended_at_silence_and_close(uart):
    channel, _ = channel_on(uart)

    async def go():
        await channel.start()
        channel.send(np.array([0.5, 1.0, 0.5]))
        channel.send(np.array([0.5, 1.0, 0.5]))
        channel.silence()
        channel.send(np.array([1.0, 1.0, 1.0]))
        await channel.close()  # IMPSY stops with a note sounding

    run(go())
    assert uart.read() == b"".join(
        [
            bytes([0xB1, 74, 127, 0xE1, 0x00, 0x40, 0x91, 64, 127]),  # controller, bend, then the note
            bytes([0x81, 64, 0, 0x91, 64, 127]),  # the same note again: ended, started
            bytes([0x81, 64, 0]),  # silence
            bytes([0xE1, 0x7F, 0x7F, 0x91, 127, 127]),  # the controller has not moved: not sent
            bytes([0x81, 127, 0]),  # close
        ]
    )


def test_an_unplugged_uart_adapter_is_reopened_and_starts_afresh(uart):
    channel, sink = channel_on(uart)

    async def go():
        await channel.start()
        channel.send(np.array([0.5, 0.5, 0.5]))
        await until(lambda: len(uart.read()) == 9, "the first note out")
        uart.write(bytes([0x90, 60]))  # half a message, then the cable goes
        await until(lambda: channel.parser._data == [60], "half a message read")
        uart.unplug()
        await until(lambda: not channel.link.is_open, "the port closed")
        uart.received.clear()
        uart.plug()
        await until(lambda: channel.link.opened == 2, "the port reopened")
        uart.write(bytes([100, 0x90, 62, 100]))  # the old half message is forgotten: 100 is stray
        await until(lambda: len(sink.changes) == 1, "a note after replugging")
        channel.send(np.array([0.5, 0.5, 0.5]))
        await until(lambda: len(uart.read()) == 9, "output after replugging")
        await channel.close()

    run(go())
    assert sink.changes == [{0: 62 / 127, 1: 100 / 127}]
    assert sink.drops == ["1 data byte(s) with no status byte before them"]
    # The synth lost power with the adapter: no note off for a note it no longer plays, and
    # the controller and bend are sent again.
    assert uart.read() == bytes([0xB1, 74, 64, 0xE1, 0x00, 0x40, 0x91, 64, 127, 0x81, 64, 0])
