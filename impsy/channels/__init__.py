"""I/O channels: one module per channel, chosen by the config section that names it."""

from __future__ import annotations

import importlib

from impsy.channels.base import Channel, Sink
from impsy.config import Config

# Config section -> "module:class". Modules are imported only when their section is present,
# so a config without [midi] never loads rtmidi.
CHANNELS: dict[str, str] = {
    "osc": "impsy.channels.osc:OscChannel",
    "midi": "impsy.channels.midi:MidiChannel",
    "websocket": "impsy.channels.websocket:WebSocketChannel",
    "serial": "impsy.channels.serial:SerialChannel",
    "serialmidi": "impsy.channels.serialmidi:SerialMidiChannel",
    "gpio": "impsy.channels.gpio:GpioChannel",
}


def channel_class(section: str) -> type[Channel]:
    """The channel class that serves a config section."""
    module, name = CHANNELS[section].split(":")
    return getattr(importlib.import_module(module), name)


def build_channels(config: Config, sink: Sink, dimension: int) -> list[Channel]:
    """A channel for every section present in the config."""
    return [
        channel_class(section)(getattr(config, section), sink, dimension)
        for section in CHANNELS
        if getattr(config, section) is not None
    ]
