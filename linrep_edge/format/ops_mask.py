"""The op types a blob uses, as the C runtime's build option LR_OPS (linrep.h): bit t = OpType t of the schema.

A firmware built with `-DLR_OPS=<mask>` compiles in only those ops (verifier rules, run paths, kernels), as
TFLite Micro's op resolver does; `export-project` and `mcu-bench` use the mask of their blob, `inspect --json`
shows it ("lr_ops").
"""

from __future__ import annotations

from linrep_edge.errors import LinRepError
from linrep_edge.format.fb.OpType import OpType
from linrep_edge.format.ir import Graph

# OpType values 0 .. OP_TYPE_COUNT - 1, from the schema's generated enum (runtime_c/src/lr_schema.h: LR_OP_TYPE_COUNT)
OP_TYPE_COUNT = 1 + max(v for k, v in vars(OpType).items() if not k.startswith("_") and isinstance(v, int))


def ops_mask(graph: Graph) -> int:
    """Bit t set for every op type t the graph holds."""
    mask = 0
    for op in graph.ops:
        t = getattr(OpType, op.type, None)
        if not isinstance(t, int) or not 0 <= t < OP_TYPE_COUNT:
            raise LinRepError(f"op {op.name!r}: no op type {op.type!r} in the format (LR_OPS)")
        mask |= 1 << t
    return mask


def ops_define(graph: Graph) -> str:
    """The compiler flag of that mask, `-DLR_OPS=0x...u` (a literal the preprocessor reads)."""
    return f"-DLR_OPS=0x{ops_mask(graph):X}u"
