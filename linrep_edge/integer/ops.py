"""TFLite's int8 reference kernels, one function per op, on numpy arrays (docs/INTEGER.md §2, §4).

Tensors are int8 in our layout without the batch dimension: [C, H, W] or [F]. Every function returns an
int8 array and reproduces TFLite's integer result bit for bit (TFLite Micro is the oracle:
tests/test_int8_oracle.py). Accumulators are exact integers: the sums below are formed as int64, or, where
a bound proves every partial sum below 2^53, as a float64 matrix product (BLAS), which is then exact too.
"""

from __future__ import annotations

import numpy as np

from linrep_edge.integer import arith

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]  # top, left, bottom, right

INT32_MAX = arith.INT32_MAX
INT32_MIN = arith.INT32_MIN


# -- helpers ----------------------------------------------------------------------------------------------

def _exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for int64 arrays, exactly: through float64 (BLAS) when no partial sum can reach 2^53, since
    every integer below 2^53 and every sum of them below 2^53 is exact in float64; int64 otherwise."""
    inner = a.shape[-1]
    bound = float(np.abs(a).max(initial=0)) * float(np.abs(b).max(initial=0)) * inner
    if bound < 2.0 ** 53:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    return np.matmul(a.astype(np.int64), b.astype(np.int64))


def _out_size(size: int, k: int, stride: int, pad_lo: int, pad_hi: int, dilation: int = 1) -> int:
    return (size + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


def _windows(x: np.ndarray, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair, fill: int) -> np.ndarray:
    """[C, kh, kw, OH, OW]: the value under each tap of each window, `fill` outside the input."""
    c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, left, bottom, right = pads
    oh = _out_size(h, kh, sh, top, bottom, dh)
    ow = _out_size(w, kw, sw, left, right, dw)
    xp = np.full((c, h + top + bottom, w + left + right), fill, dtype=x.dtype)
    xp[:, top:top + h, left:left + w] = x
    cols = np.empty((c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xp[:, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
    return cols


def _requant(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, zp_out: int, act_min: int,
             act_max: int) -> np.ndarray:
    """requant of docs/INTEGER.md §1: clamp(MBQM(acc, M, s) + zp_out, act_min, act_max) as int8."""
    return arith.saturate_int8(arith.multiply_by_quantized_multiplier(acc, multiplier, shift) + zp_out,
                               act_min, act_max)


def _per_channel(v: np.ndarray | None, n: int, ndim: int) -> np.ndarray:
    """A [n] or [1] integer vector shaped to broadcast over the channel axis of an ndim-D result."""
    a = np.zeros(1, dtype=np.int64) if v is None else np.asarray(v, dtype=np.int64).reshape(-1)
    if a.size not in (1, n):
        raise ValueError(f"per-channel vector of {a.size} values for {n} channels")
    return a.reshape(-1, *([1] * (ndim - 1)))


# -- conv / linear ----------------------------------------------------------------------------------------

def conv2d_s8(x: np.ndarray, w_q: np.ndarray, bias: np.ndarray | None, multiplier: np.ndarray,
              shift: np.ndarray, zp_in: int, zp_out: int, act_min: int, act_max: int, stride: Pair,
              pads: Pads, dilation: Pair, groups: int) -> np.ndarray:
    """TFLite's ConvPerChannel / DepthwiseConvPerChannel (depthwise: groups = Cin, depth multiplier
    Cout / Cin; output channel o reads input channel o // multiplier, as a grouped conv does).

    acc[o] = bias[o] + Σ w·(x − zp_in) over the taps inside the input (padding adds nothing: padding is
    the zero point); y = requant(acc, M[o], s[o], zp_out, act_min, act_max)."""
    cin = x.shape[0]
    cout, cin_g, kh, kw = w_q.shape
    if cin != cin_g * groups or cout % groups:
        raise ValueError(f"conv2d_s8: input of {cin} channels, weight {w_q.shape}, groups {groups}")
    # x − zp_in with 0 outside the input: the same as padding with the zero point
    xo = x.astype(np.int64) - int(zp_in)
    cols = _windows(xo, (kh, kw), stride, pads, dilation, 0)  # [Cin, kh, kw, OH, OW]
    oh, ow = cols.shape[3:]
    cols = cols.reshape(groups, cin_g * kh * kw, oh * ow)
    wg = w_q.astype(np.int64).reshape(groups, cout // groups, cin_g * kh * kw)
    acc = _exact_matmul(wg, cols).reshape(cout, oh, ow) + _per_channel(bias, cout, 3)
    return _requant(acc, _per_channel(multiplier, cout, 3), _per_channel(shift, cout, 3), zp_out, act_min, act_max)


def linear_s8(x: np.ndarray, w_q: np.ndarray, bias: np.ndarray | None, multiplier: np.ndarray,
              shift: np.ndarray, zp_in: int, zp_out: int, act_min: int, act_max: int) -> np.ndarray:
    """TFLite's FullyConnected (per-tensor [1] or per-channel [Cout] multipliers): x [F], w_q [Cout, F]."""
    cout = w_q.shape[0]
    xo = x.reshape(-1).astype(np.int64) - int(zp_in)
    acc = _exact_matmul(w_q.astype(np.int64), xo[:, None])[:, 0] + _per_channel(bias, cout, 1)
    return _requant(acc, _per_channel(multiplier, cout, 1), _per_channel(shift, cout, 1), zp_out, act_min, act_max)


# -- elementwise ------------------------------------------------------------------------------------------

ADD_LEFT_SHIFT = 20  # TFLite's int8 ADD: inputs widened by 2^20 before rescaling


def add_s8(x0: np.ndarray, x1: np.ndarray, zp0: int, zp1: int, zp_out: int, multiplier: np.ndarray,
           shift: np.ndarray, act_min: int, act_max: int, subtract: bool = False) -> np.ndarray:
    """TFLite's int8 ADD (`subtract`: its SUB, the second input's rescaled value subtracted). multiplier/shift =
    [in0, in1, out] (all shifts <= 0). x1 may be one value per channel of x0 ([C] or [C, 1, 1]), broadcast as
    TFLite broadcasts it."""
    if x1.shape != x0.shape:
        x1 = np.broadcast_to(x1.reshape(-1, *([1] * (x0.ndim - 1))), x0.shape)
    m = np.asarray(multiplier, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    scaled = [arith.multiply_by_quantized_multiplier_smaller_than_one(
        (v.astype(np.int64) - int(zp)) << ADD_LEFT_SHIFT, m[k], s[k]) for k, (v, zp) in enumerate(((x0, zp0), (x1, zp1)))]
    raw = arith.multiply_by_quantized_multiplier_smaller_than_one(scaled[0] - scaled[1] if subtract else
                                                                  scaled[0] + scaled[1], m[2], s[2])
    return arith.saturate_int8(raw + int(zp_out), act_min, act_max)


# -- pooling ----------------------------------------------------------------------------------------------

def max_pool2d_s8(x: np.ndarray, kernel: Pair, stride: Pair, pads: Pads, act_min: int = -128,
                  act_max: int = 127, dilation: Pair = (1, 1)) -> np.ndarray:
    """TFLite's int8 MaxPool: the max over the taps inside the input, clamped (in and out quant equal)."""
    cols = _windows(x.astype(np.int64), kernel, stride, pads, dilation, np.iinfo(np.int64).min)
    return arith.saturate_int8(cols.max(axis=(1, 2)), act_min, act_max)


def _rounded_average(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """TFLite's average: (sum + n/2) / n if sum > 0 else (sum − n/2) / n, with C's truncating division."""
    half = count // 2
    num = np.where(total > 0, total + half, total - half)
    q = np.abs(num) // count
    return np.where(num < 0, -q, q)


def avg_pool2d_s8(x: np.ndarray, kernel: Pair, stride: Pair, pads: Pads, act_min: int = -128,
                  act_max: int = 127, count_include_pad: bool = False, zp: int = 0) -> np.ndarray:
    """TFLite's int8 AveragePool: the sum over the taps inside the input divided by their count (padding
    excluded), rounded half away from zero, clamped (in and out quant equal). With `count_include_pad`
    (torch's default): the padding taps are real zeros, i.e. the input zero point `zp`, and count; the
    window is the part of the kernel inside the padded input (docs/INTEGER.md)."""
    fill = int(zp) if count_include_pad else 0
    total = _windows(x.astype(np.int64), kernel, stride, pads, (1, 1), fill).sum(axis=(1, 2))
    ones = np.ones((1, *x.shape[1:]), dtype=np.int64)
    count = _windows(ones, kernel, stride, pads, (1, 1), 1 if count_include_pad else 0).sum(axis=(1, 2))
    if (count == 0).any():
        raise ValueError("avg_pool2d_s8: a window covers no input value")
    return arith.saturate_int8(_rounded_average(total, count), act_min, act_max)


def adaptive_avg_pool2d_s8(x: np.ndarray, out_size: Pair, act_min: int = -128, act_max: int = 127) -> np.ndarray:
    """Adaptive average pooling (torch's windows: [⌊i·H/oh⌋, ⌈(i+1)·H/oh⌉)) with TFLite's average; 1×1 is
    the global average pool. (TFLite's MEAN rounds differently: `mean_s8`.)"""
    c, h, w = x.shape
    oh, ow = out_size
    out = np.empty((c, oh, ow), dtype=np.int64)
    xi = x.astype(np.int64)
    for i in range(oh):
        h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            total = xi[:, h0:h1, w0:w1].sum(axis=(1, 2))
            out[:, i, j] = _rounded_average(total, np.int64((h1 - h0) * (w1 - w0)))
    return arith.saturate_int8(out, act_min, act_max)


def mean_s8(x: np.ndarray, out_size: Pair, zp_in: int, zp_out: int, multiplier: int, shift: int,
            act_min: int = -128, act_max: int = 127) -> np.ndarray:
    """TFLite Micro's int8 MEAN (QuantizedMeanOrSum; TFLite Micro takes it whether or not input and output are
    quantised alike) as an adaptive average pool of x [..., H, W] whose bins are all alike (out_size (oh, ow)
    divides (H, W)): per bin, the int32 sum of its n = (H/oh)·(W/ow) values minus zp_in·n, times the multiplier
    that already holds 1/n (`arith.mean_multiplier`), plus zp_out, clamped. Over H and W: out_size (1, 1);
    over the channels: x read as [1, C, H·W], out_size (1, H·W). Leading axes (a batch) are kept."""
    *lead, h, w = x.shape
    oh, ow = out_size
    if h % oh or w % ow:
        raise ValueError(f"mean_s8: bins of {h}x{w} into {oh}x{ow} are not all alike")
    bh, bw = h // oh, w // ow
    total = x.astype(np.int64).reshape(*lead, oh, bh, ow, bw).sum(axis=(-3, -1)) - np.int64(zp_in) * (bh * bw)
    y = arith.multiply_by_quantized_multiplier(total, multiplier, shift) + zp_out
    return arith.saturate_int8(y, act_min, act_max)


# -- softmax (docs/INTEGER.md §4) -------------------------------------------------------------------------

SOFTMAX_DIFF_INTEGER_BITS = 5  # the scaled input difference is a Q5.26 fixed-point number
SOFTMAX_ACCUM_INTEGER_BITS = 12  # the sum of exponentials is Q12.19


def _srdhm(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    return arith.saturating_rounding_doubling_high_mul(a, b)


def exp_on_negative_values(a: np.ndarray) -> np.ndarray:
    """gemmlowp's exp_on_negative_values for a Q5.26 input a <= 0, result Q0.31 (arith's, shared with
    SIGMOID and TANH)."""
    return arith.exp_on_negative_values(a, SOFTMAX_DIFF_INTEGER_BITS)


one_over_one_plus_x = arith.one_over_one_plus_x


def _bit_length(x: np.ndarray) -> np.ndarray:
    """Bits of positive integers below 2^53 (frexp is exact there)."""
    return np.frexp(x.astype(np.float64))[1].astype(np.int64)


def softmax_s8(x: np.ndarray, multiplier: int, shift: int, diff_min: int) -> np.ndarray:
    """TFLite's int8 reference softmax (output scale 1/256, zero point −128) over [F], or over the
    channels of each pixel of [C, H, W]. The algorithm is written out in docs/INTEGER.md §4."""
    rows = x.reshape(1, -1) if x.ndim == 1 else x.reshape(x.shape[0], -1).T  # [rows, depth]
    xi = rows.astype(np.int64)
    diff = xi - xi.max(axis=1, keepdims=True)
    keep = diff >= diff_min
    rescaled = _srdhm(np.where(keep, diff, 0) << int(shift), int(multiplier))  # MBQM greater than one
    exps = exp_on_negative_values(rescaled)
    sum_of_exps = np.where(keep, arith.rounding_divide_by_pot(exps, SOFTMAX_ACCUM_INTEGER_BITS), 0).sum(
        axis=1, keepdims=True)
    headroom_plus_one = 32 - _bit_length(sum_of_exps)
    bits_over_unit = SOFTMAX_ACCUM_INTEGER_BITS - headroom_plus_one
    shifted_sum_minus_one = (sum_of_exps << headroom_plus_one) - (1 << 31)
    scale = one_over_one_plus_x(shifted_sum_minus_one)
    out = arith.rounding_divide_by_pot(_srdhm(scale, exps), bits_over_unit + 31 - 8) - 128
    out = np.where(keep, np.clip(out, -128, 127), -128).astype(np.int8)
    return out.reshape(x.shape) if x.ndim == 1 else out.T.reshape(x.shape)


# -- activations (docs/INTEGER.md §6) ---------------------------------------------------------------------

LOGISTIC_INPUT_INTEGER_BITS = 4  # TFLite's int8 LOGISTIC / TANH rescale the input into Q4.27


def sigmoid_s8(x: np.ndarray, zp_in: int, multiplier: int, shift: int, radius: int) -> np.ndarray:
    """TFLite's int8 LOGISTIC (reference_integer_ops::Logistic; output scale 1/256, zero point −128):
    v = x − zp_in; v <= −radius → −128, v >= radius → 127, else the Q4.27 input MBQM(v, M, s) through
    gemmlowp's logistic, RDBPOT(·, 23) − 128 clamped."""
    v = x.astype(np.int64) - zp_in
    low, high = v <= -radius, v >= radius
    inside = ~(low | high)
    q4 = arith.multiply_by_quantized_multiplier(np.where(inside, v, 0), multiplier, shift)
    y = arith.rounding_divide_by_pot(arith.logistic_q31(q4, LOGISTIC_INPUT_INTEGER_BITS), 23) - 128
    y = np.where(low, -128, np.where(high, 127, np.clip(y, -128, 127)))
    return y.astype(np.int8)


def tanh_s8(x: np.ndarray, zp_in: int, multiplier: int, shift: int, radius: int) -> np.ndarray:
    """TFLite's int8 TANH (reference_integer_ops::Tanh; output scale 1/128, zero point 0): as `sigmoid_s8`
    with gemmlowp's tanh, RDBPOT(·, 24) clamped (no zero point added)."""
    v = x.astype(np.int64) - zp_in
    low, high = v <= -radius, v >= radius
    inside = ~(low | high)
    q4 = arith.multiply_by_quantized_multiplier(np.where(inside, v, 0), multiplier, shift)
    y = arith.rounding_divide_by_pot(arith.tanh_q31(q4, LOGISTIC_INPUT_INTEGER_BITS), 24)
    y = np.where(low, -128, np.where(high, 127, np.clip(y, -128, 127)))
    return y.astype(np.int8)


def clamp_s8(x: np.ndarray, zp_in: int, zp_out: int, multiplier: int | None, shift: int, act_min: int,
             act_max: int) -> np.ndarray:
    """Standalone RELU / RELU6 / CLAMP: with a multiplier TFLite's int8 RELU (ReluQuantized): zp_out +
    MBQM(x − zp_in, M, s) clamped to [act_min, act_max]; without one (input and output quantised alike, TFLite's
    RELU6) the input clamped."""
    v = x.astype(np.int64)
    if multiplier is not None:
        v = zp_out + arith.multiply_by_quantized_multiplier(v - zp_in, multiplier, shift)
    return np.clip(v, act_min, act_max).astype(np.int8)


def leaky_relu_s8(x: np.ndarray, zp_in: int, zp_out: int, mult_identity: int, shift_identity: int,
                  mult_alpha: int, shift_alpha: int) -> np.ndarray:
    """TFLite's int8 LEAKY_RELU (QuantizeLeakyRelu): v = x − zp_in; zp_out + MBQM(v, identity) for v >= 0, else
    zp_out + MBQM(v, alpha); clamped to int8."""
    v = x.astype(np.int64) - zp_in
    pos = arith.multiply_by_quantized_multiplier(v, mult_identity, shift_identity)
    neg = arith.multiply_by_quantized_multiplier(v, mult_alpha, shift_alpha)
    return np.clip(zp_out + np.where(v >= 0, pos, neg), -128, 127).astype(np.int8)


def prelu_s8(x: np.ndarray, zp_in: int, zp_out: int, m_identity: int, s_identity: int, m_alpha: int,
             s_alpha: int, alpha_zp: int, alpha_q: np.ndarray, channel_axis: int = 0) -> np.ndarray:
    """TFLite's int8 PRELU (BroadcastPrelu4DSlow): v = x − zp_in; zp_out + MBQM(v, identity) for v >= 0, else
    zp_out + MBQM(v · (a_c − alpha_zp), alpha) with a_c the int8 slope of x's channel (one slope for all, or
    one per index of `channel_axis`); clamped to int8."""
    v = x.astype(np.int64) - zp_in
    a = np.asarray(alpha_q, np.int64) - alpha_zp
    if a.size > 1:
        a = a.reshape((-1,) + (1,) * (x.ndim - channel_axis - 1))
    pos = arith.multiply_by_quantized_multiplier(v, m_identity, s_identity)
    neg = arith.multiply_by_quantized_multiplier(v * a, m_alpha, s_alpha)
    return np.clip(zp_out + np.where(v >= 0, pos, neg), -128, 127).astype(np.int8)


def silu_s8(x: np.ndarray, zp_in: int, zp_out: int, m_logistic: int, s_logistic: int, radius: int, m_mul: int,
            s_mul: int) -> np.ndarray:
    """SILU as TFLite's LOGISTIC then MUL: g = sigmoid_s8(x) (scale 1/256, zero point −128, not stored), then
    TFLite's int8 MUL of x by g: zp_out + MBQM((x − zp_in)·(g + 128), M, s), clamped to int8."""
    g = sigmoid_s8(x, zp_in, m_logistic, s_logistic, radius).astype(np.int64)
    prod = (x.astype(np.int64) - zp_in) * (g + 128)
    return np.clip(zp_out + arith.multiply_by_quantized_multiplier(prod, m_mul, s_mul), -128, 127).astype(np.int8)


def reluish_q15(hires: np.ndarray, rel_mult: int, rel_exp: int) -> np.ndarray:
    """HARD_SWISH's "reluish" value (x + 3) / 6 in [0, 1] as int16 Q15 (0 … 32767), from the hires input
    h = (x − zp_in)·2^7: rescaled so that 3 is 2^15 (saturated to [−1, 1]), then (r + 2^15) >> 1."""
    r = hires
    if rel_exp > 0:
        r = arith.saturating_shift_left16(r, rel_exp - 1)
    r = arith.srdhm16(r, rel_mult)
    if rel_exp > 0:
        r = arith.saturating_shift_left16(r, 1)
    elif rel_exp < 0:
        r = arith.rounding_divide_by_pot(r, -rel_exp)
    return (r + (1 << 15)) >> 1


def hardsigmoid_s8(x: np.ndarray, zp_in: int, zp_out: int, out_mult: int, out_shift: int, rel_mult: int,
                   rel_exp: int) -> np.ndarray:
    """Our int8 HARDSIGMOID (docs/INTEGER.md §6.8): HARD_SWISH's reluish value r = (x + 3)/6 in Q15, then
    zp_out + MBQM(r, M, s) clamped to int8."""
    r = reluish_q15((x.astype(np.int64) - zp_in) * 128, rel_mult, rel_exp)
    return np.clip(zp_out + arith.multiply_by_quantized_multiplier(r, out_mult, out_shift), -128, 127).astype(np.int8)


def hardswish_s8(x: np.ndarray, zp_in: int, zp_out: int, out_mult: int, out_exp: int, rel_mult: int,
                 rel_exp: int) -> np.ndarray:
    """TFLite's int8 HARD_SWISH (reference_ops::HardSwish, int16 fixed point): the input on a "hires" scale
    (v·2^7), once rescaled to the output scale, once to the "reluish" value in [−1, 1] (3 = 2^15) then
    [0, 1]; their SaturatingDoublingHighMul, RDBPOT by the output exponent, plus zp_out, clamped."""
    hires = (x.astype(np.int64) - zp_in) * 128
    pre_out = arith.srdhm16(hires, out_mult)
    y = arith.rounding_divide_by_pot(arith.sdhm16(reluish_q15(hires, rel_mult, rel_exp), pre_out), -out_exp) + zp_out
    return np.clip(y, -128, 127).astype(np.int8)


# -- data movement (all quantisations equal) --------------------------------------------------------------

def reshape_s8(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """RESHAPE (flatten, view): the bytes unchanged."""
    return x.reshape(shape)


def transpose_hwc_s8(x: np.ndarray) -> np.ndarray:
    """TRANSPOSE_HWC: [C, H, W] → [H·W·C], element (h, w, c) at (h·W + w)·C + c (TFLite's NHWC flatten)."""
    return np.ascontiguousarray(x.transpose(1, 2, 0)).reshape(-1)


def concat_s8(xs: list[np.ndarray]) -> np.ndarray:
    """CONCAT along the channels (or features of [F] tensors)."""
    return np.concatenate(xs, axis=0)


PAD_MODES = {1: "reflect", 2: "edge"}  # Op.mode of a PAD (format version 6) as numpy names torch's reflect, replicate


def pad_s8(x: np.ndarray, pads: Pads, zp: int, mode: int = 0) -> np.ndarray:
    """PAD of [C, H, W] by (top, left, bottom, right): mode 0 with the zero point (the real value 0), 1 reflected
    about the edge, 2 the edge repeated."""
    top, left, bottom, right = pads
    widths = ((0, 0), (top, bottom), (left, right))
    if mode:
        return np.pad(x, widths, mode=PAD_MODES[mode])  # type: ignore[call-overload]
    return np.pad(x, widths, constant_values=np.int8(zp))


def slice_s8(x: np.ndarray, start: int, size: int) -> np.ndarray:
    """SLICE: channels (or features) [start, start + size)."""
    return np.ascontiguousarray(x[start:start + size])


def channel_shuffle_s8(x: np.ndarray, groups: int) -> np.ndarray:
    """CHANNEL_SHUFFLE of [C, H, W]: output channel j·g + i = input channel i·(C/g) + j."""
    c = x.shape[0]
    return np.ascontiguousarray(x.reshape(groups, c // groups, *x.shape[1:]).swapaxes(0, 1)).reshape(x.shape)


def pixel_shuffle_s8(x: np.ndarray, r: int, mode: int) -> np.ndarray:
    """PIXEL_SHUFFLE of [C, H, W] (format version 8), bytes moved: mode 0 depth to space (output (c, h r + i, w r + j)
    = input (c r² + i r + j, h, w), torch's pixel_shuffle), 1 its inverse, 2 / 3 the same with the depth index
    (i r + j) C + c (TFLite's DEPTH_TO_SPACE / SPACE_TO_DEPTH)."""
    c, h, w = x.shape
    if mode in (0, 2):
        co = c // (r * r)
        d = x.reshape(co, r, r, h, w) if mode == 0 else x.reshape(r, r, co, h, w).transpose(2, 0, 1, 3, 4)
        return np.ascontiguousarray(d.transpose(0, 3, 1, 4, 2)).reshape(co, h * r, w * r)
    d = x.reshape(c, h // r, r, w // r, r).transpose(0, 2, 4, 1, 3)  # (c, i, j, h, w)
    if mode == 3:
        d = d.transpose(1, 2, 0, 3, 4)  # (i, j, c, h, w)
    return np.ascontiguousarray(d).reshape(c * r * r, h // r, w // r)


BYTES = np.arange(-128, 128, dtype=np.int64)  # every int8 value, in order: what a UNARY table is indexed by


def byte_table(outputs: np.ndarray) -> np.ndarray:
    """A UNARY op's 256-byte table from the int8 outputs for BYTES (−128 .. 127, in order): entry (uint8) v."""
    table = np.empty(256, np.int8)
    table[BYTES.astype(np.int8).view(np.uint8)] = np.asarray(outputs, np.int8)
    return table


def unary_table(values: np.ndarray, s_out: float, zp_out: int) -> np.ndarray:
    """TFLite's int8 lookup table (LUTPopulate, as its int8 GELU and ELU build it in Prepare): `values` holds the
    function at the 256 dequantised inputs s_in · (v − zp_in), v = −128 .. 127, each rounded once to float32; entry
    (uint8) v is clamp(round(f · (1 / s_out)) + zp_out), the product in float32 and rounded half away from zero."""
    inv = np.float32(1.0) / np.float32(s_out)
    prod = (np.asarray(values, np.float32) * inv).astype(np.float64)
    q = np.sign(prod) * np.floor(np.abs(prod) + 0.5) + zp_out
    return byte_table(np.clip(q, -128, 127))


def unary_inputs(s_in: float, zp_in: int) -> np.ndarray:
    """The float32 dequantised value of every int8 input, −128 .. 127, as TFLite forms it: s_in · (v − zp_in)."""
    return np.float32(s_in) * (np.arange(-128, 128) - zp_in).astype(np.float32)


def unary_s8(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """UNARY of an int8 graph (format version 7): each byte through the op's table, indexed by the byte as unsigned."""
    return np.asarray(table, np.int8)[np.asarray(x, np.int8).view(np.uint8)]
