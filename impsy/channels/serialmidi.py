"""[serialmidi]: raw MIDI bytes over a serial port, e.g. a Raspberry Pi UART wired to DIN sockets.

The port is held by the same SerialLink as [serial] (event-driven, reopened when it comes
back), at `baudrate` (31250, MIDI's own speed, unless the adapter needs another). Incoming
bytes go through MidiParser, which copes with whatever a cable delivers: running status,
real-time bytes (clock, active sensing) in the middle of a message, and drops and counts
system exclusive, stray data bytes and messages cut short. Output is sent with
a status byte on every message, so a receiver that joins late is never confused.
"""

from __future__ import annotations

import logging

import numpy as np

from impsy.channels.base import Channel, Sink
from impsy.channels.midimap import CONTROL_CHANGE, NOTE_OFF, PITCH_BEND, Decoder, Encoder, MidiEvent, note_on
from impsy.channels.serial import SerialLink
from impsy.config import SerialMidiConfig

log = logging.getLogger("impsy.serialmidi")

SYSEX_START, SYSEX_END = 0xF0, 0xF7
SYSEX_SKIPPED = "a system exclusive message, skipped (mappings use notes, controllers, pitch bend)"
# Data bytes after each channel voice status (by high nibble) and each system common status.
_VOICE_LENGTH = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_COMMON_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF4: 0, 0xF5: 0, 0xF6: 0}


class MidiParser:
    """A MIDI byte stream -> channel voice events, one byte at a time, never raising.

    feed() returns the note, controller and pitch bend events completed by the bytes given,
    and a reason for each piece of input that had to be thrown away (system exclusive among
    them). Other valid messages (program change, aftertouch, system common, real-time) are
    understood and skipped silently.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget any message in progress (the port was reopened)."""
        self._status: int | None = None  # running status: the last channel voice status byte
        self._data: list[int] = []
        self._needed = 0
        self._common_left = 0  # data bytes of a system common message still to skip
        self._in_sysex = False
        self._stray = 0  # data bytes seen with no status to give them meaning

    def feed(self, data: bytes) -> tuple[list[MidiEvent], list[str]]:
        events: list[MidiEvent] = []
        problems: list[str] = []
        for byte in data:
            if byte >= 0xF8:
                continue  # real-time: a single byte allowed anywhere, even inside a message
            if byte >= 0x80:
                self._end_stray(problems)
                self._status_byte(byte, problems)
            elif self._in_sysex:
                continue
            elif self._common_left:
                self._common_left -= 1
            elif self._status is None:
                self._stray += 1
            else:
                self._data.append(byte)
                if len(self._data) == self._needed:
                    event = _event(self._status, self._data)
                    self._data = []  # the status stays: running status
                    if event is not None:
                        events.append(event)
        self._end_stray(problems)
        return events, problems

    def _status_byte(self, byte: int, problems: list[str]) -> None:
        if self._data:
            problems.append(
                f"message cut short: status 0x{self._status:02X} had {len(self._data)} of "
                f"{self._needed} data bytes when 0x{byte:02X} arrived"
            )
            self._data = []
        if self._in_sysex:  # F7, or any other status, ends it
            problems.append(SYSEX_SKIPPED)
        elif byte == SYSEX_END:
            problems.append("end of system exclusive (0xF7) without a start")
        if byte == SYSEX_END:
            self._in_sysex = False
            return
        self._in_sysex = byte == SYSEX_START
        self._common_left = 0
        if byte < 0xF0:
            self._status, self._needed = byte, _VOICE_LENGTH[byte & 0xF0]
        else:  # system exclusive and system common cancel running status
            self._status = None
            self._common_left = _COMMON_LENGTH.get(byte, 0)

    def _end_stray(self, problems: list[str]) -> None:
        if self._stray:
            problems.append(f"{self._stray} data byte(s) with no status byte before them")
            self._stray = 0


def _event(status: int, data: list[int]) -> MidiEvent | None:
    kind, channel = status & 0xF0, status & 0x0F
    if kind == 0x90:
        return note_on(channel, data[0], data[1])
    if kind == 0x80:
        return MidiEvent(NOTE_OFF, channel, data[0], data[1])
    if kind == 0xB0:
        return MidiEvent(CONTROL_CHANGE, channel, data[0], data[1])
    if kind == 0xE0:
        return MidiEvent(PITCH_BEND, channel, 0, data[0] | data[1] << 7)
    return None  # aftertouch, program change: not mappable


class SerialMidiChannel(Channel):
    """MIDI in and out over a serial port, through the mappings."""

    name = "serialmidi"

    def __init__(
        self, config: SerialMidiConfig, sink: Sink, dimension: int, threaded: bool | None = None
    ) -> None:
        self.config, self.sink = config, sink
        self.decoder = Decoder(config.input)
        self.encoder = Encoder(config.output)
        self.parser = MidiParser()
        self.link = SerialLink(
            config.port,
            config.baudrate,
            self._data,
            self.name,
            on_open=self.parser.reset,
            on_lost=self.encoder.forget,  # whatever it was playing lost power with it
            threaded=threaded,
        )

    async def start(self) -> None:
        await self.link.start()

    def _data(self, data: bytes) -> None:
        events, problems = self.parser.feed(data)
        for problem in problems:
            self.sink.dropped(self.name, problem)
        for event in events:
            changes = self.decoder.decode(event)
            if changes:
                self.sink.controls(self.name, changes)

    def send(self, values: np.ndarray) -> None:
        if not self.link.is_open:
            return
        # Encode only if all of it can go out: a note off lost while its note's successor is
        # remembered would leave a note hanging. Each entry makes at most two 3-byte messages.
        if self.link.room < 6 * len(self.config.output):
            self.link.overflows += 1
            return
        events = self.encoder.encode(values)
        if events:
            self.link.write(b"".join(event.to_bytes() for event in events), force=True)

    def silence(self) -> None:
        if self.link.is_open:
            offs = self.encoder.silence()
            if offs:
                self.link.write(b"".join(event.to_bytes() for event in offs), force=True)

    async def close(self) -> None:
        self.silence()
        self.link.close()
