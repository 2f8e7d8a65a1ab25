"""Every config in configs/ is one a musician can copy and run: it loads, validates cleanly,
names a model that exists and fits, and builds its channels."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.sink import RecordingSink

from impsy.channels import CHANNELS, build_channels
from impsy.config import check_config, load_config
from impsy.model import load_model

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.toml"))


def test_there_is_an_example_for_every_way_of_connecting():
    sections = {section for path in CONFIGS for section in CHANNELS if getattr(load_config(path), section)}
    assert sections == set(CHANNELS)  # osc, midi, websocket, serial, serialmidi, gpio


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_example_config_loads_without_a_single_problem(path):
    assert [str(problem) for problem in check_config(path)] == []


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_example_config_names_a_model_that_exists_and_fits(path):
    config = load_config(path)
    if not config.model.file:
        return  # the random model: nothing to find
    model = load_model(REPO / config.model.file, config.model.dimension)
    assert model.dimension == config.model.dimension
    assert model.info.size == config.model.size


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_example_config_builds_its_channels(path):
    config = load_config(path)
    channels = build_channels(config, RecordingSink(), config.model.dimension)
    assert {channel.name for channel in channels} == {s for s in CHANNELS if getattr(config, s)}
