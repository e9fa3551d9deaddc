"""quantize_graph: an fp32 LinRep graph → an int8 graph as docs/INTEGER.md says (tensor quantisation from
calibration, every multiplier from arith, integer LinRep within its bound), run by the integer reference
(`executor.run_int8`, both conv paths) and equal to the batched evaluator bit for bit; close to the fp32
graph; ops without an int8 form refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.graph.capture import capture
from linrep_edge.graph.executor import GraphModel
from linrep_edge.integer import arith
from linrep_edge.integer.batch import quantize_input, run_int8_batch
from linrep_edge.integer.executor import run_int8
from linrep_edge.integer.linrep import accumulator_bound_ok, kernel_integers, linrep_conv2d_s8, weight_scale
from linrep_edge.integer.ops import conv2d_s8
from linrep_edge.integer.quantize import calibrate, quantize_graph
from linrep_edge.method.compress import compress


class _Block(nn.Module):
    def __init__(self, c: int, d: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, d, 3, 2, 1, bias=False), nn.BatchNorm2d(d)
        self.c2, self.b2 = nn.Conv2d(d, d, 3, 1, 1, bias=False), nn.BatchNorm2d(d)
        self.sc = nn.Sequential(nn.Conv2d(c, d, 1, 2, bias=False), nn.BatchNorm2d(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.b2(self.c2(torch.relu(self.b1(self.c1(x))))) + self.sc(x))


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(2, 6, 3, 1, 1), nn.BatchNorm2d(6), nn.ReLU6())
        self.pool = nn.MaxPool2d(2)
        self.block = _Block(6, 8)
        self.avg = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.gap(self.avg(self.block(self.pool(self.stem(x))))), 1))


def _fp_graph(seed: int = 0):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    net = _Net()
    for m in net.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    cm, _ = compress(net.eval(), templates=4, seed=seed, show_progress=False)
    g = capture(cm, torch.zeros(1, 2, 16, 16))
    calib = torch.randn(64, 2, 16, 16).numpy()
    return g, calib


@pytest.fixture(scope="module")
def graphs():  # type: ignore[no-untyped-def]
    g, calib = _fp_graph()
    return g, calib, quantize_graph(g, calib, ab_bits=6)


def test_tensor_quantisation(graphs):
    g, calib, gi = graphs
    assert gi.is_int8 and not g.is_int8
    ranges = calibrate(g, calib)
    for t, (tf, ti) in enumerate(zip(g.tensors, gi.tensors)):
        assert ti.dtype == "int8" and ti.scale > 0 and -128 <= ti.zero_point <= 127
        lo, hi = ti.scale * (-128 - ti.zero_point), ti.scale * (127 - ti.zero_point)
        assert lo <= min(ranges.lo[t], 0) + ti.scale and hi >= max(ranges.hi[t], 0) - ti.scale  # covers the range
    for op in gi.ops:
        out = gi.tensors[op.output]
        if op.activation in ("RELU", "RELU6"):
            assert out.zero_point == -128 and op.iparams.act_min == -128
        if op.activation == "RELU6":
            assert op.iparams.act_max == min(127, -128 + round(6 / out.scale))
        if op.type in ("MAX_POOL2D", "AVG_POOL2D", "ADAPTIVE_AVG_POOL2D", "RESHAPE"):
            src = gi.tensors[op.inputs[0]]
            assert (src.scale, src.zero_point) == (out.scale, out.zero_point)
    assert {op.type for op in gi.ops} >= {"LINREP_CONV2D", "CONV2D", "ADD", "MAX_POOL2D", "AVG_POOL2D",
                                          "ADAPTIVE_AVG_POOL2D", "RESHAPE", "LINEAR"}


def test_integer_parameters(graphs):
    _, _, gi = graphs
    for op in gi.ops:
        s_in, s_out = gi.tensors[op.inputs[0]].scale, gi.tensors[op.output].scale
        if op.type == "LINREP_CONV2D":
            lr = op.linrep
            cb = gi.codebooks[lr.codebook]
            assert cb.dtype == "int8" and np.abs(cb.q).max() == 127
            assert lr.ab_bits == 6 and np.abs(lr.a_q).max() <= 31 and np.abs(lr.b_q).max() <= 31
            np.testing.assert_allclose(lr.b_scale, lr.a_scale * cb.scale * 2.0 ** lr.b_exponent, rtol=1e-6)
            assert accumulator_bound_ok(gi, op)
            s_w = weight_scale(gi, op)
        elif op.type in ("CONV2D", "LINEAR"):
            c = gi.constants[op.weight]
            assert c.dtype == "int8" and c.q.dtype == np.int8 and (np.abs(c.q).max(axis=tuple(range(1, c.q.ndim))) == 127).all()
            s_w = c.scale.astype(np.float64)
        elif op.type == "ADD":
            s0, s1 = (gi.tensors[t].scale for t in op.inputs)
            m = 2 * max(s0, s1)
            for k, real in enumerate((s0 / m, s1 / m, m / (2 ** 20 * s_out))):
                assert (op.iparams.multiplier[k], op.iparams.shift[k]) == arith.quantize_multiplier(real)
            continue
        else:
            continue
        for o in range(len(s_w)):
            real = float(np.float32(s_in)) * float(s_w[o]) / float(np.float32(s_out))
            m, s = arith.quantize_multiplier(real)
            assert abs(int(op.iparams.multiplier[o]) - m) <= 1 and int(op.iparams.shift[o]) == s
        fp_bias = gi.constants[op.bias].values if op.bias >= 0 else np.zeros(len(s_w))
        np.testing.assert_allclose(op.iparams.bias * (s_in * s_w), fp_bias, atol=1e-6)


def test_reference_paths_and_batch_agree(graphs):
    _, calib, gi = graphs
    xq = quantize_input(gi, calib[:6])
    batch = run_int8_batch(gi, xq)[0]
    for n in range(6):
        direct = run_int8(gi, xq[n])[0]
        np.testing.assert_array_equal(direct, run_int8(gi, xq[n], conv_path="reuse")[0])
        np.testing.assert_array_equal(direct, batch[n])
    trace = run_int8(gi, xq[0], trace=True)
    for op in gi.ops:  # the direct path is the dense integer conv of W (int8-py's conv2d_s8 on W)
        if op.type == "LINREP_CONV2D":
            p = op.iparams
            dense = conv2d_s8(trace[op.inputs[0]], kernel_integers(gi, op), p.bias, p.multiplier, p.shift,
                              gi.tensors[op.inputs[0]].zero_point, gi.tensors[op.output].zero_point, p.act_min,
                              p.act_max, op.stride, op.pads, op.dilation, op.groups)
            np.testing.assert_array_equal(dense, trace[op.output])
            np.testing.assert_array_equal(linrep_conv2d_s8(gi, op, trace[op.inputs[0]], "reuse"), trace[op.output])


def test_c_runtime_equals_reference(graphs, crt):
    """The packed int8 graph (format version 4) in the C runtime: lr_run_i8 on both conv paths equals the
    Python reference on every op type here (LinRep, conv, ReLU6 clamp, max/avg/global pools, add, linear)."""
    from linrep_edge.format.reader import parse
    from linrep_edge.format.writer import pack_graph

    _, calib, gi = graphs
    blob = pack_graph(gi)
    back = parse(blob).graph
    xq = quantize_input(gi, calib[:8])
    ref = run_int8_batch(back, xq)[0]
    np.testing.assert_array_equal(ref, run_int8_batch(gi, xq)[0])  # the blob holds the same integers
    for path in ("direct", "reuse"):
        out = crt(blob, conv_path=path).run_int8(xq)[0]
        np.testing.assert_array_equal(out.reshape(ref.shape), ref)


def test_close_to_fp32(graphs):
    g, calib, gi = graphs
    x = calib[:32]
    ref = GraphModel(g).eval()(torch.from_numpy(x)).detach().numpy()
    out = gi.tensors[gi.output]
    y = (run_int8_batch(gi, quantize_input(gi, x))[0].astype(np.float64) - out.zero_point) * out.scale
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert err < 0.1, err
    assert (y.argmax(1) == ref.argmax(1)).mean() >= 0.85


def test_refuses_ops_without_int8_form():
    g, calib = _fp_graph()
    g.ops[0].activation = "NONE"
    sig = next(op for op in g.ops if op.type == "LINEAR")
    sig.type = "ELU"  # not an op of the format: every one has an int8 form (those with options that have none:
    sig.name = "head_elu"  # tests/test_int8_pack.py)
    with pytest.raises(LinRepError, match="head_elu \\(ELU\\)"):
        quantize_graph(g, calib, ab_bits=6)
    g2, _ = _fp_graph()
    with pytest.raises(LinRepError, match="no LinRep layer named nope"):
        quantize_graph(g2, calib, ab_bits=6, layer_bits={"nope": 4})
    with pytest.raises(LinRepError, match="ab_bits"):
        quantize_graph(g2, calib)  # fp16 a/b and no ab_bits: no integer LinRep


def test_version_5_blob_recovers_the_ab_scales_exactly(graphs):
    """A compressed, batch-norm-folded, quantised network's int8 blob stores no a/b scales (format version 5):
    the reader recovers the packer's s_a, s_b (and so a, b) bit for bit from the multipliers."""
    from linrep_edge.format.reader import parse
    from linrep_edge.format.writer import pack_graph

    _, _, gi = graphs
    back = parse(pack_graph(gi))
    assert back.format_version == 5
    n = 0
    for op, rop in zip(gi.ops, back.graph.ops, strict=True):
        if op.linrep is not None:
            for f in ("a_scale", "b_scale", "a", "b", "a_q", "b_q"):
                np.testing.assert_array_equal(getattr(rop.linrep, f), getattr(op.linrep, f), err_msg=f"{op.name} {f}")
            n += 1
    assert n >= 2


def test_nearly_dead_linrep_channel_gets_a_wider_a_scale():
    """A LinRep channel whose kernels are ~0 beside a normal bias (a nearly dead depthwise channel of MLPerf
    Tiny's VWW model made `pack --min-agreement` fail: "the integer LinRep accumulator can exceed int32"):
    its s_a is widened until the int32 bias takes at most 2^30 (TFLite's rule for dense weights), e >= 0;
    the graph quantises, stays within the accumulator bound, that channel gives the bias as the fp32 graph
    does, C equals the integer reference, and the QAT model is still the integer model."""
    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.qat import QATGraphModel
    from linrep_edge.runtime.binding import CRuntime

    g, calib = _fp_graph(2)
    op = next(o for o in g.ops if o.type == "LINREP_CONV2D" and o.bias >= 0)
    lr = op.linrep
    lr.a, lr.b = lr.a.copy(), lr.b.copy()
    lr.a[0] *= 1e-7  # channel 0: kernels a·T + b ~ 0 ...
    lr.b[0] = 0.0
    bias = g.constants[op.bias]
    bias.values = bias.values.copy()
    bias.values.reshape(-1)[0] = 0.75  # ... beside a normal bias
    ranges = calibrate(g, calib)
    with pytest.raises(LinRepError, match="accumulator can exceed int32"):  # what the floor prevents
        import linrep_edge.integer.quantize as qmod

        saved = qmod.bias_floor
        qmod.bias_floor = lambda *_: None
        try:
            quantize_graph(g, calib, ab_bits=6, ranges=ranges)
        finally:
            qmod.bias_floor = saved
    gi = quantize_graph(g, calib, ab_bits=6, ranges=ranges)
    oi = gi.ops[g.ops.index(op)]
    assert accumulator_bound_ok(gi, oi)
    s_in = float(np.float32(gi.tensors[oi.inputs[0]].scale))
    s_t = float(np.float32(gi.codebooks[oi.linrep.codebook].scale))
    assert oi.linrep.b_exponent[0] >= 0 and abs(int(oi.iparams.bias[0])) <= 2 ** 30 * (1 + 1e-5)
    assert float(oi.linrep.a_scale[0]) * s_t * s_in * 2 ** 30 >= 0.75 * (1 - 1e-6)
    out_t = gi.tensors[oi.output]
    x = calib[:8]
    q = quantize_input(gi, x)
    want = 0.75 if op.activation in ("RELU", "RELU6", "NONE") else None
    assert want is not None, op.activation
    for n in range(3):  # channel 0 is the bias, as in the fp32 graph, within two output steps
        y = run_int8(gi, q[n], trace=True)[oi.output][0]
        np.testing.assert_allclose((y.astype(np.float64) - out_t.zero_point) * out_t.scale, want, atol=2 * out_t.scale)
    rt = CRuntime(pack_graph(gi))
    for path in ("direct", "reuse"):
        rt.set_conv_path(path)
        c = rt.run_int8(q[:3])
        for n in range(3):
            for k, w in enumerate(run_int8(gi, q[n], conv_path=path)):
                np.testing.assert_array_equal(c[k][n], w)
    qat = QATGraphModel(g, ranges, 6).eval()
    out = gi.tensors[gi.output]
    y_int = (run_int8_batch(gi, q)[0].astype(np.float64) - out.zero_point) * out.scale
    with torch.no_grad():
        y_qat = qat(torch.from_numpy(x)).double().numpy()
    assert np.abs(y_qat - y_int).max() <= 4 * out.scale


def test_report_reference_columns_count_the_folded_biases(graphs):
    """The report's fp32 / int8 reference columns of an int8 blob are those of the same model packed with fp32
    activations, and count every weight and bias of the BN-folded network (counted here from the torch module:
    each conv is followed by a batch norm, so each has a bias once folded)."""
    from linrep_edge.format.report import storage_report
    from linrep_edge.format.writer import pack_graph
    g, _, gi = graphs
    rf, ri = storage_report(pack_graph(g)), storage_report(pack_graph(gi))
    net = _Net()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    params = sum(c.weight.numel() + c.out_channels for c in convs) + net.fc.weight.numel() + net.fc.bias.numel()
    assert rf.fp32_bytes == ri.fp32_bytes == 4 * params
    scales = sum(c.out_channels for c in convs) + net.fc.out_features  # TFLite's scheme: one per output channel
    assert rf.int8_bytes == ri.int8_bytes == params + 3 * (params - sum(c.weight.numel() for c in convs)
                                                           - net.fc.weight.numel()) + 4 * scales
    assert [(r.name, r.fp32_bytes, r.int8_bytes) for r in rf.layers] == [
        (r.name, r.fp32_bytes, r.int8_bytes) for r in ri.layers]
