"""A `.tflite` file read into plain Python values (the `tflite` package, generated from TFLite's schema).

Only what the importer needs: subgraph 0's tensors (shape, type, quantisation, constant data) and its
operators (type name, inputs, outputs, builtin options) in execution order. Layouts stay TFLite's (NHWC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from linrep_edge.errors import LinRepError

_NUMPY_TYPES = {"FLOAT32": np.float32, "INT32": np.int32, "INT8": np.int8, "UINT8": np.uint8, "INT64": np.int64,
                "INT16": np.int16, "FLOAT16": np.float16}


@dataclass
class TflTensor:
    name: str
    shape: tuple[int, ...]
    type: str  # TensorType name: FLOAT32, INT8, INT32, ...
    scale: np.ndarray  # float32, [] (not quantised), [1] or one per channel
    zero_point: np.ndarray  # int64, same length
    quantized_dimension: int
    data: np.ndarray | None  # the constant's values in `shape`, None for activations


@dataclass
class TflOp:
    index: int
    type: str  # BuiltinOperator name: CONV_2D, DEPTHWISE_CONV_2D, ...
    inputs: list[int]  # tensor indices, -1 = absent optional input
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)  # "type": the BuiltinOptions table's name


@dataclass
class TflModel:
    tensors: list[TflTensor]
    ops: list[TflOp]
    inputs: list[int]
    outputs: list[int]


def _buffer_bytes(buf: bytes, b: Any, tensor: int, path: str) -> bytes | None:
    """A constant's bytes: in the buffer's `data` vector, or (offset > 1, as converters write large models and
    ai-edge-quantizer writes its weights) `size` bytes at `offset` from the file's start, after the flatbuffer;
    None for an activation. An offset or size past the file's end is refused."""
    if b is None:
        return None
    if b.DataLength():
        return b.DataAsNumpy().tobytes()
    offset, size = int(b.Offset()), int(b.Size())
    if offset <= 1 or size == 0:
        return None
    if offset + size > len(buf):
        raise LinRepError(f"{path}: constant tensor {tensor}: its {size} bytes at offset {offset} run past the "
                          f"file's end ({len(buf)} bytes)")
    return buf[offset:offset + size]


def _enum_names(enum: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


# BuiltinOptions union → (options class name, the fields the importer reads)
_OPTION_FIELDS = {
    "Conv2DOptions": ("Padding", "StrideW", "StrideH", "DilationWFactor", "DilationHFactor", "FusedActivationFunction"),
    "DepthwiseConv2DOptions": ("Padding", "StrideW", "StrideH", "DilationWFactor", "DilationHFactor",
                               "DepthMultiplier", "FusedActivationFunction"),
    "Pool2DOptions": ("Padding", "StrideW", "StrideH", "FilterWidth", "FilterHeight", "FusedActivationFunction"),
    "AddOptions": ("FusedActivationFunction",),
    "SubOptions": ("FusedActivationFunction",),
    "FullyConnectedOptions": ("FusedActivationFunction", "WeightsFormat", "KeepNumDims"),
    "SoftmaxOptions": ("Beta",),
    "ConcatenationOptions": ("Axis", "FusedActivationFunction"),
    "ReducerOptions": ("KeepDims",),
    "MulOptions": ("FusedActivationFunction",),
    "ResizeBilinearOptions": ("AlignCorners", "HalfPixelCenters"),
    "ResizeNearestNeighborOptions": ("AlignCorners", "HalfPixelCenters"),
    "TransposeConvOptions": ("Padding", "StrideW", "StrideH", "FusedActivationFunction"),
    "LeakyReluOptions": ("Alpha",),
    "GeluOptions": ("Approximate",),
    "DepthToSpaceOptions": ("BlockSize",),
    "SpaceToDepthOptions": ("BlockSize",),
}


def _options(tfl: Any, op: Any, union_names: dict[int, str]) -> dict[str, Any]:
    name = union_names.get(op.BuiltinOptionsType(), "NONE")
    table = op.BuiltinOptions()
    if name not in _OPTION_FIELDS or table is None:
        return {}
    opt = getattr(tfl, name)()
    opt.Init(table.Bytes, table.Pos)
    return {"type": name, **{f: getattr(opt, f)() for f in _OPTION_FIELDS[name]}}


def _builtin_code(code: Any) -> int:
    """TFLite's GetBuiltinCode: max(builtin_code, deprecated_builtin_code). (The `tflite` package's own
    BuiltinCode() returns the deprecated field whenever builtin_code < 127, which is 0 = ADD in files whose
    writer leaves the deprecated field unset, as TFLite Micro's model_editor does.)"""
    import flatbuffers

    o = code._tab.Offset(10)  # field 3, builtin_code: int32
    builtin = code._tab.Get(flatbuffers.number_types.Int32Flags, o + code._tab.Pos) if o else 0
    return max(int(builtin), int(code.DeprecatedBuiltinCode()))


def read_tflite(source: str | Path | bytes) -> TflModel:
    """Subgraph 0 of a .tflite file (a path, or the file's bytes). LinRepError for an unreadable file."""
    import tflite

    if isinstance(source, bytes):
        buf, path = source, "<.tflite bytes>"
    else:
        path = str(source)
        try:
            buf = Path(source).read_bytes()
        except OSError as exc:
            raise LinRepError(f"cannot read {path}: {exc.strerror}") from None
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise LinRepError(f"{path} is not a .tflite file (no TFL3 identifier)")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        if model.SubgraphsLength() != 1:
            raise LinRepError(f"{path}: {model.SubgraphsLength()} subgraphs (only single-subgraph models are supported)")
        sg = model.Subgraphs(0)
        type_names = _enum_names(tflite.TensorType)
        op_names = _enum_names(tflite.BuiltinOperator)
        union_names = _enum_names(tflite.BuiltinOptions)
        tensors = []
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            ttype = type_names.get(t.Type(), str(t.Type()))
            q = t.Quantization()
            scale = q.ScaleAsNumpy().astype(np.float32) if q is not None and q.ScaleLength() else np.zeros(0, np.float32)
            zp = q.ZeroPointAsNumpy().astype(np.int64) if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
            data = None
            raw = _buffer_bytes(buf, model.Buffers(t.Buffer()), i, path)
            if raw is not None:
                if ttype not in _NUMPY_TYPES:
                    raise LinRepError(f"{path}: constant tensor {i} of type {ttype} is not supported")
                data = np.frombuffer(raw, dtype=np.uint8).view(_NUMPY_TYPES[ttype]).reshape(shape)
            tensors.append(TflTensor((t.Name() or f"tensor {i}".encode()).decode("utf-8", "replace"), shape, ttype, scale, zp,
                                     int(q.QuantizedDimension()) if q is not None else 0, data))
        ops = []
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = _builtin_code(code)
            ops.append(TflOp(i, op_names.get(builtin, f"builtin {builtin}"), [int(v) for v in op.InputsAsNumpy()],
                             [int(v) for v in op.OutputsAsNumpy()], _options(tflite, op, union_names)))
        model_ = TflModel(tensors, ops, [int(v) for v in sg.InputsAsNumpy()], [int(v) for v in sg.OutputsAsNumpy()])
    except LinRepError:
        raise
    except Exception as exc:  # a corrupt flatbuffer raises anything from struct.error to IndexError
        raise LinRepError(f"{path}: corrupt .tflite file ({type(exc).__name__}: {exc})") from None
    _check_indices(model_, path)
    return model_


def _check_indices(m: TflModel, path: str) -> None:
    """Every tensor index in range (-1: an absent optional input), every shape non-negative."""
    n = len(m.tensors)
    for op in m.ops:
        if any(not -1 <= i < n for i in op.inputs) or any(not 0 <= i < n for i in op.outputs):
            raise LinRepError(f"{path}: corrupt .tflite file (op {op.index} {op.type} names a tensor outside 0..{n - 1})")
    if any(not 0 <= i < n for i in (*m.inputs, *m.outputs)) or not m.inputs or not m.outputs:
        raise LinRepError(f"{path}: corrupt .tflite file (model inputs {m.inputs} / outputs {m.outputs})")
    for i, t in enumerate(m.tensors):
        if any(d < 0 for d in t.shape):
            raise LinRepError(f"{path}: corrupt .tflite file (tensor {i} has shape {list(t.shape)})")
