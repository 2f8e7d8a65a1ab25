"""What a training run depends on besides the data (no TensorFlow: the CLI reads the defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from impsy_train.windows import SEQ_LEN, SEQ_STEP


@dataclass
class TrainSettings:
    """Everything a training run depends on besides the data."""

    size: str = "s"
    epochs: int = 100
    batch_size: int = 64
    early_stopping: bool = False
    patience: int = 10
    seq_len: int = SEQ_LEN
    seq_step: int = SEQ_STEP
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    seed: int = 0
