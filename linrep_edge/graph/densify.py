"""The same network with plain dense fp32 weights: every LinRep conv becomes a CONV2D holding the
kernels a·T[idx] + b it represents (a LinRep CONV_TRANSPOSE2D the same op with that dense weight), every
stored tensor fp32. The side-by-side reference for the
runtime and microcontroller benchmarks (what lazy reconstruction costs, what the codebooks save).
"""

from __future__ import annotations

import copy

from linrep_edge.format.ir import Constant, Graph


def densify(g: Graph) -> Graph:
    out = copy.deepcopy(g)
    for op in out.ops:
        if op.linrep is not None:
            out.constants.append(Constant(g.dense_weight(op), "fp32"))
            op.weight = len(out.constants) - 1
            op.type = "CONV2D" if op.type == "LINREP_CONV2D" else op.type
            op.linrep = None
    for c in out.constants:
        c.dtype = "fp32"
    out.codebooks = []
    out.metadata = {**g.metadata, "densified": True}
    return out
