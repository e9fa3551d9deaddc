"""fp32 torch models with a squeeze-and-excitation block (MUL by a per-channel gate), a standalone batch norm
(AFFINE), nearest and bilinear upsampling (RESIZE) and a ConvTranspose2d, compressed and packed with int8
activations through the Python API (`integer.pack.int8_graph`, what `pack --activations int8` runs): the C runtime
equals the Python integer reference byte for byte on both LinRep conv paths, and the dequantised int8 outputs
stay close to the fp32 model's; the transposed convs dense, or compressed (LinRep, direct path).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.format.writer import pack_graph
from linrep_edge.graph.executor import GraphModel
from linrep_edge.integer.batch import quantize_input, run_int8_batch
from linrep_edge.integer.executor import run_int8
from linrep_edge.integer.pack import capture_float, int8_graph
from linrep_edge.integer.quantize import quantize_graph
from linrep_edge.method.compress import compress
from linrep_edge.runtime.binding import CRuntime


class SENet(nn.Module):
    """conv → SE (pool, 1×1 convs, a ReLU6 gate, MUL) → batch norm alone → conv (a feature map: outputs vary)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.squeeze, self.excite = nn.Conv2d(8, 4, 1), nn.Conv2d(4, 8, 1)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 4, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.c1(x))
        gate = F.relu6(self.excite(F.relu(self.squeeze(F.adaptive_avg_pool2d(h, 1)))))
        h = self.bn(h * gate)
        return self.c2(h)


class UpNet(nn.Module):
    """conv → nearest ×2 → conv → bilinear (half pixel) to 13×11 → bilinear (align corners) to 16×16 → conv."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.c3 = nn.Conv2d(3, 6, 3, 2, 1), nn.Conv2d(6, 6, 3, 1, 1), nn.Conv2d(6, 2, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.c1(x)), scale_factor=2, mode="nearest")
        h = F.interpolate(F.relu(self.c2(h)), size=(13, 11), mode="bilinear", align_corners=False)
        return self.c3(F.interpolate(h, size=(16, 16), mode="bilinear", align_corners=True))


class DecoderNet(nn.Module):
    """conv (stride 2) → ConvTranspose2d (k4 s2 p1) → ReLU → ConvTranspose2d (k3 s2 p1 output_padding 1, groups 2)
    → conv."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.up1 = nn.ConvTranspose2d(8, 6, 4, 2, 1)
        self.up2 = nn.ConvTranspose2d(6, 4, 3, 2, 1, output_padding=1, groups=2)
        self.c2 = nn.Conv2d(4, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c2(self.up2(F.relu(self.up1(F.relu(self.c1(x))))))


MODELS = {"se": (SENet, ["MUL", "AFFINE"]), "upsample": (UpNet, ["RESIZE"]),
          "decoder": (DecoderNet, ["CONV_TRANSPOSE2D"]), "decoder_linrep": (DecoderNet, ["CONV_TRANSPOSE2D"])}


def _setup(name: str):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cls, types = MODELS[name]
    net = cls().eval()
    for m in net.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    # "decoder": the transposed convs stay dense; "decoder_linrep": they are compressed too (LinRep, integer W)
    exclude = [n for n, m in net.named_modules() if isinstance(m, nn.ConvTranspose2d)] if name == "decoder" else []
    cm, _ = compress(net, templates=4, seed=0, exclude=exclude or None, show_progress=False)
    example = torch.zeros(1, 3, 16, 16)
    rng = np.random.default_rng(0)
    calibration = rng.standard_normal((200, 3, 16, 16)).astype(np.float32)
    return cm, example, calibration, types


@pytest.mark.parametrize("name", list(MODELS))
def test_int8_model_c_equals_python_and_close_to_fp32(name: str) -> None:
    cm, example, calibration, types = _setup(name)
    g = int8_graph(cm, example, 6, calibration, show_progress=False)
    assert g.is_int8 and set(types) <= {op.type for op in g.ops}
    xs = np.random.default_rng(1).standard_normal((16, 3, 16, 16)).astype(np.float32)
    xq = quantize_input(g, xs)
    rt = CRuntime(pack_graph(g))
    for path in ("direct", "reuse"):
        rt.set_conv_path(path)
        got = rt.run_int8(xq)[0]
        want = np.stack([run_int8(g, x, conv_path=path)[0] for x in xq])
        assert np.array_equal(got.reshape(want.shape), want), f"{name}: C differs from Python ({path})"
    assert np.array_equal(run_int8_batch(g, xq)[0], want)
    out = g.tensors[g.output]
    deq = (want.astype(np.float32) - out.zero_point) * np.float32(out.scale)
    with torch.no_grad():
        fp = GraphModel(capture_float(cm, example)).eval()(torch.from_numpy(xs)).numpy().reshape(deq.shape)
    span = float(fp.max() - fp.min())
    err = np.abs(deq - fp)
    # int8 activations through 4–8 layers: within a few output steps on average, a small fraction of the span
    assert err.mean() < 0.02 * span and err.max() < 0.1 * span, (name, float(err.mean()), float(err.max()), span)
    assert len(np.unique(want)) > 30


def test_linrep_transposed_conv_integers() -> None:
    """A compressed ConvTranspose2d in an int8 graph: integer a/b with one a scale and one b exponent for the layer
    (its grid is (Cin, Cout/g), the requantisation per output channel), one multiplier, LinRep weights kept."""
    cm, example, calibration, _ = _setup("decoder_linrep")
    g = int8_graph(cm, example, 5, calibration, show_progress=False)
    ops = [op for op in g.ops if op.type == "CONV_TRANSPOSE2D"]
    assert len(ops) == 2
    for op in ops:
        lr = op.linrep
        assert lr is not None and lr.ab_bits == 5 and op.weight < 0
        assert len(set(lr.a_scale.tolist())) == 1 and len(set(lr.b_exponent.tolist())) == 1
        assert len(op.iparams.multiplier) == 1 and np.abs(lr.a_q).max() <= 15


@pytest.mark.parametrize("name", list(MODELS))
def test_qat_model_is_the_int8_model(name: str) -> None:
    """The quantisation-aware model (`QATGraphModel`: MUL, AFFINE with int8 weights, RESIZE, CONV_TRANSPOSE2D
    with int8 weights, every activation fake-quantised) gives the int8 graph's outputs within 2 output steps
    (measured: 0.005–0.16 steps on average)."""
    from linrep_edge.integer.qat import QATGraphModel
    from linrep_edge.integer.quantize import calibrate

    cm, example, calibration, _ = _setup(name)
    g = capture_float(cm, example)
    ranges = calibrate(g, calibration)
    q = quantize_graph(g, calibration, ab_bits=6, ranges=ranges)
    xs = np.random.default_rng(1).standard_normal((16, 3, 16, 16)).astype(np.float32)
    y8 = run_int8_batch(q, quantize_input(q, xs))[0]
    out = q.tensors[q.output]
    deq = (y8.astype(np.float32) - out.zero_point) * np.float32(out.scale)
    with torch.no_grad():
        yq = QATGraphModel(g, ranges, 6).eval()(torch.from_numpy(xs)).numpy().reshape(deq.shape)
    steps = np.abs(yq - deq) / np.float32(out.scale)
    assert steps.max() <= 2.01 and steps.mean() < 0.5, (name, float(steps.mean()), float(steps.max()))


@pytest.mark.parametrize("kind", ["mul_channel", "affine", "affine_features", "resize_bilinear", "conv_transpose",
                                  "conv_transpose_grouped", "linrep_conv_transpose_masked"])
def test_geo_blobs_round_trip_report_and_arena(kind: str) -> None:
    """IR -> bytes -> IR equal (int8 AFFINE and transposed-conv weights with their per-output-channel scales),
    bytes -> IR -> bytes equal; the storage report's sections add up to the blob and its arena is the C
    runtime's (lr_arena_size: the transposed conv's accumulator plane included)."""
    from int8_graphs import build
    from test_int8_runtime import _assert_graphs_equal, _normalised

    from linrep_edge.format.reader import parse
    from linrep_edge.format.report import storage_report

    g = _normalised(build(kind, 4))
    blob = pack_graph(g)
    read = parse(blob)
    assert read.format_version == (5 if kind.startswith("linrep") else 4) and read.graph.is_int8
    _assert_graphs_equal(g, read.graph)
    assert pack_graph(read.graph, read.graph.metadata) == blob
    rep = storage_report(blob)
    assert sum(rep.sections.values()) == len(blob) and rep.arena_bytes == CRuntime(blob).arena_bytes
