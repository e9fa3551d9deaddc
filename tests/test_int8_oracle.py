"""The Python integer reference (`run_int8` on graphs from `import_tflite`) equals TFLite Micro byte for
byte: on the three MLPerf Tiny int8 models (every output byte and every intermediate tensor, random int8
inputs) and on small one-op models built for each op's corner cases. The fp32 MLPerf Tiny files imported
and run by `GraphModel` match LiteRT. Needs the peers extra (TFLite Micro, LiteRT) and the MLPerf Tiny
files in ../shared/mlperf-tiny (see its README)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from needs import mlperf_model, need

from linrep_edge.bench import peers
from linrep_edge.errors import LinRepError
from linrep_edge.format.reader import parse
from linrep_edge.integer.executor import run_int8
from linrep_edge.models.tflite_import import import_tflite, import_tflite_mapped

HAVE_PEERS = all(importlib.util.find_spec(m) is not None for m in ("tflite_micro", "ai_edge_litert"))
INT8_MODELS = ["pretrainedResnet_quant", "kws_ref_model", "vww_96_int8"]
FP32_MODELS = ["pretrainedResnet", "kws_ref_model_float32", "vww_96_float"]


def _need_peers() -> None:
    need(HAVE_PEERS, "the peers extra (tflite_micro, ai_edge_litert)", peers.INSTALL_HINT)


def _mlperf(name: str) -> Path:
    return mlperf_model(name)


def _random_inputs(shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (n, *shape)).astype(np.int8)


def _check_against_tflm(model: Path | bytes, n: int, seed: int) -> int:
    """Every output byte and every tensor of n random inputs equal in run_int8 and TFLite Micro; returns
    the number of bytes compared."""
    from linrep_edge.integer.oracle import TflmRunner

    imp = import_tflite_mapped(model)
    g = imp.graph
    assert g.is_int8
    tflm = TflmRunner(model, imp, all_tensors=True)
    compared = 0
    for k, x in enumerate(_random_inputs(g.tensors[g.input].shape, n, seed)):
        ours = run_int8(g, x, trace=True)
        theirs = tflm(x)
        for t, y in zip(g.results, theirs):
            assert ours[t].dtype == np.int8 and np.array_equal(ours[t], y), f"input {k}: output tensor {t} differs"
        for t, y in tflm.tensors().items():
            assert np.array_equal(ours[t], y), f"input {k}: tensor {t} ({g.tensors[t].name}) differs"
            compared += y.size
    return compared


@pytest.mark.parametrize("name", INT8_MODELS)
def test_mlperf_int8_equals_tflite_micro(name):
    _need_peers()
    path = _mlperf(name)
    assert _check_against_tflm(path, 20, seed=16) > 0


def _tflm_cases() -> list[tuple[str, Callable[[], bytes]]]:
    import tflite_build as tb  # numpy only at import; the builder needs tflite_micro when called

    return [
        ("conv same s2", lambda: tb.conv_model(1, padding=0, stride=2, dilation=1, act=0)),
        ("conv same s1 relu6", lambda: tb.conv_model(2, padding=0, stride=1, dilation=1, act=3, out_scale=0.07)),
        ("conv valid dilation 2 relu", lambda: tb.conv_model(3, padding=1, stride=1, dilation=2, act=1)),
        ("conv same s2 dilation 2", lambda: tb.conv_model(4, padding=0, stride=2, dilation=2, act=2)),
        ("depthwise x1 s2", lambda: tb.depthwise_model(5, multiplier=1, stride=2)),
        ("depthwise x2 s1", lambda: tb.depthwise_model(6, multiplier=2, stride=1)),
        ("add", lambda: tb.add_model(7, act=0)),
        ("add relu", lambda: tb.add_model(8, act=1)),
        ("avg pool same 3 s2", lambda: tb.pool_model(9, "AVERAGE_POOL_2D", padding=0, k=3, stride=2)),
        ("avg pool valid 2 s1", lambda: tb.pool_model(10, "AVERAGE_POOL_2D", padding=1, k=2, stride=1)),
        ("max pool same 3 s2", lambda: tb.pool_model(11, "MAX_POOL_2D", padding=0, k=3, stride=2)),
        ("flatten fc softmax 0.6", lambda: tb.flatten_fc_softmax_model(12, logit_scale=0.6, beta=1.0)),
        ("flatten fc softmax 1.0 beta 0.5", lambda: tb.flatten_fc_softmax_model(13, logit_scale=1.0, beta=0.5)),
        ("flatten fc softmax 1.5", lambda: tb.flatten_fc_softmax_model(14, logit_scale=1.5, beta=1.0)),
        ("softmax over channels", lambda: tb.softmax_model(15, scale=0.08, flatten=False)),
        ("softmax of a flatten (transpose_hwc)", lambda: tb.softmax_model(16, scale=0.5, flatten=True)),
        ("concat pad max pool", lambda: tb.concat_pad_model(17)),
        ("fc per-channel relu", lambda: tb.fc_per_channel_model(18)),
        ("grouped conv", lambda: tb.grouped_conv_model(19)),
        ("mean requantising", lambda: tb.mean_model(20, keep_dims=False, same_quant=False)),
        ("mean requantising keep_dims", lambda: tb.mean_model(21, keep_dims=True, same_quant=False)),
        ("mean input and output quantised alike", lambda: tb.mean_model(22, keep_dims=False, same_quant=True)),
        ("mean alike keep_dims negative axes", lambda: tb.mean_model(23, True, True, axes=(-3, -2))),
        ("mean over the channels requantising", lambda: tb.mean_model(26, True, False, axes=(3,))),
        ("mean over the channels alike", lambda: tb.mean_model(27, True, True, axes=(-1,))),
        ("reduce max over the channels", lambda: tb.mean_model(28, True, True, axes=(3,), code="REDUCE_MAX")),
        ("reduce max over h w", lambda: tb.mean_model(29, False, True, code="REDUCE_MAX")),
        ("reduce max over h w keep_dims", lambda: tb.mean_model(30, True, True, code="REDUCE_MAX")),
        ("nchw input transpose conv mean fc", lambda: tb.nchw_input_model(24, transpose=True)),
        ("nchw input reshape conv mean fc", lambda: tb.nchw_input_model(25, transpose=False)),
    ]


CASES = _tflm_cases()


@pytest.mark.parametrize("case", range(len(CASES)), ids=[name.replace(" ", "-") for name, _ in CASES])
def test_op_equals_tflite_micro(case):
    """One small int8 model per corner case: every tensor of 30 random inputs equal to TFLite Micro's."""
    _need_peers()
    name, build = CASES[case]
    assert _check_against_tflm(build(), 30, seed=case) > 0, name


def test_softmax_outputs_are_not_all_saturated():
    """The softmax cases above exercise the exp / reciprocal arithmetic, not only the clamp."""
    _need_peers()
    import tflite_build as tb

    for model in (tb.softmax_model(15, 0.08, False), tb.softmax_model(16, 0.03, True)):
        g = import_tflite(model)
        ys = np.stack([run_int8(g, x)[0] for x in _random_inputs(g.tensors[0].shape, 30, 12)])
        assert len(np.unique(ys)) > 50 and ((ys > -128) & (ys < 127)).mean() > 0.3


# kws_ref_model_float32 is a dynamic-range ("hybrid") file: int8 conv weights, float activations. We
# keep the weights int8 and compute in float with q * scale; LiteRT's hybrid kernels quantize each conv's input to int8 on the fly, which
# moves the outputs by about 1 % (measured: 0.0057 on outputs up to 0.42). The two true fp32 files agree
# to ~1e-6.
FP32_TOLERANCE = {"pretrainedResnet": 1e-4, "kws_ref_model_float32": 3e-2, "vww_96_float": 1e-4}


@pytest.mark.parametrize("name", FP32_MODELS)
def test_mlperf_fp32_matches_litert(name):
    """fp32 files → fp32 graph; GraphModel vs LiteRT within FP32_TOLERANCE of the largest output."""
    _need_peers()
    import torch
    from ai_edge_litert.interpreter import Interpreter

    from linrep_edge.graph.executor import GraphModel

    path = _mlperf(name)
    g = import_tflite(path)
    assert not g.is_int8
    content = path.read_bytes()
    with peers.quiet_fds():
        it = Interpreter(model_content=content, num_threads=1)
        it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    x = np.random.default_rng(0).standard_normal((8, *g.tensors[g.input].shape)).astype(np.float32)
    with torch.no_grad():
        ours = GraphModel(g).eval()(torch.from_numpy(x)).numpy()
    ref = []
    for xi in x:
        it.set_tensor(i, xi.transpose(1, 2, 0)[None])
        it.invoke()
        ref.append(it.get_tensor(o).reshape(-1))
    ref_a = np.stack(ref)
    assert np.abs(ours - ref_a).max() <= FP32_TOLERANCE[name] * np.abs(ref_a).max()


def test_unsupported_ops_are_listed_at_once():
    _need_peers()
    import tflite_build as tb

    b = tb.Int8Builder(0)
    x, y, z = b.act((1, 4, 4, 3)), b.act((1, 4, 4, 3), 0.05, 0), b.act((1, 4, 4, 3), 0.05, 0)
    b.op("EXP", [x], [y])
    b.op("LOG", [y], [z])
    with pytest.raises(LinRepError) as exc:
        import_tflite(b.build([x], [z]))
    msg = str(exc.value)
    assert "op 0 EXP: unsupported operator" in msg and "op 1 LOG: unsupported operator" in msg




def test_float_ends_are_dropped():
    """QUANTIZE after the input and DEQUANTIZE before the output: the int8 graph takes and gives int8 with
    the quantisation TFLite Micro applies at the ends."""
    _need_peers()
    import tflite_build as tb
    from tflite_micro.python.tflite_micro import runtime

    model = tb.float_io_model(3)
    g = import_tflite(model)
    assert g.is_int8 and [op.type for op in g.ops] == ["AVG_POOL2D"]
    tin, tout = g.tensors[g.input], g.tensors[g.output]
    assert (tin.scale, tin.zero_point) == (np.float32(0.05), -3)
    with peers.quiet_fds():
        ip = runtime.Interpreter.from_bytes(model, arena_size=1 << 16)
    for x in _random_inputs(tin.shape, 10, 3):
        xf = ((x.astype(np.float32) - tin.zero_point) * np.float32(tin.scale)).transpose(1, 2, 0)[None]
        ip.set_input(xf, 0)
        ip.invoke()
        y = run_int8(g, x)[0]
        expected = ((y.astype(np.float32) - tout.zero_point) * np.float32(tout.scale)).transpose(1, 2, 0)[None]
        assert np.array_equal(ip.get_output(0), expected)


def test_mean_and_nchw_input_in_c_equal_tflite_micro():
    """The C runtime (lr_run_i8) on the imported MEAN (quantised apart and alike; over H, W and over the channels),
    REDUCE_MAX and NCHW-input models equals TFLite Micro on every output byte; the NCHW input is the file's input
    as declared ([C, H, W])."""
    _need_peers()
    import tflite_build as tb

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.oracle import TflmRunner
    from linrep_edge.runtime.binding import CRuntime

    for model in (tb.mean_model(20, False, False), tb.mean_model(22, True, True), tb.nchw_input_model(24, True),
                  tb.nchw_input_model(25, False), tb.mean_model(26, True, False, axes=(3,)),
                  tb.mean_model(27, True, True, axes=(-1,)), tb.mean_model(28, True, True, axes=(3,), code="REDUCE_MAX"),
                  tb.mean_model(29, False, True, code="REDUCE_MAX")):
        imp = import_tflite_mapped(model)
        g = imp.graph
        if imp.input_layout == "NCHW":
            assert g.tensors[g.input].shape[1:] == (6, 7) and g.ops[0].type == "CONV2D"
        assert any(op.type in ("ADAPTIVE_AVG_POOL2D", "MAX_POOL2D") for op in g.ops)
        xs = _random_inputs(g.tensors[g.input].shape, 40, 5)
        blob = pack_graph(g)
        channel_mean = any(op.type == "ADAPTIVE_AVG_POOL2D" and op.kernel != (1, 1) for op in g.ops)
        assert parse(blob).format_version == (9 if channel_mean else 4)  # only the mean over channels needs 9
        got = CRuntime(blob).run_int8(xs)[0].reshape(len(xs), -1)
        tflm = TflmRunner(model, imp)
        want = np.stack([tflm(x)[0].reshape(-1) for x in xs])
        assert np.array_equal(got, want) and len(np.unique(want)) > 10


def test_layout_and_mean_refusals():
    """A TRANSPOSE that is not the input's layout change, a MEAN over H and C, a MEAN over the channels that drops
    the dimension, a REDUCE_MAX that rescales, a PADV2 by a value a max pool would see and int16 activations are
    refused by name."""
    _need_peers()
    import tflite_build as tb

    b = tb.Int8Builder(0)
    x, t = b.act((1, 4, 5, 3), 0.05, 0), b.act((1, 4, 3, 5), 0.05, 0)
    p = b.act((1, 4, 3, 5), 0.05, 0)
    b.op("AVERAGE_POOL_2D", [x], [p], "Pool2DOptions", padding=0, strideW=1, strideH=1, filterWidth=1, filterHeight=1)
    b.op("TRANSPOSE", [p, b.int32_const(np.array([0, 1, 3, 2]))], [t])
    with pytest.raises(LinRepError, match="op 1 TRANSPOSE: a TRANSPOSE other than the model input"):
        import_tflite(b.build([x], [t]))
    with pytest.raises(LinRepError, match=r"op 0 MEAN: MEAN over axes \[1, 3\]"):
        import_tflite(tb.mean_model(1, keep_dims=True, same_quant=False, axes=(1, 3)))
    with pytest.raises(LinRepError, match=r"op 0 MEAN: MEAN over the channels to \[1, 7, 5\] \(only keep_dims"):
        import_tflite(tb.mean_model(1, keep_dims=False, same_quant=False, axes=(3,)))
    with pytest.raises(LinRepError, match=r"op 0 REDUCE_MAX: input scale/zero point"):
        import_tflite(tb.mean_model(1, keep_dims=True, same_quant=False, axes=(3,), code="REDUCE_MAX"))
    b = tb.Int8Builder(0)  # PADV2 by a value a max does not ignore
    x, p, y = b.act((1, 6, 6, 2), 0.05, 0), b.act((1, 8, 8, 2), 0.05, 0), b.act((1, 3, 3, 2), 0.05, 0)
    value = b.me.Tensor(shape=(), dtype=b.tfl.TensorType.INT8, data=np.array(0, np.int8),
                        quantization=b.me.Quantization(scales=0.05, zero_points=0))
    b.sg.tensors.append(value)
    b.op("PADV2", [x, b.int32_const(np.array([[0, 0], [1, 1], [1, 1], [0, 0]])), value], [p])
    b.op("MAX_POOL_2D", [p], [y], "Pool2DOptions", padding=1, strideW=2, strideH=2, filterWidth=3, filterHeight=3)
    with pytest.raises(LinRepError, match=r"op 0 PADV2: PADV2 other than by the lowest value"):
        import_tflite(b.build([x], [y]))
    b = tb.Int8Builder(0)  # int16 activations (16x8): refused by name, not as "INT16 in a float model"
    i16 = [b.me.Tensor(shape=(1, 4, 4, 2), dtype=b.tfl.TensorType.INT16,
                       quantization=b.me.Quantization(scales=0.001, zero_points=0)) for _ in range(2)]
    b.sg.tensors += i16
    b.op("AVERAGE_POOL_2D", [i16[0]], [i16[1]], "Pool2DOptions", padding=1, strideW=1, strideH=1, filterWidth=1,
         filterHeight=1)
    with pytest.raises(LinRepError, match="int16 activations .*static_wi8_ai8"):
        import_tflite(b.build([i16[0]], [i16[1]]))


def test_default_model_tflite_equals_tflite_micro():
    """The default model's int8 .tflite as `compare` makes it (litert-torch + ai-edge-quantizer; NCHW input
    behind a RESHAPE, MEAN as the global pool; cached under build/tflite): C runtime = TFLite Micro on every
    output byte of a few random and real inputs (tools/int8_oracle.py --models default: 1,000 of each)."""
    _need_peers()
    need(importlib.util.find_spec("litert_torch") is not None and importlib.util.find_spec("ai_edge_quantizer")
         is not None, "litert-torch and ai-edge-quantizer (the peers extra)", peers.INSTALL_HINT)
    import sys

    from linrep_edge.bench.default_tflite import default_int8_tflite
    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.oracle import TflmRunner
    from linrep_edge.runtime.binding import CRuntime

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from int8_oracle import real_inputs

    path = default_int8_tflite()
    imp = import_tflite_mapped(path)
    g = imp.graph
    assert imp.input_layout == "NCHW" and g.tensors[g.input].shape == (1, 28, 28)
    assert [op.type for op in g.ops][-3:] == ["ADAPTIVE_AVG_POOL2D", "RESHAPE", "LINEAR"]
    xs = np.concatenate([_random_inputs((1, 28, 28), 8, 3), real_inputs(g, 8)])
    got = CRuntime(pack_graph(g)).run_int8(xs)[0].reshape(len(xs), -1)
    tflm = TflmRunner(path, imp)
    assert np.array_equal(got, np.stack([tflm(x)[0].reshape(-1) for x in xs]))



@pytest.mark.parametrize("module", ["tflite_micro", "ai_edge_litert"])
def test_verify_tflite_without_a_peer_package_is_one_error(module: str, monkeypatch, capsys) -> None:
    """`linrep-edge verify X.tflite` on a machine without one of the two engines it compares with: exit 2 and
    one line naming the missing package and the install command (an ImportError traceback before)."""
    from linrep_edge.cli.main import main

    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else find(name, *a))
    code = main(["-q", "verify", str(_mlperf("kws_ref_model")), "--n", "1"])
    err = capsys.readouterr().err
    assert code == 2 and module in err and peers.INSTALL_HINT in err and "Traceback" not in err
    assert "verify on a .tflite" in err and "peers comparison" not in err  # what needs them, not another command


def _spatial_attention() -> tuple[object, object]:
    """A small net with CBAM's spatial attention as a user writes it in torch: the channels' mean and max
    (keepdim), a 7×7 conv, a sigmoid gate per pixel, then `x.mean((2, 3))` and a classifier."""
    import torch
    from torch import nn

    class Spatial(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.sa = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(2, 1, 7, padding=3)
            self.c2, self.fc = nn.Conv2d(8, 8, 3, padding=1), nn.Linear(8, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.c1(x))
            x = x * torch.sigmoid(self.sa(torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)))
            return self.fc(torch.relu(self.c2(x)).mean((2, 3)))

    torch.manual_seed(0)
    return Spatial().eval(), torch.randn(1, 3, 16, 16)


def test_spatial_attention_converted_by_the_peers_tools_imports_and_matches():
    """litert-torch's file of a torch net with CBAM's spatial attention (MEAN and REDUCE_MAX over the channels,
    the head's TRANSPOSE to NCHW and MEAN over [2, 3]) and ai-edge-quantizer's int8 file of it (which leaves
    REDUCE_MAX in float: DEQUANTIZE, REDUCE_MAX, QUANTIZE): fp32 in C within 1e-5 of LiteRT; int8 every tensor of
    the Python reference and every output byte of the C runtime equal to TFLite Micro."""
    _need_peers()
    import torch

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.oracle import TflmRunner
    from linrep_edge.models.tflite_file import read_tflite
    from linrep_edge.runtime.binding import CRuntime
    from ai_edge_litert.interpreter import Interpreter

    model, example = _spatial_attention()
    fp32 = peers.to_tflite(model, example)
    calib = np.random.default_rng(0).standard_normal((32, 3, 16, 16)).astype(np.float32)
    int8 = peers.quantize_int8(fp32, calib)
    types = [op.type for op in read_tflite(int8).ops]
    assert "REDUCE_MAX" in types and types[types.index("REDUCE_MAX") - 1] == "DEQUANTIZE"  # the float island
    assert types.count("TRANSPOSE") == 2  # the input's layout op and the head's NHWC → NCHW

    g = import_tflite(fp32)
    xs = calib[:8]
    it = Interpreter(model_content=fp32, num_threads=1)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    want = []
    for x in xs:
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        want.append(it.get_tensor(out["index"])[0])
    got = CRuntime(pack_graph(g)).run(xs)
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # and the torch original, as converted
        np.testing.assert_allclose(got, model(torch.from_numpy(xs)).numpy(), rtol=1e-4, atol=1e-4)

    assert _check_against_tflm(int8, 20, seed=31) > 0
    imp = import_tflite_mapped(int8)
    q = _random_inputs(imp.graph.tensors[imp.graph.input].shape, 20, 32)
    tflm = TflmRunner(int8, imp)
    want8 = np.stack([tflm(x)[0] for x in q])
    assert np.array_equal(CRuntime(pack_graph(imp.graph)).run_int8(q)[0].reshape(want8.shape), want8)
    assert len(np.unique(want8)) > 10


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("out_q", [(0.05, -9), (0.031, 17), (0.5, 0), (0.0123, -128)])
def test_float_island_requantised_equals_tflite_micro(out_q, channels):
    """DEQUANTIZE → REDUCE_MAX over the channels → QUANTIZE to the same or another quantisation: the max on the
    int8 bytes, then (another quantisation) TFLite Micro's float round trip as a table; inputs holding every byte
    (one channel: every byte through the table), each output equal to TFLite Micro's."""
    _need_peers()
    import tflite_build as tb

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.oracle import TflmRunner
    from linrep_edge.runtime.binding import CRuntime

    b = tb.Int8Builder(33)
    x = b.act((1, 8, 32 // channels, channels), 0.05, -9)
    f32 = b.tfl.TensorType.FLOAT32
    xf, mf = (b.me.Tensor(shape=s, dtype=f32) for s in ((1, 8, 32 // channels, channels), (1, 8, 32 // channels, 1)))
    b.sg.tensors += [xf, mf]
    y = b.act((1, 8, 32 // channels, 1), *out_q)
    b.op("DEQUANTIZE", [x], [xf])
    b.op("REDUCE_MAX", [xf, b.int32_const(np.array([3]))], [mf], "ReducerOptions", keepDims=True)
    b.op("QUANTIZE", [mf], [y])
    model = b.build([x], [y])
    imp = import_tflite_mapped(model)
    kinds = [op.type for op in imp.graph.ops]
    assert kinds == ["RESHAPE", "MAX_POOL2D", "RESHAPE"] + ([] if out_q == (0.05, -9) else ["UNARY"])
    every = np.arange(-128, 128, dtype=np.int8).reshape(channels, 8, 32 // channels)  # [C, H, W]: all 256 bytes
    rng = np.random.default_rng(channels)
    xs = np.stack([every] + [rng.permutation(every.reshape(-1)).reshape(every.shape) for _ in range(7)])
    tflm = TflmRunner(model, imp)
    want = np.stack([tflm(v)[0] for v in xs])
    assert np.array_equal(np.stack([run_int8(imp.graph, v)[0] for v in xs]), want)
    assert np.array_equal(CRuntime(pack_graph(imp.graph)).run_int8(xs)[0].reshape(want.shape), want)


def _c_matches_litert(tflite: bytes, name: str):  # type: ignore[no-untyped-def]
    """A float .tflite imported and run by our C runtime on 3 random inputs: every output within 1e-5 of LiteRT's
    (relative to the largest); returns the graph."""
    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.oracle import LiteRTRefRunner
    from linrep_edge.runtime.binding import CRuntime

    imp = import_tflite_mapped(tflite)
    g = imp.graph
    xs = np.random.default_rng(0).standard_normal((3, *g.tensors[g.input].shape)).astype(np.float32)
    got = CRuntime(pack_graph(g)).run_all(xs)
    litert = LiteRTRefRunner(tflite, imp, reference=False)
    for k, x in enumerate(xs):
        for j, want in enumerate(litert(x)):
            assert np.abs(got[j][k].reshape(want.shape) - want).max() <= 1e-5 * np.abs(want).max(), (name, k, j)
    return g


# zoo nets as users convert them (litert-torch, then ai-edge-quantizer with 16 random calibration inputs), and what
# each brings to the importer: a TRANSPOSE to NCHW at the output, nearest upsampling with half pixel centres and
# int8 → int8 QUANTIZEs before CONCATENATIONs (U-Net); PReLU as MULs by scalar constants and a SUB, constants after
# the flatbuffer (MTCNN ONet); PADV2 by -inf before the stem's max pool (ResNet-18); channel shuffles as TRANSPOSE /
# RESHAPE chains through 5-D tensors and channel SLICEs (ShuffleNetV2); the pixel shuffle as such a chain to an NCHW
# output (ESPCN); a RESHAPE of a 1 × 1 map to NCHW outputs (MTCNN PNet, two outputs); a 1-D net's [1, C, L] input
# behind a RESHAPE to [1, C, 1, L] and a TRANSPOSE (Conv1d, ours [C, 1, L]). (The int8 MobileNetV3 of random
# weights gets output scales TFLite Micro refuses: fp32 only.)
CONVERTED = [("tiny_unet", True), ("mtcnn_onet", True), ("resnet18_imagenet", True), ("mobilenet_v3_small", False),
             ("shufflenet_v2", True), ("espcn_x2", True), ("mtcnn_pnet", True), ("audio_conv1d", True)]


@pytest.mark.parametrize("name,int8", CONVERTED, ids=[n for n, _ in CONVERTED])
def test_zoo_nets_converted_by_the_peers_tools_import_and_match(name, int8):
    """fp32 file: C within 1e-5 of LiteRT (relative to the largest output); int8 file: every tensor of the Python
    reference and every output byte of the C runtime equal to TFLite Micro's (on the file with its constants
    inside the flatbuffer)."""
    _need_peers()
    import tflite_build as tb
    import torch
    import zoo

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.integer.oracle import TflmRunner
    from linrep_edge.runtime.binding import CRuntime

    make, shape = zoo.ZOO[name]
    torch.manual_seed(0)
    fp32 = peers.to_tflite(make().eval(), torch.randn(*shape))
    _c_matches_litert(fp32, name)
    if not int8:
        return
    q = peers.quantize_int8(fp32, np.random.default_rng(1).standard_normal((16, *shape[1:])).astype(np.float32))
    inside = tb.buffers_inside(q)
    assert _check_against_tflm(inside, 3, seed=33) > 0
    imp8 = import_tflite_mapped(q)  # the file as written (constants after the flatbuffer for the larger ones)
    x8 = _random_inputs(imp8.graph.tensors[imp8.graph.input].shape, 3, 34)
    tflm = TflmRunner(inside, imp8)
    want8 = [np.stack(v) for v in zip(*[tflm(x) for x in x8])]
    got8 = CRuntime(pack_graph(imp8.graph)).run_int8(x8)
    for w, c in zip(want8, got8):
        assert np.array_equal(c.reshape(w.shape), w)


@pytest.mark.parametrize("name", ["resnet8_cifar", "mtcnn_onet"])
def test_weight_only_files_import_and_match_litert(name):
    """ai-edge-quantizer's weight-only int8 file (DEQUANTIZE of each int8 weight before its float op) and a
    float16-weights file (DEQUANTIZE of FLOAT16 constants, as TFLite's float16 quantisation writes them): the
    constants themselves (int8 kept with their scales, as a dynamic-range file's; fp16 as fp32); C within 1e-5 of
    LiteRT (relative to the largest output)."""
    _need_peers()
    import tflite_build as tb
    import torch
    import zoo
    from ai_edge_quantizer import quantizer, recipe

    from linrep_edge.models.tflite_file import read_tflite

    make, shape = zoo.ZOO[name]
    torch.manual_seed(0)
    fp32 = peers.to_tflite(make().eval(), torch.randn(*shape))
    with peers.quiet_fds():
        qt = quantizer.Quantizer(fp32, recipe.weight_only_wi8_afp32())
        files = [bytes(qt.quantize(enable_progress_report=False).quantized_model), tb.float16_weights(fp32)]
    for f in files:
        assert "DEQUANTIZE" in {op.type for op in read_tflite(f).ops}
        assert not _c_matches_litert(f, name).is_int8
