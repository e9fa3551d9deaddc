"""The int8 forms of the elementwise activations (docs/INTEGER.md §6): TFLite's int8 arithmetic, checked
against TFLite Micro on every int8 input value at several scales and zero points (the Python reference and
the C runtime), then in a packed fp32 model (`pack_model(..., PackSettings(activations="int8"))`): C equals
the Python integer reference byte for byte and stays close to the fp32 model. Needs the peers extra for the
TFLite Micro cases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from needs import need
from torch import nn

from linrep_edge.bench import peers
from linrep_edge.errors import LinRepError
from linrep_edge.format.reader import parse
from linrep_edge.integer.batch import quantize_input, run_int8_batch
from linrep_edge.integer.executor import run_int8
from linrep_edge.models.tflite_import import import_tflite, import_tflite_mapped
from linrep_edge.runtime.binding import CRuntime
from int8_graphs import ACTIVATION_KINDS, build, taller

HAVE_TFLM = importlib.util.find_spec("tflite_micro") is not None

# (TFLite op, our op, input (scale, zp), output (scale, zp)): scales from tiny (the rescaling's left shift
# largest) to large (most inputs beyond the radius, saturated)
TFLM_CASES = [
    ("LOGISTIC", "SIGMOID", (0.02, -5), (1.0 / 256.0, -128)),
    ("LOGISTIC", "SIGMOID", (0.0625, 0), (1.0 / 256.0, -128)),
    ("LOGISTIC", "SIGMOID", (0.1173, 37), (1.0 / 256.0, -128)),
    ("LOGISTIC", "SIGMOID", (0.003, -128), (1.0 / 256.0, -128)),
    ("LOGISTIC", "SIGMOID", (0.5, 127), (1.0 / 256.0, -128)),
    ("TANH", "TANH", (0.02, -5), (1.0 / 128.0, 0)),
    ("TANH", "TANH", (0.0625, 0), (1.0 / 128.0, 0)),
    ("TANH", "TANH", (0.0091, 77), (1.0 / 128.0, 0)),
    ("TANH", "TANH", (0.003, -128), (1.0 / 128.0, 0)),
    ("TANH", "TANH", (0.3, 127), (1.0 / 128.0, 0)),
    ("RELU", "RELU", (0.05, 3), (0.03, -100)),  # requantising (TFLite Micro always does)
    ("RELU", "RELU", (0.02, -20), (0.02, -20)),  # quantised alike: the multiplier is one
    ("RELU", "RELU", (0.01, -60), (0.04, -128)),
    ("RELU6", "RELU6", (0.05, 3), (0.05, 3)),  # the input clamped to [zp, q(6)]
    ("RELU6", "RELU6", (0.02, -128), (0.02, -128)),
    ("LEAKY_RELU", "LEAKY_RELU", (0.05, 3), (0.03, -50), 0.1),
    ("LEAKY_RELU", "LEAKY_RELU", (0.02, -20), (0.02, -20), 0.2),  # quantised alike
    ("LEAKY_RELU", "LEAKY_RELU", (0.01, 100), (0.004, -128), 0.01),
    ("LEAKY_RELU", "LEAKY_RELU", (0.04, 0), (0.1, 5), 0.0),
    ("HARD_SWISH", "HARDSWISH", (0.05, -10), (0.03, -100)),  # reluish exponent > 0 (left shifts)
    ("HARD_SWISH", "HARDSWISH", (0.004, 3), (0.002, -120)),  # reluish exponent < 0 (right shift)
    ("HARD_SWISH", "HARDSWISH", (0.1, -128), (0.1, -40)),
    ("HARD_SWISH", "HARDSWISH", (0.03, 60), (0.05, 0)),  # output exponent -7
    ("HARD_SWISH", "HARDSWISH", (0.0117, 127), (0.0117, -90)),  # in and out quantised alike
]


def _all_values(shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    """n inputs of 256 values, each a permutation of -128..127 (every int8 value once)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(np.arange(-128, 128)).reshape(shape) for _ in range(n)]).astype(np.int8)


def _check_table(g, xs: np.ndarray, table: bool = True) -> None:  # type: ignore[no-untyped-def]
    """The op of g on twice the values (every tensor two times taller: 512 and more), where the C runtime given
    room for its scratch (no RAM limit) maps them through a table of the reference's outputs
    (lr_table_s8_opt, `table`; per-channel PReLU slopes: no table): equal to the Python reference byte for
    byte, as is the least arena's run (no room for the table: the reference kernel)."""
    import copy

    from linrep_edge.format.writer import pack_graph
    big = copy.deepcopy(g)
    for t in big.tensors:
        t.shape = (t.shape[0], 2 * t.shape[1], *t.shape[2:])
    xb = np.concatenate([xs, xs[::-1]], axis=2)
    assert xb.shape[1:] == big.tensors[big.input].shape and xb[0].size >= 512
    want = np.stack([run_int8(big, x)[0] for x in xb])
    rt = CRuntime(pack_graph(big))
    least = rt.arena_bytes
    assert np.array_equal(rt.run_int8(xb)[0].reshape(want.shape), want)
    rt.set_ram_limit(-1)
    assert (rt.arena_bytes >= least + 256) == table  # the plan gave the table its scratch
    assert np.array_equal(rt.run_int8(xb)[0].reshape(want.shape), want)


@pytest.mark.parametrize("kind", sorted(set(ACTIVATION_KINDS) - {"unary"}) + ["mul_channel", "affine"])
def test_tables_equal_the_reference_on_random_graphs(kind: str) -> None:
    """Every op the run path may map through tables (lr_op_act_table: the elementwise activations but UNARY, whose
    table is in the blob, and a table per channel for PRELU's slopes, MUL by a per-channel gate and AFFINE), on
    random graphs (tests/int8_graphs.py: random quantisation, slopes, clamps) made tall enough for the tables (512
    values per channel): the C runtime given room for the table (no RAM limit: the arena grows by its 256 bytes)
    equals the Python integer reference byte for byte on every int8 input value and on inputs whose channels have
    ranges of their own (so that the gates differ), as does its least arena's run (no room: the reference
    kernels)."""
    from linrep_edge.format.writer import pack_graph

    done = 0
    for seed in range(60):
        g = build(kind, seed)
        if len(g.tensors[g.input].shape) != 3:
            continue
        c, h, w = g.tensors[g.input].shape
        big = taller(g, -(-512 // (h * w)))
        shape = big.tensors[big.input].shape
        rng = np.random.default_rng(seed)
        spread = rng.integers(-128, 128, (2, *shape)) // rng.integers(1, 5, (2, shape[0], 1, 1)) \
            + rng.integers(-100, 100, (2, shape[0], 1, 1))  # each channel its own range: the gates differ
        xs = np.concatenate([np.resize(rng.permutation(np.arange(-128, 128)), (1, *shape)),
                             np.clip(spread, -128, 127)]).astype(np.int8)
        want = [run_int8(big, x)[0] for x in xs]
        rt = CRuntime(pack_graph(big))
        least = rt.arena_bytes
        for limit in (0, -1):
            rt.set_ram_limit(limit)
            got = rt.run_int8(xs)[0]
            for k, x in enumerate(xs):
                assert np.array_equal(got[k].reshape(want[k].shape), want[k]), f"{kind} seed {seed} limit {limit}"
        assert rt.arena_bytes >= least + 256, f"{kind} seed {seed}: no room given for the table"
        done += 1
        if done == 3:
            break
    assert done == 3


@pytest.mark.parametrize("case", range(len(TFLM_CASES)),
                         ids=[f"{c[0]}-{c[2][0]}-{c[2][1]}" for c in TFLM_CASES])
def test_activation_equals_tflite_micro(case: int) -> None:
    """Python reference and C runtime == TFLite Micro on every output byte, every int8 input value."""
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    import tflite_build as tb

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.oracle import TflmRunner

    code, ours, in_q, out_q, *alpha = TFLM_CASES[case]
    model = tb.activation_model(case, code, in_q, out_q, *(("LeakyReluOptions",) if alpha else ()),
                                **({"alpha": alpha[0]} if alpha else {}))
    imp = import_tflite_mapped(model)
    g = imp.graph
    assert g.is_int8 and [op.type for op in g.ops] == [ours]
    xs = _all_values(g.tensors[g.input].shape, 6, case)
    tflm = TflmRunner(model, imp)
    want = np.stack([tflm(x)[0] for x in xs])
    got_py = np.stack([run_int8(g, x)[0] for x in xs])
    got_c = CRuntime(pack_graph(g)).run_int8(xs)[0].reshape(want.shape)
    assert np.array_equal(got_py, want)
    assert np.array_equal(got_c, want)
    assert np.array_equal(run_int8_batch(g, xs)[0], want)
    assert len(np.unique(want)) > 10  # the curve, not only its saturated ends
    _check_table(g, xs)


# (TFLite op, options, input (scale, zp), output (scale, zp)): ELU and GELU (both forms), whose int8 kernels are
# LiteRT's lookup tables; TFLite Micro has neither GELU nor (in this build's resolver) the table path we follow
LITERT_UNARY_CASES = [
    ("ELU", {}, (0.05, 3), (0.03, -50)), ("ELU", {}, (0.02, -100), (0.01, 60)), ("ELU", {}, (0.1, 127), (0.05, 0)),
    ("GELU", {"approximate": False}, (0.05, 3), (0.03, -50)),
    ("GELU", {"approximate": False}, (0.03, -20), (0.02, -110)),
    ("GELU", {"approximate": False}, (0.004, -128), (0.002, -128)),
    ("GELU", {"approximate": True}, (0.05, 3), (0.03, -50)),
    ("GELU", {"approximate": True}, (0.0123, 77), (0.011, -128)),
    ("GELU", {"approximate": True}, (0.2, 0), (0.1, -100))]


@pytest.mark.parametrize("case", range(len(LITERT_UNARY_CASES)),
                         ids=[f"{c[0]}{'-tanh' if c[1].get('approximate') else ''}-{c[2][0]}-{c[2][1]}"
                              for c in LITERT_UNARY_CASES])
def test_unary_equals_litert(case: int) -> None:
    """An int8 .tflite with ELU or GELU imports as one UNARY op whose table (built as `pack` builds it) gives, in
    the Python reference and in C, LiteRT's own int8 kernel's output on every input byte (its builtin kernels, no
    delegate)."""
    need(importlib.util.find_spec("ai_edge_litert") is not None, "the peers extra (ai-edge-litert)",
         peers.INSTALL_HINT)
    import tflite_build as tb
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from linrep_edge.format.writer import pack_graph

    code, opts, in_q, out_q = LITERT_UNARY_CASES[case]
    model = tb.activation_model(case, code, in_q, out_q, "GeluOptions" if opts else None, **opts)
    g = import_tflite_mapped(model).graph
    assert g.is_int8 and [op.type for op in g.ops] == ["UNARY"]
    xs = _all_values(g.tensors[g.input].shape, 3, case)
    it = Interpreter(model_content=model,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    want = []
    for x in xs:  # the file's input is NHWC [1, 4, 8, 8]: the same 256 values in the file's order
        it.set_tensor(it.get_input_details()[0]["index"], x.reshape(1, 4, 8, 8))
        it.invoke()
        want.append(it.get_tensor(it.get_output_details()[0]["index"]).reshape(g.tensors[g.output].shape))
    want_a = np.stack(want)
    got_py = np.stack([run_int8(g, x)[0] for x in xs])
    got_c = CRuntime(pack_graph(g)).run_int8(xs)[0].reshape(want_a.shape)
    assert np.array_equal(got_py, want_a)
    assert np.array_equal(got_c, want_a)
    assert len(np.unique(want_a)) > 10


PRELU_CASES = [  # input, output, slope (scale, zero point), one slope per channel
    ((0.05, 3), (0.03, -50), (0.004, 0), True),
    ((0.02, -20), (0.02, -20), (0.01, 10), True),  # in and out quantised alike, asymmetric slopes
    ((0.01, 100), (0.004, -128), (0.002, -7), True),
    ((0.04, 0), (0.1, 5), (0.0078, 0), False),  # one slope
]


@pytest.mark.parametrize("case", range(len(PRELU_CASES)))
def test_prelu_equals_tflite_micro(case: int) -> None:
    """PRELU with int8 slopes (one scale and zero point, per channel or one): Python, C == TFLite Micro."""
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    import tflite_build as tb

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.oracle import TflmRunner

    in_q, out_q, alpha_q, per_channel = PRELU_CASES[case]
    model = tb.prelu_model(case, in_q, out_q, alpha_q, per_channel)
    imp = import_tflite_mapped(model)
    g = imp.graph
    assert g.is_int8 and [op.type for op in g.ops] == ["PRELU"]
    assert len(g.ops[0].iparams.extra) == 1 + (g.tensors[g.input].shape[0] if per_channel else 1)
    xs = _all_values(g.tensors[g.input].shape, 6, case)
    tflm = TflmRunner(model, imp)
    want = np.stack([tflm(x)[0] for x in xs])
    assert np.array_equal(np.stack([run_int8(g, x)[0] for x in xs]), want)
    assert np.array_equal(CRuntime(pack_graph(g)).run_int8(xs)[0].reshape(want.shape), want)
    assert np.array_equal(run_int8_batch(g, xs)[0], want)
    assert len(np.unique(want)) > 10
    _check_table(g, xs, table=not per_channel)


SILU_CASES = [((0.05, 3), (0.03, -100)), ((0.02, -20), (0.02, -20)), ((0.1, 100), (0.08, -120)),
              ((0.004, -128), (0.003, 0))]


@pytest.mark.parametrize("case", range(len(SILU_CASES)))
def test_silu_equals_tflite_logistic_then_mul(case: int) -> None:
    """Our int8 SILU (one op) == TFLite Micro running LOGISTIC then MUL (what converters emit) on every output
    byte, every int8 input value; the C runtime too."""
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    import tflite_build as tb
    from tflite_micro.python.tflite_micro import runtime

    from linrep_edge.format.ir import Graph, IntParams, Op, Tensor
    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer import arith
    from linrep_edge.integer.oracle import to_ours, to_tflite_layout

    in_q, out_q = SILU_CASES[case]
    shape = (8, 4, 8)  # ours ([C, H, W]) for TFLite's [1, 4, 8, 8]
    x_t = Tensor(shape, "x", "int8", float(np.float32(in_q[0])), in_q[1])
    y_t = Tensor(shape, "y", "int8", float(np.float32(out_q[0])), out_q[1])
    ml, sl, radius, mm, sm = arith.silu_params(x_t.scale, y_t.scale)
    g = Graph([x_t, y_t], 0, 1, [Op("SILU", "silu", [0], 1, iparams=IntParams(
        np.array([ml, mm], np.int32), np.array([sl, sm], np.int32), extra=np.array([radius], np.int32)))])
    with peers.quiet_fds():
        ip = runtime.Interpreter.from_bytes(tb.silu_model(case, in_q, out_q), arena_size=1 << 16)
    xs = _all_values(shape, 6, case)
    want = []
    for x in xs:
        ip.set_input(to_tflite_layout(x), 0)
        ip.invoke()
        want.append(to_ours(ip.get_output(0), shape))
    want_a = np.stack(want)
    assert np.array_equal(np.stack([run_int8(g, x)[0] for x in xs]), want_a)
    assert np.array_equal(CRuntime(pack_graph(g)).run_int8(xs)[0].reshape(want_a.shape), want_a)
    assert len(np.unique(want_a)) > 10
    _check_table(g, xs)


@pytest.mark.parametrize("in_q,out_q", [((0.05, 3), (1.0 / 255.0, -128)), ((0.02, -100), (0.004, -128)),
                                        ((0.1, 127), (0.01, 0)), ((0.004, -128), (1.0 / 255.0, -128))])
def test_hardsigmoid_is_within_half_a_step(in_q: tuple[float, int], out_q: tuple[float, int]) -> None:
    """Our HARDSIGMOID (no TFLite builtin: docs/INTEGER.md §6.8) against torch on every int8 input value: the
    dequantised output within half an output step (plus the reluish value's 2^-14) of hardsigmoid of the
    dequantised input; C == Python byte for byte."""
    from linrep_edge.format.ir import Graph, IntParams, Op, Tensor
    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer import arith

    x_t = Tensor((256,), "x", "int8", float(np.float32(in_q[0])), in_q[1])
    y_t = Tensor((256,), "y", "int8", float(np.float32(out_q[0])), out_q[1])
    om, os_, rm, re_ = arith.hardsigmoid_params(x_t.scale, y_t.scale)
    g = Graph([x_t, y_t], 0, 1, [Op("HARDSIGMOID", "hs", [0], 1, iparams=IntParams(
        np.array([om, rm], np.int32), np.array([os_, re_], np.int32)))])
    x = np.arange(-128, 128).astype(np.int8)
    y = run_int8(g, x)[0]
    assert np.array_equal(CRuntime(pack_graph(g)).run_int8(x[None])[0].reshape(-1), y)
    xf = torch.from_numpy((x.astype(np.float64) - x_t.zero_point) * x_t.scale)
    ref = nn.functional.hardsigmoid(xf).numpy()
    ref_q = np.clip(np.round(ref / y_t.scale) + y_t.zero_point, -128, 127)  # the best int8 answer
    got = (y.astype(np.float64) - y_t.zero_point) * y_t.scale
    inside = (ref_q > -128) & (ref_q < 127)
    assert np.abs(got - ref)[inside].max() <= 0.5 * y_t.scale + 2.0 ** -14
    assert np.abs(y.astype(np.int64) - ref_q).max() <= 1
    assert len(np.unique(y)) > 10
    g.tensors = [Tensor((2, 8, 16), t.name, t.dtype, t.scale, t.zero_point) for t in g.tensors]
    _check_table(g, np.stack([np.random.default_rng(k).permutation(x).reshape(2, 8, 16) for k in range(3)]))


def test_fixed_output_quantisation_is_checked() -> None:
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    import tflite_build as tb

    with pytest.raises(LinRepError, match=r"op 0 LOGISTIC: int8 logistic output quantisation .* is not \(1/256, -128\)"):
        import_tflite(tb.activation_model(0, "LOGISTIC", (0.05, 0), (1.0 / 128.0, -128)))
    with pytest.raises(LinRepError, match=r"op 0 TANH: int8 tanh output quantisation .* is not \(1/128, 0\)"):
        import_tflite(tb.activation_model(0, "TANH", (0.05, 0), (1.0 / 256.0, -128)))


class _ActNet(nn.Module):
    """conv → pool → act → conv → pool → act → linear: each activation a standalone op."""

    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.act = act
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(nn.functional.max_pool2d(self.c1(x), 3, 1, 1))  # after a pool: not fused into the conv
        y = self.act(nn.functional.max_pool2d(self.c2(y), 2))
        return self.fc(y.flatten(1))


def _prelu(c: int) -> nn.PReLU:
    p = nn.PReLU(c)
    with torch.no_grad():
        p.weight.uniform_(-0.3, 0.6)  # per-channel slopes, some negative
    return p


PACKED = {"SIGMOID": nn.Sigmoid, "HARDSWISH": nn.Hardswish, "TANH": nn.Tanh, "RELU": nn.ReLU, "RELU6": nn.ReLU6,
          "CLAMP": lambda: nn.Hardtanh(-0.4, 0.9), "LEAKY_RELU": lambda: nn.LeakyReLU(0.1),
          "PRELU": lambda: _prelu(8), "SILU": nn.SiLU, "HARDSIGMOID": nn.Hardsigmoid,
          "UNARY-gelu": nn.GELU, "UNARY-mish": nn.Mish, "UNARY-softplus": lambda: nn.Softplus(2.0, 3.0),
          "UNARY-selu": nn.SELU}  # UNARY: one op type, its function in `mode`


@pytest.mark.parametrize("kind", sorted(PACKED))
def test_packed_int8_model_runs_in_c_as_in_python(kind: str, tmp_path: Path) -> None:
    """An fp32 model with the activation, packed with activations int8: the blob holds the op; C == the Python
    integer reference on every output byte; the dequantised output is close to the fp32 model's."""
    from linrep_edge.pipeline import PackSettings, pack_model

    torch.manual_seed(3)
    net = _ActNet(PACKED[kind]()).eval()
    calib = torch.randn(200, 2, 8, 8)
    np.save(tmp_path / "calib.npy", calib.numpy())
    res = pack_model(net, torch.zeros(1, 2, 8, 8), PackSettings(templates=4, activations="int8", ab_bits=8,
                                                               calibration=str(tmp_path / "calib.npy")),
                     "act", show_progress=False)
    g = parse(res.blob).graph
    assert g.is_int8 and sum(op.type == kind.split("-")[0] for op in g.ops) == 2
    x = calib[:64].numpy()
    xq = quantize_input(g, x)
    got_c = CRuntime(res.blob).run_int8(xq)[0].reshape(len(x), -1)
    got_py = np.stack([run_int8(g, xi)[0] for xi in xq])
    assert np.array_equal(got_c, got_py)
    assert np.array_equal(run_int8_batch(g, xq)[0], got_py)
    out = g.tensors[g.output]
    y = (got_py.astype(np.float64) - out.zero_point) * out.scale
    with torch.no_grad():
        ref = res.model.eval()(torch.from_numpy(x)).double().numpy()  # the compressed fp32 model
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert err < 0.05, err  # measured 1.0 … 1.8 % over the ten activations


@pytest.mark.parametrize("kind", sorted(PACKED))
def test_qat_forward_is_the_integer_model(kind: str) -> None:
    """The QAT forward pass (fp32 activation, then the output's fake quantisation) dequantised stays within a
    few output steps of the int8 graph's integer result, and on average far closer than the fp32 graph is."""
    from linrep_edge.graph.capture import capture
    from linrep_edge.graph.executor import GraphModel
    from linrep_edge.integer.qat import QATGraphModel
    from linrep_edge.integer.quantize import calibrate, quantize_graph
    from linrep_edge.method.compress import compress

    torch.manual_seed(4)
    net = _ActNet(PACKED[kind]()).eval()
    cm, _ = compress(net, templates=4, seed=0, show_progress=False)
    g = capture(cm, torch.zeros(1, 2, 8, 8))
    calib = torch.randn(200, 2, 8, 8).numpy()
    ranges = calibrate(g, calib)
    qat = QATGraphModel(g, ranges, 6).eval()
    gi = quantize_graph(g, calib, ab_bits=6, ranges=ranges)
    assert sum(op.type == kind.split("-")[0] for op in gi.ops) == 2
    x = calib[:64]
    out = gi.tensors[gi.output]
    y_int = (run_int8_batch(gi, quantize_input(gi, x))[0].astype(np.float64) - out.zero_point) * out.scale
    with torch.no_grad():
        y_qat = qat(torch.from_numpy(x)).double().numpy()
        y_fp = GraphModel(g).eval()(torch.from_numpy(x)).double().numpy()
    err_qat, err_fp = np.abs(y_qat - y_int), np.abs(y_fp - y_int)
    assert err_qat.max() <= 4 * out.scale, (err_qat.max(), out.scale)
    assert err_qat.mean() < 0.5 * err_fp.mean(), (err_qat.mean(), err_fp.mean())


def test_mtcnn_pnet_packs_as_int8(tmp_path: Path) -> None:
    """MTCNN's P-Net (tests/zoo.py: three PReLUs, a per-pixel softmax head and a box head), refused as int8 before
    PRELU had an int8 form, packs with activations int8: C == the Python reference on both heads, every byte,
    and the heads stay within 5 % of the compressed fp32 model."""
    from zoo import PNet

    from linrep_edge.pipeline import PackSettings, pack_model

    torch.manual_seed(0)
    calib = torch.rand(300, 3, 12, 12) * 2 - 1
    np.save(tmp_path / "calib.npy", calib.numpy())
    res = pack_model(PNet().eval(), torch.zeros(1, 3, 12, 12), PackSettings(
        templates=16, activations="int8", ab_bits=8, calibration=str(tmp_path / "calib.npy")), "pnet",
        show_progress=False)
    g = parse(res.blob).graph
    assert [op.type for op in g.ops].count("PRELU") == 3 and len(g.results) == 2
    x = calib[:50].numpy()
    xq = quantize_input(g, x)
    got_c = CRuntime(res.blob).run_int8(xq)
    with torch.no_grad():
        ref = res.model.eval()(torch.from_numpy(x))
    for k, t in enumerate(g.results):
        py = np.stack([run_int8(g, xi)[k] for xi in xq])
        assert np.array_equal(got_c[k].reshape(py.shape), py)
        q = g.tensors[t]
        y = (py.astype(np.float64) - q.zero_point) * q.scale
        r = ref[k].double().numpy().reshape(y.shape)
        assert np.abs(y - r).max() < 0.05 * np.abs(r).max()


def test_joined_fixed_outputs_that_differ_are_refused() -> None:
    """A SIGMOID (1/256, -128) and a TANH (1/128, 0) output concatenated cannot share one quantisation: refused
    by name, not packed into a blob the verifier would refuse."""
    from linrep_edge.format.ir import Graph, Op, Tensor
    from linrep_edge.integer.quantize import quantize_graph

    g = Graph([Tensor((2, 3, 3)), Tensor((2, 3, 3)), Tensor((2, 3, 3)), Tensor((4, 3, 3))], 0, 3, [
        Op("SIGMOID", "sig", [0], 1), Op("TANH", "th", [0], 2), Op("CONCAT", "cat", [1, 2], 3)])
    with pytest.raises(LinRepError, match=r"no int8 form for: sig \(SIGMOID\) and th \(TANH\) outputs joined"):
        quantize_graph(g, np.random.default_rng(0).standard_normal((20, 2, 3, 3)).astype(np.float32))
