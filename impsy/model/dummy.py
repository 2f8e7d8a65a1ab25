"""A model that makes random gestures, for wiring tests and useronly mode."""

from __future__ import annotations

import numpy as np

from impsy.model.base import MIXTURES, ModelInfo
from impsy.model.sampling import SCALE, Sampler

# Mean time between random gestures, in seconds: slow enough to read, fast enough to hear.
DUMMY_DT = 0.25


class DummyModel:
    """Random mixture parameters: controls uniform in [0, 1], dt around DUMMY_DT."""

    def __init__(self, dimension: int, seed: int | None = None) -> None:
        if dimension < 2:
            raise ValueError(f"dimension must be at least 2 (dt + one control), got {dimension}")
        self.dimension = dimension
        self.info = ModelInfo(
            path="", dimension=dimension, units=0, layers=0, mixtures=MIXTURES, layout="dummy"
        )
        self._rng = np.random.default_rng(seed)
        self._sampler = Sampler(dimension, MIXTURES, seed)

    def step(self, x: np.ndarray) -> np.ndarray:
        """Ignore the input; return parameters whose samples are random gestures."""
        d, k = self.dimension, MIXTURES
        mus = self._rng.random((k, d)) * SCALE
        mus[:, 0] = DUMMY_DT * SCALE
        sigmas = np.full((k, d), 0.1 * SCALE)
        return np.concatenate([mus.ravel(), sigmas.ravel(), np.zeros(k)]).astype(np.float32)

    def sample(
        self,
        params: np.ndarray,
        pitemp: float = 1.0,
        sigmatemp: float = 0.01,
        persistence: float = 0.0,
        one_at_a_time: bool = False,
    ) -> np.ndarray:
        """Draw the next event [dt, x1..xn] from mixture parameters."""
        return self._sampler.sample(params, pitemp, sigmatemp, persistence, one_at_a_time)

    def reset(self) -> None:
        """Nothing to forget but the sampler's last component."""
        self._sampler.forget()
