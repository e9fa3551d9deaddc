"""The C runtime, op by op, against torch (via ctypes; builds runtime_c with make first).

Every graph is built by hand with the IR (so that odd shapes, asymmetric padding, non-square kernels
and both storage dtypes are covered), packed with `pack_graph`, read back with `parse` and run twice:
in the C runtime, and in torch on exactly the stored values (`GraphModel`, or F.pad + conv2d /
max_pool2d where torch modules cannot express asymmetric padding). Tolerance: rtol 1e-5 plus an
absolute 1e-5 of the output's scale (sums of a few hundred fp32 products in another order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from linrep_edge.errors import LinRepError
from linrep_edge.graph.capture import capture
from linrep_edge.graph.executor import GraphModel
from linrep_edge.format.ir import Codebook, Graph, LinRepWeights, Op
from linrep_edge.format.writer import FORMAT_VERSION, blob_crc, crc_field_offset, pack_graph
from linrep_edge.format.reader import parse

ROOT = Path(__file__).resolve().parent.parent


def _close(c: np.ndarray, r: np.ndarray) -> None:
    assert c.shape == r.shape
    scale = max(1.0, float(np.abs(r[np.isfinite(r)]).max(initial=0.0)))
    np.testing.assert_allclose(c, r, rtol=1e-5, atol=1e-5 * scale)


def _out_size(n: int, k: int, s: int, d: int, p0: int, p1: int) -> int:
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


def _reference(blob: bytes, x: np.ndarray) -> np.ndarray:
    """torch on the stored values: GraphModel, or per op when padding is asymmetric."""
    g = parse(blob).graph
    if all(op.pads[:2] == op.pads[2:] or op.type == "PAD" for op in g.ops):  # PAD: F.pad in GraphModel
        with torch.no_grad():
            return GraphModel(g).eval()(torch.from_numpy(x)).numpy()
    vals = {g.input: torch.from_numpy(x)}
    for op in g.ops:
        t, left = vals[op.inputs[0]], op.pads
        pad = (left[1], left[3], left[0], left[2])  # F.pad: (left, right, top, bottom)
        if op.type in ("CONV2D", "LINREP_CONV2D"):
            w = torch.from_numpy(g.dense_weight(op))
            b = torch.from_numpy(g.constants[op.bias].values) if op.bias >= 0 else None
            y = F.conv2d(F.pad(t, pad), w, b, op.stride, 0, op.dilation, op.groups)
        elif op.type == "MAX_POOL2D":
            y = F.max_pool2d(F.pad(t, pad, value=-float("inf")), op.kernel, op.stride, 0, op.dilation)
        else:
            raise AssertionError(op.type)
        vals[op.output] = y
    return vals[g.output].numpy()


def _run_both(crt, g: Graph, n: int = 2, seed: int = 0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, bytes]:
    blob = pack_graph(g)
    rt = crt(blob)
    shape = g.tensors[g.input].shape
    x = (np.random.default_rng(seed).standard_normal((n, *shape)) * scale).astype(np.float32)
    return rt.run(x), _reference(blob, x), blob


def conv_graph(cin: int, h: int, w: int, cout: int, kernel: tuple[int, int], stride=(1, 1), pads=(0, 0, 0, 0),
               dilation=(1, 1), groups: int = 1, kind: str = "dense", const_dtype: str = "fp32",
               cb_dtype: str = "fp16", bias: bool = True, templates: int = 5, index_bits: int = 0,
               seed: int = 0) -> Graph:
    """One conv op. kind: "dense" (CONV2D) or "linrep" (LINREP_CONV2D with a random codebook)."""
    rng = np.random.default_rng(seed)
    kh, kw = kernel
    oh = _out_size(h, kh, stride[0], dilation[0], pads[0], pads[2])
    ow = _out_size(w, kw, stride[1], dilation[1], pads[1], pads[3])
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    g.input = g.add_tensor((cin, h, w), "x")
    g.output = g.add_tensor((cout, oh, ow), "y")
    b = g.add_constant(rng.standard_normal(cout), const_dtype) if bias else -1
    common = dict(kernel=kernel, stride=stride, pads=pads, dilation=dilation, groups=groups, out_channels=cout, bias=b)
    if kind == "linrep":
        g.codebooks.append(Codebook(rng.standard_normal((templates, kh, kw)).astype(np.float32), cb_dtype))
        shape = (cout, cin // groups)
        lr = LinRepWeights(0, rng.integers(0, templates, shape), rng.standard_normal(shape).astype(np.float32),
                           (0.3 * rng.standard_normal(shape)).astype(np.float32), index_bits)
        g.ops.append(Op("LINREP_CONV2D", "conv", [g.input], g.output, linrep=lr, **common))
    else:
        wc = g.add_constant(rng.standard_normal((cout, cin // groups, kh, kw)), const_dtype)
        g.ops.append(Op("CONV2D", "conv", [g.input], g.output, weight=wc, **common))
    return g


# (cin, h, w, cout, kernel, stride, pads (top, left, bottom, right), dilation, groups)
CONVS = [
    (3, 9, 11, 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (4, 10, 7, 6, (3, 1), (2, 1), (1, 0, 1, 0), (1, 1), 2),
    (6, 8, 9, 6, (1, 5), (1, 2), (0, 2, 0, 2), (1, 1), 6),  # depthwise
    (4, 13, 12, 8, (5, 3), (3, 2), (2, 1, 0, 2), (1, 2), 1),  # asymmetric
    (8, 7, 7, 4, (3, 3), (2, 2), (0, 1, 1, 0), (2, 1), 4),  # asymmetric, dilated rows
    (2, 5, 6, 3, (3, 3), (1, 3), (3, 3, 3, 3), (1, 1), 1),  # padding as wide as the kernel
    (5, 12, 10, 10, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), 5),
    (1, 28, 28, 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (16, 6, 6, 8, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),
    (3, 4, 4, 2, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (12, 9, 9, 12, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2), 3),
    (4, 11, 8, 4, (5, 3), (3, 1), (2, 1, 2, 1), (1, 1), 4),  # depthwise 5x3, stride 3
]
VARIANTS = [  # (kind, const dtype, codebook dtype, index bits: 0 = ceil(log2 K))
    ("dense", "fp32", "fp16", 0),
    ("dense", "fp16", "fp16", 0),
    ("linrep", "fp32", "fp16", 0),
    ("linrep", "fp16", "fp32", 11),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v)))
@pytest.mark.parametrize("cfg", CONVS, ids=lambda c: f"c{c[0]}x{c[1]}x{c[2]}-k{c[4][0]}x{c[4][1]}-s{c[5][0]}{c[5][1]}"
                         f"-p{''.join(map(str, c[6]))}-d{c[7][0]}{c[7][1]}-g{c[8]}")
def test_conv(crt, cfg, variant) -> None:
    cin, h, w, cout, k, s, p, d, groups = cfg
    kind, cdt, cbdt, bits = variant
    g = conv_graph(cin, h, w, cout, k, s, p, d, groups, kind, cdt, cbdt, bias=bool(sum(cfg[4]) % 2 or kind == "linrep"),
                   index_bits=bits, seed=cin * 7 + h)
    c, r, _ = _run_both(crt, g)
    _close(c, r)


def test_linrep_equals_dense_bit_for_bit(crt) -> None:
    """Same weights through LINREP_CONV2D and CONV2D (fp32): identical results, same summation order."""
    g = conv_graph(6, 13, 11, 8, (3, 3), (2, 1), (1, 0, 2, 1), (1, 2), 2, "linrep", templates=7, seed=3)
    dense = parse(pack_graph(g)).graph
    op = dense.ops[0]
    op.weight = dense.add_constant(dense.dense_weight(op))
    op.type, op.linrep, dense.codebooks = "CONV2D", None, []
    x = np.random.default_rng(1).standard_normal((3, 6, 13, 11)).astype(np.float32)
    a, b = crt(pack_graph(g)).run(x), crt(pack_graph(dense)).run(x)
    assert np.array_equal(a, b)


def _single(in_shape, out_shape, op: Op, constants=()) -> Graph:
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    for values, dtype in constants:
        g.add_constant(np.asarray(values, np.float32), dtype)
    g.input = g.add_tensor(in_shape)
    g.output = g.add_tensor(out_shape)
    op.inputs, op.output = [g.input], g.output
    g.ops.append(op)
    return g


# (in shape, kernel, stride, pads, dilation)
POOLS = [
    ((3, 9, 9), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
    ((2, 10, 7), (2, 3), (1, 2), (1, 1, 1, 1), (1, 1)),
    ((4, 11, 13), (3, 3), (2, 3), (1, 0, 1, 0), (2, 2)),
    ((1, 5, 5), (5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),
    ((2, 8, 8), (2, 2), (2, 2), (0, 0, 0, 0), (1, 1)),
    ((3, 7, 6), (1, 4), (3, 1), (0, 2, 0, 2), (1, 1)),
]


@pytest.mark.parametrize("cfg", POOLS)
def test_max_pool(crt, cfg) -> None:
    shape, k, s, p, d = cfg
    out = (shape[0], _out_size(shape[1], k[0], s[0], d[0], p[0], p[2]), _out_size(shape[2], k[1], s[1], d[1], p[1], p[3]))
    c, r, _ = _run_both(crt, _single(shape, out, Op("MAX_POOL2D", "pool", [], 0, kernel=k, stride=s, pads=p, dilation=d)))
    _close(c, r)


def test_max_pool_asymmetric(crt) -> None:
    shape, k, s, p = (3, 9, 8), (3, 2), (2, 1), (0, 1, 1, 0)
    out = (3, _out_size(9, 3, 2, 1, 0, 1), _out_size(8, 2, 1, 1, 1, 0))
    c, r, _ = _run_both(crt, _single(shape, out, Op("MAX_POOL2D", "pool", [], 0, kernel=k, stride=s, pads=p)))
    _close(c, r)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("cfg", [c for c in POOLS if c[4] == (1, 1)])
def test_avg_pool(crt, cfg, count_include_pad) -> None:
    shape, k, s, p, _ = cfg
    out = (shape[0], _out_size(shape[1], k[0], s[0], 1, p[0], p[2]), _out_size(shape[2], k[1], s[1], 1, p[1], p[3]))
    op = Op("AVG_POOL2D", "pool", [], 0, kernel=k, stride=s, pads=p, count_include_pad=count_include_pad)
    c, r, _ = _run_both(crt, _single(shape, out, op))
    _close(c, r)


@pytest.mark.parametrize("shape,size", [((3, 10, 9), (1, 1)), ((2, 10, 9), (3, 2)), ((2, 7, 11), (5, 7)),
                                        ((1, 3, 3), (4, 4)), ((4, 6, 6), (6, 6))])
def test_adaptive_avg_pool(crt, shape, size) -> None:
    op = Op("ADAPTIVE_AVG_POOL2D", "pool", [], 0, kernel=size)
    c, r, _ = _run_both(crt, _single(shape, (shape[0], *size), op))
    _close(c, r)


ELEMENTWISE = ["RELU", "RELU6", "LEAKY_RELU", "SIGMOID", "HARDSWISH"]


@pytest.mark.parametrize("kind,shape", [(k, s) for k in ELEMENTWISE for s in [(3, 5, 7), (37,)]]
                         + [("SOFTMAX", (37,)), ("SOFTMAX", (1,))])
def test_activation(crt, kind, shape) -> None:
    op = Op(kind, "act", [], 0, alpha=0.2 if kind == "LEAKY_RELU" else 0.0)
    c, r, _ = _run_both(crt, _single(shape, shape, op), scale=5.0)
    _close(c, r)


@pytest.mark.parametrize("kind", ELEMENTWISE)
def test_activation_special_values(crt, kind) -> None:
    """inf, -inf, NaN and signed zeros behave as in torch."""
    x = np.array([[0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 3.0, -3.0, 6.0, 1e30, -1e30]], np.float32)
    g = _single((12,), (12,), Op(kind, "act", [], 0, alpha=0.2 if kind == "LEAKY_RELU" else 0.0))
    blob = pack_graph(g)
    c = crt(blob).run(x)
    r = _reference(blob, x)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(r))
    np.testing.assert_allclose(c[~np.isnan(c)], r[~np.isnan(r)], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("shape,slopes", [((4, 3, 5), 4), ((4, 3, 5), 1), ((9,), 9)])
def test_prelu(crt, dtype, shape, slopes) -> None:
    w = np.linspace(-0.5, 0.8, slopes).astype(np.float32)
    g = _single(shape, shape, Op("PRELU", "prelu", [], 0, weight=0), constants=[(w, dtype)])
    c, r, _ = _run_both(crt, g)
    _close(c, r)


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(crt, dtype, bias) -> None:
    rng = np.random.default_rng(5)
    consts = [(rng.standard_normal((7, 19)), dtype)] + ([(rng.standard_normal(7), dtype)] if bias else [])
    g = _single((19,), (7,), Op("LINEAR", "fc", [], 0, weight=0, bias=1 if bias else -1, out_channels=7), consts)
    c, r, _ = _run_both(crt, g)
    _close(c, r)


def _multi_graph() -> Graph:
    """conv -> relu -> (maxpool, avgpool) -> concat -> add(itself via second conv) -> pool -> flatten ->
    linear -> softmax: ADD, CONCAT, RESHAPE and buffer reuse."""
    rng = np.random.default_rng(7)
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    x = g.input = g.add_tensor((3, 12, 12))
    t = g.add_tensor
    w1 = g.add_constant(rng.standard_normal((4, 3, 3, 3)))
    c1 = t((4, 12, 12))
    g.ops.append(Op("CONV2D", "c1", [x], c1, kernel=(3, 3), pads=(1, 1, 1, 1), out_channels=4, weight=w1))
    r1 = t((4, 12, 12))
    g.ops.append(Op("RELU", "r1", [c1], r1))
    m1 = t((4, 6, 6))
    g.ops.append(Op("MAX_POOL2D", "m1", [r1], m1, kernel=(2, 2), stride=(2, 2)))
    a1 = t((4, 6, 6))
    g.ops.append(Op("AVG_POOL2D", "a1", [r1], a1, kernel=(3, 3), stride=(2, 2), pads=(1, 1, 1, 1)))
    cat = t((8, 6, 6))
    g.ops.append(Op("CONCAT", "cat", [m1, a1], cat))
    w2 = g.add_constant(rng.standard_normal((8, 8, 3, 3)) * 0.2)
    c2 = t((8, 6, 6))
    g.ops.append(Op("CONV2D", "c2", [cat], c2, kernel=(3, 3), pads=(1, 1, 1, 1), out_channels=8, weight=w2))
    s = t((8, 6, 6))
    g.ops.append(Op("ADD", "add", [c2, cat], s))
    h = t((8, 6, 6))
    g.ops.append(Op("HARDSWISH", "hs", [s], h))
    p = t((8, 1, 1))
    g.ops.append(Op("ADAPTIVE_AVG_POOL2D", "gap", [h], p, kernel=(1, 1)))
    f = t((8,))
    g.ops.append(Op("RESHAPE", "flat", [p], f))
    wl = g.add_constant(rng.standard_normal((5, 8)))
    bl = g.add_constant(rng.standard_normal(5))
    lo = t((5,))
    g.ops.append(Op("LINEAR", "fc", [f], lo, out_channels=5, weight=wl, bias=bl))
    sm = t((5,))
    g.ops.append(Op("SOFTMAX", "sm", [lo], sm))
    g.output = sm
    return g


def test_graph_with_reuse(crt) -> None:
    g = _multi_graph()
    c, r, blob = _run_both(crt, g, n=3)
    _close(c, r)
    rt = crt(blob)
    total = sum(16 * -(-4 * t.numel // 16) for t in g.tensors)
    assert rt.activation_lower_bound_bytes <= rt.arena_bytes
    assert rt.arena_bytes < total  # buffers are shared
    assert rt.input_shape == (3, 12, 12) and rt.output_shape == (5,)
    assert rt.num_ops == len(g.ops)
    assert rt.op_info(4) == (13, "")  # OpType.CONCAT: names are stored for layers with weights only
    assert rt.op_info(5) == (0, "c2")  # OpType.CONV2D
    seen: list[int] = []
    rt.run(np.zeros((1, 3, 12, 12), np.float32), hook=seen.append)
    assert seen == list(range(len(g.ops)))


def test_multi_op_concat_three_inputs(crt) -> None:
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    x = g.input = g.add_tensor((2, 4, 5))
    a, b = g.add_tensor((2, 4, 5)), g.add_tensor((2, 4, 5))
    g.ops += [Op("RELU", "a", [x], a), Op("SIGMOID", "b", [x], b)]
    g.output = g.add_tensor((6, 4, 5))
    g.ops.append(Op("CONCAT", "cat", [a, x, b], g.output))
    c, r, _ = _run_both(crt, g)
    _close(c, r)


# -- errors ------------------------------------------------------------------------------------------

def _small_blob() -> bytes:
    return pack_graph(conv_graph(2, 6, 6, 3, (3, 3), pads=(1, 1, 1, 1), kind="linrep", templates=4))


def test_arena_too_small(crt) -> None:
    rt = crt(_small_blob())
    x = np.zeros((1, *rt.input_shape), np.float32)
    rt.run(x, arena_bytes=rt.arena_bytes)
    with pytest.raises(LinRepError, match="arena too small"):
        rt.run(x, arena_bytes=rt.arena_bytes - 1)


def test_crc_corruption(crt) -> None:
    blob = bytearray(_small_blob())
    blob[len(blob) // 2] ^= 0x10
    with pytest.raises(LinRepError, match="CRC"):
        crt(bytes(blob))


def _recrc(blob: bytearray) -> bytes:
    off = crc_field_offset(bytes(blob))
    blob[off:off + 4] = blob_crc(blob).to_bytes(4, "little")
    return bytes(blob)


def test_rejections(crt) -> None:
    blob = _small_blob()
    with pytest.raises(LinRepError, match="identifier"):
        crt(blob[:4] + b"XXXX" + blob[8:])
    with pytest.raises(LinRepError, match="truncated|CRC"):
        crt(blob[:-7])
    with pytest.raises(LinRepError, match="too small"):
        crt(blob[:6])
    # index >= K: 3-bit indices into a 4-template codebook
    g = conv_graph(2, 6, 6, 3, (3, 3), kind="linrep", templates=4, index_bits=3)
    g.ops[0].linrep.idx[1, 1] = 6
    with pytest.raises(LinRepError, match="index out of codebook range.*op 0"):
        crt(pack_graph(g))
    # index width 17: the packer refuses it, so patch the stored byte (Op.index_bits)
    from linrep_edge.format.fb.Model import Model as FbModel

    b = bytearray(pack_graph(conv_graph(2, 6, 6, 3, (3, 3), kind="linrep", templates=4, index_bits=5)))
    op = FbModel.GetRootAs(bytes(b), 0).Ops(0)
    import re

    header = (Path(__file__).resolve().parent.parent / "runtime_c/src/lr_schema.h").read_text()
    slot = int(re.search(r"#define LR_OP_INDEX_BITS (\d+)", header).group(1))
    pos = op._tab.Pos + op._tab.Offset(4 + 2 * slot)
    assert b[pos] == 5
    b[pos] = 17
    with pytest.raises(LinRepError, match="bit width"):
        crt(_recrc(b))
    # a stride of 0
    g = conv_graph(2, 6, 6, 3, (3, 3))
    g.ops[0].stride = (0, 1)
    with pytest.raises(LinRepError, match="bad op parameters"):
        crt(pack_graph(g))
    # stored output shape that the op cannot produce
    g = conv_graph(2, 6, 6, 3, (3, 3))
    g.tensors[g.output].shape = (3, 5, 4)
    with pytest.raises(LinRepError, match="shape"):
        crt(pack_graph(g))
    # newer format version
    b = bytearray(blob)
    m = FbModel.GetRootAs(bytes(b), 0)
    pos = m._tab.Pos + m._tab.Offset(6)
    b[pos:pos + 4] = (FORMAT_VERSION + 1).to_bytes(4, "little")
    with pytest.raises(LinRepError, match="format version"):
        crt(_recrc(b))


def test_library_missing(monkeypatch, tmp_path) -> None:
    import linrep_edge.runtime.binding as rtmod

    monkeypatch.setenv("LINREP_RUNTIME_LIB", str(tmp_path / "nope.so"))
    monkeypatch.setattr(rtmod, "_libs", {})
    with pytest.raises(LinRepError, match="make -C runtime_c"):
        rtmod.CRuntime(b"")


def test_input_shape_checked(crt) -> None:
    rt = crt(_small_blob())
    with pytest.raises(LinRepError, match="input batch shape"):
        rt.run(np.zeros((1, 3, 6, 6), np.float32))


# -- format version 3 ops ----------------------------------------------------------------------------

V3_ELEMENTWISE = ["TANH", "HARDSIGMOID", "SILU", "CLAMP"]


def _v3_op(kind: str) -> Op:
    return Op(kind, "act", [], 0, alpha=-1.5 if kind == "CLAMP" else 0.0, beta=2.25 if kind == "CLAMP" else float("inf"))


@pytest.mark.parametrize("kind,shape", [(k, s) for k in V3_ELEMENTWISE for s in [(3, 5, 7), (37,)]])
def test_v3_activation(crt, kind, shape) -> None:
    blob = pack_graph(_single(shape, shape, _v3_op(kind)))
    assert parse(blob).format_version == 3
    c, r, _ = _run_both(crt, _single(shape, shape, _v3_op(kind)), scale=5.0)
    _close(c, r)


@pytest.mark.parametrize("kind", V3_ELEMENTWISE)
def test_v3_activation_special_values(crt, kind) -> None:
    """inf, -inf, NaN and signed zeros behave as in torch."""
    x = np.array([[0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 3.0, -3.0, 6.0, 1e30, -1e30, 88.8, -88.8]],
                 np.float32)
    g = _single((x.shape[1],), (x.shape[1],), _v3_op(kind))
    blob = pack_graph(g)
    c = crt(blob).run(x)
    r = _reference(blob, x)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(r))
    np.testing.assert_allclose(c[~np.isnan(c)], r[~np.isnan(r)], rtol=1e-6)


@pytest.mark.parametrize("lo,hi", [(-np.inf, 0.5), (-0.25, np.inf), (1.0, -1.0), (0.0, 6.0)])
def test_clamp_bounds(crt, lo, hi) -> None:
    """Absent bounds are infinite; lo > hi gives hi everywhere, as torch.clamp."""
    op = Op("CLAMP", "clamp", [], 0, alpha=float(lo), beta=float(hi))
    g = _single((2, 3, 4), (2, 3, 4), op)
    c, r, blob = _run_both(crt, g, scale=3.0)
    _close(c, r)
    back = parse(blob).graph.ops[0]
    assert (back.alpha, back.beta) == (float(lo), float(hi))


def _binary(kind: str, a_shape, b_shape, activation: str = "NONE") -> Graph:
    """inputs[0] = relu(x), inputs[1] = sigmoid of a pool / slice of x (or x itself): a binary op on two tensors."""
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    x = g.input = g.add_tensor(a_shape)
    a = g.add_tensor(a_shape)
    g.ops.append(Op("RELU", "a", [x], a))
    if tuple(b_shape) == tuple(a_shape):
        b = g.add_tensor(b_shape)
        g.ops.append(Op("SIGMOID", "b", [x], b))
    else:
        p = g.add_tensor((a_shape[0], 1, 1))
        g.ops.append(Op("ADAPTIVE_AVG_POOL2D", "gap", [x], p, kernel=(1, 1)))
        if len(b_shape) == 1:
            q = g.add_tensor(b_shape)
            g.ops.append(Op("RESHAPE", "flat", [p], q))
            p = q
        b = g.add_tensor(b_shape)
        g.ops.append(Op("HARDSIGMOID", "b", [p], b))
    g.output = g.add_tensor(a_shape)
    g.ops.append(Op(kind, kind.lower(), [a, b], g.output, activation=activation))
    return g


@pytest.mark.parametrize("kind", ["MUL", "ADD", "SUB"])
@pytest.mark.parametrize("a_shape,b_shape", [((3, 5, 7), (3, 5, 7)), ((4, 6, 5), (4, 1, 1)), ((4, 6, 5), (4,)),
                                             ((9,), (9,)), ((5, 1, 1), (5,))])
@pytest.mark.parametrize("activation", ["NONE", "RELU6"])
def test_mul_add_broadcast(crt, kind, a_shape, b_shape, activation) -> None:
    """MUL, ADD and SUB (format version 7) of equal shapes or by one value per channel, a fused activation or none:
    C equals torch's own a * b, a + b, a - b (broadcast over H, W) and the activation."""
    g = _binary(kind, a_shape, b_shape, activation)
    c, r, blob = _run_both(crt, g, scale=4.0)
    _close(c, r)
    v3 = kind == "MUL" or tuple(a_shape) != tuple(b_shape)
    assert parse(blob).format_version == (7 if kind == "SUB" else 3 if v3 else 1)
    if kind == "SUB":  # torch's own a - b on the two inputs (the ops before the SUB, traced)
        x = (np.random.default_rng(0).standard_normal((2, *a_shape)) * 4.0).astype(np.float32)
        with torch.no_grad():
            vals = GraphModel(parse(blob).graph).eval().trace(torch.from_numpy(x))
        a, b = vals[g.ops[-1].inputs[0]], vals[g.ops[-1].inputs[1]]
        want = torch.sub(a, b if b.shape == a.shape else b.reshape(*b.shape[:2], *([1] * (a.dim() - 2))))
        _close(c, (torch.nn.functional.relu6(want) if activation == "RELU6" else want).numpy())


# (in shape, out size, mode): torch's F.interpolate with scale_factor 2 and 3 and odd / even sizes
RESIZES = [((2, 4, 5), (8, 10), 0), ((3, 3, 3), (9, 9), 0), ((1, 5, 4), (10, 12), 0), ((2, 1, 1), (3, 2), 0),
           ((2, 4, 5), (8, 10), 1), ((3, 3, 3), (9, 9), 1), ((2, 5, 4), (15, 8), 1), ((1, 7, 6), (5, 4), 1),
           ((2, 4, 5), (8, 10), 2), ((3, 3, 3), (9, 9), 2), ((2, 5, 4), (10, 12), 2), ((2, 1, 3), (1, 7), 2)]


@pytest.mark.parametrize("shape,size,mode", RESIZES)
def test_resize(crt, shape, size, mode) -> None:
    g = _single(shape, (shape[0], *size), Op("RESIZE", "up", [], 0, mode=mode))
    c, r, blob = _run_both(crt, g)
    _close(c, r)
    assert parse(blob).graph.ops[0].mode == mode


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("factor", [2, 3])
@pytest.mark.parametrize("hw", [(4, 6), (5, 7)])
def test_resize_matches_scale_factor(crt, mode, factor, hw) -> None:
    """The blob's resize (output size) equals torch's F.interpolate(scale_factor=2 or 3) on the same input."""
    shape = (3, *hw)
    g = _single(shape, (3, hw[0] * factor, hw[1] * factor), Op("RESIZE", "up", [], 0, mode=mode))
    x = np.random.default_rng(factor).standard_normal((2, *shape)).astype(np.float32)
    c = crt(pack_graph(g)).run(x)
    kw = {"mode": "nearest"} if mode == 0 else {"mode": "bilinear", "align_corners": mode == 2}
    with torch.no_grad():
        r = F.interpolate(torch.from_numpy(x), scale_factor=factor, **kw).numpy()
    _close(c, r)


@pytest.mark.parametrize("hw,size", [((8, 8), (15, 15)), ((7, 5), (15, 11)), ((5, 9), (13, 4)), ((3, 3), (100, 7)),
                                     ((16, 16), (23, 17)), ((1, 6), (4, 9)), ((9, 7), (9, 22))])
def test_resize_nearest_any_size(crt, hw, size) -> None:
    """RESIZE mode 3 (format version 8): nearest to any size in C (fp32, and the int8 reference's byte moves) equals
    torch's F.interpolate(size=..., mode="nearest") exactly; the sizes a U-Net meets when it upsamples to its skip's
    odd size, downsampling too. capture writes mode 3 only where torch's own indices are the formula's."""
    from linrep_edge.integer.ops_geo import resize_nearest_s8

    shape = (3, *hw)
    g = _single(shape, (3, *size), Op("RESIZE", "up", [], 0, mode=3))
    blob = pack_graph(g)
    assert parse(blob).format_version == 8
    x = np.random.default_rng(size[0]).standard_normal((2, *shape)).astype(np.float32)
    with torch.no_grad():
        want = F.interpolate(torch.from_numpy(x), size=size, mode="nearest").numpy()
    np.testing.assert_array_equal(crt(blob).run(x).reshape(want.shape), want)
    q = (x[0] * 40).clip(-128, 127).astype(np.int8)
    np.testing.assert_array_equal(resize_nearest_s8(q, size, True), (want[0] * 40).clip(-128, 127).astype(np.int8))

    class Up(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, size=size, mode="nearest")

    captured = capture(Up().eval(), torch.from_numpy(x[:1]))
    assert [op.mode for op in captured.ops] == [0 if size[0] % hw[0] == 0 and size[1] % hw[1] == 0 else 3]


def test_resize_nearest_by_odd_scale_factor() -> None:
    """F.interpolate(scale_factor=1.5) makes torch pick rows by 1 / 1.5 rather than by in / out: taken where the two
    agree (mode 3), refused with the size to pass where they do not."""

    class Up(torch.nn.Module):
        def __init__(self, factor: float) -> None:
            super().__init__()
            self.factor = factor

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, scale_factor=self.factor, mode="nearest")

    assert [op.mode for op in capture(Up(1.5).eval(), torch.zeros(1, 2, 4, 6)).ops] == [3]
    verdicts = []
    for n in range(2, 40):
        try:
            capture(Up(1.7).eval(), torch.zeros(1, 1, n, n))
            verdicts.append(True)
        except LinRepError as e:
            assert "pass size=" in str(e)
            verdicts.append(False)
    assert any(verdicts) and not all(verdicts), verdicts


@pytest.mark.parametrize("pads,value", [((1, 2, 3, 0), 0.0), ((0, 0, 0, 0), 1.0), ((2, 2, 2, 2), -np.inf),
                                        ((0, 3, 1, 0), 0.5)])
def test_pad(crt, pads, value) -> None:
    t, l, b, r_ = pads
    g = _single((3, 4, 5), (3, 4 + t + b, 5 + l + r_), Op("PAD", "pad", [], 0, pads=pads, alpha=float(value)))
    c, r, _ = _run_both(crt, g)
    np.testing.assert_array_equal(c, r)  # data movement: exact


@pytest.mark.parametrize("pads,mode", [((1, 2, 2, 0), "reflect"), ((2, 3, 2, 3), "reflect"), ((0, 0, 0, 0), "reflect"),
                                       ((1, 2, 3, 0), "replicate"), ((5, 0, 0, 6), "replicate")])
def test_pad_border(crt, pads, mode) -> None:
    """PAD's reflect / replicate borders (format version 6) in C equal torch's F.pad, fp32 and (the Python integer
    reference's byte moves) int8."""
    from linrep_edge.integer.ops import pad_s8

    t, l, b, r_ = pads
    shape = (2, 4, 5)
    g = _single(shape, (2, 4 + t + b, 5 + l + r_), Op("PAD", "pad", [], 0, pads=pads, mode={"reflect": 1,
                                                                                          "replicate": 2}[mode]))
    blob = pack_graph(g)
    x = np.random.default_rng(3).standard_normal((2, *shape)).astype(np.float32)
    want = F.pad(torch.from_numpy(x), (l, r_, t, b), mode=mode).numpy()
    np.testing.assert_array_equal(crt(blob).run(x), want)
    assert parse(blob).format_version == 6 and parse(blob).graph.ops[0].mode == g.ops[0].mode
    q = np.random.default_rng(4).integers(-128, 128, shape).astype(np.int8)
    ref = F.pad(torch.from_numpy(q[None].astype(np.float32)), (l, r_, t, b), mode=mode)[0].numpy().astype(np.int8)
    np.testing.assert_array_equal(pad_s8(q, pads, 0, g.ops[0].mode), ref)


@pytest.mark.parametrize("shape,start,count", [((6, 3, 4), 0, 2), ((6, 3, 4), 2, 4), ((6, 3, 4), 5, 1), ((10,), 3, 5)])
def test_slice(crt, shape, start, count) -> None:
    g = _single(shape, (count, *shape[1:]), Op("SLICE", "slice", [], 0, start=start))
    c, r, blob = _run_both(crt, g)
    np.testing.assert_array_equal(c, r)
    assert parse(blob).graph.ops[0].start == start


@pytest.mark.parametrize("shape,groups", [((6, 3, 4), 2), ((6, 3, 4), 3), ((6, 3, 4), 6), ((6, 3, 4), 1),
                                          ((12, 1, 5), 4), ((5, 2, 2), 5)])
def test_channel_shuffle(crt, shape, groups) -> None:
    """CHANNEL_SHUFFLE in C (fp32 and int8) equals torch's own nn.ChannelShuffle; the blob says format version 6 and
    keeps `groups`; the int8 reference's byte moves equal torch's too."""
    from linrep_edge.integer.ops import channel_shuffle_s8

    g = _single(shape, shape, Op("CHANNEL_SHUFFLE", "shuffle", [], 0, groups=groups))
    blob = pack_graph(g)
    x = np.random.default_rng(groups).standard_normal((3, *shape)).astype(np.float32)
    want = torch.nn.ChannelShuffle(groups)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(crt(blob).run(x), want)
    back = parse(blob)
    assert back.format_version == 6 and back.graph.ops[0].groups == groups
    q = np.random.default_rng(1).integers(-128, 128, shape).astype(np.int8)
    np.testing.assert_array_equal(channel_shuffle_s8(q, groups),
                                  torch.nn.ChannelShuffle(groups)(torch.from_numpy(q[None].astype(np.float32)))[0]
                                  .numpy().astype(np.int8))


class _Scale(torch.nn.Module):
    """alpha · x, torch's own product (UNARY's scale, format version 9)."""

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tensor(self.alpha, dtype=torch.float32).to(x.dtype)


# (torch module, Unary, alpha, beta): torch's own modules are the reference for the C kernels
UNARIES = [(torch.nn.GELU(), 0, 0.0, 0.0), (torch.nn.GELU("tanh"), 1, 0.0, 0.0), (torch.nn.ELU(), 2, 1.0, 1.0),
           (torch.nn.ELU(0.3), 2, 0.3, 1.0), (torch.nn.SELU(), 2, 1.6732632423543772, 1.0507009873554805),
           (torch.nn.CELU(0.5), 3, 0.5, 0.0), (torch.nn.CELU(-2.0), 3, -2.0, 0.0), (torch.nn.Softplus(), 4, 1.0, 20.0),
           (torch.nn.Softplus(2.0, 3.0), 4, 2.0, 3.0), (torch.nn.Softplus(0.5, 1.0), 4, 0.5, 1.0),
           (torch.nn.Mish(), 5, 0.0, 0.0), (torch.nn.LogSigmoid(), 6, 0.0, 0.0),
           (torch.nn.Threshold(0.1, -2.0), 7, 0.1, -2.0), (torch.nn.Threshold(-1.0, 20.0), 7, -1.0, 20.0),
           (torch.nn.Hardshrink(), 8, 0.5, 0.0), (torch.nn.Hardshrink(3.0), 8, 3.0, 0.0),  # format version 8
           (torch.nn.Softshrink(0.3), 9, 0.3, 0.0), (torch.nn.Softshrink(0.0), 9, 0.0, 0.0),
           (_Scale(0.25), 10, 0.25, 0.0), (_Scale(-3.5), 10, -3.5, 0.0), (_Scale(1.0), 10, 1.0, 0.0)]  # version 9


@pytest.mark.parametrize("case", range(len(UNARIES)), ids=[f"{type(u[0]).__name__}{i}" for i, u in enumerate(UNARIES)])
def test_unary(crt, case) -> None:
    """UNARY (format version 7; Hardshrink and Softshrink version 8, the scale 9) in C equals torch's own module on random inputs
    (spread to +-30) of a [C, H, W] and a [F] tensor, and on special values (infinities, NaN, signed zeros, the edges
    of the kernels' ranges) where torch gives a number; the blob says its version and keeps the function and its
    parameters."""
    module, fn, alpha, beta = UNARIES[case]
    for shape in [(3, 5, 7), (37,)]:
        g = _single(shape, shape, Op("UNARY", "act", [], 0, mode=fn, alpha=alpha, beta=beta))
        blob = pack_graph(g)
        back = parse(blob)
        assert back.format_version == (9 if fn >= 10 else 8 if fn >= 8 else 7)
        assert (back.graph.ops[0].mode, back.graph.ops[0].alpha) == (fn, np.float32(alpha))
        x = (np.random.default_rng(case).standard_normal((2, *shape)) * 6).astype(np.float32)
        x.reshape(-1)[:9] = [-30.0, -20.0, -10.5, -9.0, 0.0, 9.0, 10.5, 20.0, 30.0]
        with torch.no_grad():
            want = module(torch.from_numpy(x).double()).float().numpy()
        _close(crt(blob).run(x), want)
    x = np.array([[0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1e-8, -1e-8, 3.0, -3.0, 14.0, -14.0, 1e30,
                   -1e30, 88.8, -88.8, 104.0, -104.0]], np.float32)
    g = _single((x.shape[1],), (x.shape[1],), Op("UNARY", "act", [], 0, mode=fn, alpha=alpha, beta=beta))
    got = crt(pack_graph(g)).run(x)
    with torch.no_grad():  # in float64, rounded once (torch's float32 GELU is off by 1.3e-4 relative at -3)
        want = module(torch.from_numpy(x).double()).float().numpy()
    assert np.isnan(got[0, 4])  # NaN in, NaN out; elsewhere torch's value wherever torch has one (its GELU of +inf
    ok = ~np.isnan(want)        # is NaN: ours is inf)
    np.testing.assert_allclose(got[ok], want[ok], rtol=2e-6, atol=1e-37)  # below: subnormals torch flushes


def test_unary_refused_where_meaningless(crt) -> None:
    """The verifier refuses a UNARY of an unknown function, with a NaN parameter, CELU's alpha 0, Softplus's beta not
    above 0 or Softshrink's lambd below 0 (LR_ERR_BAD_PARAMS), and an fp32 one carrying a table
    (LR_ERR_BAD_CONSTANT)."""
    from linrep_edge.format.ir import IntParams

    for mode, alpha, beta in [(11, 0.0, 0.0), (10, float("inf"), 0.0), (255, 0.0, 0.0), (2, float("nan"), 1.0),
                              (7, 0.0, float("nan")),
                              (3, 0.0, 0.0), (4, 0.0, 20.0), (4, -1.0, 20.0), (4, float("inf"), 20.0),
                              (9, -0.5, 0.0)]:
        g = _single((4,), (4,), Op("UNARY", "act", [], 0, mode=mode, alpha=alpha, beta=beta))
        with pytest.raises(LinRepError, match="LR_ERR_BAD_PARAMS"):
            crt(pack_graph(g))
    g = _single((4,), (4,), Op("UNARY", "act", [], 0, mode=0))
    g.ops[0].iparams = IntParams(np.zeros(0, np.int32), np.zeros(0, np.int32), table=np.zeros(256, np.int8))
    with pytest.raises(LinRepError, match="LR_ERR_BAD_CONSTANT"):
        crt(pack_graph(g, strict=False))


def test_channel_shuffle_does_not_change_older_blobs() -> None:
    """Format version 6 only where a blob holds CHANNEL_SHUFFLE: the version-3 graph still says 3."""
    assert parse(pack_graph(v3_graph())).format_version == 3


@pytest.mark.parametrize("shape", [(3, 4, 5), (1, 2, 2), (7, 1, 3)])
def test_transpose_hwc(crt, shape) -> None:
    g = _single(shape, (int(np.prod(shape)),), Op("TRANSPOSE_HWC", "nhwc", [], 0))
    c, r, _ = _run_both(crt, g)
    np.testing.assert_array_equal(c, r)


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("shape", [(4, 3, 5), (9,)])
@pytest.mark.parametrize("bias", [True, False])
def test_affine(crt, dtype, shape, bias) -> None:
    rng = np.random.default_rng(3)
    consts = [(rng.standard_normal(shape[0]), dtype)] + ([(rng.standard_normal(shape[0]), dtype)] if bias else [])
    g = _single(shape, shape, Op("AFFINE", "bn", [], 0, weight=0, bias=1 if bias else -1, activation="RELU"), consts)
    c, r, _ = _run_both(crt, g)
    _close(c, r)


def conv_transpose_graph(cin: int, h: int, w: int, cout: int, kernel, stride=(1, 1), pad=(0, 0), dilation=(1, 1),
                         groups: int = 1, out_pad=(0, 0), dtype: str = "fp32", bias: bool = True, seed: int = 0,
                         activation: str = "NONE", linrep: str = "") -> Graph:
    """One CONV_TRANSPOSE2D op; linrep "fp16" / "int" gives it LinRep weights over (Cin, Cout/groups) with a
    random codebook (fp16 a/b, or 5-bit a/b with a scale per input channel and a third of the kernels pruned)."""
    rng = np.random.default_rng(seed)
    oh, ow = ((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, d, k, op in
              ((h, stride[0], pad[0], dilation[0], kernel[0], out_pad[0]),
               (w, stride[1], pad[1], dilation[1], kernel[1], out_pad[1])))
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    g.input = g.add_tensor((cin, h, w))
    g.output = g.add_tensor((cout, oh, ow))
    lr = None
    if linrep:
        k = 6
        g.codebooks.append(Codebook(rng.standard_normal((k, *kernel)).astype(np.float32), dtype))
        grid = (cin, cout // groups)
        lr = LinRepWeights(0, rng.integers(0, k, grid), rng.standard_normal(grid).astype(np.float32),
                           (0.3 * rng.standard_normal(grid)).astype(np.float32))
        if linrep == "int":
            keep = rng.random(grid) > 1 / 3
            lr.ab_bits, lr.mask = 5, keep
            lr.set_quantized(rng.integers(-15, 16, grid) * keep, rng.uniform(0.01, 0.1, cin).astype(np.float32),
                             rng.integers(-15, 16, grid) * keep, rng.uniform(0.001, 0.01, cin).astype(np.float32))
    wc = -1 if lr else g.add_constant(rng.standard_normal((cin, cout // groups, *kernel)), dtype)
    b = g.add_constant(rng.standard_normal(cout), dtype) if bias else -1
    g.ops.append(Op("CONV_TRANSPOSE2D", "up", [g.input], g.output, kernel=kernel, stride=stride,
                    pads=(pad[0], pad[1], pad[0], pad[1]), dilation=dilation, groups=groups, out_channels=cout,
                    weight=wc, bias=b, activation=activation, linrep=lr))
    return g


# (cin, h, w, cout, kernel, stride, padding, dilation, groups, output_padding)
CONV_TRANSPOSES = [
    (3, 5, 6, 4, (3, 3), (2, 2), (1, 1), (1, 1), 1, (1, 1)),  # the usual 2x upsampling
    (4, 4, 4, 2, (2, 2), (2, 2), (0, 0), (1, 1), 1, (0, 0)),
    (4, 5, 3, 6, (3, 1), (3, 1), (1, 0), (1, 1), 2, (2, 0)),
    (6, 3, 4, 6, (3, 3), (1, 2), (2, 1), (2, 1), 6, (1, 1)),  # depthwise, dilated, output_padding < dilation
    (2, 6, 5, 3, (5, 4), (2, 3), (2, 1), (1, 2), 1, (0, 1)),
    (1, 1, 1, 2, (3, 3), (1, 1), (0, 0), (1, 1), 1, (0, 0)),
    (3, 4, 5, 2, (1, 1), (1, 1), (0, 0), (1, 1), 1, (0, 0)),
]


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("cfg", CONV_TRANSPOSES, ids=lambda c: f"c{c[0]}x{c[1]}x{c[2]}-k{c[4][0]}{c[4][1]}"
                         f"-s{c[5][0]}{c[5][1]}-p{c[6][0]}{c[6][1]}-d{c[7][0]}{c[7][1]}-g{c[8]}-op{c[9][0]}{c[9][1]}")
def test_conv_transpose(crt, cfg, dtype) -> None:
    cin, h, w, cout, k, s, p, d, groups, op = cfg
    g = conv_transpose_graph(cin, h, w, cout, k, s, p, d, groups, op, dtype, bias=cin % 2 == 1, seed=cin + h,
                             activation="RELU" if groups > 1 else "NONE")
    c, r, blob = _run_both(crt, g)
    _close(c, r)
    x = np.random.default_rng(0).standard_normal((2, cin, h, w)).astype(np.float32)
    back = parse(blob).graph
    wt = torch.from_numpy(back.constants[back.ops[0].weight].values)
    bt = torch.from_numpy(back.constants[back.ops[0].bias].values) if back.ops[0].bias >= 0 else None
    with torch.no_grad():  # torch's functional form, independent of GraphModel
        ref = F.conv_transpose2d(torch.from_numpy(x), wt, bt, s, p, op, groups, d)
        if groups > 1:
            ref = F.relu(ref)
    _close(c, ref.numpy())


@pytest.mark.parametrize("linrep", ["fp16", "int"])
@pytest.mark.parametrize("cfg", CONV_TRANSPOSES[:-1], ids=lambda c: f"c{c[0]}x{c[1]}x{c[2]}-k{c[4][0]}{c[4][1]}"
                         f"-s{c[5][0]}{c[5][1]}-p{c[6][0]}{c[6][1]}-d{c[7][0]}{c[7][1]}-g{c[8]}-op{c[9][0]}{c[9][1]}")
def test_linrep_conv_transpose(crt, cfg, linrep) -> None:
    """CONV_TRANSPOSE2D with LinRep weights (kernels a·T[idx] + b over (Cin, Cout/groups)): C equals torch's
    conv_transpose2d of the rebuilt weight, and the dense op holding that weight bit for bit."""
    cin, h, w, cout, k, s, p, d, groups, op = cfg
    g = conv_transpose_graph(cin, h, w, cout, k, s, p, d, groups, op, "fp16", bias=cin % 2 == 0, seed=cin + w,
                             activation="RELU" if groups > 1 else "NONE", linrep=linrep)
    c, r, blob = _run_both(crt, g)
    _close(c, r)
    back = parse(blob).graph
    assert parse(blob).format_version == 3
    lop = back.ops[0]
    assert lop.linrep is not None and (lop.linrep.mask is not None) == (linrep == "int")
    weight = back.dense_weight(lop)
    assert weight.shape == (cin, cout // groups, *k)
    x = np.random.default_rng(0).standard_normal((2, cin, h, w)).astype(np.float32)
    bt = torch.from_numpy(back.constants[lop.bias].values) if lop.bias >= 0 else None
    with torch.no_grad():
        ref = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(weight), bt, s, p, op, groups, d)
        ref = F.relu(ref) if groups > 1 else ref
    _close(c, ref.numpy())
    dense = conv_transpose_graph(cin, h, w, cout, k, s, p, d, groups, op, "fp32", bias=cin % 2 == 0,
                                 activation="RELU" if groups > 1 else "NONE")
    dense.constants[dense.ops[0].weight].values = weight
    if lop.bias >= 0:
        dense.constants[dense.ops[0].bias].values = back.constants[lop.bias].values.astype(np.float32)
    assert np.array_equal(crt(pack_graph(dense)).run(x), c)


@pytest.mark.parametrize("shape", [(5, 3, 4), (1, 2, 2), (3, 1, 1)])
def test_softmax_channels(crt, shape) -> None:
    g = _single(shape, shape, Op("SOFTMAX", "sm", [], 0))
    c, r, blob = _run_both(crt, g, scale=4.0)
    _close(c, r)
    assert parse(blob).format_version == 3


def _heads_graph() -> Graph:
    """conv -> (cls head: gap -> flatten -> softmax, box head: 1x1 conv -> transpose_hwc, mid: the conv
    output itself): three outputs, the first a [F] tensor, one of them read again by a later op."""
    rng = np.random.default_rng(11)
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    x = g.input = g.add_tensor((3, 6, 6))
    t = g.add_tensor
    w = g.add_constant(rng.standard_normal((4, 3, 3, 3)))
    c1 = t((4, 6, 6))
    g.ops.append(Op("CONV2D", "c1", [x], c1, kernel=(3, 3), pads=(1, 1, 1, 1), out_channels=4, weight=w,
                    activation="RELU"))
    p = t((4, 1, 1))
    g.ops.append(Op("ADAPTIVE_AVG_POOL2D", "gap", [c1], p, kernel=(1, 1)))
    f = t((4,))
    g.ops.append(Op("RESHAPE", "flat", [p], f))
    cls = t((4,))
    g.ops.append(Op("SOFTMAX", "cls", [f], cls))
    w2 = g.add_constant(rng.standard_normal((2, 4, 1, 1)))
    c2 = t((2, 6, 6))
    g.ops.append(Op("CONV2D", "box", [c1], c2, out_channels=2, weight=w2))
    box = t((72,))
    g.ops.append(Op("TRANSPOSE_HWC", "nhwc", [c2], box))
    g.output = cls
    g.outputs = [cls, box, c1]
    return g


def test_multiple_outputs(crt) -> None:
    g = _heads_graph()
    blob = pack_graph(g)
    back = parse(blob)
    assert back.format_version == 3 and back.graph.outputs == [4, 6, 1] and back.graph.output == 4
    rt = crt(blob)
    assert rt.output_shapes == [(4,), (72,), (4, 6, 6)] and rt.output_shape == (4,)
    assert rt.output_size == 4 + 72 + 144
    x = np.random.default_rng(2).standard_normal((3, 3, 6, 6)).astype(np.float32)
    outs = rt.run_all(x)
    with torch.no_grad():
        refs = GraphModel(back.graph).eval()(torch.from_numpy(x))
    assert isinstance(refs, tuple) and len(refs) == 3
    for c, r in zip(outs, refs):
        _close(c, r.numpy())
    with pytest.raises(LinRepError, match="3 outputs.*run_all"):
        rt.run(x)
    # every output stays live to the end: none may share a buffer with a later tensor
    total = sum(16 * -(-4 * g.tensors[t].numel // 16) for t in g.outputs)
    assert rt.activation_lower_bound_bytes >= 4 * (4 + 72 + 144)
    assert rt.arena_bytes >= total


def test_one_output_run_all(crt) -> None:
    g = _multi_graph()
    rt = crt(pack_graph(g))
    x = np.random.default_rng(4).standard_normal((2, 3, 12, 12)).astype(np.float32)
    (a,) = rt.run_all(x)
    assert np.array_equal(a, rt.run(x)) and rt.output_shapes == [rt.output_shape]


def test_outputs_round_trip_and_writer_checks() -> None:
    g = _multi_graph()
    plain = pack_graph(g)
    g.outputs = [g.output]  # one output listed: stored as Model.output only, the same version-1 bytes
    assert pack_graph(g) == plain and parse(plain).graph.outputs == [] and parse(plain).format_version == 1
    g = _heads_graph()
    g.outputs = [6, 4]
    with pytest.raises(LinRepError, match="must be the first of its outputs"):
        pack_graph(g)


def test_v3_graph_end_to_end(crt) -> None:
    """Every version-3 op in one network (SE block, upsampling decoder, NHWC head), fp16 constants."""
    g = v3_graph("fp16")
    c, r, blob = _run_both(crt, g, n=3)
    _close(c, r)
    assert {op.type for op in parse(blob).graph.ops} >= {"TANH", "HARDSIGMOID", "SILU", "CLAMP", "MUL", "RESIZE",
                                                         "PAD", "SLICE", "TRANSPOSE_HWC", "AFFINE",
                                                         "CONV_TRANSPOSE2D", "SOFTMAX"}


def v3_graph(dtype: str = "fp32") -> Graph:
    rng = np.random.default_rng(21)
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    t = g.add_tensor
    x = g.input = t((3, 8, 8))

    def op(kind: str, ins, shape, **kw) -> int:
        out = t(shape)
        g.ops.append(Op(kind, kw.pop("name", kind.lower()), list(ins), out, **kw))
        return out

    w1 = g.add_constant(rng.standard_normal((8, 3, 3, 3)) * 0.5, dtype)
    c1 = op("CONV2D", [x], (8, 8, 8), kernel=(3, 3), pads=(1, 1, 1, 1), out_channels=8, weight=w1, name="c1")
    s1 = op("SILU", [c1], (8, 8, 8))
    gap = op("ADAPTIVE_AVG_POOL2D", [s1], (8, 1, 1), kernel=(1, 1))
    wse = g.add_constant(rng.standard_normal((8, 8, 1, 1)) * 0.5, dtype)
    se = op("CONV2D", [gap], (8, 1, 1), out_channels=8, weight=wse, name="se")
    hs = op("HARDSIGMOID", [se], (8, 1, 1))
    m = op("MUL", [s1, hs], (8, 8, 8))
    aw = g.add_constant(rng.uniform(0.5, 1.5, 8), dtype)
    ab = g.add_constant(rng.standard_normal(8) * 0.1, dtype)
    bn = op("AFFINE", [m], (8, 8, 8), weight=aw, bias=ab, name="bn")
    cl = op("CLAMP", [bn], (8, 8, 8), alpha=-1.0, beta=1.0)
    pool = op("MAX_POOL2D", [cl], (8, 4, 4), kernel=(2, 2), stride=(2, 2))
    up = op("RESIZE", [pool], (8, 8, 8), mode=1)
    add = op("ADD", [up, cl], (8, 8, 8))
    sl = op("SLICE", [add], (4, 8, 8), start=2)
    th = op("TANH", [sl], (4, 8, 8))
    pd = op("PAD", [th], (4, 9, 10), pads=(0, 1, 1, 1), alpha=0.25)
    wt = g.add_constant(rng.standard_normal((4, 3, 3, 3)) * 0.3, dtype)
    bt = g.add_constant(rng.standard_normal(3) * 0.1, dtype)
    ct = op("CONV_TRANSPOSE2D", [pd], (3, 18, 20), kernel=(3, 3), stride=(2, 2), pads=(1, 1, 1, 1), out_channels=3,
            weight=wt, bias=bt, activation="RELU6", name="ct")
    nn_ = op("RESIZE", [ct], (3, 36, 40), mode=0)
    sm = op("SOFTMAX", [nn_], (3, 36, 40))
    g.output = op("TRANSPOSE_HWC", [sm], (3 * 36 * 40,))
    return g


def test_v3_report_and_inspect() -> None:
    """AFFINE and CONV_TRANSPOSE2D weights are counted in other_tensors and get a layer row; inspect shows the
    version-3 parameters and every output."""
    from linrep_edge.format.inspect import describe_blob
    from linrep_edge.format.report import format_report, storage_report

    g = v3_graph("fp16")
    blob = pack_graph(g)
    parsed = parse(blob)
    rep = storage_report(blob, parsed=parsed)
    assert rep.sections["other_tensors"] == sum(2 * c.values.size for c in g.constants)
    rows = {r.name: r for r in rep.layers}
    assert rows["ct"].kind == "CONV_TRANSPOSE2D" and rows["ct"].shape == [4, 3, 3, 3]
    assert rows["ct"].other_bytes == 2 * (4 * 3 * 9 + 3) and rows["bn"].other_bytes == 2 * 16
    assert "CONV_TRANSPOSE2D 4x3x3x3" in format_report(rep)
    text, obj = describe_blob(parsed, blob)
    for part in ("min=-1 max=1", "mode=bilinear", "mode=nearest", "start=2", "pad=0,1,1,1 value=0.25",
                 "k=3x3 s=2,2 pad=1,1,1,1 +relu6"):
        assert part in text, part
    heads = pack_graph(_heads_graph())
    text, obj = describe_blob(parse(heads), heads)
    assert "output t4 [4], output t6 [72], output t1 [4, 6, 6]" in text and obj["outputs"] == [4, 6, 1]


@pytest.mark.parametrize("shape,r,mode", [((8, 3, 5), 2, 0), ((18, 2, 2), 3, 0), ((3, 4, 6), 2, 1), ((2, 9, 3), 3, 1),
                                          ((5, 3, 3), 1, 0), ((8, 3, 5), 2, 2), ((18, 2, 1), 3, 2), ((3, 4, 6), 2, 3),
                                          ((2, 6, 9), 3, 3)])
def test_pixel_shuffle(crt, tmp_path, shape, r, mode) -> None:
    """PIXEL_SHUFFLE (format version 8) in C, fp32 and int8 (the Python integer reference's byte moves too), equals
    torch's own pixel_shuffle / pixel_unshuffle (modes 0, 1) and onnxruntime's DepthToSpace (DCR) / SpaceToDepth
    (modes 2, 3: TFLite's channel order); the blob says version 8 and keeps r and the mode."""
    from linrep_edge.integer.ops import pixel_shuffle_s8

    c, h, w = shape
    out = (c // (r * r), h * r, w * r) if mode % 2 == 0 else (c * r * r, h // r, w // r)
    g = _single(shape, out, Op("PIXEL_SHUFFLE", "ps", [], 0, mode=mode, stride=(r, r)))
    blob = pack_graph(g)
    back = parse(blob)
    assert back.format_version == 8 and (back.graph.ops[0].mode, back.graph.ops[0].stride) == (mode, (r, r))
    x = np.random.default_rng(r + mode).standard_normal((2, *shape)).astype(np.float32)
    if mode < 2:
        fn = torch.nn.functional.pixel_shuffle if mode == 0 else torch.nn.functional.pixel_unshuffle
        want = fn(torch.from_numpy(x), r).numpy()
    else:
        import importlib.util

        from needs import need

        need(all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime")), "onnx / onnxruntime",
             "pip install -e '.[onnx]' (make test installs it)")
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper

        node = (helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=r, mode="DCR") if mode == 2 else
                helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=r))
        graph = helper.make_graph([node], "ps", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (2, *shape))],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, (2, *out))])
        path = tmp_path / "ps.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
        want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert want.shape == (2, *out)
    np.testing.assert_array_equal(crt(blob).run(x).reshape(want.shape), want)
    q = (x * 40).clip(-128, 127).astype(np.int8)
    for k in range(2):
        np.testing.assert_array_equal(pixel_shuffle_s8(q[k], r, mode), (want[k] * 40).clip(-128, 127).astype(np.int8))
