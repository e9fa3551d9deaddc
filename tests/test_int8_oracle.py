"""The Python integer reference (`run_int8` on graphs from `import_tflite`) equals TFLite Micro byte for
byte: on the three MLPerf Tiny int8 models (every output byte and every intermediate tensor, random int8
inputs) and on small one-op models built for each op's corner cases. The fp32 MLPerf Tiny files imported
and run by `GraphModel` match LiteRT. Needs the peers extra (TFLite Micro, LiteRT) and the MLPerf Tiny
files in ../shared/mlperf-tiny (see its README)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from needs import need

from linrep_edge.bench import peers
from linrep_edge.errors import LinRepError
from linrep_edge.integer.executor import run_int8
from linrep_edge.models.tflite_import import import_tflite, import_tflite_mapped

MLPERF = Path(__file__).resolve().parents[1].parent / "shared" / "mlperf-tiny"
HAVE_PEERS = all(importlib.util.find_spec(m) is not None for m in ("tflite_micro", "ai_edge_litert"))
INT8_MODELS = ["pretrainedResnet_quant", "kws_ref_model", "vww_96_int8"]
FP32_MODELS = ["pretrainedResnet", "kws_ref_model_float32", "vww_96_float"]


def _need_peers() -> None:
    need(HAVE_PEERS, "the peers extra (tflite_micro, ai_edge_litert)", peers.INSTALL_HINT)


def _mlperf(name: str) -> Path:
    path = MLPERF / f"{name}.tflite"
    need(path.exists(), f"the MLPerf Tiny model {path}", "put shared/mlperf-tiny beside the clone (see its README)")
    return path


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


def test_mlperf_int8_import_shapes_and_integers():
    """What the importer makes of the IC ResNet-8: NCHW shapes, per-channel multipliers in TFLite's range,
    int32 biases, the flatten before the FC."""
    g = import_tflite(_mlperf("pretrainedResnet_quant"))
    assert g.is_int8 and g.tensors[g.input].shape == (3, 32, 32) and g.tensors[g.output].shape == (10,)
    assert [op.type for op in g.ops] == ["CONV2D"] * 3 + ["ADD"] + ["CONV2D"] * 3 + ["ADD"] + ["CONV2D"] * 3 + \
        ["ADD", "AVG_POOL2D", "RESHAPE", "LINEAR", "SOFTMAX"]
    for op in g.ops:
        assert op.iparams is not None
        if op.type == "CONV2D":
            assert op.iparams.multiplier.shape == (op.out_channels,) and op.iparams.bias is not None
            assert ((op.iparams.multiplier >= 1 << 30) & (op.iparams.multiplier < 1 << 31)).all()
            assert g.constants[op.weight].q.shape[0] == op.out_channels
    # stride-2 SAME on 32x32 with a 3x3 kernel: the extra row/column at the bottom/right
    assert g.ops[4].stride == (2, 2) and g.ops[4].pads == (0, 0, 1, 1)
    assert g.ops[-1].iparams.extra is not None and g.ops[-1].iparams.extra[0] < 0  # diff_min


def _tflm_cases() -> list[tuple[str, object]]:
    import tflite_build as tb

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
    ]


@pytest.mark.parametrize("case", range(17))
def test_op_equals_tflite_micro(case):
    """One small int8 model per corner case: every tensor of 30 random inputs equal to TFLite Micro's."""
    _need_peers()
    name, build = _tflm_cases()[case]
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
# dequantize the weights; LiteRT's hybrid kernels quantize each conv's input to int8 on the fly, which
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
    x, y, z = b.act((1, 4, 4, 3)), b.act((1, 4, 4, 3), 1.0 / 256.0, -128), b.act((1, 4, 4, 3), 1.0 / 128.0, 0)
    b.op("LOGISTIC", [x], [y])
    b.op("TANH", [y], [z])
    with pytest.raises(LinRepError) as exc:
        import_tflite(b.build([x], [z]))
    msg = str(exc.value)
    assert "op 0 LOGISTIC: unsupported operator" in msg and "op 1 TANH: unsupported operator" in msg


def test_bad_files_and_inputs(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(LinRepError, match="not a .tflite file"):
        import_tflite(bad)
    with pytest.raises(LinRepError, match="cannot read"):
        import_tflite(tmp_path / "missing.tflite")
    g = import_tflite(_mlperf("kws_ref_model"))
    with pytest.raises(LinRepError, match="int8 of shape"):
        run_int8(g, np.zeros(g.tensors[0].shape, np.float32))
    with pytest.raises(LinRepError, match="conv_path"):
        run_int8(g, np.zeros(g.tensors[0].shape, np.int8), conv_path="fast")
