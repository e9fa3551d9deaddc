"""Integer LinRep convolution (docs/INTEGER.md §3), the Python reference the C runtime equals bit for bit.

A LinRep layer of an int8 graph holds int8 templates t_q (one scale s_T per codebook), integer a_q, b_q
with per-output-channel scales s_a[o], s_b[o] = s_a[o]·s_T·2^e[o] (e = `LinRepWeights.b_exponent`), and
the op's integers (`Op.iparams`: int32 bias, Q31 multiplier and shift per output channel, output clamp).
The kernel of (o, i) as integers is

    W[o,i,k] = a_q·t_q[idx, k]·2^max(0, −e[o]) + b_q·2^max(0, e[o])       (pruned kernels: 0)

and both execution paths compute the same exact accumulator
acc[o](p) = bias[o] + Σ_{i,k} W[o,i,k]·(x[i, p+k] − zp_in) (padding taps contribute 0), then
y = clamp(MBQM(acc, M[o], s[o]) + zp_out, act_min, act_max):

- `direct`: W rebuilt, then the dense sum;
- `reuse`: R[i, j](p) = Σ_k t_q[j,k]·(x[i, p+k] − zp_in) for each template j input channel i uses and the
  box sum S[i](p) = Σ_k (x[i, p+k] − zp_in), combined as Σ_i a_q·2^max(0,−e)·R[i, idx] + b_q·2^max(0,e)·S[i].

Every sum here is done in int64 and is exact; `accumulator_bound_ok` is the check (packer and verifier)
that it also fits int32 on either path in any order.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from linrep_edge.format.ir import Graph, Op
from linrep_edge.integer import arith

INT32_LIMIT = 1 << 31
INPUT_SPAN = 255  # |x − zp_in| <= 255 for int8 x and zero point in [−128, 127]


def _parts(graph: Graph, op: Op) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(a_q·2^max(0,−e), b_q·2^max(0,e), idx, t_q, mask) of a LinRep op of an int8 graph, int64; pruned
    kernels have a and b zero."""
    lr = op.linrep
    if op.type != "LINREP_CONV2D" or lr is None:
        raise ValueError(f"op {op.name!r} is not a LINREP_CONV2D")
    cb = graph.codebooks[lr.codebook]
    if cb.q is None or lr.a_q is None or lr.b_q is None or lr.b_exponent is None:
        raise ValueError(f"op {op.name!r}: not an integer LinRep layer (needs t_q, a_q, b_q, b_exponent)")
    e = np.asarray(lr.b_exponent, dtype=np.int64)[:, None]
    mask = np.ones(lr.idx.shape, dtype=bool) if lr.mask is None else np.asarray(lr.mask, dtype=bool)
    a = np.where(mask, np.asarray(lr.a_q, dtype=np.int64) << np.maximum(0, -e), 0)
    b = np.where(mask, np.asarray(lr.b_q, dtype=np.int64) << np.maximum(0, e), 0)
    return a, b, np.asarray(lr.idx, dtype=np.int64), np.asarray(cb.q, dtype=np.int64), mask


def kernel_integers(graph: Graph, op: Op) -> np.ndarray:
    """int64 W[o, i, kh, kw] of docs/INTEGER.md §3 (pruned kernels 0)."""
    a, b, idx, t, _ = _parts(graph, op)
    return a[..., None, None] * t[idx] + b[..., None, None]


def weight_scale(graph: Graph, op: Op) -> np.ndarray:
    """s_w[o] = s_a[o]·s_T·2^−max(0, −e[o]) (float64): the real weight is W·s_w[o]."""
    lr = op.linrep
    assert lr is not None and lr.a_scale is not None and lr.b_exponent is not None
    s_t = float(np.float32(graph.codebooks[lr.codebook].scale))
    e = np.asarray(lr.b_exponent, dtype=np.int64)
    return lr.a_scale.astype(np.float64) * s_t * np.exp2(-np.maximum(0, -e)).astype(np.float64)


def ab_scales_from_multipliers(graph: Graph, op: Op) -> tuple[np.ndarray, np.ndarray]:
    """(s_a, s_b) float32 [rows] of an integer LinRep op of an int8 graph, recovered from its requantisation
    multipliers: the packer folds s_a into M·2^(shift−31) = s_in·s_a·s_T·2^−max(0,−e)/s_out (`quantize.
    _weighted_params`; a LinRep CONV_TRANSPOSE2D has one s_a and one multiplier for the layer), so format
    version 5 does not store them. M carries 31 bits, s_a 24: the float32 rounding of the double recovered
    here is the packer's s_a exactly (a multiplier of 0 gives 0). s_b = s_a·s_T·2^e as the packer computes it
    (`scheme.linrep_ab_quant`, then float32)."""
    lr, ip = op.linrep, op.iparams
    if lr is None or ip is None or lr.b_exponent is None or len(ip.multiplier) == 0:
        raise ValueError(f"op {op.name!r}: not an integer LinRep layer with multipliers")
    s_in = float(np.float32(graph.tensors[op.inputs[0]].scale))
    s_out = float(np.float32(graph.tensors[op.output].scale))
    s_t = float(np.float32(graph.codebooks[lr.codebook].scale))
    rows = lr.idx.shape[0]
    e = np.asarray(lr.b_exponent, dtype=np.int64)
    mult = np.asarray(ip.multiplier, dtype=np.float64)
    shift = np.asarray(ip.shift, dtype=np.float64)
    if op.type == "CONV_TRANSPOSE2D":  # one scale, exponent and multiplier for the layer, stored per row
        mult, shift, e = mult[:1], shift[:1], e[:1]
    real = mult * np.exp2(shift - 31.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_a = real * s_out / (s_in * s_t) * np.exp2(np.maximum(0, -e)).astype(np.float64)
    s_a = np.where(np.isfinite(s_a), s_a, 0.0).astype(np.float32)
    s_b = (s_a.astype(np.float64) * s_t * np.exp2(e.astype(np.float64))).astype(np.float32)
    if op.type == "CONV_TRANSPOSE2D":
        s_a, s_b = np.repeat(s_a, rows), np.repeat(s_b, rows)
    return s_a, s_b


def accumulator_bounds(graph: Graph, op: Op, bias: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel, the largest |partial sum| either path can reach (int64), with |x − zp_in| <= 255:
    direct |bias| + 255·Σ|W|; reuse |bias| + 255·Σ_i (|a'|·Σ_k|t_q[idx]| + |b'|·kh·kw) (a' = a_q·2^max(0,−e),
    b' = b_q·2^max(0,e)), which also bounds every R and S term. `bias` defaults to the op's iparams.bias."""
    a, b, idx, t, _ = _parts(graph, op)
    if bias is None:
        assert op.iparams is not None and op.iparams.bias is not None
        bias = op.iparams.bias
    bias_abs = np.abs(np.asarray(bias, dtype=np.int64))
    w = kernel_integers(graph, op)
    direct = bias_abs + INPUT_SPAN * np.abs(w).reshape(w.shape[0], -1).sum(1)
    t_abs = np.abs(t).reshape(t.shape[0], -1).sum(1)  # Σ_k |t_q[j, k]|
    taps = int(t.shape[1] * t.shape[2])
    reuse = bias_abs + INPUT_SPAN * (np.abs(a) * t_abs[idx] + np.abs(b) * taps).sum(1)
    return direct, reuse


def accumulator_bound_ok(graph: Graph, op: Op, bias: np.ndarray | None = None) -> bool:
    """Whether every partial sum of the op fits int32 on both paths, in any order (docs/INTEGER.md §3,
    overflow bound): the reuse bound (which is >= the direct one) below 2^31 for every output channel."""
    direct, reuse = accumulator_bounds(graph, op, bias)
    return bool((direct < INT32_LIMIT).all() and (reuse < INT32_LIMIT).all())


def _shifted_input(x: np.ndarray, zp_in: int, pads: tuple[int, int, int, int]) -> np.ndarray:
    """x − zp_in as int64 [C, H, W] with the padding taps 0 (a padded tap is the zero point)."""
    top, left, bottom, right = pads
    xs = np.asarray(x, dtype=np.int64) - int(zp_in)
    return np.pad(xs, ((0, 0), (top, bottom), (left, right)))


def _windows(xs: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
             dilation: tuple[int, int]) -> np.ndarray:
    """[C, OH, OW, kh, kw] views of a padded input."""
    kh, kw = kernel
    (sh, sw), (dh, dw) = stride, dilation
    win = sliding_window_view(xs, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(1, 2))
    return win[:, ::sh, ::sw, ::dh, ::dw]


def conv_accumulators(x: np.ndarray, w: np.ndarray, bias: np.ndarray, zp_in: int, stride: tuple[int, int],
                      pads: tuple[int, int, int, int], dilation: tuple[int, int], groups: int) -> np.ndarray:
    """The exact int64 acc[o, oy, ox] = bias[o] + Σ w[o,i,k]·(x − zp_in) of an integer conv (x int8
    [C, H, W], w integer [Cout, C/groups, kh, kw]); padding taps contribute 0."""
    w = np.asarray(w, dtype=np.int64)
    cout, cin_g, kh, kw = w.shape
    win = _windows(_shifted_input(x, zp_in, pads), (kh, kw), stride, dilation)
    cout_g = cout // groups
    outs = []
    for g in range(groups):
        xg = win[g * cin_g:(g + 1) * cin_g]  # [cin_g, OH, OW, kh, kw]
        wg = w[g * cout_g:(g + 1) * cout_g]
        outs.append(np.einsum("ihwyx,oiyx->ohw", xg, wg))
    return np.concatenate(outs, 0) + np.asarray(bias, dtype=np.int64)[:, None, None]


def _reuse_accumulators(graph: Graph, op: Op, x: np.ndarray, zp_in: int) -> np.ndarray:
    """acc by template reuse: R[i, j] for the templates each input channel uses, S[i], then the combination."""
    a, b, idx, t, mask = _parts(graph, op)
    assert op.iparams is not None and op.iparams.bias is not None
    cout, cin_g = idx.shape
    kh, kw = t.shape[1:]
    win = _windows(_shifted_input(x, zp_in, op.pads), (kh, kw), op.stride, op.dilation)  # [C, OH, OW, kh, kw]
    box = win.sum(axis=(3, 4))  # S[i](p)
    cout_g = cout // op.groups
    acc = np.broadcast_to(np.asarray(op.iparams.bias, dtype=np.int64)[:, None, None],
                          (cout, *box.shape[1:])).copy()
    for c in range(win.shape[0]):  # input channel c: every template it is convolved with, once
        g, i = divmod(c, cin_g)
        rows = np.arange(g * cout_g, (g + 1) * cout_g)
        used = np.unique(idx[rows, i][mask[rows, i]])
        if used.size == 0:
            continue
        r = np.einsum("hwyx,jyx->jhw", win[c], t[used])  # R[c, j](p) for the used j
        pos = {int(j): n for n, j in enumerate(used)}
        for o in rows:
            if not mask[o, i]:
                continue
            acc[o] += a[o, i] * r[pos[int(idx[o, i])]] + b[o, i] * box[c]
    return acc


def requantize(acc: np.ndarray, op: Op, zp_out: int) -> np.ndarray:
    """y = clamp(MBQM(acc, M[o], s[o]) + zp_out, act_min, act_max) as int8, per output channel (axis 0)."""
    ip = op.iparams
    assert ip is not None
    shape = (-1,) + (1,) * (acc.ndim - 1)
    m = np.broadcast_to(np.asarray(ip.multiplier, dtype=np.int64), (acc.shape[0],)).reshape(shape)
    s = np.broadcast_to(np.asarray(ip.shift, dtype=np.int64), (acc.shape[0],)).reshape(shape)
    y = arith.multiply_by_quantized_multiplier(acc, m, s) + int(zp_out)
    return arith.saturate_int8(y, ip.act_min, ip.act_max)


def linrep_conv2d_s8(graph: Graph, op: Op, x: np.ndarray, path: str = "direct") -> np.ndarray:
    """The int8 output [Cout, OH, OW] of a LinRep op of an int8 graph for the int8 input x [C, H, W]."""
    zp_in = graph.tensors[op.inputs[0]].zero_point
    zp_out = graph.tensors[op.output].zero_point
    assert op.iparams is not None and op.iparams.bias is not None
    if path == "direct":
        acc = conv_accumulators(x, kernel_integers(graph, op), op.iparams.bias, zp_in, op.stride, op.pads,
                                op.dilation, op.groups)
    elif path == "reuse":
        acc = _reuse_accumulators(graph, op, x, zp_in)
    else:
        raise ValueError(f"conv path must be 'direct' or 'reuse', got {path!r}")
    return requantize(acc, op, zp_out)


# -- a LinRep CONV_TRANSPOSE2D of an int8 graph (docs/INTEGER.md §3: one a scale and one exponent per layer) --

def conv_transpose_kernel_integers(graph: Graph, op: Op) -> np.ndarray:
    """int64 W[i, j, kh, kw] of a LinRep CONV_TRANSPOSE2D over its grid (Cin, Cout/groups): a_q·t_q[idx]·2^max(0,−e)
    + b_q·2^max(0,e) with e = b_exponent of the kernel's output channel o = (i // cin_g)·cout_g + j (pruned
    kernels 0)."""
    lr = op.linrep
    if op.type != "CONV_TRANSPOSE2D" or lr is None:
        raise ValueError(f"op {op.name!r} is not a LinRep CONV_TRANSPOSE2D")
    cb = graph.codebooks[lr.codebook]
    if cb.q is None or lr.a_q is None or lr.b_q is None or lr.b_exponent is None:
        raise ValueError(f"op {op.name!r}: not an integer LinRep layer (needs t_q, a_q, b_q, b_exponent)")
    cin, cout_g = lr.idx.shape
    cin_g = cin // op.groups
    e = np.asarray(lr.b_exponent, dtype=np.int64).reshape(op.groups, cout_g)[np.arange(cin) // cin_g]  # [Cin, cout_g]
    mask = np.ones(lr.idx.shape, dtype=bool) if lr.mask is None else np.asarray(lr.mask, dtype=bool)
    a = np.where(mask, np.asarray(lr.a_q, dtype=np.int64) << np.maximum(0, -e), 0)
    b = np.where(mask, np.asarray(lr.b_q, dtype=np.int64) << np.maximum(0, e), 0)
    return a[..., None, None] * np.asarray(cb.q, dtype=np.int64)[np.asarray(lr.idx, dtype=np.int64)] + b[..., None, None]
