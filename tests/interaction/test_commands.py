"""Live commands: every value has a range; outside it, it is refused and counted, never applied."""

import math

import numpy as np
import pytest
from conftest import SHIPPED_9D

from impsy.interaction.commands import parse_command
from impsy.interaction.core import Core, Settings
from impsy.model import load_model
from impsy.model.sampling import MAX_DT

EXTREME = [1e300, 1e30, -1.0, math.inf, -math.inf, math.nan, 10_000, 0]


@pytest.mark.parametrize("name", ["sigmatemp", "pitemp", "timescale"])
@pytest.mark.parametrize("value", EXTREME)
def test_an_extreme_value_is_refused_with_its_range(name, value):
    if value == 0 and name != "timescale":
        assert parse_command(f"/impsy/{name}", [value]) == (name, 0.0)  # 0 is in range for these
        return
    with pytest.raises(ValueError, match=rf"^/impsy/{name} expects a number from [0-9.]+ to [0-9]+, got"):
        parse_command(f"/impsy/{name}", [value])


def test_battle_mode_comes_back_after_an_extreme_temperature():
    """Battle mode went silent for good after an extreme sigma temperature: the sampled time
    overflowed to infinity, the next event was due never, and the model stepped on infinity."""
    model = load_model(SHIPPED_9D, seed=3)
    settings = Settings(mode="battle", sigmatemp=0.01, timescale=1.0)
    core = Core(model, settings, 0.0)

    def play(events: int) -> None:
        for _ in range(events):
            due = core.next_deadline()
            assert due is not None and math.isfinite(due), core.state()
            for action in core.on_timer(due):
                assert np.all(np.isfinite(action.values))

    play(20)
    settings.sigmatemp = 1e300  # as if a command had got through: the sampler must cope
    before = core.next_deadline()
    play(5)
    assert core.next_deadline() - before <= 6 * (MAX_DT + 0.001)  # each at most MAX_DT apart
    settings.sigmatemp = 0.01
    play(50)
    assert np.all(np.isfinite(model.step(np.full(9, 0.5))))  # the model's state survived
