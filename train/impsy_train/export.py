"""Export a trained MDRNN as a one-step, built-in-ops .tflite, and prove it matches Keras.

The inference graph is written out by hand from the trained weights: one LSTM step per
layer with the state passed in and out explicitly (packed as [1, layers, 2, units]:
h then c), and the mixture head. It uses only matmul, add, sigmoid, tanh, elu, slice and
concat, so the converter emits built-in ops and the Pi needs no Flex delegate.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from impsy.model import SCALE
from impsy.model.litert import INPUT, PARAMS, SIGNATURE, STATE, STATE_OUT, LiteRTModel
from impsy_train.network import SIGMA_FLOOR, network_shape

PARITY_STEPS = 200
PARITY_TOLERANCE = 1e-4


class ExportError(Exception):
    """The export failed or does not match the Keras model."""


@dataclass(frozen=True)
class Weights:
    """The numbers an inference step needs, as numpy arrays."""

    lstm: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (kernel, recurrent kernel, bias)
    head_kernel: np.ndarray  # mus | sigmas | logits, side by side
    head_bias: np.ndarray
    dimension: int
    mixtures: int

    @property
    def units(self) -> int:
        return self.lstm[0][1].shape[0]


def read_weights(model: keras.Model) -> Weights:
    """Collect LSTM and mixture-head weights from an MDRNN built by build_model."""
    dimension, _, _, mixtures = network_shape(model)
    lstm = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.LSTM):
            if layer.activation is not keras.activations.tanh or (
                layer.recurrent_activation is not keras.activations.sigmoid
            ):
                raise ExportError(f"{layer.name}: only tanh/sigmoid LSTMs can be exported")
            kernel, recurrent, bias = (w.numpy() for w in layer.weights)
            lstm.append((kernel, recurrent, bias))
    head = model.get_layer("mdn")
    parts = [head.mus, head.sigmas, head.pis]
    return Weights(
        lstm=lstm,
        head_kernel=np.concatenate([p.kernel.numpy() for p in parts], axis=1),
        head_bias=np.concatenate([p.bias.numpy() for p in parts]),
        dimension=dimension,
        mixtures=mixtures,
    )


def lstm_step(weights: Weights, x, states):
    """One step through the network: x [1, D] and [(h, c)] per layer -> params, new states."""
    h, new_states = x, []
    for (kernel, recurrent, bias), (h_prev, c_prev) in zip(weights.lstm, states, strict=True):
        gates = tf.matmul(h, kernel) + tf.matmul(h_prev, recurrent) + bias
        i, f, g, o = tf.split(gates, 4, axis=1)  # Keras' gate order
        c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        new_states.append((h, c))
    kd = weights.dimension * weights.mixtures
    mus, sigmas, logits = tf.split(
        tf.matmul(h, weights.head_kernel) + weights.head_bias, [kd, kd, weights.mixtures], axis=1
    )
    params = tf.concat([mus, tf.nn.elu(sigmas) + 1.0 + SIGMA_FLOOR, logits], axis=1)
    return params, new_states


def step_function(weights: Weights) -> tf.types.experimental.ConcreteFunction:
    """The signature the runtime maps by name: x [1,1,D], state [1,L,2,U] -> params, state_out."""
    d, layers, units = weights.dimension, len(weights.lstm), weights.units

    @tf.function(
        input_signature=[
            tf.TensorSpec([1, 1, d], tf.float32, name=INPUT),
            tf.TensorSpec([1, layers, 2, units], tf.float32, name=STATE),
        ]
    )
    def step(x, state):
        states = [(state[:, i, 0, :], state[:, i, 1, :]) for i in range(layers)]
        params, new_states = lstm_step(weights, tf.reshape(x, [1, d]), states)
        packed = tf.stack([tf.stack([h, c], axis=1) for h, c in new_states], axis=1)
        return {PARAMS: params, STATE_OUT: packed}

    return step.get_concrete_function()


def convert(function, signature: str | None = SIGNATURE) -> bytes:
    """Convert a concrete function to .tflite with built-in ops only (no Flex)."""
    with tempfile.TemporaryDirectory() as tmp:
        if signature:
            module = tf.Module()
            tf.saved_model.save(module, tmp, signatures={signature: function})
            converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=[signature])
        else:
            converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            return converter.convert()
        except Exception as error:  # the converter raises many types; all mean the same here
            raise ExportError(f"TFLite conversion failed: {error}") from error


def parity(model: keras.Model, tflite_path: str | Path, events: np.ndarray) -> float:
    """Largest difference between Keras and LiteRT mixture parameters over a run of events."""
    expected = np.asarray(model(events[None].astype(np.float32) * SCALE))[0]
    runtime = LiteRTModel(tflite_path)
    got = np.stack([runtime.step(event) for event in events])
    return float(np.max(np.abs(expected - got)))


def parity_events(dimension: int, steps: int = PARITY_STEPS, seed: int = 0) -> np.ndarray:
    """A plausible run of events: dt around 50 ms, controls anywhere in [0, 1]."""
    rng = np.random.default_rng(seed)
    events = rng.random((steps, dimension)).astype(np.float32)
    events[:, 0] = rng.exponential(0.05, steps)
    return events


def export_tflite(
    model: keras.Model, path: str | Path, events: np.ndarray | None = None
) -> tuple[Path, float]:
    """Write the .tflite beside its name and check it against Keras; returns (path, max diff)."""
    path = Path(path)
    weights = read_weights(model)
    data = convert(step_function(weights))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    if events is None or len(events) < PARITY_STEPS:
        events = parity_events(weights.dimension)
    difference = parity(model, tmp, events[:PARITY_STEPS])
    if not difference <= PARITY_TOLERANCE:  # also catches NaN
        tmp.unlink()
        raise ExportError(
            f"{path.name}: LiteRT and Keras disagree by {difference:.2e} over {PARITY_STEPS} steps "
            f"(allowed {PARITY_TOLERANCE:.0e}); the file was not written"
        )
    tmp.replace(path)
    return path, difference
