"""Read a .lre blob (or a .lre.zst container) back into the graph IR.

Checks come first, and they are the C runtime's own: `verifier.check_blob` asks lr_init (file
identifier, format version — a newer blob is refused with an upgrade hint —, CRC-32, structure,
shapes, op parameters and indices). A blob the reader accepts is one a board accepts, and vice versa;
only a verified blob is read. Values come back exactly as
stored: fp16 bit patterns decode to the same float32 the C runtime computes; the a/b scales a version-5
int8 blob leaves out come back from its multipliers, bit for bit those the packer had.

Every read is bounded before it allocates, since files are untrusted: `load_bytes` reads at most
`max_bytes` (default 64 MiB, `--max-size`) from the file and from its zstd frame; `parse(weights=False)`
reads the structure only (what report / inspect / export-c need, at no cost per kernel); a full read
refuses a blob whose weight arrays would outgrow 4 x `max_bytes`; metadata is parsed only up to 1 MiB
and a bad one (too deep, a 5,000-digit number) is reported inside the metadata, not raised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linrep_edge.format.bitpack import fp16_values, unpack_indices, unpack_signed
from linrep_edge.errors import LinRepError
from linrep_edge.format.fb.Activation import Activation
from linrep_edge.format.fb.DType import DType
from linrep_edge.format.fb.Model import Model as FbModel
from linrep_edge.format.fb.OpType import OpType
from linrep_edge.format.ir import Codebook, Constant, Graph, IntParams, LinRepWeights, Op, Tensor
from linrep_edge.format.text import shown
from linrep_edge.format.transport import DEFAULT_MAX_BYTES, format_size, is_zstd, unzstd
from linrep_edge.format.verifier import BlobCheck, check_blob

OP_NAMES = {v: k for k, v in vars(OpType).items() if not k.startswith("_")}
ACT_NAMES = {v: k for k, v in vars(Activation).items() if not k.startswith("_")}


@dataclass
class Blob:
    graph: Graph
    format_version: int
    producer: str
    size: int
    check: BlobCheck  # what lr_init computed: the arena it will ask for, the conv path of each op
    weights: bool = True  # False: a structure-only read, weight arrays are zero placeholders


def load_bytes(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Bytes of a .lre file, decompressing a .lre.zst container; LinRepError on I/O problems and on
    anything larger than `max_bytes` (the file or what it inflates to), checked before it is read."""
    p = Path(path)
    where = shown(p)
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise LinRepError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise LinRepError(f"{where}: is a directory, not a .lre file") from None
    except OSError as exc:
        raise LinRepError(f"{where}: cannot read ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise LinRepError(f"{where}: larger than the {format_size(max_bytes)} limit (raise it with --max-size if "
                          "the file is trusted)")
    if is_zstd(data):
        data = unzstd(data, where, max_bytes)
    return data


def parse(blob: bytes, where: str = "blob", weights: bool = True, max_bytes: int = DEFAULT_MAX_BYTES) -> Blob:
    """Verify `blob` with the C runtime, then read it; LinRepError (verifier.InvalidBlob for a blob the
    runtime refuses, with its status name) says what is wrong and where.

    weights=False reads the structure only (what `report` and `inspect` show): every shape, codebook
    and count, but weight arrays (dense constants and LinRep idx / a / b) are read-only zero
    placeholders of their shape that cost no memory, and `Blob.weights` is False. weights=True expands
    them; a blob whose expansion (plus the dense fp32 weights a torch reference rebuilds) would exceed
    4 × `max_bytes` is refused before anything is allocated: a 441-byte .zst can hold a pruned layer
    of 67 million kernels, one bit each, that lr_init checks in place in 98 KB.
    """
    check = check_blob(blob, where)
    if weights:
        need = expanded_bytes(blob)
        if need > 4 * max_bytes:
            raise LinRepError(f"{where}: reading its weights would take about {format_size(need)}, more than 4 x the "
                              f"{format_size(max_bytes)} limit (raise it with --max-size if the file is trusted)")
    return _parse(blob, check, weights)


def kept_kernels(o, n: int) -> int:  # type: ignore[no-untyped-def]
    """How many of the op's `n` kernels its mask keeps (all when it has no mask): a popcount of the
    packed mask bytes, no per-bit array."""
    if not o.KernelMaskLength():
        return n
    raw = o.KernelMaskAsNumpy()[: (n + 7) // 8].copy()
    if n % 8:
        raw[-1] &= (1 << (n % 8)) - 1
    return int(_POPCOUNT[raw].sum(dtype=np.int64))


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def expanded_bytes(blob: bytes) -> int:
    """Bytes the full read (and a dense fp32 torch reference) of a verified blob holds in arrays."""
    m = FbModel.GetRootAs(blob, 0)
    total = 0
    for i in range(m.OpsLength()):
        o = m.Ops(i)
        total += 5 * (o.WeightF32Length() + o.WeightF16Length() + o.WeightI8Length() + o.BiasF32Length()
                      + o.BiasF16Length())
        if o.Type() == OpType.LINREP_CONV2D or (o.Type() == OpType.CONV_TRANSPOSE2D and not o.IndicesIsNone()):
            # the kernel count out.C * in.C / groups: the same for a transposed conv's (Cin, Cout/groups) grid
            t = m.Tensors(o.InputsAsNumpy()[0] if o.InputsLength() else i)
            out = m.Tensors(i + 1)
            kernels = out.C() * (t.C() // max(o.Groups(), 1))
            total += kernels * (41 + 4 * o.KernelH() * o.KernelW())
    return total


def _placeholder(shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    """A read-only array of zeros of `shape` that holds one element (structure-only reads)."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def _parse(blob: bytes, check: BlobCheck, weights: bool = True) -> Blob:
    m = FbModel.GetRootAs(blob, 0)
    version = m.FormatVersion()
    tensors = []
    for i in range(m.TensorsLength()):
        t = m.Tensors(i)
        c, h, w = t.C(), t.H(), t.W()
        tensors.append(Tensor((c,) if h == 0 and w == 0 else (c, h, w)))
    int8 = m.TensorQuantLength() > 0  # format version 4: an int8 model
    for i in range(m.TensorQuantLength() if int8 else 0):
        q = m.TensorQuant(i)
        tensors[i].dtype, tensors[i].scale, tensors[i].zero_point = "int8", float(q.Scale()), int(q.ZeroPoint())
    codebooks = []
    for i in range(m.CodebooksLength()):
        cb = m.Codebooks(i)
        shape = (cb.Size(), cb.KernelH(), cb.KernelW())
        if cb.Dtype() == DType.I8:
            t_q = cb.I8AsNumpy().astype(np.int8).reshape(shape)
            scale = float(np.float32(cb.Scale()))
            codebooks.append(Codebook((t_q.astype(np.float32) * np.float32(scale)).astype(np.float32), "int8",
                                      q=t_q, scale=scale))
            continue
        if cb.Dtype() == DType.F16:
            vals = fp16_values(cb.F16AsNumpy())
        else:
            vals = cb.F32AsNumpy().astype(np.float32)
        codebooks.append(Codebook(vals.reshape(shape), "fp16" if cb.Dtype() == DType.F16 else "fp32"))
    ops = []
    constants: list[Constant] = []
    for i in range(m.OpsLength()):
        o = m.Ops(i)
        op = Op(OP_NAMES[o.Type()], (o.Name() or b"").decode("utf-8", "replace"),
                [int(v) for v in o.InputsAsNumpy()] if o.InputsLength() else [i], i + 1, ACT_NAMES[o.Activation()],
                (o.KernelH(), o.KernelW()), (o.StrideH(), o.StrideW()),
                (o.PadTop(), o.PadLeft(), o.PadBottom(), o.PadRight()), (o.DilationH(), o.DilationW()),
                o.Groups(), 0, bool(o.CountIncludePad()), float(o.Alpha()))
        op.out_channels = tensors[op.output].shape[0] if op.type in ("CONV2D", "LINREP_CONV2D", "LINEAR",
                                                                     "CONV_TRANSPOSE2D") else 0
        op.beta = float(o.Beta()) if op.type in ("CLAMP", "UNARY") else op.beta  # versions 3, 7
        op.mode, op.start = int(o.Mode()), int(o.Start())
        dtype = {DType.F16: "fp16", DType.F32: "fp32", DType.I8: "int8"}.get(o.Dtype(), "fp16")  # no weights: unused
        x_shape = tensors[op.inputs[0]].shape if op.inputs else ()
        if op.type == "CONV2D":
            wshape: tuple[int, ...] = (op.out_channels, x_shape[0] // op.groups, *op.kernel)
        elif op.type == "LINEAR":
            wshape = (op.out_channels, int(np.prod(x_shape)))
        elif op.type == "CONV_TRANSPOSE2D":
            wshape = (x_shape[0], op.out_channels // op.groups, *op.kernel)
        else:
            wshape = (-1,)
        if op.type == "UNARY":  # no weights: an int8 graph's table is its integer arithmetic (below)
            pass
        elif not weights:
            if o.WeightF32Length() + o.WeightF16Length() + o.WeightI8Length():
                n_w = o.WeightF32Length() + o.WeightF16Length() + o.WeightI8Length()
                constants.append(Constant(_placeholder(wshape if -1 not in wshape else (n_w,)), dtype))
                op.weight = len(constants) - 1
        elif dtype == "int8":
            q = o.WeightI8AsNumpy().astype(np.int8).reshape(wshape)
            n_scales = op.out_channels if op.type == "CONV_TRANSPOSE2D" else q.shape[0]
            scale = np.broadcast_to(o.WeightScaleAsNumpy().astype(np.float32), (n_scales,)).copy()
            if op.type == "CONV_TRANSPOSE2D":  # [Cin, Cout/g, kh, kw], one scale per output channel
                cin_g, cout_g = q.shape[0] // op.groups, q.shape[1]
                per = scale.reshape(op.groups, 1, cout_g)[np.arange(q.shape[0]) // cin_g, 0][:, :, None, None]
            else:
                per = scale.reshape((-1,) + (1,) * (q.ndim - 1))
            deq = (q.astype(np.float32) * per).astype(np.float32)
            constants.append(Constant(deq, "int8", q, scale))
            op.weight = len(constants) - 1
        else:
            w = _vector(o, "Weight", dtype)
            if w is not None:
                constants.append(Constant(w.reshape(wshape), dtype))
                op.weight = len(constants) - 1
        if int8:
            op.iparams = _int_params(o)
            if op.type == "UNARY" and o.WeightI8Length():
                op.iparams.table = o.WeightI8AsNumpy().astype(np.int8)
        bias_dtype = "fp32" if dtype == "int8" else dtype
        bias = _vector(o, "Bias", bias_dtype, weights)
        if bias is not None:
            constants.append(Constant(bias, bias_dtype))
            op.bias = len(constants) - 1
        if op.type == "LINREP_CONV2D" or (op.type == "CONV_TRANSPOSE2D" and not (o.IndicesIsNone() and
                                                                              o.KernelMaskIsNone())):
            # the kernel grid: (Cout, Cin/groups) for a conv, (Cin, Cout/groups) for a transposed conv
            grid = ((op.out_channels, x_shape[0] // op.groups) if op.type == "LINREP_CONV2D"
                    else (x_shape[0], op.out_channels // op.groups))
            n = grid[0] * grid[1]
            width = o.IndexBits()
            if not weights:
                zeros = _placeholder(grid)
                op.linrep = LinRepWeights(o.Codebook(), _placeholder(grid, np.int64), zeros, zeros, width, o.AbBits())
                ops.append(op)
                continue
            keep = np.ones(n, bool)
            if o.KernelMaskLength():
                keep = unpack_indices(o.KernelMaskAsNumpy().tobytes(), n, 1).astype(bool)
            kept = int(keep.sum())

            def full(values: np.ndarray, dtype: type) -> np.ndarray:
                """The kernel grid's array: the kept kernels' values in order, zero for pruned ones."""
                out = np.zeros(n, dtype)
                out[keep] = values
                return out.reshape(grid)

            idx = full(unpack_indices(o.IndicesAsNumpy().tobytes(), kept, width), np.int64)
            mask = None if not o.KernelMaskLength() else keep.reshape(grid)
            bits = o.AbBits()
            if bits:
                pairs = unpack_signed(o.AbQAsNumpy().tobytes(), 2 * kept, bits).reshape(kept, 2)
                a_q, b_q = full(pairs[:, 0], np.int64), full(pairs[:, 1], np.int64)
                op.linrep = LinRepWeights(o.Codebook(), idx, a_q.astype(np.float32), b_q.astype(np.float32), width,
                                          bits, mask=mask)
                if o.BExponentLength():
                    op.linrep.b_exponent = o.BExponentAsNumpy().astype(np.int64)
                if o.AScaleLength():
                    op.linrep.set_quantized(a_q, o.AScaleAsNumpy(), b_q, o.BScaleAsNumpy())
                else:  # version 5, an int8 model: the scales are in the multipliers (below, once the graph is whole)
                    op.linrep.a_q, op.linrep.b_q = a_q, b_q
            else:
                ab = fp16_values(o.AbAsNumpy()).reshape(kept, 2)
                op.linrep = LinRepWeights(o.Codebook(), idx, full(ab[:, 0], np.float32), full(ab[:, 1], np.float32),
                                          width, mask=mask)
        ops.append(op)
    meta_raw = m.Metadata()
    metadata = _metadata(meta_raw) if meta_raw else {}
    outputs = [int(v) for v in m.OutputsAsNumpy()] if m.OutputsLength() else []
    g = Graph(tensors, 0, m.Output(), ops, constants, codebooks, metadata, outputs)
    if weights and int8:
        _restore_ab_scales(g)
    return Blob(g, version, (m.Producer() or b"").decode("utf-8", "replace"), len(blob), check, weights)


MAX_METADATA_BYTES = 1 << 20


def _restore_ab_scales(g: Graph) -> None:
    """Integer LinRep layers of a version-5 int8 model store no a/b scales: a and b (the float values the
    integers stand for) are set from the scales the multipliers hold."""
    from linrep_edge.integer.linrep import ab_scales_from_multipliers

    for op in g.ops:
        lr = op.linrep
        if lr is not None and lr.ab_bits and lr.a_scale is None and lr.a_q is not None and lr.b_q is not None:
            s_a, s_b = ab_scales_from_multipliers(g, op)
            lr.set_quantized(lr.a_q, s_a, lr.b_q, s_b)


def _int_params(o) -> IntParams:  # type: ignore[no-untyped-def]
    """The integer arithmetic of one op of an int8 model (format version 4); absent vectors are empty
    (multiplier, shift) or None (bias, qparams)."""
    def ints(field: str) -> np.ndarray | None:
        return getattr(o, f"{field}AsNumpy")().astype(np.int32) if getattr(o, f"{field}Length")() else None

    mult, shift = ints("Multiplier"), ints("Shift")
    return IntParams(mult if mult is not None else np.zeros(0, np.int32),
                     shift if shift is not None else np.zeros(0, np.int32),
                     int(o.ActMin()), int(o.ActMax()), ints("BiasI32"), ints("Qparams"))


def _metadata(raw: bytes) -> dict:
    """The metadata JSON object; strings are informational (the runtime never reads them), so a
    damaged, too deep, too large or otherwise unreadable one is reported inside the metadata rather
    than making the model unreadable. Only the first MAX_METADATA_BYTES are ever parsed."""
    if len(raw) > MAX_METADATA_BYTES:
        return {"unreadable_metadata": f"{len(raw)} bytes, more than the {MAX_METADATA_BYTES} read"}
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, a 5,000-digit int
        return {"unreadable_metadata": f"{type(exc).__name__}: {raw[:80].decode('utf-8', 'replace')}"}
    return meta if isinstance(meta, dict) else {"unreadable_metadata": str(meta)[:80]}


def _vector(o, field: str, dtype: str, weights: bool = True) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    """The op's `field` values (Weight or Bias) as float32, or None when absent (a placeholder of
    their length when weights=False)."""
    if dtype == "fp16":
        n = getattr(o, f"{field}F16Length")()
        return None if not n else fp16_values(getattr(o, f"{field}F16AsNumpy")()) if weights else _placeholder((n,))
    n = getattr(o, f"{field}F32Length")()
    return None if not n else getattr(o, f"{field}F32AsNumpy")().astype(np.float32) if weights else _placeholder((n,))


def read_blob(path: str | Path, weights: bool = True, max_bytes: int = DEFAULT_MAX_BYTES) -> Blob:
    """Load and parse a .lre or .lre.zst file."""
    return parse(load_bytes(path, max_bytes), shown(path), weights, max_bytes)
