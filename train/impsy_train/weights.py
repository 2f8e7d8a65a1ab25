"""An MDRNN's numbers as plain numpy arrays, and the one inference step they define.

This is the contract between the trainer, the .tflite writer and its reader: whatever
trains the network fills a Weights, the writer turns it into a one-step graph, and
`step` below is the reference that the written file must match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIGMA_FLOOR = 1e-7  # keeps sigmas strictly positive (ELU + 1 + floor), as the original IMPSY did
LOG_DT_OFFSET = 0.01  # 1 ms, scaled: log(dt + 1 ms) is finite for the 0 of simultaneous events


@dataclass
class Weights:
    """LSTM layers (gate order i, f, g, o) and the mixture head.

    lstm[i] = (kernel [inputs, 4U], recurrent [U, 4U], bias [4U]); the first layer's inputs
    are the D event values, later layers' are the U outputs of the layer below.
    head_kernel [U, K(2D+1)] and head_bias [K(2D+1)] give K*D means, K*D sigma
    pre-activations and K logits, side by side in that order.
    With `residual`, each component's control means are the head's output plus the controls
    that came in: a control that did not move is predicted exactly by a zero offset, which an
    LSTM state cannot hold to the precision that real, quantised controllers repeat values at.
    Time is left out: after a pause the next dt has nothing to do with the last one.
    With `log_dt`, the first layer also sees log(dt + 1 ms) (see `features`).
    """

    lstm: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    head_kernel: np.ndarray
    head_bias: np.ndarray
    dimension: int
    mixtures: int
    residual: bool = False
    log_dt: bool = False

    @property
    def inputs(self) -> int:
        """What the first LSTM layer reads per event: the D values, and log dt if it has it."""
        return self.dimension + self.log_dt

    @property
    def layers(self) -> int:
        return len(self.lstm)

    @property
    def units(self) -> int:
        return self.lstm[0][1].shape[0]

    def arrays(self) -> list[np.ndarray]:
        """Every array in a fixed order (the order `with_arrays` reads back)."""
        return [a for layer in self.lstm for a in layer] + [self.head_kernel, self.head_bias]

    def with_arrays(self, arrays: list[np.ndarray]) -> Weights:
        """The same network with other numbers, in the order of `arrays()`."""
        *lstm, head_kernel, head_bias = arrays
        layers = [tuple(lstm[i : i + 3]) for i in range(0, len(lstm), 3)]
        return Weights(
            layers, head_kernel, head_bias, self.dimension, self.mixtures, self.residual, self.log_dt
        )

    def astype(self, dtype: type) -> Weights:
        return self.with_arrays([a.astype(dtype) for a in self.arrays()])

    def check(self) -> None:
        """Raise ValueError unless every shape fits one network."""
        d, k, u = self.dimension, self.mixtures, self.units
        inputs = self.inputs
        for i, (kernel, recurrent, bias) in enumerate(self.lstm):
            expected = ((inputs, 4 * u), (u, 4 * u), (4 * u,))
            if (kernel.shape, recurrent.shape, bias.shape) != expected:
                raise ValueError(f"LSTM layer {i}: shapes {kernel.shape} {recurrent.shape} {bias.shape}")
            inputs = u
        if self.head_kernel.shape != (u, k * (2 * d + 1)) or self.head_bias.shape != (k * (2 * d + 1),):
            raise ValueError(f"mixture head: shapes {self.head_kernel.shape} {self.head_bias.shape}")


def residual_mask(dimension: int) -> np.ndarray:
    """1 for each control, 0 for dt: what a residual head adds to its means."""
    mask = np.ones(dimension, np.float32)
    mask[0] = 0.0
    return mask


def features(x: np.ndarray) -> np.ndarray:
    """Scaled events [..., D] with log(dt + 1 ms) (scaled) after them [..., D + 1].

    Touch logs mix gaps of 1 ms (a burst of x, y and pressure) with gaps of 20 ms, and some
    logs have no gap under 10 ms at all: on a log scale these are far apart, where as dt
    (scaled) they differ by 0.19 beside controls that span 10.
    """
    dt = np.maximum(x[..., :1], 0)  # a negative dt (none should come) gives no NaN
    return np.concatenate([x, np.log(dt + np.asarray(LOG_DT_OFFSET, x.dtype))], axis=-1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow warnings for large |x|


def elu_plus_one(x: np.ndarray) -> np.ndarray:
    """ELU(x) + 1 + SIGMA_FLOOR: the sigmas, positive and linear for large x."""
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))) + (1.0 + SIGMA_FLOOR)


def step(weights: Weights, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One inference step: x [D] (already scaled), state [layers, 2, U] (h, c) -> params, state.

    It has exactly the runtime's contract (`params` [K(2D+1)] with positive sigmas), so it is
    the reference the .tflite must reproduce.
    """
    h = np.asarray(x, np.float64)[None]
    if weights.log_dt:
        h = features(h)
    new = np.empty_like(state)
    for i, (kernel, recurrent, bias) in enumerate(weights.lstm):
        h_prev, c_prev = state[i, 0][None], state[i, 1][None]
        i_, f, g, o = np.split(h @ kernel + h_prev @ recurrent + bias, 4, axis=1)
        c = sigmoid(f) * c_prev + sigmoid(i_) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        new[i, 0], new[i, 1] = h[0], c[0]
    kd = weights.dimension * weights.mixtures
    raw = (h @ weights.head_kernel + weights.head_bias)[0]
    mus = raw[:kd] + np.tile(x * residual_mask(len(x)), weights.mixtures) if weights.residual else raw[:kd]
    params = np.concatenate([mus, elu_plus_one(raw[kd : 2 * kd]), raw[2 * kd :]])
    return params, new


def random_weights(
    dimension: int,
    layers: int,
    units: int,
    mixtures: int,
    seed: int = 0,
    residual: bool = False,
    log_dt: bool = False,
) -> Weights:
    """Glorot-uniform kernels, orthogonal recurrent matrices, forget-gate bias 1 (as Keras starts)."""
    rng = np.random.default_rng(seed)

    def glorot(fan_in: int, fan_out: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_in, fan_out))

    def orthogonal(n: int, m: int) -> np.ndarray:
        q, r = np.linalg.qr(rng.standard_normal((m, n)))
        return (q * np.sign(np.diag(r))).T

    lstm, inputs = [], dimension + log_dt
    for _ in range(layers):
        bias = np.zeros(4 * units)
        bias[units : 2 * units] = 1.0
        lstm.append((glorot(inputs, 4 * units), orthogonal(units, 4 * units), bias))
        inputs = units
    outputs = mixtures * (2 * dimension + 1)
    weights = Weights(lstm, glorot(units, outputs), np.zeros(outputs), dimension, mixtures, residual, log_dt)
    return weights.astype(np.float32)
