"""Command-line options of `impsy run` that override config values for one run."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from impsy.config.problems import ERROR, ConfigError, Problem, describe, key_path
from impsy.config.schema import INTERACTION, MODEL, TOP
from impsy.config.settings import MODES, Config, MidiMapping
from impsy.config.values import Invalid, Lenient

# (option, argparse dest, section ("" for top level), key, help)
_OVERRIDES = (
    ("--dimension", "dimension", "model", "dimension", "values per event: controls + 1"),
    ("--mode", "mode", "interaction", "mode", "interaction mode: " + ", ".join(MODES)),
    (
        "--threshold",
        "threshold",
        "interaction",
        "threshold",
        "seconds of silence before the model answers",
    ),
    (
        "--input-thru",
        "input_thru",
        "interaction",
        "input_thru",
        "send the performer's input straight to the outputs too",
    ),
    ("--sigma-temp", "sigma_temp", "model", "sigmatemp", "sigma temperature (lower = smoother)"),
    ("--pi-temp", "pi_temp", "model", "pitemp", "pi temperature (higher = more varied)"),
    ("--timescale", "timescale", "model", "timescale", "multiply predicted time gaps by this"),
    ("--verbose", "verbose", "", "verbose", "print every input and output"),
    ("--log-input", "log_input", "", "log_input", "log the performer's input (default: on)"),
    (
        "--log-predictions",
        "log_predictions",
        "",
        "log_predictions",
        "log the model's predictions as well",
    ),
)
_SPECS = {"": TOP, "interaction": INTERACTION, "model": MODEL}
_ARG_TYPES = {"dimension": int, "mode": str}


def add_override_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that override config values for one run; each defaults to None."""
    group = parser.add_argument_group("config overrides")
    for option, dest, section, key, help_text in _OVERRIDES:
        if key == "verbose":
            quiet = group.add_mutually_exclusive_group()
            quiet.add_argument(
                option, dest=dest, action="store_const", const=True, default=None, help=help_text
            )
            quiet.add_argument(
                "--quiet",
                dest=dest,
                action="store_const",
                const=False,
                help="do not print every input and output",
            )
        elif isinstance(_SPECS[section][key].default, bool):
            group.add_argument(
                option,
                dest=dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            group.add_argument(
                option,
                dest=dest,
                type=_ARG_TYPES.get(key, float),
                default=None,
                metavar=key.upper(),
                help=help_text,
            )


def _mappings(config: Config) -> Iterator[tuple[str, MidiMapping]]:
    """Every mapping in a config, with its key path."""
    if config.midi:
        for name, table in (("input", config.midi.input), ("output", config.midi.output)):
            for device, mapping in table.items():
                yield key_path(f"midi.{name}", device, quoted=True), mapping
    for section in ("websocket", "serialmidi"):
        if channel := getattr(config, section):
            yield f"{section}.input", channel.input
            yield f"{section}.output", channel.output


def apply_overrides(config: Config, args: argparse.Namespace) -> Config:
    """config with the options given in args applied; a bad value raises ConfigError."""
    changes: dict[str, dict[str, Any]] = {"": {}, "interaction": {}, "model": {}}
    problems = []
    for option, dest, section, key, _help in _OVERRIDES:
        value = getattr(args, dest, None)
        if value is None:
            continue
        try:
            checked = _SPECS[section][key].check(value)
        except Invalid as bad:
            problems.append(Problem("", option, f"expected {bad}; found {describe(value)}{bad.hint}", ERROR))
            continue
        # A file's lenient reading warns; an option given for this run says what it means.
        changes[section][key] = checked.value if isinstance(checked, Lenient) else checked
    dimension = changes["model"].get("dimension")
    if dimension is not None:
        problems += [
            Problem(
                "",
                "--dimension",
                f"expected {len(mapping) + 1}, as {path} has {len(mapping)} entries; found {dimension}",
                ERROR,
            )
            for path, mapping in _mappings(config)
            if len(mapping) != dimension - 1
        ]
    if problems:
        raise ConfigError(problems)
    return replace(
        config,
        interaction=replace(config.interaction, **changes["interaction"]),
        model=replace(config.model, **changes["model"]),
        **changes[""],
    )
