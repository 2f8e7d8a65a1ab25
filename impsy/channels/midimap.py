"""MIDI mappings both ways: one piece of code for [midi], [websocket] and [serialmidi].

A mapping (impsy.config.MidiMapping) has one entry per control. The Decoder turns an incoming
MIDI event into the controls it sets; the Encoder turns IMPSY's controls into MIDI events and
remembers what it has left sounding, so that every note it starts is ended exactly once.

What each kind of entry means:

- note_on (channel[, velocity]): the note number, 0-127 <-> 0..1. In: a note starting on
  that channel (a note ending sets nothing). Out: every output starts a new note on that
  channel, at the entry's fixed velocity if it gives one; the note this control started
  before is ended first.
- note_velocity (channel): the velocity, 0-127 <-> 0..1. In: the velocity of a note starting
  on that channel. Out: the velocity of the notes this output starts on that channel (127
  if no control gives one; never 0, since a note on with velocity 0 means note off).
- control_change (channel, controller, low, high): the controller's value, low..high <->
  0..1 (values outside low..high count as the nearest end; high below low runs the other
  way; low equal to high always sends low, and reads as 0). Out: sent only when it changes,
  and again to a listener that joins (`refresh`).
- pitch_bend (channel): the 14-bit bend, 0..16383 (8192 is the middle) <-> 0..1. Out: sent
  only when it changes.

Within one output, note offs go first, then controllers and bends, then note ons, so that
two controls on one channel never cut each other's new notes and a sound starts with its
controllers already set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from impsy.config import MappingEntry, MidiMapping

NOTE_ON, NOTE_OFF, CONTROL_CHANGE, PITCH_BEND = "note_on", "note_off", "control_change", "pitch_bend"
BEND_MAX = 16383  # 14 bits; 8192 is the middle of the wheel
BEND_CENTRE = 8192
FULL_VELOCITY = 127

# Status nibbles of the channel voice messages IMPSY maps.
_STATUS = {NOTE_OFF: 0x80, NOTE_ON: 0x90, CONTROL_CHANGE: 0xB0, PITCH_BEND: 0xE0}


@dataclass(frozen=True, slots=True)
class MidiEvent:
    """One channel voice message. channel is 0-15 (the wire's 1-16 minus one).

    number is the note or the controller (0 for pitch bend); value is the velocity, the
    controller's value, or the bend as 0..16383. A note on with velocity 0 is a note off:
    build events with `note_on()`, which says so.
    """

    kind: str
    channel: int
    number: int = 0
    value: int = 0

    def to_bytes(self) -> bytes:
        """The message as MIDI bytes, always with its status byte (no running status)."""
        status = _STATUS[self.kind] | self.channel
        if self.kind == PITCH_BEND:
            return bytes((status, self.value & 0x7F, self.value >> 7))
        return bytes((status, self.number, self.value))


def note_on(channel: int, note: int, velocity: int) -> MidiEvent:
    """A note on, or the note off that a velocity of 0 means."""
    if velocity == 0:
        return MidiEvent(NOTE_OFF, channel, note, 0)
    return MidiEvent(NOTE_ON, channel, note, velocity)


def _scale(value: float, low: int, high: int) -> int | None:
    """0..1 -> low..high, rounded half up as the original did; None for a value that is not a number."""
    if not math.isfinite(value):
        return None
    value = min(1.0, max(0.0, value))
    return math.floor(low + value * (high - low) + 0.5)


def _unscale(number: int, low: int, high: int) -> float:
    """low..high -> 0..1 (either way round); outside the range counts as its nearest end."""
    if low == high:
        return 0.0
    return min(1.0, max(0.0, (number - low) / (high - low)))


class Decoder:
    """Incoming MIDI -> the controls it sets, through one mapping."""

    def __init__(self, mapping: MidiMapping) -> None:
        self.mapping = mapping
        self._pitch: dict[int, list[int]] = {}  # channel -> indices of note_on entries
        self._velocity: dict[int, list[int]] = {}
        self._controllers: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        self._bend: dict[int, list[int]] = {}
        for index, entry in enumerate(mapping):
            if entry.kind == "note_on":
                self._pitch.setdefault(entry.channel, []).append(index)
            elif entry.kind == "note_velocity":
                self._velocity.setdefault(entry.channel, []).append(index)
            elif entry.kind == "control_change":
                key = (entry.channel, entry.control)
                self._controllers.setdefault(key, []).append((index, entry.low, entry.high))
            elif entry.kind == "pitch_bend":
                self._bend.setdefault(entry.channel, []).append(index)

    def decode(self, event: MidiEvent) -> dict[int, float]:
        """{control index: value} for the controls this event sets (often none)."""
        changes: dict[int, float] = {}
        if event.kind == NOTE_ON and event.value > 0:
            for index in self._pitch.get(event.channel, ()):
                changes[index] = event.number / 127
            for index in self._velocity.get(event.channel, ()):
                changes[index] = event.value / 127
        elif event.kind == CONTROL_CHANGE:
            for index, low, high in self._controllers.get((event.channel, event.number), ()):
                changes[index] = _unscale(event.value, low, high)
        elif event.kind == PITCH_BEND:
            for index in self._bend.get(event.channel, ()):
                changes[index] = event.value / BEND_MAX
        return changes


class Encoder:
    """IMPSY's controls -> outgoing MIDI, through one mapping, remembering what sounds.

    One Encoder per destination (a MIDI port, all WebSocket clients, a serial port): what it
    remembers is what that destination has heard.
    """

    def __init__(self, mapping: MidiMapping) -> None:
        self.mapping = mapping
        self._held: dict[int, tuple[int, int]] = {}  # note_on entry index -> (channel, note)
        self._last: dict[int, int] = {}  # control_change / pitch_bend entry index -> last value sent
        self._velocity_of: dict[int, int] = {}  # channel -> the note_velocity entry that sets it
        for index, entry in enumerate(mapping):
            if entry.kind == "note_velocity":  # the first on a channel sets it, as in the original
                self._velocity_of.setdefault(entry.channel, index)

    def orphan_velocities(self) -> list[MappingEntry]:
        """note_velocity entries with no note_on entry on their channel: they send nothing."""
        noted = {e.channel for e in self.mapping if e.kind == "note_on"}
        return [e for e in self.mapping if e.kind == "note_velocity" and e.channel not in noted]

    @property
    def held(self) -> list[tuple[int, int]]:
        """(channel, note) of every note started and not yet ended, one per sounding control."""
        return list(self._held.values())

    def encode(self, values: Sequence[float]) -> list[MidiEvent]:
        """The messages that play `values` (one per mapping entry, each 0..1)."""
        offs: list[MidiEvent] = []
        changes: list[MidiEvent] = []
        ons: list[MidiEvent] = []
        for index, entry in enumerate(self.mapping):
            if entry.kind == "note_on":
                note = _scale(values[index], 0, 127)
                if note is None:
                    continue
                if index in self._held:
                    channel, old = self._held.pop(index)
                    offs.append(MidiEvent(NOTE_OFF, channel, old, 0))
                velocity = entry.velocity or self._velocity(values, entry.channel)
                ons.append(MidiEvent(NOTE_ON, entry.channel, note, velocity))
                self._held[index] = (entry.channel, note)
            elif entry.kind == "control_change":
                value = _scale(values[index], entry.low, entry.high)
                if value is not None and self._last.get(index) != value:
                    self._last[index] = value
                    changes.append(MidiEvent(CONTROL_CHANGE, entry.channel, entry.control, value))
            elif entry.kind == "pitch_bend":
                bend = _scale(values[index], 0, BEND_MAX)
                if bend is not None and self._last.get(index) != bend:
                    self._last[index] = bend
                    changes.append(MidiEvent(PITCH_BEND, entry.channel, 0, bend))
        return offs + changes + ons

    def _velocity(self, values: Sequence[float], channel: int) -> int:
        index = self._velocity_of.get(channel)
        velocity = None if index is None else _scale(values[index], 0, 127)
        return FULL_VELOCITY if velocity is None else max(1, velocity)

    def silence(self) -> list[MidiEvent]:
        """Note offs for every note still sounding; afterwards nothing is."""
        offs = [MidiEvent(NOTE_OFF, channel, note, 0) for channel, note in self._held.values()]
        self._held.clear()
        return offs

    def refresh(self) -> None:
        """A listener joined: send every controller and bend again with the next output."""
        self._last.clear()

    def forget(self) -> None:
        """The destination went away (unplugged): nothing sounds there and nothing was sent."""
        self._held.clear()
        self._last.clear()
