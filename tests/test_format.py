"""The .lre format: golden bit layout, pack→read round trips per op, BN folding, checks on bad blobs."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from linrep_edge.format import writer as pack_mod
from linrep_edge.format.bitpack import pack_indices, unpack_indices
from linrep_edge.graph.capture import capture
from linrep_edge.method.compress import compress
from linrep_edge.errors import LinRepError
from linrep_edge.graph.executor import GraphModel
from linrep_edge.format.writer import pack_graph
from linrep_edge.format.reader import parse
from linrep_edge.format.report import storage_report

ROOT = Path(__file__).resolve().parent.parent

# Golden bytes: the bit layout of linrep_edge/bitpack.py and docs/FORMAT.md, written out by hand.
GOLDEN = [
    (1, [1, 0, 1, 1, 0, 0, 0, 1, 1], b"\x8d\x01"),  # bits LSB first: 1011 0001 | 1
    (3, [5, 1, 7], b"\xcd\x01"),  # the worked example of the docs
    (4, [0x1, 0x2, 0x3, 0x4, 0xF], b"\x21\x43\x0f"),  # nibbles, low nibble first
    (7, [0x7F, 0x00, 0x55], b"\x7f\x40\x15"),  # 1111111|0000000|1010101 → 0x7f, 0x40, 0x15
    (8, [0, 255, 17], b"\x00\xff\x11"),
    (12, [0xABC, 0x123], b"\xbc\x3a\x12"),  # 0xABC then 0x123: bc | 3a | 12
    (16, [0xBEEF, 0x0102], b"\xef\xbe\x02\x01"),
]


@pytest.mark.parametrize("width,values,golden", GOLDEN)
def test_bitpack_golden_bytes(width, values, golden):
    assert pack_indices(np.array(values), width) == golden
    assert unpack_indices(golden, len(values), width).tolist() == values


def test_bitpack_rejects_out_of_range():
    with pytest.raises(LinRepError):
        pack_indices(np.array([8]), 3)
    with pytest.raises(LinRepError):
        pack_indices(np.array([1]), 17)


def test_generated_code_matches_its_sources():
    """Banner hash of every generated file equals its source's (the schema, or linrep.h for the ctypes
    binding's abi.py); a full regeneration (flatc is installed by `make test`) changes nothing."""
    for source, gen in (("linrep_edge/format/schema/lre.fbs",
                         [*(ROOT / "linrep_edge/format/fb").glob("*.py"), ROOT / "runtime_c/src/lr_schema.h"]),
                        ("runtime_c/include/linrep.h", [ROOT / "linrep_edge/runtime/abi.py"])):
        digest = hashlib.sha256((ROOT / source).read_bytes()).hexdigest()
        assert len(gen) >= 1
        for p in gen:
            assert f"sha256 of the source: {digest}" in p.read_text(), f"{p} is stale: run `make schema`"
    r = subprocess.run([sys.executable, str(ROOT / "tools/gen_schema.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# -- one small model per op ------------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self, body, channels: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.body = body

    def forward(self, x):
        return self.body(self.conv(x))


class Lambda(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return torch.cat([self.a(x) + x, self.b(x)], 1)


OP_MODELS = {
    "conv_variants": nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=3),
                                   nn.Conv2d(6, 6, 5, padding=2, groups=6), nn.Conv2d(6, 4, (3, 1), padding=(1, 0)),
                                   nn.Conv2d(4, 4, 3, padding="same")),
    "relu": nn.ReLU(), "relu6": nn.ReLU6(), "leaky_relu": nn.LeakyReLU(0.2), "prelu": nn.PReLU(4),
    "prelu_single": nn.PReLU(), "sigmoid": nn.Sigmoid(), "hardswish": nn.Hardswish(),
    "max_pool": nn.MaxPool2d(3, 2, 1), "max_pool_dilated": nn.MaxPool2d(2, 1, 0, dilation=2),
    "avg_pool": nn.AvgPool2d(3, 2, 1), "avg_pool_excl": nn.AvgPool2d(3, 2, 1, count_include_pad=False),
    "adaptive": nn.AdaptiveAvgPool2d((3, 2)), "global_mean": Lambda(lambda x: x.mean((2, 3))),
    "residual_concat": Residual(),
    "flatten_linear_softmax": nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(4 * 9 * 9, 5), nn.Softmax(1)),
    "batchnorm": nn.Sequential(nn.BatchNorm2d(4), nn.ReLU()),
}


@pytest.mark.parametrize("name", sorted(OP_MODELS))
def test_round_trip_per_op(name):
    torch.manual_seed(0)
    model = Net(OP_MODELS[name], 3).eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    cm, _ = compress(model, templates=4, show_progress=False)
    g = capture(cm, torch.zeros(1, 3, 9, 9))
    blob = pack_graph(g)
    back = parse(blob).graph
    assert pack_graph(back) == blob  # exact round trip: every stored bit equal
    x = torch.randn(3, 3, 9, 9)
    # a BN scale folded into a and b is rounded to fp16 once more: allow that rounding there
    tol = 2e-3 if name == "batchnorm" else 1e-5
    with torch.no_grad():
        assert torch.allclose(GraphModel(back)(x), cm(x), rtol=tol, atol=tol)


def test_fp16_storage_round_trips_bit_exactly():
    torch.manual_seed(1)
    cm, _ = compress(Net(nn.Sequential(nn.Conv2d(4, 4, 1), nn.Flatten(), nn.Linear(4 * 81, 3)), 3).eval(),
                     templates=4, codebook_dtype="fp32", show_progress=False)
    g = capture(cm, torch.zeros(1, 3, 9, 9))
    for c in g.constants:
        c.dtype = "fp16"
    blob = pack_graph(g)
    back = parse(blob).graph
    assert all(c.dtype == "fp16" for c in back.constants) and back.codebooks[0].dtype == "fp32"
    bits = lambda v: v.astype(np.float16).view(np.uint16)  # noqa: E731
    for o0, o1 in zip(g.ops, back.ops):
        for f in ("weight", "bias"):
            i0, i1 = getattr(o0, f), getattr(o1, f)
            assert (i0 < 0) == (i1 < 0)
            if i0 >= 0:
                assert np.array_equal(bits(g.constants[i0].values), bits(back.constants[i1].values))
        if o0.linrep is not None:
            assert np.array_equal(o0.linrep.idx, o1.linrep.idx)
            assert np.array_equal(bits(o0.linrep.a), bits(o1.linrep.a))
    assert pack_graph(back) == blob


def test_bn_folding_matches_unfolded_model(small_resnet):
    """Folding in float64 before fp16 storage: dense and LinRep layers within 1e-5 of the unfolded model."""
    x = torch.randn(4, 1, 28, 28)
    g = capture(small_resnet, torch.zeros(1, 1, 28, 28))
    assert not any(op.type == "BATCH_NORM" for op in g.ops)
    with torch.no_grad():
        assert torch.allclose(GraphModel(g)(x), small_resnet(x), atol=1e-5, rtol=1e-5)
    cm, _ = compress(small_resnet, templates=8, show_progress=False)
    g2 = capture(cm, torch.zeros(1, 1, 28, 28))
    with torch.no_grad():
        assert torch.allclose(GraphModel(g2)(x), cm(x), atol=1e-5, rtol=1e-5)


def test_unsupported_op_error_names_op_and_module():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.act = nn.Softsign()  # x / (1 + |x|): abs and a division by a tensor

        def forward(self, x):
            return self.act(self.conv(x))

    with pytest.raises(LinRepError, match=r"unsupported operation: abs.* at act \(Softsign\)"):
        capture(Odd().eval(), torch.zeros(1, 1, 8, 8))


def test_refusals_say_what_to_write_instead():
    """Operations users reach for that have no op of their own: the refusal says what is supported instead (a GELU
    written by hand with erf or x ** 3, a LayerNorm, torch.stack)."""
    import math

    class Written(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.ln = nn.Conv2d(3, 4, 3, padding=1), nn.LayerNorm([4, 6, 6])

        def forward(self, x):
            x = self.conv(x)
            exact = 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
            approx = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * torch.pow(x, 3))))
            return torch.stack([exact, approx], 1).flatten(1, 2), self.ln(x)

    with pytest.raises(LinRepError) as info:
        capture(Written().eval(), torch.zeros(1, 3, 6, 6))
    text = str(info.value)
    assert "erf.default at <top level> (Written) (a GELU written by hand? F.gelu(x) or nn.GELU() is one op)" in text
    assert "F.gelu(x, approximate='tanh') is one op" in text
    assert "layer_norm.default at ln (LayerNorm) (normalising over each sample is not supported" in text
    assert "stack.default at <top level> (Written) (torch.cat along the channels is supported)" in text


def test_same_inputs_same_seed_identical_blob(small_resnet):
    blobs = []
    for _ in range(2):
        cm, _ = compress(small_resnet, templates=8, seed=3, show_progress=False)
        blobs.append(pack_graph(capture(cm, torch.zeros(1, 1, 28, 28))))
    assert hashlib.sha256(blobs[0]).digest() == hashlib.sha256(blobs[1]).digest()


def test_sections_add_up_to_file_size(small_resnet):
    cm, _ = compress(small_resnet, templates=8, show_progress=False)
    blob = pack_graph(capture(cm, torch.zeros(1, 1, 28, 28)))
    rep = storage_report(blob)
    assert sum(rep.sections.values()) == len(blob)
    assert rep.sections["indices"] == sum(r.indices_bytes for r in rep.layers)
    # fp16 a and b: 2 bytes per kernel each; 3-bit indices
    n = sum(r.kernels for r in rep.layers if r.kind == "LINREP_CONV2D")
    assert rep.sections["a"] == rep.sections["b"] == 2 * n
    assert rep.sections["codebooks"] == 8 * 9 * 2


def _blob(small_resnet) -> bytes:
    cm, _ = compress(small_resnet, templates=4, show_progress=False)
    return pack_graph(capture(cm, torch.zeros(1, 1, 28, 28)))


def test_corrupted_truncated_wrong_type_newer_version(small_resnet, monkeypatch):
    blob = _blob(small_resnet)
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x10
    with pytest.raises(LinRepError, match=r"CRC-32 mismatch .*LR_ERR_CRC"):
        parse(bytes(flipped))
    for cut in (3, 100, len(blob) - 1):
        with pytest.raises(LinRepError):
            parse(blob[:cut])
    with pytest.raises(LinRepError, match="not a .lre blob"):
        parse(b"\x89PNG\r\n\x1a\n" + bytes(100))
    monkeypatch.setattr(pack_mod, "format_version_needed", lambda g: pack_mod.FORMAT_VERSION + 1)
    newer = _blob(small_resnet)
    monkeypatch.undo()
    with pytest.raises(LinRepError, match=f"format version {pack_mod.FORMAT_VERSION + 1} is newer"):
        parse(newer)
