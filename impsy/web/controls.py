"""The names a performer knows their controls by, for the monitor's legend.

A MIDI mapping names each control by what it listens to (CC 74 on channel 1, the note's pitch);
over OSC or serial a control is a position in /interface or in the line.
"""

from __future__ import annotations

from impsy.config import Config, MappingEntry

KINDS = {"note_on": "note pitch", "note_velocity": "note velocity", "pitch_bend": "pitch bend"}


def control_names(config: Config) -> list[str]:
    """One name per control (dimension - 1), from the first mapping the config has."""
    count = config.model.dimension - 1
    mapping = _first_mapping(config)
    if mapping and len(mapping) == count:
        return [_entry_name(entry) for entry in mapping]
    where = "/interface" if config.osc else "serial value" if config.serial else "control"
    return [f"{where} {i}" for i in range(1, count + 1)]


def _first_mapping(config: Config) -> tuple[MappingEntry, ...] | None:
    if config.midi:
        for table in (config.midi.input, config.midi.output):
            for mapping in table.values():
                return mapping
    for section in (config.websocket, config.serialmidi):
        if section is not None:
            return section.input
    return None


def _entry_name(entry: MappingEntry) -> str:
    what = f"CC {entry.control}" if entry.kind == "control_change" else KINDS.get(entry.kind, entry.kind)
    return f"{what} · ch {entry.channel + 1}"
