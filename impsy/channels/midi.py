"""[midi]: MIDI ports by name through mido, with python-rtmidi (ALSA on Linux) underneath.

Each configured name opens the first port whose name contains it (case-sensitive), with its
own mapping. rtmidi calls back on its own thread: messages cross to the event loop with
call_soon_threadsafe and everything else happens on the loop. Ports are looked for again
every HOTPLUG_INTERVAL seconds (a cheap listing of names, off the loop's thread), so a device
that is missing at start or unplugged on stage is opened when it appears.

mido chooses its backend from $MIDO_BACKEND (default mido.backends.rtmidi); the tests put a
fake backend module there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mido
import numpy as np

from impsy.channels.base import Channel, Sink, close_quietly
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
from impsy.config import MidiConfig
from impsy.quiet import native_noise_filtered

log = logging.getLogger("impsy.midi")

HOTPLUG_INTERVAL = 1.5  # seconds between looks at which ports exist
ECHO_MEMORY = 256  # sent messages remembered for feedback protection before pruning
# mido message types no mapping can use, dropped on rtmidi's thread unless passed thru.
UNMAPPABLE = frozenset(
    ("clock", "active_sensing", "sysex", "start", "stop", "continue", "reset", "quarter_frame")
)
SOUND_DEVICES = Path("/dev/snd")  # Linux: one controlC<card> node per sound card, made anew at plug-in

# ALSA names ports "<client>:<port> <client number>:<port number>"; a sound card's kernel
# client is numbered 16 + 4 * card (the kernel's SNDRV_SEQ_GLOBAL_CLIENTS and
# SNDRV_SEQ_CLIENTS_PER_CARD).
_ALSA_ADDRESS = re.compile(r" (\d+):\d+$")


SEQUENCER = "/dev/snd/seq"  # ALSA's MIDI: there only when the snd-seq module is loaded


class MidiUnavailable(Exception):
    """No MIDI system to ask (no ALSA sequencer, no rtmidi); the message says what to do."""


def _backend() -> mido.Backend:
    return mido.Backend()  # $MIDO_BACKEND, or python-rtmidi


def _unavailable(error: Exception) -> MidiUnavailable:
    if sys.platform.startswith("linux") and not os.path.exists(SEQUENCER):
        return MidiUnavailable(
            "cannot list MIDI ports: this machine has no ALSA sequencer (/dev/snd/seq), so no sound "
            "support is loaded. On a Pi or a laptop, `sudo modprobe snd-seq` loads it; in a container or "
            "a virtual machine without sound, use OSC, WebSocket or serial instead of MIDI"
        )
    return MidiUnavailable(f"cannot list MIDI ports: {error}")


def port_names(backend: mido.Backend | None = None) -> tuple[list[str], list[str]]:
    """(input names, output names) as the MIDI system spells them; MidiUnavailable if none."""
    try:
        with native_noise_filtered():  # ALSA's own complaint goes to fd 2; ours says what to do
            backend = backend or _backend()
            return list(backend.get_input_names()), list(backend.get_output_names())
    except Exception as error:  # rtmidi raises its own SystemError, ImportError without rtmidi
        raise _unavailable(error) from error


def print_port_names() -> int:
    """`impsy midi-ports`: print the port names a config's in_device / out_device can use."""
    try:
        inputs, outputs = port_names()
    except MidiUnavailable as error:
        print(f"impsy midi-ports: {error}", file=sys.stderr)
        return 1
    for title, key, names in (("inputs", "in_device", inputs), ("outputs", "out_device", outputs)):
        print(f"MIDI {title} (for {key}):")
        for name in names:
            print(f"  {json.dumps(name, ensure_ascii=False)}")
        if not names:
            print("  (none: is the device plugged in and switched on?)")
    if inputs or outputs:
        print(
            'Any part of a name will do, as long as it is spelt exactly (capitals count): "S-1" '
            'opens "S-1:S-1 MIDI 1 24:0". The numbers at the end can change when you replug.'
        )
    return 0


def match_port(pattern: str, names: list[str]) -> str | None:
    """The first port name that contains pattern (case-sensitive), or None."""
    return next((name for name in names if pattern in name), None)


def device_identity(port_name: str) -> int | None:
    """Which plugging-in of a USB MIDI device a port belongs to, where the system can tell.

    A device unplugged and plugged in again between two looks at the port list comes back
    with exactly the same port name (ALSA reuses the card number), but its card's device
    node under /dev/snd is new: a new inode (its times are no use: permission changes touch
    them). None where this cannot be told (not ALSA, not a card).
    """
    match = _ALSA_ADDRESS.search(port_name)
    if match is None or not 16 <= int(match[1]) < 128:
        return None
    card = (int(match[1]) - 16) // 4
    try:
        return (SOUND_DEVICES / f"controlC{card}").stat().st_ino
    except OSError:
        return None


# ---- mido messages <-> MidiEvent ----------------------------------------------------------------


def to_event(message: mido.Message) -> MidiEvent | None:
    """The mappable part of a mido message, or None (clock, sysex, aftertouch ...)."""
    kind = message.type
    if kind == "note_on":
        return note_on(message.channel, message.note, message.velocity)
    if kind == "note_off":
        return MidiEvent(NOTE_OFF, message.channel, message.note, message.velocity)
    if kind == "control_change":
        return MidiEvent(CONTROL_CHANGE, message.channel, message.control, message.value)
    if kind == "pitchwheel":
        return MidiEvent(PITCH_BEND, message.channel, 0, message.pitch + 8192)
    return None


def to_message(event: MidiEvent) -> mido.Message:
    if event.kind == NOTE_ON:
        return mido.Message("note_on", channel=event.channel, note=event.number, velocity=event.value)
    if event.kind == NOTE_OFF:
        return mido.Message("note_off", channel=event.channel, note=event.number, velocity=event.value)
    if event.kind == CONTROL_CHANGE:
        return mido.Message("control_change", channel=event.channel, control=event.number, value=event.value)
    return mido.Message("pitchwheel", channel=event.channel, pitch=event.value - 8192)


def _echo_key(message: mido.Message) -> tuple:
    """What an echo of a message looks like: notes by channel and number, others exactly."""
    if message.type == "note_on" and message.velocity == 0:
        return ("note_off", message.channel, message.note)
    if message.type in ("note_on", "note_off"):
        return (message.type, message.channel, message.note)
    return tuple(message.bytes())


# ---- the channel ----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Input:
    pattern: str  # the name in in_device
    decoder: Decoder
    routes: tuple[str, ...]  # thru_matrix: out_device names that get this input's messages
    port: Any = None  # an open mido input, or None while the device is missing
    identity: int | None = None  # device_identity() when opened
    generation: int = 0  # bumped at every open, so late messages from a closed port are ignored


@dataclass(eq=False)
class _Output:
    pattern: str  # the name in out_device
    encoder: Encoder
    port: Any = None
    identity: int | None = None
    # Notes passed thru and not yet ended: (input pattern, channel, note), so that they can be
    # ended if that input disappears or IMPSY stops while they are held.
    thru_held: set[tuple[str, int, int]] = field(default_factory=set)


class MidiChannel(Channel):
    """MIDI controllers in, synths out; each port with its own mapping."""

    name = "midi"

    def __init__(
        self, config: MidiConfig, sink: Sink, dimension: int, backend: mido.Backend | None = None
    ) -> None:
        self.config, self.sink = config, sink
        self.backend = backend or _backend()
        self.clock = time.monotonic  # for feedback protection; tests replace it
        self.echoes = 0  # incoming messages ignored as echoes of our own output
        self.inputs = [
            _Input(name, Decoder(config.input[name]), config.thru_matrix.get(name, ()))
            for name in config.in_device
        ]
        self.outputs = [_Output(name, Encoder(config.output[name])) for name in config.out_device]
        self._outputs_by_name = {output.pattern: output for output in self.outputs}
        self._sent: dict[tuple, float] = {}  # echo key -> when we last sent it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._checking: asyncio.Task | None = None
        self._warned: set[str] = set()  # missing ports and MIDI problems already warned about
        self._closed = False
        for output in self.outputs:
            for entry in output.encoder.orphan_velocities():
                log.warning(
                    "midi.output.%s: note_velocity on channel %d has no note_on on that channel, "
                    "so it sends nothing",
                    json.dumps(output.pattern),
                    entry.channel + 1,
                )

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.check_ports()
        self._timer = self._loop.call_later(HOTPLUG_INTERVAL, self._tick)

    def _tick(self) -> None:
        if self._closed:
            return
        if self._checking is None or self._checking.done():  # never two looks at once
            self._checking = self._loop.create_task(self.check_ports())
        self._timer = self._loop.call_later(HOTPLUG_INTERVAL, self._tick)

    async def check_ports(self) -> None:
        """Close ports that have gone, open configured ports that have (re)appeared."""
        try:
            inputs, outputs = await self._loop.run_in_executor(None, port_names, self.backend)
        except MidiUnavailable as error:
            self._warn_once("unavailable", "midi: %s; will keep trying", error)
            return
        self._warned.discard("unavailable")
        if self._closed:
            return
        for entry in self.inputs:
            if entry.port is not None and (why := _gone(entry, inputs)):
                self._lose_input(entry, why)
            if entry.port is None:
                self._open_input(entry, inputs)
        for output in self.outputs:
            if output.port is not None and (why := _gone(output, outputs)):
                self._lose_output(output, why)
            if output.port is None:
                self._open_output(output, outputs)

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def _open_input(self, entry: _Input, names: list[str]) -> None:
        opened = self._open("input", entry.pattern, names, lambda name: self._listen(entry, name))
        if opened is not None:
            entry.port, entry.identity = opened

    def _listen(self, entry: _Input, name: str) -> Any:
        """Open input port `name` with a callback that hands its messages to the loop."""
        entry.generation += 1
        generation, loop = entry.generation, self._loop
        # Clock and the like mean nothing to a mapping; with no thru route to carry them, they
        # are not worth waking the loop for (a clock alone is 48 messages a second at 120 bpm).
        skip = frozenset() if entry.routes else UNMAPPABLE

        def callback(message: mido.Message) -> None:  # on rtmidi's thread
            if message.type in skip:
                return
            # Timed here: an echo waiting behind a model step must still count as an echo.
            arrived = self.clock()
            with contextlib.suppress(RuntimeError):  # the loop has closed: IMPSY is stopping
                loop.call_soon_threadsafe(self._receive, entry, generation, message, arrived)

        return self.backend.open_input(name, callback=callback)

    def _open_output(self, output: _Output, names: list[str]) -> None:
        opened = self._open("output", output.pattern, names, self.backend.open_output)
        if opened is not None:
            output.port, output.identity = opened

    def _open(
        self, kind: str, pattern: str, names: list[str], opener: Callable[[str], Any]
    ) -> tuple[Any, int | None] | None:
        """(port, device identity) of the first port whose name contains pattern, or None
        with a warning (once until it opens) saying why not."""
        key = f"{kind}:{pattern}"
        name = match_port(pattern, names)
        if name is None:
            self._warn_once(
                key,
                "midi: no %s port contains %s (yet): it will be opened when it appears; "
                "`impsy midi-ports` lists the ports",
                kind,
                json.dumps(pattern),
            )
            return None
        try:
            port = opener(name)
        except Exception as error:  # rtmidi's errors are not all OSErrors
            self._warn_once(key, "midi: cannot open %s %r: %s", kind, name, error)
            return None
        self._warned.discard(key)
        log.info("midi: %s %s opened %r", kind, json.dumps(pattern), name)
        return port, device_identity(name)

    def _lose_input(self, entry: _Input, why: str) -> None:
        port, entry.port = entry.port, None
        entry.generation += 1
        log.warning("midi: input %r %s; waiting for it to come back", port.name, why)
        close_quietly(port, "midi")
        # Notes it was holding through thru_matrix would never get their note offs.
        for output in self.outputs:
            self._end_thru(output, [held for held in output.thru_held if held[0] == entry.pattern])

    def _lose_output(self, output: _Output, why: str) -> None:
        port, output.port = output.port, None
        output.encoder.forget()
        output.thru_held.clear()
        log.warning("midi: output %r %s; waiting for it to come back", port.name, why)
        close_quietly(port, "midi")

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._checking is not None and not self._checking.done():
            await asyncio.gather(self._checking, return_exceptions=True)
        for entry in self.inputs:
            if entry.port is not None:
                close_quietly(entry.port, "midi")
                entry.port = None
        for output in self.outputs:
            if output.port is None:
                continue
            # Everything we started ends before the port closes: IMPSY's notes and thru notes.
            for event in output.encoder.silence():
                self._put(output, to_message(event))
            self._end_thru(output, list(output.thru_held))
            if output.port is not None:
                close_quietly(output.port, "midi")
                output.port = None

    # -- in ------------------------------------------------------------------------------------

    def _receive(self, entry: _Input, generation: int, message: mido.Message, arrived: float) -> None:
        """A message from an input port, now on the loop's thread."""
        if entry.port is None or generation != entry.generation:
            return  # the port closed after rtmidi queued this
        if self.config.feedback_protection and self._is_echo(message, arrived):
            self.echoes += 1
            return
        for route in entry.routes:
            output = self._outputs_by_name.get(route)
            if output is not None and output.port is not None:
                self._thru(entry, output, message)
        event = to_event(message)
        if event is not None:
            changes = entry.decoder.decode(event)
            if changes:
                self.sink.controls(self.name, changes)

    def _is_echo(self, message: mido.Message, arrived: float) -> bool:
        sent = self._sent.get(_echo_key(message))
        return sent is not None and arrived - sent <= self.config.feedback_threshold

    def _end_thru(self, output: _Output, held: Iterable[tuple[str, int, int]]) -> None:
        """Note offs for notes passed thru to an output and still held."""
        for item in sorted(held):
            output.thru_held.discard(item)
            self._put(output, mido.Message("note_off", channel=item[1], note=item[2]))

    def _thru(self, entry: _Input, output: _Output, message: mido.Message) -> None:
        event = to_event(message)
        if event is not None and event.kind in (NOTE_ON, NOTE_OFF):
            held = (entry.pattern, event.channel, event.number)
            if event.kind == NOTE_ON:
                output.thru_held.add(held)
            else:
                output.thru_held.discard(held)
        self._put(output, message)

    # -- out -----------------------------------------------------------------------------------

    def send(self, values: np.ndarray) -> None:
        for output in self.outputs:
            if output.port is not None:
                for event in output.encoder.encode(values):
                    self._put(output, to_message(event))

    def silence(self) -> None:
        for output in self.outputs:
            if output.port is not None:
                for event in output.encoder.silence():
                    self._put(output, to_message(event))

    def _put(self, output: _Output, message: mido.Message) -> None:
        """Send one message to an output; a port that fails is treated as unplugged."""
        if output.port is None:
            return
        try:
            output.port.send(message)
        except Exception as error:  # rtmidi raises various errors for a vanished device
            self._lose_output(output, f"failed ({error})")
            return
        if self.config.feedback_protection:
            now = self.clock()
            self._sent[_echo_key(message)] = now
            if len(self._sent) > ECHO_MEMORY:
                limit = now - self.config.feedback_threshold
                self._sent = {key: t for key, t in self._sent.items() if t >= limit}


def _gone(entry: _Input | _Output, names: list[str]) -> str | None:
    """Why an open port is no longer the device it was opened on, or None if it still is."""
    if entry.port.name not in names:
        return "unplugged"
    if entry.identity is not None and device_identity(entry.port.name) != entry.identity:
        return "unplugged and plugged in again"
    return None
