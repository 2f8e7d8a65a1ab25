"""A mixture head whose timing has components of its own (`impsy-train train --timings J`).

In a plain MDRNN each component predicts dt and every control together, so a component spent
on a timing pattern is a component lost to gesture. Touch-screen timing is several patterns at
once (messages in pairs well under a millisecond apart, frame intervals, pauses): with 5 joint
components the 4d network learnt none of them, played at three quarters of the human rate and
never in the pairs. Here the network predicts J timing components and K gesture components
separately, and the file holds all J x K of their pairings:

    component (j, k): dt from timing j, controls from gesture k, a weight of its own.

Each pairing keeps a weight of its own, so the network can still say which timings go with
which gestures. The file is a plain mixture, so the runtime, LiteRT and any scorer read it like
every other model file. The tie lives only in training: the optimiser moves the compact columns,
and every step uses their expansion (`expand`: copies), whose gradient on a column is the sum
over its copies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from impsy_train.settings import TrainSettings
from impsy_train.weights import Weights

EM_EVENTS = 20_000  # the timing mixture's starting fit reads at most this many dts
EM_ROUNDS = 200


@dataclass(frozen=True)
class TimingHead:
    """The column layout: compact = [J dt means, J dt sigmas, K(D-1) control means, K(D-1)
    control sigmas, J*K logits]; expanded = the usual K'(2D+1) columns of K' = J*K components
    (see Weights), component (j, k) at index j*K + k."""

    dimension: int
    timings: int
    gestures: int

    @property
    def mixtures(self) -> int:
        return self.timings * self.gestures

    @property
    def columns(self) -> int:
        return 2 * self.timings + 2 * self.gestures * (self.dimension - 1) + self.mixtures

    @cached_property  # read at every training step (expand, gradients): worked out once
    def sources(self) -> np.ndarray:
        """For each expanded column, the compact column it copies."""
        d, j_count, k_count, kp = self.dimension, self.timings, self.gestures, self.mixtures
        c = d - 1
        gesture = 2 * j_count  # where the control columns start
        out = np.empty(kp * (2 * d + 1), int)
        for comp in range(kp):
            j, k = divmod(comp, k_count)
            for part in range(2):  # means, then sigmas
                first = part * kp * d + comp * d
                out[first] = part * j_count + j
                out[first + 1 : first + d] = gesture + part * k_count * c + k * c + np.arange(c)
        out[2 * kp * d :] = gesture + 2 * k_count * c + np.arange(kp)
        return out

    def expand(self, kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return kernel[:, self.sources], bias[self.sources]

    def compact(self, kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The compact columns of an expanded head, the first copy of each: expand's inverse for a
        head with this tie (`found_in` checks that a head has it)."""
        return kernel[:, self.first_copies], bias[self.first_copies]

    @cached_property
    def first_copies(self) -> np.ndarray:
        """For each compact column, the first expanded column that copies it."""
        return np.unique(self.sources, return_index=True)[1]

    @classmethod
    def found_in(cls, weights: Weights) -> TimingHead | None:
        """The tie a file trained with --timings still has in its columns (fine-tuning keeps
        it); None for a plain head."""
        kernel, bias = weights.head_kernel, weights.head_bias
        for timings in range(2, weights.mixtures):
            if weights.mixtures % timings:
                continue
            head = cls(weights.dimension, timings, weights.mixtures // timings)
            again = head.expand(*head.compact(kernel, bias))
            if np.array_equal(again[0], kernel) and np.array_equal(again[1], bias):
                return head
        return None

    def gradients(self, d_kernel: np.ndarray, d_bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients on the compact columns from those on the expanded ones: each the sum over
        its copies."""
        d_compact = np.zeros((d_kernel.shape[0], self.columns), d_kernel.dtype)
        np.add.at(d_compact, (slice(None), self.sources), d_kernel)
        return d_compact, np.bincount(self.sources, d_bias, self.columns).astype(d_bias.dtype)

    def start(self, units: int, dts: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Compact starting columns: a kernel as Glorot-uniform as a plain head's, and a bias
        whose timing components start where a 1-D mixture fitted to the training dts (scaled)
        puts them, each pairing weighted as its timing (the controls' bias starts at 0, as a
        plain head's does). From a zero bias, gradient steps never narrowed a component onto
        the sub-millisecond pairs."""
        limit = np.sqrt(6.0 / (units + len(self.sources)))  # as a plain head of J*K components
        # Its own stream: from `seed` alone it would copy the first LSTM kernel's draws.
        kernel = np.random.default_rng([seed, 1]).uniform(-limit, limit, (units, self.columns))
        mus, sigmas, weights = fit_1d(dts, self.timings, seed)
        j = self.timings
        # Random dt columns would move each timing by tenths of a (scaled) second from one
        # state to the next, burying a component 0.004 wide; the network learns to move them.
        kernel[:, : 2 * j] = 0.0
        bias = np.zeros(self.columns)
        bias[:j] = mus
        # The sigma column goes through ELU + 1: log for sigmas below 1, linear above.
        bias[j : 2 * j] = np.where(sigmas < 1.0, np.log(np.minimum(sigmas, 1.0)), sigmas - 1.0)
        bias[-self.mixtures :] = np.repeat(np.log(weights), self.gestures)
        return kernel.astype(np.float32), bias.astype(np.float32)


TIMING_EVENT_CLIP = 100.0


def settings_for(settings: TrainSettings, head: TimingHead | None) -> TrainSettings:
    """The settings a run with `head` really uses: its counts, and a looser per-event gradient
    clip (TIMING_EVENT_CLIP). The pairs' narrow timing component gives their events the longest
    gradients, and the usual clip of 10 held it back: on the 4d logs, held-out -2.70 and -3.72
    against -4.97 and -5.21 at 100 (seeds 0, 1), and -5.06 and -4.91 with no clip at all."""
    if head is None:
        return settings
    return replace(settings, mixtures=head.gestures, timings=head.timings, event_clip=TIMING_EVENT_CLIP)


def fit_1d(values: np.ndarray, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A `count`-component 1-D Gaussian mixture fitted by EM from quantile starts: means,
    sigmas, weights. At most EM_EVENTS values are read, so it costs the same on any dataset."""
    values = np.asarray(values, np.float64)
    if len(values) > EM_EVENTS:
        values = np.random.default_rng(seed).choice(values, EM_EVENTS, replace=False)
    spread = max(float(values.std()), 1e-3)
    mus = np.quantile(values, (np.arange(count) + 0.5) / count)
    sigmas = np.full(count, spread)
    weights = np.full(count, 1.0 / count)
    floor = 1e-4 * spread  # a component on one repeated value would shrink to nothing
    for _ in range(EM_ROUNDS):
        log_p = np.log(weights) - 0.5 * ((values[:, None] - mus) / sigmas) ** 2 - np.log(sigmas)
        log_p -= log_p.max(axis=1, keepdims=True)
        resp = np.exp(log_p)
        resp /= resp.sum(axis=1, keepdims=True)
        mass = resp.sum(axis=0) + 1e-12
        weights = mass / mass.sum()
        mus = (resp * values[:, None]).sum(axis=0) / mass
        sigmas = np.sqrt((resp * (values[:, None] - mus) ** 2).sum(axis=0) / mass) + floor
    return mus, sigmas, np.maximum(weights, 1e-6)
