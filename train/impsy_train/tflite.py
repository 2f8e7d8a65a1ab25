"""Write an MDRNN's one-step graph as a .tflite FlatBuffer, and read its weights back, without TensorFlow.

The file follows TFLite's schema.fbs (identifier TFL3, schema version 3): one subgraph of
built-in ops, one signature `step` mapping event, state -> params, state_out (the runtime's
contract, see impsy.model.litert; the event in data units, scaled inside the graph), and the
weights as float32 constant buffers named after what they are, laid out as FULLY_CONNECTED
wants them ([out, in]):
  lstm_N/kernel [4U, inputs + U]  the Keras kernel and recurrent kernel stacked, transposed
  lstm_N/bias [4U]; head/mus, head/sigmas, head/logits: /kernel [out, U] and /bias [out]
A metadata entry `impsy_mdrnn` marks the files written here, so `read_weights` can tell them
from other .tflite files (original IMPSY exports, TF-converted ones).

Every op is one the XNNPACK delegate takes, so LiteRT runs the whole step as one delegate
node. Each LSTM layer is one FULLY_CONNECTED over concat([input, h]): one op fewer than two
FCs and an ADD, and a little faster (size s: 4.1 against 4.3 µs an invoke).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import flatbuffers
import numpy as np
from flatbuffers import encode, packer
from flatbuffers.number_types import Int32Flags, Uint32Flags
from flatbuffers.table import Table

from impsy.model import SCALE
from impsy_train.weights import LOG_DT_OFFSET, SIGMA_FLOOR, Weights, residual_mask

SIGNATURE = "step"
INPUT, STATE, PARAMS, STATE_OUT = "event", "state", "params", "state_out"  # as impsy.model.litert maps them
FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
METADATA = "impsy_mdrnn"  # JSON: format, dimension, mixtures, layers, units, residual
FORMAT = 1
DESCRIPTION = "IMPSY MDRNN one-step graph, written by impsy-train"
# The oldest runtime that has every op used, as the converter records it (ELU arrived in 1.14).
MIN_RUNTIME = b"1.14.0".ljust(16, b"\0")
# XNNPACK leaves a CONCATENATION of more inputs to the slower built-in kernel (ai-edge-litert 2.3).
MAX_CONCAT = 5

# schema.fbs enums: BuiltinOperator codes, BuiltinOptions union members (0 is NONE), TensorType.
ADD, CONCATENATION, FULLY_CONNECTED, LOGISTIC, MUL, RELU, RESHAPE, TANH, SPLIT, SLICE, LOG, ELU = (
    0, 2, 9, 14, 18, 19, 22, 28, 49, 65, 73, 111,
)  # fmt: skip
OPTIONS = {FULLY_CONNECTED: 8, CONCATENATION: 10, ADD: 11, RESHAPE: 17, MUL: 21, SPLIT: 35, SLICE: 48}
FLOAT32, INT32 = 0, 2

# Field numbers, in schema.fbs order, of the tables written and read here.
MODEL_VERSION, MODEL_OPCODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION, MODEL_BUFFERS = 0, 1, 2, 3, 4
MODEL_METADATA, MODEL_SIGNATURES, MODEL_FIELDS = 6, 7, 8
SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, SUBGRAPH_OPERATORS, SUBGRAPH_NAME = 0, 1, 2, 3, 4
TENSOR_SHAPE, TENSOR_TYPE, TENSOR_BUFFER, TENSOR_NAME = 0, 1, 2, 3
OPERATOR_OPCODE, OPERATOR_INPUTS, OPERATOR_OUTPUTS, OPERATOR_OPTIONS_TYPE, OPERATOR_OPTIONS = 0, 1, 2, 3, 4
OPCODE_DEPRECATED_CODE, OPCODE_CODE = 0, 3
BUFFER_DATA = 0
METADATA_NAME, METADATA_BUFFER = 0, 1  # TensorMap has the same two fields: name, tensor_index
SIGNATURE_INPUTS, SIGNATURE_OUTPUTS, SIGNATURE_KEY, SIGNATURE_SUBGRAPH = 0, 1, 2, 4
# Option fields: ConcatenationOptions.axis, ReshapeOptions.new_shape, SplitOptions.num_splits.
CONCAT_AXIS = RESHAPE_SHAPE = SPLIT_COUNT = 0


@dataclass
class _Operator:
    code: int
    inputs: list[int]
    outputs: list[int]
    options: dict[int, int | list[int]] = field(default_factory=dict)  # field number -> int or int32 vector


@dataclass
class _Graph:
    """Tensors, constant buffers and ops in execution order, before serialisation."""

    # (name, shape, type, buffer index) each
    tensors: list[tuple[str, tuple[int, ...], int, int]] = field(default_factory=list)
    buffers: list[bytes] = field(default_factory=lambda: [b""])  # buffer 0: the schema's empty sentinel
    operators: list[_Operator] = field(default_factory=list)

    def tensor(
        self, name: str, shape: tuple[int, ...], dtype: int = FLOAT32, data: bytes | None = None
    ) -> int:
        buffer = 0
        if data is not None:
            buffer = len(self.buffers)
            self.buffers.append(data)
        self.tensors.append((name, tuple(shape), dtype, buffer))
        return len(self.tensors) - 1

    def constant(self, name: str, array: np.ndarray) -> int:
        dtype, stored = (INT32, "<i4") if array.dtype.kind == "i" else (FLOAT32, "<f4")
        return self.tensor(name, array.shape, dtype, np.ascontiguousarray(array, stored).tobytes())

    def op(
        self,
        code: int,
        inputs: list[int],
        name: str,
        shape: tuple[int, ...],
        options: dict[int, int | list[int]] | None = None,
    ) -> int:
        output = self.tensor(name, shape)
        self.operators.append(_Operator(code, inputs, [output], options or {}))
        return output

    def fully_connected(self, x: int, kernel: np.ndarray, bias: np.ndarray, name: str) -> int:
        """x [1, in] @ kernel [in, out] + bias; the kernel stored as FULLY_CONNECTED wants it: [out, in]."""
        weights = self.constant(f"{name}/kernel", kernel.T)
        bias_tensor = self.constant(f"{name}/bias", bias)
        return self.op(FULLY_CONNECTED, [x, weights, bias_tensor], name, (1, len(bias)))

    def concat(self, inputs: list[int], axis: int, name: str) -> int:
        """Tensors joined along `axis`, by CONCATENATIONs of at most MAX_CONCAT inputs."""
        if len(inputs) > MAX_CONCAT:
            groups = [inputs[i : i + MAX_CONCAT] for i in range(0, len(inputs), MAX_CONCAT)]
            parts = [
                g[0] if len(g) == 1 else self.concat(g, axis, f"{name}/{n}") for n, g in enumerate(groups)
            ]
            return self.concat(parts, axis, name)
        shapes = [self.tensors[t][1] for t in inputs]
        shape = list(shapes[0])
        shape[axis] = sum(s[axis] for s in shapes)
        return self.op(CONCATENATION, inputs, name, tuple(shape), {CONCAT_AXIS: axis})

    def reshape(self, x: int, shape: tuple[int, ...], name: str) -> int:
        target = self.constant(f"{name}/shape", np.array(shape, np.int32))
        return self.op(RESHAPE, [x, target], name, shape, {RESHAPE_SHAPE: list(shape)})

    def slice(self, x: int, begin: tuple[int, ...], size: tuple[int, ...], name: str) -> int:
        begin_tensor = self.constant(f"{name}/begin", np.array(begin, np.int32))
        size_tensor = self.constant(f"{name}/size", np.array(size, np.int32))
        return self.op(SLICE, [x, begin_tensor, size_tensor], name, size)

    def split(self, x: int, parts: int, name: str, shape: tuple[int, ...]) -> list[int]:
        """x split into `parts` equal pieces along its last axis (of two)."""
        axis = self.constant(f"{name}/axis", np.array(1, np.int32))
        outputs = [self.tensor(f"{name}_{i}", shape) for i in range(parts)]
        self.operators.append(_Operator(SPLIT, [axis, x], outputs, {SPLIT_COUNT: parts}))
        return outputs


def _step_graph(weights: Weights) -> tuple[_Graph, dict[str, int], dict[str, int]]:
    """The one-step graph, with its signature's input and output tensors by name."""
    d, k, units, layers = weights.dimension, weights.mixtures, weights.units, weights.layers
    row = (1, units)
    g = _Graph()
    event = g.tensor(INPUT, (1, 1, d))
    state_in = g.tensor(STATE, (1, layers, 2, units))
    # The network learnt events times SCALE; scaling here rather than in the runtime's Python
    # costs nothing measurable inside the delegate and about 0.3 µs a step outside it.
    scale = g.constant("event_scale", np.array(SCALE, np.float32))
    x = h = g.reshape(g.op(MUL, [event, scale], "x", (1, 1, d)), (1, d), "x_flat")
    if weights.log_dt:  # weights.features: log(dt + 1 ms) after the event's values
        dt = g.op(RELU, [g.slice(x, (0, 0), (1, 1), "log_dt/dt")], "log_dt/dt_positive", (1, 1))
        offset = g.constant("log_dt/offset", np.array(LOG_DT_OFFSET, np.float32))
        logged = g.op(LOG, [g.op(ADD, [dt, offset], "log_dt/shifted", (1, 1))], "log_dt/log", (1, 1))
        h = g.concat([x, logged], 1, "log_dt/features")
    rows = g.reshape(state_in, (2 * layers, units), "state_rows")  # h0, c0, h1, c1 ...
    new_rows = []
    for n, (kernel, recurrent, bias) in enumerate(weights.lstm):
        name = f"lstm_{n}"
        h_prev = g.slice(rows, (2 * n, 0), row, f"{name}/h_prev")
        c_prev = g.slice(rows, (2 * n + 1, 0), row, f"{name}/c_prev")
        joined = g.concat([h, h_prev], 1, f"{name}/input_and_h")
        gates = g.fully_connected(joined, np.concatenate([kernel, recurrent]), bias, name)
        i, f, c_new, o = g.split(gates, 4, f"{name}/gates", row)  # Keras' order: i, f, g, o
        i = g.op(LOGISTIC, [i], f"{name}/i", row)
        f = g.op(LOGISTIC, [f], f"{name}/f", row)
        c_new = g.op(TANH, [c_new], f"{name}/g", row)
        o = g.op(LOGISTIC, [o], f"{name}/o", row)
        kept = g.op(MUL, [f, c_prev], f"{name}/kept", row)
        added = g.op(MUL, [i, c_new], f"{name}/added", row)
        c = g.op(ADD, [kept, added], f"{name}/c", row)
        h = g.op(MUL, [o, g.op(TANH, [c], f"{name}/tanh_c", row)], f"{name}/h", row)
        new_rows += [h, c]
    kd = k * d
    kernel, bias = weights.head_kernel, weights.head_bias
    # Three FCs rather than one and three slices: one op fewer.
    mus = g.fully_connected(h, kernel[:, :kd], bias[:kd], "head/mus")
    if weights.residual:  # each component's control means are offsets from the controls that came in
        controls = g.op(MUL, [x, g.constant("head/controls_only", residual_mask(d)[None])], "head/x_controls",
                        (1, d))  # fmt: skip
        mus = g.op(ADD, [mus, g.concat([controls] * k, 1, "head/x_tiled")], "head/mus_residual", (1, kd))
    sigmas = g.fully_connected(h, kernel[:, kd : 2 * kd], bias[kd : 2 * kd], "head/sigmas")
    logits = g.fully_connected(h, kernel[:, 2 * kd :], bias[2 * kd :], "head/logits")
    sigmas = g.op(ELU, [sigmas], "head/sigmas_elu", (1, kd))
    offset = g.constant("head/sigmas_offset", np.array(1.0 + SIGMA_FLOOR, np.float32))
    sigmas = g.op(ADD, [sigmas, offset], "head/sigmas_positive", (1, kd))
    params = g.concat([mus, sigmas, logits], 1, PARAMS)
    stacked = g.concat(new_rows, 0, "state_rows_out")
    state_out = g.reshape(stacked, (1, layers, 2, units), STATE_OUT)
    return g, {INPUT: event, STATE: state_in}, {PARAMS: params, STATE_OUT: state_out}


def _ints(builder: flatbuffers.Builder, values: list[int]) -> int:
    builder.StartVector(4, len(values), 4)
    for value in reversed(values):
        builder.PrependInt32(value)
    return builder.EndVector()


def _offsets(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _table(
    builder: flatbuffers.Builder,
    fields: int,
    offsets: dict[int, int],
    scalars: dict[int, tuple[str, int]] | None = None,
) -> int:
    """A table of `fields` fields: {number: offset} and {number: (type, value)}; zeros are left out
    (every field written here defaults to 0)."""
    builder.StartObject(fields)
    for number, offset in offsets.items():
        builder.PrependUOffsetTRelativeSlot(number, offset, 0)
    for number, (kind, value) in (scalars or {}).items():
        getattr(builder, f"Prepend{kind}Slot")(number, value, 0)
    return builder.EndObject()


def _named(builder: flatbuffers.Builder, pairs: list[tuple[str, int]]) -> int:
    """A vector of (name, index) tables: Metadata and TensorMap alike."""
    tables = [
        _table(builder, 2, {METADATA_NAME: builder.CreateString(name)}, {METADATA_BUFFER: ("Uint32", index)})
        for name, index in pairs
    ]
    return _offsets(builder, tables)


def _serialise(graph: _Graph, inputs: dict[str, int], outputs: dict[str, int], metadata: bytes) -> bytes:
    buffers = [*graph.buffers, metadata, MIN_RUNTIME]
    builder = flatbuffers.Builder(sum(len(data) for data in buffers) + 65536)
    buffer_tables = []
    for data in buffers:
        offsets = {}
        if data:
            builder.Prep(16, len(data))  # the schema's force_align: 16, so weights can be used in place
            offsets[BUFFER_DATA] = builder.CreateByteVector(data)
        buffer_tables.append(_table(builder, 3, offsets))
    metadata_index = len(graph.buffers)
    metadata_tables = _named(
        builder, [(METADATA, metadata_index), ("min_runtime_version", metadata_index + 1)]
    )
    tensor_tables = []
    for name, shape, dtype, buffer in graph.tensors:
        offsets = {TENSOR_SHAPE: _ints(builder, list(shape)), TENSOR_NAME: builder.CreateString(name)}
        tensor_tables.append(
            _table(builder, 4, offsets, {TENSOR_TYPE: ("Int8", dtype), TENSOR_BUFFER: ("Uint32", buffer)})
        )
    codes = sorted({op.code for op in graph.operators})
    operator_tables = []
    for op in graph.operators:
        offsets = {OPERATOR_INPUTS: _ints(builder, op.inputs), OPERATOR_OUTPUTS: _ints(builder, op.outputs)}
        scalars = {OPERATOR_OPCODE: ("Uint32", codes.index(op.code))}
        if op.code in OPTIONS:
            vectors = {n: _ints(builder, v) for n, v in op.options.items() if isinstance(v, list)}
            ints = {n: ("Int32", v) for n, v in op.options.items() if not isinstance(v, list)}
            offsets[OPERATOR_OPTIONS] = _table(builder, max(op.options, default=-1) + 1, vectors, ints)
            scalars[OPERATOR_OPTIONS_TYPE] = ("Uint8", OPTIONS[op.code])
        operator_tables.append(_table(builder, 5, offsets, scalars))
    # No version field: every op is at version 1 (the schema's default), float with no newer options.
    code_tables = []
    for code in codes:
        scalars = {OPCODE_DEPRECATED_CODE: ("Int8", min(code, 127)), OPCODE_CODE: ("Int32", code)}
        code_tables.append(_table(builder, 4, {}, scalars))
    subgraph = _table(
        builder,
        5,
        {
            SUBGRAPH_TENSORS: _offsets(builder, tensor_tables),
            SUBGRAPH_INPUTS: _ints(builder, list(inputs.values())),
            SUBGRAPH_OUTPUTS: _ints(builder, list(outputs.values())),
            SUBGRAPH_OPERATORS: _offsets(builder, operator_tables),
            SUBGRAPH_NAME: builder.CreateString("main"),
        },
    )
    signature = _table(
        builder,
        5,
        {
            SIGNATURE_INPUTS: _named(builder, list(inputs.items())),
            SIGNATURE_OUTPUTS: _named(builder, list(outputs.items())),
            SIGNATURE_KEY: builder.CreateString(SIGNATURE),
        },
        {SIGNATURE_SUBGRAPH: ("Uint32", 0)},
    )
    model = _table(
        builder,
        MODEL_FIELDS,
        {
            MODEL_OPCODES: _offsets(builder, code_tables),
            MODEL_SUBGRAPHS: _offsets(builder, [subgraph]),
            MODEL_DESCRIPTION: builder.CreateString(DESCRIPTION),
            MODEL_BUFFERS: _offsets(builder, buffer_tables),
            MODEL_METADATA: metadata_tables,
            MODEL_SIGNATURES: _offsets(builder, [signature]),
        },
        {MODEL_VERSION: ("Uint32", SCHEMA_VERSION)},
    )
    builder.Finish(model, file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def write_tflite(weights: Weights) -> bytes:
    """The .tflite bytes of one inference step with these weights: same weights, same bytes."""
    weights.check()
    weights = weights.astype(np.float32)
    graph, inputs, outputs = _step_graph(weights)
    info = {
        "format": FORMAT,
        "dimension": weights.dimension,
        "mixtures": weights.mixtures,
        "layers": weights.layers,
        "units": weights.units,
        "residual": weights.residual,
    }
    if weights.log_dt:  # only then: files without it stay byte for byte what they were
        info["log_dt"] = True
    return _serialise(graph, inputs, outputs, json.dumps(info, sort_keys=True).encode())


# Reading: only what read_weights needs, through flatbuffers' Table (offsets relative to a table).


def _field(table: Table, number: int) -> int:
    """The field's offset within the table, 0 when it is absent."""
    return table.Offset(4 + 2 * number)


def _children(table: Table, number: int) -> list[Table]:
    offset = _field(table, number)
    if not offset:
        return []
    start = table.Vector(offset)
    return [Table(table.Bytes, table.Indirect(start + 4 * j)) for j in range(table.VectorLen(offset))]


def _string(table: Table, number: int) -> str:
    offset = _field(table, number)
    return table.String(table.Pos + offset).decode() if offset else ""


def _uint(table: Table, number: int) -> int:
    offset = _field(table, number)
    return table.Get(Uint32Flags, table.Pos + offset) if offset else 0


def _bytes(table: Table, number: int) -> bytes:
    offset = _field(table, number)
    if not offset:
        return b""
    start = table.Vector(offset)
    return bytes(table.Bytes[start : start + table.VectorLen(offset)])


def _int_vector(table: Table, number: int) -> tuple[int, ...]:
    offset = _field(table, number)
    return tuple(int(n) for n in table.GetVectorAsNumpy(Int32Flags, offset)) if offset else ()


class _Model:
    """A parsed .tflite: its metadata and constant tensors by name."""

    def __init__(self, data: bytes) -> None:
        root = Table(data, encode.Get(packer.uoffset, data, 0))
        self.buffers = [_bytes(buffer, BUFFER_DATA) for buffer in _children(root, MODEL_BUFFERS)]
        self.metadata = {
            _string(entry, METADATA_NAME): _uint(entry, METADATA_BUFFER)
            for entry in _children(root, MODEL_METADATA)
        }
        subgraphs = _children(root, MODEL_SUBGRAPHS)
        self.tensors = {
            _string(t, TENSOR_NAME): (_int_vector(t, TENSOR_SHAPE), _uint(t, TENSOR_BUFFER))
            for t in (_children(subgraphs[0], SUBGRAPH_TENSORS) if subgraphs else [])
        }

    def constant(self, name: str) -> np.ndarray:
        """The float32 tensor `name`, as an owned C-contiguous array."""
        if name not in self.tensors:
            raise ValueError(f"no constant tensor '{name}'")
        shape, buffer = self.tensors[name]
        data = self.buffers[buffer] if buffer < len(self.buffers) else b""
        if len(data) != 4 * int(np.prod(shape)):
            raise ValueError(f"tensor '{name}' {list(shape)} has {len(data)} bytes of data")
        return np.frombuffer(data, "<f4").reshape(shape).astype(np.float32)


def read_weights(data: bytes) -> Weights:
    """The Weights inside a .tflite that write_tflite made (so a model can be fine-tuned from it).

    Raises ValueError, saying what is wrong, for anything else: other .tflite files (an
    original IMPSY or TF-converted export has no `impsy_mdrnn` metadata) or not a .tflite at all.
    """
    data = bytes(data)
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise ValueError("not a .tflite file: no TFL3 FlatBuffer identifier")
    try:
        model = _Model(data)
        if METADATA not in model.metadata:
            raise ValueError(
                f"no '{METADATA}' metadata (an original IMPSY export, or one TensorFlow converted?), "
                "so its weights cannot be read back; train a model from the logs instead"
            )
        info = json.loads(model.buffers[model.metadata[METADATA]])
        if info.get("format") != FORMAT:
            raise ValueError(f"'{METADATA}' format {info.get('format')!r}; this reader knows format {FORMAT}")
        d, k, layers, residual = info["dimension"], info["mixtures"], info["layers"], info["residual"]
        log_dt = bool(info.get("log_dt", False))
        lstm, inputs = [], d + log_dt
        for n in range(layers):
            stacked = model.constant(f"lstm_{n}/kernel").T  # [inputs + U, 4U]
            kernel = np.ascontiguousarray(stacked[:inputs])
            recurrent = np.ascontiguousarray(stacked[inputs:])
            lstm.append((kernel, recurrent, model.constant(f"lstm_{n}/bias")))
            inputs = recurrent.shape[0]
        parts = ("head/mus", "head/sigmas", "head/logits")
        head_kernel = np.concatenate([model.constant(f"{p}/kernel") for p in parts]).T.copy()  # C order
        head_bias = np.concatenate([model.constant(f"{p}/bias") for p in parts])
        weights = Weights(lstm, head_kernel, head_bias, d, k, residual, log_dt)
        weights.check()
    except (IndexError, struct.error) as error:
        raise ValueError(f"not a .tflite written by impsy-train: truncated or corrupt ({error})") from error
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"not a .tflite written by impsy-train: {error}") from error
    return weights
