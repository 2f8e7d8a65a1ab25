"""What every model offers the runtime, and the network sizes users name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

# (layers, units) for each size name, as in the original IMPSY.
SIZES: dict[str, tuple[int, int]] = {
    "xxs": (2, 16),
    "xs": (2, 32),
    "s": (2, 64),
    "m": (2, 128),
    "l": (2, 256),
    "xl": (3, 512),
}
MIXTURES = 5


class ModelError(Exception):
    """A model file cannot be used; the message says which file and what to do."""


def size_name(layers: int, units: int) -> str | None:
    """The size name for a network shape, or None for a shape no size names."""
    for name, shape in SIZES.items():
        if shape == (layers, units):
            return name
    return None


def model_filename(dimension: int, layers: int, units: int, mixtures: int | str = MIXTURES) -> str:
    """The original IMPSY file stem, which users recognise: musicMDRNN-dim9-layers2-...-scale10.
    mixtures="*" makes it a glob pattern for any number of components."""
    return f"musicMDRNN-dim{dimension}-layers{layers}-units{units}-mixtures{mixtures}-scale10"


@dataclass(frozen=True)
class ModelInfo:
    """The shape of a loaded model, read from its tensors rather than from the config."""

    path: str
    dimension: int
    units: int
    layers: int
    mixtures: int
    layout: str  # "impsy" (our signature), "original" (original IMPSY export) or "dummy"

    @property
    def size(self) -> str | None:
        return size_name(self.layers, self.units)


class Model(Protocol):
    """One step of an MDRNN: event in, mixture parameters out, state carried inside."""

    info: ModelInfo
    dimension: int

    def step(self, x: np.ndarray) -> np.ndarray: ...

    def sample(
        self,
        params: np.ndarray,
        pitemp: float = 1.0,
        sigmatemp: float = 0.01,
        persistence: float = 0.0,
        one_at_a_time: bool = False,
    ) -> np.ndarray: ...

    def reset(self) -> None: ...
