"""The MDRNN in Keras 3: LSTM layers and a Gaussian mixture head, with its likelihood loss."""

from __future__ import annotations

import math

import keras
from keras import ops

from impsy.model import MIXTURES, SIZES

SIGMA_FLOOR = 1e-7  # keeps sigmas strictly positive, as the original's ELU + 1 + eps did


@keras.saving.register_keras_serializable(package="impsy")
class MixtureHead(keras.layers.Layer):
    """K*D means, K*D positive sigmas (ELU + 1) and K mixture logits, concatenated in that order."""

    def __init__(self, dimension: int, mixtures: int = MIXTURES, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dimension = dimension
        self.mixtures = mixtures
        # Names match the original keras-mdn-layer, so its saved weights map onto ours.
        self.mus = keras.layers.Dense(mixtures * dimension, name="mdn_mus")
        self.sigmas = keras.layers.Dense(mixtures * dimension, name="mdn_sigmas")
        self.pis = keras.layers.Dense(mixtures, name="mdn_pi")

    def build(self, input_shape) -> None:
        for dense in (self.mus, self.sigmas, self.pis):
            dense.build(input_shape)
        self.built = True

    def call(self, inputs):
        sigmas = ops.elu(self.sigmas(inputs)) + 1.0 + SIGMA_FLOOR
        return ops.concatenate([self.mus(inputs), sigmas, self.pis(inputs)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.mixtures * (2 * self.dimension + 1))

    def get_config(self) -> dict:
        return {**super().get_config(), "dimension": self.dimension, "mixtures": self.mixtures}


def mixture_nll(dimension: int, mixtures: int = MIXTURES):
    """Loss: negative log-likelihood of the targets under the predicted diagonal Gaussian mixture."""
    kd = dimension * mixtures
    log_2pi = math.log(2.0 * math.pi)

    def loss(y_true, y_pred):
        shape = ops.shape(y_pred)[:-1]
        mus = ops.reshape(y_pred[..., :kd], (*shape, mixtures, dimension))
        sigmas = ops.reshape(y_pred[..., kd : 2 * kd], (*shape, mixtures, dimension))
        logits = y_pred[..., 2 * kd :]
        z = (ops.expand_dims(y_true, -2) - mus) / sigmas
        component = -0.5 * ops.sum(z * z + 2.0 * ops.log(sigmas) + log_2pi, axis=-1)
        return -ops.logsumexp(ops.log_softmax(logits, axis=-1) + component, axis=-1)

    loss.__name__ = "mixture_nll"
    return loss


def build_model(
    dimension: int, size: str = "s", mixtures: int = MIXTURES, learning_rate: float = 1e-3
) -> keras.Model:
    """A compiled MDRNN for sequences of events [dt, x1..xn] (already multiplied by SCALE)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    layers, units = SIZES[size]
    inputs = keras.Input(shape=(None, dimension), name="events")
    x = inputs
    for i in range(layers):
        x = keras.layers.LSTM(units, return_sequences=True, name=f"lstm_{i}")(x)
    outputs = MixtureHead(dimension, mixtures, name="mdn")(x)
    model = keras.Model(inputs, outputs, name=f"impsy_mdrnn_{size}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=mixture_nll(dimension, mixtures),
    )
    return model


def network_shape(model: keras.Model) -> tuple[int, int, int, int]:
    """(dimension, layers, units, mixtures) of an MDRNN built by build_model."""
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    head = model.get_layer("mdn")
    return head.dimension, len(lstms), lstms[0].units, head.mixtures
