"""Run an int8 graph (format version 4) with the Python integer reference, op by op (docs/INTEGER.md).

`run_int8(graph, x)` is the reference the C runtime's `lr_run_i8` equals bit for bit, and, on graphs
imported from TFLite, TFLite Micro's result. Every op reads its integers from `Op.iparams` and the
tensors' zero points; nothing is derived from a float here. A fused `Op.activation` is informational in
an int8 graph: the clamp [act_min, act_max] is the activation.
"""

from __future__ import annotations

import numpy as np

from linrep_edge.errors import LinRepError
from linrep_edge.format.ir import Graph, IntParams, Op
from linrep_edge.integer import ops, ops_geo

WEIGHTED = ("CONV2D", "LINEAR")
MOVES = ("RESHAPE", "TRANSPOSE_HWC", "CONCAT", "PAD", "SLICE", "CHANNEL_SHUFFLE", "PIXEL_SHUFFLE")
ACTIVATIONS = ("SIGMOID", "HARDSWISH", "TANH", "RELU", "RELU6", "CLAMP", "LEAKY_RELU", "PRELU", "SILU",
               "HARDSIGMOID", "UNARY")  # elementwise activations with an int8 form (docs/INTEGER.md §6)


def _iparams(op: Op) -> IntParams:
    if op.iparams is None:
        raise LinRepError(f"op {op.name!r} ({op.type}) of an int8 graph has no integer parameters")
    return op.iparams


def _weight_q(graph: Graph, op: Op) -> np.ndarray:
    c = graph.constants[op.weight]
    if c.q is None:
        raise LinRepError(f"op {op.name!r} ({op.type}): its weight has no int8 integers")
    return c.q


def _extra(op: Op, n: int, what: str) -> list[int]:
    p = _iparams(op)
    if p.extra is None or len(p.extra) < n:
        raise LinRepError(f"op {op.name!r}: an int8 {op.type} needs {what} in its integer parameters")
    return [int(v) for v in p.extra[:n]]


def activation_s8(graph: Graph, op: Op, x: np.ndarray, batched: bool = False) -> np.ndarray:
    """An elementwise activation (ACTIVATIONS) of an int8 graph on x (one image, or a batch: `batched`)."""
    p = _iparams(op)
    zp_in = graph.tensors[op.inputs[0]].zero_point
    if op.type == "UNARY":  # the packer's table (format version 7)
        if p.table is None or len(p.table) != 256:
            raise LinRepError(f"op {op.name!r}: an int8 UNARY needs its 256-entry table")
        return ops.unary_s8(x, p.table)
    if op.type in ("SIGMOID", "TANH"):
        (radius,) = _extra(op, 1, "the input radius")
        fn = ops.sigmoid_s8 if op.type == "SIGMOID" else ops.tanh_s8
        return fn(x, zp_in, int(p.multiplier[0]), int(p.shift[0]), radius)
    if op.type in ("RELU", "RELU6", "CLAMP"):  # one multiplier (requantising) or none (quantised alike)
        if len(p.multiplier) > 1:
            raise LinRepError(f"op {op.name!r}: an int8 {op.type} has one multiplier or none")
        m = int(p.multiplier[0]) if len(p.multiplier) else None
        s = int(p.shift[0]) if len(p.shift) else 0
        return ops.clamp_s8(x, zp_in, graph.tensors[op.output].zero_point, m, s, p.act_min, p.act_max)
    if op.type == "SILU":  # LOGISTIC then MUL: [logistic, mul] multipliers, qparams [radius]
        (radius,) = _extra(op, 1, "the logistic input radius")
        if len(p.multiplier) != 2:
            raise LinRepError(f"op {op.name!r}: an int8 SILU needs two multipliers (logistic, mul)")
        m, s = [int(v) for v in p.multiplier], [int(v) for v in p.shift]
        return ops.silu_s8(x, zp_in, graph.tensors[op.output].zero_point, m[0], s[0], radius, m[1], s[1])
    if op.type == "PRELU":  # [identity, alpha]; qparams [slope zero point, int8 slopes (1 or C)]
        if len(p.multiplier) != 2 or p.extra is None or len(p.extra) < 2:
            raise LinRepError(f"op {op.name!r}: an int8 PRELU needs two multipliers and its int8 slopes")
        m, s = [int(v) for v in p.multiplier], [int(v) for v in p.shift]
        return ops.prelu_s8(x, zp_in, graph.tensors[op.output].zero_point, m[0], s[0], m[1], s[1], int(p.extra[0]),
                            p.extra[1:], 1 if batched else 0)
    if op.type == "LEAKY_RELU":  # [identity, alpha]
        if len(p.multiplier) != 2:
            raise LinRepError(f"op {op.name!r}: an int8 LEAKY_RELU needs two multipliers (identity, alpha)")
        m, s = [int(v) for v in p.multiplier], [int(v) for v in p.shift]
        return ops.leaky_relu_s8(x, zp_in, graph.tensors[op.output].zero_point, m[0], s[0], m[1], s[1])
    if op.type in ("HARDSWISH", "HARDSIGMOID"):  # [output, reluish]
        if len(p.multiplier) != 2:
            raise LinRepError(f"op {op.name!r}: an int8 {op.type} needs two multipliers (output, reluish)")
        m, s = [int(v) for v in p.multiplier], [int(v) for v in p.shift]
        fn = ops.hardswish_s8 if op.type == "HARDSWISH" else ops.hardsigmoid_s8
        return fn(x, zp_in, graph.tensors[op.output].zero_point, m[0], s[0], m[1], s[1])
    raise LinRepError(f"op {op.name!r}: type {op.type} has no integer form (docs/INTEGER.md)")


def run_op(graph: Graph, op: Op, ins: list[np.ndarray], conv_path: str = "direct") -> np.ndarray:
    """One op of an int8 graph on one image: its inputs (without the batch axis) to its output."""
    t = op.type
    zp = [graph.tensors[i].zero_point for i in op.inputs]
    out = graph.tensors[op.output]
    x = ins[0]
    if t in WEIGHTED:
        p = _iparams(op)
        w = _weight_q(graph, op)
        if t == "CONV2D":
            return ops.conv2d_s8(x, w, p.bias, p.multiplier, p.shift, zp[0], out.zero_point, p.act_min, p.act_max,
                                 op.stride, op.pads, op.dilation, op.groups)
        return ops.linear_s8(x, w, p.bias, p.multiplier, p.shift, zp[0], out.zero_point, p.act_min, p.act_max)
    if t == "LINREP_CONV2D":
        from linrep_edge.integer.linrep import linrep_conv2d_s8  # int8-linrep's module

        return linrep_conv2d_s8(graph, op, x, conv_path)
    if t in ("ADD", "SUB"):  # SUB: TFLite's, ADD's integers
        p = _iparams(op)
        return ops.add_s8(x, ins[1], zp[0], zp[1], out.zero_point, p.multiplier, p.shift, p.act_min, p.act_max,
                          subtract=t == "SUB")
    if t in ("MAX_POOL2D", "AVG_POOL2D", "ADAPTIVE_AVG_POOL2D"):
        lo, hi = (op.iparams.act_min, op.iparams.act_max) if op.iparams is not None else (-128, 127)
        if t == "MAX_POOL2D":
            return ops.max_pool2d_s8(x, op.kernel, op.stride, op.pads, lo, hi, op.dilation)
        if t == "ADAPTIVE_AVG_POOL2D":
            p = op.iparams
            if p is not None and len(p.multiplier) == 1:  # TFLite's MEAN (an imported .tflite): bins all alike
                return ops.mean_s8(x, op.kernel, zp[0], out.zero_point, int(p.multiplier[0]), int(p.shift[0]), lo, hi)
            return ops.adaptive_avg_pool2d_s8(x, op.kernel, lo, hi)
        return ops.avg_pool2d_s8(x, op.kernel, op.stride, op.pads, lo, hi, bool(op.count_include_pad), zp[0])
    if t == "SOFTMAX":
        p = _iparams(op)
        if p.extra is None or len(p.extra) < 1:
            raise LinRepError(f"op {op.name!r}: an int8 SOFTMAX needs diff_min in its integer parameters")
        return ops.softmax_s8(x, int(p.multiplier[0]), int(p.shift[0]), int(p.extra[0]))
    if t in ACTIVATIONS:
        return activation_s8(graph, op, x)
    if t == "RESHAPE":
        return ops.reshape_s8(x, out.shape)
    if t == "TRANSPOSE_HWC":
        return ops.transpose_hwc_s8(x)
    if t == "CONCAT":
        return ops.concat_s8(ins)
    if t == "PAD":
        return ops.pad_s8(x, op.pads, zp[0], op.mode)
    if t == "SLICE":
        return ops.slice_s8(x, op.start, out.shape[0])
    if t == "CHANNEL_SHUFFLE":
        return ops.channel_shuffle_s8(x, op.groups)
    if t == "PIXEL_SHUFFLE":
        return ops.pixel_shuffle_s8(x, op.stride[0], op.mode)
    if t in GEO_OPS:
        return run_geo(graph, op, ins)
    raise LinRepError(f"op {op.name!r}: type {t} has no integer form (docs/INTEGER.md)")


GEO_OPS = ("MUL", "AFFINE", "RESIZE", "CONV_TRANSPOSE2D")


def run_geo(graph: Graph, op: Op, ins: list[np.ndarray]) -> np.ndarray:
    """MUL, AFFINE, RESIZE, CONV_TRANSPOSE2D of an int8 graph (`ops_geo`)."""
    t = op.type
    zp = [graph.tensors[i].zero_point for i in op.inputs]
    out = graph.tensors[op.output]
    x = ins[0]
    if t == "RESIZE":
        if op.mode in (0, 3):
            return ops_geo.resize_nearest_s8(x, out.shape[1:], op.mode == 3)
        return ops_geo.resize_bilinear_s8(x, out.shape[1:], op.mode == 2)
    p = _iparams(op)
    if t == "MUL":
        return ops_geo.mul_s8(x, ins[1], zp[0], zp[1], out.zero_point, int(p.multiplier[0]), int(p.shift[0]),
                              p.act_min, p.act_max)
    if op.linrep is not None:  # LinRep transposed conv: its integer kernels (direct path)
        from linrep_edge.integer.linrep import conv_transpose_kernel_integers

        w = conv_transpose_kernel_integers(graph, op)
    else:
        w = _weight_q(graph, op)
    if t == "AFFINE":
        return ops_geo.affine_s8(x, w, p.bias, p.multiplier, p.shift, zp[0], out.zero_point, p.act_min, p.act_max)
    return ops_geo.conv_transpose2d_s8(x, w, p.bias, p.multiplier, p.shift, zp[0], out.zero_point, p.act_min,
                                       p.act_max, op.stride, op.pads, op.dilation, op.groups, out.shape[1:])


def run_int8(graph: Graph, x: np.ndarray, *, conv_path: str = "direct",
             trace: bool = False) -> list[np.ndarray]:
    """The int8 results of `graph` for one int8 input x (the input tensor's shape, no batch dimension):
    one array per `graph.results` tensor in order; with `trace`, every tensor's value, indexed by
    tensor id. `conv_path` ("direct" or "reuse") chooses how LINREP_CONV2D ops compute their sums (the
    results are equal)."""
    if not graph.is_int8:
        raise LinRepError("run_int8 needs an int8 graph (format version 4)")
    if conv_path not in ("direct", "reuse"):
        raise LinRepError(f"conv_path must be 'direct' or 'reuse', not {conv_path!r}")
    shape = graph.tensors[graph.input].shape
    x = np.asarray(x)
    if x.dtype != np.int8 or x.shape != shape:
        raise LinRepError(f"run_int8 input must be int8 of shape {shape}, got {x.dtype} {x.shape}")
    vals: dict[int, np.ndarray] = {graph.input: x}
    for op in graph.ops:
        y = run_op(graph, op, [vals[i] for i in op.inputs], conv_path)
        expected = graph.tensors[op.output].shape
        if y.dtype != np.int8 or y.shape != expected:
            raise LinRepError(f"op {op.name!r} ({op.type}) produced {y.dtype} {y.shape}, the graph says "
                              f"int8 {expected}")
        vals[op.output] = y
    if trace:
        return [vals[i] if i in vals else np.zeros(t.shape, np.int8) for i, t in enumerate(graph.tensors)]
    return [vals[i] for i in graph.results]
