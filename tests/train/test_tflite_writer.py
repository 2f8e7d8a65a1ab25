"""The .tflite writer without TensorFlow: files the real LiteRT runtime loads and runs like the
numpy reference step, at every size and dimension, and weights that read back exactly."""

import re
from functools import cache
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from conftest import REPO
from impsy_train.tflite import METADATA, read_weights, write_tflite
from impsy_train.weights import Weights, random_weights, step
from threadpoolctl import threadpool_limits

from impsy.model import MIXTURES, SCALE, SIZES, load_model
from impsy.model.litert import interpreter_class

FIXTURES = REPO / "tests" / "data" / "models"  # exports made by TensorFlow, as the original IMPSY's
STEPS = 200
TOLERANCE = 1e-4
# Every size at the usual dimension, every dimension at the smallest size, and a few corners;
# residual means (the trainer's default) everywhere but at odd dimensions of the smallest size.
CASES = sorted(
    {(9, size, True) for size in SIZES}
    | {(d, "xxs", d % 2 == 0) for d in range(2, 17)}
    | {(2, "xs", True), (16, "s", False), (3, "m", True), (12, "l", False)}
)


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """For the reference's matrix-vector products, more BLAS threads only wait for each other
    (xl took 36 s instead of 3 on a busy two-core machine)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@cache
def weights_and_file(dimension: int, size: str, residual: bool = True) -> tuple[Weights, bytes]:
    layers, units = SIZES[size]
    weights = random_weights(dimension, layers, units, MIXTURES, dimension * 100 + units, residual)
    return weights, write_tflite(weights)


def events(dimension: int, steps: int = STEPS, seed: int = 0) -> np.ndarray:
    """Plausible events: dt around 50 ms, controls anywhere in [0, 1]."""
    rng = np.random.default_rng(seed)
    values = rng.random((steps, dimension))
    values[:, 0] = rng.exponential(0.05, steps)
    return values


def written(tmp_path: Path, dimension: int, size: str, residual: bool = True) -> tuple[Weights, Path]:
    weights, data = weights_and_file(dimension, size, residual)
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    return weights, path


@pytest.mark.parametrize(("dimension", "size", "residual"), CASES)
def test_runtime_runs_the_file_like_the_reference_step(dimension, size, residual, tmp_path):
    weights, path = written(tmp_path, dimension, size, residual)
    model = load_model(path)
    info = model.info
    layers, units = SIZES[size]
    assert (info.dimension, info.layers, info.units, info.mixtures) == (dimension, layers, units, MIXTURES)
    assert (info.size, info.layout) == (size, "impsy")
    reference = weights.astype(np.float64)  # the same numbers; float32 ones would be cast at every step
    state = np.zeros((layers, 2, units))
    worst = 0.0
    for event in events(dimension):
        expected, state = step(reference, event * SCALE, state)
        worst = max(worst, float(np.max(np.abs(model.step(event) - expected))))
    assert worst <= TOLERANCE  # also fails on NaN


@pytest.mark.parametrize(("dimension", "size"), [(4, "s"), (9, "xs"), (2, "xxs")])
def test_a_log_dt_network_runs_and_reads_back_like_the_reference(dimension, size, tmp_path):
    layers, units = SIZES[size]
    weights = random_weights(dimension, layers, units, MIXTURES, seed=7, residual=True, log_dt=True)
    path = tmp_path / "model.tflite"
    path.write_bytes(write_tflite(weights))
    model, reference = load_model(path), weights.astype(np.float64)
    state = np.zeros((layers, 2, units))
    worst = 0.0
    gaps = events(dimension)
    gaps[::3, 0] = 0.0  # simultaneous events: log(0 + 1 ms)
    for event in gaps:
        expected, state = step(reference, event * SCALE, state)
        worst = max(worst, float(np.max(np.abs(model.step(event) - expected))))
    assert worst <= TOLERANCE
    again = read_weights(path.read_bytes())
    assert again.log_dt and again.inputs == dimension + 1
    for original, read in zip(weights.arrays(), again.arrays(), strict=True):
        np.testing.assert_array_equal(read, original)


def test_the_whole_step_runs_in_one_xnnpack_node(tmp_path):
    _, path = written(tmp_path, 9, "xl")  # xl: six state rows, more than one CONCATENATION takes
    interpreter = interpreter_class()(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    assert ops.count("DELEGATE") == 1


@pytest.mark.parametrize(("dimension", "size", "residual"), CASES)
def test_weights_read_back_exactly(dimension, size, residual):
    weights, data = weights_and_file(dimension, size, residual)
    again = read_weights(data)
    shape = ("dimension", "mixtures", "layers", "units", "residual")
    assert [getattr(again, name) for name in shape] == [getattr(weights, name) for name in shape]
    for original, read in zip(weights.arrays(), again.arrays(), strict=True):
        assert read.dtype == np.float32 and read.flags.c_contiguous and read.flags.writeable
        np.testing.assert_array_equal(read, original)


def test_same_weights_same_bytes():
    weights, data = weights_and_file(9, "s")
    assert write_tflite(weights) == data
    assert write_tflite(random_weights(9, 2, 64, MIXTURES, seed=1, residual=True)) != data


def test_float64_weights_are_written_as_float32():
    weights, data = weights_and_file(4, "xxs")
    assert write_tflite(weights.astype(np.float64)) == data


def test_mismatched_shapes_are_refused():
    weights = random_weights(4, 2, 16, MIXTURES)
    weights.head_bias = weights.head_bias[:-1]
    with pytest.raises(ValueError, match="mixture head"):
        write_tflite(weights)


def other_tflite() -> bytes:
    """A well-formed TFLite FlatBuffer (schema version 3, nothing else) that our writer did not make."""
    builder = flatbuffers.Builder(64)
    builder.StartObject(1)
    builder.PrependUint32Slot(0, 3, 0)
    builder.Finish(builder.EndObject(), file_identifier=b"TFL3")
    return bytes(builder.Output())


def renamed_metadata() -> bytes:
    """One of ours with its marker renamed: the same graph, but nothing says we wrote it."""
    _, data = weights_and_file(4, "xxs")
    return data.replace(METADATA.encode(), b"x" * len(METADATA))


def truncated() -> bytes:
    _, data = weights_and_file(4, "xxs")
    return data[: len(data) // 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no TFL3 FlatBuffer identifier"),
        (b"certainly not a model", "no TFL3 FlatBuffer identifier"),
        (b"\x10\x00\x00\x00TFL3" + b"\xff" * 40, "truncated or corrupt"),
        (other_tflite(), f"no '{METADATA}' metadata"),
        (renamed_metadata(), f"no '{METADATA}' metadata"),
        (truncated(), "truncated or corrupt"),
    ],
    ids=["empty", "text", "garbage", "other-tflite", "no-marker", "truncated"],
)
def test_other_files_are_refused_with_a_reason(data, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        read_weights(data)


@pytest.mark.parametrize("name", ["original-positional-4d", "original-keras-4d", "flex-op"])
def test_original_impsy_exports_are_refused(name):
    data = (FIXTURES / f"{name}.tflite").read_bytes()
    with pytest.raises(ValueError, match="original IMPSY export, or one TensorFlow converted"):
        read_weights(data)


def test_files_from_before_the_graph_scaled_its_input_play_as_they_did(tmp_path):
    """impsy-train files written before the scaling moved into the graph take `x`, the event
    times SCALE, and the runtime still scales it for them; rewritten now, the same weights take
    `event` in data units and predict the same, and one at a time holds the same controls."""
    old = FIXTURES / "impsy-train-scaled-input-4d.tflite"
    weights = read_weights(old.read_bytes())
    new = tmp_path / "now.tflite"
    new.write_bytes(write_tflite(weights))
    before, after = load_model(old, seed=5), load_model(new, seed=5)
    assert (before._input_scale, after._input_scale) == (SCALE, 1.0)
    state, x = np.zeros((weights.layers, 2, weights.units)), np.array([0.05, 0.2, 0.9, 0.4])
    for _ in range(100):
        expected, state = step(weights.astype(np.float64), x * SCALE, state)
        params = before.step(x)
        np.testing.assert_allclose(params, expected, atol=TOLERANCE)
        np.testing.assert_array_equal(after.step(x), params)
        x_before = before.sample(params, 1.0, 0.5, 0.9, True)
        x_after = after.sample(params, 1.0, 0.5, 0.9, True)
        np.testing.assert_allclose(x_after, x_before, atol=1e-6)  # held: float32 of x, or of x * 10
        assert np.count_nonzero(np.abs(x_before[1:] - x[1:]) > 1e-6) <= 1
        x = x_before
