"""Check a .lre blob rule for rule as the C runtime's lr_init does, and size its arena.

The C verifier (runtime_c/src/lr_verify.c, lr_model.c, lr_plan.c) decides which blobs are valid: the
format is what the runtime can run. This module applies the same rules in the same order to the raw
bytes, so the Python reader and a board agree on every blob, and say why with the same status name
(`LR_ERR_...` of runtime_c/include/linrep.h):

1. header: length, file identifier, root offset, the Model table (LR_ERR_TRUNCATED, _OVERFLOW,
   _BAD_IDENTIFIER, _OUT_OF_BOUNDS, _BAD_TABLE);
2. format version, then the CRC-32 (LR_ERR_VERSION, _CRC);
3. structure: every table, vtable, field, vector and string reachable from the root lies inside the
   blob, aligned, with lengths that fit (LR_ERR_OUT_OF_BOUNDS, _BAD_TABLE, _BAD_VECTOR);
4. semantics: tensor shapes, codebooks, then each op in order: inputs written before it, parameters,
   weights, LinRep indices < K, the output shape it computes (LR_ERR_BAD_*, _INDEX_*, _SHAPE_MISMATCH);
5. memory: the greedy activation plan and scratch fit 32-bit sizes (LR_ERR_OVERFLOW).

`check_blob` returns the arena the C runtime will ask for (`lr_arena_size`), so sizes can be
reported without building the runtime. tests/test_agreement.py holds the two sides to the same
verdicts on mutated blobs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .bitpack import unpack_indices
from .errors import LinRepError
from .fb import slots as S

MAX_BLOB_BYTES = 0x7FFFFFF0  # LR_MAX_BLOB_BYTES
MAX_NUMEL = 0x1FFFFFF0       # LR_MAX_NUMEL
MAX_OPS = 65000              # op indices are 16-bit in the planner
MAX_TEMPLATES = 65536
ARENA_ALIGN = 16
PLAN_ENTRY_BYTES = 16
OP_TYPE_COUNT = 16
RUNTIME_FORMAT_VERSION = 2   # LR_FORMAT_VERSION: the newest format the C runtime reads
WINDOW_LIMIT = 1 << 30


class InvalidBlob(LinRepError):
    """A blob the C runtime refuses; `status` is the lr_status name it returns."""

    def __init__(self, status: str, detail: str, op: int = -1, tensor: int = -1) -> None:
        self.status, self.detail, self.op, self.tensor = status, detail, op, tensor
        loc = "".join([f"op {op}: " if op >= 0 else "", f"tensor {tensor}: " if tensor >= 0 else ""])
        super().__init__(f"{loc}{detail} [{status}]")


@dataclass(frozen=True)
class BlobCheck:
    """What lr_init computes for a valid blob (all in bytes)."""

    arena_bytes: int          # lr_arena_size: plan records + activations + scratch
    activation_bytes: int     # the greedy plan's activation region
    activation_lower_bound: int  # largest sum of live tensors at any op (lr_activation_lower_bound)
    scratch_bytes: int


def _align(n: int) -> int:
    return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1)


class _Bytes:
    """Little-endian reads; positions are checked by the verifier before they are read."""

    def __init__(self, blob: bytes) -> None:
        self.b = blob
        self.size = len(blob)

    def u8(self, p: int) -> int:
        return self.b[p]

    def u16(self, p: int) -> int:
        return self.b[p] | self.b[p + 1] << 8

    def i16(self, p: int) -> int:
        v = self.u16(p)
        return v - 0x10000 if v >= 0x8000 else v

    def u32(self, p: int) -> int:
        return int.from_bytes(self.b[p:p + 4], "little")

    def i32(self, p: int) -> int:
        v = self.u32(p)
        return v - (1 << 32) if v >= 1 << 31 else v

    # FlatBuffers accessors (lr_internal.h section 2): absent fields give the schema default.
    def field(self, t: int, slot: int) -> int:
        vt = (t - self.u32(t)) % (1 << 32)
        entry = 4 + 2 * slot
        if entry + 2 > self.u16(vt):
            return 0
        fo = self.u16(vt + entry)
        return 0 if fo == 0 else t + fo

    def get(self, t: int, slot: int, kind: str, default: int) -> int:
        p = self.field(t, slot)
        return default if p == 0 else getattr(self, kind)(p)

    def vec(self, t: int, slot: int) -> tuple[int, int]:
        """(position of the first element or 0, length or 0)."""
        p = self.field(t, slot)
        if p == 0:
            return 0, 0
        v = p + self.u32(p)
        return v + 4, self.u32(v)

    def vec_table(self, elems: int, i: int) -> int:
        p = elems + 4 * i
        return p + self.u32(p)


# -- 1-3: structure (lr_verify_root / lr_verify_structure) -------------------------------------------
K_U8, K_4, K_STRING, K_VEC1, K_VEC2, K_VEC4, K_TABLE, K_VEC_TABLE, K_2, K_VEC_SHAPE = range(10)
_VEC_ELEM = {K_STRING: 1, K_VEC1: 1, K_VEC2: 2, K_VEC4: 4, K_VEC_TABLE: 4, K_VEC_SHAPE: S.SHAPE_SIZE}

# Fields (slot, kind, table type of a vector of tables) in the order the C verifier visits them: the
# first failing field decides the status.
Fields = list[tuple[int, int, "Fields | None"]]
_CODEBOOK: Fields = [(S.CODEBOOK_KERNEL_H, K_4, None), (S.CODEBOOK_KERNEL_W, K_4, None),
                     (S.CODEBOOK_SIZE, K_4, None), (S.CODEBOOK_DTYPE, K_U8, None),
                     (S.CODEBOOK_F32, K_VEC4, None), (S.CODEBOOK_F16, K_VEC2, None)]
_OP: Fields = [(slot, kind, None) for slot, kind in [
    (S.OP_TYPE, K_U8), (S.OP_INPUTS, K_VEC4), (S.OP_ACTIVATION, K_U8), (S.OP_KERNEL_H, K_2),
    (S.OP_KERNEL_W, K_2), (S.OP_PAD_TOP, K_2), (S.OP_PAD_LEFT, K_2), (S.OP_PAD_BOTTOM, K_2),
    (S.OP_PAD_RIGHT, K_2), (S.OP_STRIDE_H, K_2), (S.OP_STRIDE_W, K_2), (S.OP_CODEBOOK, K_4),
    (S.OP_INDEX_BITS, K_U8), (S.OP_INDICES, K_VEC1), (S.OP_AB, K_VEC2), (S.OP_BIAS_F32, K_VEC4),
    (S.OP_NAME, K_STRING), (S.OP_DTYPE, K_U8), (S.OP_WEIGHT_F32, K_VEC4), (S.OP_WEIGHT_F16, K_VEC2),
    (S.OP_BIAS_F16, K_VEC2), (S.OP_GROUPS, K_4), (S.OP_DILATION_H, K_2), (S.OP_DILATION_W, K_2),
    (S.OP_COUNT_INCLUDE_PAD, K_U8), (S.OP_ALPHA, K_4), (S.OP_AB_BITS, K_U8), (S.OP_AB_Q, K_VEC1),
    (S.OP_A_SCALE, K_VEC4), (S.OP_B_SCALE, K_VEC4), (S.OP_WEIGHT_I8, K_VEC1), (S.OP_WEIGHT_SCALE, K_VEC4),
    (S.OP_KERNEL_MASK, K_VEC1)]]
_MODEL: Fields = [(S.MODEL_CRC32, K_4, None), (S.MODEL_FORMAT_VERSION, K_4, None),
                  (S.MODEL_PRODUCER, K_STRING, None), (S.MODEL_TENSORS, K_VEC_SHAPE, None),
                  (S.MODEL_OUTPUT, K_4, None), (S.MODEL_OPS, K_VEC_TABLE, _OP),
                  (S.MODEL_CODEBOOKS, K_VEC_TABLE, _CODEBOOK), (S.MODEL_METADATA, K_STRING, None)]


def _bad(status: str, detail: str) -> InvalidBlob:
    return InvalidBlob(status, detail)


def _check_table(r: _Bytes, t: int) -> tuple[int, int, int]:
    """(vtable position, vtable bytes, table bytes) of the table at t."""
    if t > r.size or r.size - t < 4:
        raise _bad("LR_ERR_OUT_OF_BOUNDS", f"table at byte {t} lies past the end ({r.size} bytes)")
    if t & 3:
        raise _bad("LR_ERR_BAD_TABLE", f"table at byte {t} is not 4-byte aligned")
    vt = t - r.i32(t)
    if vt < 0 or vt > r.size - 4:
        raise _bad("LR_ERR_OUT_OF_BOUNDS", f"vtable of the table at byte {t} lies outside the blob")
    if vt & 1:
        raise _bad("LR_ERR_BAD_TABLE", f"vtable at byte {vt} is not 2-byte aligned")
    vsize, tsize = r.u16(vt), r.u16(vt + 2)
    if vsize < 4 or vsize & 1 or tsize < 4:
        raise _bad("LR_ERR_BAD_TABLE", f"vtable at byte {vt}: bad sizes ({vsize}, {tsize})")
    if vsize > r.size - vt or tsize > r.size - t:
        raise _bad("LR_ERR_OUT_OF_BOUNDS", f"table at byte {t} or its vtable runs past the end")
    return vt, vsize, tsize


def _follow(r: _Bytes, p: int) -> int:
    if p & 3:
        raise _bad("LR_ERR_BAD_TABLE", f"offset field at byte {p} is not 4-byte aligned")
    u = r.u32(p)
    if u == 0 or u > r.size - p or r.size - p - u < 4:
        raise _bad("LR_ERR_OUT_OF_BOUNDS", f"offset at byte {p} points outside the blob")
    return p + u


def _check_vector(r: _Bytes, vec: int, elem: int, is_string: bool) -> int:
    if vec & 3:
        raise _bad("LR_ERR_BAD_VECTOR", f"vector at byte {vec} is not 4-byte aligned")
    n = r.u32(vec)
    if n * elem + int(is_string) > r.size - vec - 4:
        raise _bad("LR_ERR_BAD_VECTOR", f"vector at byte {vec}: {n} elements run past the end")
    if is_string and r.b[vec + 4 + n] != 0:
        raise _bad("LR_ERR_BAD_VECTOR", f"string at byte {vec} is not NUL-terminated")
    return n


def _verify_table(r: _Bytes, t: int, fields: Fields, deep: bool) -> None:
    vt, vsize, tsize = _check_table(r, t)
    for slot, kind, sub in fields:
        entry = 4 + 2 * slot
        if entry + 2 > vsize:
            continue  # beyond the vtable: absent
        fo = r.u16(vt + entry)
        width = 1 if kind == K_U8 else 2 if kind == K_2 else 4
        if fo != 0 and (fo < 4 or fo > tsize or tsize - fo < width):
            raise _bad("LR_ERR_BAD_TABLE", f"field {slot} of the table at byte {t} lies outside the table")
        if fo == 0 or kind in (K_U8, K_2, K_4) or not deep:
            continue
        target = _follow(r, t + fo)
        n = _check_vector(r, target, _VEC_ELEM[kind], kind == K_STRING)
        if sub is not None:
            for i in range(n):
                _verify_table(r, _follow(r, target + 4 + 4 * i), sub, deep)


# -- 4: semantics (lr_verify_semantics) ---------------------------------------------------------------
@dataclass
class _Op:
    index: int
    type: int
    inputs: list[int]
    activation: int
    kh: int
    kw: int
    sh: int
    sw: int
    pt: int
    pl: int
    pb: int
    pr: int
    dh: int
    dw: int
    groups: int
    out_ch: int
    dtype: int
    w32: tuple[int, int]
    w16: tuple[int, int]
    b32: tuple[int, int]
    b16: tuple[int, int]
    w8: tuple[int, int]
    ws: tuple[int, int]
    table: int
    linrep: bool


Shape = tuple[int, ...]


class _Model:
    def __init__(self, r: _Bytes, root: int) -> None:
        self.r = r
        self.tensors, self.n_tensors = r.vec(root, S.MODEL_TENSORS)
        self.ops, self.n_ops = r.vec(root, S.MODEL_OPS)
        self.codebooks, self.n_codebooks = r.vec(root, S.MODEL_CODEBOOKS)
        self.output = r.get(root, S.MODEL_OUTPUT, "i32", 0)

    def raw_shape(self, i: int) -> tuple[int, int, int]:
        p = self.tensors + S.SHAPE_SIZE * i
        return (self.r.i32(p + S.SHAPE_C_OFFSET), self.r.u16(p + S.SHAPE_H_OFFSET), self.r.u16(p + S.SHAPE_W_OFFSET))

    def shape(self, i: int) -> Shape:
        c, h, w = self.raw_shape(i)
        return (c,) if h == 0 and w == 0 else (c, h, w)

    def op(self, k: int) -> _Op:
        r = self.r
        t = r.vec_table(self.ops, k)
        pos, n = r.vec(t, S.OP_INPUTS)
        inputs = [r.i32(pos + 4 * i) for i in range(n)] if pos else [k]

        def i16(slot: int, default: int) -> int:
            return r.get(t, slot, "i16", default)

        return _Op(k, r.get(t, S.OP_TYPE, "u8", 0), inputs, r.get(t, S.OP_ACTIVATION, "u8", S.ACTIVATION_NONE),
                   i16(S.OP_KERNEL_H, S.OP_KERNEL_H_DEFAULT), i16(S.OP_KERNEL_W, S.OP_KERNEL_W_DEFAULT),
                   i16(S.OP_STRIDE_H, S.OP_STRIDE_H_DEFAULT), i16(S.OP_STRIDE_W, S.OP_STRIDE_W_DEFAULT),
                   i16(S.OP_PAD_TOP, 0), i16(S.OP_PAD_LEFT, 0), i16(S.OP_PAD_BOTTOM, 0), i16(S.OP_PAD_RIGHT, 0),
                   i16(S.OP_DILATION_H, S.OP_DILATION_H_DEFAULT), i16(S.OP_DILATION_W, S.OP_DILATION_W_DEFAULT),
                   r.get(t, S.OP_GROUPS, "i32", S.OP_GROUPS_DEFAULT),
                   self.raw_shape(k + 1)[0] if k + 1 < self.n_tensors else 0,
                   r.get(t, S.OP_DTYPE, "u8", S.OP_DTYPE_DEFAULT),
                   r.vec(t, S.OP_WEIGHT_F32), r.vec(t, S.OP_WEIGHT_F16), r.vec(t, S.OP_BIAS_F32),
                   r.vec(t, S.OP_BIAS_F16), r.vec(t, S.OP_WEIGHT_I8), r.vec(t, S.OP_WEIGHT_SCALE), t,
                   any(r.field(t, f) for f in (S.OP_INDICES, S.OP_AB, S.OP_AB_Q, S.OP_A_SCALE, S.OP_B_SCALE,
                                               S.OP_AB_BITS, S.OP_KERNEL_MASK)))

    def codebook(self, i: int) -> tuple[int, int, int, int, tuple[int, int], tuple[int, int]]:
        """(kh, kw, K, dtype, f32 vector, f16 vector)."""
        r = self.r
        t = r.vec_table(self.codebooks, i)
        return (r.get(t, S.CODEBOOK_KERNEL_H, "i32", 0), r.get(t, S.CODEBOOK_KERNEL_W, "i32", 0),
                r.get(t, S.CODEBOOK_SIZE, "i32", 0), r.get(t, S.CODEBOOK_DTYPE, "u8", S.DTYPE_F32),
                r.vec(t, S.CODEBOOK_F32), r.vec(t, S.CODEBOOK_F16))


def _numel(dims: Shape) -> int:
    """Element count, or 0 if a dimension is < 1 or the count passes MAX_NUMEL."""
    n = 1
    for d in dims:
        if d < 1:
            return 0
        n *= d
        if n > MAX_NUMEL:
            return 0
    return n


def _window_out(n: int, k: int, s: int, d: int, p0: int, p1: int) -> int:
    extent, padded = d * (k - 1) + 1, n + p0 + p1
    return 0 if padded < extent else (padded - extent) // s + 1


def _window_params_ok(op: _Op, x: Shape) -> bool:
    if not (op.kh >= 1 and op.kw >= 1 and op.sh >= 1 and op.sw >= 1 and op.dh >= 1 and op.dw >= 1
            and min(op.pt, op.pl, op.pb, op.pr) >= 0):
        return False
    return (op.dh * (op.kh - 1) + 1 <= WINDOW_LIMIT and op.dw * (op.kw - 1) + 1 <= WINDOW_LIMIT
            and op.sh <= WINDOW_LIMIT and op.sw <= WINDOW_LIMIT and op.kh * op.kw <= WINDOW_LIMIT
            and x[1] + op.pt + op.pb <= WINDOW_LIMIT and x[2] + op.pl + op.pr <= WINDOW_LIMIT)


def _check_constants(op: _Op, n_weight: int, alt: int, n_bias: int) -> None:
    """Only the op's dtype's vectors present (I8: int8 weights, 1 or Cout scales, fp32 bias); n_weight
    values (-1: 1 or `alt`, never int8); bias absent or n_bias."""
    def present(*vecs: tuple[int, int]) -> int:
        return sum(n + (pos != 0) for pos, n in vecs)

    if op.dtype == S.DTYPE_F32:
        nw, nb, other = op.w32[1], op.b32[1], present(op.w16, op.b16)
    elif op.dtype == S.DTYPE_F16:
        nw, nb, other = op.w16[1], op.b16[1], present(op.w32, op.b32)
    elif op.dtype == S.DTYPE_I8 and n_weight > 0:
        nw, nb, other = op.w8[1], op.b32[1], present(op.w32, op.w16, op.b16)
        if op.ws[1] not in (1, op.out_ch):
            raise InvalidBlob("LR_ERR_BAD_CONSTANT", f"{op.ws[1]} int8 weight scales, expected 1 or {op.out_ch}",
                              op.index)
    else:
        raise InvalidBlob("LR_ERR_BAD_CONSTANT", f"weight dtype {op.dtype} not allowed here", op.index)
    if op.dtype != S.DTYPE_I8:
        other += present(op.w8, op.ws)
    if other:
        raise InvalidBlob("LR_ERR_BAD_CONSTANT", "weights stored in another dtype too", op.index)
    if (nw not in (1, alt)) if n_weight < 0 else nw != n_weight:
        raise InvalidBlob("LR_ERR_BAD_CONSTANT", f"{nw} weight values, expected {n_weight if n_weight >= 0 else alt}",
                          op.index)
    if nb != 0 and (n_bias < 1 or nb != n_bias):
        raise InvalidBlob("LR_ERR_BAD_CONSTANT", f"{nb} bias values, expected {max(n_bias, 0)}", op.index)


def _check_linrep(m: _Model, op: _Op, cin_g: int) -> int:
    """Checks the op's LinRep weights; returns its codebook's K."""
    r, t = m.r, op.table
    if not op.linrep:
        raise InvalidBlob("LR_ERR_BAD_PARAMS", "LinRep conv without indices or a/b", op.index)
    cb_id = r.get(t, S.OP_CODEBOOK, "i32", 0)
    bits = r.get(t, S.OP_INDEX_BITS, "u8", 0)
    idx_pos, n_idx = r.vec(t, S.OP_INDICES)
    ab_pos, n_ab = r.vec(t, S.OP_AB)
    ab_bits = r.get(t, S.OP_AB_BITS, "u8", 0)
    abq_pos, n_abq = r.vec(t, S.OP_AB_Q)
    as_pos, n_as = r.vec(t, S.OP_A_SCALE)
    bs_pos, n_bs = r.vec(t, S.OP_B_SCALE)
    mask_pos, n_mask = r.vec(t, S.OP_KERNEL_MASK)
    if not 0 <= cb_id < m.n_codebooks:
        raise InvalidBlob("LR_ERR_BAD_CODEBOOK", f"codebook {cb_id} does not exist ({m.n_codebooks} stored)", op.index)
    kh, kw, k, *_ = m.codebook(cb_id)
    if (kh, kw) != (op.kh, op.kw):
        raise InvalidBlob("LR_ERR_BAD_CODEBOOK", f"codebook {cb_id} holds {kh}x{kw} templates, the conv is "
                          f"{op.kh}x{op.kw}", op.index)
    if not 1 <= bits <= 16:
        raise InvalidBlob("LR_ERR_INDEX_WIDTH", f"index width {bits} bits (1..16)", op.index)
    n = op.out_ch * cin_g
    if n > MAX_NUMEL:
        raise InvalidBlob("LR_ERR_OVERFLOW", f"{n} kernels", op.index)
    if mask_pos:  # pruned kernels: indices and a/b of the kept ones only
        mask = r.b[mask_pos:mask_pos + n_mask]
        if n_mask != (n + 7) // 8 or (n % 8 and mask[-1] >> (n % 8)):
            raise InvalidBlob("LR_ERR_BAD_CONSTANT", f"kernel mask of {n_mask} bytes for {n} kernels (or a bit set "
                              "past the last kernel)", op.index)
        n = int(np.unpackbits(np.frombuffer(mask, np.uint8)).sum())
    if n_idx != (n * bits + 7) // 8:
        raise InvalidBlob("LR_ERR_INDEX_WIDTH", f"{n_idx} index bytes, {n} x {bits} bits need {(n * bits + 7) // 8}",
                          op.index)
    if ab_bits == 0:
        if n_ab != 2 * n or abq_pos or as_pos or bs_pos:
            raise InvalidBlob("LR_ERR_BAD_CONSTANT", f"{n_ab} fp16 a/b values, expected {2 * n} (and no integer "
                              "a/b fields)", op.index)
    elif (not 2 <= ab_bits <= 8 or ab_pos or n_abq != (2 * n * ab_bits + 7) // 8 or n_as != op.out_ch
          or n_bs != op.out_ch):
        raise InvalidBlob("LR_ERR_BAD_CONSTANT", f"integer a/b: {ab_bits} bits, {n_abq} bytes, {n_as}/{n_bs} scales "
                          f"(expected 2..8 bits, {(2 * n * max(ab_bits, 1) + 7) // 8} bytes, {op.out_ch} scales "
                          "each)", op.index)
    idx = unpack_indices(r.b[idx_pos:idx_pos + n_idx], n, bits)
    if n and int(idx.max()) >= k:
        raise InvalidBlob("LR_ERR_INDEX_RANGE", f"kernel {int(np.argmax(idx >= k))} uses template "
                          f"{int(idx.max())}, the codebook has K = {k}", op.index)
    return k


def _check_conv(m: _Model, op: _Op, x: Shape, scratch: list[int]) -> Shape:
    if (len(op.inputs) != 1 or len(x) != 3 or not _window_params_ok(op, x) or op.groups < 1 or op.out_ch < 1
            or x[0] % op.groups or op.out_ch % op.groups):
        raise InvalidBlob("LR_ERR_BAD_PARAMS", "bad conv parameters (inputs, kernel, stride, padding, dilation "
                          "or groups)", op.index)
    cin_g = x[0] // op.groups
    oh = _window_out(x[1], op.kh, op.sh, op.dh, op.pt, op.pb)
    ow = _window_out(x[2], op.kw, op.sw, op.dw, op.pl, op.pr)
    kk = op.kh * op.kw * cin_g
    if oh < 1 or ow < 1 or oh > MAX_NUMEL or ow > MAX_NUMEL or kk > MAX_NUMEL:
        raise InvalidBlob("LR_ERR_BAD_PARAMS", f"conv window does not fit its {x[1]}x{x[2]} input", op.index)
    if op.type == S.OP_TYPE_LINREP_CONV2D:
        k = _check_linrep(m, op, cin_g)
        _check_constants(op, 0, 0, op.out_ch)
        need = k * op.kh * op.kw + kk  # decoded codebook + one output channel's kernels
        if need > MAX_NUMEL:
            raise InvalidBlob("LR_ERR_OVERFLOW", f"scratch of {need} floats", op.index)
        scratch[0] = max(scratch[0], need)
    else:
        if op.linrep:
            raise InvalidBlob("LR_ERR_BAD_PARAMS", "dense conv with LinRep fields", op.index)
        _check_constants(op, op.out_ch * kk, 0, op.out_ch)
        if op.dtype != S.DTYPE_F32:
            scratch[0] = max(scratch[0], kk)
    return (op.out_ch, oh, ow)


def _check_pool(op: _Op, x: Shape) -> Shape:
    if len(op.inputs) != 1 or len(x) != 3 or not _window_params_ok(op, x):
        raise InvalidBlob("LR_ERR_BAD_PARAMS", "bad pooling parameters", op.index)
    if op.type == S.OP_TYPE_MAX_POOL2D:
        eh, ew = op.dh * (op.kh - 1) + 1, op.dw * (op.kw - 1) + 1
        ok = 2 * op.pt <= eh and 2 * op.pb <= eh and 2 * op.pl <= ew and 2 * op.pr <= ew
    else:
        ok = (op.dh == 1 and op.dw == 1 and 2 * op.pt <= op.kh and 2 * op.pb <= op.kh and 2 * op.pl <= op.kw
              and 2 * op.pr <= op.kw)
    if not ok:
        raise InvalidBlob("LR_ERR_BAD_PARAMS", "pooling padding larger than half the window", op.index)
    oh = _window_out(x[1], op.kh, op.sh, op.dh, op.pt, op.pb)
    ow = _window_out(x[2], op.kw, op.sw, op.dw, op.pl, op.pr)
    if oh < 1 or ow < 1:
        raise InvalidBlob("LR_ERR_BAD_PARAMS", f"pooling window does not fit its {x[1]}x{x[2]} input", op.index)
    return (x[0], oh, ow)


_WEIGHTED = (S.OP_TYPE_CONV2D, S.OP_TYPE_LINREP_CONV2D, S.OP_TYPE_LINEAR, S.OP_TYPE_PRELU)
_FUSABLE = (S.OP_TYPE_CONV2D, S.OP_TYPE_LINREP_CONV2D, S.OP_TYPE_LINEAR, S.OP_TYPE_ADD)
_ELEMENTWISE = (S.OP_TYPE_RELU, S.OP_TYPE_RELU6, S.OP_TYPE_LEAKY_RELU, S.OP_TYPE_SIGMOID, S.OP_TYPE_HARDSWISH)


def _check_op(m: _Model, op: _Op, scratch: list[int]) -> None:
    if op.type >= OP_TYPE_COUNT:
        raise InvalidBlob("LR_ERR_UNSUPPORTED_OP", f"unknown op type {op.type}", op.index)
    for t in op.inputs:
        if not 0 <= t <= op.index:
            raise InvalidBlob("LR_ERR_BAD_GRAPH", "reads a tensor not written before it", op.index, t)
    if not op.inputs:
        raise InvalidBlob("LR_ERR_BAD_PARAMS", "no inputs", op.index)
    if op.activation > S.ACTIVATION_RELU6 or (op.activation != S.ACTIVATION_NONE and op.type not in _FUSABLE):
        raise InvalidBlob("LR_ERR_BAD_PARAMS", f"fused activation {op.activation} not allowed here", op.index)
    if op.linrep and op.type != S.OP_TYPE_LINREP_CONV2D:
        raise InvalidBlob("LR_ERR_BAD_PARAMS", "LinRep fields on an op that is not a LinRep conv", op.index)
    if op.type not in _WEIGHTED and any(v for pair in (op.w32, op.w16, op.b32, op.b16, op.w8, op.ws) for v in pair):
        raise InvalidBlob("LR_ERR_BAD_CONSTANT", "weights on an op that has none", op.index)
    x, stored = m.shape(op.inputs[0]), m.shape(op.index + 1)
    out = x
    if op.type in (S.OP_TYPE_CONV2D, S.OP_TYPE_LINREP_CONV2D):
        out = _check_conv(m, op, x, scratch)
    elif op.type == S.OP_TYPE_LINEAR:
        if len(op.inputs) != 1 or len(x) != 1 or op.out_ch < 1 or op.out_ch * x[0] > MAX_NUMEL:
            raise InvalidBlob("LR_ERR_BAD_PARAMS", "linear needs one flat input", op.index)
        _check_constants(op, op.out_ch * x[0], 0, op.out_ch)
        out = (op.out_ch,)
    elif op.type in _ELEMENTWISE:
        if len(op.inputs) != 1:
            raise InvalidBlob("LR_ERR_BAD_PARAMS", "elementwise op with more than one input", op.index)
    elif op.type == S.OP_TYPE_PRELU:
        if len(op.inputs) != 1:
            raise InvalidBlob("LR_ERR_BAD_PARAMS", "prelu with more than one input", op.index)
        _check_constants(op, -1, x[0], 0)
    elif op.type in (S.OP_TYPE_MAX_POOL2D, S.OP_TYPE_AVG_POOL2D):
        out = _check_pool(op, x)
    elif op.type == S.OP_TYPE_ADAPTIVE_AVG_POOL2D:
        if (len(op.inputs) != 1 or len(x) != 3 or op.kh < 1 or op.kw < 1 or (op.kh + 1) * x[1] > 0x7FFFFFFF
                or (op.kw + 1) * x[2] > 0x7FFFFFFF):
            raise InvalidBlob("LR_ERR_BAD_PARAMS", "bad adaptive pooling output size", op.index)
        out = (x[0], op.kh, op.kw)
    elif op.type == S.OP_TYPE_ADD:
        if len(op.inputs) != 2:
            raise InvalidBlob("LR_ERR_BAD_PARAMS", "add needs two inputs", op.index)
        if m.shape(op.inputs[1]) != x:
            raise InvalidBlob("LR_ERR_SHAPE_MISMATCH", f"add of {x} and {m.shape(op.inputs[1])}", op.index,
                              op.inputs[1])
    elif op.type == S.OP_TYPE_CONCAT:
        c = 0
        for t in op.inputs:
            s = m.shape(t)
            if len(s) != 3:
                raise InvalidBlob("LR_ERR_BAD_PARAMS", "concat of a flat tensor", op.index)
            if s[1:] != x[1:]:
                raise InvalidBlob("LR_ERR_SHAPE_MISMATCH", f"concat of {x} and {s}", op.index, t)
            c += s[0]
        if c > MAX_NUMEL:
            raise InvalidBlob("LR_ERR_OVERFLOW", f"concat of {c} channels", op.index)
        out = (c, x[1], x[2])
    elif op.type == S.OP_TYPE_RESHAPE:
        if len(op.inputs) != 1:
            raise InvalidBlob("LR_ERR_BAD_PARAMS", "reshape with more than one input", op.index)
        if int(np.prod(x)) != int(np.prod(stored)):
            raise InvalidBlob("LR_ERR_SHAPE_MISMATCH", f"reshape of {x} to {stored}", op.index, op.index + 1)
        out = stored
    elif op.type == S.OP_TYPE_SOFTMAX:
        if len(op.inputs) != 1 or len(x) != 1:
            raise InvalidBlob("LR_ERR_BAD_PARAMS", "softmax needs one flat input", op.index)
    if out != stored:
        raise InvalidBlob("LR_ERR_SHAPE_MISMATCH", f"computes {out}, the blob says {stored}", op.index, op.index + 1)


def _reuse_scratch(m: _Model) -> int:
    """Scratch floats of the LinRep convs the runtime's automatic path choice sends to template reuse
    (lr_choose_paths under LR_PATH_AUTO), by the cost model's mirror."""
    from .costmodel import conv_cost, reuse_scratch_floats
    from .ir import LinRepWeights, Op

    need = 0
    for k in range(m.n_ops):
        o = m.op(k)
        if o.type != S.OP_TYPE_LINREP_CONV2D or m.r.field(o.table, S.OP_KERNEL_MASK):
            continue
        x, y = m.shape(o.inputs[0]), m.shape(k + 1)
        cin_g = x[0] // o.groups
        cb = m.r.get(o.table, S.OP_CODEBOOK, "i32", 0)
        kk = m.codebook(cb)[2]
        bits = m.r.get(o.table, S.OP_INDEX_BITS, "u8", 0)
        pos, n_idx = m.r.vec(o.table, S.OP_INDICES)
        idx = unpack_indices(m.r.b[pos:pos + n_idx], o.out_ch * cin_g, bits).reshape(o.out_ch, cin_g)
        op = Op("LINREP_CONV2D", "", list(o.inputs), k + 1, kernel=(o.kh, o.kw), stride=(o.sh, o.sw),
                pads=(o.pt, o.pl, o.pb, o.pr), dilation=(o.dh, o.dw), groups=o.groups,
                linrep=LinRepWeights(cb, idx, idx * 0.0, idx * 0.0))
        words = reuse_scratch_floats(op, x, y, kk)
        if conv_cost(op, x, y, kk).path == "reuse" and words <= MAX_NUMEL:
            need = max(need, words)
    return need


def _check_semantics(m: _Model, max_tensors: int | None) -> int:
    """Returns the scratch floats the run needs."""
    if (max_tensors is not None and m.n_tensors > max_tensors) or m.n_ops > MAX_OPS:
        raise _bad("LR_ERR_TOO_MANY", f"{m.n_tensors} tensors, {m.n_ops} ops (limits {max_tensors}, {MAX_OPS})")
    if m.n_tensors != m.n_ops + 1 or not 0 <= m.output < m.n_tensors:
        raise _bad("LR_ERR_BAD_GRAPH", f"{m.n_tensors} tensors for {m.n_ops} ops (need one per op plus the input), "
                   f"output {m.output}")
    for i in range(m.n_tensors):
        c, h, w = m.raw_shape(i)
        if _numel((c,) if h == 0 and w == 0 else (c, h, w)) == 0:
            raise InvalidBlob("LR_ERR_BAD_TENSOR", f"shape ({c}, {h}, {w}) is empty or too large", tensor=i)
    for i in range(m.n_codebooks):
        kh, kw, k, dtype, f32, f16 = m.codebook(i)
        n = _numel((k, kh, kw))
        counts = {S.DTYPE_F32: (f32[1], f16[1]), S.DTYPE_F16: (f16[1], f32[1])}.get(dtype)
        if n == 0 or k > MAX_TEMPLATES or counts is None or counts != (n, 0):
            raise _bad("LR_ERR_BAD_CODEBOOK", f"codebook {i}: K = {k} of {kh}x{kw}, dtype {dtype}, "
                       f"{f32[1]} fp32 / {f16[1]} fp16 values")
    scratch = [0]
    for k in range(m.n_ops):
        _check_op(m, m.op(k), scratch)
    return max(scratch[0], _reuse_scratch(m))


# -- 5: memory plan (lr_plan.c) -------------------------------------------------------------------------
def plan_activations(sizes: list[int], first: list[int], last: list[int]) -> tuple[int, list[int]]:
    """Greedy first-fit by decreasing size (ties: lower id), as lr_plan: (region bytes, offsets)."""
    n = len(sizes)
    offsets = [0] * n
    placed: list[int] = []  # placed buffers sorted by offset (equal offsets: in placement order)
    total = 0
    order = sorted((i for i in range(n) if sizes[i]), key=lambda i: (-sizes[i], i))
    for i in order:
        cand = 0
        for j in placed:
            if first[i] <= last[j] and first[j] <= last[i]:
                if cand + sizes[i] <= offsets[j]:
                    break
                cand = max(cand, offsets[j] + sizes[j])
        if cand + sizes[i] > MAX_BLOB_BYTES:
            raise _bad("LR_ERR_OVERFLOW", "activations need more than 2 GiB")
        offsets[i] = cand
        total = max(total, cand + sizes[i])
        pos = 0
        while pos < len(placed) and offsets[placed[pos]] <= cand:
            pos += 1
        placed.insert(pos, i)
    return total, offsets


def _plan(m: _Model, scratch_floats: int) -> BlobCheck:
    n = m.n_tensors
    first, last = [0] * n, [0] * n
    for k in range(m.n_ops):
        for t in m.op(k).inputs:
            last[t] = k
        first[k + 1] = last[k + 1] = k
    last[m.output] = max(m.n_ops - 1, 0)
    raw = [4 * int(np.prod(m.shape(i))) for i in range(n)]
    lower = max(sum(raw[i] for i in range(n) if first[i] <= k <= last[i]) for k in range(max(m.n_ops, 1)))
    if lower > MAX_BLOB_BYTES:
        raise _bad("LR_ERR_OVERFLOW", "live activations exceed 2 GiB")
    act, _ = plan_activations([_align(b) for b in raw], first, last)
    plan_bytes, scratch = _align(n * PLAN_ENTRY_BYTES), _align(scratch_floats * 4)
    if plan_bytes + act + scratch > MAX_BLOB_BYTES:
        raise _bad("LR_ERR_OVERFLOW", "arena larger than 2 GiB")
    return BlobCheck(plan_bytes + act + scratch, act, lower, scratch)


# -- entry point --------------------------------------------------------------------------------------
def check_blob(blob: bytes, where: str = "blob", max_tensors: int | None = None,
               format_version: int = RUNTIME_FORMAT_VERSION) -> BlobCheck:
    """Apply lr_init's checks to `blob`; InvalidBlob (a LinRepError) names the first rule broken.

    max_tensors: the runtime's LR_MAX_TENSORS build limit (128 by default in runtime_c), or None for
    the format's own limit. format_version: the newest version accepted."""
    try:
        return _check(blob, max_tensors, format_version)
    except InvalidBlob as exc:
        exc.args = (f"{where}: {exc.args[0]}",)
        raise


def _check(blob: bytes, max_tensors: int | None, format_version: int) -> BlobCheck:
    r = _Bytes(blob)
    if r.size < 8:
        raise _bad("LR_ERR_TRUNCATED", f"too short to be a .lre blob ({r.size} bytes)")
    if r.size > MAX_BLOB_BYTES:
        raise _bad("LR_ERR_OVERFLOW", f"{r.size} bytes: larger than 2 GiB")
    if blob[4:8] != S.FILE_IDENTIFIER.encode():
        raise _bad("LR_ERR_BAD_IDENTIFIER", f"not a .lre blob (file identifier {blob[4:8]!r}, expected "
                   f"{S.FILE_IDENTIFIER.encode()!r})")
    root = r.u32(0)
    if root > r.size or r.size - root < 4:
        raise _bad("LR_ERR_TRUNCATED", f"truncated or corrupt (root offset {root} beyond {r.size} bytes)")
    _verify_table(r, root, _MODEL, deep=False)
    version = r.get(root, S.MODEL_FORMAT_VERSION, "u32", 0)
    if version > format_version:
        raise _bad("LR_ERR_VERSION", f"format version {version} is newer than this linrep-edge reads "
                   f"({format_version}); upgrade linrep-edge")
    if version < 1:
        raise _bad("LR_ERR_VERSION", f"invalid format version {version}")
    crc_pos = r.field(root, S.MODEL_CRC32)
    if crc_pos == 0:
        raise _bad("LR_ERR_CRC", "no CRC-32 stored")
    stored = r.u32(crc_pos)
    actual = zlib.crc32(blob[crc_pos + 4:], zlib.crc32(b"\0\0\0\0", zlib.crc32(blob[:crc_pos]))) & 0xFFFFFFFF
    if stored != actual:
        raise _bad("LR_ERR_CRC", f"CRC mismatch (stored {stored:08x}, computed {actual:08x}): the file is "
                   "corrupted or truncated")
    _verify_table(r, root, _MODEL, deep=True)
    m = _Model(r, root)
    return _plan(m, _check_semantics(m, max_tensors))
