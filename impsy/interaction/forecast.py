"""What the model expects next, in a form the monitor can draw.

After every event the model has heard (the performer's or its own), its mixture parameters
describe the next event. The monitor draws them: each component's mean and spread per control,
weighted by the component's weight, at the temperatures in force, so the band is where IMPSY's
next value will really be drawn from. Sent at most RATE times a second.
"""

from __future__ import annotations

import math

import numpy as np

from impsy.model.sampling import MIN_DT, MIN_PITEMP, SCALE

RATE = 30.0  # forecasts a second at most: a browser draws at 60 frames, people read far fewer


def summarise(
    params: np.ndarray, dimension: int, mixtures: int, pitemp: float, sigmatemp: float, timescale: float
) -> list[float]:
    """[K, dt, w_1..w_K, means (K rows of n controls), spreads (the same)], in data units.

    dt is when the next event is expected (seconds after this one, timescale applied); the
    weights are the softmax of the logits at pitemp; a spread is the standard deviation that
    sampling at sigmatemp gives (sigma x sqrt(sigmatemp)).
    """
    k, d = mixtures, dimension
    kd = k * d
    means = params[:kd].reshape(k, d).astype(np.float64) / SCALE
    spreads = params[kd : 2 * kd].reshape(k, d).astype(np.float64) * (math.sqrt(sigmatemp) / SCALE)
    logits = params[2 * kd : 2 * kd + k].astype(np.float64)
    if pitemp <= MIN_PITEMP:
        weights = np.zeros(k)
        weights[int(np.argmax(logits))] = 1.0
    else:
        weights = np.exp((logits - logits.max()) / pitemp)
        weights /= weights.sum()
    dt = max(float(weights @ means[:, 0]), MIN_DT) * timescale
    return [float(k), dt, *weights.tolist(), *means[:, 1:].ravel().tolist(), *spreads[:, 1:].ravel().tolist()]
