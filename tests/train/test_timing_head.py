"""A head whose timing has its own components: the file is a plain mixture of their pairings."""

import json

import numpy as np
import pytest
from impsy_train import cli
from impsy_train.network import loss_and_gradients
from impsy_train.timing_head import TimingHead, fit_1d
from impsy_train.weights import random_weights

from impsy.model import SCALE, load_model
from impsy.model.sampling import timing_pairs

pytestmark = pytest.mark.train

HEAD = TimingHead(dimension=4, timings=3, gestures=2)


def compact_columns(rng: np.random.Generator, units: int = 6) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((units, HEAD.columns)), rng.standard_normal(HEAD.columns)


def test_each_expanded_component_pairs_a_timing_with_a_gesture():
    rng = np.random.default_rng(0)
    _, bias = compact_columns(rng)
    d, j, k, kp = HEAD.dimension, HEAD.timings, HEAD.gestures, HEAD.mixtures
    _, out = HEAD.expand(np.zeros((1, HEAD.columns)), bias)
    mus, sigma_raw = out[: kp * d].reshape(kp, d), out[kp * d : 2 * kp * d].reshape(kp, d)
    np.testing.assert_array_equal(out[2 * kp * d :], bias[-kp:])  # each pairing's own weight
    controls = 2 * j
    for comp in range(kp):
        t, g = divmod(comp, k)
        assert (mus[comp, 0], sigma_raw[comp, 0]) == (bias[t], bias[j + t])
        means = slice(controls + g * (d - 1), controls + (g + 1) * (d - 1))
        np.testing.assert_array_equal(mus[comp, 1:], bias[means])
        sigmas = slice(controls + (k + g) * (d - 1), controls + (k + g + 1) * (d - 1))
        np.testing.assert_array_equal(sigma_raw[comp, 1:], bias[sigmas])


def test_compact_undoes_expand():
    kernel, bias = compact_columns(np.random.default_rng(1))
    expanded = HEAD.expand(kernel, bias)
    again = HEAD.expand(*HEAD.compact(*expanded))
    for a, b in zip(again, expanded, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_the_tie_is_found_in_a_head_that_has_it_and_only_there():
    plain = random_weights(HEAD.dimension, 1, 6, HEAD.mixtures, seed=4)
    assert TimingHead.found_in(plain) is None
    tied = plain.with_arrays([*plain.arrays()[:-2], *HEAD.expand(*compact_columns(np.random.default_rng(4)))])
    assert TimingHead.found_in(tied) == HEAD


def test_compact_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    weights = random_weights(HEAD.dimension, 1, 6, HEAD.mixtures, seed=2, residual=True).astype(np.float64)
    kernel, bias = compact_columns(rng)
    inputs = rng.uniform(0, 3, (5, 2, HEAD.dimension))
    targets = rng.uniform(0, 3, (5, 2, HEAD.dimension))
    mask = np.ones((5, 2))

    def loss(k: np.ndarray, b: np.ndarray) -> tuple[float, list[np.ndarray]]:
        net = weights.with_arrays([*weights.arrays()[:-2], *HEAD.expand(k, b)])
        return loss_and_gradients(net, inputs, targets, mask)

    _, grads = loss(kernel, bias)
    d_kernel, d_bias = HEAD.gradients(*grads[-2:])
    for array, grad, which in ((kernel, d_kernel, 0), (bias, d_bias, 1)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + 1e-6
            up = loss(kernel, bias)[0]
            array[index] = saved - 1e-6
            down = loss(kernel, bias)[0]
            array[index] = saved
            numeric[index] = (up - down) / 2e-6
        assert np.max(np.abs(numeric - grad)) <= 1e-5 * max(1.0, np.max(np.abs(numeric))), which


def test_the_timing_fit_finds_messages_sent_in_pairs():
    # Touch-screen timing: a fifth of the messages come well under a millisecond after the last.
    rng = np.random.default_rng(3)
    dts = np.concatenate([rng.normal(0.0007, 0.0002, 2000), rng.normal(0.025, 0.01, 8000)]).clip(0) * SCALE
    mus, sigmas, weights = fit_1d(dts, 3)
    pairs = int(np.argmin(mus))
    assert abs(mus[pairs] - 0.007) < 0.002 and sigmas[pairs] < 0.005 and abs(weights[pairs] - 0.2) < 0.03
    assert weights.sum() == pytest.approx(1.0)


def test_training_with_timings_writes_a_plain_mixture_of_the_pairings(make_logs, tmp_path):
    logs = make_logs(dimension=3, performances=3, events=60)
    models = tmp_path / "models"
    argv = ["train", "-D", "3", "-M", "xxs", "--mixtures", "2", "--timings", "3", "--epochs", "2",
            "--seq-len", "10", "--logs", str(logs), "--models", str(models)]  # fmt: skip
    assert cli.main(argv) == 0
    stem = models / "musicMDRNN-dim3-layers2-units16-mixtures6-scale10"
    model = load_model(stem.with_suffix(".tflite"))
    assert model.info.mixtures == 6
    report = json.loads(stem.with_suffix(".report.json").read_text())
    assert report["training"]["settings"]["timings"] == 3
    # The tie survives training: every component's dt comes from one of 3 timings.
    params = model.step(np.array([0.02, 0.5, 0.5]))
    kp, d = 6, 3
    dt_means = params[: kp * d].reshape(kp, d)[:, 0]
    assert len(np.unique(dt_means)) == 3
    np.testing.assert_array_equal(dt_means.reshape(3, 2)[:, 0], dt_means.reshape(3, 2)[:, 1])
    # ... and the runtime's sampler sees the tie in LiteRT's forecast (persistence holds the gesture).
    assert timing_pairs(params, d, kp) == 3


def test_a_negative_count_of_timings_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "-D", "4", "--timings", "-1"])
    assert "--timings: expected a whole number of at least 0, found '-1'" in capsys.readouterr().err
