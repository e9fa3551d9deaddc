"""Read a .lre blob (or a .lre.zst container) back into the graph IR.

Checks come first: the FlatBuffers file identifier, the format version (a newer blob is refused with
an upgrade hint), the CRC-32 and the structure (any out-of-range offset becomes a LinRepError, never a
traceback). Values come back exactly as stored: fp16 bit patterns decode to the same float32 the C
runtime computes.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bitpack import fp16_values, packed_size, unpack_indices
from .errors import LinRepError
from .fb.Activation import Activation
from .fb.DType import DType
from .fb.Model import Model as FbModel
from .fb.OpType import OpType
from .ir import Codebook, Constant, Graph, LinRepWeights, Op, Tensor
from .pack import FILE_IDENTIFIER, FORMAT_VERSION, crc_field_offset
from .transport import is_zstd, unzstd

OP_NAMES = {v: k for k, v in vars(OpType).items() if not k.startswith("_")}
ACT_NAMES = {v: k for k, v in vars(Activation).items() if not k.startswith("_")}


@dataclass
class Blob:
    graph: Graph
    format_version: int
    producer: str
    size: int


def load_bytes(path: str | Path) -> bytes:
    """Bytes of a .lre file, decompressing a .lre.zst container; LinRepError on I/O problems."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise LinRepError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise LinRepError(f"{p}: is a directory, not a .lre file") from None
    except OSError as exc:
        raise LinRepError(f"{p}: cannot read ({exc.strerror})") from None
    if is_zstd(data):
        data = unzstd(data, str(p))
    return data


def check_header(blob: bytes, where: str = "blob") -> None:
    if len(blob) < 8:
        raise LinRepError(f"{where}: too short to be a .lre blob ({len(blob)} bytes)")
    if blob[4:8] != FILE_IDENTIFIER:
        raise LinRepError(f"{where}: not a .lre blob (file identifier {blob[4:8]!r}, expected {FILE_IDENTIFIER!r})")


def parse(blob: bytes, where: str = "blob") -> Blob:
    """Parse and check `blob`; LinRepError names what is wrong."""
    check_header(blob, where)
    try:
        return _parse(blob, where)
    except LinRepError:
        raise
    except Exception as exc:  # any structural breakage inside a blob whose CRC matched
        raise LinRepError(f"{where}: corrupt blob ({type(exc).__name__}: {exc})") from None


def _parse(blob: bytes, where: str) -> Blob:
    root = int.from_bytes(blob[:4], "little")
    if root + 4 > len(blob):
        raise LinRepError(f"{where}: truncated or corrupt (root offset {root} beyond {len(blob)} bytes)")
    m = FbModel.GetRootAs(blob, 0)
    version = m.FormatVersion()
    if version > FORMAT_VERSION:
        raise LinRepError(f"{where}: format version {version} is newer than this linrep-edge reads "
                          f"({FORMAT_VERSION}); upgrade linrep-edge")
    if version < 1:
        raise LinRepError(f"{where}: invalid format version {version}")
    off = crc_field_offset(blob)
    if off + 4 > len(blob):
        raise LinRepError(f"{where}: truncated or corrupt (crc field beyond the end)")
    stored = int.from_bytes(blob[off:off + 4], "little")
    actual = zlib.crc32(blob[:off] + b"\0\0\0\0" + blob[off + 4:]) & 0xFFFFFFFF
    if stored != actual:
        raise LinRepError(f"{where}: CRC mismatch (stored {stored:08x}, computed {actual:08x}): "
                          "the file is corrupted or truncated")
    tensors = []
    for i in range(m.TensorsLength()):
        t = m.Tensors(i)
        c, h, w = t.C(), t.H(), t.W()
        tensors.append(Tensor((c,) if h == 0 and w == 0 else (c, h, w)))
    codebooks = []
    for i in range(m.CodebooksLength()):
        cb = m.Codebooks(i)
        shape = (cb.Size(), cb.KernelH(), cb.KernelW())
        if cb.Dtype() == DType.F16:
            vals = fp16_values(cb.F16AsNumpy())
        else:
            vals = cb.F32AsNumpy().astype(np.float32)
        codebooks.append(Codebook(vals.reshape(shape), "fp16" if cb.Dtype() == DType.F16 else "fp32"))
    ops = []
    constants: list[Constant] = []
    for i in range(m.OpsLength()):
        o = m.Ops(i)
        op = Op(OP_NAMES.get(o.Type(), f"UNKNOWN({o.Type()})"), (o.Name() or b"").decode("utf-8", "replace"),
                [int(v) for v in o.InputsAsNumpy()] if o.InputsLength() else [i], i + 1,
                ACT_NAMES.get(o.Activation(), f"UNKNOWN({o.Activation()})"),
                (o.KernelH(), o.KernelW()), (o.StrideH(), o.StrideW()),
                (o.PadTop(), o.PadLeft(), o.PadBottom(), o.PadRight()), (o.DilationH(), o.DilationW()),
                o.Groups(), 0, bool(o.CountIncludePad()), float(o.Alpha()))
        if not 0 <= op.output < len(tensors) or any(not 0 <= t < len(tensors) for t in op.inputs):
            raise LinRepError(f"{where}: op {i} refers to a tensor that does not exist")
        op.out_channels = tensors[op.output].shape[0] if op.type in ("CONV2D", "LINREP_CONV2D", "LINEAR") else 0
        if op.type.startswith("UNKNOWN") or op.activation.startswith("UNKNOWN"):
            raise LinRepError(f"{where}: op {i} has unknown type {o.Type()} or activation {o.Activation()}")
        dtype = "fp16" if o.Dtype() == DType.F16 else "fp32"
        x_shape = tensors[op.inputs[0]].shape if op.inputs else ()
        if op.type == "CONV2D":
            wshape: tuple[int, ...] = (op.out_channels, x_shape[0] // op.groups, *op.kernel)
        elif op.type == "LINEAR":
            wshape = (op.out_channels, int(np.prod(x_shape)))
        else:
            wshape = (-1,)
        w = _vector(o, "Weight", dtype)
        if w is not None:
            constants.append(Constant(w.reshape(wshape), dtype))
            op.weight = len(constants) - 1
        bias = _vector(o, "Bias", dtype)
        if bias is not None:
            constants.append(Constant(bias, dtype))
            op.bias = len(constants) - 1
        if op.type == "LINREP_CONV2D":
            cin = x_shape[0] // op.groups
            n = op.out_channels * cin
            width = o.IndexBits()
            raw = o.IndicesAsNumpy().tobytes() if o.IndicesLength() else b""
            if len(raw) != packed_size(n, width):
                raise LinRepError(f"{where}: op {op.name!r}: {len(raw)} index bytes, expected {packed_size(n, width)}")
            idx = unpack_indices(raw, n, width).reshape(op.out_channels, cin)
            if o.AbLength() != 2 * n or not 0 <= o.Codebook() < len(codebooks):
                raise LinRepError(f"{where}: op {op.name!r}: bad LinRep a/b length or codebook reference")
            ab = fp16_values(o.AbAsNumpy()).reshape(op.out_channels, cin, 2)
            op.linrep = LinRepWeights(o.Codebook(), idx, ab[..., 0].copy(), ab[..., 1].copy(), width)
        ops.append(op)
    meta_raw = m.Metadata()
    metadata = _metadata(meta_raw) if meta_raw else {}
    g = Graph(tensors, 0, m.Output(), ops, constants, codebooks, metadata)
    return Blob(g, version, (m.Producer() or b"").decode("utf-8", "replace"), len(blob))


def _metadata(raw: bytes) -> dict:
    """The metadata JSON object; strings are informational (the runtime never reads them), so a
    damaged one is reported inside the metadata rather than making the model unreadable."""
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"unreadable_metadata": raw[:80].decode("utf-8", "replace")}
    return meta if isinstance(meta, dict) else {"unreadable_metadata": str(meta)[:80]}


def _vector(o, field: str, dtype: str) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    """The op's `field` values (Weight or Bias) as float32, or None when absent."""
    if dtype == "fp16":
        n = getattr(o, f"{field}F16Length")()
        return fp16_values(getattr(o, f"{field}F16AsNumpy")()) if n else None
    n = getattr(o, f"{field}F32Length")()
    return getattr(o, f"{field}F32AsNumpy")().astype(np.float32) if n else None


def read_blob(path: str | Path) -> Blob:
    """Load and parse a .lre or .lre.zst file."""
    return parse(load_bytes(path), str(path))
