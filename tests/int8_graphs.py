"""Small random int8 graphs (format version 4), one per op kind, for the C-vs-Python integer tests and
the hostile blobs: random shapes, strides, pads, dilations, groups, zero points and clamps, every integer
fixed as docs/INTEGER.md says (multipliers from `arith`). Needs numpy only.

`build(kind, seed)` returns a Graph whose every tensor is int8 and every op has its IntParams.
"""

from __future__ import annotations

import numpy as np

from linrep_edge.format.ir import Codebook, Constant, Graph, IntParams, LinRepWeights, Op, Tensor
from linrep_edge.integer import arith

KINDS = ("conv", "depthwise", "grouped", "linear", "add", "max_pool", "avg_pool", "adaptive_avg_pool",
         "softmax", "softmax_channels", "reshape", "transpose_hwc", "slice", "concat", "pad", "linrep",
         "linrep_masked", "chain", "mean", "sigmoid", "hardswish", "tanh", "relu", "relu6", "clamp", "relu6_alike",
         "leaky_relu", "prelu", "prelu_one", "silu", "hardsigmoid", "add_channel", "add_channel_flat", "avg_pool_pad",
         "channel_shuffle", "pad_border", "unary", "sub", "sub_channel", "pixel_shuffle", "mean_channels")
ACTIVATION_KINDS = {"sigmoid": "SIGMOID", "hardswish": "HARDSWISH", "tanh": "TANH", "relu": "RELU", "relu6": "RELU6",
                    "clamp": "CLAMP", "relu6_alike": "RELU6", "leaky_relu": "LEAKY_RELU", "prelu": "PRELU",
                    "prelu_one": "PRELU", "silu": "SILU", "hardsigmoid": "HARDSIGMOID",
                    "unary": "UNARY"}  # elementwise activations (docs/INTEGER.md §6)
GEO_KINDS = ("mul", "mul_channel", "mul_features", "mul_pixel", "mul_pixel_max", "affine", "affine_features",
             "resize_nearest", "resize_nearest_any", "resize_bilinear",
             "resize_align", "conv_transpose", "conv_transpose_grouped", "linrep_conv_transpose",
             "linrep_conv_transpose_masked")  # _geo below
KINDS = KINDS + GEO_KINDS
EMPTY = np.zeros(0, dtype=np.int32)


def _tensor(rng: np.random.Generator, shape: tuple[int, ...], like: Tensor | None = None) -> Tensor:
    if like is not None:
        return Tensor(tuple(shape), dtype="int8", scale=like.scale, zero_point=like.zero_point)
    return Tensor(tuple(shape), dtype="int8", scale=float(np.float32(rng.uniform(0.005, 0.1))),
                  zero_point=int(rng.integers(-40, 40)))


def _clamp(rng: np.random.Generator, zp: int) -> tuple[int, int]:
    r = rng.integers(0, 3)
    if r == 0:
        return -128, 127
    if r == 1:
        return max(zp, -128), 127  # fused ReLU
    return int(rng.integers(-128, 0)), int(rng.integers(0, 128))


def _mults(reals: list[float]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [arith.quantize_multiplier(r) for r in reals]
    return np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32)


def _fit_out_scale(g: Graph, op: Op, w_int: np.ndarray, s_w: np.ndarray) -> None:
    """Output scale such that typical accumulators land well inside int8 (few saturated outputs)."""
    w = np.asarray(w_int, dtype=np.float64).reshape(w_int.shape[0], -1)
    typical = float(np.sqrt((w ** 2).sum(1)).mean()) * 75.0 * float(np.mean(s_w)) * g.tensors[op.inputs[0]].scale
    g.tensors[op.output].scale = float(np.float32(max(typical, 1e-6) / 40.0))


def _weighted(rng: np.random.Generator, g: Graph, op: Op, w_q: np.ndarray) -> None:
    """int8 weights w_q [cout, ...] as op.weight with per-channel scales, an int32 bias, multipliers."""
    cout = w_q.shape[0]
    s_w = rng.uniform(0.002, 0.02, cout).astype(np.float32)
    g.constants.append(Constant((w_q.astype(np.float32) * s_w.reshape(-1, *[1] * (w_q.ndim - 1))).astype(np.float32),
                                "int8", w_q.astype(np.int8), s_w))
    op.weight = len(g.constants) - 1
    _fit_out_scale(g, op, w_q, s_w)
    s_in, out = g.tensors[op.inputs[0]].scale, g.tensors[op.output]
    per_channel = rng.integers(0, 4) > 0
    reals = [arith.requant_scale(s_in, float(s), divide_by=out.scale) for s in (s_w if per_channel else s_w[:1])]
    mult, shift = _mults(reals)
    lo, hi = _clamp(rng, out.zero_point)
    op.iparams = IntParams(mult, shift, lo, hi, bias=rng.integers(-3000, 3000, cout).astype(np.int32))


def _conv(rng: np.random.Generator, groups_kind: str) -> Graph:
    """A conv of `groups_kind` dense, grouped, depthwise or depthwise_wide (5 x 5 or 7 x 7 kernels, stride 1 or 2 both
    ways, dilation 1: the wide padded-plane kernel's shapes)."""
    cin = int(rng.integers(1, 5)) * (2 if groups_kind == "grouped" else 1)
    if groups_kind in ("depthwise", "depthwise_wide"):
        groups, cout = cin, cin * int(rng.integers(1, 3))
    elif groups_kind == "grouped":
        groups, cout = 2, 2 * int(rng.integers(1, 4))
    else:
        groups, cout = 1, int(rng.integers(1, 6))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dilation = (int(rng.integers(1, 3)), 1)
    pads = tuple(int(v) for v in rng.integers(0, 2, 4))
    h, w = int(rng.integers(5, 10)), int(rng.integers(5, 10))
    if groups_kind == "depthwise_wide":
        kh = kw = int(rng.choice([5, 7]))
        stride, dilation = (int(rng.integers(1, 3)),) * 2, (1, 1)
        pads = (kh // 2,) * 4
        h, w = int(rng.integers(8, 16)), int(rng.integers(8, 16))
    oh = (h + pads[0] + pads[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + pads[1] + pads[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    x = _tensor(rng, (cin, h, w))
    g = Graph([x, _tensor(rng, (cout, oh, ow))], 0, 1, [])
    op = Op("CONV2D", "conv", [0], 1, kernel=(kh, kw), stride=stride, pads=pads, dilation=dilation,  # type: ignore[arg-type]
            groups=groups, out_channels=cout)
    g.ops.append(op)
    _weighted(rng, g, op, rng.integers(-127, 128, (cout, cin // groups, kh, kw)))
    return g


def _linrep(rng: np.random.Generator, masked: bool) -> Graph:
    cin, cout, k = int(rng.integers(1, 5)), int(rng.integers(1, 7)), int(rng.integers(2, 6))
    groups = 1
    kh = kw = 3
    stride = (int(rng.integers(1, 3)),) * 2
    pads = (1, 1, 1, 1) if rng.integers(0, 2) else (0, 1, 0, 0)
    h, w = int(rng.integers(5, 10)), int(rng.integers(5, 10))
    oh = (h + pads[0] + pads[2] - kh) // stride[0] + 1
    ow = (w + pads[1] + pads[3] - kw) // stride[1] + 1
    x, y = _tensor(rng, (cin, h, w)), _tensor(rng, (cout, oh, ow))
    t_q = rng.integers(-127, 128, (k, kh, kw)).astype(np.int8)
    s_t = float(np.float32(rng.uniform(0.005, 0.02)))
    cb = Codebook((t_q.astype(np.float32) * np.float32(s_t)).astype(np.float32), "int8", q=t_q, scale=s_t)
    bits = int(rng.integers(2, 9))
    lim = 1 << (bits - 1)
    idx = rng.integers(0, k, (cout, cin))
    a_q, b_q = rng.integers(-lim, lim, (cout, cin)), rng.integers(-lim, lim, (cout, cin))
    mask = rng.random((cout, cin)) > 0.3 if masked else None
    if mask is not None:
        idx, a_q, b_q = np.where(mask, idx, 0), np.where(mask, a_q, 0), np.where(mask, b_q, 0)
    e = rng.integers(-3, 4, cout)
    s_a = rng.uniform(0.01, 0.1, cout).astype(np.float32)
    lr = LinRepWeights(0, idx.astype(np.int64), a_q.astype(np.float32), b_q.astype(np.float32), 0, bits, mask=mask)
    lr.set_quantized(a_q, s_a, b_q, (s_a.astype(np.float64) * s_t * np.exp2(e)).astype(np.float32))
    lr.b_exponent = e.astype(np.int64)
    op = Op("LINREP_CONV2D", "lr", [0], 1, kernel=(kh, kw), stride=stride, pads=pads, out_channels=cout, linrep=lr)  # type: ignore[arg-type]
    s_w = s_a.astype(np.float64) * s_t * np.exp2(-np.maximum(0, -e))
    w_int = a_q[..., None, None] * t_q.astype(np.int64)[idx] * np.exp2(np.maximum(0, -e))[:, None, None, None] + \
        (b_q * np.exp2(np.maximum(0, e))[:, None])[..., None, None]
    _fit_out_scale(Graph([x, y], 0, 1, []), op, w_int, s_w)
    # the packer's rule (quantize._weighted_params): float32 factors, the exponent's power of two after
    mult, shift = _mults([arith.requant_scale(x.scale, float(sa), s_t, divide_by=y.scale) * 2.0 ** -max(0, -int(eo))
                          for sa, eo in zip(s_a, e)])
    lo, hi = _clamp(rng, y.zero_point)
    op.iparams = IntParams(mult, shift, lo, hi, bias=rng.integers(-3000, 3000, cout).astype(np.int32))
    return Graph([x, y], 0, 1, [op], [], [cb])


def _linear(rng: np.random.Generator) -> Graph:
    f, out = int(rng.integers(1, 40)), int(rng.integers(1, 12))
    g = Graph([_tensor(rng, (f,)), _tensor(rng, (out,))], 0, 1, [])
    op = Op("LINEAR", "fc", [0], 1, out_channels=out)
    g.ops.append(op)
    _weighted(rng, g, op, rng.integers(-127, 128, (out, f)))
    return g


def _add(rng: np.random.Generator, op_type: str = "ADD") -> Graph:
    """x + y (or x - y: SUB, format version 7) of the input and a 1x1 conv of it."""
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 6))
    g = _conv1x1(rng, c, h, w)
    out = _tensor(rng, (c, h, w))
    g.tensors.append(out)
    g.ops.append(Op(op_type, op_type.lower(), [0, 1], 2, iparams=_add_params(rng, g, 0, 1, out)))
    g.output = 2
    return g


def _add_params(rng: np.random.Generator, g: Graph, a: int, b: int, out: Tensor) -> IntParams:
    """TFLite's ADD constants for inputs a, b into `out` (quantize.py's rule)."""
    s0, s1 = (float(np.float32(g.tensors[t].scale)) for t in (a, b))
    twice = 2.0 * max(s0, s1)
    pairs = [arith.quantize_multiplier_smaller_than_one(r)
             for r in (s0 / twice, s1 / twice, twice / ((1 << 20) * float(np.float32(out.scale))))]
    lo, hi = _clamp(rng, out.zero_point)
    return IntParams(np.array([m for m, _ in pairs], np.int32), np.array([s for _, s in pairs], np.int32), lo, hi)


def _add_channel(rng: np.random.Generator, flat: bool, op_type: str = "ADD") -> Graph:
    """x + gate, the gate one value per channel (squeeze-and-excitation style): a 1x1 conv of the input, its
    global average ([c, 1, 1], or reshaped to [c] when flat), and TFLite's broadcast ADD of the two (or SUB: the
    channel means taken off)."""
    c, h, w = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
    g = _conv1x1(rng, c, h, w)
    g.tensors.append(_tensor(rng, (c, 1, 1), g.tensors[0]))
    g.ops.append(Op("ADAPTIVE_AVG_POOL2D", "gate", [0], 2, kernel=(1, 1), iparams=IntParams(EMPTY.copy(), EMPTY.copy())))
    gate = 2
    if flat:
        g.tensors.append(_tensor(rng, (c,), g.tensors[0]))
        g.ops.append(Op("RESHAPE", "flat", [2], 3, iparams=IntParams(EMPTY.copy(), EMPTY.copy())))
        gate = 3
    out = _tensor(rng, (c, h, w))
    g.tensors.append(out)
    g.ops.append(Op(op_type, op_type.lower(), [1, gate], len(g.tensors) - 1,
                    iparams=_add_params(rng, g, 1, gate, out)))
    g.output = len(g.tensors) - 1
    return g


def _conv1x1(rng: np.random.Generator, c: int, h: int, w: int) -> Graph:
    """input [c, h, w] -> 1x1 conv to tensor 1 [c, h, w] (another quantisation)."""
    g = Graph([_tensor(rng, (c, h, w)), _tensor(rng, (c, h, w))], 0, 1, [])
    op = Op("CONV2D", "pw", [0], 1, out_channels=c)
    g.ops.append(op)
    _weighted(rng, g, op, rng.integers(-127, 128, (c, c, 1, 1)))
    return g


def _same(rng: np.random.Generator, kind: str) -> Graph:
    """Ops whose output is quantised as their input: pools and byte moves."""
    c, h, w = int(rng.integers(1, 5)), int(rng.integers(3, 9)), int(rng.integers(3, 9))
    x = _tensor(rng, (c, h, w))
    lo, hi = _clamp(rng, x.zero_point) if kind.endswith("pool") else (-128, 127)
    ip = IntParams(EMPTY.copy(), EMPTY.copy(), lo, hi)
    if kind in ("max_pool", "avg_pool", "avg_pool_pad"):
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        if kind == "avg_pool_pad":  # padding counted (torch's default): at least one pad
            k = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pads = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)),
                int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)))
        if kind == "avg_pool_pad":
            pads = (max(1, pads[0]), pads[1], pads[2], max(1, pads[3]))
        oh, ow = (h + pads[0] + pads[2] - k[0]) // s[0] + 1, (w + pads[1] + pads[3] - k[1]) // s[1] + 1
        op = Op("MAX_POOL2D" if kind == "max_pool" else "AVG_POOL2D", "", [0], 1, kernel=k, stride=s, pads=pads,
                count_include_pad=kind == "avg_pool_pad", iparams=ip)
        return Graph([x, _tensor(rng, (c, oh, ow), x)], 0, 1, [op])
    if kind == "adaptive_avg_pool":
        o = (int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1)))
        return Graph([x, _tensor(rng, (c, *o), x)], 0, 1, [Op("ADAPTIVE_AVG_POOL2D", "", [0], 1, kernel=o, iparams=ip)])
    if kind == "mean":  # TFLite's MEAN over H, W (an imported .tflite): one multiplier holding 1/(H·W)
        from linrep_edge.models.tflite_import import mean_params

        y = _tensor(rng, (c, 1, 1))
        mp = mean_params(x.scale, x.zero_point, y.scale, y.zero_point, h * w)
        mp.act_min, mp.act_max = _clamp(rng, y.zero_point)
        return Graph([x, y], 0, 1, [Op("ADAPTIVE_AVG_POOL2D", "", [0], 1, kernel=(1, 1), iparams=mp)])
    if kind == "mean_channels":  # TFLite's MEAN over the channels: [C, H, W] read as [1, C, H·W], to 1 × H·W
        from linrep_edge.models.tflite_import import mean_params

        c = int(rng.integers(2, 9))
        x = _tensor(rng, (c, h, w))
        y = _tensor(rng, (1, 1, h * w))
        mp = mean_params(x.scale, x.zero_point, y.scale, y.zero_point, c)
        mp.act_min, mp.act_max = _clamp(rng, y.zero_point)
        return Graph([x, _tensor(rng, (1, c, h * w), x), y, _tensor(rng, (1, h, w), y)], 0, 3,
                     [Op("RESHAPE", "plane", [0], 1, iparams=ip),
                      Op("ADAPTIVE_AVG_POOL2D", "mean", [1], 2, kernel=(1, h * w), iparams=mp),
                      Op("RESHAPE", "map", [2], 3, iparams=ip)])
    if kind == "reshape":
        return Graph([x, _tensor(rng, (c * h * w,), x)], 0, 1, [Op("RESHAPE", "", [0], 1, iparams=ip)])
    if kind == "transpose_hwc":
        return Graph([x, _tensor(rng, (c * h * w,), x)], 0, 1, [Op("TRANSPOSE_HWC", "", [0], 1, iparams=ip)])
    if kind == "slice":
        start = int(rng.integers(0, c))
        size = int(rng.integers(1, c - start + 1))
        return Graph([x, _tensor(rng, (size, h, w), x)], 0, 1, [Op("SLICE", "", [0], 1, start=start, iparams=ip)])
    if kind == "channel_shuffle":  # groups g dividing C = g * per
        groups, per = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        x = _tensor(rng, (groups * per, h, w))
        op = Op("CHANNEL_SHUFFLE", "", [0], 1, groups=groups, iparams=ip)
        return Graph([x, _tensor(rng, x.shape, x)], 0, 1, [op])
    if kind == "pixel_shuffle":  # format version 8: r = 1 .. 3, any of the four modes
        r, mode = int(rng.integers(1, 4)), int(rng.integers(0, 4))
        if mode % 2 == 0:  # depth to space
            x = _tensor(rng, (c * r * r, h, w))
            out = (c, h * r, w * r)
        else:
            x = _tensor(rng, (c, h * r, w * r))
            out = (c * r * r, h, w)
        op = Op("PIXEL_SHUFFLE", "", [0], 1, mode=mode, stride=(r, r), iparams=ip)
        return Graph([x, _tensor(rng, out, x)], 0, 1, [op])
    if kind == "pad_border":  # reflect (every pad below its axis' size) or replicate: format version 6
        mode = int(rng.integers(1, 3))
        hi = (h, w, h, w) if mode == 1 else (4, 4, 4, 4)
        pads = tuple(int(rng.integers(0, min(3, m))) if m > 1 else 0 for m in hi)
        y = _tensor(rng, (c, h + pads[0] + pads[2], w + pads[1] + pads[3]), x)
        return Graph([x, y], 0, 1, [Op("PAD", "", [0], 1, pads=pads, mode=mode, iparams=ip)])  # type: ignore[arg-type]
    if kind == "pad":
        pads = tuple(int(v) for v in rng.integers(0, 3, 4))
        y = _tensor(rng, (c, h + pads[0] + pads[2], w + pads[1] + pads[3]), x)
        return Graph([x, y], 0, 1, [Op("PAD", "", [0], 1, pads=pads, iparams=ip)])  # type: ignore[arg-type]
    assert kind == "concat"
    g = Graph([x, _tensor(rng, (c, h, w), x), _tensor(rng, (2 * c, h, w), x)], 0, 2, [
        Op("MAX_POOL2D", "", [0], 1, kernel=(3, 3), pads=(1, 1, 1, 1), iparams=IntParams(EMPTY.copy(), EMPTY.copy())),
        Op("CONCAT", "", [1, 0], 2, iparams=IntParams(EMPTY.copy(), EMPTY.copy()))])
    return g


def softmax_params(s_in: float) -> IntParams:
    """TFLite's PreprocessSoftmaxScaling (beta 1) and CalculateInputRadius for input scale s_in."""
    real = min(float(np.float32(s_in)) * float(1 << 26), float((1 << 31) - 1))
    mult, shift = arith.quantize_multiplier(real)
    radius = 31 * float(1 << 26) / float(1 << shift)
    return IntParams(np.array([mult], np.int32), np.array([shift], np.int32), extra=np.array([-int(np.floor(radius))],
                                                                                           np.int32))


def _softmax(rng: np.random.Generator, channels: bool) -> Graph:
    shape = (int(rng.integers(2, 12)), int(rng.integers(1, 4)), int(rng.integers(1, 4))) if channels \
        else (int(rng.integers(2, 40)),)
    x = Tensor(shape, dtype="int8", scale=float(np.float32(rng.uniform(0.02, 0.5))), zero_point=int(rng.integers(-40, 40)))
    y = Tensor(shape, dtype="int8", scale=1.0 / 256, zero_point=-128)
    return Graph([x, y], 0, 1, [Op("SOFTMAX", "", [0], 1, iparams=softmax_params(x.scale))])


FIXED_OUT = {"SIGMOID": (1.0 / 256, -128), "TANH": (1.0 / 128, 0)}  # output quantisations TFLite fixes


CLAMP_BOUNDS = (-0.5, 0.7)  # the CLAMP kind's bounds
LEAKY_ALPHA = 0.1


def activation_params(op_type: str, x: Tensor, y: Tensor) -> IntParams:
    """The integers of an elementwise activation from x to y (TFLite's Prepare); RELU6 between tensors
    quantised alike: TFLite Micro's clamp of the input, no multiplier."""
    if op_type == "UNARY":  # ELU's table (format version 7), built as the packer builds it
        from linrep_edge.integer.ops import unary_inputs, unary_table

        v = unary_inputs(x.scale, x.zero_point).astype(np.float64)
        elu = np.where(v > 0, v, np.expm1(v)).astype(np.float32)
        return IntParams(EMPTY.copy(), EMPTY.copy(), table=unary_table(elu, y.scale, y.zero_point))
    if op_type in ("RELU", "RELU6", "CLAMP"):
        lo, hi = {"RELU": (0.0, float("inf")), "RELU6": (0.0, 6.0)}.get(op_type, CLAMP_BOUNDS)
        act_min, act_max = arith.clamp_range(lo, hi, y.scale, y.zero_point)
        if (x.scale, x.zero_point) == (y.scale, y.zero_point):
            return IntParams(EMPTY.copy(), EMPTY.copy(), act_min, act_max)
        mult, shift = arith.quantize_multiplier(arith.requant_scale(x.scale, divide_by=y.scale))
        return IntParams(np.array([mult], np.int32), np.array([shift], np.int32), act_min, act_max)
    if op_type in ("SIGMOID", "TANH"):
        mult, shift, radius = arith.input_rescale_params(x.scale, 4)
        return IntParams(np.array([mult], np.int32), np.array([shift], np.int32), extra=np.array([radius], np.int32))
    if op_type == "HARDSIGMOID":
        om, os_, rm, re_ = arith.hardsigmoid_params(x.scale, y.scale)
        return IntParams(np.array([om, rm], np.int32), np.array([os_, re_], np.int32))
    if op_type == "SILU":
        ml, sl, radius, mm, sm = arith.silu_params(x.scale, y.scale)
        return IntParams(np.array([ml, mm], np.int32), np.array([sl, sm], np.int32), extra=np.array([radius], np.int32))
    if op_type == "LEAKY_RELU":
        mi, si, ma, sa = arith.leaky_relu_params(x.scale, LEAKY_ALPHA, y.scale)
        return IntParams(np.array([mi, ma], np.int32), np.array([si, sa], np.int32))
    if op_type == "HARDSWISH":
        om, oe, rm, re_ = arith.hardswish_params(x.scale, y.scale)
        return IntParams(np.array([om, rm], np.int32), np.array([oe, re_], np.int32))
    raise ValueError(op_type)


def _activation(rng: np.random.Generator, kind: str) -> Graph:
    """The activation `kind` (an ACTIVATION_KINDS key) over a random [C, H, W] or [F] tensor; input scales from fine
    to coarse."""
    shape = (int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 6))) if rng.integers(0, 2) \
        else (int(rng.integers(1, 60)),)
    x = Tensor(shape, dtype="int8", scale=float(np.float32(np.exp(rng.uniform(np.log(0.003), np.log(0.3))))),
               zero_point=int(rng.integers(-128, 128)))
    g = Graph([x], 0, 1, [])
    _act_on(rng, g, kind, 0)
    return g


def _prelu(rng: np.random.Generator, x: Tensor, y: Tensor, n: int) -> Graph:
    """PRELU from x to y with n int8 slopes (asymmetric: a zero point, as an imported TFLite file may have)."""
    a_q = rng.integers(-128, 128, n)
    zp_a = int(rng.integers(-20, 20))
    s_a = float(np.float32(rng.uniform(0.002, 0.01)))
    m1, s1, m2, s2 = arith.prelu_params(x.scale, s_a, y.scale)
    g = Graph([x, y], 0, 1, [])
    g.constants.append(Constant(((a_q - zp_a) * s_a).astype(np.float32)))
    g.ops.append(Op("PRELU", "prelu", [0], 1, weight=0,
                    iparams=IntParams(np.array([m1, m2], np.int32), np.array([s1, s2], np.int32),
                                      extra=np.concatenate([[zp_a], a_q]).astype(np.int32))))
    return g


def _act_on(rng: np.random.Generator, g: Graph, kind: str, src: int) -> int:
    """Append the activation `kind` (an ACTIVATION_KINDS key: `_alike` its output quantised as its input,
    prelu_one one slope, prelu one per channel) of tensor src to g; returns its output's id."""
    op_type, x = ACTIVATION_KINDS[kind], g.tensors[src]
    fixed = FIXED_OUT.get(op_type)
    y = Tensor(x.shape, dtype="int8", scale=fixed[0], zero_point=fixed[1]) if fixed else \
        _tensor(rng, x.shape, x if kind.endswith("_alike") else None)
    g.tensors.append(y)
    out = len(g.tensors) - 1
    if op_type == "PRELU":
        p = _prelu(rng, x, y, 1 if kind == "prelu_one" else x.shape[0])
        g.constants.append(p.constants[0])
        g.ops.append(Op("PRELU", "prelu", [src], out, weight=len(g.constants) - 1, iparams=p.ops[0].iparams))
        return out
    op = Op(op_type, "", [src], out, iparams=activation_params(op_type, x, y))
    if op_type == "CLAMP":
        op.alpha, op.beta = CLAMP_BOUNDS
    if op_type == "LEAKY_RELU":
        op.alpha = LEAKY_ALPHA
    if op_type == "UNARY":
        op.mode, op.alpha, op.beta = 2, 1.0, 1.0  # ELU
    g.ops.append(op)
    return out


def in_place(kind: str, seed: int, mode: str = "alias") -> Graph:
    """x [1, H, W] -> 1x1 conv -> a [C, H, W] -> the activation `kind` -> b -> 1x1 conv -> y [1, H, W]: the
    activation's input and output the largest tensors, a dying at it (the runtime writes b over a). Mode "chain": a
    RELU of b between (c over b over a); "kept": ADD(a, b) -> y [C, H, W] instead of the last conv (a read after the
    activation: b gets a buffer of its own)."""
    rng = np.random.default_rng(seed)
    c, h, w = int(rng.integers(4, 9)), int(rng.integers(3, 8)), int(rng.integers(3, 8))
    g = Graph([_tensor(rng, (1, h, w)), _tensor(rng, (c, h, w))], 0, 1, [])
    up = Op("CONV2D", "up", [0], 1, out_channels=c)
    g.ops.append(up)
    _weighted(rng, g, up, rng.integers(-127, 128, (c, 1, 1, 1)))
    last = _act_on(rng, g, kind, 1)
    if mode == "chain":
        last = _act_on(rng, g, "relu", last)
    if mode == "kept":
        out = _tensor(rng, (c, h, w))
        g.tensors.append(out)
        g.ops.append(Op("ADD", "add", [1, last], len(g.tensors) - 1, iparams=_add_params(rng, g, 1, last, out)))
    else:
        g.tensors.append(_tensor(rng, (1, h, w)))
        down = Op("CONV2D", "down", [last], len(g.tensors) - 1, out_channels=1)
        g.ops.append(down)
        _weighted(rng, g, down, rng.integers(-127, 128, (1, c, 1, 1)))
    g.output = len(g.tensors) - 1
    g.outputs = [g.output]
    return g


def _chain(rng: np.random.Generator, linrep: bool = False) -> Graph:
    """conv (a LinRep conv with `linrep`) -> max pool -> ADD with a 1x1 conv of itself -> adaptive pool -> reshape ->
    linear -> softmax."""
    g = _linrep(rng, False) if linrep else _conv(rng, "plain")
    c, h, w = g.tensors[1].shape
    x = g.tensors[1]
    pooled = Tensor((c, max(1, h // 2), max(1, w // 2)), "", "int8", x.scale, x.zero_point)
    g.tensors.append(pooled)
    g.ops.append(Op("MAX_POOL2D", "", [1], 2, kernel=(2, 2), stride=(2, 2), iparams=IntParams(EMPTY.copy(), EMPTY.copy()))
                 if h >= 2 and w >= 2 else Op("MAX_POOL2D", "", [1], 2, iparams=IntParams(EMPTY.copy(), EMPTY.copy())))
    if not (h >= 2 and w >= 2):
        pooled.shape = (c, h, w)
    c2 = pooled.shape  # ADD of tensor 2 and a 1x1 conv of it
    g.tensors.append(_tensor(rng, c2))
    pw_op = Op("CONV2D", "pw", [2], 3, out_channels=c2[0])
    g.ops.append(pw_op)
    _weighted(rng, g, pw_op, rng.integers(-127, 128, (c2[0], c2[0], 1, 1)))
    out = _tensor(rng, c2)
    g.tensors.append(out)
    s0, s1 = (float(np.float32(g.tensors[t].scale)) for t in (2, 3))
    twice = 2.0 * max(s0, s1)
    pairs = [arith.quantize_multiplier_smaller_than_one(r)
             for r in (s0 / twice, s1 / twice, twice / ((1 << 20) * float(np.float32(out.scale))))]
    g.ops.append(Op("ADD", "add", [2, 3], 4, iparams=IntParams(np.array([m for m, _ in pairs], np.int32),
                                                               np.array([s for _, s in pairs], np.int32),
                                                               max(out.zero_point, -128), 127)))
    g.tensors.append(Tensor((c2[0], 1, 1), "", "int8", out.scale, out.zero_point))
    g.ops.append(Op("ADAPTIVE_AVG_POOL2D", "", [4], 5, kernel=(1, 1), iparams=IntParams(EMPTY.copy(), EMPTY.copy())))
    g.tensors.append(Tensor((c2[0],), "", "int8", out.scale, out.zero_point))
    g.ops.append(Op("RESHAPE", "", [5], 6, iparams=IntParams(EMPTY.copy(), EMPTY.copy())))
    n_cls = int(rng.integers(2, 11))
    g.tensors.append(_tensor(rng, (n_cls,)))
    fc = Op("LINEAR", "fc", [6], 7, out_channels=n_cls)
    g.ops.append(fc)
    _weighted(rng, g, fc, rng.integers(-127, 128, (n_cls, c2[0])))
    g.tensors.append(Tensor((n_cls,), "", "int8", 1.0 / 256, -128))
    g.ops.append(Op("SOFTMAX", "", [7], 8, iparams=softmax_params(g.tensors[7].scale)))
    g.output = 8
    g.outputs = [8, 7]  # two results: the probabilities and the logits
    return g


# -- MUL, AFFINE, RESIZE, CONV_TRANSPOSE2D ----------------------------------------------------------------------

def _geo(rng: np.random.Generator, kind: str) -> Graph:
    """MUL (equal shapes; one value per channel, the SE gate: [C, 1, 1] from a global pool; [F]; one value per pixel,
    format version 8: [1, H, W] from a channel pool), AFFINE
    ([C, H, W] or [F]), RESIZE (nearest; bilinear half pixel / align corners), CONV_TRANSPOSE2D (groups 1 or 2)."""
    c, h, w = int(rng.integers(1, 5)), int(rng.integers(2, 7)), int(rng.integers(2, 7))
    if kind.startswith("mul"):
        if kind == "mul_features":
            g = Graph([_tensor(rng, (c * h,)), _tensor(rng, (c * h,))], 0, 1, [])
            op = Op("LINEAR", "fc", [0], 1, out_channels=c * h)
            g.ops.append(op)
            _weighted(rng, g, op, rng.integers(-127, 128, (c * h, c * h)))
            other = 1
        elif kind == "mul_channel":  # x * pool(x): the gate broadcast over the pixels
            g = Graph([_tensor(rng, (c, h, w)), _tensor(rng, (c, 1, 1))], 0, 1, [])
            from linrep_edge.models.tflite_import import mean_params

            g.ops.append(Op("ADAPTIVE_AVG_POOL2D", "gate", [0], 1, kernel=(1, 1),
                            iparams=mean_params(g.tensors[0].scale, g.tensors[0].zero_point, g.tensors[1].scale,
                                                g.tensors[1].zero_point, h * w)))
            other = 1
        elif kind in ("mul_pixel", "mul_pixel_max"):  # x * its channel mean (or max), CBAM's pooled gate: [c, h, w]
            c = max(c, 2)  # read as one [1, c, h * w] plane, pooled by a c x 1 window, read back as [1, h, w]
            x = _tensor(rng, (c, h, w))
            ip = IntParams(EMPTY.copy(), EMPTY.copy(), -128, 127)
            g = Graph([x, _tensor(rng, (1, c, h * w), x), _tensor(rng, (1, 1, h * w), x), _tensor(rng, (1, h, w), x)],
                      0, 3, [Op("RESHAPE", "plane", [0], 1, iparams=ip),
                             Op("MAX_POOL2D" if kind == "mul_pixel_max" else "AVG_POOL2D", "pool", [1], 2,
                                kernel=(c, 1), stride=(c, 1), iparams=ip),
                             Op("RESHAPE", "gate", [2], 3, iparams=ip)])
            other = 3
        else:
            g = _conv1x1(rng, c, h, w)
            other = 1
        x0, x1 = g.tensors[0], g.tensors[other]
        out = _tensor(rng, x0.shape)
        out.scale = float(np.float32(x0.scale * x1.scale * rng.uniform(40.0, 200.0)))
        g.tensors.append(out)
        m, s = arith.quantize_multiplier(arith.requant_scale(x0.scale, x1.scale, divide_by=out.scale))
        lo, hi = _clamp(rng, out.zero_point)
        g.output = len(g.tensors) - 1
        g.ops.append(Op("MUL", "mul", [0, other], g.output,
                        iparams=IntParams(np.array([m], np.int32), np.array([s], np.int32), lo, hi)))
        return g
    if kind.startswith("affine"):
        shape = (c * h,) if kind == "affine_features" else (c, h, w)
        x, y = _tensor(rng, shape), _tensor(rng, shape)
        n = shape[0]
        w_q = rng.integers(-127, 128, n).astype(np.int8)
        s_w = rng.uniform(0.002, 0.02, n).astype(np.float32)
        y.scale = float(np.float32(x.scale * float(s_w.mean()) * 127 * 255 / 200))
        g = Graph([x, y], 0, 1, [], [Constant((w_q * s_w).astype(np.float32), "int8", w_q, s_w)])
        reals = [arith.requant_scale(x.scale, float(v), divide_by=y.scale) for v in s_w]
        mult, shift = _mults(reals if rng.integers(0, 4) else reals[:1])
        lo, hi = _clamp(rng, y.zero_point)
        bias = rng.integers(-3000, 3000, n).astype(np.int32) if rng.integers(0, 3) else None
        g.ops.append(Op("AFFINE", "bn", [0], 1, weight=0, iparams=IntParams(mult, shift, lo, hi, bias=bias)))
        return g
    if kind.startswith("resize"):
        x = _tensor(rng, (c, h, w))
        if kind == "resize_nearest":
            out, mode = (c, h * int(rng.integers(1, 4)), w * int(rng.integers(1, 4))), 0
        elif kind == "resize_nearest_any":  # format version 8: any size, up or down
            out, mode = (c, int(rng.integers(1, 3 * h)), int(rng.integers(1, 3 * w))), 3
        else:
            out, mode = (c, int(rng.integers(1, 3 * h)), int(rng.integers(1, 3 * w))), 1 if kind == "resize_bilinear" else 2
        return Graph([x, _tensor(rng, out, x)], 0, 1, [Op("RESIZE", "up", [0], 1, mode=mode,
                                                           iparams=IntParams(EMPTY.copy(), EMPTY.copy()))])
    if kind.startswith("linrep_conv_transpose"):
        return _linrep_transpose(rng, kind.endswith("masked"))
    groups = 2 if kind == "conv_transpose_grouped" else 1
    cin, cout = c * groups, int(rng.integers(1, 4)) * groups
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    stride, dilation = (int(rng.integers(1, 4)), int(rng.integers(1, 3))), (int(rng.integers(1, 3)), 1)
    ph, pw = int(rng.integers(0, (dilation[0] * (kh - 1)) // 2 + 1)), int(rng.integers(0, (kw - 1) // 2 + 1))
    oph, opw = int(rng.integers(0, max(stride[0], dilation[0]))), int(rng.integers(0, max(stride[1], dilation[1])))
    oh = (h - 1) * stride[0] - 2 * ph + dilation[0] * (kh - 1) + 1 + oph
    ow = (w - 1) * stride[1] - 2 * pw + dilation[1] * (kw - 1) + 1 + opw
    x = _tensor(rng, (cin, h, w))
    g = Graph([x, _tensor(rng, (cout, oh, ow))], 0, 1, [])
    op = Op("CONV_TRANSPOSE2D", "up", [0], 1, kernel=(kh, kw), stride=stride, pads=(ph, pw, ph, pw),  # type: ignore[arg-type]
            dilation=dilation, groups=groups, out_channels=cout)
    g.ops.append(op)
    w_q = rng.integers(-127, 128, (cin, cout // groups, kh, kw))
    s_w = rng.uniform(0.002, 0.02, cout).astype(np.float32)
    per = s_w.reshape(groups, 1, cout // groups)[np.arange(cin) // (cin // groups), 0][:, :, None, None]
    g.constants.append(Constant((w_q * per).astype(np.float32), "int8", w_q.astype(np.int8), s_w))
    op.weight = 0
    rows = w_q.reshape(groups, cin // groups, cout // groups, kh, kw).swapaxes(1, 2).reshape(cout, -1)
    _fit_out_scale(g, op, rows, s_w)
    out = g.tensors[1]
    reals = [arith.requant_scale(x.scale, float(v), divide_by=out.scale) for v in s_w]
    mult, shift = _mults(reals if rng.integers(0, 4) else reals[:1])
    lo, hi = _clamp(rng, out.zero_point)
    op.iparams = IntParams(mult, shift, lo, hi, bias=rng.integers(-3000, 3000, cout).astype(np.int32))
    return g


def _linrep_transpose(rng: np.random.Generator, masked: bool) -> Graph:
    """A LinRep CONV_TRANSPOSE2D (grid (Cin, Cout/g), groups 1 or 2), integer a/b, an exponent per output channel
    (the packer makes them equal; the arithmetic allows any), scales per grid row as the format stores them."""
    groups = int(rng.integers(1, 3))
    cin, cout = int(rng.integers(1, 4)) * groups, int(rng.integers(1, 4)) * groups
    cout_g, k, kh, kw = cout // groups, int(rng.integers(2, 6)), 3, 3
    h, w = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    stride = (int(rng.integers(1, 3)),) * 2
    p = int(rng.integers(0, 2))
    op_h, op_w = int(rng.integers(0, stride[0])), int(rng.integers(0, stride[1]))
    oh, ow = (h - 1) * stride[0] - 2 * p + kh + op_h, (w - 1) * stride[1] - 2 * p + kw + op_w
    x, y = _tensor(rng, (cin, h, w)), _tensor(rng, (cout, oh, ow))
    t_q = rng.integers(-127, 128, (k, kh, kw)).astype(np.int8)
    s_t = float(np.float32(rng.uniform(0.005, 0.02)))
    cb = Codebook((t_q.astype(np.float32) * np.float32(s_t)).astype(np.float32), "int8", q=t_q, scale=s_t)
    bits = int(rng.integers(2, 9))
    lim = 1 << (bits - 1)
    idx = rng.integers(0, k, (cin, cout_g))
    a_q, b_q = rng.integers(-lim, lim, (cin, cout_g)), rng.integers(-lim, lim, (cin, cout_g))
    mask = rng.random((cin, cout_g)) > 0.3 if masked else None
    if mask is not None:
        idx, a_q, b_q = np.where(mask, idx, 0), np.where(mask, a_q, 0), np.where(mask, b_q, 0)
    e = rng.integers(-3, 4, cout)
    s_a = np.full(cin, np.float32(rng.uniform(0.01, 0.1)), np.float32)
    lr = LinRepWeights(0, idx.astype(np.int64), a_q.astype(np.float32), b_q.astype(np.float32), 0, bits, mask=mask)
    lr.set_quantized(a_q, s_a, b_q, (s_a.astype(np.float64) * s_t * 2.0 ** int(e[0])).astype(np.float32))
    lr.b_exponent = e.astype(np.int64)
    op = Op("CONV_TRANSPOSE2D", "up", [0], 1, kernel=(kh, kw), stride=stride, pads=(p, p, p, p), groups=groups,  # type: ignore[arg-type]
            out_channels=cout, linrep=lr)
    g = Graph([x, y], 0, 1, [op], [], [cb])
    from linrep_edge.integer.linrep import conv_transpose_kernel_integers

    rows = conv_transpose_kernel_integers(g, op).reshape(groups, cin // groups, cout_g, kh, kw).swapaxes(1, 2)
    s_w = float(s_a[0]) * s_t * np.exp2(-np.maximum(0, -e))
    _fit_out_scale(g, op, rows.reshape(cout, -1), s_w)
    # the packer's rule with one s_a (a format-version-5 reader recovers s_a from the first multiplier)
    mult, shift = _mults([arith.requant_scale(x.scale, float(s_a[0]), s_t, divide_by=y.scale) * 2.0 ** -max(0, -int(eo))
                          for eo in e])
    lo, hi = _clamp(rng, y.zero_point)
    op.iparams = IntParams(mult, shift, lo, hi, bias=rng.integers(-3000, 3000, cout).astype(np.int32))
    return g


def build(kind: str, seed: int) -> Graph:
    """A random int8 graph exercising `kind` (one of KINDS)."""
    rng = np.random.default_rng(seed)
    if kind in GEO_KINDS:
        return _geo(rng, kind)
    if kind in ("conv", "depthwise", "grouped", "depthwise_wide"):  # depthwise_wide: not in KINDS, for kernel builds
        return _conv(rng, kind)
    if kind == "linear":
        return _linear(rng)
    if kind in ("add", "sub"):
        return _add(rng, "SUB" if kind == "sub" else "ADD")
    if kind in ("add_channel", "add_channel_flat", "sub_channel"):
        return _add_channel(rng, kind == "add_channel_flat", "SUB" if kind == "sub_channel" else "ADD")
    if kind in ("softmax", "softmax_channels"):
        return _softmax(rng, kind == "softmax_channels")
    if kind in ("linrep", "linrep_masked"):
        return _linrep(rng, kind == "linrep_masked")
    if kind in ("chain", "linrep_chain"):  # linrep_chain: not in KINDS (the C tests' blob set), for kernel builds
        return _chain(rng, kind == "linrep_chain")
    if kind in ACTIVATION_KINDS:
        return _activation(rng, kind)
    return _same(rng, kind)


def taller(g: Graph, k: int) -> Graph:
    """g with every [C, H, W] tensor but a gate [C, 1, 1] made k times taller: the same ops, the same
    integers, on k times the values (a MEAN keeps its multiplier: the Python reference and C read the same one)."""
    import copy

    big = copy.deepcopy(g)
    for t in big.tensors:
        if len(t.shape) == 3 and t.shape[1] * t.shape[2] > 1:
            t.shape = (t.shape[0], k * t.shape[1], t.shape[2])
    return big
