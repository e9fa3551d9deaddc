"""Int8 models (format versions 4 and 5) in the C runtime: lr_run_i8 equals the Python integer reference
(`linrep_edge.integer.executor.run_int8`, itself checked against TFLite Micro) bit for bit on random
graphs of every op with an int8 form, on both LinRep paths; the format layer round-trips every version-4
field; lr_run on an int8 model quantises and dequantises; the arena holds 1-byte tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from needs import need

from linrep_edge.errors import LinRepError
from linrep_edge.format.ir import Graph
from linrep_edge.format.reader import parse
from linrep_edge.format.writer import pack_graph
from linrep_edge.integer.executor import run_int8
from linrep_edge.models.tflite_import import import_tflite
from linrep_edge.runtime.binding import CRuntime
from int8_graphs import ACTIVATION_KINDS, KINDS, build, in_place

SEEDS = range(6)


def _inputs(g: Graph, seed: int, n: int = 3) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    return rng.integers(-128, 128, (n, *g.tensors[0].shape)).astype(np.int8)


@pytest.mark.parametrize("kind", KINDS)
def test_c_equals_python_reference(kind: str) -> None:
    """Every op kind, 6 random graphs, 3 inputs each, both conv paths: C == Python bit for bit."""
    for seed in SEEDS:
        g = build(kind, seed)
        rt = CRuntime(pack_graph(g), f"{kind}/{seed}")
        assert rt.is_int8
        for path in ("direct", "reuse"):
            rt.set_conv_path(path)
            xs = _inputs(g, seed)
            got = rt.run_int8(xs)
            for n, x in enumerate(xs):
                want = run_int8(g, x, conv_path=path)
                for k, (w, c) in enumerate(zip(want, got)):
                    assert c[n].dtype == np.int8
                    np.testing.assert_array_equal(c[n], w, err_msg=f"{kind} seed {seed} {path} output {k}")


@pytest.mark.parametrize("kind", sorted(ACTIVATION_KINDS))
def test_activations_run_in_place(kind: str) -> None:
    """An int8 activation whose input dies at it writes its output over the input (lr_plan_lifetimes): the
    results stay the Python reference's (least arena, where the table may not fit, and no RAM limit, where it
    does), and the activation lower bound counts one buffer for both; a chain of them shares one buffer too;
    with the input read after the activation (an ADD of both), two buffers."""
    for seed in range(3):
        for mode in ("alias", "chain", "kept"):
            g = in_place(kind, seed, mode)
            xs = _inputs(g, seed, 4)
            want = [run_int8(g, x)[0] for x in xs]
            rt = CRuntime(pack_graph(g), f"{kind}/{seed}/{mode}")
            for limit in (0, -1):
                rt.set_ram_limit(limit)
                got = rt.run_int8(xs)[0]
                for n in range(len(xs)):
                    np.testing.assert_array_equal(got[n], want[n], err_msg=f"{kind} {seed} {mode} limit {limit}")
            x, a, y = g.tensors[0].numel, g.tensors[1].numel, g.tensors[g.output].numel
            lower = max(x + a, a + y) if mode != "kept" else 3 * a  # kept: a, b and ADD's output at once
            assert rt.activation_lower_bound_bytes == lower, (kind, seed, mode)


def test_outputs_are_not_saturated_constants() -> None:
    """The random graphs exercise the arithmetic: conv outputs spread over many values."""
    g = build("conv", 1)
    y = CRuntime(pack_graph(g)).run_int8(_inputs(g, 1, 1))[0]
    assert len(np.unique(y)) > 10


def test_reuse_path_runs_for_linrep() -> None:
    g = build("linrep", 2)
    rt = CRuntime(pack_graph(g))
    rt.set_conv_path("reuse")
    assert rt.op_conv_info(0)["path"] == "reuse"
    rt.set_conv_path("direct")
    assert rt.op_conv_info(0)["path"] == "direct"


def _normalised(g: Graph) -> Graph:
    """What an int8 blob holds: float op.bias constants are not stored (the bias is iparams.bias)."""
    for op in g.ops:
        op.bias = -1
    return g


def _assert_graphs_equal(a: Graph, b: Graph) -> None:
    assert [(t.shape, t.dtype, np.float32(t.scale), t.zero_point) for t in a.tensors] == \
        [(t.shape, t.dtype, np.float32(t.scale), t.zero_point) for t in b.tensors]
    assert a.results == b.results
    for cx, cy in zip(a.codebooks, b.codebooks):
        assert cx.dtype == cy.dtype == "int8" and np.float32(cx.scale) == np.float32(cy.scale)
        np.testing.assert_array_equal(cx.q, cy.q)
    for ox, oy in zip(a.ops, b.ops, strict=True):
        assert (ox.type, ox.inputs, ox.kernel, ox.stride, ox.pads, ox.groups, ox.start) == \
            (oy.type, oy.inputs, oy.kernel, oy.stride, oy.pads, oy.groups, oy.start)
        px, py = ox.iparams, oy.iparams
        assert px is not None and py is not None
        np.testing.assert_array_equal(px.multiplier, py.multiplier)
        np.testing.assert_array_equal(px.shift, py.shift)
        assert (px.act_min, px.act_max) == (py.act_min, py.act_max)
        assert (ox.mode, np.float32(ox.alpha)) == (oy.mode, np.float32(oy.alpha))
        for u, v in ((px.bias, py.bias), (px.extra, py.extra), (px.table, py.table)):
            assert (u is None) == (v is None)
            if u is not None:
                np.testing.assert_array_equal(u, v)
        if ox.weight >= 0:
            wx, wy = a.constants[ox.weight], b.constants[oy.weight]
            np.testing.assert_array_equal(wx.q, wy.q)
            np.testing.assert_array_equal(wx.scale, wy.scale)
        if ox.linrep is not None:
            lx, ly = ox.linrep, oy.linrep
            assert ly is not None
            for f in ("idx", "a_q", "b_q", "a_scale", "b_scale", "b_exponent"):
                np.testing.assert_array_equal(getattr(lx, f), getattr(ly, f), err_msg=f)
            assert (lx.mask is None) == (ly.mask is None)


@pytest.mark.parametrize("kind", ["chain", "linrep", "linrep_masked", "depthwise", "softmax", "concat", "pad",
                                  "channel_shuffle", "pad_border", "unary", "sub_channel"])
def test_format_round_trip(kind: str) -> None:
    """IR -> bytes -> IR equal (the a/b scales of version 5 recovered exactly from the multipliers); bytes -> IR
    -> bytes equal; format version 7 with UNARY (its table) or SUB, 6 with CHANNEL_SHUFFLE or PAD's borders, 5 with integer
    LinRep layers, else 4."""
    g = _normalised(build(kind, 4))
    blob = pack_graph(g)
    read = parse(blob)
    version = 7 if kind in ("unary", "sub_channel") else 6 if kind in ("channel_shuffle", "pad_border") else \
        5 if kind.startswith("linrep") else 4
    assert read.format_version == version and read.graph.is_int8
    _assert_graphs_equal(g, read.graph)
    assert pack_graph(read.graph, read.graph.metadata) == blob


def test_version_4_int8_blobs_still_read_and_run_alike(monkeypatch) -> None:
    """Version 5 drops the fp32 a/b scales of integer LinRep layers (8 bytes per row): a version-4 blob of
    the same graph, scales stored, still parses to the same graph and runs to the same bytes in C."""
    from linrep_edge.format import writer
    from linrep_edge.format.report import storage_report

    g = _normalised(build("linrep", 5))
    v5 = pack_graph(g)
    monkeypatch.setattr(writer, "format_version_needed", lambda _: 4)
    v4 = pack_graph(g)
    monkeypatch.undo()
    rows = sum(op.linrep.idx.shape[0] for op in g.ops if op.linrep is not None and op.linrep.ab_bits)
    assert rows > 0
    assert storage_report(v4).sections["ab_scales"] == 8 * rows and storage_report(v5).sections["ab_scales"] == 0
    assert len(v4) - len(v5) >= 8 * rows
    r4, r5 = parse(v4), parse(v5)
    assert (r4.format_version, r5.format_version) == (4, 5)
    _assert_graphs_equal(r4.graph, r5.graph)
    xs = _inputs(g, 5)
    for path in ("direct", "reuse"):
        c4, c5 = CRuntime(v4), CRuntime(v5)
        c4.set_conv_path(path)
        c5.set_conv_path(path)
        for y4, y5 in zip(c4.run_int8(xs), c5.run_int8(xs), strict=True):
            np.testing.assert_array_equal(y4, y5)


def test_writer_refuses_mixed_graphs() -> None:
    g = build("conv", 0)
    g.tensors[1].dtype = "fp32"
    with pytest.raises(LinRepError, match="only int8 tensors"):
        pack_graph(g)


def test_lr_run_float_on_int8_model() -> None:
    """lr_run quantises the fp32 input (round half away from zero, saturate) and dequantises outputs."""
    g = build("chain", 2)
    rt = CRuntime(pack_graph(g))
    s_in, zp_in = rt.input_quant
    rng = np.random.default_rng(5)
    x = (rng.normal(0, 60, (4, *rt.input_shape)) * s_in).astype(np.float32)
    x[0, 0, 0, 0] = np.float32(2.5 * s_in)  # a tie, away from zero
    x[0, 0, 0, 1] = np.float32(np.nextafter(np.float32(0.5), np.float32(0)) * np.float32(s_in))  # just below a tie
    v = (x / np.float32(s_in)).astype(np.float64)  # the fp32 quotient, rounded exactly in float64
    q = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) + zp_in, -128, 127)
    assert q.min() == -128 and q.max() == 127  # saturation exercised
    q = q.astype(np.int8)
    outs = rt.run_all(x)
    for n in range(len(x)):
        want = run_int8(g, q[n])
        for k, (o, w) in enumerate(zip(outs, want)):
            scale, zp = rt.output_quants[k]
            np.testing.assert_array_equal(o[n], (np.float32(scale) * (w.astype(np.float32) - zp)).astype(np.float32))


def test_arena_holds_bytes() -> None:
    """Activations take one byte per element: the lower bound is the byte count of the live tensors,
    and the arena (lr_arena_size) is what lr_run_i8 needs: one byte less is refused."""
    g = build("linear", 3)
    rt = CRuntime(pack_graph(g))
    f, out = g.tensors[0].numel, g.tensors[1].numel
    assert rt.activation_lower_bound_bytes == f + out
    x = _inputs(g, 3, 1)[0]
    rt.run_int8(x, arena_bytes=rt.arena_bytes)
    with pytest.raises(LinRepError, match="ARENA_TOO_SMALL"):
        rt.run_int8(x, arena_bytes=rt.arena_bytes - 1)


def test_run_int8_refuses_fp32_models_and_float_inputs() -> None:
    g = build("linear", 0)
    rt = CRuntime(pack_graph(g))
    with pytest.raises(LinRepError, match="int8 inputs"):
        rt.run_int8(np.zeros(rt.input_shape, np.float32))
    for t in g.tensors:  # the same network as an fp32 model
        t.dtype = "fp32"
    g.constants[0].dtype, g.ops[0].iparams = "fp32", None
    fp32 = CRuntime(pack_graph(g))
    assert not fp32.is_int8 and fp32.input_quant is None and fp32.output_quants == [None]
    with pytest.raises(LinRepError, match="needs an int8 model"):
        fp32.run_int8(np.zeros(fp32.input_shape, np.int8))


def test_quantized_linrep_network() -> None:
    """A compressed, captured and quantised network (quantize_graph: LinRep with integer a/b, dense convs,
    ADD, pools, linear): C == Python on both LinRep paths, and the blob round-trips."""
    from test_int8_quantize import _fp_graph  # int8-linrep's test network (needs torch)

    from linrep_edge.integer.quantize import quantize_graph

    g, calib = _fp_graph(1)
    gi = quantize_graph(g, calib, ab_bits=6)
    blob = pack_graph(gi)
    rt = CRuntime(blob)
    assert {op.type for op in gi.ops} >= {"LINREP_CONV2D", "CONV2D", "ADD", "LINEAR"}
    xs = np.random.default_rng(3).integers(-128, 128, (4, *rt.input_shape)).astype(np.int8)
    for path in ("direct", "reuse"):
        rt.set_conv_path(path)
        assert any(rt.op_conv_info(k)["path"] == path for k in range(rt.num_ops))
        got = rt.run_int8(xs)[0]
        for n, x in enumerate(xs):
            np.testing.assert_array_equal(got[n], run_int8(gi, x, conv_path=path)[0], err_msg=path)
    assert pack_graph(parse(blob).graph, parse(blob).graph.metadata) == blob


MLPERF = Path(__file__).resolve().parents[1].parent / "shared" / "mlperf-tiny"


@pytest.mark.parametrize("name", ["pretrainedResnet_quant", "kws_ref_model", "vww_96_int8"])
def test_mlperf_tiny_int8_every_tensor(name: str) -> None:
    """The MLPerf Tiny int8 models imported from .tflite (import_tflite): every tensor lr_run_i8 computes
    equals run_int8's (which equals TFLite Micro's: test_int8_oracle). Every tensor is made a model output
    so that C returns all of them."""
    path = MLPERF / f"{name}.tflite"
    need(path.exists(), f"the MLPerf Tiny model {path}", "put shared/mlperf-tiny beside the clone (see its README)")
    g = import_tflite(path)
    g.outputs = [g.output] + [t for t in range(1, len(g.tensors)) if t != g.output]
    rt = CRuntime(pack_graph(g), name)
    xs = np.random.default_rng(7).integers(-128, 128, (2, *rt.input_shape)).astype(np.int8)
    got = rt.run_int8(xs)
    for n, x in enumerate(xs):
        trace = run_int8(g, x, trace=True)
        for k, t in enumerate(g.outputs):
            np.testing.assert_array_equal(got[k][n], trace[t], err_msg=f"{name}: tensor {t} ({g.ops[t - 1].type})")


def test_report_and_inspect_show_int8() -> None:
    """Sections add up to the blob (int8 codebooks, int32 biases, the integer parameters counted); the
    arena is the C runtime's; inspect names each tensor's quantisation and each op's integers."""
    from linrep_edge.format.inspect import describe_blob
    from linrep_edge.format.report import storage_report

    g = build("chain", 1)
    blob = pack_graph(g)
    rep = storage_report(blob)
    assert sum(rep.sections.values()) == len(blob) and rep.activations == "int8"
    n_mult = sum(len(op.iparams.multiplier) for op in g.ops)
    assert rep.sections["int_params"] == 5 * n_mult + 4 + 8 * len(g.tensors)  # + SOFTMAX's diff_min
    assert rep.arena_bytes == CRuntime(blob).arena_bytes
    text, obj = describe_blob(parse(blob, weights=False), blob)
    assert "int8 model" in text and f"zero point {g.tensors[0].zero_point}" in text and "bias_i32[" in text
    assert obj["tensor_quant"][0] == [g.tensors[0].scale, g.tensors[0].zero_point]
    lr = build("linrep", 1)
    rep = storage_report(pack_graph(lr))
    assert rep.sections["codebooks"] == lr.codebooks[0].q.size and rep.layers[0].path in ("direct", "reuse")


@pytest.mark.parametrize("kind", KINDS)
def test_batched_evaluator_equals_reference(kind: str) -> None:
    """The batched int8 evaluator (pack's accuracy, `verify`, QAT's checks) equals the per-image reference bit for
    bit, on every op kind (TFLite's MEAN, "mean" and "mean_channels", was once averaged as torch's pool)."""
    from linrep_edge.integer.batch import run_int8_batch

    for seed in SEEDS:
        g = build(kind, seed)
        xs = _inputs(g, seed, 5)
        got = run_int8_batch(g, xs)
        for n, x in enumerate(xs):
            for w, b in zip(run_int8(g, x), got):
                np.testing.assert_array_equal(b[n], w, err_msg=f"{kind} seed {seed} image {n}")


def test_avg_pool_counting_padding_is_torchs_within_half_an_lsb() -> None:
    """AVG_POOL2D counting padding (torch's default) in integers: the C runtime's dequantised output is torch's
    average of the dequantised input, zero padding counted, within half an output step (ties either way)."""
    import torch
    import torch.nn.functional as F

    for seed in SEEDS:
        g = build("avg_pool_pad", seed)
        op, x_t, y_t = g.ops[0], g.tensors[0], g.tensors[1]
        assert op.count_include_pad and any(op.pads)
        xs = _inputs(g, seed, 4)
        got = CRuntime(pack_graph(g)).run_int8(xs)[0]
        real = torch.from_numpy((xs.astype(np.float64) - x_t.zero_point) * np.float32(x_t.scale))
        top, left, bottom, right = op.pads
        want = F.avg_pool2d(F.pad(real, (left, right, top, bottom)), op.kernel, op.stride).numpy()
        lo = (op.iparams.act_min - y_t.zero_point) * np.float32(y_t.scale)
        hi = (op.iparams.act_max - y_t.zero_point) * np.float32(y_t.scale)
        ours = (got.astype(np.float64) - y_t.zero_point) * np.float32(y_t.scale)
        err = np.abs(ours - np.clip(want, lo, hi))
        assert err.max() <= 0.5 * np.float32(y_t.scale) + 1e-9, f"seed {seed}: {err.max()}"


def test_se_gate_and_padded_average_pool_quantise_end_to_end() -> None:
    """A torch model with nn.AvgPool2d(3, 1, padding=1) (padding counted) and a squeeze-and-excitation style
    x + gate (the gate x.mean((2, 3)) broadcast over H, W), captured and quantised to int8: no refusal; the C
    runtime equals the batched Python reference on every output byte and stays close to the fp32 model."""
    import torch
    from torch import nn

    from linrep_edge.graph.capture import capture
    from linrep_edge.integer.batch import quantize_input, run_int8_batch
    from linrep_edge.integer.quantize import quantize_graph

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(2, 6, 3, padding=1)
            self.pool = nn.AvgPool2d(3, 1, padding=1)
            self.fc = nn.Linear(6 * 64, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.pool(torch.relu(self.c1(x)))
            y = y + y.mean((2, 3), keepdim=True)
            return self.fc(y.flatten(1))

    torch.manual_seed(0)
    model = Net().eval()
    calib = torch.randn(64, 2, 8, 8)
    g = quantize_graph(capture(model, calib[:1]), calib.numpy())
    kinds = [op.type for op in g.ops]
    assert "AVG_POOL2D" in kinds and "ADD" in kinds
    pool = next(op for op in g.ops if op.type == "AVG_POOL2D")
    add = next(op for op in g.ops if op.type == "ADD")
    assert pool.count_include_pad and any(pool.pads)
    assert g.tensors[add.inputs[1]].shape != g.tensors[add.inputs[0]].shape  # the broadcast gate
    x = torch.randn(16, 2, 8, 8)
    xq = quantize_input(g, x.numpy())
    want = run_int8_batch(g, xq)[0]
    assert np.array_equal(CRuntime(pack_graph(g)).run_int8(xq)[0], want)
    out = g.tensors[g.output]
    y = (want.astype(np.float64) - out.zero_point) * out.scale
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.linalg.norm(y - ref) / np.linalg.norm(ref) < 0.1
    # the fake-quantised model of int8 fine-tuning takes the gate too, and is the integer model within a step
    from linrep_edge.integer.qat import QATGraphModel
    from linrep_edge.integer.quantize import calibrate

    fp = capture(model, calib[:1])
    with torch.no_grad():
        fq = QATGraphModel(fp, calibrate(fp, calib.numpy()), 8)(x).numpy()
    assert np.abs(fq - y).max() <= 2 * out.scale + 1e-6
