"""Draw one gesture from the mixture parameters the network predicts."""

from __future__ import annotations

import math

import numpy as np

from impsy.dataset import DEFAULT_MAX_GAP

SCALE = 10.0  # the network sees inputs and targets multiplied by this, as in the original IMPSY
MIN_DT = 0.001  # seconds; a prediction never asks to be played sooner than this
MAX_DT = DEFAULT_MAX_GAP  # nor later than the longest pause in any dataset it learnt from
# Below this pi temperature the softmax is a hard choice; dividing by a tinier number overflows.
MIN_PITEMP = 1e-6
# One control at a time: the controls a component moves are those whose spread is at least this
# share of its widest (the shipped 9d model's are 100-200x apart from the ones it holds).
MOVING = 0.1


def redrawn(u: float, persistence: float) -> float:
    """A uniform that decided "keep the last one" (u < persistence) or not, rescaled to [0, 1)
    again for the fresh draw: one random number serves both."""
    if persistence <= 0.0:
        return u
    return (u - persistence) / (1.0 - persistence) if u >= persistence else u / persistence


def choose_component(logits: list[float], pitemp: float, u: float) -> int:
    """Pick a mixture component from plain floats, given a uniform draw u in [0, 1).

    Pure Python on purpose: for the 5 or 10 components of our models it is several times faster
    than numpy.
    """
    if pitemp <= MIN_PITEMP:
        return max(range(len(logits)), key=logits.__getitem__)
    top = max(logits)
    weights = [math.exp((v - top) / pitemp) for v in logits]
    threshold = u * sum(weights)
    running = 0.0
    for k, w in enumerate(weights):
        running += w
        if threshold < running:
            return k
    return len(weights) - 1


def timing_pairs(params: np.ndarray, dimension: int, mixtures: int) -> int:
    """How many timings a forecast's components pair with each gesture: J for a file trained
    with `impsy-train train --timings J`, 1 for a plain head.

    Such a file is a plain mixture of the J x K pairings, component j*K + k taking dt from
    timing j and the controls from gesture k; its columns are copies, so one forecast shows
    the tie exactly: dt's mean and spread the same across gestures, the controls' across timings.
    """
    kd = mixtures * dimension
    means, sigmas = params[:kd].reshape(mixtures, dimension), params[kd : 2 * kd].reshape(mixtures, dimension)
    for timings in range(2, mixtures):
        if mixtures % timings:
            continue
        grid = [part.reshape(timings, mixtures // timings, dimension) for part in (means, sigmas)]
        if all(
            np.array_equal(g[:, :, 1:], np.broadcast_to(g[:1, :, 1:], g[:, :, 1:].shape))
            and np.array_equal(g[:, :, 0], np.broadcast_to(g[:, :1, 0], g[:, :, 0].shape))
            for g in grid
        ) and np.ptp(grid[0][:, 0, 0]) > 0:  # timings that differ: not a forecast of all one value
            return timings
    return 1


class Sampler:
    """Samples gestures for one network shape with its own random generator.

    This is the innermost loop of a live performance, and for one small event numpy's
    per-call overhead is most of the cost, so the arithmetic is done on Python floats and
    random numbers are drawn in blocks of BLOCK: uniforms for the component choice, standard
    normals for the spread (kept scaled by sqrt(sigmatemp) / SCALE for the temperature in use).
    The normals are kept reversed, so that taking the next row is a list pop.
    """

    BLOCK = 256

    def __init__(self, dimension: int, mixtures: int, seed: int | None = None) -> None:
        self.dimension = dimension
        self.mixtures = mixtures
        self.rng = np.random.default_rng(seed)
        kd = mixtures * dimension
        self._logits = slice(2 * kd, 2 * kd + mixtures)
        self._starts = [(k * dimension, kd + k * dimension) for k in range(mixtures)]  # means, sigmas
        self._u: list[float] = []  # uniforms not yet used
        self._raw = np.empty((0, dimension))  # a block of standard normals
        self._z: list[list[float]] = []  # its rows not yet used, x sqrt(sigmatemp) / SCALE
        self._z_temp = math.nan  # the sigma temperature self._z is scaled for
        self._k = -1  # the component of the last event, which `persistence` may keep; -1: none
        # Per gesture, where the logits of its pairings with timings are (timing_pairs); empty for
        # a plain head; None until the network's first forecast is read.
        self._paired: list[slice] | None = None
        self._j = -1  # one control at a time: the control the last event moved; -1: none
        self._moving_set: list[int] = []  # ... and the controls its component moves (see _moving)
        self._widen = 1.0
        # The event the forecast was conditioned on: one at a time holds the other controls
        # exactly there. None: at the component's means. See hear().
        self._heard: np.ndarray | None = None
        self._heard_scale = 1.0

    def _uniform(self) -> float:
        """The next uniform in [0, 1), drawn a block at a time."""
        if not self._u:
            self._u = self.rng.random(self.BLOCK).tolist()
        return self._u.pop()

    def _normals(self, sigmatemp: float) -> list[float]:
        """The next row of standard normals, scaled by sqrt(sigmatemp) / SCALE."""
        left = len(self._z)
        if not left:
            self._raw = self.rng.standard_normal((self.BLOCK, self.dimension))
            left = self.BLOCK
        # A new block, or the temperature changed live: the rows not yet used, scaled anew.
        self._z = (self._raw[self.BLOCK - left :][::-1] * (math.sqrt(sigmatemp) / SCALE)).tolist()
        self._z_temp = sigmatemp
        return self._z.pop()

    def hear(self, tensor: np.ndarray, scale: float = 1.0) -> None:
        """Read the event the forecast was conditioned on from here: the model's own input
        tensor, which it sets at every step, holding the event times `scale`."""
        self._heard = tensor
        self._heard_scale = scale

    def forget(self) -> None:
        """A new performance: no component or control to keep."""
        self._k = self._j = -1
        self._moving_set = []

    def _pair(self, params: np.ndarray) -> None:
        """Read from the network's first forecast whether it pairs timings with gestures."""
        timings = timing_pairs(params, self.dimension, self.mixtures)
        gestures, first, stop = self.mixtures // timings, self._logits.start, self._logits.stop
        self._paired = [slice(first + g, stop, gestures) for g in range(gestures)] if timings > 1 else []

    def _retimed(self, params: np.ndarray, k: int, pitemp: float, u: float) -> int:
        """Component k's gesture with a timing drawn (from uniform u) afresh, as the forecast
        weighs the timings paired with that gesture."""
        gestures = len(self._paired)
        gesture = k % gestures
        return choose_component(params[self._paired[gesture]].tolist(), pitemp, u) * gestures + gesture

    def _moving(self, sigmas: list[float]) -> None:
        """One control at a time: the controls the component just drawn moves (those whose spread
        is at least MOVING of its widest), and how much a moved control's spread widens:
        sqrt(their number), so each still moves as much over time as the model says, in fewer,
        larger steps. Kept while the component is."""
        top = max(sigmas[1:])
        moving = [i for i in range(1, len(sigmas)) if sigmas[i] >= MOVING * top]
        self._moving_set = moving or list(range(1, len(sigmas)))  # none: NaN spreads, any control
        self._widen = math.sqrt(len(self._moving_set))

    def sample(
        self,
        params: np.ndarray,
        pitemp: float = 1.0,
        sigmatemp: float = 0.01,
        persistence: float = 0.0,
        one_at_a_time: bool = False,
    ) -> np.ndarray:
        """Return [dt, x1..xn] in data units: dt MIN_DT to MAX_DT seconds, controls in [0, 1].

        With `persistence` p, the last event's mixture component is kept with probability p and
        otherwise drawn afresh from the weights as usual: each component is still chosen as often
        as the weights say, but in runs of 1 / (1 - p) events on average, as a player keeps at
        one gesture for a while (the shipped networks' weights barely follow what was played).
        A file that pairs timings with gestures (timing_pairs) keeps the gesture alone: each
        event's timing is drawn afresh among those paired with it, so the rhythm the network
        predicts (touch messages in pairs, then a gap) is not held for a run.

        With `one_at_a_time`, an event moves one control (see _moving) and the others stay
        where they are (see hear(); else at the component's means), as a MIDI controller sends one
        change per message. Drawn all at once, every control a component moves would move a
        little at every event.

        Whatever the parameters and temperatures, an event is finite and playable: an infinite
        dt was an event due never (battle mode silent for good), and stepping the model on it
        filled its state with NaN. The comparisons below are written so that NaN fails them.
        """
        u = self._uniform()
        k = self._k
        fresh = not (persistence > 0.0 and u < persistence and k >= 0)
        if fresh:
            k = self._k = choose_component(params[self._logits].tolist(), pitemp, redrawn(u, persistence))
            if self._paired is None:  # the first event of the network
                self._pair(params)
        elif self._paired:
            k = self._k = self._retimed(params, k, pitemp, redrawn(u, persistence))
        m, s = self._starts[k]
        d = self.dimension
        scale = SCALE  # a local: read for every control in the all-at-once comprehension
        if not sigmatemp > 0:
            dt = params.item(m) / scale
            out = _controls(params[m : m + d].tolist())
        else:
            z = self._z.pop() if sigmatemp == self._z_temp and self._z else self._normals(sigmatemp)
            item = params.item  # one float at a time: one at a time reads 4 of the 2D
            dt = item(m) / scale + item(s) * z[0]
            if one_at_a_time:
                if fresh or not self._moving_set:
                    self._moving(params[s : s + d].tolist())
                moving = self._moving_set
                # The control moved last is kept as the component is; else one of its moving ones.
                u, j = self._uniform(), self._j
                if not (u < persistence and j in moving):
                    j = self._j = moving[min(int(redrawn(u, persistence) * len(moving)), len(moving) - 1)]
                heard = self._heard
                if heard is None:
                    out = _controls(params[m : m + d].tolist())
                else:  # every event the model hears is in [0, 1] (channels clip, samples are clamped)
                    out = heard.tolist()
                    if (unscale := self._heard_scale) != 1.0:
                        out = [x / unscale for x in out]
                v = item(m + j) / scale + item(s + j) * self._widen * z[j]
                out[j] = 0.0 if not v >= 0.0 else 1.0 if v > 1.0 else v
            else:
                means, sigmas = params[m : m + d].tolist(), params[s : s + d].tolist()
                out = [
                    0.0 if not (v := x / scale + sd * n) >= 0.0 else 1.0 if v > 1.0 else v
                    for x, sd, n in zip(means, sigmas, z, strict=False)
                ]
        out[0] = MIN_DT if not dt > MIN_DT else MAX_DT if dt > MAX_DT else dt
        return _array(out)


def _controls(means: list[float]) -> list[float]:
    """Network outputs (scaled) as controls in [0, 1]; NaN goes to 0."""
    return [0.0 if not (v := x / SCALE) >= 0.0 else 1.0 if v > 1.0 else v for x in means]


_array = np.array  # one global lookup instead of two in the innermost loop
