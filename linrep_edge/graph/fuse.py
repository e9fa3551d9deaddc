"""Graph clean-up after capture: fuse ReLU/ReLU6 into the op that produces their input.

A RELU or RELU6 whose input comes from a conv, linear or add that nothing else reads becomes that
op's `activation`: one op and one tensor fewer in the blob, one pass fewer over memory at run time
(TFLite's fused activations). Tensors are then renumbered densely in order of first definition.
"""

from __future__ import annotations

from collections import Counter

from linrep_edge.format.ir import FUSABLE, Graph

_FUSED = {"RELU": "RELU", "RELU6": "RELU6"}


def fuse_activations(g: Graph) -> Graph:
    uses = Counter(t for op in g.ops for t in op.inputs)
    for t in g.results:
        uses[t] += 1
    producer = {op.output: op for op in g.ops}
    rename: dict[int, int] = {}
    kept = []
    for op in g.ops:
        op.inputs = [rename.get(t, t) for t in op.inputs]
        src = producer.get(op.inputs[0]) if op.type in _FUSED and op.inputs else None
        if src is not None and src.type in FUSABLE and src.activation == "NONE" and uses[op.inputs[0]] == 1:
            src.activation = _FUSED[op.type]
            rename[op.output] = src.output
            continue
        kept.append(op)
    g.ops = kept
    g.output = rename.get(g.output, g.output)
    g.outputs = [rename.get(t, t) for t in g.outputs]
    return _compact(g)


def _compact(g: Graph) -> Graph:
    order = [g.input] + [op.output for op in g.ops]
    new_id = {old: i for i, old in enumerate(dict.fromkeys(order))}
    g.tensors = [g.tensors[old] for old in new_id]
    g.input = new_id[g.input]
    g.output = new_id[g.output]
    g.outputs = [new_id[t] for t in g.outputs]
    for op in g.ops:
        op.inputs = [new_id[t] for t in op.inputs]
        op.output = new_id[op.output]
    return g
