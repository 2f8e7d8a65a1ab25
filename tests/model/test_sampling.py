"""Mixture sampling: components follow the weights, temperatures do what they say."""

import numpy as np
import pytest

from impsy.model.sampling import MIN_DT, SCALE, Sampler, choose_component, timing_pairs

D, K = 3, 5


def params(mus: np.ndarray, sigmas: np.ndarray, logits: np.ndarray) -> np.ndarray:
    return np.concatenate([mus.ravel(), sigmas.ravel(), logits]).astype(np.float32)


def separated() -> np.ndarray:
    """Five components with well-apart means: component k has controls at 0.1 + 0.2 k."""
    mus = np.array([[1.0, *(np.full(D - 1, 0.1 + 0.2 * k))] for k in range(K)]) * SCALE
    return params(mus, np.full((K, D), 0.1), np.log([0.1, 0.2, 0.3, 0.3, 0.1]))


def component_of(sample: np.ndarray) -> int:
    return round((sample[1] - 0.1) / 0.2)


def softmax(logits, pitemp: float) -> np.ndarray:
    """The weights the sampler must follow, computed the plain numpy way."""
    z = np.asarray(logits, dtype=np.float64) / pitemp
    z = np.exp(z - z.max())
    return z / z.sum()


def chi_square(counts: np.ndarray, weights: np.ndarray) -> float:
    expected = weights * counts.sum()
    return float(np.sum((counts - expected) ** 2 / expected))


def test_parameters_are_laid_out_component_major():
    # K*D means, then K*D sigmas, then K logits: each component's D values side by side.
    means = (np.arange(K * D).reshape(K, D) + 1) / (K * D + 1)  # all different, all in (0, 1)
    for k in range(K):
        logits = np.full(K, -50.0)
        logits[k] = 50.0
        out = Sampler(D, K, seed=0).sample(params(means * SCALE, np.ones((K, D)), logits), 1.0, 0.0)
        assert out == pytest.approx(means[k])


def test_component_frequencies_follow_the_weights():
    sampler = Sampler(D, K, seed=1)
    p = separated()
    counts = np.bincount([component_of(sampler.sample(p, 1.0, 0.0)) for _ in range(20000)], minlength=K)
    # Pearson chi-square with 4 degrees of freedom: 18.5 is the 0.1% critical value.
    assert chi_square(counts, np.array([0.1, 0.2, 0.3, 0.3, 0.1])) < 18.5


def test_persistence_keeps_components_in_runs_as_often_as_the_weights_say():
    weights = np.array([0.1, 0.2, 0.3, 0.3, 0.1])
    for persistence in (0.5, 0.9):
        sampler = Sampler(D, K, seed=7)
        draws = [sampler.sample(separated(), 1.0, 0.0, persistence) for _ in range(40000)]
        chosen = np.array([component_of(x) for x in draws])
        # Each event keeps the last component with probability p, else draws afresh (maybe the same one).
        repeats = np.mean(chosen[1:] == chosen[:-1])
        assert repeats == pytest.approx(persistence + (1 - persistence) * np.sum(weights**2), abs=0.01)
        shares = np.bincount(chosen, minlength=K) / len(chosen)
        assert shares == pytest.approx(weights, abs=0.03)  # runs, but each as often as before


def paired(timing_logits: np.ndarray) -> np.ndarray:
    """A forecast as `impsy-train --timings 3` writes it: 3 timings x 2 gestures, component
    j*2 + g taking dt from timing j (1, 10, 100 ms) and the controls from gesture g (0.2 or 0.8)."""
    dts, gestures = np.array([0.001, 0.01, 0.1]), np.array([0.2, 0.8])
    mus = np.array([[dts[j], *np.full(D - 1, gestures[g])] for j in range(3) for g in range(2)]) * SCALE
    sigmas = np.array([[0.01, *np.full(D - 1, 0.05)] for _ in range(3) for _ in range(2)])
    return params(mus, sigmas, timing_logits.ravel())


def test_the_pairing_of_timings_with_gestures_is_read_from_a_forecast():
    assert timing_pairs(paired(np.zeros((3, 2))), D, 6) == 3
    assert timing_pairs(separated(), D, K) == 1
    assert timing_pairs(params(np.ones((6, D)), np.ones((6, D)), np.zeros(6)), D, 6) == 1  # all one value
    untied = paired(np.zeros((3, 2)))
    untied[D + 1] += 1e-4  # component 1's first control differs from component 3's, 5's
    assert timing_pairs(untied, D, 6) == 1


def test_persistence_holds_a_paired_gesture_and_draws_its_timing_afresh():
    # Gesture 0 pairs mostly with 1-ms gaps, gesture 1 with 100-ms ones.
    logits = np.log([[0.7, 0.05], [0.2, 0.15], [0.1, 0.8]])
    sampler = Sampler(D, 6, seed=4)
    draws = np.array([sampler.sample(paired(logits), 1.0, 0.0, 0.99) for _ in range(8000)])
    gesture = (draws[:, 1] > 0.5).astype(int)
    timing = np.round(np.log10(draws[:, 0])).astype(int) + 3  # 1, 10, 100 ms -> 0, 1, 2
    assert np.mean(gesture[1:] == gesture[:-1]) > 0.98  # the gesture is held...
    assert np.mean(timing[1:] == timing[:-1]) < 0.7  # ... the timing is not...
    for g in (0, 1):  # ... but drawn as paired with the gesture (chi-square, 2 dof, 0.1%: 13.8)
        assert chi_square(np.bincount(timing[gesture == g], minlength=3), softmax(logits[:, g], 1.0)) < 13.8


def test_no_persistence_draws_exactly_as_before_and_reset_forgets_the_component():
    plain, explicit, kept = Sampler(D, K, seed=8), Sampler(D, K, seed=8), Sampler(D, K, seed=8)
    for _ in range(500):
        p = separated()
        assert np.array_equal(plain.sample(p, 1.0, 0.5), explicit.sample(p, 1.0, 0.5, 0.0))
    means, sigmas = separated()[: K * D].reshape(K, D), np.full((K, D), 0.1)
    one_hot = params(means, sigmas, np.log([1e-9, 1e-9, 1, 1e-9, 1e-9]))
    assert component_of(kept.sample(one_hot, 1.0, 0.0, 0.999)) == 2
    other = params(means, sigmas, np.log([1, 1e-9, 1e-9, 1e-9, 1e-9]))
    assert component_of(kept.sample(other, 1.0, 0.0, 0.999)) == 2  # kept, however unlikely it is now
    kept.forget()
    assert component_of(kept.sample(other, 1.0, 0.0, 0.999)) == 0  # a new performance draws afresh


def test_pitemp_near_zero_picks_the_most_likely_component():
    sampler = Sampler(D, K, seed=2)
    p = separated()
    for pitemp in (0.0, 1e-9):
        assert {component_of(sampler.sample(p, pitemp, 0.0)) for _ in range(200)} == {2}


def test_high_pitemp_flattens_the_weights():
    sampler = Sampler(D, K, seed=5)
    p = separated()
    counts = np.bincount([component_of(sampler.sample(p, 100.0, 0.0)) for _ in range(20000)], minlength=K)
    assert chi_square(counts, np.full(K, 0.2)) < 18.5  # all five about equally often
    low = np.bincount([component_of(sampler.sample(p, 0.5, 0.0)) for _ in range(20000)], minlength=K)
    assert chi_square(low, softmax(np.log([0.1, 0.2, 0.3, 0.3, 0.1]), 0.5)) < 18.5  # sharper


def test_choose_component_matches_the_softmax():
    logits = [0.3, -1.0, 2.0, 0.0, 0.5]
    u = np.linspace(0, 1, 10001, endpoint=False)
    picks = np.bincount([choose_component(logits, 0.7, x) for x in u], minlength=5) / len(u)
    assert picks == pytest.approx(softmax(logits, 0.7), abs=1e-3)


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


def one_component(sigmas: list[float]) -> np.ndarray:
    """One sure component (the others never drawn): dt 0.1 s, every control at 0.5."""
    means = np.tile([0.1, 0.5, 0.5, 0.5], (K, 1)) * SCALE
    spreads = np.tile(sigmas, (K, 1)) * SCALE
    return params(means, spreads, np.array([50.0, -50.0, -50.0, -50.0, -50.0]))


def test_one_at_a_time_moves_one_control_and_holds_the_others_at_their_means():
    sampler = Sampler(4, K, seed=3)
    p = one_component([0.01, 0.1, 0.1, 1e-4])  # the third control is one the component holds
    moved = []
    for _ in range(3000):
        x = sampler.sample(p, 1.0, 0.5, 0.0, one_at_a_time=True)
        changed = np.flatnonzero(x[1:] != np.float32(0.5 * SCALE) / SCALE)
        assert len(changed) == 1
        moved.append(changed[0])
    counts = np.bincount(moved, minlength=3)
    assert counts[2] == 0  # a spread under a tenth of the widest: held
    assert chi_square(counts[:2], np.array([0.5, 0.5])) < 10.8  # the moving ones alike (0.1%)


def test_one_at_a_time_keeps_each_controls_spread_over_time():
    # Two moving controls, each moved half the time with its spread widened by sqrt(2): over many
    # events each varies as much as drawn all at once (sigma^2 x sigmatemp).
    sampler = Sampler(4, K, seed=4)
    p = one_component([0.01, 0.05, 0.05, 1e-4])
    draws = np.array([sampler.sample(p, 1.0, 0.5, 0.0, one_at_a_time=True) for _ in range(40000)])
    assert np.var(draws[:, 1:3], axis=0) == pytest.approx([0.05**2 * 0.5] * 2, rel=0.05)


def test_one_at_a_time_persistence_keeps_turning_the_same_control():
    sampler = Sampler(4, K, seed=5)
    p = one_component([0.01, 0.1, 0.1, 0.1])
    centre = np.float32(0.5 * SCALE) / SCALE
    moved = [np.flatnonzero(sampler.sample(p, 1.0, 0.5, 0.9, True)[1:] != centre)[0] for _ in range(20000)]
    repeats = np.mean(np.diff(moved) == 0)
    assert repeats == pytest.approx(0.9 + 0.1 / 3, abs=0.01)
    sampler.forget()
    assert sampler._j == -1 and sampler._k == -1


@pytest.mark.parametrize("one_at_a_time", [False, True])
def test_broken_parameters_still_give_a_playable_event(one_at_a_time):
    # A damaged model may put out NaN or infinities: the event stays finite and in range.
    sampler = Sampler(4, K, seed=9)
    for bad in (np.nan, np.inf, -np.inf):
        p = one_component([0.01, 0.1, 0.1, 0.1])
        p[: 4 * K] = bad  # every mean
        p[4 * K + 1] = bad  # a spread
        for persistence in (0.0, 0.95):
            out = sampler.sample(p, 1.0, 0.5, persistence, one_at_a_time)
            assert np.all(np.isfinite(out)) and MIN_DT <= out[0] <= 5.0
            assert np.all((out[1:] >= 0.0) & (out[1:] <= 1.0))


@pytest.mark.parametrize("scale", [1.0, SCALE])  # our files' input tensor; older and original files'
def test_one_at_a_time_holds_the_other_controls_where_the_forecast_heard_them(scale):
    sampler = Sampler(4, K, seed=10)
    heard = np.array([0.2, 0.3, 0.7, 0.9])
    sampler.hear(heard.astype(np.float32) * np.float32(scale), scale)  # as the model sets it
    p = one_component([0.01, 0.1, 0.1, 0.1])  # its means say 0.5 for every control
    for _ in range(200):
        x = sampler.sample(p, 1.0, 0.5, 0.9, True)
        held = [i for i in range(1, 4) if i != sampler._j]
        assert x[held] == pytest.approx(heard[held], abs=1e-7)
