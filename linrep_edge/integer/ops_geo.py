"""TFLite's int8 MUL, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR and TRANSPOSE_CONV, and AFFINE as TFLite runs a
standalone per-channel scale and shift (a depthwise 1×1 conv), on numpy arrays (docs/INTEGER.md §2).

Tensors are int8 in our layout without the batch dimension ([C, H, W] or [F]). Every function returns an int8
array and reproduces TFLite's integer result bit for bit (TFLite Micro is the oracle:
tests/test_int8_geo_ops.py); the C reference kernels (`lr_mul_s8_ref.c`, `lr_affine_s8_ref.c`,
`lr_resize_*_s8_ref.c`, `lr_conv_transpose2d_s8_ref.c`) equal them.
"""

from __future__ import annotations

import numpy as np

from linrep_edge.integer import arith

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]  # top, left, bottom, right
RESIZE_FRAC_BITS = 10  # TFLite's integer bilinear resize: positions in 1/1024 of an input pixel


def _channelwise(x1: np.ndarray, like: np.ndarray) -> np.ndarray:
    """x1 broadcast to `like`: equal shapes, one value per channel ([C] or [C, 1, 1]) of [C, H, W], or (MUL, format
    version 8) one value per pixel ([1, H, W], the same for every channel)."""
    if x1.shape == like.shape:
        return x1
    if x1.ndim == like.ndim == 3 and x1.shape[0] == 1 and like.shape[0] > 1:
        return np.broadcast_to(x1, like.shape)
    return np.broadcast_to(x1.reshape(-1, *([1] * (like.ndim - 1))), like.shape)


def mul_s8(x0: np.ndarray, x1: np.ndarray, zp0: int, zp1: int, zp_out: int, multiplier: int, shift: int,
           act_min: int, act_max: int) -> np.ndarray:
    """TFLite's int8 MUL (reference_integer_ops::Mul, BroadcastMul for x1 one value per channel or per pixel):
    y = clamp(MBQM((x0 − zp0)·(x1 − zp1), M, s) + zp_out, act_min, act_max); M, s from s0·s1 / s_out."""
    prod = (x0.astype(np.int64) - int(zp0)) * (_channelwise(x1, x0).astype(np.int64) - int(zp1))
    y = arith.multiply_by_quantized_multiplier(prod, int(multiplier), int(shift)) + int(zp_out)
    return arith.saturate_int8(y, act_min, act_max)


def affine_s8(x: np.ndarray, w_q: np.ndarray, bias: np.ndarray | None, multiplier: np.ndarray, shift: np.ndarray,
              zp_in: int, zp_out: int, act_min: int, act_max: int) -> np.ndarray:
    """AFFINE (per-channel scale and shift) as a depthwise 1×1 conv: acc[c] = bias[c] + w_q[c]·(x − zp_in),
    y = requant(acc, M[c], s[c], zp_out, act_min, act_max) — CONV2D's arithmetic, one requantisation."""
    c = x.shape[0]
    shape = (c,) + (1,) * (x.ndim - 1)

    def per(v: np.ndarray | None) -> np.ndarray:
        a = np.zeros(1, np.int64) if v is None else np.asarray(v, np.int64).reshape(-1)
        return np.broadcast_to(a, (c,)).reshape(shape)

    acc = per(w_q) * (x.astype(np.int64) - int(zp_in)) + per(bias)
    y = arith.multiply_by_quantized_multiplier(acc, per(multiplier), per(shift)) + int(zp_out)
    return arith.saturate_int8(y, act_min, act_max)


def nearest_sources(n_out: int, n_in: int) -> np.ndarray:
    """The input index of each output index of nearest resizing: min(floor(i · (n_in / n_out)), n_in − 1), the ratio
    and the product in float32 (TFLite's RESIZE_NEAREST_NEIGHBOR without flags, torch's `size=`); for integer
    multiples that is i / (n_out / n_in) (RESIZE mode 0)."""
    ratio = np.float32(n_in) / np.float32(n_out)
    return np.minimum(np.floor(np.arange(n_out, dtype=np.float32) * ratio).astype(np.int64), n_in - 1)


def resize_nearest_s8(x: np.ndarray, out_hw: Pair, any_size: bool = False) -> np.ndarray:
    """RESIZE mode 0 (nearest, integer factors oh = h·fh, ow = w·fw: output (r, j) takes input (r / fh, j / fw)) and
    mode 3 (any size, format version 8: `nearest_sources`), TFLite's RESIZE_NEAREST_NEIGHBOR with align_corners and
    half_pixel_centers false (torch's "nearest" to a `size`)."""
    _, h, w = x.shape
    oh, ow = out_hw
    if any_size:
        rows, cols = nearest_sources(oh, h), nearest_sources(ow, w)
    else:
        rows, cols = np.arange(oh) // (oh // h), np.arange(ow) // (ow // w)
    return np.ascontiguousarray(x[:, rows][:, :, cols])


def _axis(n_out: int, n_in: int, align_corners: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TFLite's ComputeInterpolationValuesInteger along one axis: (position in 1/1024 pixels, lower, upper)."""
    one = 1 << RESIZE_FRAC_BITS
    if align_corners and n_out > 1:
        scale = (one * (n_in - 1) + (n_out - 1) // 2) // (n_out - 1)
    else:
        scale = (one * n_in + n_out // 2) // n_out
    d = np.arange(n_out, dtype=np.int64)
    pos = d * scale if align_corners else d * scale + scale // 2 - (one >> 1)  # half_pixel_centers
    lower = np.maximum(np.where(pos < 0, -((-pos) // one), pos // one), 0)  # C division truncates
    up = pos + one - 1
    upper = np.minimum(np.where(up < 0, -((-up) // one), up // one), n_in - 1)
    return pos, lower, upper


def resize_bilinear_s8(x: np.ndarray, out_hw: Pair, align_corners: bool) -> np.ndarray:
    """RESIZE modes 1 and 2 (bilinear), TFLite's int8 ResizeBilinearInteger: mode 1 is half_pixel_centers
    (torch's align_corners=False), mode 2 align_corners. With positions p (1/1024 pixels) and lower / upper
    indices i0, i1 per axis, y = (Σ x[i, j]·wy·wx + 2^19·sign) / 2^20 (C division), the weights
    wy = 1024 − (py − 1024·i0) at i0 and py − 1024·i0 at i1 (x likewise). In and out quantised alike."""
    _, h, w = x.shape
    oh, ow = out_hw
    one = 1 << RESIZE_FRAC_BITS
    py, y0, y1 = _axis(oh, h, align_corners)
    px, x0, x1 = _axis(ow, w, align_corners)
    if y0[-1] > h - 1 or x0[-1] > w - 1:  # TFLite does not clamp the lower index above (the verifier refuses it)
        raise ValueError(f"resize_bilinear_s8: {h}x{w} to {oh}x{ow} reads past the input in TFLite's arithmetic")
    fy = (py - one * y0)[:, None]
    fx = (px - one * x0)[None, :]
    xi = x.astype(np.int64)
    total = (xi[:, y0][:, :, x0] * (one - fy) * (one - fx) + xi[:, y1][:, :, x0] * fy * (one - fx)
             + xi[:, y0][:, :, x1] * (one - fy) * fx + xi[:, y1][:, :, x1] * fy * fx)
    num = total + np.where(total > 0, 1 << 19, -(1 << 19))
    q = np.abs(num) >> 20
    return np.where(num < 0, -q, q).astype(np.int8)


def conv_transpose2d_s8(x: np.ndarray, w_q: np.ndarray, bias: np.ndarray | None, multiplier: np.ndarray,
                        shift: np.ndarray, zp_in: int, zp_out: int, act_min: int, act_max: int, stride: Pair,
                        pads: Pads, dilation: Pair, groups: int, out_hw: Pair) -> np.ndarray:
    """TFLite's int8 TRANSPOSE_CONV (per output channel) in torch's geometry: w_q [Cin, Cout/groups, kh, kw];
    input pixel (iy, ix) of channel i adds w_q[i, o % cout_g, ky, kx]·(x − zp_in) to output pixel
    (iy·sh − pt + ky·dh, ix·sw − pl + kx·dw) of each output channel o of its group (taps outside the output
    are dropped); acc = bias[o] + that int32 sum, y = requant(acc, M[o], s[o], zp_out, act_min, act_max)."""
    cin, h, w = x.shape
    _, cout_g, kh, kw = w_q.shape
    cin_g, cout = cin // groups, cout_g * groups
    oh, ow = out_hw
    (sh, sw), (dh, dw) = stride, dilation
    top, left = pads[0], pads[1]
    xo = x.astype(np.int64) - int(zp_in)
    acc = np.zeros((cout, oh, ow), np.int64)
    for g in range(groups):
        xs = xo[g * cin_g:(g + 1) * cin_g].reshape(cin_g, h * w)
        wg = w_q[g * cin_g:(g + 1) * cin_g].astype(np.int64)  # [cin_g, cout_g, kh, kw]
        for ky in range(kh):
            rows = np.arange(h) * sh - top + ky * dh
            ry = (rows >= 0) & (rows < oh)
            for kx in range(kw):
                cols = np.arange(w) * sw - left + kx * dw
                rx = (cols >= 0) & (cols < ow)
                contrib = (wg[:, :, ky, kx].T @ xs).reshape(cout_g, h, w)  # exact: |sum| < 2^31 (verified)
                sub = contrib[:, ry][:, :, rx]
                acc[g * cout_g:(g + 1) * cout_g][:, rows[ry][:, None], cols[rx][None, :]] += sub
    per = (cout, 1, 1)
    b = np.zeros(per, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(per)
    m = np.broadcast_to(np.asarray(multiplier, np.int64).reshape(-1), (cout,)).reshape(per)
    s = np.broadcast_to(np.asarray(shift, np.int64).reshape(-1), (cout,)).reshape(per)
    y = arith.multiply_by_quantized_multiplier(acc + b, m, s) + int(zp_out)
    return arith.saturate_int8(y, act_min, act_max)
