"""An fp32 IR graph → an int8 IR graph (format version 4, docs/INTEGER.md), TFLite-style post-training
quantisation with calibration inputs.

- Activation ranges: min/max of every tensor over the calibration inputs (the fp32 graph run by
  `GraphModel.trace`), or a percentile; tensors that must share one quantisation (the ops that only move
  bytes, pools) share the union of their ranges; SOFTMAX and SIGMOID outputs are 1/256, −128, TANH's
  1/128, 0 (TFLite's).
- Dense CONV2D / LINEAR: int8 weights per output channel (`method.quantize.quantize_int8_weights`), int32
  bias at scale s_in·s_w[o].
- LINREP_CONV2D: int8 templates with one scale per codebook, a/b integers of `ab_bits` bits with
  per-output-channel scales and the power-of-two exponent (`scheme.py`); the accumulator bound is checked.
- MUL: one multiplier s0·s1 / s_out; AFFINE: a depthwise 1×1 conv (int8 weight per channel, int32 bias);
  CONV_TRANSPOSE2D: dense int8 per output channel, or LinRep with one a scale and one exponent for the layer;
  RESIZE shares its input's quantisation.
- Every multiplier, shift and clamp with `linrep_edge.integer.arith` as docs/INTEGER.md says.
Ops without an int8 form are refused, naming them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from linrep_edge.errors import LinRepError
from linrep_edge.format.fb.Unary import Unary
from linrep_edge.format.ir import Constant, Graph, IntParams, Op
from linrep_edge.integer import arith, ops
from linrep_edge.integer.linrep import accumulator_bounds, weight_scale
from linrep_edge.integer.scheme import activation_qparams, bias_floor, linrep_ab_quant, template_quant
from linrep_edge.method.quantize import quantize_int8_weights

WEIGHTED = ("CONV2D", "LINREP_CONV2D", "LINEAR")
GEO = ("MUL", "AFFINE", "CONV_TRANSPOSE2D")  # their integers: _geo_params
SAME_QUANT = ("MAX_POOL2D", "AVG_POOL2D", "ADAPTIVE_AVG_POOL2D", "RESHAPE", "TRANSPOSE_HWC", "SLICE", "CONCAT", "PAD",
              "RESIZE", "CHANNEL_SHUFFLE", "PIXEL_SHUFFLE")
ACTIVATIONS = ("SIGMOID", "HARDSWISH", "TANH", "RELU", "RELU6", "CLAMP", "LEAKY_RELU", "PRELU", "SILU",
               "HARDSIGMOID", "UNARY")  # elementwise, with TFLite's int8 arithmetic (docs/INTEGER.md §6)
SUPPORTED = (*WEIGHTED, "ADD", "SUB", "SOFTMAX", *GEO, *ACTIVATIONS, *SAME_QUANT)
# outputs whose quantisation TFLite fixes, whatever the calibration says: (scale, zero point)
FIXED_OUTPUT = {"SOFTMAX": (1.0 / 256.0, -128), "SIGMOID": (1.0 / 256.0, -128), "TANH": (1.0 / 128.0, 0)}
ADD_LEFT_SHIFT = 20
SOFTMAX_INT_BITS = 5  # TFLite's kScaledDiffIntegerBits
MUL_MAX_SHIFT = 15  # |(x0 − zp0)·(x1 − zp1)| ≤ 255² = 65,025 stays below 2^31 shifted left by at most 15


@dataclass
class Ranges:
    lo: np.ndarray  # per tensor id, float64
    hi: np.ndarray


def check_supported(graph: Graph) -> None:
    """Refuse every op without an int8 form, and every join of outputs TFLite quantises differently, naming each."""
    bad = [f"{op.name or '?'} ({op.type}{', fused ' + op.activation if op.activation not in ('NONE', 'RELU', 'RELU6') else ''})"
           for op in graph.ops
           if op.type not in SUPPORTED or op.activation not in ("NONE", "RELU", "RELU6")]
    bad += _fixed_quant(graph, _groups(graph))[1]
    if bad:
        raise LinRepError("no int8 form for: " + ", ".join(bad))


@torch.no_grad()
def calibrate(graph: Graph, calibration: np.ndarray, percentile: float = 100.0, batch: int = 500) -> Ranges:
    """min/max (or the `percentile` and 100 − percentile) of every tensor over the calibration inputs."""
    from linrep_edge.graph.executor import GraphModel

    gm = GraphModel(graph).eval()
    x = torch.from_numpy(np.ascontiguousarray(calibration, dtype=np.float32))
    n = len(graph.tensors)
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    samples: dict[int, list[np.ndarray]] = {t: [] for t in range(n)}
    for start in range(0, len(x), batch):
        for t, v in gm.trace(x[start:start + batch]).items():
            if percentile >= 100.0:
                lo[t], hi[t] = min(lo[t], float(v.min())), max(hi[t], float(v.max()))
            else:
                samples[t].append(v.flatten().numpy())
    if percentile < 100.0:
        for t, parts in samples.items():
            if parts:
                allv = np.concatenate(parts)
                lo[t], hi[t] = np.percentile(allv, 100.0 - percentile), np.percentile(allv, percentile)
    return Ranges(lo, hi)


def _groups(graph: Graph) -> list[int]:
    """Union-find root per tensor: tensors of one root share their quantisation."""
    parent = list(range(len(graph.tensors)))

    def find(t: int) -> int:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for op in graph.ops:
        if op.type in SAME_QUANT:
            for t in op.inputs:
                parent[find(t)] = find(op.output)
    return [find(t) for t in range(len(graph.tensors))]


def _fixed_quant(graph: Graph, roots: list[int]) -> tuple[dict[int, tuple[float, int]], list[str]]:
    """The quantisation TFLite fixes (SOFTMAX, SIGMOID, TANH outputs) per group root, and every pair of ops
    whose fixed outputs are joined into one group with different ones (concat, pool, reshape ...)."""
    fixed: dict[int, tuple[float, int]] = {}
    fixer: dict[int, Op] = {}
    conflicts: list[str] = []
    for op in graph.ops:
        if op.type in FIXED_OUTPUT:
            r = roots[op.output]
            if r in fixed and fixed[r] != FIXED_OUTPUT[op.type]:
                conflicts.append(f"{fixer[r].name or '?'} ({fixer[r].type}) and {op.name or '?'} ({op.type}) outputs "
                                 "joined (concat, pool, reshape ...) though TFLite fixes them to different "
                                 "quantisations")
                continue
            fixed[r], fixer[r] = FIXED_OUTPUT[op.type], op
    return fixed, conflicts


def assign_tensor_quant(graph: Graph, ranges: Ranges) -> None:
    """Every tensor int8 with its scale and zero point (in place)."""
    roots = _groups(graph)
    lo: dict[int, float] = {}
    hi: dict[int, float] = {}
    for t, r in enumerate(roots):
        if np.isfinite(ranges.lo[t]):
            lo[r] = min(lo.get(r, 0.0), float(ranges.lo[t]))
            hi[r] = max(hi.get(r, 0.0), float(ranges.hi[t]))
    fixed, conflicts = _fixed_quant(graph, roots)
    if conflicts:
        raise LinRepError(conflicts[0] + ": no int8 form")
    for t, tensor in enumerate(graph.tensors):
        tensor.dtype = "int8"
        if roots[t] in fixed:  # the tensors joined to a fixed output share its quantisation
            tensor.scale, tensor.zero_point = fixed[roots[t]]
        else:
            tensor.scale, tensor.zero_point = activation_qparams(lo.get(roots[t], 0.0), hi.get(roots[t], 0.0))


def act_range(op: Op, scale: float, zp: int) -> tuple[int, int]:
    """The output clamp of a fused activation (docs/INTEGER.md §0)."""
    if op.activation == "RELU":
        return max(zp, -128), 127
    if op.activation == "RELU6":
        return max(zp, -128), min(127, zp + int(round(6.0 / scale)))
    return -128, 127


def _multipliers(reals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [arith.quantize_multiplier(float(r)) for r in reals]
    return (np.array([m for m, _ in pairs], dtype=np.int32), np.array([s for _, s in pairs], dtype=np.int32))


def _bias_i32(graph: Graph, op: Op, bias_scale: np.ndarray) -> np.ndarray:
    cout = bias_scale.shape[0]
    if op.bias < 0:
        return np.zeros(cout, dtype=np.int32)
    b = graph.constants[op.bias].values.astype(np.float64).reshape(-1)
    q = np.round(b / bias_scale)
    return np.clip(q, arith.INT32_MIN, arith.INT32_MAX).astype(np.int32)


def _quantize_codebooks(graph: Graph, used: set[int]) -> None:
    for c in used:
        cb = graph.codebooks[c]
        t_q, s_t = template_quant(torch.from_numpy(cb.templates.astype(np.float32)))
        cb.q = t_q.numpy().astype(np.int8)
        cb.scale = s_t
        cb.dtype = "int8"
        cb.templates = (cb.q.astype(np.float32) * np.float32(s_t)).astype(np.float32)


def _quantize_linrep(graph: Graph, op: Op, ab_bits: int, fit_int16: bool = True) -> np.ndarray:
    """Integer a/b of a LinRep op (in place; fit_int16: every W within int16, scheme.py); returns s_w[o]
    (float64)."""
    lr = op.linrep
    assert lr is not None
    cb = graph.codebooks[lr.codebook]
    mask = np.ones(lr.idx.shape, dtype=bool) if lr.mask is None else lr.mask
    a = torch.from_numpy(np.where(mask, lr.a, 0.0).astype(np.float32))
    b = torch.from_numpy(np.where(mask, lr.b, 0.0).astype(np.float32))
    floor = bias_floor(graph.constants[op.bias].values if op.bias >= 0 else None,
                       graph.tensors[op.inputs[0]].scale, cb.scale)
    a_q, s_a, b_q, e, s_b = linrep_ab_quant(a, b, cb.scale, ab_bits, fit_int16=fit_int16, floor=floor)
    lr.set_quantized(a_q.numpy(), s_a.numpy(), b_q.numpy(), s_b.numpy().astype(np.float32))
    lr.ab_bits = ab_bits
    lr.b_exponent = e.numpy().astype(np.int64)
    return weight_scale(graph, op)


def _widen_scales_for_bias(graph: Graph, op: Op, c: Constant, real_w: np.ndarray, s_in: float) -> None:
    """TFLite's rule for a channel whose bias over s_in·s_w would not fit in int32 (weights near zero: a dead
    channel, e.g. MLPerf Tiny's VWW model has one with max |w| 9e-31 and bias -0.26): its weight scale becomes
    |bias| / (s_in·2^30), and its weights are quantised again with it (to 0 on a dead channel)."""
    if op.bias < 0:
        return
    b = np.abs(graph.constants[op.bias].values.astype(np.float64).reshape(-1))
    need = (b / (float(np.float32(s_in)) * 2.0 ** 30)).astype(np.float32)
    wide = need > c.scale
    if not wide.any():
        return
    scale = np.where(wide, need, c.scale).astype(np.float32)
    shape = (-1,) + (1,) * (real_w.ndim - 1)
    q = np.clip(np.round(real_w.astype(np.float64) / scale.reshape(shape)), -127, 127).astype(np.int8)
    c.q = np.where(wide.reshape(shape), q, c.q)
    c.scale = scale
    c.values = (c.q.astype(np.float32) * scale.reshape(shape)).astype(np.float32)


def _weighted_params(graph: Graph, op: Op, ab_bits: int, fit_int16: bool = True) -> IntParams:
    s_in = graph.tensors[op.inputs[0]].scale
    out = graph.tensors[op.output]
    if op.type == "LINREP_CONV2D":
        s_w = _quantize_linrep(graph, op, ab_bits, fit_int16)
        # real = s_in·s_a·s_T·2^−max(0,−e) / s_out, in double from the float32 scales (TFLite's way)
        lr = op.linrep
        assert lr is not None and lr.a_scale is not None and lr.b_exponent is not None
        s_t = graph.codebooks[lr.codebook].scale
        reals = np.array([arith.requant_scale(s_in, float(sa), s_t, divide_by=out.scale) * 2.0 ** -max(0, -int(e))
                          for sa, e in zip(lr.a_scale, lr.b_exponent)])
    else:
        c = graph.constants[op.weight]
        real_w = c.values
        c.q, c.scale, c.values = quantize_int8_weights(real_w)
        _widen_scales_for_bias(graph, op, c, real_w, s_in)
        c.dtype = "int8"
        s_w = c.scale.astype(np.float64)
        reals = np.array([arith.requant_scale(s_in, float(sw), divide_by=out.scale) for sw in c.scale])
    bias_scale = np.array([float(np.float32(s_in)) * float(np.float32(sw)) for sw in s_w])
    bias = _bias_i32(graph, op, bias_scale)
    if op.bias >= 0:  # the constant holds what the integers mean
        graph.constants[op.bias].values = (bias.astype(np.float64) * bias_scale).astype(np.float32)
        graph.constants[op.bias].dtype = "fp32"
    mult, shift = _multipliers(reals)
    lo, hi = act_range(op, out.scale, out.zero_point)
    ip = IntParams(mult, shift, lo, hi, bias=bias)
    if op.type == "LINREP_CONV2D":
        _, reuse = accumulator_bounds(graph, op, bias)
        if (reuse >= 1 << 31).any():
            raise LinRepError(f"layer {op.name!r}: the integer LinRep accumulator can exceed int32 "
                              f"(bound {int(reuse.max())} >= 2^31); use fewer a/b bits")
    else:
        w_abs = np.abs(graph.constants[op.weight].q.astype(np.int64)).reshape(bias.shape[0], -1).sum(1)
        if (np.abs(bias.astype(np.int64)) + 255 * w_abs >= 1 << 31).any():
            raise LinRepError(f"layer {op.name!r}: the int8 accumulator can exceed int32")
    return ip


def _add_params(graph: Graph, op: Op) -> IntParams:
    s0, s1 = (float(np.float32(graph.tensors[t].scale)) for t in op.inputs)
    out = graph.tensors[op.output]
    twice_max = 2.0 * max(s0, s1)
    reals = [s0 / twice_max, s1 / twice_max, twice_max / ((1 << ADD_LEFT_SHIFT) * float(np.float32(out.scale)))]
    pairs = [arith.quantize_multiplier_smaller_than_one(r) for r in reals]
    lo, hi = act_range(op, out.scale, out.zero_point)
    return IntParams(np.array([m for m, _ in pairs], dtype=np.int32), np.array([s for _, s in pairs], dtype=np.int32),
                     lo, hi)


def _softmax_params(graph: Graph, op: Op) -> IntParams:
    """TFLite's PreprocessSoftmaxScaling (beta = 1) and CalculateInputRadius."""
    s_in = float(np.float32(graph.tensors[op.inputs[0]].scale))
    real = min(s_in * float(1 << (31 - SOFTMAX_INT_BITS)), float((1 << 31) - 1))
    mult, shift = arith.quantize_multiplier(real)
    radius = ((1 << SOFTMAX_INT_BITS) - 1) * float(1 << (31 - SOFTMAX_INT_BITS)) / float(1 << shift)
    diff_min = -int(math.floor(radius))
    return IntParams(np.array([mult], dtype=np.int32), np.array([shift], dtype=np.int32), -128, 127,
                     extra=np.array([diff_min], dtype=np.int32))


# -- MUL, AFFINE, CONV_TRANSPOSE2D (docs/INTEGER.md §2) --------------------------------------------------------

def _mul_params(graph: Graph, op: Op) -> IntParams:
    """TFLite's int8 MUL: one multiplier from s0·s1 / s_out (double from the float32 scales)."""
    s0, s1 = (graph.tensors[t].scale for t in op.inputs)
    out = graph.tensors[op.output]
    m, shift = arith.quantize_multiplier(arith.requant_scale(s0, s1, divide_by=out.scale))
    if shift > MUL_MAX_SHIFT:
        raise LinRepError(f"op {op.name!r}: MUL output scale {out.scale} too small for its inputs' scales "
                          f"(left shift {shift} > {MUL_MAX_SHIFT}: the product would overflow int32)")
    lo, hi = act_range(op, out.scale, out.zero_point)
    return IntParams(np.array([m], np.int32), np.array([shift], np.int32), lo, hi)


def _transpose_rows(w: np.ndarray, groups: int) -> np.ndarray:
    """A transposed conv's weight [Cin, Cout/g, kh, kw] as [Cout, Cin/g, kh, kw] (output channel first), and
    back (the same permutation applied to a [Cout, Cin/g, ...] array gives [Cin, Cout/g, ...])."""
    a, b = w.shape[:2]
    rows = w.reshape(groups, a // groups, b, *w.shape[2:]).swapaxes(1, 2)
    return np.ascontiguousarray(rows.reshape(b * groups, a // groups, *w.shape[2:]))


def _linrep_transpose_params(graph: Graph, op: Op, ab_bits: int, fit_int16: bool) -> IntParams:
    """A LinRep CONV_TRANSPOSE2D: integer a/b with ONE a scale and ONE exponent for the whole layer (its grid is
    (Cin, Cout/g) while the requantisation is per output channel: a per-row scale could not be folded in), stored
    per row as the format has it; b_exponent [Cout] all equal; one multiplier; the accumulator bound per output
    channel (docs/INTEGER.md §3)."""
    from linrep_edge.integer.linrep import conv_transpose_kernel_integers

    lr = op.linrep
    assert lr is not None
    s_in, out = graph.tensors[op.inputs[0]].scale, graph.tensors[op.output]
    s_t = graph.codebooks[lr.codebook].scale
    mask = np.ones(lr.idx.shape, dtype=bool) if lr.mask is None else lr.mask
    a = torch.from_numpy(np.where(mask, lr.a, 0.0).astype(np.float32)).reshape(1, -1)
    b = torch.from_numpy(np.where(mask, lr.b, 0.0).astype(np.float32)).reshape(1, -1)
    floor = bias_floor(graph.constants[op.bias].values if op.bias >= 0 else None, s_in, s_t, one_scale=True)
    a_q, s_a, b_q, e, s_b = linrep_ab_quant(a, b, s_t, ab_bits, fit_int16=fit_int16, floor=floor)
    rows = lr.idx.shape[0]
    lr.set_quantized(a_q.numpy().reshape(lr.idx.shape), np.repeat(s_a.numpy(), rows),
                     b_q.numpy().reshape(lr.idx.shape), np.repeat(s_b.numpy().astype(np.float32), rows))
    lr.ab_bits = ab_bits
    lr.b_exponent = np.full(op.out_channels, int(e[0]), dtype=np.int64)
    e0 = int(e[0])
    s_w = float(np.float32(s_a[0])) * float(np.float32(s_t)) * 2.0 ** -max(0, -e0)
    bias = _bias_i32(graph, op, np.full(op.out_channels, float(np.float32(s_in)) * float(np.float32(s_w))))
    if op.bias >= 0:
        graph.constants[op.bias].values = (bias.astype(np.float64) * float(np.float32(s_in)) * float(np.float32(s_w))
                                           ).astype(np.float32)
        graph.constants[op.bias].dtype = "fp32"
    mult, shift = _multipliers(np.array([arith.requant_scale(s_in, float(s_a[0]), s_t, divide_by=out.scale)
                                         * 2.0 ** -max(0, -e0)]))
    w = conv_transpose_kernel_integers(graph, op)  # [Cin, cout_g, kh, kw]
    per = np.abs(_transpose_rows(w, op.groups)).reshape(op.out_channels, -1).sum(1)
    if (np.abs(bias.astype(np.int64)) + 255 * per >= 1 << 31).any():
        raise LinRepError(f"layer {op.name!r}: the integer LinRep accumulator can exceed int32; use fewer a/b bits")
    lo, hi = act_range(op, out.scale, out.zero_point)
    return IntParams(mult, shift, lo, hi, bias=bias)


def _geo_params(graph: Graph, op: Op, ab_bits: int = 0, fit_int16: bool = True) -> IntParams:
    """MUL's multiplier; AFFINE (a depthwise 1×1 conv) and dense CONV_TRANSPOSE2D: int8 weights per output
    channel, int32 bias at s_in·s_w[o], one multiplier per output channel, the accumulator bound."""
    if op.type == "MUL":
        return _mul_params(graph, op)
    if op.linrep is not None:
        return _linrep_transpose_params(graph, op, ab_bits, fit_int16)
    s_in = graph.tensors[op.inputs[0]].scale
    out = graph.tensors[op.output]
    c = graph.constants[op.weight]
    if op.type == "AFFINE":
        q, scale, deq = quantize_int8_weights(c.values.reshape(-1, 1))
        c.q, c.scale, c.values = q.reshape(c.values.shape), scale, deq.reshape(c.values.shape)
        per = np.abs(c.q.astype(np.int64)).reshape(-1)
    else:
        rows = _transpose_rows(c.values, op.groups)
        q, scale, deq = quantize_int8_weights(rows)
        c.q, c.scale, c.values = _transpose_rows(q, op.groups), scale, _transpose_rows(deq, op.groups)
        per = np.abs(q.astype(np.int64)).reshape(q.shape[0], -1).sum(1)
    c.dtype = "int8"
    bias_scale = np.array([float(np.float32(s_in)) * float(np.float32(sw)) for sw in c.scale])
    bias = _bias_i32(graph, op, bias_scale)
    if op.bias >= 0:
        graph.constants[op.bias].values = (bias.astype(np.float64) * bias_scale).astype(np.float32).reshape(
            graph.constants[op.bias].values.shape)
        graph.constants[op.bias].dtype = "fp32"
    mult, shift = _multipliers(np.array([arith.requant_scale(s_in, float(sw), divide_by=out.scale) for sw in c.scale]))
    if (np.abs(bias.astype(np.int64)) + 255 * per >= 1 << 31).any():
        raise LinRepError(f"layer {op.name!r}: the int8 accumulator can exceed int32")
    lo, hi = act_range(op, out.scale, out.zero_point)
    return IntParams(mult, shift, lo, hi, bias=bias)


# -- elementwise activations (docs/INTEGER.md §6) ---------------------------------------------------------------

def prelu_slopes(alpha: np.ndarray) -> tuple[np.ndarray, float]:
    """PReLU slopes as int8 with one symmetric scale (zero point 0): (a_q, scale), scale = max|α| / 127 (float32;
    1/127 when every slope is 0)."""
    a = np.asarray(alpha, np.float32).reshape(-1)
    s = float(np.float32(np.abs(a).max() / np.float32(127.0))) if np.abs(a).max() > 0 else float(np.float32(1 / 127))
    return np.clip(np.round(a / np.float32(s)), -127, 127).astype(np.int64), s


def _activation_params(graph: Graph, op: Op) -> IntParams:
    """The integers of an elementwise activation (docs/INTEGER.md §6), as TFLite's Prepare fixes them."""
    s_in = graph.tensors[op.inputs[0]].scale
    empty = np.zeros(0, dtype=np.int32)
    if op.type in ("SIGMOID", "TANH"):  # TFLite's LOGISTIC / TANH: the input rescaled into Q4.27, its radius
        try:
            mult, shift, radius = arith.input_rescale_params(s_in, 4)
        except ValueError as exc:
            raise LinRepError(f"op {op.name!r} ({op.type}): {exc}") from None
        return IntParams(np.array([mult], dtype=np.int32), np.array([shift], dtype=np.int32),
                         extra=np.array([radius], dtype=np.int32))
    if op.type in ("RELU", "RELU6", "CLAMP"):  # TFLite's int8 RELU: requantise, then clamp to the bounds
        out = graph.tensors[op.output]
        mult, shift = arith.quantize_multiplier(arith.requant_scale(s_in, divide_by=out.scale))
        lo, hi = {"RELU": (0.0, math.inf), "RELU6": (0.0, 6.0)}.get(op.type, (op.alpha, op.beta))
        act_min, act_max = arith.clamp_range(lo, hi, out.scale, out.zero_point)
        if shift > 23:
            raise LinRepError(f"op {op.name!r} ({op.type}): input/output scales {s_in}/{out.scale} need a left "
                              f"shift of {shift} (at most 23: 255 · 2^shift must fit int32)")
        return IntParams(np.array([mult], dtype=np.int32), np.array([shift], dtype=np.int32), act_min, act_max)
    if op.type == "HARDSIGMOID":  # ours: HARD_SWISH's reluish value, requantised (docs/INTEGER.md §6.8)
        try:
            om, os_, rm, re_ = arith.hardsigmoid_params(s_in, graph.tensors[op.output].scale)
        except ValueError as exc:
            raise LinRepError(f"op {op.name!r} (HARDSIGMOID): {exc}") from None
        return IntParams(np.array([om, rm], dtype=np.int32), np.array([os_, re_], dtype=np.int32))
    if op.type == "SILU":  # TFLite's LOGISTIC then MUL (docs/INTEGER.md §6.7)
        try:
            ml, sl, radius, mm, sm = arith.silu_params(s_in, graph.tensors[op.output].scale)
        except ValueError as exc:
            raise LinRepError(f"op {op.name!r} (SILU): {exc}") from None
        return IntParams(np.array([ml, mm], dtype=np.int32), np.array([sl, sm], dtype=np.int32),
                         extra=np.array([radius], dtype=np.int32))
    if op.type == "PRELU":  # TFLite's PRELU: int8 slopes (symmetric, one scale), [identity, alpha] multipliers
        c = graph.constants[op.weight]
        a_q, s_a = prelu_slopes(c.values)
        c.values = (a_q.astype(np.float32) * np.float32(s_a)).astype(np.float32)  # what the integers mean
        try:
            m1, s1, m2, s2 = arith.prelu_params(s_in, s_a, graph.tensors[op.output].scale)
        except ValueError as exc:
            raise LinRepError(f"op {op.name!r} (PRELU): {exc}") from None
        return IntParams(np.array([m1, m2], dtype=np.int32), np.array([s1, s2], dtype=np.int32),
                         extra=np.concatenate([[0], a_q]).astype(np.int32))
    if op.type == "LEAKY_RELU":  # TFLite's LEAKY_RELU: [identity, alpha] multipliers
        try:
            mi, si, ma, sa = arith.leaky_relu_params(s_in, op.alpha, graph.tensors[op.output].scale)
        except ValueError as exc:
            raise LinRepError(f"op {op.name!r} (LEAKY_RELU): {exc}") from None
        return IntParams(np.array([mi, ma], dtype=np.int32), np.array([si, sa], dtype=np.int32))
    if op.type == "HARDSWISH":  # TFLite's HARD_SWISH: [output, reluish] int16 multipliers and exponents
        try:
            out_m, out_e, rel_m, rel_e = arith.hardswish_params(s_in, graph.tensors[op.output].scale)
        except ValueError as exc:
            raise LinRepError(f"op {op.name!r} (HARDSWISH): {exc}") from None
        return IntParams(np.array([out_m, rel_m], dtype=np.int32), np.array([out_e, rel_e], dtype=np.int32))
    if op.type == "UNARY":
        out = graph.tensors[op.output]
        return unary_params(op, s_in, graph.tensors[op.inputs[0]].zero_point, out.scale, out.zero_point)
    return IntParams(empty.copy(), empty.copy())


def unary_params(op: Op, s_in: float, zp_in: int, s_out: float, zp_out: int) -> IntParams:
    """A UNARY op's integers: TFLite's lookup table (as its int8 GELU and ELU build it), the function at every input
    byte (in float64 rounded once to float32; GELU's tanh form in float32 as TFLite computes it)."""
    from linrep_edge.graph.executor import unary_f32

    x32 = ops.unary_inputs(s_in, zp_in)
    if op.mode == Unary.GELU_TANH:  # TFLite evaluates this form in float32, step by step: the same roundings
        c, k, half, one = np.float32(np.sqrt(2.0 / np.pi)), np.float32(0.044715), np.float32(0.5), np.float32(1.0)
        f = half * x32 * (one + np.tanh(c * (x32 + k * x32 * x32 * x32)))
    else:  # its exact GELU in double (erf of a double), ELU by expm1: the float64 value rounded once
        f = unary_f32(op, torch.from_numpy(x32.astype(np.float64))).numpy().astype(np.float32)
    empty = np.zeros(0, dtype=np.int32)
    return IntParams(empty.copy(), empty.copy(), table=ops.unary_table(f, s_out, zp_out))


def fill_int_params(graph: Graph, ab_bits: int, layer_bits: dict[str, int] | None = None,
                    fit_int16: bool = True) -> None:
    """Every op's IntParams (in place) once the tensors carry their quantisation; LinRep layers named in
    `layer_bits` get their own a/b width; fit_int16: every LinRep kernel weight within int16 (scheme.py)."""
    layer_bits = layer_bits or {}
    _quantize_codebooks(graph, {op.linrep.codebook for op in graph.ops if op.linrep is not None})
    empty = np.zeros(0, dtype=np.int32)
    for op in graph.ops:
        if op.type in WEIGHTED:
            op.iparams = _weighted_params(graph, op, layer_bits.get(op.name, ab_bits), fit_int16)
        elif op.type in ("ADD", "SUB"):  # TFLite's SUB: ADD's integers
            op.iparams = _add_params(graph, op)
        elif op.type == "SOFTMAX":
            op.iparams = _softmax_params(graph, op)
        elif op.type in GEO:
            op.iparams = _geo_params(graph, op, layer_bits.get(op.name, ab_bits), fit_int16)
        elif op.type in ACTIVATIONS:
            op.iparams = _activation_params(graph, op)
        else:
            op.iparams = IntParams(empty.copy(), empty.copy())


def quantize_graph(graph: Graph, calibration: np.ndarray, ab_bits: int = 0, percentile: float = 100.0,
                   ranges: Ranges | None = None, layer_bits: dict[str, int] | None = None,
                   fit_int16: bool = True) -> Graph:
    """An int8 copy of the fp32 graph: `calibration` (N, *input_shape) float32 inputs fix the activation
    ranges (or pass `ranges`); `ab_bits` (2..8) the width of integer a/b (0: each layer's own `ab_bits`,
    which must then be set), `layer_bits` a width per LinRep layer name that differs; `fit_int16` (the
    default) keeps every LinRep kernel weight within int16 (one plane on the C direct path, scheme.py)."""
    check_supported(graph)
    if graph.is_int8:
        raise LinRepError("the graph is already int8")
    g = copy.deepcopy(graph)
    names = [op.name for op in g.ops if op.linrep is not None]
    unknown = sorted(set(layer_bits or {}) - set(names))
    if unknown:
        raise LinRepError(f"no LinRep layer named {', '.join(unknown)} (LinRep layers: {', '.join(names)})")
    for op in g.ops:
        if op.linrep is not None:
            bits = (layer_bits or {}).get(op.name, ab_bits or op.linrep.ab_bits)
            if bits not in range(2, 9):
                raise LinRepError(f"layer {op.name!r}: int8 LinRep needs integer a/b (ab_bits 2..8), got {bits}")
    if ranges is None:
        ranges = calibrate(graph, calibration, percentile)
    assign_tensor_quant(g, ranges)
    _fill_with_bits(g, ab_bits, layer_bits, fit_int16)
    g.metadata = {**g.metadata, "activations": "int8"}
    return g


def _fill_with_bits(g: Graph, ab_bits: int, layer_bits: dict[str, int] | None, fit_int16: bool = True) -> None:
    if ab_bits:
        fill_int_params(g, ab_bits, layer_bits, fit_int16)
        return
    bits = {op.linrep.ab_bits for op in g.ops if op.linrep is not None}
    if len(bits) > 1:
        raise LinRepError(f"LinRep layers have different a/b widths {sorted(bits)}: pass ab_bits")
    fill_int_params(g, bits.pop() if bits else 0, layer_bits, fit_int16)
