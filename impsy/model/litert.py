"""Run an MDRNN ``.tflite`` file with the LiteRT interpreter, one step at a time."""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from impsy.model.base import ModelError, ModelInfo
from impsy.model.sampling import SCALE, Sampler
from impsy.quiet import native_noise_filtered

log = logging.getLogger(__name__)

# Our exports carry this signature; original IMPSY exports are read by tensor names or position.
SIGNATURE = "step"
# The event goes in as played, in data units, and the graph scales it; `x`, in files written
# before impsy-train scaled inside the graph (and in the original IMPSY's), wants it times SCALE.
EVENT, SCALED_EVENT, STATE, PARAMS, STATE_OUT = "event", "x", "state", "params", "state_out"

_INTERPRETERS = (
    "ai_edge_litert.interpreter",
    "tflite_runtime.interpreter",
    # Last resort for platforms without LiteRT wheels (Windows); the Pi never gets here.
    "tensorflow.lite",
)


def interpreter_class() -> type:
    """The first LiteRT-compatible Interpreter class that can be imported."""
    for name in _INTERPRETERS:
        try:
            return importlib.import_module(name).Interpreter
        except ImportError:
            continue
    raise ModelError(
        "no LiteRT interpreter is installed: run `pip install ai-edge-litert` "
        "(or tflite-runtime on older systems)"
    )


_STATE_NAME = re.compile(r"state_([hc])_(\d+)(?::\d+)?$")
_X_NAME = re.compile(r"(?:^|_)inputs(?::\d+)?$")
_OUTPUT_NAME = re.compile(r"(?:^output_|StatefulPartitionedCall(?:_\d+)?:)(\d+)$")


def _input_rank(name: str) -> int | None:
    """Where an original IMPSY input belongs: x first, then h and c of each layer."""
    if _X_NAME.search(name):
        return 0
    if match := _STATE_NAME.search(name):
        return 1 + 2 * int(match[2]) + (match[1] == "c")
    return None


def _output_rank(name: str) -> int | None:
    match = _OUTPUT_NAME.search(name)
    return int(match[1]) if match else None


def _by_name(tensors: dict[str, int], rank: Callable[[str], int | None]) -> list[int]:
    """Tensor indices sorted by what their names say, or as listed if the names say nothing."""
    ranks = {name: rank(name) for name in tensors}
    if None in ranks.values() or len(set(ranks.values())) != len(ranks):
        return list(tensors.values())
    return [tensors[name] for name in sorted(tensors, key=ranks.__getitem__)]


def _unusable(error: Exception) -> str:
    """Why LiteRT refused a file, said for a musician (its own words are logged at debug level)."""
    if "not a valid Flatbuffer" in str(error):
        what = "not a .tflite model: the file is damaged (cut short?) or is another kind of file"
    else:
        what = (
            "a .tflite file, but IMPSY cannot run it: its layers do not fit together "
            "(damaged, or not an MDRNN)"
        )
    return (
        f"{what}. Use a .tflite model that impsy-train wrote (models/musicMDRNN-dim...tflite), "
        "or train one from your logs with `impsy-train train`"
    )


def _is_flex_error(error: Exception) -> bool:
    text = str(error)
    return "Select TensorFlow op" in text or "Flex" in text


class LiteRTModel:
    """An MDRNN run through the raw set/invoke/get interpreter API with its LSTM state carried."""

    def __init__(self, path: str | Path, seed: int | None = None) -> None:
        path = Path(path)
        try:
            with native_noise_filtered():  # LiteRT announces its XNNPACK delegate on fd 2
                interpreter = interpreter_class()(model_path=str(path), num_threads=1)
                interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as error:
            log.debug("%s: LiteRT said: %s", path, error)
            if _is_flex_error(error):
                raise ModelError(
                    f"{path}: this model needs TensorFlow (Flex/Select-TF) ops, which the lean "
                    "runtime does not include. Re-export it with built-in ops only: "
                    f"`impsy-train export {path.with_suffix('.keras')}` for a model trained by "
                    "impsy-train; a model from the original IMPSY cannot be read by impsy-train, "
                    "so train a new one from the same logs with `impsy-train train`"
                ) from error
            raise ModelError(f"{path}: {_unusable(error)}") from error
        self._interpreter = interpreter
        signatures = interpreter.get_signature_list()
        if SIGNATURE in signatures:
            self._map_by_signature()
            layout = "impsy"
        else:
            self._map_original(path)
            layout = "original"
        self.info = self._read_info(path, layout)
        self.dimension = self.info.dimension
        self._sampler = Sampler(self.dimension, self.info.mixtures, seed)
        self.sample = self._sampler.sample  # the Model interface's sample(), with no call in between
        self._bind_tensors()
        self.reset()

    def _bind_tensors(self) -> None:
        """Numpy views onto the interpreter's own tensors, written and read in place.

        This is the innermost loop of a live performance: no set_tensor/get_tensor copies,
        no allocations. A view stays valid until the tensors are allocated again, which only
        __init__ does. The interpreter's invoke() refuses to run while such views exist (a
        guard against views held across a resize), so the wrapped C++ Invoke is called directly.
        Graph inputs and outputs are never shared with other tensors in the arena, so the
        state input still holds what was copied into it when the next step comes.
        Interpreters without that wrapped Invoke get the plain set/get path.
        """
        interpreter = self._interpreter
        raw = getattr(getattr(interpreter, "_interpreter", None), "Invoke", None)
        self._fast = callable(raw) and callable(getattr(interpreter, "tensor", None))
        if self._fast:
            try:
                self._x = interpreter.tensor(self._x_index)().reshape(-1)
                self._params = interpreter.tensor(self._params_index)().reshape(-1)
                self._states = [
                    (interpreter.tensor(i)(), interpreter.tensor(o)()) for i, o in self._state_pairs
                ]
            except ValueError:  # an output the converter left unallocated until invoke (Keras files)
                self._x = self._params = self._states = None
                self._fast = False
        if self._fast:
            self._invoke = raw
            self._params.flags.writeable = False  # callers read the model's output, never write it
            self.step = self._fast_step()
            self._sampler.hear(self._x, self._input_scale)
        else:
            self._bind_tensors_plain()

    def _bind_tensors_plain(self) -> None:
        """The interpreter's set_tensor/invoke/get_tensor, copying every tensor in and out."""
        self._fast = False
        self.__dict__.pop("step", None)  # the step() method again, not _fast_step's closure
        self._invoke = self._interpreter.invoke
        self._x_shape = tuple(self._input_shape(self._x_index))
        self._x = np.zeros(self.dimension, np.float32)
        self._sampler.hear(self._x, self._input_scale)
        self._states = [(np.zeros(self._input_shape(i), np.float32), o) for i, o in self._state_pairs]
        self._params = None

    def _input_shape(self, index: int) -> list[int]:
        for detail in self._interpreter.get_input_details():
            if detail["index"] == index:
                return [int(n) for n in detail["shape"]]
        raise ModelError(f"tensor {index} is not an input")

    def _map_by_signature(self) -> None:
        runner = self._interpreter.get_signature_runner(SIGNATURE)
        inputs = {k: v["index"] for k, v in runner.get_input_details().items()}
        outputs = {k: v["index"] for k, v in runner.get_output_details().items()}
        # The runner holds buffers that block invoke(); only its name-to-index map is needed.
        del runner
        event = EVENT if EVENT in inputs else SCALED_EVENT
        missing = {event, STATE} - inputs.keys() | {PARAMS, STATE_OUT} - outputs.keys()
        if missing:
            raise ModelError(f"signature '{SIGNATURE}' lacks tensors: {', '.join(sorted(missing))}")
        self._x_index = inputs[event]
        self._input_scale = 1.0 if event == EVENT else SCALE
        self._params_index = outputs[PARAMS]
        self._state_pairs = [(inputs[STATE], outputs[STATE_OUT])]

    def _map_original(self, path: Path) -> None:
        """Original IMPSY layout: x, h0, c0, h1, c1 ... in; params, then the new states, out."""
        inputs, outputs = self._original_order()
        if len(inputs) < 3 or len(inputs) % 2 == 0 or len(outputs) != len(inputs):
            raise ModelError(
                f"{path}: unrecognised tensor layout ({len(inputs)} inputs, {len(outputs)} outputs);"
                " expected an IMPSY MDRNN export"
            )
        self._x_index = inputs[0]
        self._input_scale = SCALE
        self._params_index = outputs[0]
        self._state_pairs = list(zip(inputs[1:], outputs[1:], strict=True))

    def _original_order(self) -> tuple[list[int], list[int]]:
        """Input and output tensor indices in the model's own order.

        The converter may list tensors in any order, so they are sorted by their names
        (`inputs`, `state_h_0`, `state_c_0` ...; outputs `output_0` ...) where every tensor
        has one; a file without such names is taken in the order it lists them.
        """
        interpreter = self._interpreter
        signatures = interpreter.get_signature_list()
        if len(signatures) == 1:  # Keras conversions carry one, `serving_default`
            runner = interpreter.get_signature_runner(next(iter(signatures)))
            inputs = {k: v["index"] for k, v in runner.get_input_details().items()}
            outputs = {k: v["index"] for k, v in runner.get_output_details().items()}
            del runner  # its buffers would block invoke()
        else:
            inputs = {d["name"]: d["index"] for d in interpreter.get_input_details()}
            outputs = {d["name"]: d["index"] for d in interpreter.get_output_details()}
        return _by_name(inputs, _input_rank), _by_name(outputs, _output_rank)

    def _read_info(self, path: Path, layout: str) -> ModelInfo:
        x_shape = self._input_shape(self._x_index)
        dimension = x_shape[-1]
        state_shapes = [self._input_shape(i) for i, _ in self._state_pairs]
        if layout == "impsy":  # one packed state [1, layers, 2, units]
            _, layers, _, units = state_shapes[0]
        else:
            layers, units = len(state_shapes) // 2, state_shapes[0][-1]
        n_params = int(np.prod(self._output_shape(self._params_index)))
        mixtures, remainder = divmod(n_params, 2 * dimension + 1)
        if remainder or mixtures < 1:
            raise ModelError(f"{path}: {n_params} mixture parameters do not fit dimension {dimension}")
        return ModelInfo(
            path=str(path),
            dimension=dimension,
            units=units,
            layers=layers,
            mixtures=mixtures,
            layout=layout,
        )

    def _output_shape(self, index: int) -> list[int]:
        for detail in self._interpreter.get_output_details():
            if detail["index"] == index:
                return [int(n) for n in detail["shape"]]
        raise ModelError(f"tensor {index} is not an output")

    def _fast_step(self) -> Callable[[np.ndarray], np.ndarray]:
        """step() on the views, every name a local: attribute lookups were a third of the
        Python work around a small model's invoke."""
        xin, params, invoke, states = self._x, self._params, self._invoke, self._states
        scale = np.float32(self._input_scale)  # float32 times float32 skips a conversion
        scaled = scale != 1.0

        def step(x: np.ndarray) -> np.ndarray:
            nonlocal xin  # `*=` rebinds the name (to the same array)
            xin[:] = x  # to float32 (then scaled: two quick calls; one with casting= is slower)
            if scaled:
                xin *= scale
            invoke()
            for state_in, state_out in states:
                state_in[...] = state_out  # the state the next step starts from
            return params

        step.__doc__ = LiteRTModel.step.__doc__
        return step

    def step(self, x: np.ndarray) -> np.ndarray:
        """Feed one event [dt, x1..xn] (data units); return the next event's mixture parameters.

        The parameters are a read-only view of the model's output: valid until the next step.
        (Interpreters with the wrapped Invoke replace this with _fast_step's closure.)
        """
        xin = self._x
        xin[:] = x
        if self._input_scale != 1.0:  # our files scale in the graph
            xin *= np.float32(self._input_scale)
        interpreter = self._interpreter
        interpreter.set_tensor(self._x_index, xin.reshape(self._x_shape))
        for index, (state, _) in zip((i for i, _ in self._state_pairs), self._states, strict=True):
            interpreter.set_tensor(index, state)
        self._invoke()
        self._states = [(interpreter.get_tensor(out), out) for _, out in self._state_pairs]
        return interpreter.get_tensor(self._params_index).reshape(-1)

    def reset(self) -> None:
        """Forget the performance so far: zero the LSTM state, and the sampler's last component."""
        for state, _ in self._states:
            state[...] = 0.0
        self._sampler.forget()
