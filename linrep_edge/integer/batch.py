"""A batched evaluator of an int8 graph, for accuracy over a whole test set: the integer arithmetic of
docs/INTEGER.md on [N, ...] arrays. Convolutions and linears run as torch float64 products of integers —
exact, since the accumulator bound (< 2^31) keeps every partial sum far below 2^53 — and the
requantisation with `linrep_edge.integer.arith` in int64. It equals the per-image reference
(`executor.run_int8`, `linrep.linrep_conv2d_s8`) bit for bit (tests/test_int8_quantize.py).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from linrep_edge.errors import LinRepError
from linrep_edge.format.ir import Graph, Op
from linrep_edge.integer import arith, ops
from linrep_edge.integer.executor import ACTIVATIONS, activation_s8, run_op
from linrep_edge.integer.linrep import kernel_integers


def _mbqm(x: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """arith.multiply_by_quantized_multiplier for multipliers in [0, 2^31) (never INT32_MIN, so SRDHM cannot
    saturate), with shifts in place of the division: the same integers, several times faster on big batches."""
    ab = (x << np.maximum(s, 0)) * m
    num = ab + np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    high = np.where(num >= 0, num >> 31, -((-num) >> 31))  # C's truncating division by 2^31
    e = np.maximum(-s, 0)
    mask = (np.int64(1) << e) - 1
    return (high >> e) + ((high & mask) > ((mask >> 1) + (high < 0))).astype(np.int64)


def _requant(acc: np.ndarray, op: Op, zp_out: int) -> np.ndarray:
    ip = op.iparams
    assert ip is not None
    c = acc.shape[1]
    shape = (1, c) + (1,) * (acc.ndim - 2)
    m = np.broadcast_to(np.asarray(ip.multiplier, np.int64), (c,)).reshape(shape)
    s = np.broadcast_to(np.asarray(ip.shift, np.int64), (c,)).reshape(shape)
    if (m < 0).any():
        return arith.saturate_int8(arith.multiply_by_quantized_multiplier(acc, m, s) + zp_out, ip.act_min, ip.act_max)
    return arith.saturate_int8(_mbqm(acc, m, s) + zp_out, ip.act_min, ip.act_max)


def _conv(g: Graph, op: Op, x: np.ndarray) -> np.ndarray:
    w = kernel_integers(g, op) if op.type == "LINREP_CONV2D" else g.constants[op.weight].q.astype(np.int64)
    assert op.iparams is not None and op.iparams.bias is not None
    top, left, bottom, right = op.pads
    xs = torch.from_numpy(x.astype(np.float64) - g.tensors[op.inputs[0]].zero_point)
    xs = F.pad(xs, (left, right, top, bottom))
    acc = F.conv2d(xs, torch.from_numpy(w.astype(np.float64)), torch.from_numpy(op.iparams.bias.astype(np.float64)),
                   op.stride, 0, op.dilation, op.groups)
    return _requant(acc.numpy().astype(np.int64), op, g.tensors[op.output].zero_point)


def _linear(g: Graph, op: Op, x: np.ndarray) -> np.ndarray:
    assert op.iparams is not None and op.iparams.bias is not None
    w = g.constants[op.weight].q.astype(np.float64)
    xs = x.reshape(x.shape[0], -1).astype(np.float64) - g.tensors[op.inputs[0]].zero_point
    acc = xs @ w.T + op.iparams.bias.astype(np.float64)
    return _requant(acc.astype(np.int64), op, g.tensors[op.output].zero_point)


def _add(g: Graph, op: Op, x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    ip = op.iparams
    assert ip is not None
    m, s = ip.multiplier.astype(np.int64), ip.shift.astype(np.int64)
    if x1.shape != x0.shape:  # one value per channel ([C, 1, 1] or [C]): TFLite's broadcast ADD
        x1 = x1.reshape(x1.shape[0], -1, *([1] * (x0.ndim - 2)))
    parts = []
    for k, x in enumerate((x0, x1)):
        v = (x.astype(np.int64) - g.tensors[op.inputs[k]].zero_point) << 20
        parts.append(_mbqm(v, m[k], np.minimum(s[k], 0)))  # shift <= 0: MBQM smaller than one
    y = _mbqm(parts[0] - parts[1] if op.type == "SUB" else parts[0] + parts[1], m[2], np.minimum(s[2], 0))
    return arith.saturate_int8(y + g.tensors[op.output].zero_point, ip.act_min, ip.act_max)


def _round_div(total: np.ndarray, n: np.ndarray) -> np.ndarray:
    """(sum ± n/2) / n with C's truncating division (TFLite's average pool)."""
    half = n // 2
    pos = (total + half) // n
    neg = -((-total + half) // n)
    return np.where(total > 0, pos, neg)


def _avg(g: Graph, op: Op, x: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    xt = torch.from_numpy(x.astype(np.float64))
    ip = op.iparams
    if op.type == "ADAPTIVE_AVG_POOL2D" and ip is not None and len(ip.multiplier) == 1:  # TFLite's MEAN
        return ops.mean_s8(x, out_hw, g.tensors[op.inputs[0]].zero_point, g.tensors[op.output].zero_point,
                           int(ip.multiplier[0]), int(ip.shift[0]), ip.act_min, ip.act_max)
    if op.type == "ADAPTIVE_AVG_POOL2D":
        h, w = x.shape[2:]
        oh, ow = out_hw
        total = np.zeros((*x.shape[:2], oh, ow), np.int64)
        n = np.zeros((1, 1, oh, ow), np.int64)
        for i in range(oh):
            y0, y1 = (i * h) // oh, -((-(i + 1) * h) // oh)
            for j in range(ow):
                x0, x1 = (j * w) // ow, -((-(j + 1) * w) // ow)
                total[:, :, i, j] = x[:, :, y0:y1, x0:x1].astype(np.int64).sum(axis=(2, 3))
                n[0, 0, i, j] = (y1 - y0) * (x1 - x0)
    else:
        top, left, bottom, right = op.pads
        pad = (left, right, top, bottom)
        # padding counted: its taps are the input zero point (real zero) and count (ops.avg_pool2d_s8)
        inc = bool(op.count_include_pad)
        fill = float(g.tensors[op.inputs[0]].zero_point) if inc else 0.0
        total = F.avg_pool2d(F.pad(xt, pad, value=fill), op.kernel, op.stride, 0,
                             divisor_override=1).numpy().astype(np.int64)
        ones = F.pad(torch.ones((1, 1, *x.shape[2:]), dtype=torch.float64), pad, value=1.0 if inc else 0.0)
        n = F.avg_pool2d(ones, op.kernel, op.stride, 0, divisor_override=1).numpy().astype(np.int64)
    ip = op.iparams
    lo, hi = (ip.act_min, ip.act_max) if ip is not None else (-128, 127)
    return arith.saturate_int8(_round_div(total, n), lo, hi)


def _max(op: Op, x: np.ndarray) -> np.ndarray:
    top, left, bottom, right = op.pads
    xt = F.pad(torch.from_numpy(x.astype(np.float64)), (left, right, top, bottom), value=float("-inf"))
    y = F.max_pool2d(xt, op.kernel, op.stride, 0, op.dilation).numpy().astype(np.int64)
    ip = op.iparams
    lo, hi = (ip.act_min, ip.act_max) if ip is not None else (-128, 127)
    return arith.saturate_int8(y, lo, hi)


def run_int8_batch(graph: Graph, x: np.ndarray) -> list[np.ndarray]:
    """int8 results [N, *shape] (one per `graph.results` tensor) for int8 inputs x [N, *input shape]."""
    if not graph.is_int8:
        raise LinRepError("run_int8_batch needs an int8 graph")
    vals: dict[int, np.ndarray] = {graph.input: np.asarray(x, np.int8).reshape(x.shape[0], *graph.tensors[graph.input].shape)}
    for op in graph.ops:
        ins = [vals[t] for t in op.inputs]
        out_shape = graph.tensors[op.output].shape
        if op.type in ("CONV2D", "LINREP_CONV2D"):
            y = _conv(graph, op, ins[0])
        elif op.type == "LINEAR":
            y = _linear(graph, op, ins[0])
        elif op.type in ("ADD", "SUB"):
            y = _add(graph, op, ins[0], ins[1])
        elif op.type in ("AVG_POOL2D", "ADAPTIVE_AVG_POOL2D"):
            y = _avg(graph, op, ins[0], out_shape[1:])
        elif op.type == "MAX_POOL2D":
            y = _max(op, ins[0])
        elif op.type == "RESHAPE":
            y = ins[0].reshape(ins[0].shape[0], *out_shape)
        elif op.type in ACTIVATIONS:  # elementwise: the per-image arithmetic on the whole batch
            y = activation_s8(graph, op, ins[0], batched=True)
        else:  # MUL, AFFINE, RESIZE, CONV_TRANSPOSE2D, SOFTMAX, moves: the per-image reference, image by image
            y = np.stack([run_op(graph, op, [v[n] for v in ins]) for n in range(ins[0].shape[0])])
        vals[op.output] = y
    return [vals[t] for t in graph.results]


def quantize_input(graph: Graph, x: np.ndarray) -> np.ndarray:
    """float inputs → int8 with the input tensor's scale and zero point (round half to even, clamped)."""
    t = graph.tensors[graph.input]
    q = np.round(np.asarray(x, np.float64) / float(np.float32(t.scale))) + t.zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize_outputs(graph: Graph, outs: list[np.ndarray]) -> list[np.ndarray]:
    """int8 results (in `graph.results` order) → float64 with each output tensor's scale and zero point."""
    return [(q.astype(np.float64) - graph.tensors[t].zero_point) * float(np.float32(graph.tensors[t].scale))
            for q, t in zip(outs, graph.results)]


def int8_accuracy(graph: Graph, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    """Top-1 accuracy of an int8 graph on float inputs x [N, ...] with labels y, in integer arithmetic."""
    correct = 0
    for start in range(0, len(x), batch):
        out = run_int8_batch(graph, quantize_input(graph, x[start:start + batch]))[0]
        correct += int((out.reshape(out.shape[0], -1).argmax(1) == np.asarray(y[start:start + batch])).sum())
    return correct / max(len(x), 1)
