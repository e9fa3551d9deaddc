"""Serialise a graph IR into a .lre blob (FlatBuffers, schema in linrep_edge/format/schema/lre.fbs).

Storage rounding happens here, once: a and b become fp16 bit patterns (or are stored as the integers
and scales the graph already holds), codebooks and other constants fp16 or fp32 as chosen (int8
constants carry their integers and scales). A blob says the oldest format version that holds it, so
older runtimes read whatever they can: 3 when it uses an op or field of version 3 (TANH ... CONV_TRANSPOSE2D,
SOFTMAX over channels, ADD broadcast over channels, several outputs), else 2 when it uses integer a/b,
int8 weights or pruned kernels, else 1; version-1 and -2 blobs are byte for byte what earlier writers
wrote. An int8 graph (`Graph.is_int8`, docs/INTEGER.md) is version 4: every tensor's scale and zero point
(`Model.tensor_quant`), every op's integers (`IntParams`: bias_i32, multiplier, shift, act_min, act_max,
qparams), int8 codebooks (`i8`, `scale`) and LinRep `b_exponent`; its float `op.bias` constants are not
stored (the bias is `iparams.bias`). Version 5 = version 4 without the fp32 `a_scale`, `b_scale` of integer
LinRep layers (8 bytes per row): the runtime never reads them, and the reader recovers them exactly from the
multipliers (`integer.linrep.ab_scales_from_multipliers`); an int8 graph with integer LinRep a/b is version 5.
Version 6 adds CHANNEL_SHUFFLE and PAD's reflect / replicate borders (`Op.mode` 1 / 2; fp32 or int8 graphs;
blobs without them say the version they said before); version 7 adds UNARY (an int8 graph's as its 256-byte table
in `weight_i8`) and SUB; version 8 PIXEL_SHUFFLE, the shrinks, nearest to any size and the MUL by a gate per
pixel; version 9 an int8 graph's TFLite MEAN to an output other than 1×1 (over the channels) and UNARY's scale. Output is deterministic: the same graph gives the same
bytes (no timestamps, fixed build order, metadata JSON with sorted keys). The CRC-32 of the whole blob,
computed with the crc32 field's own 4 bytes as zero, is patched into that field last.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import flatbuffers
import numpy as np

from linrep_edge import __version__
from linrep_edge.format.bitpack import check_fp16_range, fp16_bits, index_bits as default_index_bits, pack_indices, pack_signed
from linrep_edge.errors import LinRepError
from linrep_edge.format.fb import Codebook as FbCodebook
from linrep_edge.format.fb import Model as FbModel
from linrep_edge.format.fb import Op as FbOp
from linrep_edge.format.fb.Activation import Activation
from linrep_edge.format.fb.DType import DType
from linrep_edge.format.fb.OpType import OpType
from linrep_edge.format.fb.Shape import CreateShape
from linrep_edge.format.fb.TensorQuant import CreateTensorQuant
from linrep_edge.format.fb.Unary import Unary
from linrep_edge.format.ir import Graph, IntParams, operand_form

FORMAT_VERSION = 9  # the newest version written (and read)
V3_OPS = frozenset(("TANH", "HARDSIGMOID", "SILU", "CLAMP", "MUL", "RESIZE", "PAD", "SLICE", "TRANSPOSE_HWC", "AFFINE",
                    "CONV_TRANSPOSE2D"))
V6_OPS = frozenset(("CHANNEL_SHUFFLE",))
V7_OPS = frozenset(("UNARY", "SUB"))
V8_OPS = frozenset(("PIXEL_SHUFFLE",))
V8_UNARY = Unary.HARDSHRINK  # the Unary values of format version 8 (Hardshrink, Softshrink)
FILE_IDENTIFIER = b"LRE1"
PRODUCER = f"linrep-edge {__version__}"


def _vec(b: flatbuffers.Builder, arr: np.ndarray) -> int:
    return b.CreateNumpyVector(np.ascontiguousarray(arr).reshape(-1))


def _table_vec(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _dtype(name: str) -> int:
    if name not in ("fp32", "fp16", "int8"):
        raise LinRepError(f"unknown storage dtype {name!r}; choose fp32, fp16 or int8")
    return {"fp16": DType.F16, "fp32": DType.F32, "int8": DType.I8}[name]


def _shape_of(g: Graph, tensor: int) -> tuple[int, ...] | None:
    return g.tensors[tensor].shape if 0 <= tensor < len(g.tensors) else None


def _writes_outputs(g: Graph) -> bool:
    """Whether Model.outputs is stored: several outputs (or, for hostile test blobs, a different one)."""
    return bool(g.outputs) and list(g.outputs) != [g.output]


def _uses_v3(g: Graph) -> bool:
    if _writes_outputs(g):
        return True
    for op in g.ops:
        if op.type in V3_OPS:
            return True
        shapes = [_shape_of(g, t) for t in op.inputs]
        if op.type == "SOFTMAX" and shapes and shapes[0] is not None and len(shapes[0]) == 3:
            return True  # over the channels of each pixel
        if op.type == "ADD" and len(shapes) == 2 and shapes[0] != shapes[1]:
            return True  # second input broadcast over channels
    return False


def _uses_v8(g: Graph) -> bool:
    """PIXEL_SHUFFLE, Hardshrink / Softshrink, nearest resizing to any size (RESIZE mode 3), or a MUL by a gate of
    one value per pixel ([1, H, W] times [C, H, W])."""
    for op in g.ops:
        if op.type in V8_OPS or (op.type == "UNARY" and op.mode >= V8_UNARY) or \
                (op.type == "RESIZE" and op.mode == 3):
            return True
        shapes = [_shape_of(g, t) for t in op.inputs] if op.type == "MUL" else []
        if len(shapes) == 2 and shapes[0] is not None and shapes[1] is not None and \
                operand_form(shapes[0], shapes[1], "MUL") == "pixel":
            return True
    return False


def _uses_v9(g: Graph) -> bool:
    """TFLite's int8 MEAN (ADAPTIVE_AVG_POOL2D with one multiplier) to an output other than 1×1 (over the
    channels), or the UNARY scale (an imported .tflite's requantisation or product by a constant)."""
    return any((op.type == "ADAPTIVE_AVG_POOL2D" and op.iparams is not None and len(op.iparams.multiplier) == 1
                and tuple(op.kernel) != (1, 1)) or (op.type == "UNARY" and op.mode >= Unary.SCALE) for op in g.ops)


def format_version_needed(g: Graph) -> int:
    """The oldest version that holds `g`: 9 with TFLite's MEAN over the channels; 8 with PIXEL_SHUFFLE or a MUL by a
    gate per pixel; 7 with a version-7 op
    (UNARY, SUB); 6 with a version-6 op (CHANNEL_SHUFFLE) or a PAD of another border than a constant; 5 for an int8
    graph with integer LinRep a/b (their scales are not stored), 4 for other int8 graphs; 3 with a version-3 op, field
    or several outputs; 2 with integer a/b, int8 weights or pruned kernels; else 1."""
    if _uses_v9(g):
        return 9
    if _uses_v8(g):
        return 8
    if any(op.type in V7_OPS for op in g.ops):
        return 7
    if any(op.type in V6_OPS or (op.type == "PAD" and op.mode) for op in g.ops):
        return 6
    if g.is_int8:
        return 5 if any(op.linrep is not None and op.linrep.ab_bits for op in g.ops) else 4
    if _uses_v3(g):
        return 3
    v2 = any((op.linrep is not None and (op.linrep.ab_bits or op.linrep.mask is not None)) or
             (op.weight >= 0 and g.constants[op.weight].dtype == "int8") for op in g.ops)
    return 2 if v2 else 1


def _values(b: flatbuffers.Builder, values: np.ndarray, dtype: str, what: str = "tensor") -> tuple[int, int]:
    """(f32 vector, f16 vector) offsets, one of them 0."""
    if dtype == "fp16":
        check_fp16_range(values, what)
        return 0, _vec(b, fp16_bits(values))
    return _vec(b, np.asarray(values, dtype="<f4")), 0


def crc_field_offset(blob: bytes) -> int:
    """Absolute byte offset of Model.crc32 (raises if the field is absent)."""
    model = FbModel.Model.GetRootAs(blob, 0)
    o = model._tab.Offset(4)
    if o == 0:
        raise LinRepError("blob has no crc32 field")
    return model._tab.Pos + o


def blob_crc(blob: bytes | bytearray) -> int:
    off = crc_field_offset(bytes(blob))
    return zlib.crc32(bytes(blob[:off]) + b"\0\0\0\0" + bytes(blob[off + 4:])) & 0xFFFFFFFF


def _shape_struct(shape: tuple[int, ...], where: str, strict: bool = True) -> tuple[int, int, int]:
    if len(shape) == 1:
        shape = (shape[0], 0, 0)
    if len(shape) != 3:
        raise LinRepError(f"{where}: activation tensors must be [C, H, W] or [F], got shape {list(shape)}")
    if not (-2**31 <= shape[0] < 2**31 and 0 <= shape[1] < 2**16 and 0 <= shape[2] < 2**16) or \
            (strict and min(shape) < 0):
        raise LinRepError(f"{where}: shape {list(shape)} does not fit the format (H and W below 65536)")
    return shape[0], shape[1], shape[2]


def pack_graph(g: Graph, metadata: dict[str, Any] | None = None, strict: bool = True) -> bytes:
    """The .lre bytes for graph `g`.

    strict=False skips the writer's own checks (tensor numbering) so that tests can build hostile
    blobs the C verifier must refuse; values that the format cannot hold still raise.
    """
    b = flatbuffers.Builder(1 << 16)
    codebooks = []
    for cb in g.codebooks:
        i8 = 0
        if cb.dtype == "int8":
            if cb.q is None or not cb.scale > 0:
                raise LinRepError("int8 codebook without its integers and scale")
            f32 = f16 = 0
            i8 = _vec(b, np.asarray(cb.q).astype(np.int8))
        else:
            f32, f16 = _values(b, cb.templates, cb.dtype)
        FbCodebook.Start(b)
        FbCodebook.AddKernelH(b, int(cb.templates.shape[1]))
        FbCodebook.AddKernelW(b, int(cb.templates.shape[2]))
        FbCodebook.AddSize(b, cb.size)
        FbCodebook.AddDtype(b, _dtype(cb.dtype))
        if f32:
            FbCodebook.AddF32(b, f32)
        if f16:
            FbCodebook.AddF16(b, f16)
        if i8:
            FbCodebook.AddI8(b, i8)
            FbCodebook.AddScale(b, float(np.float32(cb.scale)))
        codebooks.append(FbCodebook.End(b))
    if strict and (g.input != 0 or any(op.output != i + 1 for i, op in enumerate(g.ops))):
        raise LinRepError("graph tensors must be numbered input 0, op i -> tensor i + 1 (run fuse.compact)")
    if strict and g.outputs and g.outputs[0] != g.output:
        raise LinRepError(f"graph output {g.output} must be the first of its outputs {list(g.outputs)}")
    ops = []
    int8 = g.is_int8
    version = format_version_needed(g)
    ab_scales = not int8 or version < 5  # version 5: an int8 graph's s_a, s_b live in its multipliers
    for i, op in enumerate(g.ops):
        iv = _int_vectors(b, op, int8, strict)
        name = b.CreateString(op.name) if op.weight >= 0 or op.linrep is not None else 0
        inputs = 0 if op.inputs == [i] else _vec(b, np.asarray(op.inputs, dtype="<i4"))
        dtype = "fp16"  # the schema default: ops without tensors store no dtype byte
        w32 = w16 = b32 = b16 = w8 = ws = 0
        if op.type == "UNARY" and op.iparams is not None and op.iparams.table is not None:  # an int8 graph's table
            w8 = _vec(b, _ints(op.iparams.table, -128, 127, f"op {op.name or 'UNARY'!r} table").astype(np.int8))
        if op.weight >= 0:
            c = g.constants[op.weight]
            dtype = c.dtype
            if dtype == "int8":
                if c.q is None or c.scale is None:
                    raise LinRepError(f"op {op.name!r}: int8 weight without its integers and scales")
                w8 = _vec(b, c.q.astype(np.int8))
                ws = _vec(b, c.scale.astype("<f4"))
            else:
                w32, w16 = _values(b, c.values, dtype, f"op {op.name!r} weight")
        if op.bias >= 0 and not int8:
            bias_dtype = g.constants[op.bias].dtype
            if op.weight >= 0 and bias_dtype != (dtype if dtype != "int8" else "fp32"):
                raise LinRepError(f"op {op.name!r}: weight and bias must share a storage dtype (fp32 bias with "
                                  "int8 weights)")
            dtype = dtype if op.weight >= 0 else bias_dtype
            b32, b16 = _values(b, g.constants[op.bias].values, bias_dtype, f"op {op.name!r} bias")
        idx = ab = abq = a_s = b_s = mask = 0
        if op.linrep is not None:
            lr = op.linrep
            width = lr.index_bits or default_index_bits(g.codebooks[lr.codebook].size)
            keep: Any = slice(None)  # every kernel, or those the mask keeps
            if lr.mask is not None:  # pruned kernels: a mask bit each, no index, no a/b
                keep = lr.mask.reshape(-1).astype(bool)
                mask = b.CreateByteVector(pack_indices(keep.astype(np.int64), 1))
            idx = b.CreateByteVector(pack_indices(lr.idx.reshape(-1)[keep], width))
            if lr.ab_bits:
                if lr.a_q is None or lr.b_q is None or lr.a_scale is None or lr.b_scale is None:
                    raise LinRepError(f"op {op.name!r}: integer a/b without their integers and scales")
                pairs = np.stack([lr.a_q.reshape(-1)[keep], lr.b_q.reshape(-1)[keep]], 1).reshape(-1)
                abq = b.CreateByteVector(pack_signed(pairs, lr.ab_bits))
                if ab_scales:
                    a_s = _vec(b, lr.a_scale.astype("<f4"))
                    b_s = _vec(b, lr.b_scale.astype("<f4"))
            else:
                check_fp16_range(lr.a, f"op {op.name!r} a")
                check_fp16_range(lr.b, f"op {op.name!r} b")
                ab = _vec(b, np.stack([fp16_bits(lr.a).reshape(-1)[keep], fp16_bits(lr.b).reshape(-1)[keep]], 1))
        FbOp.Start(b)
        # 4-byte fields first, then 2-, then 1-byte: the builder packs them without padding
        for add, off in ((FbOp.AddInputs, inputs), (FbOp.AddWeightF32, w32), (FbOp.AddWeightF16, w16),
                         (FbOp.AddBiasF32, b32), (FbOp.AddBiasF16, b16), (FbOp.AddIndices, idx),
                         (FbOp.AddAb, ab), (FbOp.AddName, name), (FbOp.AddAbQ, abq), (FbOp.AddAScale, a_s),
                         (FbOp.AddBScale, b_s), (FbOp.AddWeightI8, w8), (FbOp.AddWeightScale, ws),
                         (FbOp.AddKernelMask, mask), *iv.offsets()):
            if off:
                add(b, off)
        if op.linrep is not None:
            FbOp.AddCodebook(b, op.linrep.codebook)
        FbOp.AddGroups(b, op.groups)
        FbOp.AddAlpha(b, float(op.alpha))
        if op.type in ("CLAMP", "UNARY"):  # version-3 fields, only on the ops that use them
            FbOp.AddBeta(b, float(op.beta))
        if op.type == "SLICE":
            FbOp.AddStart(b, op.start)
        for add, v in ((FbOp.AddKernelH, op.kernel[0]), (FbOp.AddKernelW, op.kernel[1]),
                       (FbOp.AddPadTop, op.pads[0]), (FbOp.AddPadLeft, op.pads[1]), (FbOp.AddPadBottom, op.pads[2]),
                       (FbOp.AddPadRight, op.pads[3]), (FbOp.AddStrideH, op.stride[0]), (FbOp.AddStrideW, op.stride[1]),
                       (FbOp.AddDilationH, op.dilation[0]), (FbOp.AddDilationW, op.dilation[1])):
            if not -32768 <= v <= 32767:
                raise LinRepError(f"op {op.name!r}: kernel/stride/padding/dilation {v} does not fit int16")
            add(b, v)
        FbOp.AddType(b, getattr(OpType, op.type))
        FbOp.AddActivation(b, getattr(Activation, op.activation))
        FbOp.AddDtype(b, _dtype(dtype))
        FbOp.AddCountIncludePad(b, op.count_include_pad)
        if op.type in ("RESIZE", "UNARY", "PIXEL_SHUFFLE") or (op.type == "PAD" and op.mode):  # PAD's borders: v6
            FbOp.AddMode(b, op.mode)
        if op.linrep is not None:
            FbOp.AddIndexBits(b, width)
            if op.linrep.ab_bits:
                FbOp.AddAbBits(b, op.linrep.ab_bits)
        if int8 or op.iparams is not None:
            FbOp.AddActMin(b, iv.act_min)
            FbOp.AddActMax(b, iv.act_max)
        ops.append(FbOp.End(b))
    ops_v = _table_vec(b, ops)
    codebooks_v = _table_vec(b, codebooks)
    FbModel.StartTensorsVector(b, len(g.tensors))
    for i in reversed(range(len(g.tensors))):
        CreateShape(b, *_shape_struct(g.tensors[i].shape, f"tensor {i}", strict))
    tensors_v = b.EndVector()
    producer = b.CreateString(PRODUCER)
    meta = b.CreateString(json.dumps(metadata if metadata is not None else g.metadata, sort_keys=True,
                                     separators=(",", ":")))
    outputs_v = _vec(b, np.asarray(g.outputs, dtype="<i4")) if _writes_outputs(g) else 0
    quant_v = _tensor_quant(b, g) if int8 else 0
    FbModel.Start(b)
    FbModel.AddCrc32(b, 0xFFFFFFFF)  # placeholder, patched below
    FbModel.AddFormatVersion(b, version)
    FbModel.AddProducer(b, producer)
    FbModel.AddTensors(b, tensors_v)
    FbModel.AddOutput(b, g.output)
    FbModel.AddOps(b, ops_v)
    FbModel.AddCodebooks(b, codebooks_v)
    FbModel.AddMetadata(b, meta)
    if outputs_v:
        FbModel.AddOutputs(b, outputs_v)
    if quant_v:
        FbModel.AddTensorQuant(b, quant_v)
    b.Finish(FbModel.End(b), file_identifier=FILE_IDENTIFIER)
    blob = bytearray(b.Output())
    off = crc_field_offset(bytes(blob))
    blob[off:off + 4] = blob_crc(blob).to_bytes(4, "little")
    return bytes(blob)


class _IntVectors:
    """The format-version-4 vectors of one op of an int8 graph (offsets, 0 when absent) and its clamp."""

    def __init__(self) -> None:
        self.bias = self.multiplier = self.shift = self.b_exponent = self.qparams = 0
        self.act_min, self.act_max = -128, 127

    def offsets(self) -> list[tuple[Any, int]]:
        return [(FbOp.AddBiasI32, self.bias), (FbOp.AddMultiplier, self.multiplier), (FbOp.AddQparams, self.qparams),
                (FbOp.AddShift, self.shift), (FbOp.AddBExponent, self.b_exponent)]


def _ints(values: np.ndarray, lo: int, hi: int, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size and (v.min() < lo or v.max() > hi):
        raise LinRepError(f"{what}: values outside [{lo}, {hi}]")
    return v


def _int_vectors(b: flatbuffers.Builder, op: Any, int8: bool, strict: bool = True) -> _IntVectors:
    """Write the op's IntParams (an int8 graph's op without them has none: empty vectors, full clamp). In an
    fp32 graph they are refused (strict=False writes them: hostile test blobs)."""
    iv = _IntVectors()
    if not int8:
        if op.iparams is not None or (op.linrep is not None and op.linrep.b_exponent is not None):
            if strict:
                raise LinRepError(f"op {op.name!r}: integer parameters in a graph whose tensors are not int8")
        if op.iparams is None:
            return iv
    ip: IntParams = op.iparams if op.iparams is not None else IntParams(np.zeros(0, np.int32), np.zeros(0, np.int32))
    where = f"op {op.name or op.type!r}"
    mult = _ints(ip.multiplier, -2**31, 2**31 - 1, f"{where} multiplier")
    shift = _ints(ip.shift, -128, 127, f"{where} shift")
    iv.act_min = int(_ints(np.array([ip.act_min]), -128, 127, f"{where} act_min")[0])
    iv.act_max = int(_ints(np.array([ip.act_max]), -128, 127, f"{where} act_max")[0])
    if mult.size:
        iv.multiplier = _vec(b, mult.astype("<i4"))
    if shift.size:
        iv.shift = _vec(b, shift.astype(np.int8))
    if ip.bias is not None:
        iv.bias = _vec(b, _ints(ip.bias, -2**31, 2**31 - 1, f"{where} bias").astype("<i4"))
    if ip.extra is not None:
        iv.qparams = _vec(b, _ints(ip.extra, -2**31, 2**31 - 1, f"{where} qparams").astype("<i4"))
    if op.linrep is not None and op.linrep.b_exponent is not None:
        iv.b_exponent = _vec(b, _ints(op.linrep.b_exponent, -128, 127, f"{where} b_exponent").astype(np.int8))
    return iv


def _tensor_quant(b: flatbuffers.Builder, g: Graph) -> int:
    """Model.tensor_quant: one (scale, zero point) per tensor; every tensor of an int8 graph is int8."""
    FbModel.StartTensorQuantVector(b, len(g.tensors))
    for i in reversed(range(len(g.tensors))):
        t = g.tensors[i]
        if t.dtype != "int8":
            raise LinRepError(f"tensor {i}: an int8 graph has only int8 tensors (found {t.dtype})")
        CreateTensorQuant(b, float(np.float32(t.scale)), int(t.zero_point))
    return b.EndVector()
