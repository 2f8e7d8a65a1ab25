"""What the model expects next, for the monitor: summarised at the temperatures in force, sent
by a real `impsy run` at most 30 times a second, and read by the web UI's link."""

import math
import time

import numpy as np
import pytest
from udp_harness import Impsy

from impsy.channels.udp import osc_message
from impsy.interaction.forecast import RATE, summarise
from impsy.model import SCALE, DummyModel
from impsy.web.link import Link

K, D = 5, 4  # mixtures, dimension (3 controls)


def params(logits=(0.0, 0.0, 0.0, 0.0, 0.0)) -> np.ndarray:
    means = np.arange(K * D, dtype=float).reshape(K, D) / (K * D) * SCALE
    means[:, 0] = 0.2 * SCALE  # dt: 0.2 s
    sigmas = np.full((K, D), 0.5 * SCALE)
    return np.concatenate([means.ravel(), sigmas.ravel(), logits]).astype(np.float32)


def parts(summary):
    k, n = int(summary[0]), D - 1
    weights = summary[2 : 2 + k]
    means = np.array(summary[2 + k : 2 + k + k * n]).reshape(k, n)
    spreads = np.array(summary[2 + k + k * n :]).reshape(k, n)
    return summary[1], np.array(weights), means, spreads


def test_the_summary_is_in_data_units_at_the_temperatures_in_force():
    dt, weights, means, spreads = parts(summarise(params(), D, K, pitemp=1.0, sigmatemp=0.04, timescale=2.0))
    assert dt == pytest.approx(0.2 * 2.0)  # the timescale applies to when the next event comes
    assert weights == pytest.approx([0.2] * K)
    assert means[1] == pytest.approx(np.arange(5, 8) / 20)  # component 1, the 3 controls
    assert spreads == pytest.approx(np.full((K, D - 1), 0.5 * math.sqrt(0.04)))


def test_pi_temperature_sharpens_or_flattens_the_weights():
    logits = (2.0, 1.0, 0.0, 0.0, 0.0)
    _, hot, _, _ = parts(summarise(params(logits), D, K, 5.0, 0.01, 1.0))
    _, cold, _, _ = parts(summarise(params(logits), D, K, 0.1, 0.01, 1.0))
    _, frozen, _, _ = parts(summarise(params(logits), D, K, 0.0, 0.01, 1.0))
    assert hot.sum() == pytest.approx(1) and cold.sum() == pytest.approx(1)
    assert hot[0] < 0.35 < 0.99 < cold[0] and list(frozen) == [1, 0, 0, 0, 0]


def test_the_link_keeps_forecasts_and_drops_malformed_ones():
    link = Link(0, 0)
    summary = summarise(DummyModel(D, seed=1).step(np.zeros(D)), D, K, 1.0, 0.01, 1.0)
    link.receive(osc_message("/monitor/forecast", summary))
    link.receive(osc_message("/monitor/forecast", [5.0, 0.1, 0.2]))  # cut short
    _, vectors, _ = link.wait(0, 0)
    assert [v.kind for v in vectors] == ["forecast"]
    assert vectors[0].values == pytest.approx(summary)


def test_impsy_run_sends_forecasts_at_most_30_a_second(tmp_path):
    run = Impsy(tmp_path)  # polyphony: every input is heard and answered
    try:
        started = time.monotonic()
        for i in range(400):  # far more inputs than forecasts, for about a second
            run.send("/interface", *([(i % 10) / 10] * 8))
            time.sleep(0.0025)
        seconds = time.monotonic() - started
        forecasts = 0
        run.monitor.sock.settimeout(1.0)
        while True:
            try:
                forecasts += run.monitor.next("/monitor/forecast", timeout=1.0) is not None
            except AssertionError:
                break
    finally:
        run.stop()
    assert 2 <= forecasts <= RATE * (seconds + 1) + 1, (forecasts, seconds)
