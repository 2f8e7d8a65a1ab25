"""What a training run depends on besides the data (plain values: the CLI reads the defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from impsy.model import MIXTURES
from impsy_train.windows import SEQ_LEN


@dataclass
class TrainSettings:
    """Everything a training run depends on besides the data.

    The defaults are the recipe bench/model_quality.py measured against the original IMPSY's:
    runs of 100 events from random offsets (each event a target about once an epoch), a
    learning rate that falls along a cosine, clipped gradients, and an average of the
    weights, scored each epoch on whole held-out performances.
    """

    size: str = "s"
    mixtures: int = MIXTURES  # Gaussian components; the runtime reads the count from the file
    # With timings J > 0, dt gets J components of its own and the controls `mixtures`; the file
    # holds their J x mixtures pairings, and event_clip is 100 (timing_head.py). 0: every
    # component predicts both.
    timings: int = 0
    residual: bool = True  # means are offsets from the last event (see Weights)
    log_dt: bool = False  # the first layer also reads log(dt + 1 ms) (weights.features)
    epochs: int = 40
    batch_size: int = 16
    early_stopping: bool = False
    patience: int = 10
    seq_len: int = SEQ_LEN
    learning_rate: float = 1e-3
    adam_beta2: float = 0.99  # Adam's second-moment memory: shorter than the usual 0.999, so a
    # gradient that grows as the sigmas shrink does not take outsized steps (4d touch data diverged)
    final_learning_rate: float = 1e-5
    warmup_steps: int = 0  # the learning rate rises from 0 over this many steps (fine-tuning)
    clip_norm: float = 1.0
    event_clip: float = 10.0  # no event's gradient longer than 10x the median's (network.mixture_nll)
    average_decay: float = 0.99  # 0 keeps the last step's weights
    validation_fraction: float = 0.1
    # Spread controls recorded on a grid (7-bit MIDI) over their grid cells each batch (windows.
    # dequantised); None: when the training data are on a grid. Off by default: it cost 14 nats
    # per event of held-out NLL on the 9d folds and gave no livelier solos (README). The report
    # records the choice once resolved.
    dequantise: bool | None = False
    dequantise_width: float = 1.0  # of a grid cell: 1 spreads a value over its whole cell
    # Spread only the first N epochs (0: every epoch). While the control sigmas cannot shrink onto
    # repeated values, the 4d network learns to remember its recent gaps; the epochs after fit
    # the values as recorded and keep that memory (README: "Gaps on a log scale").
    dequantise_epochs: int = 0
    seed: int = 0
