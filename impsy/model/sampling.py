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


def choose_component(logits: list[float], pitemp: float, u: float) -> int:
    """Pick a mixture component from plain floats, given a uniform draw u in [0, 1).

    Pure Python on purpose: for five components it is several times faster than numpy.
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


class Sampler:
    """Samples gestures for one network shape with its own random generator."""

    def __init__(self, dimension: int, mixtures: int, seed: int | None = None) -> None:
        self.dimension = dimension
        self.mixtures = mixtures
        self.rng = np.random.default_rng(seed)
        self._kd = mixtures * dimension

    def sample(self, params: np.ndarray, pitemp: float = 1.0, sigmatemp: float = 0.01) -> np.ndarray:
        """Return [dt, x1..xn] in data units: dt MIN_DT to MAX_DT seconds, controls in [0, 1]."""
        d, kd = self.dimension, self._kd
        k = choose_component(params[2 * kd : 2 * kd + self.mixtures].tolist(), pitemp, self.rng.random())
        out = params[k * d : (k + 1) * d].astype(np.float64)
        if sigmatemp > 0:
            sigma = params[kd + k * d : kd + (k + 1) * d].astype(np.float64)  # float32 overflows
            out += sigma * math.sqrt(sigmatemp) * self.rng.standard_normal(d)
        out /= SCALE
        # Whatever the parameters and temperatures, an event is finite and playable: an infinite
        # dt was an event due never (battle mode silent for good), and stepping the model on it
        # filled its state with NaN. So dt is MIN_DT to MAX_DT, controls are 0 to 1, NaN is 0.
        np.nan_to_num(out, copy=False, nan=0.0)
        out[0] = min(max(out[0], MIN_DT), MAX_DT)
        np.clip(out[1:], 0.0, 1.0, out=out[1:])
        return out
