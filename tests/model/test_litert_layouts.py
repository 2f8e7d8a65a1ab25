"""Models from elsewhere: original IMPSY exports load, whatever order their tensors come in;
Flex models are refused.

The .tflite files are committed fixtures (tests/data/models, see its README), made once with
TensorFlow; the expected predictions are computed here with numpy from their weights.
"""

from pathlib import Path

import numpy as np
import pytest

from impsy.model import SCALE, ModelError, load_model
from impsy.model.litert import interpreter_class

MODELS = Path(__file__).resolve().parents[1] / "data" / "models"
POSITIONAL = MODELS / "original-positional-4d.tflite"
KERAS = MODELS / "original-keras-4d.tflite"
FLEX = MODELS / "flex-op.tflite"
WEIGHTS = MODELS / "original-4d-weights.npz"

DIMENSION, LAYERS, UNITS, MIXTURES = 4, 2, 16, 5
SIGMA_FLOOR = 1e-7


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class Reference:
    """The fixtures' network in numpy: LSTM layers (Keras gate order i, f, g, o) and the
    mixture head (K*D means, K*D sigmas as ELU + 1 + floor, K logits)."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as w:
            weights = {k: w[k].astype(np.float64) for k in w.files}
        self.lstm = [
            (weights[f"lstm_{i}_kernel"], weights[f"lstm_{i}_recurrent"], weights[f"lstm_{i}_bias"])
            for i in range(LAYERS)
        ]
        self.head_kernel, self.head_bias = weights["head_kernel"], weights["head_bias"]
        self.states = [(np.zeros(UNITS), np.zeros(UNITS)) for _ in range(LAYERS)]

    def step(self, event: np.ndarray) -> np.ndarray:
        h = np.asarray(event, np.float64) * SCALE  # as the runtime feeds the network
        new_states = []
        for (kernel, recurrent, bias), (h_prev, c_prev) in zip(self.lstm, self.states, strict=True):
            i, f, g, o = np.split(h @ kernel + h_prev @ recurrent + bias, 4)
            c = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            new_states.append((h, c))
        self.states = new_states
        kd = DIMENSION * MIXTURES
        z = h @ self.head_kernel + self.head_bias
        mus, sigmas, logits = z[:kd], z[kd : 2 * kd], z[2 * kd :]
        elu = np.where(sigmas > 0, sigmas, np.expm1(np.minimum(sigmas, 0.0)))
        return np.concatenate([mus, elu + 1.0 + SIGMA_FLOOR, logits])


def events(n: int = 50, seed: int = 0) -> np.ndarray:
    """A plausible run of events: dt around 50 ms, controls anywhere in [0, 1]."""
    rng = np.random.default_rng(seed)
    out = rng.random((n, DIMENSION)).astype(np.float32)
    out[:, 0] = rng.exponential(0.05, n)
    return out


def assert_predicts_as_reference(path: Path) -> None:
    model, reference = load_model(path), Reference(WEIGHTS)
    assert model.info.layout == "original"
    assert (model.info.dimension, model.info.layers, model.info.units, model.info.mixtures) == (
        DIMENSION,
        LAYERS,
        UNITS,
        MIXTURES,
    )
    # Pairing h with c, or one layer's state with another's, would show within a few steps.
    for event in events():
        np.testing.assert_allclose(model.step(event), reference.step(event), rtol=0, atol=1e-5)


def test_original_impsy_layout_gives_the_expected_predictions():
    # No signature: x, h0, c0, h1, c1 in; params, then the new states, out.
    assert_predicts_as_reference(POSITIONAL)


def test_original_keras_conversion_is_read_by_tensor_names():
    # from_keras_model lists the tensors shuffled (here h1, c1, x, c0, h0) and adds a
    # `serving_default` signature; only the names give the order.
    interpreter = interpreter_class()(model_path=str(KERAS))
    assert list(interpreter.get_signature_list()) == ["serving_default"]
    listed = [d["name"] for d in interpreter.get_input_details()]
    assert not listed[0].endswith("inputs:0"), "the fixture should list its inputs out of order"
    del interpreter
    assert_predicts_as_reference(KERAS)


def test_flex_model_is_refused_with_the_way_out():
    with pytest.raises(ModelError) as error:
        load_model(FLEX)
    assert "needs TensorFlow (Flex/Select-TF) ops" in str(error.value)
    assert "impsy-train export" in str(error.value)
    assert "from the original IMPSY" in str(error.value)  # its .keras cannot be re-exported
