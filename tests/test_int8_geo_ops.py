"""int8 MUL (equal shapes, broadcast over channels, and by one value per pixel: format version 8), ADD by a
per-channel gate, SUB (equal shapes and by one value per channel; format version 7), RESIZE (nearest; bilinear half
pixel and align corners), TRANSPOSE_CONV and DEPTH_TO_SPACE / SPACE_TO_DEPTH (PIXEL_SHUFFLE, version 8) from small
`.tflite` files: the Python integer reference (`run_int8`) and the C runtime (`lr_run_i8`) equal TFLite Micro byte
for byte on random int8 inputs over the whole range, several scales and zero points. Needs the peers extra
(tflite_micro)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
import pytest
from needs import need

from linrep_edge.bench import peers
from linrep_edge.errors import LinRepError
from linrep_edge.format.writer import pack_graph
from linrep_edge.integer.executor import run_int8
from linrep_edge.models.tflite_import import import_tflite, import_tflite_mapped
from linrep_edge.runtime.binding import CRuntime

HAVE_TFLM = importlib.util.find_spec("tflite_micro") is not None
N_INPUTS = 40


def _cases() -> list[tuple[str, str, Callable[[], bytes]]]:
    import tflite_build as tb  # numpy only at import; the builder needs tflite_micro when called

    return [
        ("mul", "MUL", lambda: tb.mul_model(1, broadcast=False, act=0)),
        ("mul relu", "MUL", lambda: tb.mul_model(2, broadcast=False, act=1, out_scale=0.004)),
        ("mul relu6 coarse", "MUL", lambda: tb.mul_model(3, broadcast=False, act=3, out_scale=0.05)),
        ("mul by channel (SE gate)", "MUL", lambda: tb.mul_model(4, broadcast=True, act=0)),
        ("mul by channel relu", "MUL", lambda: tb.mul_model(5, broadcast=True, act=1, out_scale=0.01)),
        ("mul gate first", "MUL", lambda: tb.mul_model(17, broadcast=True, act=0, gate_first=True)),
        ("mul by pixel (CBAM gate)", "MUL", lambda: tb.mul_model(27, broadcast=True, act=0, pixel=True)),
        ("mul by pixel relu, gate first", "MUL", lambda: tb.mul_model(28, broadcast=True, act=1, out_scale=0.01,
                                                                      pixel=True, gate_first=True)),
        ("add by channel (SE gate)", "ADD", lambda: tb.add_broadcast_model(18, act=0)),
        ("add by channel relu", "ADD", lambda: tb.add_broadcast_model(19, act=1)),
        ("add gate first relu6", "ADD", lambda: tb.add_broadcast_model(20, act=3, gate_first=True)),
        ("add gate first", "ADD", lambda: tb.add_broadcast_model(21, act=0, gate_first=True)),
        ("sub", "SUB", lambda: tb.add_model(22, act=0, code="SUB")),
        ("sub relu", "SUB", lambda: tb.add_model(23, act=1, code="SUB")),
        ("sub relu6", "SUB", lambda: tb.add_model(24, act=3, code="SUB")),
        ("sub by channel (mean removed)", "SUB", lambda: tb.add_broadcast_model(25, act=0, code="SUB")),
        ("sub by channel relu", "SUB", lambda: tb.add_broadcast_model(26, act=1, code="SUB")),
        ("nearest x2 x3", "RESIZE", lambda: tb.resize_model(6, "RESIZE_NEAREST_NEIGHBOR", (8, 15))),
        ("nearest x1 x2", "RESIZE", lambda: tb.resize_model(7, "RESIZE_NEAREST_NEIGHBOR", (4, 10))),
        ("nearest to 7 x 13 (any size)", "RESIZE", lambda: tb.resize_model(31, "RESIZE_NEAREST_NEIGHBOR", (7, 13))),
        ("nearest down to 3 x 2", "RESIZE", lambda: tb.resize_model(32, "RESIZE_NEAREST_NEIGHBOR", (3, 2))),
        ("nearest half pixel x2 x3 (litert-torch's)", "RESIZE",
         lambda: tb.resize_model(34, "RESIZE_NEAREST_NEIGHBOR", (8, 15), half_pixel=True)),
        ("nearest half pixel x4 x1", "RESIZE",
         lambda: tb.resize_model(35, "RESIZE_NEAREST_NEIGHBOR", (16, 5), half_pixel=True)),
        ("bilinear half pixel x2", "RESIZE", lambda: tb.resize_model(8, "RESIZE_BILINEAR", (8, 10), half_pixel=True)),
        ("bilinear half pixel 9x7", "RESIZE", lambda: tb.resize_model(9, "RESIZE_BILINEAR", (9, 7), half_pixel=True)),
        ("bilinear half pixel down 3x2", "RESIZE",
         lambda: tb.resize_model(10, "RESIZE_BILINEAR", (3, 2), half_pixel=True)),
        ("bilinear align corners 7x13", "RESIZE",
         lambda: tb.resize_model(11, "RESIZE_BILINEAR", (7, 13), align_corners=True)),
        ("bilinear align corners 1x1", "RESIZE",
         lambda: tb.resize_model(12, "RESIZE_BILINEAR", (1, 1), align_corners=True)),
        ("transpose conv same k4 s2", "CONV_TRANSPOSE2D", lambda: tb.transpose_conv_model(13, 0, 2, 4, act=0)),
        ("transpose conv same k3 s1 relu", "CONV_TRANSPOSE2D",
         lambda: tb.transpose_conv_model(14, 0, 1, 3, act=1)),
        ("transpose conv valid k3 s2 no bias", "CONV_TRANSPOSE2D",
         lambda: tb.transpose_conv_model(15, 1, 2, 3, act=0, bias=False)),
        ("transpose conv valid k2 s2 per-tensor relu6", "CONV_TRANSPOSE2D",
         lambda: tb.transpose_conv_model(16, 1, 2, 2, act=3, per_channel=False)),
        ("depth to space r2", "PIXEL_SHUFFLE", lambda: tb.depth_space_model(29, "DEPTH_TO_SPACE", 2)),
        ("space to depth r3", "PIXEL_SHUFFLE", lambda: tb.depth_space_model(30, "SPACE_TO_DEPTH", 3)),
    ]


CASES = _cases()


@pytest.mark.parametrize("case", range(len(CASES)), ids=[name.replace(" ", "-") for name, _, _ in CASES])
def test_geo_op_equals_tflite_micro(case: int) -> None:
    """Python reference and C runtime equal TFLite Micro on every output byte (and every tensor) of N_INPUTS
    random int8 inputs; the outputs spread over many values (not a saturated constant)."""
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    from linrep_edge.integer.oracle import TflmRunner

    name, op_type, build = CASES[case]
    model = build()
    imp = import_tflite_mapped(model)
    g = imp.graph
    assert g.is_int8 and op_type in [op.type for op in g.ops], name
    xs = np.random.default_rng(100 + case).integers(-128, 128, (N_INPUTS, *g.tensors[g.input].shape)).astype(np.int8)
    xs[0], xs[1] = -128, 127  # the ends of the range
    tflm = TflmRunner(model, imp, all_tensors=True)
    got_c = CRuntime(pack_graph(g)).run_int8(xs)[0].reshape(N_INPUTS, -1)
    outs = []
    for k, x in enumerate(xs):
        theirs = tflm(x)[0]
        ours = run_int8(g, x, trace=True)
        assert np.array_equal(ours[g.output], theirs), f"{name}: input {k}: Python differs from TFLite Micro"
        for t, v in tflm.tensors().items():
            assert np.array_equal(ours[t], v), f"{name}: input {k}: tensor {t} differs"
        assert np.array_equal(got_c[k], theirs.reshape(-1)), f"{name}: input {k}: C differs from TFLite Micro"
        outs.append(theirs)
    assert len(np.unique(np.stack(outs))) > 20, f"{name}: outputs barely vary"


def test_unrepresentable_geometry_is_refused() -> None:
    """Nearest with half pixel centers to a size that is not a whole multiple, bilinear with neither flag, and a transposed conv whose TFLite padding has
    no torch equivalent (SAME, kernel 3, stride 2: TFLite crops the last row) are refused by name."""
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    import tflite_build as tb

    with pytest.raises(LinRepError, match="op 0 RESIZE_NEAREST_NEIGHBOR: nearest resize"):
        import_tflite(tb.resize_model(1, "RESIZE_NEAREST_NEIGHBOR", (7, 10), half_pixel=True))
    with pytest.raises(LinRepError, match="op 0 RESIZE_BILINEAR: bilinear resize with align_corners=False"):
        import_tflite(tb.resize_model(1, "RESIZE_BILINEAR", (8, 10)))
    with pytest.raises(LinRepError, match="op 0 TRANSPOSE_CONV: transposed conv of 5 to 10"):
        import_tflite(tb.transpose_conv_model(1, 0, 2, 3, act=0))
    # 255 * 255 * 2^16 >= 2^31: a MUL whose output scale asks for a left shift over 15 would overflow int32
    with pytest.raises(LinRepError, match=r"op 1 MUL: output scale .* \(left shift 1[6-9] > 15"):
        import_tflite(tb.mul_model(1, broadcast=True, act=0, out_scale=2e-8))


def _as_affine(g):  # type: ignore[no-untyped-def]
    """The imported depthwise 1×1 CONV2D as an AFFINE op: the same integers, the weight as one value per channel."""
    import copy

    from linrep_edge.format.ir import Constant

    a = copy.deepcopy(g)
    (op,) = a.ops
    c = a.constants[op.weight]
    assert op.type == "CONV2D" and op.groups == c.q.shape[0] and c.q.shape[1:] == (1, 1, 1)
    a.constants[op.weight] = Constant(c.values.reshape(-1), "int8", c.q.reshape(-1), c.scale)
    op.type, op.groups, op.kernel, op.out_channels = "AFFINE", 1, (1, 1), 0
    return a


@pytest.mark.parametrize("seed,act,bias", [(21, 0, True), (22, 1, True), (23, 3, False)])
def test_affine_equals_tflite_micro_depthwise_1x1(seed: int, act: int, bias: bool) -> None:
    """AFFINE's arithmetic is TFLite's depthwise 1×1 conv (docs/INTEGER.md §2): an AFFINE op holding the
    integers of an imported DEPTHWISE_CONV_2D 1×1 gives TFLite Micro's bytes in Python and in C."""
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    import tflite_build as tb
    from linrep_edge.integer.oracle import TflmRunner

    model = tb.depthwise_1x1_model(seed, act, bias)
    imp = import_tflite_mapped(model)
    g = _as_affine(imp.graph)
    xs = np.random.default_rng(seed).integers(-128, 128, (N_INPUTS, *g.tensors[g.input].shape)).astype(np.int8)
    tflm = TflmRunner(model, imp)
    want = np.stack([tflm(x)[0] for x in xs])
    ours = np.stack([run_int8(g, x)[0] for x in xs])
    got_c = CRuntime(pack_graph(g)).run_int8(xs)[0].reshape(want.shape)
    assert np.array_equal(ours, want) and np.array_equal(got_c, want)
    assert len(np.unique(want)) > 20


def _float_model(kind: str) -> bytes:
    """A float32 .tflite of one op (built with TFLite Micro's model_editor): CBAM's spatial attention (MEAN and
    REDUCE_MAX over the channels, CONCATENATION, CONV_2D, LOGISTIC, MUL by the gate per pixel), MUL by a per-channel gate (MEAN),
    RESIZE_BILINEAR half pixel, RESIZE_NEAREST_NEIGHBOR, TRANSPOSE_CONV SAME k4 s2 with bias."""
    import tflite_build as tb

    b = tb.Int8Builder(5)
    f32 = b.tfl.TensorType.FLOAT32

    def t(shape: tuple[int, ...], data: np.ndarray | None = None):  # type: ignore[no-untyped-def]
        x = b.me.Tensor(shape=shape, dtype=f32, data=data)
        b.sg.tensors.append(x)
        return x

    x = t((1, 4, 5, 3))
    if kind == "cbam":  # CBAM's spatial attention: the channels' mean and max, a 3x3 conv, a gate per pixel
        mean, top, both = t((1, 4, 5, 1)), t((1, 4, 5, 1)), t((1, 4, 5, 2))
        conv, gate, y = t((1, 4, 5, 1)), t((1, 4, 5, 1)), t((1, 4, 5, 3))
        b.op("MEAN", [x, b.int32_const(np.array([3]))], [mean], "ReducerOptions", keepDims=True)
        b.op("REDUCE_MAX", [x, b.int32_const(np.array([-1]))], [top], "ReducerOptions", keepDims=True)
        b.op("CONCATENATION", [mean, top], [both], "ConcatenationOptions", axis=3)
        w = t((1, 3, 3, 2), b.rng.standard_normal((1, 3, 3, 2)).astype(np.float32))
        b.op("CONV_2D", [both, w, t((1,), np.zeros(1, np.float32))], [conv], "Conv2DOptions", padding=0, strideW=1,
             strideH=1)
        b.op("LOGISTIC", [conv], [gate])
        b.op("MUL", [x, gate], [y], "MulOptions")
    elif kind == "mul":
        g, y = t((1, 1, 1, 3)), t((1, 4, 5, 3))
        b.op("MEAN", [x, b.int32_const(np.array([1, 2]))], [g], "ReducerOptions", keepDims=True)
        b.op("MUL", [x, g], [y], "MulOptions", fusedActivationFunction=1)
    elif kind == "bilinear":
        y = t((1, 7, 9, 3))
        b.op("RESIZE_BILINEAR", [x, b.int32_const(np.array([7, 9]))], [y], "ResizeBilinearOptions",
             alignCorners=False, halfPixelCenters=True)
    elif kind == "nearest":
        y = t((1, 8, 15, 3))
        b.op("RESIZE_NEAREST_NEIGHBOR", [x, b.int32_const(np.array([8, 15]))], [y], "ResizeNearestNeighborOptions",
             alignCorners=False, halfPixelCenters=False)
    else:
        y = t((1, 8, 10, 2))
        w = t((2, 4, 4, 3), b.rng.standard_normal((2, 4, 4, 3)).astype(np.float32))
        bias = t((2,), b.rng.standard_normal(2).astype(np.float32))
        b.op("TRANSPOSE_CONV", [b.int32_const(np.array([1, 8, 10, 2])), w, x, bias], [y], "TransposeConvOptions",
             padding=0, strideW=2, strideH=2)
    return b.build([x], [y])


@pytest.mark.parametrize("kind", ["mul", "bilinear", "nearest", "transpose_conv", "cbam"])
def test_float_geo_ops_import_as_tflite_micro_runs_them(kind: str) -> None:
    """The same importer on float32 files: the fp32 graph (GraphModel, torch) and the C runtime match TFLite Micro
    within 1e-5."""
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    import torch
    from tflite_micro.python.tflite_micro import runtime

    from linrep_edge.graph.executor import GraphModel

    model = _float_model(kind)
    g = import_tflite(model)
    assert not g.is_int8
    xs = np.random.default_rng(0).standard_normal((5, *g.tensors[g.input].shape)).astype(np.float32)
    with peers.quiet_fds():
        ip = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    with torch.no_grad():
        ours = GraphModel(g).eval()(torch.from_numpy(xs)).numpy()
    got_c = CRuntime(pack_graph(g)).run(xs).reshape(ours.shape)
    for x, y, c in zip(xs, ours, got_c):
        ip.set_input(x.transpose(1, 2, 0)[None], 0)
        ip.invoke()
        want = ip.get_output(0)[0].transpose(2, 0, 1)
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5)


def _all_bytes_inputs(shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    """n int8 inputs of `shape` (256 values), the first holding every byte once, the others permutations."""
    every = np.arange(-128, 128, dtype=np.int8).reshape(shape)
    rng = np.random.default_rng(seed)
    return np.stack([every] + [rng.permutation(every.reshape(-1)).reshape(shape) for _ in range(n - 1)])


@pytest.mark.parametrize("per_channel,act,zp_c,first", [(False, 0, -128, False), (False, 1, 127, True),
                                                         (False, 3, 0, False), (True, 0, 0, False),
                                                         (True, 1, -20, True)])
def test_mul_by_a_constant_equals_tflite_micro(per_channel: bool, act: int, zp_c: int, first: bool) -> None:
    """MUL by an int8 constant (litert-torch's `x * 0.25`, hardsigmoid's `/ 6`, as ai-edge-quantizer quantises
    it): one value → UNARY's scale (format version 9) whose table is TFLite's MUL on every byte; one per channel →
    AFFINE; in Python and in C equal to TFLite Micro on every byte, every input byte through it."""
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    import tflite_build as tb
    from linrep_edge.format.reader import parse
    from linrep_edge.integer.oracle import TflmRunner

    model = tb.mul_constant_model(41, per_channel, act, zp_c, first)
    imp = import_tflite_mapped(model)
    g = imp.graph
    assert [op.type for op in g.ops] == ["AFFINE" if per_channel else "UNARY"]
    blob = pack_graph(g)
    assert parse(blob).format_version == (4 if per_channel else 9)
    xs = _all_bytes_inputs(g.tensors[g.input].shape, 6, 41)
    tflm = TflmRunner(model, imp)
    want = np.stack([tflm(x)[0] for x in xs])
    assert np.array_equal(np.stack([run_int8(g, x)[0] for x in xs]), want)
    assert np.array_equal(CRuntime(blob).run_int8(xs)[0].reshape(want.shape), want)
    assert len(np.unique(want)) > 20


@pytest.mark.parametrize("out_q", [(0.05, -9), (0.031, 17), (0.5, 0), (0.0123, -128)])
def test_requantize_equals_tflite_micro(out_q: tuple[float, int]) -> None:
    """QUANTIZE from int8 to int8 inside the graph: TFLite Micro's Requantize as UNARY's scale (alpha 1) table, or
    nothing when the quantisation stays; every input byte, equal in Python and in C."""
    need(HAVE_TFLM, "the peers extra (tflite_micro)", peers.INSTALL_HINT)
    import tflite_build as tb
    from linrep_edge.integer.oracle import TflmRunner

    model = tb.requantize_model(42, out_q)
    imp = import_tflite_mapped(model)
    g = imp.graph
    same = out_q == (0.05, -9)
    assert [op.type for op in g.ops] == ([] if same else ["UNARY"]) + ["AVG_POOL2D"]
    xs = _all_bytes_inputs(g.tensors[g.input].shape, 3, 42)
    tflm = TflmRunner(model, imp)
    want = np.stack([tflm(x)[0] for x in xs])
    assert np.array_equal(np.stack([run_int8(g, x)[0] for x in xs]), want)
    assert np.array_equal(CRuntime(pack_graph(g)).run_int8(xs)[0].reshape(want.shape), want)
