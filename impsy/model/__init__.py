"""The MDRNN behind one small interface: load_model(path) -> Model."""

from __future__ import annotations

import logging
from pathlib import Path

from impsy.model.base import (
    MIXTURES,
    SIZES,
    Model,
    ModelError,
    ModelInfo,
    model_filename,
    size_name,
)
from impsy.model.dummy import DummyModel
from impsy.model.sampling import SCALE, Sampler

__all__ = [
    "MIXTURES",
    "SCALE",
    "SIZES",
    "DummyModel",
    "Model",
    "ModelError",
    "ModelInfo",
    "Sampler",
    "load_model",
    "model_filename",
    "resolve_model_file",
    "size_name",
]

log = logging.getLogger(__name__)

# Original IMPSY configs may name Keras files; the lean runtime runs the .tflite beside them.
KERAS_SUFFIXES = (".keras", ".h5")


def resolve_model_file(file: str | Path | None) -> Path | None:
    """The .tflite file to run for a configured model file, or None for the dummy model.

    None only for no file at all (file = "" asks for random gestures); a file that is missing
    or empty is a ModelError: on stage, random noise in place of the model must not pass as it.
    """
    if file is None or str(file).strip() == "":
        log.warning("no model file configured: using a random dummy model")
        return None
    path = Path(file)
    if path.suffix in KERAS_SUFFIXES:
        tflite = path.with_suffix(".tflite")
        if tflite.is_file():
            log.info("%s: running %s, its LiteRT twin", path, tflite.name)
            return resolve_model_file(tflite)
    if not path.is_file():
        raise ModelError(
            f"{path}: no such file (relative paths are looked for from here, then beside the config); "
            'to play random gestures on purpose, write file = "" in [model]'
        )
    if path.suffix in KERAS_SUFFIXES:
        raise ModelError(
            f"{path}: the runtime runs .tflite models, and there is no {path.with_suffix('.tflite').name} "
            f"beside it. Convert it on a laptop with `impsy-train export {path}` if impsy-train made it; "
            "one the original IMPSY trained cannot be converted, so train a new one from the same logs "
            "with `impsy-train train`"
        )
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: the file is empty")
    return path


def load_model(file: str | Path | None, dimension: int | None = None, seed: int | None = None) -> Model:
    """Load a .tflite MDRNN, or a dummy of `dimension` when there is no usable file."""
    from impsy.model.litert import LiteRTModel  # the interpreter is only imported when needed

    path = resolve_model_file(file)
    if path is None:
        if dimension is None:
            raise ModelError("no model file, and no dimension given for the dummy model")
        return DummyModel(dimension, seed)
    return LiteRTModel(path, seed)
