"""Who plays when: the interaction state machine.

Pure on purpose: it never reads a clock and never touches I/O. The loop tells it the time
(monotonic seconds) with every call and carries out the actions it returns; tests drive it
with a fake clock. It does call the model, which is deterministic given its seed.

Modes (as in the original IMPSY):
- callresponse: the model listens while the performer plays and answers once they have been
  silent for `threshold` seconds, continuing from its own output until they play again.
- polyphony: every performer event gets one model event in reply, conditioned on the
  performer only.
- battle: the model plays on its own, from its own output; the performer is logged only.
- useronly: the model is silent; the performer is logged.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from impsy.dataset import DEFAULT_MAX_GAP
from impsy.logs import INTERFACE, RNN
from impsy.model import Model

MODES = ("callresponse", "polyphony", "battle", "useronly")
# A model event more than this late is re-anchored to now, so a stall is not followed by a burst.
MAX_LATENESS = 0.05
# Polyphony replies waiting to be played; beyond this the oldest are dropped (input floods).
MAX_PENDING = 1000
# The model following its own output schedules its events at least this far apart, however
# small the timescale: a MIDI cable carries about 1,000 messages a second, and each on_timer
# call stays short (after a stall, at most MAX_LATENESS / MIN_INTERVAL events catch up).
MIN_INTERVAL = 0.001
# Re-seeding (Settings.reseed): a control is held while it stays within a band this wide, and at
# a rail while within this of 0 or 1; HELD_CONTROLS held controls (or every control, if fewer)
# or one at a rail for `reseed` seconds start the model afresh from the performer's last
# PRIME_EVENTS gestures, or, having heard none, from its own last event; either way with the
# controls at a rail let go to the middle.
HOLD_BAND = 0.05
RAIL = 0.05
HELD_CONTROLS = 3
PRIME_EVENTS = 64


@dataclass(frozen=True)
class Play:
    """Send controls to every output: the model's event ("rnn") or the performer's ("thru")."""

    values: np.ndarray
    source: str


@dataclass(frozen=True)
class Log:
    """Write a log row."""

    source: str
    values: np.ndarray


@dataclass(frozen=True)
class Silence:
    """End every sounding note: the model's, and the performer's passed through."""


Action = Play | Log | Silence


@dataclass
class Settings:
    """What a performer can change while playing."""

    mode: str = "callresponse"
    threshold: float = 0.1
    input_thru: bool = False
    timescale: float = 1.0
    sigmatemp: float = 0.5
    pitemp: float = 1.0
    persistence: float = 0.92  # how often the next event keeps the last one's mixture component
    one_at_a_time: bool = False  # each event moves one control
    paused: bool = False
    log_input: bool = True
    log_predictions: bool = False
    reseed: float = 0.0  # seconds of a hold before the model playing alone starts afresh; 0: never


@dataclass(order=True)
class _Pending:
    due: float
    event: np.ndarray = field(compare=False)  # [dt, x1..xn] as sampled
    after: float = field(compare=False)  # due = max(earliest, after + dt x timescale)
    earliest: float = field(compare=False)


class Core:
    """The state machine; every public method takes `now` and returns the actions to perform."""

    def __init__(self, model: Model, settings: Settings, now: float) -> None:
        if settings.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {settings.mode!r}")
        self.model = model
        self.settings = settings
        self._last_event = now  # the last event the model was conditioned on
        self._params: np.ndarray | None = None  # the model's forecast of the next event
        self._pending: list[_Pending] = []  # sorted by due time
        self._takeover_at: float | None = None  # callresponse: when the model may answer
        self.playing = False  # the model has the floor (callresponse answering, or battle)
        self.reseeds = 0  # how often the model playing alone was started afresh
        self._heard: deque[np.ndarray] = deque(maxlen=PRIME_EVENTS)  # the performer's last gestures
        self._heard_at: float | None = None
        self._played: np.ndarray | None = None  # the model's own last event, while it has the floor
        self._hold = _Hold(model.dimension - 1, now)
        self._start_mode(now)

    # -- what the loop asks -------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When on_timer must next be called, or None if nothing is scheduled."""
        times = [
            t for t in (self._takeover_at, self._pending[0].due if self._pending else None) if t is not None
        ]
        return min(times) if times else None

    @property
    def forecast(self) -> np.ndarray | None:
        """The model's mixture parameters for the next event (None before it has heard any)."""
        return self._params

    def state(self) -> dict:
        """What a monitor shows: the live settings and whether the model is playing."""
        s = self.settings
        return {
            "mode": s.mode,
            "paused": s.paused,
            "playing": self.playing,
            "threshold": s.threshold,
            "timescale": s.timescale,
            "sigmatemp": s.sigmatemp,
            "pitemp": s.pitemp,
            "input_thru": s.input_thru,
            "pending": len(self._pending),
            "reseeds": self.reseeds,
        }

    # -- events ---------------------------------------------------------------------------

    def on_input(self, now: float, controls: np.ndarray) -> list[Action]:
        """The performer played: log, pass through, condition the model, hand over."""
        s = self.settings
        actions: list[Action] = []
        if s.log_input:
            actions.append(Log(INTERFACE, controls))
        if s.reseed > 0:
            self._hear(now, controls)
        if s.mode == "callresponse" and self.playing:
            # The performer is back: the model stops at once, before their own note sounds.
            actions += self._stop()
        if s.input_thru:
            actions.append(Play(controls, "thru"))
        if s.mode in ("callresponse", "polyphony"):
            self._condition(now, controls)
        if s.mode == "callresponse" and not s.paused:
            self._takeover_at = now + s.threshold
        elif s.mode == "polyphony" and not s.paused:
            self._schedule(self._sample(), now)
        return actions

    def on_timer(self, now: float) -> list[Action]:
        """Time has come: hand over to the model and play whatever is due."""
        actions: list[Action] = []
        if self._takeover_at is not None and now >= self._takeover_at:
            self._takeover_at = None
            self.playing = True
            self._hold.restart(now)
            # Its forecast may already be overdue after the silence: then play it now.
            self._schedule(self._sample(), self._last_event, earliest=now)
        while self._pending and self._pending[0].due <= now:
            pending = self._pending.pop(0)
            controls = pending.event[1:]
            actions.append(Play(controls, RNN))
            if self.settings.log_predictions:
                actions.append(Log(RNN, controls))
            if self.playing:  # callresponse and battle continue from their own output
                self._played = pending.event
                self._params = self.model.step(pending.event)
                self._last_event = pending.due
                reseed = self.settings.reseed
                if reseed > 0 and self._hold.update(pending.due, controls, reseed):
                    self._reseed(pending.due)
                due = pending.due if now - pending.due <= MAX_LATENESS else now
                self._schedule(self._sample(), due, earliest=due + MIN_INTERVAL)
        return actions

    # -- commands ---------------------------------------------------------------------------

    def set_mode(self, now: float, mode: str) -> list[Action]:
        """Switch mode: the model stops, then starts as the new mode says."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        actions = self._stop()
        self.settings.mode = mode
        self._start_mode(now)
        return actions

    def set_paused(self, now: float, paused: bool) -> list[Action]:
        """Pause or resume the model; the performer is still logged and passed through."""
        actions = self._stop()
        self.settings.paused = paused
        self._start_mode(now)
        return actions

    def set_timescale(self, now: float, timescale: float) -> list[Action]:
        """Play faster or slower: what is waiting to be played is re-timed at once."""
        self.settings.timescale = timescale
        for pending in self._pending:
            pending.due = self._due(pending)
        self._pending.sort()
        return []

    def reset(self, now: float) -> list[Action]:
        """Forget the performance so far (the LSTM state); the mode carries on."""
        self.model.reset()
        self._params = None
        self._played = None
        self._last_event = now
        return []

    # -- inside -----------------------------------------------------------------------------

    def _start_mode(self, now: float) -> None:
        s = self.settings
        if s.paused:
            return
        if s.mode == "callresponse":
            self._takeover_at = now + s.threshold
        elif s.mode == "battle":
            self.playing = True
            self._hold.restart(now)
            self._schedule(self._sample(), now)

    def _stop(self) -> list[Action]:
        # Always Silence: polyphony's last reply and notes passed through sound on with nothing
        # scheduled, and channels that hold nothing do nothing with it.
        self._pending.clear()
        self._takeover_at = None
        self.playing = False
        return [Silence()]

    def _hear(self, now: float, controls: np.ndarray) -> None:
        """Keep the performer's last gestures (dt capped as in the datasets) for re-seeding."""
        dt = 0.0 if self._heard_at is None else min(max(now - self._heard_at, 0.0), DEFAULT_MAX_GAP)
        self._heard.append(np.concatenate([[dt], controls]))
        self._heard_at = now

    def _reseed(self, now: float) -> None:
        """Start the model afresh: a new state, primed with the performer's last gestures, or
        with its own last event if it has heard none, and carry on from its forecast. Controls
        at a rail in the last of them are moved to the middle, or the forecast would put them
        straight back (and silence, all zeros, would put every control on a rail)."""
        self.model.reset()
        self._params = None
        events = list(self._heard) or ([] if self._played is None else [self._played])
        if events:
            last = events[-1][1:]
            at_rail = (last <= RAIL) | (last >= 1.0 - RAIL)
            events[-1] = np.concatenate([events[-1][:1], np.where(at_rail, 0.5, last)])
        for event in events:
            self._params = self.model.step(event)
        self.reseeds += 1
        self._hold.restart(now)

    def _condition(self, now: float, controls: np.ndarray) -> None:
        dt = now - self._last_event
        # A long pause is capped, as in the datasets the model learnt from.
        event = np.concatenate([[min(dt, DEFAULT_MAX_GAP)], controls])
        self._params = self.model.step(event)
        self._last_event = now

    def _sample(self) -> np.ndarray:
        if self._params is None:  # nothing heard yet: start from silence
            self._params = self.model.step(np.zeros(self.model.dimension))
        s = self.settings
        return self.model.sample(self._params, s.pitemp, s.sigmatemp, s.persistence, s.one_at_a_time)

    def _due(self, pending: _Pending) -> float:
        return max(pending.earliest, pending.after + float(pending.event[0]) * self.settings.timescale)

    def _schedule(self, event: np.ndarray, after: float, earliest: float = -np.inf) -> None:
        """Queue an event to play its dt (x timescale) after `after`, and not before `earliest`."""
        pending = _Pending(0.0, event, after, earliest)
        pending.due = self._due(pending)
        bisect.insort(self._pending, pending)
        if len(self._pending) > MAX_PENDING:
            del self._pending[0]


class _Hold:
    """How long each control has been held (within HOLD_BAND) and at a rail (within RAIL of 0 or 1)."""

    def __init__(self, controls: int, now: float) -> None:
        self._need = min(HELD_CONTROLS, controls)
        self._low = np.full(controls, np.inf)
        self._high = np.full(controls, -np.inf)
        self._held_since = np.full(controls, now)
        self._rail_since = np.full(controls, now)

    def restart(self, now: float) -> None:
        self._low[:] = np.inf
        self._high[:] = -np.inf
        self._held_since[:] = now
        self._rail_since[:] = now

    def update(self, now: float, controls: np.ndarray, limit: float) -> bool:
        """Note a played event; True if a hold or a rail has lasted `limit` seconds."""
        np.minimum(self._low, controls, out=self._low)
        np.maximum(self._high, controls, out=self._high)
        moved = self._high - self._low > HOLD_BAND
        if moved.any():  # a new band starts at the value that left the old one
            self._low[moved] = self._high[moved] = controls[moved]
            self._held_since[moved] = now
        off_rail = (controls > RAIL) & (controls < 1.0 - RAIL)
        self._rail_since[off_rail] = now
        held = np.count_nonzero(now - self._held_since >= limit) >= self._need
        return bool(held or np.any(now - self._rail_since >= limit))
