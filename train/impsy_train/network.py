"""The MDRNN's forward pass, mixture likelihood and gradients over batches, in numpy.

No framework: the network is small (two LSTM layers of 64 units for the shipped size), so
numpy with hand-written backpropagation through time trains it at a few tens of thousands
of events a second on two cores, in a process of tens of megabytes, on a laptop and on a
Pi alike. `tests/train/test_network.py` checks every gradient against finite differences.

Arrays are time-major ([T, B, ...]) so that each step reads contiguous memory. Padding is
marked by a mask [T, B]; a padded event adds nothing to the loss or the gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from impsy_train.weights import SIGMA_FLOOR, Weights, features, residual_mask

LOG_2PI = math.log(2.0 * math.pi)


# Inside the LSTM the gates run in the order i, f, o, g (Weights keep Keras' i, f, g, o), so
# the three sigmoid gates are one contiguous block.
_ORDER = (0, 1, 3, 2)


@dataclass
class Layer:
    """One LSTM layer's weights, transposed and reordered for feature-major steps.

    kernel [4U, I], recurrent [4U, U], bias [4U, 1] act on the gate pre-activations.
    The `half_*` copies have the sigmoid gates' rows halved: sigmoid(x) = (tanh(x/2) + 1) / 2,
    so one tanh over all four gates does the work of three sigmoids and a tanh.
    """

    kernel: np.ndarray
    recurrent: np.ndarray
    bias: np.ndarray
    half_kernel: np.ndarray
    half_recurrent: np.ndarray
    half_bias: np.ndarray

    @classmethod
    def of(cls, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> Layer:
        units = recurrent.shape[0]

        def rows(matrix: np.ndarray) -> np.ndarray:
            blocks = np.split(matrix.T if matrix.ndim == 2 else matrix[:, None], 4)
            return np.ascontiguousarray(np.concatenate([blocks[k] for k in _ORDER]))

        arrays = [rows(kernel), rows(recurrent), rows(bias)]
        halves = [a.copy() for a in arrays]
        for a in halves:
            a[: 3 * units] *= 0.5
        return cls(*arrays, *halves)

    def gradients(
        self, d_kernel: np.ndarray, d_recurrent: np.ndarray, d_bias: np.ndarray
    ) -> list[np.ndarray]:
        """Gradients on this layer's rows, back in the Weights' layout (kernel, recurrent, bias)."""

        def columns(rows: np.ndarray) -> np.ndarray:
            blocks = np.split(rows, 4)
            back = [blocks[_ORDER.index(k)] for k in range(4)]
            return np.concatenate(back).T

        return [columns(d_kernel), columns(d_recurrent), columns(d_bias)[0]]


@dataclass
class LayerCache:
    """What one LSTM layer's backward pass needs from its forward pass (all feature-major)."""

    inputs: np.ndarray  # [T, I, B]
    gates: np.ndarray  # [T, 4U, B]: i, f, o after sigmoid, g after tanh
    cells: np.ndarray  # [T + 1, U, B]: c before the first step, then after each
    tanh_cells: np.ndarray  # [T, U, B]
    hidden: np.ndarray  # [T + 1, U, B]: h before the first step, then after each


def lstm_forward(layer: Layer, inputs: np.ndarray, h0: np.ndarray | None = None,
                 c0: np.ndarray | None = None) -> LayerCache:  # fmt: skip
    """Run one LSTM layer over inputs [T, I, B] from (h0, c0) [U, B] (zeros when not given)."""
    steps, _, batch = inputs.shape
    units = layer.recurrent.shape[1]
    dtype = inputs.dtype
    # The input part of every step at once: one batched product instead of T small ones.
    gates = np.matmul(layer.half_kernel, inputs)
    gates += layer.half_bias
    cells = np.empty((steps + 1, units, batch), dtype)
    hidden = np.empty((steps + 1, units, batch), dtype)
    tanh_cells = np.empty((steps, units, batch), dtype)
    cells[0] = 0.0 if c0 is None else c0
    hidden[0] = 0.0 if h0 is None else h0
    recurrent = layer.half_recurrent
    sig = slice(0, 3 * units)
    for t in range(steps):
        a = gates[t]
        a += recurrent @ hidden[t]
        np.tanh(a, out=a)
        a[sig] *= 0.5
        a[sig] += 0.5
        c = cells[t + 1]
        np.multiply(a[units : 2 * units], cells[t], out=c)
        c += a[:units] * a[3 * units :]
        np.tanh(c, out=tanh_cells[t])
        np.multiply(a[2 * units : 3 * units], tanh_cells[t], out=hidden[t + 1])
    return LayerCache(inputs, gates, cells, tanh_cells, hidden)


def lstm_backward(
    layer: Layer, cache: LayerCache, d_hidden: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Gradients on the layer's weights (Weights layout) and on its inputs [T, I, B], from the
    loss gradient on each output h [T, U, B]."""
    steps, units, batch = d_hidden.shape
    gates = cache.gates
    i, f, o, g = (gates[:, k * units : (k + 1) * units] for k in range(4))
    # Everything that does not depend on the running gradients, for all steps at once:
    # d pre-activation = (running dc or dh) * partner * activation slope.
    slope = gates * (1.0 - gates)  # sigmoid' for i, f, o
    slope[:, 3 * units :] = 1.0 - g * g  # tanh' for g
    by_dc = np.empty((steps, 4, units, batch), gates.dtype)
    by_dc[:, 0] = g * slope[:, :units]  # d i
    by_dc[:, 1] = cache.cells[:-1] * slope[:, units : 2 * units]  # d f
    by_dc[:, 3] = i * slope[:, 3 * units :]  # d g
    by_dh = cache.tanh_cells * slope[:, 2 * units : 3 * units]  # d o
    dc_by_dh = o * (1.0 - cache.tanh_cells**2)
    d_gates = by_dc.reshape(steps, 4 * units, batch)  # filled in place, step by step
    dh = np.zeros((units, batch), d_hidden.dtype)
    dc = np.zeros((units, batch), d_hidden.dtype)
    recurrent_t = np.ascontiguousarray(layer.recurrent.T)
    for t in range(steps - 1, -1, -1):
        da = by_dc[t]
        dh += d_hidden[t]
        dc += dh * dc_by_dh[t]
        da[0] *= dc
        da[1] *= dc
        da[3] *= dc
        np.multiply(dh, by_dh[t], out=da[2])
        dc *= f[t]
        np.matmul(recurrent_t, d_gates[t], out=dh)
    d_kernel = np.tensordot(d_gates, cache.inputs, axes=([0, 2], [0, 2]))
    d_recurrent = np.tensordot(d_gates, cache.hidden[:-1], axes=([0, 2], [0, 2]))
    d_bias = d_gates.sum(axis=(0, 2))[:, None]
    d_inputs = np.matmul(layer.kernel.T, d_gates)
    return layer.gradients(d_kernel, d_recurrent, d_bias), d_inputs


@dataclass
class Mixture:
    """The head's output for N events: means and sigmas [N, K, D], log mixture weights [N, K]."""

    mus: np.ndarray
    sigmas: np.ndarray
    raw_sigmas: np.ndarray  # before ELU + 1, for the gradient
    log_pis: np.ndarray


def mixture(weights: Weights, hidden: np.ndarray, inputs: np.ndarray) -> Mixture:
    """The mixture head over hidden states [N, U], given the events [N, D] that led to them."""
    d, k = weights.dimension, weights.mixtures
    raw = hidden @ weights.head_kernel + weights.head_bias
    n = len(raw)
    mus = raw[:, : k * d].reshape(n, k, d)
    if weights.residual:
        mus = mus + (inputs * residual_mask(d))[:, None, :]
    raw_sigmas = raw[:, k * d : 2 * k * d].reshape(n, k, d)
    sigmas = np.where(raw_sigmas > 0, raw_sigmas, np.expm1(np.minimum(raw_sigmas, 0.0)))
    sigmas += 1.0 + SIGMA_FLOOR
    logits = raw[:, 2 * k * d :]
    top = logits.max(axis=1, keepdims=True)
    log_pis = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
    return Mixture(mus, sigmas, raw_sigmas, log_pis)


def component_scores(
    mus: np.ndarray, sigmas: np.ndarray, log_pis: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """z [N, K, D] of each target under each component, and log(pi_k N(target | mu_k, sigma_k))
    [N, K]; the event's log-likelihood is the latter's logsumexp over K."""
    z = (targets[:, None, :] - mus) / sigmas
    return z, log_pis - 0.5 * (z * z + 2.0 * np.log(sigmas) + LOG_2PI).sum(axis=2)


def logsumexp_rows(joint: np.ndarray) -> np.ndarray:
    top = joint.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(joint - top).sum(axis=1))


def mixture_nll(
    head: Mixture, targets: np.ndarray, weight: np.ndarray, event_clip: float = 0.0
) -> tuple[float, np.ndarray]:
    """Weighted sum of each event's negative log-likelihood, and its gradient on the head's raw output.

    targets [N, D]; weight [N] (the mask, divided by however the caller averages).
    With event_clip > 0, no event's gradient may be longer than event_clip times the median
    event's: once the network has learnt tiny sigmas (a control that holds still, a steady
    stream of events), one surprising event has a gradient millions of times the others',
    and would spend a whole batch's step on itself.
    """
    z, joint = component_scores(head.mus, head.sigmas, head.log_pis, targets)
    top = joint.max(axis=1, keepdims=True)
    total = np.exp(joint - top)
    norm = total.sum(axis=1, keepdims=True)
    nll = -(top[:, 0] + np.log(norm[:, 0]))
    # The posterior of each component given the target drives every gradient.
    posterior = (total / norm) * weight[:, None]
    d_mus = -(posterior[:, :, None] * z / head.sigmas)
    d_sigmas = posterior[:, :, None] * (1.0 - z * z) / head.sigmas
    d_sigmas *= np.where(head.raw_sigmas > 0, 1.0, head.sigmas - SIGMA_FLOOR)
    d_logits = np.exp(head.log_pis) * weight[:, None] - posterior
    n = len(targets)
    d_raw = np.concatenate([d_mus.reshape(n, -1), d_sigmas.reshape(n, -1), d_logits], axis=1)
    if event_clip > 0:
        lengths = np.sqrt(np.einsum("ij,ij->i", d_raw, d_raw))
        limit = event_clip * np.median(lengths[weight > 0]) if np.any(weight > 0) else 0.0
        if limit > 0:
            d_raw *= (limit / np.maximum(lengths, limit))[:, None]  # min(1, limit / length)
    return float(np.dot(nll, weight)), d_raw


def run_layers(weights: Weights, inputs: np.ndarray) -> tuple[list[Layer], list[LayerCache], np.ndarray]:
    """Every LSTM layer over scaled inputs [T, B, D] from zero state; the top hidden states [T*B, U]."""
    layers = [Layer.of(*arrays) for arrays in weights.lstm]
    first = features(inputs) if weights.log_dt else inputs
    caches, hidden = [], np.ascontiguousarray(first.transpose(0, 2, 1))
    for layer in layers:
        cache = lstm_forward(layer, hidden)
        caches.append(cache)
        hidden = cache.hidden[1:]
    return layers, caches, hidden.transpose(0, 2, 1).reshape(-1, weights.units)


def event_nll(weights: Weights, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each event's negative log-likelihood [T, B] for scaled inputs and targets [T, B, D],
    from a zero state."""
    _, _, hidden = run_layers(weights, inputs)
    head = mixture(weights, hidden, inputs.reshape(len(hidden), -1))
    _, joint = component_scores(head.mus, head.sigmas, head.log_pis, targets.reshape(len(hidden), -1))
    return -logsumexp_rows(joint).reshape(targets.shape[:2])


def loss_and_gradients(
    weights: Weights, inputs: np.ndarray, targets: np.ndarray, mask: np.ndarray, event_clip: float = 0.0
) -> tuple[float, list[np.ndarray]]:
    """Mean NLL per unmasked event over a batch [T, B, D] from zero state, and its gradient
    for every array of `weights`, in the order of `weights.arrays()` (see mixture_nll for
    event_clip)."""
    layers, caches, hidden = run_layers(weights, inputs)
    steps, batch = mask.shape
    head = mixture(weights, hidden, inputs.reshape(len(hidden), -1))
    count = max(float(mask.sum()), 1.0)
    total, d_raw = mixture_nll(head, targets.reshape(steps * batch, -1), mask.reshape(-1) / count, event_clip)
    d_raw = d_raw.astype(inputs.dtype, copy=False)
    grads_head = [hidden.T @ d_raw, d_raw.sum(axis=0)]
    d_hidden = np.ascontiguousarray(
        (d_raw @ weights.head_kernel.T).reshape(steps, batch, -1).transpose(0, 2, 1)
    )
    grads_lstm: list[np.ndarray] = []
    for layer, cache in zip(reversed(layers), reversed(caches), strict=True):
        grads, d_hidden = lstm_backward(layer, cache, d_hidden)
        grads_lstm = grads + grads_lstm
    return total, [*grads_lstm, *grads_head]
