"""Models from elsewhere: original IMPSY exports load by position; Flex models are refused."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")  # these tests build their models with TensorFlow
import tensorflow as tf
from impsy_train.export import convert, lstm_step, read_weights

from impsy.model import ModelError, load_model

pytestmark = pytest.mark.train


def original_layout(weights) -> bytes:
    """What the original IMPSY exported: no signature; inputs x, h0, c0, h1, c1; params first out."""
    d, units, layers = weights.dimension, weights.units, len(weights.lstm)
    specs = [tf.TensorSpec([1, 1, d], tf.float32, name="inputs")]
    for i in range(layers):
        specs += [
            tf.TensorSpec([1, units], tf.float32, name=f"state_h_{i}"),
            tf.TensorSpec([1, units], tf.float32, name=f"state_c_{i}"),
        ]

    @tf.function(input_signature=specs)
    def step(x, *flat):
        states = [(flat[2 * i], flat[2 * i + 1]) for i in range(layers)]
        params, new = lstm_step(weights, tf.reshape(x, [1, d]), states)
        return [params, *(t for pair in new for t in pair)]

    return convert(step.get_concrete_function(), signature=None)


def test_original_impsy_layout_gives_the_same_predictions(tiny_model, tmp_path):
    path = tmp_path / "original.tflite"
    path.write_bytes(original_layout(read_weights(tiny_model["result"].model)))
    original, ours = load_model(path), load_model(tiny_model["tflite"])
    assert original.info.layout == "original" and ours.info.layout == "impsy"
    assert (
        original.info.dimension,
        original.info.layers,
        original.info.units,
        original.info.mixtures,
    ) == (ours.info.dimension, ours.info.layers, ours.info.units, ours.info.mixtures)
    events = tiny_model["dataset"].events[:50]
    for event in events:
        assert np.allclose(original.step(event), ours.step(event), atol=1e-5)


def test_flex_model_is_refused_with_the_way_out(tmp_path):
    f = tf.function(
        lambda x: tf.math.cumprod(x, axis=2), input_signature=[tf.TensorSpec([1, 1, 4], tf.float32)]
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()])
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    path = tmp_path / "flex.tflite"
    path.write_bytes(converter.convert())
    with pytest.raises(ModelError) as error:
        load_model(path)
    assert "needs TensorFlow (Flex/Select-TF) ops" in str(error.value)
    assert "impsy-train export" in str(error.value)
