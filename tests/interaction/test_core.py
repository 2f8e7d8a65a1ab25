"""The interaction core, driven by a fake clock and a scripted model."""

import numpy as np
import pytest

from impsy.dataset import DEFAULT_MAX_GAP
from impsy.interaction.core import MAX_LATENESS, MIN_INTERVAL, Core, Log, Play, Settings, Silence
from impsy.model.base import ModelInfo


class ScriptedModel:
    """Every sample is dt = `dt` s and controls all equal to a counter, so events are traceable."""

    def __init__(self, dt: float = 0.1, dimension: int = 3, limit: int = 100_000) -> None:
        self.dimension, self.dt, self.limit = dimension, dt, limit
        self.info = ModelInfo("scripted", dimension, 0, 0, 5, "dummy")
        self.fed: list[np.ndarray] = []
        self.resets = 0
        self._count = 0

    def step(self, x):
        self.fed.append(np.array(x, dtype=float))
        return np.zeros(1)

    def sample(self, params, pitemp=1.0, sigmatemp=0.01, persistence=0.0, one_at_a_time=False):
        self._count += 1
        if self._count > self.limit:  # a runaway core fails the test instead of hanging it
            raise RuntimeError(f"more than {self.limit} samples")
        return np.array([self.dt, *([self._count / 1000] * (self.dimension - 1))])

    def reset(self):
        self.resets += 1


def plays(actions, source="rnn"):
    return [a.values.tolist() for a in actions if isinstance(a, Play) and a.source == source]


def run_until(core, start, end, step=0.01):
    """Call on_timer at every deadline up to `end` (what the loop's timer does)."""
    actions, now = [], start
    while (deadline := core.next_deadline()) is not None and deadline <= end:
        now = max(now, deadline)
        actions += core.on_timer(now)
    return actions


def test_callresponse_answers_after_threshold_of_silence():
    model = ScriptedModel(dt=0.1)
    core = Core(model, Settings(mode="callresponse", threshold=0.5), now=0.0)
    core.on_input(0.0, np.array([0.2, 0.3]))
    assert core.next_deadline() == pytest.approx(0.5)
    assert core.on_timer(0.4) == []  # too early: nothing
    actions = core.on_timer(0.5)
    assert core.playing
    # Its first answer was due 0.1 s after the performer's last event: overdue, so now.
    assert plays(actions) == [[0.001, 0.001]]
    assert core.next_deadline() == pytest.approx(0.6)


def test_callresponse_continues_from_its_own_output():
    model = ScriptedModel(dt=0.1)
    core = Core(model, Settings(mode="callresponse", threshold=0.5), now=0.0)
    core.on_input(0.0, np.array([0.2, 0.3]))
    actions = run_until(core, 0.0, 1.01)
    assert len(plays(actions)) == 6  # at 0.5, 0.6, ... 1.0
    fed_back = model.fed[1:]  # after the performer's event, the model heard itself
    assert [f[1] for f in fed_back] == pytest.approx([0.001 * k for k in range(1, 7)])


def test_callresponse_stops_at_once_when_the_performer_returns():
    model = ScriptedModel(dt=0.1)
    core = Core(model, Settings(mode="callresponse", threshold=0.5), now=0.0)
    core.on_input(0.0, np.array([0.2, 0.3]))
    run_until(core, 0.0, 0.65)
    assert core.playing
    actions = core.on_input(0.65, np.array([0.9, 0.9]))
    assert any(isinstance(a, Silence) for a in actions)
    assert not core.playing
    # Nothing stale: the event that was due at 0.7 is gone; the next deadline is the new takeover.
    assert core.next_deadline() == pytest.approx(1.15)
    assert core.on_timer(0.7) == [] and core.on_timer(1.1) == []


def test_callresponse_keeps_waiting_while_the_performer_plays():
    core = Core(ScriptedModel(), Settings(mode="callresponse", threshold=0.5), now=0.0)
    for t in np.arange(0, 2, 0.1):
        core.on_input(t, np.array([0.5, 0.5]))
        assert core.on_timer(t + 0.05) == []
    assert core.next_deadline() == pytest.approx(1.9 + 0.5)


def test_callresponse_starts_on_its_own_with_no_performer():
    core = Core(ScriptedModel(dt=0.2), Settings(mode="callresponse", threshold=0.1), now=10.0)
    actions = run_until(core, 10.0, 10.5)
    assert len(plays(actions)) == 2  # takeover at 10.1; its events at 10.2 and 10.4
    assert core.playing


def test_polyphony_replies_to_every_event_conditioned_on_the_performer_only():
    model = ScriptedModel(dt=0.05)
    core = Core(model, Settings(mode="polyphony"), now=0.0)
    for t in (0.0, 0.01, 0.02):
        assert plays(core.on_input(t, np.array([0.5, 0.5]))) == []
    assert core.next_deadline() == pytest.approx(0.05)
    actions = run_until(core, 0.0, 1.0)
    assert len(plays(actions)) == 3
    assert len(model.fed) == 3  # the performer's three events, never its own output
    assert core.next_deadline() is None


def test_polyphony_feeds_the_time_since_the_last_performer_event():
    model = ScriptedModel()
    core = Core(model, Settings(mode="polyphony"), now=0.0)
    core.on_input(1.0, np.array([0.1, 0.2]))
    core.on_input(1.25, np.array([0.3, 0.4]))
    assert model.fed[1].tolist() == pytest.approx([0.25, 0.3, 0.4])


def test_a_long_pause_is_capped_as_in_the_training_data():
    model = ScriptedModel()
    core = Core(model, Settings(mode="polyphony"), now=0.0)
    core.on_input(100.0, np.array([0.1, 0.2]))
    assert model.fed[0][0] == DEFAULT_MAX_GAP


def test_battle_plays_alone_and_ignores_the_performer():
    model = ScriptedModel(dt=0.1)
    core = Core(model, Settings(mode="battle"), now=0.0)
    actions = core.on_input(0.05, np.array([0.9, 0.9]))
    assert actions == [Log("interface", actions[0].values)]
    assert len(model.fed) == 1  # only its start from silence; the performer is not fed
    assert len(plays(run_until(core, 0.0, 1.01))) == 10


def test_useronly_logs_and_never_plays():
    model = ScriptedModel()
    core = Core(model, Settings(mode="useronly", input_thru=True), now=0.0)
    actions = core.on_input(0.0, np.array([0.1, 0.2]))
    assert [type(a) for a in actions] == [Log, Play]
    assert plays(actions, "thru") == [[0.1, 0.2]]
    assert core.next_deadline() is None and model.fed == []


def test_logging_follows_the_settings():
    core = Core(ScriptedModel(dt=0.1), Settings(mode="battle", log_input=False, log_predictions=True), 0.0)
    assert core.on_input(0.0, np.array([0.1, 0.2])) == []
    logged = [a for a in run_until(core, 0.0, 0.1) if isinstance(a, Log)]
    assert [a.source for a in logged] == ["rnn"]


def test_pause_silences_and_resume_restarts():
    core = Core(ScriptedModel(dt=0.1), Settings(mode="battle"), now=0.0)
    run_until(core, 0.0, 0.3)
    assert core.set_paused(0.3, True) == [Silence()]
    assert core.next_deadline() is None and not core.playing
    assert plays(core.on_input(0.4, np.array([0.5, 0.5]))) == []  # paused: logged, not answered
    core.set_paused(0.5, False)
    assert core.playing and core.next_deadline() == pytest.approx(0.6)


def test_mode_change_stops_then_starts_the_new_mode():
    core = Core(ScriptedModel(dt=0.1), Settings(mode="battle"), now=0.0)
    run_until(core, 0.0, 0.2)
    assert core.set_mode(0.2, "useronly") == [Silence()]
    assert core.next_deadline() is None
    assert core.set_mode(0.3, "callresponse") == [Silence()]  # whatever was left sounding ends
    assert core.next_deadline() == pytest.approx(0.4)
    with pytest.raises(ValueError, match="mode must be one of"):
        core.set_mode(0.3, "karaoke")


def test_a_stop_ends_what_polyphony_and_thru_left_sounding():
    # Polyphony's last reply and a note passed through have no end of their own: a pause or a
    # mode change must end them, even though nothing is scheduled any more.
    core = Core(ScriptedModel(dt=0.1), Settings(mode="polyphony"), now=0.0)
    core.on_input(0.0, np.array([0.5, 0.5]))
    assert len(plays(run_until(core, 0.0, 0.2))) == 1
    assert core.next_deadline() is None
    assert core.set_paused(0.3, True) == [Silence()]

    core = Core(ScriptedModel(), Settings(mode="useronly", input_thru=True), now=0.0)
    core.on_input(0.0, np.array([0.1, 0.2]))
    assert core.set_mode(0.1, "battle") == [Silence()]


def test_the_performer_returning_with_thru_silences_the_model_before_their_note():
    core = Core(ScriptedModel(dt=0.1), Settings(mode="callresponse", threshold=0.5, input_thru=True), 0.0)
    core.on_input(0.0, np.array([0.2, 0.3]))
    run_until(core, 0.0, 0.65)
    actions = core.on_input(0.65, np.array([0.9, 0.9]))
    assert [type(a) for a in actions] == [Log, Silence, Play]  # their note is not cut off
    assert plays(actions, "thru") == [[0.9, 0.9]]


def test_reset_clears_the_model_state():
    model = ScriptedModel()
    core = Core(model, Settings(mode="polyphony"), now=0.0)
    core.reset(1.0)
    assert model.resets == 1


def test_timescale_stretches_the_model_timing():
    core = Core(ScriptedModel(dt=0.1), Settings(mode="battle", timescale=2.0), now=0.0)
    assert core.next_deadline() == pytest.approx(0.2)
    core.on_timer(0.2)
    assert core.next_deadline() == pytest.approx(0.4)


def test_a_new_timescale_re_times_the_waiting_event_at_once():
    core = Core(ScriptedModel(dt=0.1), Settings(mode="battle", timescale=100.0), now=0.0)
    assert core.next_deadline() == pytest.approx(10.0)
    core.set_timescale(0.03, 0.5)  # no waiting out the slow event first
    assert core.next_deadline() == pytest.approx(0.05)
    assert len(plays(core.on_timer(0.05))) == 1
    assert core.next_deadline() == pytest.approx(0.1)
    core.set_timescale(0.06, 3.0)  # slower: the next event moves later, from the last one
    assert core.next_deadline() == pytest.approx(0.35)
    # callresponse's first answer keeps its rule: not before the takeover.
    core = Core(ScriptedModel(dt=0.1), Settings(mode="callresponse", threshold=0.05), now=0.0)
    core.on_input(0.0, np.array([0.2, 0.3]))
    assert plays(core.on_timer(0.05)) == []  # taken over; the answer is due at 0.1
    core.set_timescale(0.06, 0.1)
    assert core.next_deadline() == pytest.approx(0.05)  # not 0.01: the takeover was at 0.05


@pytest.mark.parametrize("timescale", [1e-30, 1e-6])
def test_a_tiny_timescale_plays_at_most_every_min_interval(timescale):
    # dt x timescale rounds to nothing next to a monotonic clock's value: the core must still
    # move on (it looped forever, holding the whole loop, before MIN_INTERVAL).
    start = 1e6
    core = Core(ScriptedModel(dt=0.001, limit=1000), Settings(mode="battle", timescale=timescale), now=start)
    assert len(plays(core.on_timer(start + 0.04))) <= 0.04 / MIN_INTERVAL + 1
    played = plays(run_until(core, start + 0.04, start + 0.14))
    assert 99 <= len(played) <= 101


def test_a_stalled_loop_does_not_burst_to_catch_up():
    core = Core(ScriptedModel(dt=0.01), Settings(mode="battle"), now=0.0)
    actions = core.on_timer(5.0)  # the loop was stuck for five seconds
    assert len(plays(actions)) == 1
    assert core.next_deadline() == pytest.approx(5.01)
    # A little lateness (under MAX_LATENESS) keeps the grid, so the tempo does not drift.
    assert len(plays(core.on_timer(5.014))) == 1
    assert core.next_deadline() == pytest.approx(5.02)
    assert MAX_LATENESS > 0.004


class Recording(ScriptedModel):
    """Notes where in what it was fed each reset came."""

    def reset(self):
        super().reset()
        self.reset_at = len(self.fed)


@pytest.mark.parametrize(
    ("gestures", "primed"),
    [
        # Their gestures, then on from its forecast.
        ([[0.2, 0.3], [0.4, 0.5]], [[0.0, 0.2, 0.3], [0.05, 0.4, 0.5]]),
        # A control left at a rail in the last one is let go to the middle (the forecast would
        # keep it there); earlier ones are as played.
        ([[0.01, 0.3], [0.99, 0.4]], [[0.0, 0.01, 0.3], [0.05, 0.5, 0.4]]),
    ],
)
def test_a_long_hold_starts_the_model_afresh_from_the_performers_last_gestures(gestures, primed):
    # The scripted controls creep up by 0.001 an event: held within 0.05 for 5 s at a time.
    model = Recording(dt=0.1)
    core = Core(model, Settings(mode="battle", reseed=1.0), now=0.0)
    core.on_input(0.0, np.array(gestures[0]))  # battle only logs the performer...
    core.on_input(0.05, np.array(gestures[1]))
    assert len(model.fed) == 1  # ...and plays from silence: no conditioning on them
    run_until(core, 0.0, 1.15)  # played at 0.1, 0.2 ... 1.1 s
    assert core.reseeds == 1 and model.resets == 1
    assert [f.tolist() for f in model.fed[model.reset_at : model.reset_at + 2]] == primed
    run_until(core, 1.15, 2.25)  # held again for a second since
    assert core.reseeds == 2 and core.state()["reseeds"] == 2


def test_a_control_pinned_to_a_rail_starts_the_model_afresh():
    class Pinned(Recording):
        def sample(self, params, pitemp=1.0, sigmatemp=0.01, persistence=0.0, one_at_a_time=False):
            out = super().sample(params)
            out[1] = 0.01 if self._count < 1000 else 0.5  # one control at 0, the other moving widely
            out[2] = (self._count % 10) / 10
            return out

    model = Pinned(dt=0.1)
    core = Core(model, Settings(mode="battle", reseed=2.0), now=0.0)
    run_until(core, 0.0, 2.15)
    assert core.reseeds == 1 and model.resets == 1
    # No performer heard: from its own last event, the control at a rail let go to the middle
    # (silence, all zeros, would put every control on a rail).
    last = model.fed[model.reset_at - 1]
    assert last[1] == 0.01
    moving = last[2] if 0.05 < last[2] < 0.95 else 0.5
    assert model.fed[model.reset_at].tolist() == [last[0], 0.5, moving]


def test_no_reseeding_unless_asked_for():
    model = ScriptedModel(dt=0.1)
    core = Core(model, Settings(mode="battle"), now=0.0)
    run_until(core, 0.0, 30.0)
    assert core.reseeds == 0 and model.resets == 0
