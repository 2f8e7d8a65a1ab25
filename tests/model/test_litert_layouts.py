"""Models from elsewhere: original IMPSY exports load, whatever order their tensors come in;
Flex models are refused."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")  # these tests build their models with TensorFlow
import keras
import tensorflow as tf
from impsy_train.export import convert, lstm_step, read_weights
from impsy_train.network import MixtureHead, network_shape

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


def original_keras_conversion(trained: keras.Model) -> bytes:
    """The original's own route: a Keras inference model with named state inputs, converted
    with from_keras_model. The converter lists its tensors shuffled (seen: h1, c1, x, c0, h0)
    and adds a `serving_default` signature; only the names give the order."""
    dimension, layers, units, mixtures = network_shape(trained)
    x = keras.Input(shape=(1, dimension), batch_size=1, name="inputs")
    states_in, states_out, h = [], [], x
    for i in range(layers):
        pair = [keras.Input(shape=(units,), batch_size=1, name=f"state_{k}_{i}") for k in "hc"]
        lstm = keras.layers.LSTM(
            units, return_sequences=i < layers - 1, return_state=True, name=f"lstm_{i}"
        )
        h, state_h, state_c = lstm(h, initial_state=pair)
        lstm.set_weights(trained.get_layer(f"lstm_{i}").get_weights())
        states_in += pair
        states_out += [state_h, state_c]
    head = MixtureHead(dimension, mixtures, name="mdn")
    params = head(h)
    head.set_weights(trained.get_layer("mdn").get_weights())
    inference = keras.Model([x, *states_in], [params, *states_out])
    converter = tf.lite.TFLiteConverter.from_keras_model(inference)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def test_original_keras_conversion_is_read_by_tensor_names(tiny_model, tmp_path):
    path = tmp_path / "original-keras.tflite"
    path.write_bytes(original_keras_conversion(tiny_model["result"].model))
    original, ours = load_model(path), load_model(tiny_model["tflite"])
    assert original.info.layout == "original"
    assert (original.info.dimension, original.info.layers, original.info.units) == (
        ours.info.dimension,
        ours.info.layers,
        ours.info.units,
    )
    # Pairing h with c, or one layer's state with another's, would show within a few steps.
    for event in tiny_model["dataset"].events[:50]:
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
    assert "from the original IMPSY" in str(error.value)  # its .keras cannot be re-exported
