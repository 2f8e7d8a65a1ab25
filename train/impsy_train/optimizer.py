"""Adam with global-norm gradient clipping, a learning rate that decays, and weight averaging."""

from __future__ import annotations

import math

import numpy as np


class Adam:
    """Adam (Kingma and Ba) over a list of arrays, updated in place."""

    def __init__(self, params: list[np.ndarray], learning_rate: float, clip_norm: float | None = None,
                 beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-7) -> None:  # fmt: skip
        self.params = params
        self.learning_rate = learning_rate
        self.clip_norm = clip_norm
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.steps = 0

    def step(self, grads: list[np.ndarray]) -> float:
        """Apply one update; returns the gradient's global norm before clipping."""
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        if not math.isfinite(norm):
            return norm  # a broken batch must not poison the weights: skip it
        scale = min(1.0, self.clip_norm / norm) if self.clip_norm and norm > 0 else 1.0
        self.steps += 1
        b1, b2 = self.beta1, self.beta2
        rate = self.learning_rate * math.sqrt(1.0 - b2**self.steps) / (1.0 - b1**self.steps)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            g = g * scale if scale != 1.0 else g
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
            p -= rate * m / (np.sqrt(v) + self.epsilon)
        return norm


def cosine_rate(start: float, end: float, progress: float) -> float:
    """From `start` at progress 0 down to `end` at progress 1, along half a cosine."""
    progress = min(max(progress, 0.0), 1.0)
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * progress))


class Average:
    """An exponential moving average of the weights; its copy predicts better than the last step's.

    From random weights the decay ramps up over the first steps, so they fade out quickly;
    from trained weights (fine-tuning) it does not: they are the best guess until shown otherwise.
    """

    def __init__(self, params: list[np.ndarray], decay: float, ramp: bool = True) -> None:
        self.decay = decay
        self.params = params
        self.average = [p.copy() for p in params]
        self.updates = 0 if ramp else 10**9

    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for a, p in zip(self.average, self.params, strict=True):
            a *= decay
            a += (1.0 - decay) * p
