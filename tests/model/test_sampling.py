"""Mixture sampling: components follow the weights, temperatures do what they say."""

import numpy as np
import pytest

from impsy.model.sampling import (
    MIN_DT,
    SCALE,
    Sampler,
    choose_component,
    mixture_weights,
    split_params,
)

D, K = 3, 5


def params(mus: np.ndarray, sigmas: np.ndarray, logits: np.ndarray) -> np.ndarray:
    return np.concatenate([mus.ravel(), sigmas.ravel(), logits]).astype(np.float32)


def separated() -> np.ndarray:
    """Five components with well-apart means: component k has controls at 0.1 + 0.2 k."""
    mus = np.array([[1.0, *(np.full(D - 1, 0.1 + 0.2 * k))] for k in range(K)]) * SCALE
    return params(mus, np.full((K, D), 0.1), np.log([0.1, 0.2, 0.3, 0.3, 0.1]))


def component_of(sample: np.ndarray) -> int:
    return round((sample[1] - 0.1) / 0.2)


def test_split_params_layout_is_component_major():
    mus, sigmas, logits = split_params(separated(), D, K)
    assert mus.shape == sigmas.shape == (K, D)
    assert mus[2, 1] == pytest.approx(0.5 * SCALE)
    assert logits.shape == (K,)


def test_component_frequencies_follow_the_weights():
    sampler = Sampler(D, K, seed=1)
    p = separated()
    counts = np.bincount([component_of(sampler.sample(p, 1.0, 0.0)) for _ in range(20000)], minlength=K)
    expected = np.array([0.1, 0.2, 0.3, 0.3, 0.1]) * 20000
    # Pearson chi-square with 4 degrees of freedom: 18.5 is the 0.1% critical value.
    assert np.sum((counts - expected) ** 2 / expected) < 18.5


def test_pitemp_near_zero_picks_the_most_likely_component():
    sampler = Sampler(D, K, seed=2)
    p = separated()
    for pitemp in (0.0, 1e-9):
        assert {component_of(sampler.sample(p, pitemp, 0.0)) for _ in range(200)} == {2}


def test_high_pitemp_flattens_the_weights():
    w = mixture_weights(np.log([0.1, 0.2, 0.3, 0.3, 0.1]), 100.0)
    assert np.allclose(w, 0.2, atol=0.01)
    assert mixture_weights(np.log([0.1, 0.9]), 1.0) == pytest.approx([0.1, 0.9])


def test_choose_component_matches_mixture_weights():
    logits = [0.3, -1.0, 2.0, 0.0, 0.5]
    u = np.linspace(0, 1, 10001, endpoint=False)
    picks = np.bincount([choose_component(logits, 0.7, x) for x in u], minlength=5) / len(u)
    assert picks == pytest.approx(mixture_weights(np.array(logits), 0.7), abs=1e-3)


def test_sigmatemp_zero_returns_the_mean():
    sampler = Sampler(D, K, seed=3)
    out = sampler.sample(separated(), 0.0, 0.0)
    assert out == pytest.approx([1.0, 0.5, 0.5])


def test_sigmatemp_scales_the_spread_by_its_square_root():
    mus = np.full((K, D), 0.5 * SCALE)
    mus[:, 0] = SCALE  # dt of 1 s, far from the MIN_DT floor
    p = params(mus, np.full((K, D), 0.05 * SCALE), np.zeros(K))
    sampler = Sampler(D, K, seed=4)
    spread = {t: np.std([sampler.sample(p, 1.0, t)[1] for _ in range(4000)]) for t in (0.01, 0.04)}
    assert spread[0.01] == pytest.approx(0.05 * 0.1, rel=0.1)
    assert spread[0.04] / spread[0.01] == pytest.approx(2.0, rel=0.1)


def test_samples_are_clipped_to_playable_values():
    mus = np.array([[-5.0, -3.0, 30.0]] * K)  # dt negative, controls out of range
    sampler = Sampler(D, K, seed=5)
    out = sampler.sample(params(mus, np.full((K, D), 1e-3), np.zeros(K)), 1.0, 0.0)
    assert out[0] == MIN_DT
    assert list(out[1:]) == [0.0, 1.0]


def test_long_dt_is_not_clipped_to_one():
    mus = np.array([[25.0, 5.0, 5.0]] * K)
    out = Sampler(D, K, seed=6).sample(params(mus, np.ones((K, D)), np.zeros(K)), 1.0, 0.0)
    assert out[0] == pytest.approx(2.5)
