"""load_model: .tflite through LiteRT, the dummy fallback, Keras names resolved to .tflite."""

import logging
import shutil

import numpy as np
import pytest
from conftest import SHIPPED_9D, SHIPPED_9D_5

from impsy.model import DummyModel, ModelError, load_model


@pytest.mark.parametrize("name", ["nothing.tflite", "gone.h5", "."])
def test_a_missing_file_is_an_error_not_random_noise(tmp_path, name):
    # It used to play the dummy with one warning line: on stage, random noise passed for the model.
    with pytest.raises(ModelError, match=r'no such file .*write file = "" in \[model\]'):
        load_model(tmp_path / name if name != "." else tmp_path, dimension=5)


@pytest.mark.parametrize("file", ["", None])
def test_no_file_configured_gives_dummy(file, caplog):
    with caplog.at_level(logging.WARNING):
        assert isinstance(load_model(file, dimension=3), DummyModel)
    assert "no model file configured" in caplog.text


def test_an_empty_file_is_an_error(tmp_path):
    empty = tmp_path / "empty.tflite"
    empty.touch()
    with pytest.raises(ModelError, match=r"empty\.tflite: the file is empty"):
        load_model(empty, dimension=4)


def test_dummy_makes_playable_random_gestures():
    model = load_model(None, dimension=4, seed=0)
    out = np.array([model.sample(model.step(np.zeros(4))) for _ in range(500)])
    assert out.shape == (500, 4)
    assert (out[:, 1:] >= 0).all() and (out[:, 1:] <= 1).all() and (out[:, 0] >= 0.001).all()
    assert out[:, 1].std() > 0.2  # really random, not a constant


def test_garbage_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"this is not a flatbuffer" * 10)
    with pytest.raises(ModelError, match=r"bad\.tflite: not a \.tflite model: the file is damaged"):
        load_model(bad)


def test_keras_name_runs_the_tflite_beside_it(tmp_path):
    shutil.copy(SHIPPED_9D, tmp_path / "m.tflite")
    model = load_model(tmp_path / "m.h5")
    assert model.info.path.endswith("m.tflite") and model.dimension == 9


def test_keras_file_without_tflite_says_how_to_convert(tmp_path):
    (tmp_path / "m.keras").write_bytes(b"PK")  # there, but the lean runtime cannot run it
    with pytest.raises(ModelError, match=r"no m\.tflite beside it.*impsy-train export"):
        load_model(tmp_path / "m.keras")


@pytest.mark.parametrize("model, mixtures", [(SHIPPED_9D, 10), (SHIPPED_9D_5, 5)])
def test_shipped_model_shape_is_read_from_its_tensors(model, mixtures):
    info = load_model(model).info
    assert (info.dimension, info.layers, info.units, info.mixtures, info.size) == (9, 2, 64, mixtures, "s")
    assert info.layout == "impsy"


def test_reset_forgets_the_performance():
    model = load_model(SHIPPED_9D)
    x = np.full(9, 0.5, np.float32)
    x[0] = 0.05
    first = model.step(x).copy()
    second = model.step(x).copy()
    assert not np.allclose(first, second)  # the state carried over
    model.reset()
    assert np.allclose(model.step(x), first)


def test_in_place_tensors_predict_as_the_copying_path():
    # step() writes and reads the interpreter's tensors in place; the set/get path is the reference.
    fast, plain = load_model(SHIPPED_9D, seed=1), load_model(SHIPPED_9D, seed=1)
    plain._bind_tensors_plain()
    assert fast._fast and not plain._fast
    x = np.zeros(9)
    for _ in range(200):
        params = fast.step(x)
        np.testing.assert_array_equal(params, plain.step(x))
        assert not params.flags.writeable  # the model's own output: read, never written
        x = fast.sample(params, 1.0, 0.5)
    fast.reset()
    plain.reset()
    np.testing.assert_array_equal(fast.step(x), plain.step(x))


def test_same_seed_plays_the_same_solo():
    runs = []
    for _ in range(2):
        model, x, out = load_model(SHIPPED_9D, seed=7), np.zeros(9), []
        for i in range(600):  # past two blocks of pre-drawn random numbers, temperatures changed live
            x = model.sample(model.step(x), 1.0 if i < 300 else 0.5, 0.01 if i < 400 else 0.2)
            out.append(x)
        runs.append(np.array(out))
    np.testing.assert_array_equal(*runs)


def test_one_at_a_time_moves_one_control_from_the_event_it_heard():
    model = load_model(SHIPPED_9D, seed=2)
    x = np.array([0.1, 0.2, 0.9, 0.4, 0.6, 0.3, 0.8, 0.5, 0.7])
    for _ in range(100):
        out = model.sample(model.step(x), 1.0, 0.5, 0.95, True)
        moved = np.flatnonzero(np.abs(out[1:] - x[1:]) > 1e-6)
        assert len(moved) <= 1  # the rest exactly as heard (to float32)
        x = out
