"""The cost model that picks the direct or the template-reuse path of each LinRep conv.

The mirror, term for term, of `lr_op_conv_info` in runtime_c (linrep.h, lr_reuse.c); a test checks
that both give the same numbers. It guarantees nothing about time: it counts multiply-adds and 4-byte
memory accesses from the layer's shape and the number of distinct templates each input channel's
kernels really use (U), and `bench speed` reports whether its choice was the faster path measured on
a Cortex-M4F. With P = oh·ow output pixels, n = Cout·Cin/groups kernels, kk = kh·kw and taps the
(tap, output pixel) pairs of one kernel inside the input (padding taps are skipped):

    direct_macs  = n·taps + n·kk                   direct_words = 3·n·taps + 2·n·kk + 3·Cout·P
    box          = Cin·(ih·iw + 2·ih·ow + P)
    reuse_macs   = U·taps + 2·n·P + box            reuse_words  = 3·U·taps + 4·n·P + 2·box + 3·Cout·P + K

cost = macs + words; the runtime's automatic choice takes reuse iff reuse_cost < direct_cost. A layer
with pruned kernels always runs the direct path (which skips them): its reuse figures are 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .ir import Graph, Op


@dataclass
class ConvCost:
    path: str  # "direct" or "reuse": the automatic choice
    templates_used: int
    kernels: int
    direct_macs: int
    direct_words: int
    reuse_macs: int
    reuse_words: int

    @property
    def direct_cost(self) -> int:
        return self.direct_macs + self.direct_words

    @property
    def reuse_cost(self) -> int:
        return self.reuse_macs + self.reuse_words

    def to_json(self) -> dict[str, int | str]:
        d: dict[str, int | str] = dict(asdict(self))
        d["direct_cost"], d["reuse_cost"] = self.direct_cost, self.reuse_cost
        return d


def _valid(n_in: int, n_out: int, k: int, s: int, d: int, pad: int) -> int:
    """Sum over the k taps of the output positions whose tap falls inside the input."""
    total = 0
    for t in range(k):
        off = t * d - pad
        lo = 0 if off >= 0 else (-off + s - 1) // s
        hi = 0 if n_in - 1 - off < 0 else min((n_in - 1 - off) // s + 1, n_out)
        total += max(0, hi - lo)
    return total


def templates_used(idx: np.ndarray, groups: int) -> int:
    """U: over the groups' input channels, the number of distinct templates their kernels use."""
    cout, cin_g = idx.shape
    cout_g = cout // groups
    return sum(len(np.unique(idx[g * cout_g:(g + 1) * cout_g, i])) for g in range(groups) for i in range(cin_g))


def conv_cost(op: Op, in_shape: tuple[int, ...], out_shape: tuple[int, ...], k: int) -> ConvCost:
    """The cost model of one LINREP_CONV2D op (in/out shapes [C, H, W], k the codebook size)."""
    assert op.linrep is not None
    cin, ih, iw = in_shape
    cout, oh, ow = out_shape
    (kh, kw), (sh, sw), (dh, dw) = op.kernel, op.stride, op.dilation
    n = cout * (cin // op.groups)
    p, kk = oh * ow, kh * kw
    taps = _valid(ih, oh, kh, sh, dh, op.pads[0]) * _valid(iw, ow, kw, sw, dw, op.pads[1])
    common = 3 * cout * p
    if op.linrep.mask is not None:  # pruned kernels: direct only
        return ConvCost("direct", 0, n, n * taps + n * kk, 3 * n * taps + 2 * n * kk + common, 0, 0)
    u = templates_used(np.asarray(op.linrep.idx), op.groups)
    box = cin * (ih * iw + 2 * ih * ow + p)
    c = ConvCost("direct", u, n, n * taps + n * kk, 3 * n * taps + 2 * n * kk + common,
                 u * taps + 2 * n * p + box, 3 * u * taps + 4 * n * p + 2 * box + common + k)
    if 0 < c.reuse_cost < c.direct_cost:
        c.path = "reuse"
    return c


def graph_costs(g: Graph) -> dict[int, ConvCost]:
    """Op index -> cost model, for every LINREP_CONV2D op of a graph."""
    out = {}
    for i, op in enumerate(g.ops):
        if op.type == "LINREP_CONV2D" and op.linrep is not None:
            k = g.codebooks[op.linrep.codebook].size
            out[i] = conv_cost(op, tuple(g.tensors[op.inputs[0]].shape), tuple(g.tensors[op.output].shape), k)
    return out


REUSE_TILE_FLOATS = 1024  # LR_REUSE_TILE_FLOATS of the default build


def reuse_scratch_floats(op: Op, in_shape: tuple[int, ...], out_shape: tuple[int, ...], k: int) -> int:
    """4-byte words of scratch the reuse path needs for one LinRep conv (lr_reuse.c, reuse_layout_of):
    decoded codebook, template lists, column bounds, a row of prefix sums, one tile of output rows."""
    cin, ih, iw = in_shape
    cout, oh, ow = out_shape
    (kh, kw), (sh, _), (dh, _) = op.kernel, op.stride, op.dilation
    cout_g = cout // op.groups
    f = REUSE_TILE_FLOATS // ow
    num = f - (kh - 1) * dh - 1 + sh
    th = int(num / (sh + 2)) if num >= 0 else -(-num // (sh + 2))  # C division truncates toward zero
    th = min(max(th, 1), oh)
    in_rows = min((th - 1) * sh + (kh - 1) * dh + 1, ih)
    nu = min(k, cout_g)
    return k * kh * kw + k + 2 * cout_g + (nu + 1) + nu + 2 * ow + iw + in_rows * ow + 2 * th * ow
