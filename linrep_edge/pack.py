"""Serialise a graph IR into a .lre blob (FlatBuffers, schema in linrep_edge/schema/lre.fbs).

Storage rounding happens here, once: a and b become fp16 bit patterns, codebooks and other constants
fp16 or fp32 as chosen. Output is deterministic: the same graph gives the same bytes (no timestamps,
fixed build order, metadata JSON with sorted keys). The CRC-32 of the whole blob, computed with the
crc32 field's own 4 bytes as zero, is patched into that field last.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import flatbuffers
import numpy as np

from . import __version__
from .bitpack import fp16_bits, pack_indices
from .compress import index_bits as default_index_bits
from .errors import LinRepError
from .fb import Codebook as FbCodebook
from .fb import Constant as FbConstant
from .fb import LinRep as FbLinRep
from .fb import Model as FbModel
from .fb import Op as FbOp
from .fb import Tensor as FbTensor
from .fb.DType import DType
from .fb.OpType import OpType
from .ir import Graph

FORMAT_VERSION = 1
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
    if name not in ("fp32", "fp16"):
        raise LinRepError(f"unknown storage dtype {name!r}; choose fp32 or fp16")
    return DType.F16 if name == "fp16" else DType.F32


def _values(b: flatbuffers.Builder, values: np.ndarray, dtype: str) -> tuple[int, int]:
    """(f32 vector, f16 vector) offsets, one of them 0."""
    if dtype == "fp16":
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


def pack_graph(g: Graph, metadata: dict[str, Any] | None = None) -> bytes:
    """The .lre bytes for graph `g`."""
    b = flatbuffers.Builder(1 << 16)
    tensors = []
    for t in g.tensors:
        shape = _vec(b, np.asarray(t.shape, dtype="<i4"))
        FbTensor.Start(b)
        FbTensor.AddShape(b, shape)
        tensors.append(FbTensor.End(b))
    constants = []
    for c in g.constants:
        shape = _vec(b, np.asarray(c.values.shape, dtype="<i4"))
        f32, f16 = _values(b, c.values, c.dtype)
        FbConstant.Start(b)
        FbConstant.AddDtype(b, _dtype(c.dtype))
        FbConstant.AddShape(b, shape)
        if f32:
            FbConstant.AddF32(b, f32)
        if f16:
            FbConstant.AddF16(b, f16)
        constants.append(FbConstant.End(b))
    codebooks = []
    for cb in g.codebooks:
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
        codebooks.append(FbCodebook.End(b))
    ops = []
    for op in g.ops:
        name = b.CreateString(op.name)
        inputs = _vec(b, np.asarray(op.inputs, dtype="<i4"))
        linrep = 0
        if op.linrep is not None:
            lr = op.linrep
            width = lr.index_bits or default_index_bits(g.codebooks[lr.codebook].size)
            idx = b.CreateByteVector(pack_indices(lr.idx, width))
            a = _vec(b, fp16_bits(lr.a))
            bb = _vec(b, fp16_bits(lr.b))
            FbLinRep.Start(b)
            FbLinRep.AddCodebook(b, lr.codebook)
            FbLinRep.AddIndexBits(b, width)
            FbLinRep.AddIndices(b, idx)
            FbLinRep.AddA(b, a)
            FbLinRep.AddB(b, bb)
            linrep = FbLinRep.End(b)
        FbOp.Start(b)
        FbOp.AddType(b, getattr(OpType, op.type))
        FbOp.AddName(b, name)
        FbOp.AddInputs(b, inputs)
        FbOp.AddOutput(b, op.output)
        FbOp.AddKernelH(b, op.kernel[0])
        FbOp.AddKernelW(b, op.kernel[1])
        FbOp.AddStrideH(b, op.stride[0])
        FbOp.AddStrideW(b, op.stride[1])
        FbOp.AddPadTop(b, op.pads[0])
        FbOp.AddPadLeft(b, op.pads[1])
        FbOp.AddPadBottom(b, op.pads[2])
        FbOp.AddPadRight(b, op.pads[3])
        FbOp.AddDilationH(b, op.dilation[0])
        FbOp.AddDilationW(b, op.dilation[1])
        FbOp.AddGroups(b, op.groups)
        FbOp.AddOutChannels(b, op.out_channels)
        FbOp.AddCountIncludePad(b, op.count_include_pad)
        FbOp.AddAlpha(b, float(op.alpha))
        FbOp.AddWeight(b, op.weight)
        FbOp.AddBias(b, op.bias)
        if linrep:
            FbOp.AddLinrep(b, linrep)
        ops.append(FbOp.End(b))
    tensors_v = _table_vec(b, tensors)
    ops_v = _table_vec(b, ops)
    constants_v = _table_vec(b, constants)
    codebooks_v = _table_vec(b, codebooks)
    producer = b.CreateString(PRODUCER)
    meta = b.CreateString(json.dumps(metadata if metadata is not None else g.metadata, sort_keys=True,
                                     separators=(",", ":")))
    FbModel.Start(b)
    FbModel.AddCrc32(b, 0xFFFFFFFF)  # placeholder, patched below
    FbModel.AddFormatVersion(b, FORMAT_VERSION)
    FbModel.AddProducer(b, producer)
    FbModel.AddTensors(b, tensors_v)
    FbModel.AddInput(b, g.input)
    FbModel.AddOutput(b, g.output)
    FbModel.AddOps(b, ops_v)
    FbModel.AddConstants(b, constants_v)
    FbModel.AddCodebooks(b, codebooks_v)
    FbModel.AddMetadata(b, meta)
    b.Finish(FbModel.End(b), file_identifier=FILE_IDENTIFIER)
    blob = bytearray(b.Output())
    off = crc_field_offset(bytes(blob))
    blob[off:off + 4] = blob_crc(blob).to_bytes(4, "little")
    return bytes(blob)
