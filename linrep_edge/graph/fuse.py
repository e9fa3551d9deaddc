"""Graph clean-up after capture: activations written by hand become the op, and ReLU/ReLU6 fuse into the op that
produces their input.

`fuse_written_activations`: the forms older code writes instead of the modules — `x * torch.sigmoid(x)` (SiLU),
`F.relu6(x + 3) / 6` (hardsigmoid, also with hardtanh(0, 6) / clamp(0, 6) and `* (1/6)`), `x * hardsigmoid(x)` and
`x * F.relu6(x + 3) / 6` (hardswish) — become one SILU / HARDSIGMOID / HARDSWISH op where every intermediate
tensor is read by the chain only: fewer ops and buffers, and in an int8 model one table instead of three
requantised steps. Two scalar or per-channel affine steps in a row (`(x - 0.5) / 0.25`, `-x + 1`) become one
AFFINE (x·w1·w2 + b1·w2 + b2, in float64 then float32).

`fold_zero_pads`: a PAD with zeros (`F.pad`, `nn.ZeroPad2d`) whose only reader is a conv becomes that conv's padding
(its pads added): no padded copy, one buffer fewer (in an int8 model the PAD's value is the zero point, the real 0,
as a conv's padding is). Only where the sum is the same on both sides of each axis (the torch modules the graph
is rebuilt into, `graph/executor.py`, pad symmetrically) and within the kernel's reach; TensorFlow-style "same"
padding (one more at the bottom / right) stays a PAD.

`fold_depth_orders`: a CHANNEL_SHUFFLE that reorders channels between TFLite's / ONNX's DCR depth order and torch's
next to a PIXEL_SHUFFLE becomes that pixel shuffle's DCR mode (one byte move fewer).

`fuse_activations`: a RELU or RELU6 whose input comes from a conv, linear or add that nothing else reads becomes
that op's `activation`: one op and one tensor fewer in the blob, one pass fewer over memory at run time
(TFLite's fused activations). Tensors are then renumbered densely in order of first definition.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from linrep_edge.format.ir import FUSABLE, Graph, Op

_FUSED = {"RELU": "RELU", "RELU6": "RELU6"}


def _readers(g: Graph) -> tuple[Counter[int], dict[int, Op]]:
    """How many times each tensor is read (a model output counts once more), and the op that writes it."""
    uses = Counter(t for op in g.ops for t in op.inputs)
    for t in g.results:
        uses[t] += 1
    return uses, {op.output: op for op in g.ops}


def _const_is(g: Graph, idx: int, value: float) -> bool:
    """Constant `idx` holds `value` everywhere (float32 rounding allowed); idx < 0 (absent) counts as 0."""
    if idx < 0:
        return value == 0.0
    v = np.asarray(g.constants[idx].values, np.float64)
    return v.size > 0 and bool(np.all(np.abs(v - value) <= 1e-6 * max(1.0, abs(value))))


def _is_shift3(g: Graph, op: Op | None) -> bool:
    return (op is not None and op.type == "AFFINE" and op.activation == "NONE" and _const_is(g, op.weight, 1.0)
            and _const_is(g, op.bias, 3.0))


def _is_sixth(g: Graph, op: Op) -> bool:
    return op.type == "AFFINE" and op.activation == "NONE" and _const_is(g, op.weight, 1.0 / 6.0) and \
        _const_is(g, op.bias, 0.0)


def _is_relu6(op: Op | None) -> bool:
    return op is not None and (op.type == "RELU6" or (op.type == "CLAMP" and (op.alpha, op.beta) == (0.0, 6.0)))


def _fold_affine(g: Graph, first: Op, op: Op) -> None:
    """op(first(x)) as one affine op in place of `op`: weight w1·w2, bias b1·w2 + b2 (absent biases are 0)."""
    w1 = np.asarray(g.constants[first.weight].values, np.float64)
    w2 = np.asarray(g.constants[op.weight].values, np.float64)
    b1 = np.asarray(g.constants[first.bias].values, np.float64) if first.bias >= 0 else np.zeros_like(w1)
    b2 = np.asarray(g.constants[op.bias].values, np.float64) if op.bias >= 0 else np.zeros_like(w2)
    dtype = g.constants[op.weight].dtype
    op.weight = g.add_constant(w1 * w2, dtype)
    op.bias = g.add_constant(b1 * w2 + b2, dtype)
    op.inputs = list(first.inputs)


def fuse_written_activations(g: Graph) -> Graph:
    """SiLU, hardsigmoid and hardswish written with arithmetic become their op (see the module's text)."""
    uses, producer = _readers(g)
    dropped: set[int] = set()

    def only_here(op: Op | None) -> bool:  # an op of the chain: its result read once, by the chain
        return op is not None and id(op) not in dropped and uses[op.output] == 1

    def relu6_of_x_plus_3(t: int) -> tuple[int, Op, Op] | None:
        """(x, the relu6 op, the + 3 op) of t = relu6(x + 3), both steps read by the chain only; else None."""
        r = producer.get(t)
        if r is None or not (_is_relu6(r) and only_here(r)):
            return None
        a = producer.get(r.inputs[0])
        if a is None or not (_is_shift3(g, a) and only_here(a)):
            return None
        return a.inputs[0], r, a

    def become(op: Op, kind: str, x: int, *chain: Op) -> None:
        for c in chain:
            dropped.add(id(c))
        op.type, op.inputs, op.weight, op.bias = kind, [x], -1, -1

    for op in g.ops:
        if id(op) in dropped:
            continue
        prev = producer.get(op.inputs[0]) if op.type == "AFFINE" and op.inputs else None
        if prev is not None and prev.type == "AFFINE" and prev.activation == "NONE" and only_here(prev) and \
                op.activation == "NONE" and prev.weight >= 0 and op.weight >= 0 and \
                g.constants[prev.weight].values.shape == g.constants[op.weight].values.shape and \
                not _is_sixth(g, op):  # (x + 3) / 6 stays for the hardsigmoid below
            _fold_affine(g, prev, op)
            dropped.add(id(prev))
            continue
        if _is_sixth(g, op):
            hs = relu6_of_x_plus_3(op.inputs[0])
            if hs is not None:  # relu6(x + 3) / 6
                become(op, "HARDSIGMOID", *hs)
                continue
            m = producer.get(op.inputs[0])  # (x * relu6(x + 3)) / 6
            if m is not None and m.type == "MUL" and m.activation == "NONE" and only_here(m) and len(m.inputs) == 2:
                for xi, ri in ((0, 1), (1, 0)):
                    hs = relu6_of_x_plus_3(m.inputs[ri])
                    if hs is not None and hs[0] == m.inputs[xi]:
                        become(op, "HARDSWISH", *hs, m)
                        break
            continue
        if op.type == "MUL" and op.activation == "NONE" and len(op.inputs) == 2:
            for xi, fi in ((0, 1), (1, 0)):  # x * sigmoid(x), x * hardsigmoid(x)
                f = producer.get(op.inputs[fi])
                if f is not None and f.type in ("SIGMOID", "HARDSIGMOID") and only_here(f) and \
                        f.inputs == [op.inputs[xi]]:
                    become(op, "SILU" if f.type == "SIGMOID" else "HARDSWISH", op.inputs[xi], f)
                    break
    g.ops = [op for op in g.ops if id(op) not in dropped]
    return g


def fold_zero_pads(g: Graph) -> Graph:
    """Zero PADs read only by a CONV2D / LINREP_CONV2D as their input: into the conv's pads (see above)."""
    uses, producer = _readers(g)
    dropped: set[int] = set()
    for op in g.ops:
        pad = producer.get(op.inputs[0]) if op.type in ("CONV2D", "LINREP_CONV2D") and op.inputs else None
        if pad is None or pad.type != "PAD" or pad.mode != 0 or pad.alpha != 0.0 or uses[pad.output] != 1:
            continue
        pads = tuple(int(a) + int(b) for a, b in zip(op.pads, pad.pads))
        reach = ((op.kernel[0] - 1) * op.dilation[0], (op.kernel[1] - 1) * op.dilation[1])
        if max(pads[0], pads[2]) > reach[0] or max(pads[1], pads[3]) > reach[1] or pads[0] != pads[2] or \
                pads[1] != pads[3]:
            continue  # a window wholly in the padding, or pads that differ between the sides: left as written
        op.pads = pads  # type: ignore[assignment]
        op.inputs = [pad.inputs[0]] + op.inputs[1:]
        dropped.add(id(pad))
    g.ops = [op for op in g.ops if id(op) not in dropped]
    return g


def fold_depth_orders(g: Graph) -> Graph:
    """A channel shuffle that turns TFLite's / ONNX's DCR depth order into torch's next to a pixel shuffle (how the
    ONNX importer writes DepthToSpace DCR and SpaceToDepth): CHANNEL_SHUFFLE(groups r²) read only by PIXEL_SHUFFLE
    mode 0 becomes mode 2 of its input, PIXEL_SHUFFLE mode 1 read only by CHANNEL_SHUFFLE(groups C) becomes mode 3:
    one byte move and one buffer fewer (format version 8)."""
    uses, producer = _readers(g)
    dropped: set[int] = set()
    rename: dict[int, int] = {}
    for op in g.ops:
        op.inputs = [rename.get(t, t) for t in op.inputs]
        src = producer.get(op.inputs[0]) if op.inputs else None
        if src is None or uses[src.output] != 1 or id(src) in dropped:
            continue
        if op.type == "PIXEL_SHUFFLE" and op.mode == 0 and src.type == "CHANNEL_SHUFFLE" and \
                src.groups == op.stride[0] ** 2:
            op.mode, op.inputs = 2, [src.inputs[0]]
            dropped.add(id(src))
        elif op.type == "CHANNEL_SHUFFLE" and src.type == "PIXEL_SHUFFLE" and src.mode == 1 and \
                op.groups == g.tensors[src.inputs[0]].shape[0]:
            src.mode = 3
            rename[op.output] = src.output
            dropped.add(id(op))
    g.ops = [op for op in g.ops if id(op) not in dropped]
    g.output = rename.get(g.output, g.output)
    g.outputs = [rename.get(t, t) for t in g.outputs]
    return g


def fuse_activations(g: Graph) -> Graph:
    uses, producer = _readers(g)
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
