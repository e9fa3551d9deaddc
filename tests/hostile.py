"""Hostile files for the Python-side tests (issue 20), built here from their parts, never downloaded.

Each builder says what the file claims and what it really is. They write FlatBuffers directly where
the writer would need the very arrays the file is meant to avoid (a 8192 x 8192 pruned layer is 8 MB
of mask bits but 67 million kernels): the blobs are valid (lr_init accepts them) unless stated.
"""

from __future__ import annotations

import json
import struct

import flatbuffers
import numpy as np
import zstandard

from linrep_edge.format.fb import Codebook as FbCodebook
from linrep_edge.format.fb import Model as FbModel
from linrep_edge.format.fb import Op as FbOp
from linrep_edge.format.fb.DType import DType
from linrep_edge.format.fb.OpType import OpType
from linrep_edge.format.fb.Shape import CreateShape
from linrep_edge.format.writer import PRODUCER, blob_crc, crc_field_offset


def _finish(b: flatbuffers.Builder, tensors: list[tuple[int, int, int]], ops: list[int], codebooks: list[int],
            output: int, metadata: str = "{}", version: int = 2) -> bytes:
    b.StartVector(4, len(ops), 4)
    for off in reversed(ops):
        b.PrependUOffsetTRelative(off)
    ops_v = b.EndVector()
    b.StartVector(4, len(codebooks), 4)
    for off in reversed(codebooks):
        b.PrependUOffsetTRelative(off)
    cb_v = b.EndVector()
    FbModel.StartTensorsVector(b, len(tensors))
    for c, h, w in reversed(tensors):
        CreateShape(b, c, h, w)
    tensors_v = b.EndVector()
    producer = b.CreateString(PRODUCER)
    meta = b.CreateString(metadata)
    FbModel.Start(b)
    FbModel.AddCrc32(b, 0xFFFFFFFF)
    FbModel.AddFormatVersion(b, version)
    FbModel.AddProducer(b, producer)
    FbModel.AddTensors(b, tensors_v)
    FbModel.AddOutput(b, output)
    FbModel.AddOps(b, ops_v)
    FbModel.AddCodebooks(b, cb_v)
    FbModel.AddMetadata(b, meta)
    b.Finish(FbModel.End(b), file_identifier=b"LRE1")
    blob = bytearray(b.Output())
    off = crc_field_offset(bytes(blob))
    blob[off:off + 4] = blob_crc(blob).to_bytes(4, "little")
    return bytes(blob)


def pruned_linrep(channels: int, name: str = "conv", bias: int | None = None) -> bytes:
    """One LINREP_CONV2D, `channels` x `channels` kernels of 3x3 on a 1x1 map (pad 1), every kernel
    pruned: a mask of channels² zero bits, no indices, no a/b. lr_init checks it in place; its arena
    is two activations of `channels` floats. At 8192 it is 8 MB raw and ~440 bytes as .zst. `bias`: an fp16
    bias vector of that many values (ones), 0 an empty one; None, none."""
    n = channels * channels
    b = flatbuffers.Builder(n // 8 + 4096)
    templates = np.zeros((2, 3, 3), np.float16)
    templates[0, 0, 0], templates[1, 1, 1] = 1, -1
    f16 = b.CreateNumpyVector(templates.view(np.uint16).reshape(-1))
    FbCodebook.Start(b)
    FbCodebook.AddKernelH(b, 3)
    FbCodebook.AddKernelW(b, 3)
    FbCodebook.AddSize(b, 2)
    FbCodebook.AddDtype(b, DType.F16)
    FbCodebook.AddF16(b, f16)
    cb = FbCodebook.End(b)
    mask = b.CreateByteVector(bytes((n + 7) // 8))
    idx = b.CreateByteVector(b"")
    ab = b.CreateNumpyVector(np.zeros(0, np.uint16))
    nm = b.CreateString(name)
    bias_v = None if bias is None else b.CreateNumpyVector(np.ones(bias, np.float16).view(np.uint16))
    FbOp.Start(b)
    if bias_v is not None:
        FbOp.AddBiasF16(b, bias_v)
    FbOp.AddIndices(b, idx)
    FbOp.AddAb(b, ab)
    FbOp.AddName(b, nm)
    FbOp.AddKernelMask(b, mask)
    FbOp.AddCodebook(b, 0)
    FbOp.AddGroups(b, 1)
    for add in (FbOp.AddPadTop, FbOp.AddPadLeft, FbOp.AddPadBottom, FbOp.AddPadRight):
        add(b, 1)
    FbOp.AddKernelH(b, 3)
    FbOp.AddKernelW(b, 3)
    for add in (FbOp.AddStrideH, FbOp.AddStrideW, FbOp.AddDilationH, FbOp.AddDilationW):
        add(b, 1)
    FbOp.AddType(b, OpType.LINREP_CONV2D)
    FbOp.AddDtype(b, DType.F16)
    FbOp.AddIndexBits(b, 1)
    op = FbOp.End(b)
    return _finish(b, [(channels, 1, 1), (channels, 1, 1)], [op], [cb], 1)


def relu_chain(n_ops: int) -> bytes:
    """`n_ops` RELU ops in a chain: n_ops + 1 tensors, past LR_MAX_TENSORS (lr_init: LR_ERR_TOO_MANY)."""
    b = flatbuffers.Builder(64 * n_ops + 1024)
    ops = []
    for _ in range(n_ops):
        FbOp.Start(b)
        FbOp.AddType(b, OpType.RELU)
        ops.append(FbOp.End(b))
    return _finish(b, [(4, 1, 1)] * (n_ops + 1), ops, [], n_ops, version=1)


def with_metadata(blob: bytes, raw: bytes) -> bytes:
    """`blob` (made with metadata {"pad": "xxx..."} of len(raw)) with its metadata bytes replaced by
    `raw` (same length), CRC fixed: hostile metadata that lr_init accepts (it never reads it)."""
    placeholder = json.dumps({"pad": "x" * (len(raw) - 10)}, separators=(",", ":")).encode()
    assert len(placeholder) == len(raw) and blob.count(placeholder) == 1
    out = bytearray(blob.replace(placeholder, raw))
    off = crc_field_offset(bytes(out))
    out[off:off + 4] = blob_crc(out).to_bytes(4, "little")
    return bytes(out)


def zst(data: bytes, content_size: bool = True) -> bytes:
    return zstandard.ZstdCompressor(level=19, write_content_size=content_size).compress(data)


def zero_bomb(gib: int) -> bytes:
    """A zstd frame of `gib` GiB of zeros, its size in the header; ~32 KB per GiB. Streamed out, so
    building it costs 1 MiB of memory."""
    size = gib << 30
    cobj = zstandard.ZstdCompressor(level=1, write_content_size=True).compressobj(size=size)
    chunk = bytes(1 << 20)
    return b"".join(cobj.compress(chunk) for _ in range(size >> 20)) + cobj.flush()


def tiny_claim(tib: int = 1) -> bytes:
    """An 18-byte zstd frame header that claims `tib` TiB of content (and holds none)."""
    # magic, frame header descriptor: FCS field 8 bytes (bits 7-6 = 3), single segment (bit 5)
    return b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", tib << 40) + b"\x01\x00\x00\x00\x00"[:5]


def huge_npy() -> bytes:
    """A .npy whose header claims 2**40 x 784 float32 values and holds none (144 bytes)."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 784), }" % (1 << 40)
    header += " " * (127 - len(header) - 10) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
