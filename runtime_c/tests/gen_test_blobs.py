#!/usr/bin/env python3
"""Write the blobs the C tests run: `gen_test_blobs.py OUT_DIR` (called by runtime_c/Makefile).

For each case NAME it writes NAME.lre (packed by linrep_edge.format.writer), NAME.in (N inputs, float32
little-endian, row-major) and NAME.ref (the N outputs of GraphModel, the torch reference of exactly
what the blob holds; a model with several outputs has them concatenated per input, as lr_run writes them). manifest.txt lists "NAME N" per line (test_blobs.c reads it); corrupt.txt
names the blobs that `make sanitize` sweeps with test_corrupt.

Hostile blobs: well-formed FlatBuffers with a valid CRC whose values are wrong (extreme pads, strides
and dilations that would overflow 32-bit index arithmetic, indices >= K, wrong constant sizes, too many
tensors, ...). reject.txt lists "FILE STATUS" per line: lr_init must return exactly that status (and,
under `make sanitize`, never trip ASan/UBSan on the way). Deterministic (fixed seeds).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from linrep_edge.graph.capture import capture
from linrep_edge.method.compress import compress
from linrep_edge.graph.executor import GraphModel
from linrep_edge.format.fb.OpType import OpType
from linrep_edge.format.ir import Codebook, Graph, IntParams, LinRepWeights, Op
from linrep_edge.method.linrep_conv import LinRepConv2d, prune
from linrep_edge.format.writer import pack_graph
from linrep_edge.pipeline import set_storage
from linrep_edge.format.reader import parse
from linrep_edge.integer.executor import run_int8

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # tests/int8_graphs.py


class Tiny(nn.Module):
    """Small CNN touching most op types: conv (+BN), grouped and depthwise convs, pools, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2)
        self.dw = nn.Conv2d(8, 8, (3, 1), padding=(1, 0), groups=8)
        self.pw = nn.Conv2d(16, 12, 1)
        self.fc = nn.Linear(12, 5)
        self.prelu = nn.PReLU(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = nn.functional.max_pool2d(x, 2)
        y = self.prelu(self.conv2(x))
        z = nn.functional.hardswish(self.dw(y))
        x = torch.cat([y, torch.sigmoid(z) + y], 1)
        x = nn.functional.avg_pool2d(self.pw(x), 3, stride=1, padding=1, count_include_pad=False)
        x = nn.functional.leaky_relu(x, 0.1)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return torch.softmax(nn.functional.relu6(self.fc(x)), 1)


def _randomize_bn(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)


def cases() -> dict[str, bytes]:
    torch.manual_seed(0)
    model = Tiny().eval()
    _randomize_bn(model)
    example = torch.zeros(1, 3, 12, 12)
    out: dict[str, bytes] = {}
    out["tiny_dense"] = pack_graph(capture(model, example))
    g = capture(model, example)
    for c in g.constants:
        c.dtype = "fp16"
    out["tiny_dense_fp16"] = pack_graph(g)
    lr, _ = compress(model, templates=4, seed=0, show_progress=False, cap_templates=True)
    out["tiny_linrep"] = pack_graph(capture(lr, example))
    lr32, _ = compress(model, templates=3, seed=0, show_progress=False, codebook_dtype="fp32", cap_templates=True)
    out["tiny_linrep_fp32cb"] = pack_graph(capture(lr32, example))
    # several K and index widths (wider than needed is legal: 1..16 bits), per-layer codebooks
    for k, bits in ((2, 1), (2, 5), (8, 3), (8, 12), (16, 16)):
        lk, _ = compress(model, templates=k, seed=1, scope="layer", show_progress=False, cap_templates=True)
        gk = capture(lk, example)
        for op in gk.ops:
            if op.linrep is not None:
                op.linrep.index_bits = max(bits, int(gk.codebooks[op.linrep.codebook].size - 1).bit_length())
        out[f"tiny_linrep_k{k}_w{bits}"] = pack_graph(gk)
    # format version 2: integer a/b (several widths, per-channel and per-layer scales), int8 conv/linear
    for bits, per_channel, weights in ((8, True, "int8"), (4, False, "fp16"), (2, True, "fp32")):
        lq, _ = compress(model, templates=4, seed=2, show_progress=False, cap_templates=True)
        for m in lq.modules():
            if isinstance(m, LinRepConv2d):
                m.set_ab_bits(bits, per_channel)
        gq = capture(lq, example)
        set_storage(gq, weights)
        out[f"tiny_linrep_ab{bits}_{weights}"] = pack_graph(gq)
    # pruned kernels (kernel mask), with fp16 and with integer a/b
    for bits in (0, 6):
        lp, _ = compress(model, templates=4, seed=3, show_progress=False, cap_templates=True)
        for m in lp.modules():
            if isinstance(m, LinRepConv2d):
                m.set_ab_bits(bits)
        prune(lp, sparsity=0.4)
        out[f"tiny_linrep_pruned_ab{bits}"] = pack_graph(capture(lp, example))
    # format version 3: every new op (fp32 and fp16 constants), and a model with several outputs
    out["v3_ops_fp32"] = pack_graph(v3_graph("fp32"))
    out["v3_ops_fp16"] = pack_graph(v3_graph("fp16"))
    out["v3_heads"] = pack_graph(v3_heads())
    out["v6_shuffle"] = pack_graph(v6_shuffle())  # format version 6: CHANNEL_SHUFFLE
    out["v7_unary"] = pack_graph(v7_unary())  # format version 7: UNARY, every function
    out["v8_pixel"] = pack_graph(v8_pixel())  # format version 8: MUL by a gate per pixel (CBAM), PIXEL_SHUFFLE
    # a transposed conv with LinRep kernels over (Cin, Cout/groups): fp16 a/b; 5-bit a/b (a scale per input
    # channel) with pruned kernels
    torch.manual_seed(4)
    up = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(),
                       nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)).eval()
    for bits in (0, 5):
        lu, _ = compress(up, templates=4, seed=4, show_progress=False, cap_templates=True)
        for m in lu.modules():
            if isinstance(m, LinRepConv2d):
                m.set_ab_bits(bits)
        if bits:
            prune(lu, sparsity=0.3)
        out[f"v3_linrep_transpose_ab{bits}"] = pack_graph(capture(lu, torch.zeros(1, 2, 5, 4)))
    return out


def _builder(shape):  # type: ignore[no-untyped-def]
    """An empty graph with input `shape` and op(kind, inputs, out_shape, **fields) -> output tensor id."""
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    g.input = g.add_tensor(shape)

    def op(kind: str, ins, out_shape, **kw) -> int:  # type: ignore[no-untyped-def]
        out = g.add_tensor(out_shape)
        g.ops.append(Op(kind, kw.pop("name", kind.lower()), list(ins), out, **kw))
        return out
    return g, op


def v3_graph(dtype: str) -> Graph:
    """The version-3 ops in one network: SE block (SILU, HARDSIGMOID, MUL by channel), AFFINE, CLAMP, ADD by
    channel, bilinear and nearest RESIZE (align_corners too), SLICE, TANH, PAD, CONV_TRANSPOSE2D with output
    padding, SOFTMAX over channels, TRANSPOSE_HWC."""
    rng = np.random.default_rng(21)
    g, op = _builder((3, 6, 6))
    x = g.input
    c1 = op("CONV2D", [x], (8, 6, 6), kernel=(3, 3), pads=(1, 1, 1, 1), out_channels=8, name="c1",
            weight=g.add_constant(rng.standard_normal((8, 3, 3, 3)) * 0.5, dtype))
    s1 = op("SILU", [c1], (8, 6, 6))
    gap = op("ADAPTIVE_AVG_POOL2D", [s1], (8, 1, 1), kernel=(1, 1))
    se = op("CONV2D", [gap], (8, 1, 1), out_channels=8, name="se",
            weight=g.add_constant(rng.standard_normal((8, 8, 1, 1)) * 0.5, dtype))
    m = op("MUL", [s1, op("HARDSIGMOID", [se], (8, 1, 1))], (8, 6, 6))
    bn = op("AFFINE", [m], (8, 6, 6), weight=g.add_constant(rng.uniform(0.5, 1.5, 8), dtype),
            bias=g.add_constant(rng.standard_normal(8) * 0.1, dtype), activation="RELU", name="bn")
    cl = op("CLAMP", [bn], (8, 6, 6), alpha=-float("inf"), beta=1.5)
    flat = op("RESHAPE", [gap], (8,))
    shifted = op("ADD", [cl, flat], (8, 6, 6))
    up = op("RESIZE", [op("MAX_POOL2D", [shifted], (8, 3, 3), kernel=(2, 2), stride=(2, 2))], (8, 6, 6), mode=1)
    up2 = op("RESIZE", [up], (8, 7, 5), mode=2)
    th = op("TANH", [op("SLICE", [up2], (4, 7, 5), start=3)], (4, 7, 5))
    pd = op("PAD", [th], (4, 8, 7), pads=(0, 1, 1, 1), alpha=0.25)
    ct = op("CONV_TRANSPOSE2D", [pd], (3, 16, 14), kernel=(3, 3), stride=(2, 2), pads=(1, 1, 1, 1), out_channels=3,
            weight=g.add_constant(rng.standard_normal((4, 3, 3, 3)) * 0.3, dtype),
            bias=g.add_constant(rng.standard_normal(3) * 0.1, dtype), activation="RELU6", name="ct")
    sm = op("SOFTMAX", [op("RESIZE", [ct], (3, 32, 28), mode=0)], (3, 32, 28))
    g.output = op("TRANSPOSE_HWC", [sm], (3 * 32 * 28,))
    return g


def v6_shuffle() -> Graph:
    """A ShuffleNetV2 unit: the channels split in two (SLICE), one half through a conv, CONCAT, CHANNEL_SHUFFLE by
    2; then shuffled again by 4 and padded with reflected and replicated borders (format version 6)."""
    rng = np.random.default_rng(23)
    g, op = _builder((3, 5, 6))
    c1 = op("CONV2D", [g.input], (8, 5, 6), kernel=(3, 3), pads=(1, 1, 1, 1), out_channels=8, name="c1",
            weight=g.add_constant(rng.standard_normal((8, 3, 3, 3))), activation="RELU")
    keep = op("SLICE", [c1], (4, 5, 6), start=0)
    branch = op("CONV2D", [op("SLICE", [c1], (4, 5, 6), start=4)], (4, 5, 6), out_channels=4, name="c2",
                weight=g.add_constant(rng.standard_normal((4, 4, 1, 1))))
    mixed = op("CHANNEL_SHUFFLE", [op("CONCAT", [keep, branch], (8, 5, 6))], (8, 5, 6), groups=2)
    shuffled = op("CHANNEL_SHUFFLE", [mixed], (8, 5, 6), groups=4)
    g.output = op("PAD", [op("PAD", [shuffled], (8, 8, 7), pads=(2, 1, 1, 0), mode=1)], (8, 9, 11), pads=(0, 2, 1, 2),
                  mode=2)  # PAD's reflect and replicate borders
    return g


def v7_unary() -> Graph:
    """A conv, then every UNARY function in turn (GELU both forms, ELU, SELU, CELU, Softplus, Mish, LogSigmoid,
    threshold), each on the one before: the values stay spread (no saturating function in the chain)."""
    rng = np.random.default_rng(24)
    g, op = _builder((3, 5, 6))
    x = op("CONV2D", [g.input], (4, 5, 6), kernel=(3, 3), pads=(1, 1, 1, 1), out_channels=4, name="c1",
           weight=g.add_constant(rng.standard_normal((4, 3, 3, 3))))
    for mode, alpha, beta in [(0, 0.0, 0.0), (1, 0.0, 0.0), (2, 0.7, 1.0), (2, 1.6732632, 1.0507010), (3, 0.5, 0.0),
                              (4, 2.0, 3.0), (5, 0.0, 0.0), (6, 0.0, 0.0), (7, -1.0, -0.5)]:  # version 7
        x = op("UNARY", [x], (4, 5, 6), mode=mode, alpha=alpha, beta=beta)
    g.output = x
    return g


def v8_pixel() -> Graph:
    """CBAM's spatial attention as capture writes it: the map read as one [1, C, H * W] plane, its channel max and
    mean (MAX_POOL2D / AVG_POOL2D by a C x 1 window), read back as [1, H, W], concatenated, a 7x7 conv, a sigmoid,
    and the map times that gate per pixel (format version 8), then times a second gate [1, H, W] of a plain conv; then
    PIXEL_SHUFFLE in its four modes."""
    rng = np.random.default_rng(25)
    g, op = _builder((3, 5, 6))
    x = op("CONV2D", [g.input], (4, 5, 6), kernel=(3, 3), pads=(1, 1, 1, 1), out_channels=4, name="c1",
           weight=g.add_constant(rng.standard_normal((4, 3, 3, 3))), activation="RELU")
    plane = op("RESHAPE", [x], (1, 4, 30))
    hi = op("RESHAPE", [op("MAX_POOL2D", [plane], (1, 1, 30), kernel=(4, 1), stride=(4, 1))], (1, 5, 6))
    mean = op("RESHAPE", [op("AVG_POOL2D", [plane], (1, 1, 30), kernel=(4, 1), stride=(4, 1))], (1, 5, 6))
    gate = op("SIGMOID", [op("CONV2D", [op("CONCAT", [hi, mean], (2, 5, 6))], (1, 5, 6), kernel=(7, 7),
                             pads=(3, 3, 3, 3), out_channels=1, name="spatial",
                             weight=g.add_constant(rng.standard_normal((1, 2, 7, 7)) * 0.2))], (1, 5, 6))
    y = op("MUL", [x, gate], (4, 5, 6))
    y = op("MUL", [y, op("CONV2D", [g.input], (1, 5, 6), out_channels=1, name="c2",
                         weight=g.add_constant(rng.standard_normal((1, 3, 1, 1))))], (4, 5, 6))
    # PIXEL_SHUFFLE, every mode: space to depth by 2 after a pad to 6 x 6, depth to space back (torch's order), the
    # same in TFLite's order, depth to space by 3 of a 9-channel conv
    sq = op("PAD", [y], (4, 6, 6), pads=(1, 0, 0, 0), alpha=0.5)
    back = op("PIXEL_SHUFFLE", [op("PIXEL_SHUFFLE", [sq], (16, 3, 3), mode=1, stride=(2, 2))], (4, 6, 6), mode=0,
              stride=(2, 2))
    dcr = op("PIXEL_SHUFFLE", [op("PIXEL_SHUFFLE", [back], (16, 3, 3), mode=3, stride=(2, 2))], (4, 6, 6), mode=2,
             stride=(2, 2))
    nine = op("CONV2D", [dcr], (9, 6, 6), out_channels=9, name="c3",
              weight=g.add_constant(rng.standard_normal((9, 4, 1, 1))))
    shrunk = op("UNARY", [op("UNARY", [nine], (9, 6, 6), mode=8, alpha=0.4)], (9, 6, 6), mode=9, alpha=0.3)
    shrunk = op("RESIZE", [op("RESIZE", [shrunk], (9, 11, 4), mode=3)], (9, 6, 6), mode=3)  # nearest, any size
    g.output = op("PIXEL_SHUFFLE", [shrunk], (1, 18, 18), mode=0, stride=(3, 3))  # Hardshrink, Softshrink first
    return g


def v3_heads() -> Graph:
    """Three outputs: class scores [F], an NHWC box map, and a feature map another op reads after it."""
    rng = np.random.default_rng(22)
    g, op = _builder((3, 6, 6))
    c1 = op("CONV2D", [g.input], (4, 6, 6), kernel=(3, 3), pads=(1, 1, 1, 1), out_channels=4, name="c1",
            weight=g.add_constant(rng.standard_normal((4, 3, 3, 3))), activation="RELU")
    cls = op("SOFTMAX", [op("RESHAPE", [op("ADAPTIVE_AVG_POOL2D", [c1], (4, 1, 1), kernel=(1, 1))], (4,))], (4,))
    box = op("CONV2D", [c1], (2, 6, 6), out_channels=2, name="box",
             weight=g.add_constant(rng.standard_normal((2, 4, 1, 1))))
    nhwc = op("TRANSPOSE_HWC", [box], (72,))
    g.output = cls
    g.outputs = [cls, nhwc, c1]
    return g


def _conv(kind: str = "dense", pads=(1, 1, 1, 1), stride=(1, 1), dilation=(1, 1), kernel=(3, 3), groups: int = 1,
          shape=(4, 6, 6), cout: int = 4, out_shape=None) -> Graph:
    """A one-conv graph (output shape as given, else computed) that hostile cases then break."""
    rng = np.random.default_rng(0)
    c, h, w = shape
    kh, kw = kernel
    oh = (h + pads[0] + pads[2] - dilation[0] * (kh - 1) - 1) // max(stride[0], 1) + 1
    ow = (w + pads[1] + pads[3] - dilation[1] * (kw - 1) - 1) // max(stride[1], 1) + 1
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    g.input = g.add_tensor(shape)
    g.output = g.add_tensor(out_shape or (cout, max(oh, 1), max(ow, 1)))
    common = dict(kernel=kernel, stride=stride, pads=pads, dilation=dilation, groups=groups, out_channels=cout)
    cin_g = max(c // max(groups, 1), 1)
    if kind == "linrep":
        g.codebooks.append(Codebook(rng.standard_normal((4, kh, kw)).astype(np.float32)))
        shp = (cout, cin_g)
        lr = LinRepWeights(0, rng.integers(0, 4, shp), np.ones(shp, np.float32), np.zeros(shp, np.float32), 3)
        g.ops.append(Op("LINREP_CONV2D", "conv", [g.input], g.output, linrep=lr, **common))
    else:
        wc = g.add_constant(rng.standard_normal((cout, cin_g, kh, kw)))
        g.ops.append(Op("CONV2D", "conv", [g.input], g.output, weight=wc, **common))
    return g


def _single(kind: str, in_shape, out_shape, **kw) -> Graph:
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    g.input = g.add_tensor(in_shape)
    g.output = g.add_tensor(out_shape)
    g.ops.append(Op(kind, kind.lower(), [g.input], g.output, **kw))
    return g


def hostile() -> dict[str, tuple[Graph, str]]:
    big = 2**15 - 1  # window fields are int16 in the format: the largest value a blob can hold
    h: dict[str, tuple[Graph, str]] = {}
    h["pad_huge_stride_huge"] = (_conv(pads=(big, 0, 0, 0), stride=(big, 1), out_shape=(4, 2, 6)), "LR_ERR_SHAPE_MISMATCH")
    h["stride_zero"] = (_conv(stride=(0, 1), out_shape=(4, 6, 6)), "LR_ERR_BAD_PARAMS")
    h["stride_negative"] = (_conv(stride=(-2, 1), out_shape=(4, 6, 6)), "LR_ERR_BAD_PARAMS")
    h["pad_negative"] = (_conv(pads=(-1, 1, 1, 1), out_shape=(4, 5, 6)), "LR_ERR_BAD_PARAMS")
    h["dilation_huge"] = (_conv(dilation=(big, 1), kernel=(big, 3), pads=(big, 1, big, 1), out_shape=(4, 6, 6)),
                          "LR_ERR_BAD_PARAMS")  # the dilated kernel does not fit the padded input
    h["groups_zero"] = (_conv(groups=0, out_shape=(4, 6, 6)), "LR_ERR_BAD_PARAMS")
    h["groups_not_dividing"] = (_conv(groups=3, shape=(4, 6, 6), cout=3), "LR_ERR_BAD_PARAMS")
    h["conv_kernel_zero"] = (_conv(kernel=(0, 3), out_shape=(4, 6, 6)), "LR_ERR_BAD_PARAMS")
    h["pool_kernel_zero"] = (_single("MAX_POOL2D", (2, 5, 5), (2, 5, 3), kernel=(0, 3)), "LR_ERR_BAD_PARAMS")
    g = _conv()
    g.tensors[g.output].shape = (4, 6, 5)
    h["conv_output_shape"] = (g, "LR_ERR_SHAPE_MISMATCH")
    g = _single("RELU", (4,), (4,))
    g.ops[0].weight = g.add_constant(np.ones(4))
    h["weight_on_relu"] = (g, "LR_ERR_BAD_CONSTANT")
    g = _conv()
    g.constants[0].values = g.constants[0].values[:, :, :2, :]
    h["weight_wrong_shape"] = (g, "LR_ERR_BAD_CONSTANT")
    g = _conv()
    g.ops[0].bias = g.add_constant(np.zeros(5))
    h["bias_wrong_length"] = (g, "LR_ERR_BAD_CONSTANT")
    g = _conv("linrep")
    g.ops[0].linrep.idx[2, 3] = 7  # 3-bit index into a 4-template codebook
    h["index_out_of_range"] = (g, "LR_ERR_INDEX_RANGE")
    g = _conv("linrep")
    g.codebooks[0].templates = g.codebooks[0].templates[:, :2, :]
    h["codebook_kernel_mismatch"] = (g, "LR_ERR_BAD_CODEBOOK")
    g = _conv("linrep")
    g.ops[0].linrep.codebook = 1
    h["codebook_id_out_of_range"] = (g, "LR_ERR_BAD_CODEBOOK")
    g = _conv("linrep")
    g.ops[0].linrep.a = g.ops[0].linrep.a[:3]
    g.ops[0].linrep.b = g.ops[0].linrep.b[:3]
    h["linrep_ab_short"] = (g, "LR_ERR_BAD_CONSTANT")
    h["tensor_numel_overflow"] = (_single("RELU", (2**20, 2**15, 2**15), (2**20, 2**15, 2**15)), "LR_ERR_BAD_TENSOR")
    h["tensor_one_zero_dim"] = (_single("RELU", (4, 0, 3), (4, 0, 3)), "LR_ERR_BAD_TENSOR")
    h["maxpool_pad_over_half"] = (_single("MAX_POOL2D", (2, 5, 5), (2, 5, 5), kernel=(3, 3), pads=(2, 2, 2, 2),
                                          stride=(2, 2)), "LR_ERR_BAD_PARAMS")
    h["avgpool_dilated"] = (_single("AVG_POOL2D", (2, 5, 5), (2, 3, 3), kernel=(2, 2), dilation=(2, 2)),
                            "LR_ERR_BAD_PARAMS")
    h["pool_area_huge"] = (_single("MAX_POOL2D", (1, 4, 4), (1, 1, 1), kernel=(big, big),
                                   pads=(2**14, 2**14, 2**14, 2**14)), "LR_ERR_BAD_PARAMS")
    h["adaptive_negative"] = (_single("ADAPTIVE_AVG_POOL2D", (1, 4, 4), (1, 1, 1), kernel=(-3, 1)), "LR_ERR_BAD_PARAMS")
    h.update(hostile_v3())
    h["reshape_numel"] = (_single("RESHAPE", (2, 3, 3), (17,)), "LR_ERR_SHAPE_MISMATCH")
    h["linear_no_weight"] = (_single("LINEAR", (8,), (3,), out_channels=3), "LR_ERR_BAD_CONSTANT")
    h["activation_on_pool"] = (_single("MAX_POOL2D", (2, 4, 4), (2, 2, 2), kernel=(2, 2), stride=(2, 2),
                                       activation="RELU"), "LR_ERR_BAD_PARAMS")
    g = _single("RELU", (4,), (4,))
    g.ops[0].inputs = [g.output]  # reads its own output: never written before
    h["read_before_write"] = (g, "LR_ERR_BAD_GRAPH")
    g = _single("RELU", (4,), (4,))
    g.ops[0].inputs = [-1]
    h["input_id_negative"] = (g, "LR_ERR_BAD_GRAPH")
    g = _single("RELU", (4,), (4,))
    g.add_tensor((4,))  # three tensors for one op: op i must write tensor i + 1, nothing else exists
    h["tensor_count"] = (g, "LR_ERR_BAD_GRAPH")
    g = _single("RELU", (4,), (4,))
    g.output = 5
    h["output_id_out_of_range"] = (g, "LR_ERR_BAD_GRAPH")
    g = Graph(tensors=[], input=-1, output=-1, ops=[])  # each tensor fits, the live set does not
    g.input = g.add_tensor((2**14, 2**7, 2**7))  # 2^28 floats = 1 GiB
    g.ops.append(Op("RELU", "r1", [g.input], g.add_tensor((2**14, 2**7, 2**7))))
    g.ops.append(Op("ADD", "add", [g.input, 1], g.add_tensor((2**14, 2**7, 2**7))))
    g.output = 2
    h["arena_overflow"] = (g, "LR_ERR_OVERFLOW")
    g = _single("RELU", (4,), (4,))
    for _ in range(200):  # more than LR_MAX_TENSORS (128) tensors
        g.add_tensor((1,))
    h["too_many_tensors"] = (g, "LR_ERR_TOO_MANY")
    g = Graph(tensors=[], input=-1, output=-1, ops=[])
    x = g.input = g.add_tensor((2, 4, 4))
    y = g.add_tensor((2, 3, 4))
    g.ops.append(Op("MAX_POOL2D", "p", [x], y, kernel=(2, 1), stride=(1, 1)))
    g.output = g.add_tensor((4, 4, 4))
    g.ops.append(Op("CONCAT", "cat", [x, y], g.output))
    h["concat_height_mismatch"] = (g, "LR_ERR_SHAPE_MISMATCH")
    for name, bits, n_scale, drop in (("ab_bits_nine", 9, 4, 0), ("ab_bits_one", 1, 4, 0),
                                      ("ab_scale_short", 4, 3, 0), ("ab_q_short", 4, 4, 1)):
        g = _conv("linrep")
        lr = g.ops[0].linrep
        q = np.full(lr.idx.shape, 0 if bits == 1 else 1, np.int64)
        lr.ab_bits = bits
        lr.set_quantized(q, np.ones(4, np.float32), q, np.ones(4, np.float32))
        lr.a_scale = lr.a_scale[:n_scale]
        if drop:
            lr.a_q = lr.a_q[:-1]
            lr.b_q = lr.b_q[:-1]
        h[name] = (g, "LR_ERR_BAD_CONSTANT")
    for name, fix in (("mask_short", lambda m: m[:-1]), ("mask_padding_bit", None), ("mask_count", "count")):
        g = _conv("linrep", shape=(3, 6, 6), cout=3)  # 9 kernels: 2 mask bytes, 7 padding bits
        lr = g.ops[0].linrep
        lr.mask = np.ones(lr.idx.shape, bool)
        lr.mask[0, 1] = False
        h[name] = (g, "LR_ERR_BAD_CONSTANT" if name != "mask_count" else "LR_ERR_INDEX_WIDTH")
    g = _conv()
    c = g.constants[0]
    c.q, c.scale, c.dtype = np.ones(c.values.shape, np.int8), np.ones(3, np.float32), "int8"
    h["int8_scale_count"] = (g, "LR_ERR_BAD_CONSTANT")
    g = _single("PRELU", (2, 3, 3), (2, 3, 3))
    g.ops[0].weight = g.add_constant(np.ones(2))
    g.constants[0].q, g.constants[0].scale, g.constants[0].dtype = np.ones(2, np.int8), np.ones(2, np.float32), "int8"
    h["int8_prelu"] = (g, "LR_ERR_BAD_CONSTANT")
    h.update(hostile_v4())
    return h


# hostile_v4 cases whose packed blob says another format version (patched after packing)
VERSION_PATCH = {"i8_in_v3_blob": 3, "i8_fields_in_fp32_model": 4, "i8_codebook_in_fp32_model": 4,
                 "i8_linrep_no_scales_in_v4_blob": 4, "i8_linrep_scales_in_v5_blob": 5}
# ... and those written as an older version first (the layout of that version), then patched
VERSION_WRITE = {"i8_linrep_scales_in_v5_blob": 4}


def _hostile_activations(build) -> dict[str, tuple[Graph, str]]:  # type: ignore[no-untyped-def]
    """The int8 elementwise activations (docs/INTEGER.md section 6): every constant the kernels rely on."""
    h: dict[str, tuple[Graph, str]] = {}
    g = build("sigmoid", 7)
    g.tensors[1].zero_point = 0
    h["i8_sigmoid_output_quant"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("sigmoid", 7)
    g.tensors[1].scale = 1.0 / 128
    h["i8_sigmoid_output_scale"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("sigmoid", 7)
    g.ops[0].iparams.extra = None
    h["i8_sigmoid_no_radius"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("sigmoid", 7)
    g.ops[0].iparams.shift[0] = -1  # TFLite's radius needs 2^shift >= 1
    h["i8_sigmoid_negative_shift"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("sigmoid", 7)
    g.ops[0].iparams.shift[0], g.ops[0].iparams.extra[0] = 24, 1000  # 255 * 2^24 >= 2^31: the rescaling overflows
    h["i8_sigmoid_rescale_overflow"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("sigmoid", 7)
    g.ops[0].iparams.extra[0] = -1
    h["i8_sigmoid_negative_radius"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("sigmoid", 7)
    g.ops[0].iparams.extra[0] = -2**31  # radius - 1 must not be taken in int32 (found by the fuzzer)
    h["i8_sigmoid_radius_int32_min"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("sigmoid", 7)
    ip = g.ops[0].iparams
    ip.multiplier, ip.shift = np.repeat(ip.multiplier, 2), np.repeat(ip.shift, 2)
    h["i8_sigmoid_two_multipliers"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("tanh", 7)
    g.tensors[1].zero_point = -128  # SIGMOID's output quantisation, not TANH's
    g.tensors[1].scale = 1.0 / 256
    h["i8_tanh_output_quant"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("tanh", 7)
    g.ops[0].iparams.shift[0], g.ops[0].iparams.extra[0] = 28, 9  # 8 * 2^28 >= 2^31
    h["i8_tanh_rescale_overflow"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("tanh", 7)
    g.ops[0].iparams.extra = None
    h["i8_tanh_no_radius"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("relu", 7)
    g.ops[0].iparams.shift[0] = 24  # 255 * 2^24 >= 2^31
    h["i8_relu_rescale_overflow"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("clamp", 7)
    ip = g.ops[0].iparams
    ip.multiplier, ip.shift = np.repeat(ip.multiplier, 2), np.repeat(ip.shift, 2)
    h["i8_clamp_two_multipliers"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("relu6", 7)
    g.ops[0].iparams.extra = np.array([1], np.int32)
    h["i8_relu6_qparams"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("relu6_alike", 7)  # no multiplier: input and output must be quantised alike
    g.tensors[1].zero_point = (g.tensors[0].zero_point + 1) % 100
    h["i8_relu6_alike_quant_differs"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("relu", 7)
    g.ops[0].iparams.act_min, g.ops[0].iparams.act_max = 5, -5
    h["i8_relu_empty_clamp"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("leaky_relu", 7)
    g.ops[0].iparams.multiplier, g.ops[0].iparams.shift = g.ops[0].iparams.multiplier[:1], g.ops[0].iparams.shift[:1]
    h["i8_leaky_relu_one_multiplier"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("leaky_relu", 7)
    g.ops[0].iparams.shift[1] = 24  # the alpha side: 255 * 2^24 >= 2^31
    h["i8_leaky_relu_alpha_overflow"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("leaky_relu", 7)
    g.ops[0].iparams.multiplier[1] = -5  # a negative slope's multiplier (TFLite's MBQM takes none)
    h["i8_leaky_relu_negative_multiplier"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("prelu", 7)
    g.ops[0].iparams.extra = g.ops[0].iparams.extra[:-1]  # a slope short of the fp32 slopes
    h["i8_prelu_slope_count"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("prelu", 7)
    g.ops[0].iparams.extra[1] = 128  # not an int8
    h["i8_prelu_slope_range"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("prelu", 7)
    g.ops[0].iparams.extra[0] = -129  # the slopes' zero point
    h["i8_prelu_slope_zero_point"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("prelu", 7)
    g.ops[0].iparams.shift[1] = 16  # 255 * 255 * 2^16 >= 2^31
    h["i8_prelu_alpha_overflow"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("prelu", 7)
    g.ops[0].iparams.extra = None
    h["i8_prelu_no_slopes"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("silu", 7)
    g.ops[0].iparams.shift[1] = 16  # the MUL: 255 * 255 * 2^16 >= 2^31
    h["i8_silu_mul_overflow"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("silu", 7)
    g.ops[0].iparams.shift[0], g.ops[0].iparams.extra[0] = 24, 1000  # the logistic's rescaling overflows
    h["i8_silu_logistic_overflow"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("silu", 7)
    g.ops[0].iparams.extra = None
    h["i8_silu_no_radius"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardsigmoid", 7)
    g.ops[0].iparams.shift[0] = 17  # 32767 * 2^17 >= 2^31
    h["i8_hardsigmoid_output_overflow"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardsigmoid", 7)
    g.ops[0].iparams.multiplier[1] = 1 << 15  # the reluish multiplier is an int16
    h["i8_hardsigmoid_reluish_not_int16"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardsigmoid", 7)
    g.ops[0].iparams.shift[1] = -16
    h["i8_hardsigmoid_reluish_shift_range"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardswish", 7)
    g.ops[0].iparams.multiplier, g.ops[0].iparams.shift = g.ops[0].iparams.multiplier[:1], g.ops[0].iparams.shift[:1]
    h["i8_hardswish_one_multiplier"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardswish", 7)
    g.ops[0].iparams.multiplier[1] = 1 << 15  # not an int16
    h["i8_hardswish_reluish_not_int16"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardswish", 7)
    g.ops[0].iparams.multiplier[0] = 1 << 20
    h["i8_hardswish_output_not_int16"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardswish", 7)
    g.ops[0].iparams.shift[0] = 1  # TFLite's output exponent is <= 0
    h["i8_hardswish_output_left_shift"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardswish", 7)
    g.ops[0].iparams.shift[0] = -16  # an int16 shifted right by 16 or more
    h["i8_hardswish_output_shift_range"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardswish", 7)
    g.ops[0].iparams.shift[1] = -16
    h["i8_hardswish_reluish_shift_range"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("hardswish", 7)
    g.ops[0].iparams.extra = np.array([1], np.int32)
    h["i8_hardswish_qparams"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("unary", 7)
    g.ops[0].iparams.table = g.ops[0].iparams.table[:255]
    h["i8_unary_table_short"] = (g, "LR_ERR_BAD_CONSTANT")
    g = build("unary", 7)
    g.ops[0].iparams.table = np.concatenate([g.ops[0].iparams.table, [0]]).astype(np.int8)
    h["i8_unary_table_long"] = (g, "LR_ERR_BAD_CONSTANT")
    g = build("unary", 7)
    g.ops[0].iparams.table = None
    h["i8_unary_no_table"] = (g, "LR_ERR_BAD_CONSTANT")
    g = build("unary", 7)
    g.ops[0].iparams.multiplier, g.ops[0].iparams.shift = np.array([1 << 30], np.int32), np.array([0], np.int32)
    h["i8_unary_multiplier"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("unary", 7)
    g.ops[0].mode = 11  # (format version 9 has 0 .. 10)
    h["i8_unary_mode"] = (g, "LR_ERR_BAD_PARAMS")
    return h


def hostile_v4() -> dict[str, tuple[Graph, str]]:
    """Int8 models (format version 4): one class per verifier rule of docs/INTEGER.md."""
    from int8_graphs import EMPTY, build  # tests/int8_graphs.py: random valid int8 graphs

    h: dict[str, tuple[Graph, str]] = {}

    def conv() -> Graph:
        return build("conv", 7)

    for name, edit, status in (
            ("i8_shift_31", lambda ip: ip.shift.__setitem__(0, 31), "LR_ERR_BAD_PARAMS"),
            ("i8_shift_minus_32", lambda ip: ip.shift.__setitem__(0, -32), "LR_ERR_BAD_PARAMS"),
            ("i8_multiplier_negative", lambda ip: ip.multiplier.__setitem__(0, -5), "LR_ERR_BAD_PARAMS"),
            ("i8_act_min_above_max", lambda ip: setattr(ip, "act_min", 100) or setattr(ip, "act_max", 99),
             "LR_ERR_BAD_PARAMS"),
            ("i8_accumulator_bound", lambda ip: ip.bias.__setitem__(0, 2**31 - 10), "LR_ERR_BAD_PARAMS"),
            ("i8_bound_after_left_shift", lambda ip: ip.shift.__setitem__(slice(None), 30), "LR_ERR_BAD_PARAMS"),
            ("i8_bias_count", lambda ip: setattr(ip, "bias", ip.bias[:-1]) if len(ip.bias) > 1 else
             setattr(ip, "bias", np.zeros(2, np.int32)), "LR_ERR_BAD_CONSTANT"),
            ("i8_shift_count", lambda ip: setattr(ip, "shift", np.append(ip.shift, 0)), "LR_ERR_BAD_PARAMS"),
            ("i8_qparams_on_conv", lambda ip: setattr(ip, "extra", np.zeros(1, np.int32)), "LR_ERR_BAD_PARAMS")):
        g = conv()
        edit(g.ops[0].iparams)
        h[name] = (g, status)
    for name, field, value, status in (("i8_zero_point_200", "zero_point", 200, "LR_ERR_BAD_TENSOR"),
                                       ("i8_scale_zero", "scale", 0.0, "LR_ERR_BAD_TENSOR"),
                                       ("i8_scale_negative", "scale", -0.5, "LR_ERR_BAD_TENSOR"),
                                       ("i8_scale_inf", "scale", float("inf"), "LR_ERR_BAD_TENSOR")):
        g = conv()
        setattr(g.tensors[1], field, value)
        h[name] = (g, status)
    g = conv()
    c = g.constants[g.ops[0].weight]
    c.dtype, c.q = "fp32", None
    h["i8_weights_fp32"] = (g, "LR_ERR_BAD_CONSTANT")
    g = build("linrep", 7)
    g.ops[0].linrep.b_exponent = np.full(g.tensors[1].shape[0], 32)  # 2^32 b: beyond the exponent range
    h["i8_linrep_exponent_range"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("linrep", 7)
    g.ops[0].linrep.b_exponent = np.full(g.tensors[1].shape[0], 24)  # every kernel's b shifted 2^24: bound exceeded
    g.ops[0].linrep.b_q = np.where(g.ops[0].linrep.b_q == 0, 1, g.ops[0].linrep.b_q)
    h["i8_linrep_accumulator_bound"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("linrep", 7)
    g.ops[0].linrep.b_exponent = None
    h["i8_linrep_no_exponent"] = (g, "LR_ERR_BAD_CONSTANT")
    g = build("linrep", 7)
    cb = g.codebooks[0]
    cb.dtype, cb.q = "fp16", None
    h["i8_linrep_fp16_codebook"] = (g, "LR_ERR_BAD_CODEBOOK")
    g = build("max_pool", 7)
    g.tensors[1].zero_point = (g.tensors[0].zero_point + 1) % 100
    h["i8_pool_quant_differs"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("concat", 7)
    g.tensors[1].scale *= 2
    h["i8_concat_quant_differs"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("softmax", 7)
    g.tensors[1].zero_point = 0
    h["i8_softmax_output_quant"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("softmax", 7)
    g.ops[0].iparams.extra = None
    h["i8_softmax_no_diff_min"] = (g, "LR_ERR_BAD_PARAMS")
    h.update(_hostile_activations(build))
    g = build("add", 7)
    g.ops[1].iparams.multiplier, g.ops[1].iparams.shift = g.ops[1].iparams.multiplier[:2], g.ops[1].iparams.shift[:2]
    h["i8_add_two_multipliers"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("sub", 7)
    g.ops[1].iparams.multiplier, g.ops[1].iparams.shift = g.ops[1].iparams.multiplier[:2], g.ops[1].iparams.shift[:2]
    h["i8_sub_two_multipliers"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("sub_channel", 7)
    g.ops[-1].iparams.shift[2] = 1  # TFLite's SUB multipliers are below one, as ADD's
    h["i8_sub_left_shift"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("avg_pool", 7)  # a window of more than 2^23 taps: its int32 sum could overflow
    x = g.tensors[0]
    x.shape, g.tensors[1].shape = (1, 4097, 2049), (1, 1, 1)
    g.ops[0].kernel, g.ops[0].stride, g.ops[0].pads = (4097, 2049), (1, 1), (0, 0, 0, 0)
    h["i8_avg_pool_window_bound"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("mean", 7)  # TFLite's MEAN (ADAPTIVE_AVG_POOL2D with a multiplier): bins all alike only
    g.tensors[0].shape = (g.tensors[0].shape[0], 5, g.tensors[0].shape[2])
    g.ops[0].kernel = (2, 1)  # 5 rows in 2 bins
    g.tensors[1].shape = (g.tensors[1].shape[0], 2, 1)
    h["i8_mean_bins_unlike"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("mean", 7)
    ip = g.ops[0].iparams
    ip.multiplier, ip.shift = np.repeat(ip.multiplier, 2), np.repeat(ip.shift, 2)
    h["i8_mean_two_multipliers"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("mean", 7)
    g.ops[0].iparams.shift[0] = 24  # 255 * H * W * 2^24 >= 2^31: the rescaled sum would overflow int32
    h["i8_mean_sum_bound"] = (g, "LR_ERR_BAD_PARAMS")
    for flat in (False, True):  # the gate's channel count is not the other input's: [c + 1, 1, 1] (or [c + 1])
        g = build("add_channel_flat" if flat else "add_channel", 7)  # for its ADD's constants
        add = g.ops[-1]
        x = g.tensors[0]
        c, hh, ww = x.shape
        t = [type(x)((c + 1, hh, ww), dtype="int8", scale=x.scale, zero_point=x.zero_point)]
        t.append(type(x)((c + 1, 1, 1), dtype="int8", scale=x.scale, zero_point=x.zero_point))
        t.append(type(x)((c, hh, ww), dtype="int8", scale=x.scale, zero_point=x.zero_point))
        none = IntParams(EMPTY.copy(), EMPTY.copy())
        ops = [Op("ADAPTIVE_AVG_POOL2D", "gate", [0], 1, kernel=(1, 1), iparams=none),
               Op("SLICE", "x", [0], 2, start=0, iparams=none)]
        gate = 1
        if flat:
            t.append(type(x)((c + 1,), dtype="int8", scale=x.scale, zero_point=x.zero_point))
            ops.append(Op("RESHAPE", "flat", [1], 3, iparams=none))
            gate = 3
        t.append(g.tensors[add.output])
        ops.append(Op("ADD", "add", [2, gate], len(t) - 1, iparams=add.iparams))
        g = Graph(t, 0, len(t) - 1, ops)
        h[f"i8_add_gate_channels{'_flat' if flat else ''}"] = (g, "LR_ERR_SHAPE_MISMATCH")
    h["i8_in_v3_blob"] = (conv(), "LR_ERR_VERSION")
    g = conv()
    for t in g.tensors:
        t.dtype = "fp32"
    g.constants[g.ops[0].weight].dtype = "fp32"
    h["i8_fields_in_fp32_model"] = (g, "LR_ERR_BAD_PARAMS")
    g = build("linrep", 7)
    for t in g.tensors:
        t.dtype = "fp32"
    g.ops[0].iparams, g.ops[0].linrep.b_exponent = None, None
    h["i8_codebook_in_fp32_model"] = (g, "LR_ERR_BAD_CODEBOOK")
    # version 5: an int8 model's integer LinRep layers store no a/b scales; version 4 stores one per row
    h["i8_linrep_no_scales_in_v4_blob"] = (build("linrep", 7), "LR_ERR_BAD_CONSTANT")
    h["i8_linrep_scales_in_v5_blob"] = (build("linrep", 7), "LR_ERR_BAD_CONSTANT")
    assert EMPTY.size == 0
    h.update(hostile_v4_geo())
    return h


def hostile_v4_geo() -> dict[str, tuple[Graph, str]]:
    """Int8 MUL, AFFINE, RESIZE, CONV_TRANSPOSE2D: one class per verifier rule (lr_verify_i8.c)."""
    from int8_graphs import build

    h: dict[str, tuple[Graph, str]] = {}

    def edit(kind: str, op: int, fn) -> Graph:  # type: ignore[no-untyped-def]
        g = build(kind, 3)
        fn(g, g.ops[op])
        return g

    def two(ip):  # type: ignore[no-untyped-def]
        ip.multiplier, ip.shift = np.repeat(ip.multiplier[:1], 2), np.repeat(ip.shift[:1], 2)

    h["i8_mul_two_multipliers"] = (edit("mul", 1, lambda g, op: two(op.iparams)), "LR_ERR_BAD_PARAMS")
    # 255 * 255 * 2^16 >= 2^31: the shifted product would overflow
    h["i8_mul_shift_16"] = (edit("mul_channel", 1, lambda g, op: op.iparams.shift.__setitem__(0, 16)), "LR_ERR_BAD_PARAMS")
    h["i8_mul_bias"] = (edit("mul", 1, lambda g, op: setattr(op.iparams, "bias", np.zeros(1, np.int32))),
                        "LR_ERR_BAD_CONSTANT")

    def affine_fp32(g: Graph, op: Op) -> None:
        c = g.constants[op.weight]
        c.dtype, c.q, c.scale = "fp32", None, None

    h["i8_affine_fp32_weight"] = (edit("affine", 0, affine_fp32), "LR_ERR_BAD_CONSTANT")
    h["i8_affine_bias_count"] = (edit("affine", 0, lambda g, op: setattr(op.iparams, "bias", np.zeros(1, np.int32)
                                                                         if g.tensors[0].shape[0] > 1 else
                                                                         np.zeros(2, np.int32))), "LR_ERR_BAD_CONSTANT")

    def affine_weights(g: Graph, op: Op) -> None:
        c = g.constants[op.weight]
        c.q, c.values = np.append(c.q, np.int8(1)), np.append(c.values, np.float32(1))
    h["i8_affine_weight_count"] = (edit("affine", 0, affine_weights), "LR_ERR_BAD_CONSTANT")
    h["i8_affine_multiplier_count"] = (edit("affine", 0, lambda g, op: setattr(op.iparams, "multiplier", np.repeat(
        op.iparams.multiplier[:1], g.tensors[0].shape[0] + 1)) or setattr(op.iparams, "shift", np.repeat(
            op.iparams.shift[:1], g.tensors[0].shape[0] + 1))), "LR_ERR_BAD_PARAMS")

    def affine_bound(g: Graph, op: Op) -> None:
        op.iparams.bias = np.full(g.tensors[0].shape[0], 2**31 - 100, np.int32)
    h["i8_affine_accumulator_bound"] = (edit("affine", 0, affine_bound), "LR_ERR_BAD_PARAMS")
    g = build("affine", 3)  # int8 AFFINE weights in an fp32 model: no kernel reads them
    for t in g.tensors:
        t.dtype = "fp32"
    g.ops[0].iparams = None
    h["i8_affine_in_fp32_model"] = (g, "LR_ERR_BAD_CONSTANT")
    h["i8_resize_quant_differs"] = (edit("resize_bilinear", 0, lambda g, op: setattr(g.tensors[1], "zero_point",
                                                                                     (g.tensors[0].zero_point + 1) % 100)),
                                    "LR_ERR_BAD_PARAMS")
    h["i8_resize_multiplier"] = (edit("resize_nearest", 0, lambda g, op: setattr(op, "iparams", IntParams(
        np.array([1 << 30], np.int32), np.zeros(1, np.int32)))), "LR_ERR_BAD_PARAMS")

    def past_input(g: Graph, op: Op) -> None:  # 1 row -> 2048: TFLite's integer position passes the last row
        g.tensors[0].shape = (g.tensors[0].shape[0], 1, 1)
        g.tensors[1].shape = (g.tensors[0].shape[0], 2048, 1)
    h["i8_resize_bilinear_past_input"] = (edit("resize_bilinear", 0, past_input), "LR_ERR_BAD_PARAMS")
    h["i8_conv_transpose_bias_count"] = (edit("conv_transpose", 0, lambda g, op: setattr(
        op.iparams, "bias", np.zeros(op.out_channels + 1, np.int32))), "LR_ERR_BAD_CONSTANT")
    h["i8_conv_transpose_multiplier_count"] = (edit("conv_transpose", 0, lambda g, op: setattr(
        op.iparams, "multiplier", np.repeat(op.iparams.multiplier[:1], op.out_channels + 1)) or setattr(
        op.iparams, "shift", np.repeat(op.iparams.shift[:1], op.out_channels + 1))), "LR_ERR_BAD_PARAMS")

    def ct_bound(g: Graph, op: Op) -> None:
        op.iparams.bias = np.full(op.out_channels, 2**31 - 100, np.int32)
    h["i8_conv_transpose_accumulator_bound"] = (edit("conv_transpose", 0, ct_bound), "LR_ERR_BAD_PARAMS")

    def ct_scales(g: Graph, op: Op) -> None:
        g.constants[op.weight].scale = np.ones(op.out_channels + 1, np.float32)
    h["i8_conv_transpose_scale_count"] = (edit("conv_transpose", 0, ct_scales), "LR_ERR_BAD_CONSTANT")

    def ct_fp32(g: Graph, op: Op) -> None:
        c = g.constants[op.weight]
        c.dtype, c.q, c.scale = "fp32", None, None
    h["i8_conv_transpose_fp32_weight"] = (edit("conv_transpose", 0, ct_fp32), "LR_ERR_BAD_CONSTANT")

    # a LinRep CONV_TRANSPOSE2D (grid (Cin, Cout/g)): check_linrep_transpose_s8
    def lct_bound(g: Graph, op: Op) -> None:  # every kernel's b shifted 2^24: the column bound exceeded
        op.linrep.b_exponent = np.full(op.out_channels, 24)
        op.linrep.b_q = np.where(op.linrep.b_q == 0, 1, op.linrep.b_q)
    h["i8_linrep_transpose_accumulator_bound"] = (edit("linrep_conv_transpose", 0, lct_bound), "LR_ERR_BAD_PARAMS")
    h["i8_linrep_transpose_exponent_range"] = (edit("linrep_conv_transpose", 0, lambda g, op: setattr(
        op.linrep, "b_exponent", np.full(op.out_channels, 32))), "LR_ERR_BAD_PARAMS")
    h["i8_linrep_transpose_exponent_count"] = (edit("linrep_conv_transpose", 0, lambda g, op: setattr(
        op.linrep, "b_exponent", np.zeros(op.out_channels + 1, np.int64))), "LR_ERR_BAD_CONSTANT")

    def lct_fp16_codebook(g: Graph, op: Op) -> None:
        g.codebooks[0].dtype, g.codebooks[0].q = "fp16", None
    h["i8_linrep_transpose_fp16_codebook"] = (edit("linrep_conv_transpose", 0, lct_fp16_codebook),
                                              "LR_ERR_BAD_CODEBOOK")
    h["i8_linrep_transpose_multiplier_count"] = (edit("linrep_conv_transpose", 0, lambda g, op: setattr(
        op.iparams, "multiplier", np.repeat(op.iparams.multiplier[:1], op.out_channels + 1)) or setattr(
        op.iparams, "shift", np.repeat(op.iparams.shift[:1], op.out_channels + 1))), "LR_ERR_BAD_PARAMS")
    return h


def int8_cases() -> dict[str, Graph]:
    """Valid int8 models run by test_int8.c (lr_run_i8 against the Python integer reference)."""
    from int8_graphs import KINDS, build

    return {f"i8_{kind}_{seed}": build(kind, seed) for kind in KINDS for seed in range(2)}


def _ct(pads=(1, 1, 1, 1), stride=(2, 2), dilation=(1, 1), kernel=(3, 3), out_shape=(2, 9, 9), wshape=(3, 2, 3, 3),
        dtype: str = "fp32") -> Graph:
    """A CONV_TRANSPOSE2D of a [3, 5, 5] input (2x upsampling plus output padding 1 by default)."""
    g = _single("CONV_TRANSPOSE2D", (3, 5, 5), out_shape, kernel=kernel, stride=stride, pads=pads, dilation=dilation,
                out_channels=out_shape[0])
    g.ops[0].weight = g.add_constant(np.ones(wshape), dtype)
    if dtype == "int8":
        c = g.constants[0]
        c.q, c.scale = np.ones(wshape, np.int8), np.ones(1, np.float32)
    return g


def _ct_linrep(scales: int = 0, wshape=None, kernel=(3, 3), index: int = 1) -> Graph:
    """_ct's transposed conv with LinRep weights over (Cin, Cout) = (3, 2) instead of a weight: fp16 a/b, or
    with `scales` > 0 4-bit a/b with that many scales; a dense weight of `wshape` as well; the codebook's
    kernels `kernel`; every index `index` (K = 4)."""
    g = _ct()
    g.ops[0].weight = -1
    g.constants.clear()
    g.codebooks.append(Codebook(np.ones((4, *kernel), np.float32)))
    lr = LinRepWeights(0, np.full((3, 2), index), np.ones((3, 2), np.float32), np.zeros((3, 2), np.float32), 3)
    if scales:
        lr.ab_bits, lr.a_q, lr.b_q = 4, np.ones((3, 2), np.int64), np.zeros((3, 2), np.int64)
        lr.a_scale = lr.b_scale = np.ones(scales, np.float32)
    g.ops[0].linrep = lr
    if wshape is not None:
        g.ops[0].weight = g.add_constant(np.ones(wshape))
    return g


def hostile_v3() -> dict[str, tuple[Graph, str]]:
    """At least one class per format-version-3 op and for Model.outputs."""
    big = 2**15 - 1
    h: dict[str, tuple[Graph, str]] = {}
    g = _single("TANH", (4,), (4,))
    g.ops[0].inputs = [0, 0]
    h["tanh_two_inputs"] = (g, "LR_ERR_BAD_PARAMS")
    h["hardsigmoid_shape"] = (_single("HARDSIGMOID", (2, 3, 3), (2, 3, 4)), "LR_ERR_SHAPE_MISMATCH")
    g = _single("SILU", (4,), (4,))
    g.ops[0].weight = g.add_constant(np.ones(4))
    h["silu_weight"] = (g, "LR_ERR_BAD_CONSTANT")
    h["clamp_nan_bound"] = (_single("CLAMP", (4,), (4,), alpha=0.0, beta=float("nan")), "LR_ERR_BAD_PARAMS")
    h["activation_on_tanh"] = (_single("TANH", (4,), (4,), activation="RELU"), "LR_ERR_BAD_PARAMS")
    # binary ops: only the op itself is wrong (the second input may broadcast over channels, never the first)
    g, op = _builder((3, 4, 4))
    g.output = op("MUL", [op("SLICE", [g.input], (2, 4, 4)), op("ADAPTIVE_AVG_POOL2D", [g.input], (3, 1, 1),
                                                                   kernel=(1, 1))], (2, 4, 4))
    h["mul_broadcast_channels"] = (g, "LR_ERR_SHAPE_MISMATCH")
    g, op = _builder((2, 4, 4))
    g.output = op("ADD", [g.input, op("ADAPTIVE_AVG_POOL2D", [g.input], (2, 4, 1), kernel=(4, 1))], (2, 4, 4))
    h["add_broadcast_rows"] = (g, "LR_ERR_SHAPE_MISMATCH")
    g, op = _builder((2, 4, 4))
    g.output = op("MUL", [op("ADAPTIVE_AVG_POOL2D", [g.input], (2, 1, 1), kernel=(1, 1)), g.input], (2, 4, 4))
    h["mul_broadcast_first"] = (g, "LR_ERR_SHAPE_MISMATCH")
    g = _single("MUL", (4,), (4,))
    h["mul_one_input"] = (g, "LR_ERR_BAD_PARAMS")
    g, op = _builder((2, 4, 4))  # SUB (format version 7): ADD's shape rules, the gate never first
    g.output = op("SUB", [op("ADAPTIVE_AVG_POOL2D", [g.input], (2, 1, 1), kernel=(1, 1)), g.input], (2, 4, 4))
    h["sub_broadcast_first"] = (g, "LR_ERR_SHAPE_MISMATCH")
    g, op = _builder((2, 4, 4))
    g.output = op("SUB", [g.input, op("ADAPTIVE_AVG_POOL2D", [g.input], (2, 4, 1), kernel=(4, 1))], (2, 4, 4))
    h["sub_broadcast_rows"] = (g, "LR_ERR_SHAPE_MISMATCH")
    h["sub_one_input"] = (_single("SUB", (4,), (4,)), "LR_ERR_BAD_PARAMS")
    # MUL by a gate per pixel (format version 8): [1, H, W] of the same H, W, second, and only for MUL
    g, op = _builder((2, 4, 4))
    narrow = op("MAX_POOL2D", [op("SLICE", [g.input], (1, 4, 4), start=0)], (1, 4, 3), kernel=(1, 2))
    g.output = op("MUL", [g.input, narrow], (2, 4, 4))
    h["mul_pixel_width"] = (g, "LR_ERR_SHAPE_MISMATCH")
    for kind in ("ADD", "SUB"):
        g, op = _builder((2, 4, 4))
        g.output = op(kind, [g.input, op("SLICE", [g.input], (1, 4, 4), start=1)], (2, 4, 4))
        h[f"{kind.lower()}_pixel"] = (g, "LR_ERR_SHAPE_MISMATCH")
    g, op = _builder((2, 4, 4))
    g.output = op("MUL", [op("SLICE", [g.input], (1, 4, 4), start=0), g.input], (2, 4, 4))
    h["mul_pixel_first"] = (g, "LR_ERR_SHAPE_MISMATCH")
    g, op = _builder((3, 4, 4))
    g.output = op("MUL", [g.input, op("SLICE", [g.input], (2, 4, 4), start=0)], (3, 4, 4))
    h["mul_pixel_two_channels"] = (g, "LR_ERR_SHAPE_MISMATCH")
    g, op = _builder((2, 4, 4))
    g.output = op("MUL", [g.input, op("RESHAPE", [g.input], (1, 4, 8))], (2, 4, 4))
    h["mul_pixel_count"] = (g, "LR_ERR_SHAPE_MISMATCH")
    # PIXEL_SHUFFLE (format version 8): r in stride_h = stride_w, 1 .. 255; modes 0-3; r^2 divides the depth side
    h["pixel_shuffle_mode_four"] = (_single("PIXEL_SHUFFLE", (4, 2, 2), (1, 4, 4), mode=4, stride=(2, 2)),
                                    "LR_ERR_BAD_PARAMS")
    h["pixel_shuffle_r_zero"] = (_single("PIXEL_SHUFFLE", (4, 2, 2), (4, 2, 2), stride=(0, 0)), "LR_ERR_BAD_PARAMS")
    h["pixel_shuffle_r_negative"] = (_single("PIXEL_SHUFFLE", (4, 2, 2), (4, 2, 2), stride=(-2, -2)),
                                     "LR_ERR_BAD_PARAMS")
    h["pixel_shuffle_r_huge"] = (_single("PIXEL_SHUFFLE", (4, 2, 2), (4, 2, 2), stride=(32767, 32767)),
                                 "LR_ERR_BAD_PARAMS")
    h["pixel_shuffle_r_unequal"] = (_single("PIXEL_SHUFFLE", (4, 2, 2), (1, 4, 4), stride=(2, 1)), "LR_ERR_BAD_PARAMS")
    h["pixel_shuffle_depth"] = (_single("PIXEL_SHUFFLE", (6, 2, 2), (1, 4, 4), stride=(2, 2)), "LR_ERR_BAD_PARAMS")
    h["pixel_unshuffle_odd"] = (_single("PIXEL_SHUFFLE", (1, 5, 4), (4, 2, 2), mode=1, stride=(2, 2)),
                                "LR_ERR_BAD_PARAMS")
    h["pixel_shuffle_output"] = (_single("PIXEL_SHUFFLE", (8, 2, 2), (2, 4, 2), mode=2, stride=(2, 2)),
                                 "LR_ERR_SHAPE_MISMATCH")
    h["pixel_shuffle_flat"] = (_single("PIXEL_SHUFFLE", (16,), (4,), stride=(2, 2)), "LR_ERR_BAD_PARAMS")
    h["pixel_shuffle_wide"] = (_single("PIXEL_SHUFFLE", (4, 2, 40000), (1, 4, 80000 % 65536), stride=(2, 2)),
                               "LR_ERR_SHAPE_MISMATCH")
    h["resize_mode_four"] = (_single("RESIZE", (2, 3, 3), (2, 6, 6), mode=4), "LR_ERR_BAD_PARAMS")
    h["resize_any_channels"] = (_single("RESIZE", (2, 3, 3), (3, 5, 7), mode=3), "LR_ERR_SHAPE_MISMATCH")
    h["resize_nearest_fraction"] = (_single("RESIZE", (2, 4, 4), (2, 6, 8), mode=0), "LR_ERR_BAD_PARAMS")
    h["resize_channels"] = (_single("RESIZE", (2, 3, 3), (3, 6, 6), mode=1), "LR_ERR_SHAPE_MISMATCH")
    h["resize_flat"] = (_single("RESIZE", (8,), (16,), mode=0), "LR_ERR_BAD_PARAMS")
    h["pad_negative"] = (_single("PAD", (2, 3, 3), (2, 2, 3), pads=(-1, 0, 0, 0)), "LR_ERR_BAD_PARAMS")
    h["pad_output_shape"] = (_single("PAD", (2, 3, 3), (2, 5, 5), pads=(1, 1, 1, 0)), "LR_ERR_SHAPE_MISMATCH")
    h["pad_huge"] = (_single("PAD", (1, 3, 3), (1, 3, 3), pads=(big, big, big, big)), "LR_ERR_SHAPE_MISMATCH")
    h["slice_past_end"] = (_single("SLICE", (6, 2, 2), (3, 2, 2), start=4), "LR_ERR_BAD_PARAMS")
    h["slice_negative_start"] = (_single("SLICE", (6,), (3,), start=-1), "LR_ERR_BAD_PARAMS")
    h["slice_start_huge"] = (_single("SLICE", (6,), (3,), start=2**31 - 1), "LR_ERR_BAD_PARAMS")
    h["slice_rows"] = (_single("SLICE", (6, 2, 2), (3, 2, 1), start=1), "LR_ERR_SHAPE_MISMATCH")
    h["transpose_hwc_flat_input"] = (_single("TRANSPOSE_HWC", (6,), (6,)), "LR_ERR_BAD_PARAMS")
    h["transpose_hwc_rank3_output"] = (_single("TRANSPOSE_HWC", (2, 3, 3), (3, 3, 2)), "LR_ERR_SHAPE_MISMATCH")
    h["pad_mode_three"] = (_single("PAD", (2, 3, 3), (2, 4, 3), pads=(1, 0, 0, 0), mode=3), "LR_ERR_BAD_PARAMS")
    h["pad_reflect_too_wide"] = (_single("PAD", (2, 3, 3), (2, 3, 6), pads=(0, 3, 0, 0), mode=1), "LR_ERR_BAD_PARAMS")
    h["pad_reflect_rows"] = (_single("PAD", (2, 3, 3), (2, 6, 3), pads=(0, 0, 3, 0), mode=1), "LR_ERR_BAD_PARAMS")
    nan = float("nan")
    for name, (mode, alpha, beta) in {"unary_mode": (11, 0.0, 0.0), "unary_mode_255": (255, 0.0, 0.0),
                                      "unary_scale_inf": (10, float("inf"), 0.0),
                                      "unary_softshrink_negative": (9, -0.5, 0.0),
                                      "unary_softshrink_nan": (9, nan, 0.0),
                                      "unary_alpha_nan": (2, nan, 1.0), "unary_beta_nan": (7, 0.0, nan),
                                      "unary_celu_alpha_zero": (3, 0.0, 0.0),
                                      "unary_softplus_beta_zero": (4, 0.0, 20.0),
                                      "unary_softplus_beta_negative": (4, -1.0, 20.0),
                                      "unary_softplus_beta_inf": (4, float("inf"), 20.0)}.items():
        h[name] = (_single("UNARY", (4, 2, 2), (4, 2, 2), mode=mode, alpha=alpha, beta=beta), "LR_ERR_BAD_PARAMS")
    h["unary_output_shape"] = (_single("UNARY", (4, 2, 2), (4, 4, 1), mode=0), "LR_ERR_SHAPE_MISMATCH")
    g = _single("UNARY", (4, 2, 2), (4, 2, 2), mode=0)
    g.ops[0].weight = g.add_constant(np.ones(4))
    h["unary_weight"] = (g, "LR_ERR_BAD_CONSTANT")
    g = _single("UNARY", (4, 2, 2), (4, 2, 2), mode=0)
    g.ops[0].iparams = IntParams(np.zeros(0, np.int32), np.zeros(0, np.int32), table=np.zeros(256, np.int8))
    h["unary_table_in_fp32_model"] = (g, "LR_ERR_BAD_CONSTANT")
    h["shuffle_groups_zero"] = (_single("CHANNEL_SHUFFLE", (6, 2, 2), (6, 2, 2), groups=0), "LR_ERR_BAD_PARAMS")
    h["shuffle_groups_negative"] = (_single("CHANNEL_SHUFFLE", (6, 2, 2), (6, 2, 2), groups=-2), "LR_ERR_BAD_PARAMS")
    h["shuffle_groups_not_dividing"] = (_single("CHANNEL_SHUFFLE", (6, 2, 2), (6, 2, 2), groups=4), "LR_ERR_BAD_PARAMS")
    h["shuffle_groups_huge"] = (_single("CHANNEL_SHUFFLE", (6, 2, 2), (6, 2, 2), groups=2**31 - 1), "LR_ERR_BAD_PARAMS")
    h["shuffle_flat_input"] = (_single("CHANNEL_SHUFFLE", (6,), (6,), groups=2), "LR_ERR_BAD_PARAMS")
    h["shuffle_output_shape"] = (_single("CHANNEL_SHUFFLE", (6, 2, 2), (3, 2, 4), groups=2), "LR_ERR_SHAPE_MISMATCH")
    g = _single("AFFINE", (3, 2, 2), (3, 2, 2))
    g.ops[0].weight = g.add_constant(np.ones(2))
    h["affine_weight_count"] = (g, "LR_ERR_BAD_CONSTANT")
    h["affine_no_weight"] = (_single("AFFINE", (3,), (3,)), "LR_ERR_BAD_CONSTANT")
    g = _single("AFFINE", (3,), (3,))
    g.ops[0].weight = g.add_constant(np.ones(3))
    g.ops[0].bias = g.add_constant(np.ones(4))
    h["affine_bias_count"] = (g, "LR_ERR_BAD_CONSTANT")
    h["conv_transpose_output_padding"] = (_ct(out_shape=(2, 11, 9)), "LR_ERR_SHAPE_MISMATCH")  # output_padding 3 >= 2
    h["conv_transpose_asymmetric_pad"] = (_ct(pads=(1, 1, 0, 1), out_shape=(2, 10, 9)), "LR_ERR_BAD_PARAMS")
    h["conv_transpose_weight_shape"] = (_ct(wshape=(3, 2, 3, 2)), "LR_ERR_BAD_CONSTANT")  # not [Cin, Cout, kh, kw]
    h["conv_transpose_int8"] = (_ct(dtype="int8"), "LR_ERR_BAD_CONSTANT")
    h["conv_transpose_stride_zero"] = (_ct(stride=(0, 2)), "LR_ERR_BAD_PARAMS")
    h["conv_transpose_huge"] = (_ct(stride=(big, big), dilation=(big, big), kernel=(big, 3), pads=(big, 1, big, 1),
                                    wshape=(3, 2, big, 3)), "LR_ERR_SHAPE_MISMATCH")
    # LinRep CONV_TRANSPOSE2D: the LinRep rules over the grid (Cin, Cout/groups), and no dense weight beside them
    h["conv_transpose_linrep_and_weight"] = (_ct_linrep(wshape=(3, 2, 3, 3)), "LR_ERR_BAD_CONSTANT")
    h["conv_transpose_linrep_scales_per_cout"] = (_ct_linrep(scales=2), "LR_ERR_BAD_CONSTANT")  # rows are Cin = 3
    h["conv_transpose_linrep_codebook_shape"] = (_ct_linrep(kernel=(3, 2)), "LR_ERR_BAD_CODEBOOK")
    h["conv_transpose_linrep_index_range"] = (_ct_linrep(index=5), "LR_ERR_INDEX_RANGE")
    g = _single("RELU", (2, 3, 3), (2, 3, 3))
    g.codebooks.append(Codebook(np.ones((4, 3, 3), np.float32)))
    g.ops[0].linrep = LinRepWeights(0, np.zeros((2, 2), np.int64), np.ones((2, 2), np.float32),
                                    np.zeros((2, 2), np.float32), 2)
    h["linrep_on_relu"] = (g, "LR_ERR_BAD_PARAMS")
    h["softmax_two_inputs"] = (_single("SOFTMAX", (2, 3, 3), (2, 3, 3)), "LR_ERR_BAD_PARAMS")
    h["softmax_two_inputs"][0].ops[0].inputs = [0, 0]
    for name, outputs, status in (("outputs_input", [1, 0], "LR_ERR_BAD_GRAPH"),
                                  ("outputs_first_not_output", [2, 1], "LR_ERR_BAD_GRAPH"),
                                  ("outputs_out_of_range", [1, 3], "LR_ERR_BAD_GRAPH"),
                                  ("outputs_too_many", [1] * 200, "LR_ERR_TOO_MANY")):
        g = Graph(tensors=[], input=-1, output=-1, ops=[])
        x = g.input = g.add_tensor((4,))
        g.ops.append(Op("RELU", "a", [x], g.add_tensor((4,))))
        g.ops.append(Op("SIGMOID", "b", [x], g.add_tensor((4,))))
        g.output, g.outputs = 1, outputs
        h[name] = (g, status)
    return h


def hostile_bytes(name: str, g: Graph) -> bytes:
    """The blob of a hostile case; the kernel-mask cases are edited after packing (the packer cannot write
    them): a mask one byte short, a padding bit set, one more kernel kept than indices stored."""
    if name in VERSION_WRITE:
        from unittest import mock

        from linrep_edge.format import writer

        with mock.patch.object(writer, "format_version_needed", lambda _: VERSION_WRITE[name]):
            blob = bytearray(pack_graph(g, strict=False))
    else:
        blob = bytearray(pack_graph(g, strict=False))
    if name in VERSION_PATCH:
        from linrep_edge.format.fb.Model import Model as FbModel

        model = FbModel.GetRootAs(bytes(blob), 0)
        pos = model._tab.Pos + model._tab.Offset(6)  # Model.format_version (slot 1)
        blob[pos:pos + 4] = VERSION_PATCH[name].to_bytes(4, "little")
        return fix_crc(bytes(blob))
    if not name.startswith("mask_"):
        return bytes(blob)
    from linrep_edge.format.fb.Model import Model as FbModel

    op = FbModel.GetRootAs(bytes(blob), 0).Ops(0)
    vec = op._tab.Vector(op._tab.Offset(68))  # Op.kernel_mask (slot 32): first byte of the mask
    if name == "mask_short":
        blob[vec - 4:vec] = (1).to_bytes(4, "little")
    elif name == "mask_padding_bit":
        blob[vec + 1] |= 0x80
    else:  # mask_count: kernel 1 marked kept again, indices and a/b stay for 8 kernels
        blob[vec] |= 0x02
    blob[:] = fix_crc(bytes(blob))
    return bytes(blob)


ELEMENT_BYTES = {"float": 4, "int32": 4, "uint32": 4, "ushort": 2, "short": 2, "ubyte": 1, "byte": 1, "bool": 1,
                 "Shape": 8, "TensorQuant": 8, "Op": 4, "Codebook": 4}  # tables: a vector of 4-byte offsets


def vector_slots() -> dict[str, dict[int, int]]:
    """Table name -> {slot (field number): element bytes} of its vector and string fields (tools/gen_schema.py's
    reading of the schema, the one lr_schema.h is generated from)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    from gen_schema import schema_tables

    return {table: {slot: 1 if ftype == "string" else ELEMENT_BYTES[ftype.strip("[]")]
                    for slot, (_, ftype, _) in enumerate(fields) if ftype == "string" or ftype.startswith("[")}
            for table, fields in schema_tables().items()}


def vector_positions(blob: bytes) -> list[tuple[int, int]]:
    """(byte position of the length word, element bytes) of every vector and string the blob holds (the
    model's, each op's and each codebook's), for test_corrupt --vectors: each is made shorter in place, one at
    a time, and the bytes it no longer holds are poisoned."""
    from linrep_edge.format.fb.Model import Model as FbModel

    slots = vector_slots()
    model = FbModel.GetRootAs(blob, 0)
    tables = [("Model", model._tab)] + [("Op", model.Ops(i)._tab) for i in range(model.OpsLength())]
    tables += [("Codebook", model.Codebooks(i)._tab) for i in range(model.CodebooksLength())]
    positions = []
    for name, tab in tables:
        for slot, size in slots[name].items():
            o = tab.Offset(4 + 2 * slot)
            if o:
                positions.append((tab.Vector(o) - 4, size))
    return sorted(positions)


def fix_crc(blob: bytes) -> bytes:
    from linrep_edge.format.writer import blob_crc, crc_field_offset

    b = bytearray(blob)
    off = crc_field_offset(blob)
    b[off:off + 4] = blob_crc(b).to_bytes(4, "little")
    return bytes(b)


def main() -> None:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    direct_only = []  # fp32 blobs with pruned kernels in a LINREP_CONV2D: the direct path only (LR_LINREP_PATHS)
    rng = np.random.default_rng(0)
    for name, blob in cases().items():
        ref_model = GraphModel(parse(blob).graph).eval()
        if any(op.type == "LINREP_CONV2D" and op.linrep is not None and op.linrep.mask is not None
               for op in ref_model.graph.ops):
            direct_only.append(name)
        shape = ref_model.graph.tensors[ref_model.graph.input].shape
        n = 4
        x = rng.standard_normal((n, *shape)).astype("<f4")
        with torch.no_grad():
            y = ref_model(torch.from_numpy(x))
        ys = y if isinstance(y, tuple) else (y,)  # several outputs: concatenated per input, as lr_run writes them
        y = np.concatenate([t.reshape(n, -1).numpy() for t in ys], 1).astype("<f4")
        (out_dir / f"{name}.lre").write_bytes(blob)
        (out_dir / f"{name}.in").write_bytes(x.tobytes())
        (out_dir / f"{name}.ref").write_bytes(y.tobytes())
        manifest.append(f"{name} {n}")
    (out_dir / "corrupt.txt").write_text("tiny_linrep.lre\ntiny_dense_fp16.lre\nv3_ops_fp16.lre\nv3_heads.lre\n"
                                        "v6_shuffle.lre\nv7_unary.lre\nv8_pixel.lre\n"
                                        "i8_chain_0.lre\ni8_linrep_masked_1.lre\ni8_linrep_0.lre\n")
    rejects = []
    for name, (g, status) in hostile().items():
        (out_dir / f"hostile_{name}.lre").write_bytes(hostile_bytes(name, g))
        rejects.append(f"hostile_{name}.lre {status}")
    (out_dir / "reject.txt").write_text("\n".join(rejects) + "\n")
    int8_ops: list[str] = []
    int8 = []  # NAME N: NAME.lre, NAME.in8 (N int8 inputs), NAME.ref8 (their outputs by run_int8, concatenated)
    for name, g in int8_cases().items():
        r = np.random.default_rng(len(int8))
        xs = r.integers(-128, 128, (3, *g.tensors[0].shape)).astype(np.int8)
        refs = [np.concatenate([y.reshape(-1) for y in run_int8(g, x)]) for x in xs]
        (out_dir / f"{name}.lre").write_bytes(pack_graph(g))
        (out_dir / f"{name}.in8").write_bytes(xs.tobytes())
        (out_dir / f"{name}.ref8").write_bytes(np.stack(refs).astype(np.int8).tobytes())
        int8.append(f"{name} {len(xs)}")
        types = [getattr(OpType, op.type) for op in g.ops]  # the schema's numbers, from the Python side
        int8_ops.append(f"{name} {len(types)} " + " ".join(map(str, types)))
    (out_dir / "int8.txt").write_text("\n".join(int8) + "\n")
    # NAME K t0 .. tK-1: the op types of each int8 blob, in op order (test_int8 in a build with -DLR_OPS)
    (out_dir / "int8_ops.txt").write_text("\n".join(int8_ops) + "\n")
    # NAME.vec: the length words of every vector and string of each valid blob (test_corrupt --vectors under make
    # sanitize shortens each in place: to 0, 1 and one short); vectors.txt names the blobs
    valid = [line.split()[0] for line in manifest + int8]
    for name in valid:
        (out_dir / f"{name}.vec").write_text(
            "\n".join(f"{p} {size}" for p, size in vector_positions((out_dir / f"{name}.lre").read_bytes())) + "\n")
    (out_dir / "vectors.txt").write_text("\n".join(f"{name}.lre" for name in valid) + "\n")
    # NAME per line: the fp32 blobs a build without the direct path refuses (test_blobs with -DLR_LINREP_PATHS=2)
    (out_dir / "direct_only.txt").write_text("\n".join(direct_only) + "\n")
    (out_dir / "manifest.txt").write_text("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
