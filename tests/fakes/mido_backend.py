"""A fake mido backend: MIDI ports that live inside this process.

mido loads its backend by module name ($MIDO_BACKEND, or mido.Backend(name)); the tests set
MIDO_BACKEND=fakes.mido_backend, so IMPSY's MIDI channel runs its real code down to mido's
port API and only the layer below is replaced. On a real machine that layer is
mido.backends.rtmidi -> python-rtmidi -> the ALSA sequencer (CoreMIDI on macOS, WinMM on
Windows); these test machines have no sound card, so the appliance image's tests add a real
ALSA test inside the booted image.

Like rtmidi, an input port calls its callback on a thread of its own: `play()` delivers
from a fresh thread and waits for it, so the handover to the event loop is really exercised.
A device that is unplugged disappears from the port lists; ports still open on it stay
open but dead, as ALSA's do: nothing arrives, and what is sent is lost. They stay dead if
the device is plugged in again: only ports opened afresh reach it.
"""

from __future__ import annotations

import threading

from mido import Message, ports

_lock = threading.RLock()
_devices: dict[str, tuple[bool, bool, int]] = {}  # port name -> (has input, has output, plugging)
_pluggings = 0
_powered_from: dict[str, int] = {}  # port name -> index in sent[name] of its last plugging in
_inputs: list[Input] = []  # open input ports
sent: dict[str, list[Message]] = {}  # what each output device received while plugged in
lost: list[Message] = []  # sent to a port whose device had been unplugged
listing_error: Exception | None = None  # set to make get_devices fail (no ALSA)


def reset() -> None:
    """No devices, no ports, nothing sent."""
    global listing_error
    with _lock:
        _devices.clear()
        _powered_from.clear()
        _inputs.clear()
        sent.clear()
        lost.clear()
        listing_error = None


def plug(name: str, input: bool = True, output: bool = True) -> None:
    global _pluggings
    with _lock:
        _pluggings += 1
        _devices[name] = (input, output, _pluggings)
        _powered_from[name] = len(sent.get(name, []))


def _alive(port: Input | Output) -> bool:
    device = _devices.get(port.name)
    return device is not None and device[2] == port.plugging


def unplug(name: str) -> None:
    with _lock:
        _devices.pop(name, None)


def play(name: str, *messages: Message) -> None:
    """The device called name sends messages: every open input on it hears them, on a thread."""
    with _lock:
        listeners = [port for port in _inputs if port.name == name and _alive(port)]

    def deliver() -> None:
        for message in messages:
            for port in listeners:
                if port.callback is not None:
                    port.callback(message)

    thread = threading.Thread(target=deliver, name="fake-rtmidi")
    thread.start()
    thread.join()


def sounding(name: str) -> set[tuple[int, int]]:
    """(channel, note) of the notes a synth on output `name` is playing after what it got.

    A synth that was unplugged lost power: only what it got since it was last plugged in counts.
    """
    on: set[tuple[int, int]] = set()
    for message in sent.get(name, [])[_powered_from.get(name, 0) :]:
        if message.type == "note_on" and message.velocity > 0:
            on.add((message.channel, message.note))
        elif message.type in ("note_on", "note_off"):
            on.discard((message.channel, message.note))
    return on


# ---- what mido asks of a backend module ----------------------------------------------------------


def get_devices(**kwargs) -> list[dict]:
    with _lock:
        if listing_error is not None:
            raise listing_error
        return [
            {"name": name, "is_input": is_in, "is_output": is_out}
            for name, (is_in, is_out, _) in _devices.items()
        ]


class Input(ports.BaseInput):
    def _open(self, callback=None, **kwargs) -> None:
        with _lock:
            if not _devices.get(self.name, (False, False, 0))[0]:
                raise OSError(f"unknown port {self.name!r}")
            self.plugging = _devices[self.name][2]
            _inputs.append(self)
        self.callback = callback

    def _close(self) -> None:
        self.callback = None
        with _lock:
            if self in _inputs:
                _inputs.remove(self)


class Output(ports.BaseOutput):
    def _open(self, **kwargs) -> None:
        with _lock:
            if not _devices.get(self.name, (False, False, 0))[1]:
                raise OSError(f"unknown port {self.name!r}")
            self.plugging = _devices[self.name][2]

    def _send(self, message: Message) -> None:
        with _lock:
            if _alive(self):
                sent.setdefault(self.name, []).append(message)
            else:
                lost.append(message)
