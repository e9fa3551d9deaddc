"""The int8 quantisation scheme, defined once in torch: used by `quantize_graph` (numpy in, numpy out) and by
quantisation-aware fine-tuning (`qat.py`, with straight-through gradients), so the model trained is the
integer model the blob holds.

- Activations: TFLite's asymmetric uint8-style range nudged to int8: the range always contains 0,
  scale = (max − min) / 255 (float32), zero point = round(−128 − min / scale) clamped to [−128, 127].
- LinRep templates: int8, one scale per codebook s_T = max|T| / 127.
- LinRep a, b (docs/INTEGER.md §3): a_q of `bits` bits with s_a[o] = max_i |a[o, i]| / qmax (1 if all zero);
  b_q with s_b[o] = s_a[o]·s_T·2^e[o], e[o] the smallest integer with max_i |b[o, i]| / s_b[o] <= qmax.
  With at most 8 bits (`fit_int16`, the default), every integer kernel weight W is then made to fit int16
  (`W_LIMIT`, the bound the C direct kernel checks, |a_q|·128·2^max(0,−e) + |b_q|·2^max(0,e)), so that the
  optimised direct path runs one int16 plane instead of two: a channel over it first raises a negative e
  towards 0 (coarser b, whose step stays below a·T's), then widens s_a by 2^(1/4) steps (e follows) until it
  fits. QAT trains with it (fake_linrep_ab). Its accuracy cost: docs/RESULTS.md, issue 17.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from linrep_edge.method.quantize import qmax

E_RANGE = (-24, 24)  # b_exponent limits (an int8 in the blob; far outside what real layers need)
W_LIMIT = 32767  # int16: the C direct kernel's one-plane bound on |a_q|·128·2^max(0,−e) + |b_q|·2^max(0,e)
W_LIMIT_MAX_BITS = 8  # a/b widths for which the limit costs at most a fraction of a bit of a (qmax·129 < 2^15)


def activation_qparams(lo: float, hi: float) -> tuple[float, int]:
    """(scale float32, zero point) of a tensor whose calibrated values lie in [lo, hi]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo <= 0.0:
        return 1.0, 0
    scale = float(np.float32((hi - lo) / 255.0))
    zp = int(np.clip(round(-128.0 - lo / scale), -128, 127))
    return scale, zp


def template_quant(templates: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(t_q int64 like templates, s_T float32) of one codebook."""
    t = templates.detach().float()
    peak = float(t.abs().max())
    s_t = float(np.float32(peak / 127.0)) if peak > 0 else 1.0
    return torch.clamp(torch.round(t / s_t), -127, 127).to(torch.int64), s_t


def b_exponents(b: torch.Tensor, s_a: torch.Tensor, s_t: float, bits: int) -> torch.Tensor:
    """e[o]: the smallest integer with max_i |b[o, i]| <= qmax·s_a[o]·s_T·2^e (0 for an all-zero row)."""
    peak = b.detach().double().abs().amax(1)
    base = s_a.double() * s_t * qmax(bits)
    out = []
    for p, s in zip(peak.tolist(), base.tolist()):
        if p == 0.0:
            out.append(0)
            continue
        e = math.ceil(math.log2(p / s))
        while e > E_RANGE[0] and p <= s * 2.0 ** (e - 1):  # log2 rounding: take the smallest that fits
            e -= 1
        while p > s * 2.0 ** e:
            e += 1
        out.append(int(min(max(e, E_RANGE[0]), E_RANGE[1])))
    return torch.tensor(out, dtype=torch.int64)


def w_bound(a_q: torch.Tensor, b_q: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """Per output channel, max_i |a_q|·128·2^max(0,−e) + |b_q|·2^max(0,e): the bound on |W| (|t_q| <= 127) that
    the C direct kernel checks against int16."""
    pa = torch.pow(2.0, torch.clamp(-e, min=0).double())
    pb = torch.pow(2.0, torch.clamp(e, min=0).double())
    return (a_q.abs().double() * 128.0 * pa[:, None] + b_q.abs().double() * pb[:, None]).amax(1)


def _fit_int16(a_d: torch.Tensor, b: torch.Tensor, s_a: torch.Tensor, e: torch.Tensor, s_t: float, bits: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(s_a, e) with every channel's w_bound <= W_LIMIT (channels already within keep theirs)."""
    qm = qmax(bits)
    s_a, e = s_a.clone(), e.clone()
    for o in range(a_d.shape[0]):
        for _ in range(400):
            s_b = float(s_a[o]) * s_t * 2.0 ** int(e[o])
            a_q = torch.clamp(torch.round(a_d[o] / s_a[o]), -qm, qm)
            b_q = torch.clamp(torch.round(b[o].double() / s_b), -qm, qm)
            if float(w_bound(a_q[None], b_q[None], e[o:o + 1])[0]) <= W_LIMIT:
                break
            if int(e[o]) < 0:  # a·T carries 2^−e: halve it (b's step doubles, still below a·T's)
                e[o] += 1
                continue
            s_a[o] = s_a[o] * float(2.0 ** 0.25)
            e[o] = b_exponents(b[o:o + 1], s_a[o:o + 1], s_t, bits)[0]
    return s_a, e


def bias_floor(bias: np.ndarray | torch.Tensor | None, s_in: float, s_t: float,
               one_scale: bool = False) -> torch.Tensor | None:
    """Per output channel, the least s_a of a LinRep layer whose int32 bias leaves half of int32 to the kernels'
    sum: |bias| / (s_in·s_a·s_T) <= 2^30. TFLite's rule for a dense channel (`quantize._widen_scales_for_bias`),
    here for a nearly dead kernel (a ~ 0, e.g. a depthwise channel of MLPerf Tiny's VWW model) beside a normal
    bias, which would otherwise overflow the accumulator. `one_scale` (a LinRep transposed conv: one s_a for the
    layer): the largest, [1]. None without a bias."""
    if bias is None:
        return None
    b = torch.as_tensor(np.asarray(bias, dtype=np.float64).reshape(-1))
    floor = (b.abs() / (float(np.float32(s_in)) * 2.0 ** 30 * float(np.float32(s_t)))).float()
    if one_scale:
        return floor.max().reshape(1) if floor.numel() else None
    return floor


def linrep_ab_quant(a: torch.Tensor, b: torch.Tensor, s_t: float, bits: int, fit_int16: bool = True,
                    floor: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(a_q, s_a float32 [Cout], b_q, e [Cout], s_b float64 [Cout]) of one LinRep layer's a, b [Cout, Cin/g]
    (pruned kernels must already be 0 in a and b). fit_int16 (bits <= 8): every W within int16 (module doc).
    floor ([Cout], `bias_floor`): s_a is at least this, and a channel it widens keeps e >= 0 so that its weight
    scale s_a·s_T·2^−max(0,−e) stays at least floor·s_T."""
    qm = qmax(bits)
    a_d = a.detach().float()
    peak = a_d.abs().amax(1)
    s_a = torch.where(peak > 0, peak / qm, torch.ones_like(peak)).float()
    widen = torch.zeros_like(peak, dtype=torch.bool)
    if floor is not None:
        widen = floor > s_a
        s_a = torch.where(widen, floor, s_a).float()
    e = b_exponents(b, s_a, s_t, bits)
    e = torch.where(widen, e.clamp(min=0), e)
    if fit_int16 and bits <= W_LIMIT_MAX_BITS:
        a_q = torch.clamp(torch.round(a_d / s_a[:, None]), -qm, qm)
        s_b = s_a.double() * s_t * torch.pow(2.0, e.double())
        b_q = torch.clamp(torch.round(b.detach().double() / s_b[:, None]), -qm, qm)
        if bool((w_bound(a_q, b_q, e) > W_LIMIT).any()):
            s_a, e = _fit_int16(a_d, b.detach(), s_a, e, s_t, bits)
            s_a = s_a.float()
            e = torch.where(widen, e.clamp(min=0), e)  # raising a negative e only lowers the bound
    a_q = torch.clamp(torch.round(a_d / s_a[:, None]), -qm, qm).to(torch.int64)
    s_b = s_a.double() * s_t * torch.pow(2.0, e.double())
    b_q = torch.clamp(torch.round(b.detach().double() / s_b[:, None]), -qm, qm).to(torch.int64)
    return a_q, s_a, b_q, e, s_b


def fake_linrep_ab(a: torch.Tensor, b: torch.Tensor, s_t: float, bits: int, floor: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """a, b as the integer layer computes them (a_q·s_a, b_q·s_b) with straight-through gradients."""
    a_q, s_a, b_q, _, s_b = linrep_ab_quant(a, b, s_t, bits, floor=floor)
    a_deq = a_q.to(a.dtype) * s_a[:, None].to(a.dtype)
    b_deq = (b_q.double() * s_b[:, None]).to(b.dtype)
    return a + (a_deq - a).detach(), b + (b_deq - b).detach()


def fake_activation(x: torch.Tensor, scale: float, zp: int, lo: int = -128, hi: int = 127) -> torch.Tensor:
    """x through int8 with (scale, zp) and the clamp [lo, hi]: gradient 1 inside the range, 0 outside."""
    lo_r, hi_r = (lo - zp) * scale, (hi - zp) * scale
    xc = torch.clamp(x, lo_r, hi_r)
    q = torch.clamp(torch.round(xc / scale) + zp, lo, hi)
    return xc + ((q - zp) * scale - xc).detach()
