"""The numpy network: every gradient against finite differences, and the batch forward pass
against the one-step reference that the .tflite reproduces."""

import numpy as np
import pytest
from impsy_train.network import event_nll, loss_and_gradients, mixture, mixture_nll, run_layers
from impsy_train.optimizer import Adam, cosine_rate
from impsy_train.weights import features, random_weights, step


def perturbed(residual: bool, seed: int = 1, log_dt: bool = False):
    """A small network with every weight and bias away from its starting value, in float64."""
    weights = random_weights(3, 2, 5, 2, seed=seed, residual=residual, log_dt=log_dt).astype(np.float64)
    rng = np.random.default_rng(seed)
    return weights.with_arrays([a + 0.3 * rng.standard_normal(a.shape) for a in weights.arrays()])


NETWORKS = [(False, False), (True, False), (True, True)]  # (residual, log_dt)


def events(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Scaled events: dt from 0 (simultaneous) up, controls anywhere."""
    out = rng.standard_normal(shape)
    out[..., 0] = np.abs(out[..., 0]) * (rng.random(shape[:-1]) > 0.3)
    return out


@pytest.mark.parametrize(("residual", "log_dt"), NETWORKS)
def test_every_gradient_matches_finite_differences(residual, log_dt):
    weights = perturbed(residual, log_dt=log_dt)
    rng = np.random.default_rng(0)
    inputs, targets = events(rng, (6, 4, 3)), rng.standard_normal((6, 4, 3))
    mask = (rng.random((6, 4)) > 0.2).astype(np.float64)  # padding must add nothing
    _, grads = loss_and_gradients(weights, inputs, targets, mask)
    for array, grad in zip(weights.arrays(), grads, strict=True):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + 1e-6
            up, _ = loss_and_gradients(weights, inputs, targets, mask)
            array[index] = old - 1e-6
            down, _ = loss_and_gradients(weights, inputs, targets, mask)
            array[index] = old
            numeric[index] = (up - down) / 2e-6
        assert np.max(np.abs(numeric - grad)) <= 1e-6 * max(1.0, np.max(np.abs(numeric)))


def test_a_masked_event_changes_nothing():
    weights = perturbed(True)
    rng = np.random.default_rng(2)
    inputs, targets = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 3))
    mask = np.ones((5, 2))
    mask[3:, 1] = 0.0
    loss, grads = loss_and_gradients(weights, inputs, targets, mask)
    targets[3:, 1] += 100.0  # what padding holds must not matter
    again, grads_again = loss_and_gradients(weights, inputs, targets, mask)
    assert loss == pytest.approx(again)
    assert all(np.allclose(a, b) for a, b in zip(grads, grads_again, strict=True))


@pytest.mark.parametrize(("residual", "log_dt"), NETWORKS)
def test_the_batch_pass_is_the_one_step_reference_run_in_a_loop(residual, log_dt):
    weights = perturbed(residual, seed=3, log_dt=log_dt)
    rng = np.random.default_rng(4)
    inputs, targets = events(rng, (30, 2, 3)), rng.standard_normal((30, 2, 3))
    nll = event_nll(weights, inputs, targets)
    k, d = weights.mixtures, weights.dimension
    for b in range(2):
        state = np.zeros((2, 2, 5))
        for t in range(30):
            params, state = step(weights, inputs[t, b], state)
            mus, sigmas = params[: k * d].reshape(k, d), params[k * d : 2 * k * d].reshape(k, d)
            log_pi = params[2 * k * d :] - np.logaddexp.reduce(params[2 * k * d :])
            z = (targets[t, b] - mus) / sigmas
            joint = log_pi - 0.5 * (z * z + 2 * np.log(sigmas) + np.log(2 * np.pi)).sum(1)
            assert nll[t, b] == pytest.approx(-np.logaddexp.reduce(joint), rel=1e-9, abs=1e-9)


def test_adam_skips_a_batch_whose_gradient_is_not_finite():
    params = [np.ones(3)]
    adam = Adam(params, learning_rate=0.1, clip_norm=1.0)
    adam.step([np.array([np.nan, 0.0, 0.0])])
    assert np.all(params[0] == 1.0) and adam.steps == 0
    adam.step([np.array([1000.0, 0.0, 0.0])])  # clipped, but Adam's first step is lr in size anyway
    assert params[0][0] == pytest.approx(0.9, abs=1e-6)


def test_the_learning_rate_falls_from_start_to_end():
    assert cosine_rate(1e-3, 1e-5, 0.0) == pytest.approx(1e-3)
    assert cosine_rate(1e-3, 1e-5, 1.0) == pytest.approx(1e-5)
    assert 1e-5 < cosine_rate(1e-3, 1e-5, 0.5) < 1e-3


def test_event_clip_bounds_one_surprising_event():
    weights = perturbed(True)
    rng = np.random.default_rng(5)
    inputs, targets = rng.standard_normal((8, 4, 3)), rng.standard_normal((8, 4, 3))
    targets[3, 2] += 1e4  # one event far from anything the network expects
    _, _, hidden = run_layers(weights, inputs)
    head = mixture(weights, hidden, inputs.reshape(len(hidden), -1))
    flat, weight = targets.reshape(len(hidden), -1), np.full(len(hidden), 1 / len(hidden))
    loss, free = mixture_nll(head, flat, weight)
    clipped_loss, clipped = mixture_nll(head, flat, weight, event_clip=10.0)
    lengths = np.linalg.norm(free, axis=1)
    ordinary = lengths <= 10 * np.median(lengths)
    assert lengths.max() > 1000 * np.median(lengths)  # the outlier dominates without clipping
    assert np.linalg.norm(clipped, axis=1).max() <= 10.0 * np.median(lengths) * (1 + 1e-9)
    assert np.allclose(clipped[ordinary], free[ordinary])
    assert clipped_loss == loss  # the score itself is the true likelihood


def test_log_dt_features_are_the_events_and_the_log_of_their_gap():
    x = np.array([[0.0, 0.5], [0.01, 0.2], [0.2, 0.9], [-3.0, 0.1]])  # scaled: 0, 1 ms, 20 ms, bad
    got = features(x)
    np.testing.assert_array_equal(got[:, :2], x)
    np.testing.assert_allclose(got[:, 2], np.log([0.01, 0.02, 0.21, 0.01]))  # a negative dt as 0
    weights = perturbed(True, seed=5, log_dt=True)
    params, state = step(weights, np.array([-3.0, 0.1, 0.4]), np.zeros((2, 2, 5)))
    assert np.all(np.isfinite(params)) and np.all(np.isfinite(state))
