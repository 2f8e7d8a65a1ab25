"""The one mapping code behind [midi], [websocket] and [serialmidi]: every kind, both ways."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impsy.channels.midimap import (
    CONTROL_CHANGE,
    NOTE_OFF,
    NOTE_ON,
    PITCH_BEND,
    Decoder,
    Encoder,
    MidiEvent,
    note_on,
)
from impsy.config import MappingEntry


def entry(kind: str, channel: int, control: int | None = None, low: int = 0, high: int = 127):
    return MappingEntry(kind, channel, control, low, high)


# ---- in -------------------------------------------------------------------------------------------


def test_a_note_sets_its_note_and_velocity_controls_at_once():
    decoder = Decoder((entry("note_on", 0), entry("note_velocity", 0), entry("note_on", 1)))
    assert decoder.decode(note_on(0, 64, 127)) == {0: 64 / 127, 1: 1.0}
    assert decoder.decode(note_on(1, 127, 5)) == {2: 1.0}
    assert decoder.decode(note_on(2, 60, 100)) == {}  # no entry for channel 3


def test_note_offs_set_nothing_however_they_are_spelt():
    decoder = Decoder((entry("note_on", 0), entry("note_velocity", 0)))
    assert note_on(0, 60, 0) == MidiEvent(NOTE_OFF, 0, 60, 0)
    assert decoder.decode(note_on(0, 60, 0)) == {}
    assert decoder.decode(MidiEvent(NOTE_OFF, 0, 60, 64)) == {}


def test_control_change_in_full_and_in_a_range():
    decoder = Decoder((entry("control_change", 0, 74), entry("control_change", 0, 71, 20, 100)))
    assert decoder.decode(MidiEvent(CONTROL_CHANGE, 0, 74, 127)) == {0: 1.0}
    assert decoder.decode(MidiEvent(CONTROL_CHANGE, 0, 74, 0)) == {0: 0.0}
    assert decoder.decode(MidiEvent(CONTROL_CHANGE, 0, 71, 60)) == {1: 0.5}
    # A controller sweeping 0-127 into a 20-100 mapping: the ends hold.
    assert decoder.decode(MidiEvent(CONTROL_CHANGE, 0, 71, 5)) == {1: 0.0}
    assert decoder.decode(MidiEvent(CONTROL_CHANGE, 0, 71, 127)) == {1: 1.0}
    assert decoder.decode(MidiEvent(CONTROL_CHANGE, 0, 1, 64)) == {}  # another controller
    assert decoder.decode(MidiEvent(CONTROL_CHANGE, 1, 74, 64)) == {}  # another channel


def test_pitch_bend_in_uses_all_14_bits():
    decoder = Decoder((entry("pitch_bend", 9),))
    assert decoder.decode(MidiEvent(PITCH_BEND, 9, 0, 16383)) == {0: 1.0}
    assert decoder.decode(MidiEvent(PITCH_BEND, 9, 0, 0)) == {0: 0.0}
    assert decoder.decode(MidiEvent(PITCH_BEND, 9, 0, 8192)) == {0: pytest.approx(0.50003, abs=1e-5)}
    assert decoder.decode(MidiEvent(PITCH_BEND, 0, 0, 8192)) == {}


# ---- out ------------------------------------------------------------------------------------------


def test_note_on_out_full_velocity_and_each_new_note_ends_the_last():
    encoder = Encoder((entry("note_on", 0),))
    assert encoder.encode([64 / 127]) == [MidiEvent(NOTE_ON, 0, 64, 127)]
    assert encoder.encode([1.0]) == [MidiEvent(NOTE_OFF, 0, 64, 0), MidiEvent(NOTE_ON, 0, 127, 127)]
    # The same note again is a new note: ended and started again.
    assert encoder.encode([1.0]) == [MidiEvent(NOTE_OFF, 0, 127, 0), MidiEvent(NOTE_ON, 0, 127, 127)]
    assert encoder.held == [(0, 127)]


def test_note_velocity_out_gives_the_velocity_of_notes_on_its_channel():
    encoder = Encoder((entry("note_on", 9), entry("note_velocity", 9), entry("note_on", 0)))
    assert encoder.encode([0.5, 0.5, 0.0]) == [
        MidiEvent(NOTE_ON, 9, 64, 64),
        MidiEvent(NOTE_ON, 0, 0, 127),  # another channel: full velocity
    ]
    # A velocity of 0 would be a note off: the quietest note is 1.
    assert encoder.encode([0.5, 0.0, 0.0])[-2:] == [
        MidiEvent(NOTE_ON, 9, 64, 1),
        MidiEvent(NOTE_ON, 0, 0, 127),
    ]


def test_a_velocity_with_no_note_on_its_channel_sends_nothing_and_is_reported():
    encoder = Encoder((entry("note_on", 0), entry("note_velocity", 3)))
    assert encoder.orphan_velocities() == [entry("note_velocity", 3)]
    assert encoder.encode([0.5, 0.9]) == [MidiEvent(NOTE_ON, 0, 64, 127)]


def test_control_change_out_in_its_range_only_when_it_changes():
    encoder = Encoder((entry("control_change", 2, 23, 0, 64), entry("control_change", 2, 74)))
    assert encoder.encode([1.0, 0.5]) == [
        MidiEvent(CONTROL_CHANGE, 2, 23, 64),
        MidiEvent(CONTROL_CHANGE, 2, 74, 64),
    ]
    assert encoder.encode([1.0, 0.5]) == []
    assert encoder.encode([0.999, 0.5]) == []  # rounds to the same value: nothing new to say
    assert encoder.encode([0.0, 0.5]) == [MidiEvent(CONTROL_CHANGE, 2, 23, 0)]


def test_the_originals_longer_forms_a_range_backwards_a_pinned_cc_and_a_fixed_velocity():
    mapping = (
        entry("control_change", 0, 74, 127, 0),  # a fader that closes the filter as it rises
        entry("control_change", 0, 7, 64, 64),  # always 64
        MappingEntry("note_on", 1, velocity=90),
        entry("note_velocity", 1),  # the entry's own fixed velocity wins over it
    )
    encoder, decoder = Encoder(mapping), Decoder(mapping)
    assert encoder.encode([0.0, 0.3, 0.5, 1.0]) == [
        MidiEvent(CONTROL_CHANGE, 0, 74, 127),
        MidiEvent(CONTROL_CHANGE, 0, 7, 64),
        MidiEvent(NOTE_ON, 1, 64, 90),
    ]
    assert MidiEvent(CONTROL_CHANGE, 0, 74, 0) in encoder.encode([1.0, 0.9, 0.5, 1.0])
    assert decoder.decode(MidiEvent(CONTROL_CHANGE, 0, 74, 32)) == {0: pytest.approx(95 / 127)}
    assert decoder.decode(MidiEvent(CONTROL_CHANGE, 0, 7, 10)) == {1: 0.0}


def test_halves_round_up_as_the_original_did():
    encoder = Encoder((entry("control_change", 0, 1, 0, 2), entry("control_change", 0, 2, 0, 4)))
    assert encoder.encode([0.25, 0.125]) == [
        MidiEvent(CONTROL_CHANGE, 0, 1, 1),
        MidiEvent(CONTROL_CHANGE, 0, 2, 1),
    ]


def test_the_first_velocity_control_of_a_channel_sets_it():
    encoder = Encoder((entry("note_on", 0), entry("note_velocity", 0), entry("note_velocity", 0)))
    assert encoder.encode([0.5, 1.0, 0.1]) == [MidiEvent(NOTE_ON, 0, 64, 127)]


def test_refresh_sends_every_controller_again_for_a_listener_that_joins():
    encoder = Encoder((entry("control_change", 0, 1), entry("pitch_bend", 0)))
    encoder.encode([0.5, 0.5])
    assert encoder.encode([0.5, 0.5]) == []
    encoder.refresh()
    assert encoder.encode([0.5, 0.5]) == [
        MidiEvent(CONTROL_CHANGE, 0, 1, 64),
        MidiEvent(PITCH_BEND, 0, 0, 8192),
    ]


def test_pitch_bend_out_14_bits_only_when_it_changes():
    encoder = Encoder((entry("pitch_bend", 0),))
    assert encoder.encode([0.5]) == [MidiEvent(PITCH_BEND, 0, 0, 8192)]
    assert encoder.encode([0.5]) == []
    assert encoder.encode([1.0]) == [MidiEvent(PITCH_BEND, 0, 0, 16383)]
    assert MidiEvent(PITCH_BEND, 0, 0, 16383).to_bytes() == bytes([0xE0, 0x7F, 0x7F])


def test_offs_then_controllers_then_ons_so_two_controls_on_one_channel_never_cut_each_other():
    encoder = Encoder((entry("note_on", 0), entry("note_on", 0), entry("control_change", 0, 1)))
    encoder.encode([60 / 127, 62 / 127, 0.0])
    events = encoder.encode([62 / 127, 60 / 127, 1.0])  # the two controls swap notes
    assert events == [
        MidiEvent(NOTE_OFF, 0, 60, 0),
        MidiEvent(NOTE_OFF, 0, 62, 0),
        MidiEvent(CONTROL_CHANGE, 0, 1, 127),
        MidiEvent(NOTE_ON, 0, 62, 127),
        MidiEvent(NOTE_ON, 0, 60, 127),
    ]


def test_values_outside_0_to_1_are_clipped_and_nan_sends_nothing():
    encoder = Encoder((entry("note_on", 0), entry("control_change", 0, 7), entry("pitch_bend", 0)))
    assert encoder.encode([1.7, -0.2, 3.0]) == [
        MidiEvent(CONTROL_CHANGE, 0, 7, 0),
        MidiEvent(PITCH_BEND, 0, 0, 16383),
        MidiEvent(NOTE_ON, 0, 127, 127),
    ]
    nan = float("nan")
    assert encoder.encode([nan, nan, nan]) == []
    assert encoder.held == [(0, 127)]  # the note still sounds, and is still remembered


def test_silence_ends_every_note_once_and_forget_starts_afresh():
    encoder = Encoder((entry("note_on", 0), entry("note_on", 5), entry("control_change", 0, 7)))
    encoder.encode([0.5, 0.25, 0.5])
    assert set(encoder.silence()) == {MidiEvent(NOTE_OFF, 0, 64, 0), MidiEvent(NOTE_OFF, 5, 32, 0)}
    assert encoder.silence() == []
    encoder.encode([0.5, 0.25, 0.5])
    encoder.forget()  # the synth was unplugged: nothing sounds there, and it knows nothing
    assert encoder.held == []
    assert MidiEvent(CONTROL_CHANGE, 0, 7, 64) in encoder.encode([0.5, 0.25, 0.5])


def test_events_as_bytes():
    assert MidiEvent(NOTE_ON, 9, 60, 100).to_bytes() == bytes([0x99, 60, 100])
    assert MidiEvent(NOTE_OFF, 0, 60, 0).to_bytes() == bytes([0x80, 60, 0])
    assert MidiEvent(CONTROL_CHANGE, 15, 74, 1).to_bytes() == bytes([0xBF, 74, 1])
    assert MidiEvent(PITCH_BEND, 1, 0, 8192).to_bytes() == bytes([0xE1, 0x00, 0x40])


# ---- properties -----------------------------------------------------------------------------------

kinds = st.sampled_from(["note_on", "note_velocity", "control_change", "pitch_bend"])
channels = st.integers(0, 2)  # few channels, so that controls share them and collide


@st.composite
def mappings(draw):
    entries = []
    for _ in range(draw(st.integers(1, 6))):
        kind, channel = draw(kinds), draw(channels)
        if kind == "control_change":
            low = draw(st.integers(0, 126))
            entries.append(
                entry(kind, channel, draw(st.integers(0, 3)), low, draw(st.integers(low + 1, 127)))
            )
        else:
            entries.append(entry(kind, channel))
    return tuple(entries)


values = st.one_of(
    st.floats(0, 1),
    st.floats(0, 1).map(lambda v: round(v * 4) / 4),  # repeats: the same note again
    st.sampled_from([-0.5, 1.5, math.nan, math.inf]),
)


class Synth:
    """Plays what it hears, counting voices: each note on needs a note off of its own."""

    def __init__(self) -> None:
        self.voices: Counter[tuple[int, int]] = Counter()

    def hear(self, events: list[MidiEvent]) -> None:
        for event in events:
            key = (event.channel, event.number)
            if event.kind == NOTE_ON:
                self.voices[key] += 1
            elif event.kind == NOTE_OFF and self.voices[key] > 0:
                self.voices[key] -= 1

    @property
    def sounding(self) -> Counter[tuple[int, int]]:
        return +self.voices


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_after_any_outputs_and_a_stop_no_note_is_left_on(data):
    mapping = data.draw(mappings())
    encoder, synth = Encoder(mapping), Synth()
    for _ in range(data.draw(st.integers(0, 20))):
        if data.draw(st.booleans()):
            synth.hear(encoder.encode([data.draw(values) for _ in mapping]))
        else:
            synth.hear(encoder.silence())
        # What the encoder thinks sounds is exactly what sounds.
        assert synth.sounding == Counter(encoder.held)
    synth.hear(encoder.silence())
    assert synth.sounding == Counter()
    assert encoder.held == []


@settings(deadline=None)
@given(st.floats(0, 1), st.integers(0, 127), st.data())
def test_decoding_what_was_encoded_gives_the_value_back_to_the_resolution_of_midi(value, low, data):
    high = data.draw(st.integers(0, 127).filter(lambda h: h != low))  # either way round
    mapping = (entry("note_on", 0), entry("control_change", 0, 7, low, high), entry("pitch_bend", 0))
    decoder, encoder = Decoder(mapping), Encoder(mapping)
    decoded: dict[int, float] = {}
    for event in encoder.encode([value, value, value]):
        decoded.update(decoder.decode(event))
    assert decoded[0] == pytest.approx(value, abs=0.5 / 127)
    assert decoded[1] == pytest.approx(value, abs=0.5 / abs(high - low) + 1e-12)
    assert decoded[2] == pytest.approx(value, abs=0.5 / 16383)
