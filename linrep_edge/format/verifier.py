"""The blob's verifier is the C runtime's `lr_init`; this module asks it, through ctypes.

A .lre blob is valid exactly when the runtime that will run it on the board accepts it, so there is
one verifier and it is written in C (runtime_c/src/lr_verify.c and the planner): identifier, format
version, CRC-32, every offset and length, shapes op to op, op parameters, every index < K. Python
holds no copy of its rules. For a valid blob it also returns what `lr_init` computed: the arena
`lr_arena_size` asks for, the activation lower bound and, per op, the conv path and cost figures of
`lr_op_conv_info`. A refused blob raises `InvalidBlob` with the runtime's status name, its text and
`lr_error_location`'s op and tensor, plus a hint where the bytes already checked allow one.

Needs the host library (`make -C runtime_c`, built on first use in a checkout); no torch.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

from linrep_edge.runtime import abi
from linrep_edge.runtime.binding import ConvCost, InitError, PATH_NAMES, load_library

MAX_BLOB_BYTES = 0x7FFFFFF0  # the runtime takes sizes that fit 31 bits (LR_ERR_OVERFLOW beyond)


class InvalidBlob(InitError):
    """A blob the C runtime refuses; `status` is the lr_status name lr_init returned."""


@dataclass(frozen=True)
class BlobCheck:
    """What lr_init computed for a valid blob."""

    arena_bytes: int                 # lr_arena_size with the automatic conv path
    activation_lower_bound: int      # largest sum of live activations at any op (lr_activation_lower_bound)
    conv: list[dict[str, Any]] = field(default_factory=list)  # lr_op_conv_info of every op, path by name


def _hint(blob: bytes, status: str) -> str:
    """A sentence more for the statuses where the bytes lr_init had already accepted say more."""
    if status == "LR_ERR_BAD_IDENTIFIER" and len(blob) >= 8:
        return f"file identifier {bytes(blob[4:8])!r}, expected b'LRE1': not a .lre blob"
    if status == "LR_ERR_VERSION":  # lr_init checked the root table before the version
        from linrep_edge.format.fb.Model import Model

        version = Model.GetRootAs(blob, 0).FormatVersion()
        if version > abi.FORMAT_VERSION:
            return (f"format version {version} is newer than this linrep-edge reads ({abi.FORMAT_VERSION}); "
                    "upgrade linrep-edge")
        return f"invalid format version {version}"
    return ""


def op_label(blob: bytes, index: int) -> str:
    """" (TYPE 'name')" of op `index` of a blob lr_init refused, read as far as its bytes allow: the op's table
    may be what is broken, so any failure to read gives "" (the message keeps the bare index)."""
    if index < 0:
        return ""
    from linrep_edge.format.fb.Model import Model
    from linrep_edge.format.reader import OP_NAMES  # the reader imports this module: here, not at the top
    from linrep_edge.format.text import shown

    try:
        model = Model.GetRootAs(blob, 0)
        if index >= model.OpsLength():
            return ""
        op = model.Ops(index)
        kind = OP_NAMES.get(op.Type(), f"type {op.Type()}")
        name = op.Name()
    except Exception:  # noqa: BLE001 -- a hostile table: any read may fail, and the label is only a courtesy
        return ""
    return f" ({kind} '{shown(name, 60)}')" if name else f" ({kind})"


def check_blob(blob: bytes, where: str = "blob") -> BlobCheck:
    """Verify `blob` with lr_init; InvalidBlob (a LinRepError) says what is wrong and where."""
    lib = load_library()
    if len(blob) > MAX_BLOB_BYTES:
        raise InvalidBlob(where, -17, -1, -1)
    buf = (ctypes.c_ubyte * max(len(blob), 1)).from_buffer_copy(blob if blob else b"\0")
    model = (ctypes.c_uint64 * ((lib.lr_model_sizeof() + 7) // 8))()
    code = lib.lr_init(ctypes.byref(model), ctypes.byref(buf), len(blob))
    if code != 0:
        op, tensor = ctypes.c_int32(), ctypes.c_int32()
        lib.lr_error_location(ctypes.byref(model), ctypes.byref(op), ctypes.byref(tensor))
        exc = InvalidBlob(where, code, op.value, tensor.value)
        label = op_label(blob, op.value)
        hint = _hint(blob, exc.status)
        if label or hint:
            exc.args = (f"{exc.args[0]}{label}{': ' + hint if hint else ''}",)
        raise exc
    arena, lower, count = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_uint()
    for rc in (lib.lr_arena_size(ctypes.byref(model), ctypes.byref(arena)),
               lib.lr_activation_lower_bound(ctypes.byref(model), ctypes.byref(lower)),
               lib.lr_op_count(ctypes.byref(model), ctypes.byref(count))):
        if rc != 0:
            raise InvalidBlob(where, rc, -1, -1)
    conv = []
    for k in range(count.value):
        info = ConvCost()
        lib.lr_op_conv_info(ctypes.byref(model), k, ctypes.byref(info))
        row: dict[str, Any] = {name: int(getattr(info, name)) for name, _ in ConvCost._fields_}
        row["path"] = PATH_NAMES.get(row["path"], "?")
        conv.append(row)
    return BlobCheck(int(arena.value), int(lower.value), conv)
