"""config.toml -> typed, validated settings, and the `impsy run` command-line overrides.

Everything in a file is checked before anything starts, and every problem is reported at once,
each naming the file, the key, what was expected and what was found. Configs written for the
original IMPSY load unchanged; the few older shapes it tolerated still load, with a warning
that shows the current form.

problems.py   Problem, ConfigError, key paths as TOML spells them
settings.py   the frozen dataclasses a config becomes
values.py     checks of single values (numbers in their ranges, ports, names, pins)
schema.py     what each section may hold
reader.py     TOML text -> Config and problems
overrides.py  `impsy run`'s command-line overrides
"""

from impsy.config.overrides import add_override_arguments, apply_overrides
from impsy.config.problems import ERROR, WARNING, ConfigError, Problem, format_problems
from impsy.config.reader import check_config, load_config, parse_config
from impsy.config.schema import MAPPING_KINDS
from impsy.config.settings import (
    DIMENSION_RANGE,
    GPIO_ACTIVITIES,
    GPIO_COMMANDS,
    MODES,
    PIN_FACTORIES,
    Config,
    GpioConfig,
    InteractionConfig,
    MappingEntry,
    MidiConfig,
    MidiMapping,
    ModelConfig,
    OscConfig,
    SerialConfig,
    SerialMidiConfig,
    WebSocketConfig,
    WebUIConfig,
)

__all__ = [
    "DIMENSION_RANGE",
    "ERROR",
    "GPIO_ACTIVITIES",
    "GPIO_COMMANDS",
    "MAPPING_KINDS",
    "MODES",
    "PIN_FACTORIES",
    "WARNING",
    "Config",
    "ConfigError",
    "GpioConfig",
    "InteractionConfig",
    "MappingEntry",
    "MidiConfig",
    "MidiMapping",
    "ModelConfig",
    "OscConfig",
    "Problem",
    "SerialConfig",
    "SerialMidiConfig",
    "WebSocketConfig",
    "WebUIConfig",
    "add_override_arguments",
    "apply_overrides",
    "check_config",
    "format_problems",
    "load_config",
    "parse_config",
]
