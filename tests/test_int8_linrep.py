"""Integer LinRep (docs/INTEGER.md §3): both conv paths bit for bit, equal to an independent dense integer
conv of W (torch float64, exact for these magnitudes) with TFLite's requantisation, the kernel integers
against the closed form a·T + b within the quantisation step, and the accumulator bound attained."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from linrep_edge.format.ir import Codebook, Graph, IntParams, LinRepWeights, Op, Tensor
from linrep_edge.integer import arith
from linrep_edge.integer.linrep import (
    accumulator_bound_ok,
    accumulator_bounds,
    kernel_integers,
    linrep_conv2d_s8,
    weight_scale,
)
from linrep_edge.integer.scheme import linrep_ab_quant, template_quant


def _out_hw(h: int, k: int, s: int, p0: int, p1: int, d: int) -> int:
    return (h + p0 + p1 - d * (k - 1) - 1) // s + 1


def int8_linrep_graph(seed: int, cin: int = 6, cout: int = 8, hw: tuple[int, int] = (9, 8), k: tuple[int, int] = (3, 3),
                      stride: tuple[int, int] = (1, 1), pads: tuple[int, int, int, int] = (1, 1, 1, 1),
                      dilation: tuple[int, int] = (1, 1), groups: int = 1, bits: int = 6, n_templates: int = 5,
                      prune: float = 0.2) -> Graph:
    """One random integer LinRep layer: int8 templates, a_q/b_q of `bits` bits, exponents of both signs."""
    rng = np.random.default_rng(seed)
    qm = (1 << (bits - 1)) - 1
    t_q = rng.integers(-127, 128, (n_templates, *k)).astype(np.int8)
    shape = (cout, cin // groups)
    idx = rng.integers(0, n_templates, shape)
    mask = rng.random(shape) >= prune
    a_q = np.where(mask, rng.integers(-qm, qm + 1, shape), 0)
    b_q = np.where(mask, rng.integers(-qm, qm + 1, shape), 0)
    e = rng.integers(-3, 8, cout)
    e[0], e[-1] = -3, 7
    a_s = rng.uniform(0.001, 0.01, cout).astype(np.float32)
    s_t = 0.006
    lr = LinRepWeights(0, idx, np.zeros(shape), np.zeros(shape), ab_bits=bits, mask=mask)
    lr.set_quantized(a_q, a_s, b_q, (a_s.astype(np.float64) * s_t * 2.0 ** e).astype(np.float32))
    lr.b_exponent = e
    oh = _out_hw(hw[0], k[0], stride[0], pads[0], pads[2], dilation[0])
    ow = _out_hw(hw[1], k[1], stride[1], pads[1], pads[3], dilation[1])
    tensors = [Tensor((cin, *hw), "x", "int8", 0.05, int(rng.integers(-128, 128))),
               Tensor((cout, oh, ow), "y", "int8", 0.2, int(rng.integers(-20, 20)))]
    ip = IntParams(np.zeros(cout, np.int32), np.zeros(cout, np.int32), -128, 127,
                   bias=rng.integers(-20000, 20000, cout).astype(np.int32))
    op = Op("LINREP_CONV2D", "conv", [0], 1, kernel=k, stride=stride, pads=pads, dilation=dilation, groups=groups,
            out_channels=cout, linrep=lr, iparams=ip)
    cb = Codebook(t_q.astype(np.float32) * np.float32(s_t), "int8", q=t_q, scale=s_t)
    g = Graph(tensors, 0, 1, [op], codebooks=[cb])
    spread = 74.0 * np.sqrt((kernel_integers(g, op).astype(np.float64) ** 2).reshape(cout, -1).sum(1)) + 1.0
    pairs = [arith.quantize_multiplier(float(r)) for r in 40.0 / spread * rng.uniform(0.5, 1.5, cout)]
    ip.multiplier = np.array([m for m, _ in pairs], np.int32)
    ip.shift = np.array([s for _, s in pairs], np.int32)
    return g


def dense_reference(g: Graph, x: np.ndarray) -> np.ndarray:
    """Independent: torch's float64 conv of (x − zp_in) with W (every value an integer < 2^53: exact), the
    int32 bias, then TFLite's MultiplyByQuantizedMultiplier, zero point and clamp."""
    op = g.ops[0]
    ip = op.iparams
    top, left, bottom, right = op.pads
    xs = torch.from_numpy(x.astype(np.float64) - g.tensors[0].zero_point)[None]
    xs = F.pad(xs, (left, right, top, bottom))
    w = torch.from_numpy(kernel_integers(g, op).astype(np.float64))
    acc = F.conv2d(xs, w, torch.from_numpy(ip.bias.astype(np.float64)), op.stride, 0, op.dilation, op.groups)[0]
    acc_i = acc.numpy().astype(np.int64)
    assert np.abs(acc_i).max() < 1 << 31
    y = arith.multiply_by_quantized_multiplier(acc_i, ip.multiplier[:, None, None].astype(np.int64),
                                               ip.shift[:, None, None].astype(np.int64))
    return np.clip(y + g.tensors[1].zero_point, ip.act_min, ip.act_max).astype(np.int8)


CASES = [
    dict(),
    dict(stride=(2, 2), pads=(0, 1, 1, 0)),
    dict(groups=2, dilation=(2, 1), pads=(2, 1, 2, 1)),
    dict(k=(1, 5), pads=(0, 2, 0, 2), bits=4, prune=0.5),
    dict(cin=4, cout=4, groups=4, stride=(1, 2), bits=8, prune=0.0),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_paths_equal_and_match_dense_integer_conv(case):
    g = int8_linrep_graph(case, **CASES[case])
    rng = np.random.default_rng(100 + case)
    for _ in range(3):
        x = rng.integers(-128, 128, g.tensors[0].shape).astype(np.int8)
        direct = linrep_conv2d_s8(g, g.ops[0], x, "direct")
        reuse = linrep_conv2d_s8(g, g.ops[0], x, "reuse")
        assert direct.dtype == np.int8 and direct.shape == g.tensors[1].shape
        np.testing.assert_array_equal(direct, reuse)
        np.testing.assert_array_equal(direct, dense_reference(g, x))
        assert len(np.unique(direct)) > 10  # the outputs are not all clamped


def test_pruned_kernel_contributes_nothing():
    g = int8_linrep_graph(7, prune=0.4)
    w = kernel_integers(g, g.ops[0])
    assert (w[~g.ops[0].linrep.mask] == 0).all()
    assert (np.abs(w[g.ops[0].linrep.mask]).sum(axis=(1, 2)) > 0).any()


def test_kernel_integers_closed_form():
    """W·s_w = a_q·s_a·t_q·s_T + b_q·s_b exactly, and within the quantisation step of a·T + b."""
    rng = np.random.default_rng(3)
    t = rng.standard_normal((16, 3, 3)).astype(np.float32)
    t -= t.mean(axis=(1, 2), keepdims=True)
    t /= np.linalg.norm(t.reshape(16, -1), axis=1)[:, None, None]
    cout, cin = 12, 10
    a = (rng.standard_normal((cout, cin)) * rng.uniform(0.05, 2, (cout, 1))).astype(np.float32)
    b = (rng.standard_normal((cout, cin)) * rng.uniform(0.001, 0.5, (cout, 1))).astype(np.float32)
    idx = rng.integers(0, 16, (cout, cin))
    for bits in (4, 5, 6):
        t_q, s_t = template_quant(torch.from_numpy(t))
        a_q, s_a, b_q, e, s_b = linrep_ab_quant(torch.from_numpy(a), torch.from_numpy(b), s_t, bits,
                                                fit_int16=False)
        assert int(a_q.abs().max()) <= (1 << (bits - 1)) - 1 and int(b_q.abs().max()) <= (1 << (bits - 1)) - 1
        assert (b_q.abs().amax(1) > ((1 << (bits - 1)) - 1) // 2).all()  # e is the smallest that fits
        lr = LinRepWeights(0, idx, a, b, ab_bits=bits)
        lr.set_quantized(a_q.numpy(), s_a.numpy(), b_q.numpy(), s_b.numpy().astype(np.float32))
        lr.b_exponent = e.numpy()
        op = Op("LINREP_CONV2D", "c", [0], 1, kernel=(3, 3), linrep=lr,
                iparams=IntParams(np.zeros(cout, np.int32), np.zeros(cout, np.int32), bias=np.zeros(cout, np.int32)))
        g = Graph([Tensor((cin, 5, 5)), Tensor((cout, 5, 5))], 0, 1, [op],
                  codebooks=[Codebook(t, "int8", q=t_q.numpy().astype(np.int8), scale=s_t)])
        real = kernel_integers(g, op) * weight_scale(g, op)[:, None, None, None]
        exact = (a_q.numpy() * s_a.numpy().astype(np.float64)[:, None])[..., None, None] * (t_q.numpy() * s_t)[idx] \
            + (b_q.numpy() * s_b.numpy()[:, None])[..., None, None]
        np.testing.assert_allclose(real, exact, rtol=1e-12, atol=1e-15)
        target = a[..., None, None] * t[idx] + b[..., None, None]
        step = (s_a.numpy()[:, None, None, None] / 2 * np.abs(t[idx])
                + np.abs(a)[..., None, None] * s_t / 2 + s_a.numpy()[:, None, None, None] * s_t / 4
                + s_b.numpy()[:, None, None, None] / 2)
        assert (np.abs(real - target) <= step + 1e-7).all()
        assert np.abs(real - target).max() > 0  # quantisation did happen


def test_ab_quant_fits_int16():
    """With fit_int16 and at most 8 bits every kernel weight fits the C direct kernel's int16 bound: channels
    with b far above a·T (e > 7) widen s_a, channels with b far below it (e < −1) raise e; channels already within keep the
    unconstrained integers; the real weights stay within a few quantisation steps of a·T + b."""
    from linrep_edge.integer.scheme import W_LIMIT, w_bound

    rng = np.random.default_rng(5)
    t = rng.standard_normal((16, 3, 3)).astype(np.float32)
    _, s_t = template_quant(torch.from_numpy(t))
    cout, cin = 12, 10
    a = rng.standard_normal((cout, cin)).astype(np.float32)
    b = (rng.standard_normal((cout, cin)) * np.array([300.0] * 4 + [1e-3] * 4 + [0.3] * 4)[:, None]).astype(np.float32)
    at, bt = torch.from_numpy(a), torch.from_numpy(b)
    free = linrep_ab_quant(at, bt, s_t, 8, fit_int16=False)
    free9 = linrep_ab_quant(at, bt, s_t, 9, fit_int16=False)
    fit = linrep_ab_quant(at, bt, s_t, 8, fit_int16=True)
    over = (w_bound(free[0], free[2], free[3]) > W_LIMIT).numpy()
    assert over[:8].all() and not over[8:].any()  # both kinds of channel exceed int16 unconstrained
    assert (w_bound(fit[0], fit[2], fit[3]) <= W_LIMIT).all()
    assert (fit[3][:4] < free[3][:4]).all() and (fit[1][:4] > free[1][:4]).all()  # e > 7: s_a wider, e lower
    assert (fit[3][4:8] == -1).all() and (fit[1][4:8] == free[1][4:8]).all()  # e < −1: raised, s_a kept
    for k in (0, 1, 2, 3):
        assert torch.equal(fit[k][8:], free[k][8:])
    for q in (free, fit):  # a_q·s_a·T + b_q·s_b against a·T + b, per channel, relative to the channel's peak
        a_q, s_a, b_q, _, s_b = q
        real = (a_q.double() * s_a.double()[:, None])[..., None] + (b_q.double() * s_b[:, None])[..., None]
        target = at.double()[..., None] + bt.double()[..., None]
        assert ((real - target).abs().amax((1, 2)) <= 0.02 * target.abs().amax((1, 2))).all()
    assert linrep_ab_quant(at, bt, s_t, 9, fit_int16=True)[3].tolist() == free9[3].tolist()  # only up to 8 bits
    assert linrep_ab_quant(at, bt, s_t, 8)[3].tolist() == fit[3].tolist()  # on by default


def test_accumulator_bound_is_attained_and_refused():
    g = int8_linrep_graph(11, cin=3, cout=2, hw=(3, 3), pads=(0, 0, 0, 0), prune=0.0, bits=8)
    op = g.ops[0]
    w = kernel_integers(g, op)
    from linrep_edge.integer.linrep import conv_accumulators

    def reach(zp: int, x: np.ndarray) -> int:  # |acc − bias| for input x at zero point zp
        acc = conv_accumulators(x.astype(np.int8), w, op.iparams.bias, zp, (1, 1), (0, 0, 0, 0), (1, 1), 1)
        return abs(int(acc[0, 0, 0]) - int(op.iparams.bias[0]))

    # x − zp = −255 on the positive weights (zp 127), +255 on the negative ones (zp −128): 255·Σ|W| in all
    total = reach(127, np.where(w[0] > 0, -128, 127)) + reach(-128, np.where(w[0] < 0, 127, -128))
    direct, reuse = accumulator_bounds(g, op)
    assert total + abs(int(op.iparams.bias[0])) == direct[0]
    assert (reuse >= direct).all()
    assert accumulator_bound_ok(g, op)
    op.linrep.b_exponent = np.array([20, 0])  # b_q·2^20 over 27 taps: far past 2^31
    assert not accumulator_bound_ok(g, op)
