"""Users' own networks: every architecture of tests/zoo.py, at its native input size, packs (LinRep on
every k×k conv, transposed ones too, K = 16 per kernel shape) and runs through the C runtime with the same answers as the
compressed torch model (within 1e-4 of the output scale) on every output head; the torch rebuild of the
blob agrees too. Models the runtime cannot run are refused with every problem at once.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from zoo import ZOO, build

from linrep_edge.format.reader import parse
from linrep_edge.format.writer import pack_graph
from linrep_edge.graph.capture import CaptureError, capture
from linrep_edge.graph.executor import GraphModel
from linrep_edge.pipeline import PackSettings, pack_model


def _outputs(y) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    return [t.detach().numpy() for t in (y if isinstance(y, (tuple, list)) else (y,))]


def _close(got: list[np.ndarray], want: list[np.ndarray], rtol: float = 1e-4) -> float:
    """Largest error relative to each head's output scale; asserts it is within rtol."""
    assert len(got) == len(want)
    worst = 0.0
    for g, w in zip(got, want):
        g, w = g.reshape(w.shape), w
        err = float(np.max(np.abs(g - w)) / max(float(np.max(np.abs(w))), 1e-6))
        assert np.isfinite(g).all() and err <= rtol, err
        worst = max(worst, err)
    return worst


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_network_packs_and_runs_in_c_like_torch(crt, name):
    model, example = build(name)
    res = pack_model(model, example, PackSettings(templates=16, weights_dtype="fp32", codebook_dtype="fp32",
                                                  cap_templates=True), name, show_progress=False)
    g = parse(res.blob).graph
    assert any(op.type == "LINREP_CONV2D" for op in g.ops), "no conv was compressed"
    # transposed convs (tiny_unet's 2x2 upsampling, odd_convs' 3x3 with output padding) are LinRep too
    assert all(op.linrep is not None for op in g.ops if op.type == "CONV_TRANSPOSE2D")
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, *example.shape[1:])).astype(np.float32))
    with torch.no_grad():
        want = _outputs(res.model(x))
        rebuilt = _outputs(GraphModel(g)(x))
    rt = crt(res.blob)
    got = rt.run_all(x.numpy())
    assert len(got) == len(want) == len(g.results)
    _close(got, want)
    _close(rebuilt, want)


def test_every_problem_is_listed_at_once(tmp_path):
    class Odd(nn.Module):
        def forward(self, x):  # three operations outside the op set
            return torch.erf(x) + torch.cumsum(x, 3) + torch.atan(x)

    with pytest.raises(CaptureError) as info:
        capture(Odd().eval(), torch.zeros(1, 2, 4, 4))
    assert len(info.value.problems) == 3
    text = str(info.value)
    assert "3 problems" in text and all(op in text for op in ("erf", "cumsum", "atan"))


def test_pack_check_lists_problems_and_passes_a_supported_model(tmp_path):
    mod = tmp_path / "user_nets.py"
    mod.write_text("import torch\nfrom torch import nn\n"
                   "class Bad(nn.Module):\n"
                   "    def __init__(self):\n        super().__init__(); self.c = nn.Conv2d(1, 2, 3)\n"
                   "    def forward(self, x):\n        return torch.erf(self.c(x)) + torch.atan(self.c(x))\n"
                   "def bad():\n    return Bad()\n"
                   "def good():\n    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU6(inplace=True))\n")
    env = {"PYTHONPATH": str(tmp_path) + ":" + ":".join(sys.path)}
    cli = [sys.executable, "-m", "linrep_edge.cli", "pack", "--check", "--input-shape", "1,1,8,8"]
    bad = subprocess.run([*cli, "user_nets:bad"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "erf" in bad.stderr and "atan" in bad.stderr and "Traceback" not in bad.stderr
    good = subprocess.run([*cli, "user_nets:good", "--json"], capture_output=True, text=True, env=env)
    assert good.returncode == 0, good.stderr
    import json

    assert json.loads(good.stdout)["op_types"] == {"CONV2D": 1}


class _Shuffles(nn.Module):
    """Channel splits and shuffles spelled the ways people write them (ShuffleNet, torchvision and others)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.conv(x)
        n, c, h, w = x.shape
        a = x.view(n, 3, c // 3, h, w).transpose(1, 2).contiguous().view(n, c, h, w)  # torchvision
        b = x.reshape(n, 4, c // 4, h, w).permute(0, 2, 1, 3, 4).flatten(1, 2)
        d = torch.flatten(torch.transpose(x.unflatten(1, (2, -1)), 1, 2), 1, 2)
        e = x.view(n, 2, c // 2, h, w).view(n, c, h, w)  # grouped and back: no channel moves
        p, q, r = x.chunk(3, dim=1)  # 4 + 4 + 4
        s, t = torch.tensor_split(x, [5], dim=1)  # 5 + 7
        u, v, z = torch.tensor_split(x, 3, dim=1)
        return a, b, d, e, torch.cat([r, p], 1) * torch.sigmoid(torch.cat([q, q], 1)), torch.cat([t, s], 1), v + z


def test_channel_shuffles_and_splits_run_in_c_like_torch(crt):
    model = _Shuffles().eval()
    x = torch.randn(2, 3, 6, 5)
    g = capture(model, x[:1])
    kinds = [op.type for op in g.ops]
    assert kinds.count("CHANNEL_SHUFFLE") == 3, kinds  # `e` moves no channel: no op
    assert [op.groups for op in g.ops if op.type == "CHANNEL_SHUFFLE"] == [3, 4, 2]
    blob = pack_graph(g)
    with torch.no_grad():
        want = _outputs(model(x))
    _close(crt(blob).run_all(x.numpy()), want, rtol=1e-5)


@pytest.mark.parametrize("body,message", [
    ("x.transpose(2, 3)", "transpose(2, 3)"),  # a transpose that is not part of a channel shuffle
    ("x.view(1, 2, 2, 4, 4).permute(0, 1, 2, 4, 3).reshape(1, 4, 4, 4)", "permute [0, 1, 2, 4, 3]"),
    ("x.view(1, 2, 2, 4, 4).transpose(1, 2).reshape(1, 2, 8, 4)", "reshape of a 5-D view"),
    ("torch.relu(x.view(1, 2, 2, 4, 4))", "5-D view"),
])
def test_refusals_of_5d_views_say_what_is_supported(body, message):
    class M(nn.Module):
        def forward(self, x):  # noqa: ANN001
            return eval(body)  # noqa: S307 -- the test's own literal

    with pytest.raises(CaptureError) as info:
        capture(M().eval(), torch.zeros(1, 4, 4, 4))
    text = str(info.value)
    assert message in text and "channel shuffle" in text, text


class _WrittenForms(nn.Module):
    """Activations and reductions as older code writes them, and one chain whose middle is read elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.conv((x - 0.5) / 0.25) * 2  # normalisation inside the model: two affine steps, one op
        hswish = x * self.act(x + 3.) / 6.  # mobilenetv3.pytorch's h_swish
        hsig = F.relu6(x + 3) / 6
        hswish2 = x * (torch.clamp(x + 3, 0, 6) * (1 / 6))
        silu = torch.sigmoid(x) * x
        kept = F.relu6(x + 3)  # read twice: no fusion
        partial = x * kept / 6 + kept
        gmax = F.adaptive_max_pool2d(hswish, 1).flatten(1)
        amax = hsig.amax((2, 3), keepdim=True)
        pool2 = F.adaptive_max_pool2d(silu, (3, 2))
        pool_idx = F.max_pool2d(hsig, 2, return_indices=True)[0]
        return gmax, amax, pool2, hswish2, -silu, 1 - hsig, partial, pool_idx, silu ** 2


def test_written_activations_and_max_reductions_run_in_c_like_torch(crt):
    model = _WrittenForms().eval()
    x = torch.randn(2, 3, 6, 4) * 2
    g = capture(model, x[:1])
    kinds = [op.type for op in g.ops]
    assert kinds.count("HARDSWISH") == 2 and kinds.count("HARDSIGMOID") == 1 and kinds.count("SILU") == 1, kinds
    assert kinds.count("MAX_POOL2D") == 4 and "SIGMOID" not in kinds, kinds
    assert kinds.count("MUL") == 2, kinds  # silu ** 2, and the chain whose relu6(x + 3) is read twice as written
    assert kinds[:2] == ["AFFINE", "CONV2D"] and g.ops[0].inputs == [g.input], kinds
    with torch.no_grad():
        want = _outputs(model(x))
    _close(crt(pack_graph(g)).run_all(x.numpy()), want, rtol=1e-5)


class _BorderPads(nn.Module):
    """Reflect and replicate padding as users write it: a conv's padding_mode, the pad modules, F.pad."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect")
        self.rep = nn.ReplicationPad2d((1, 0, 2, 1))
        self.conv2 = nn.Conv2d(4, 3, (1, 3), padding=(0, 2), padding_mode="replicate")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv2(self.rep(torch.relu(self.conv(x))))
        return y, F.pad(y, (2, 1, 0, 3), mode="reflect")


def test_reflect_and_replicate_padding_run_in_c_like_torch(crt):
    model = _BorderPads().eval()
    x = torch.randn(2, 2, 5, 6)
    g = capture(model, x[:1])
    assert [op.mode for op in g.ops if op.type == "PAD"] == [1, 2, 2, 1], [(op.type, op.mode) for op in g.ops]
    blob = pack_graph(g)
    assert parse(blob).format_version == 6
    with torch.no_grad():
        want = _outputs(model(x))
    _close(crt(blob).run_all(x.numpy()), want, rtol=1e-5)


def test_padding_mode_convs_compress_to_linrep_and_run_in_c_like_torch(crt):
    """A conv with padding_mode reflect / replicate is a LinRep candidate like any other: the compressed layer pads
    as nn.Conv2d does, the blob holds a PAD and the LinRep conv, and C equals the compressed torch model."""
    model = _BorderPads().eval()
    x = torch.randn(2, 2, 5, 6)
    res = pack_model(model, x[:1], PackSettings(templates=4, weights_dtype="fp32", codebook_dtype="fp32",
                                                cap_templates=True), "border_pads", show_progress=False)
    g = parse(res.blob).graph
    assert [op.type for op in g.ops][:2] == ["PAD", "LINREP_CONV2D"] and g.ops[0].mode == 1
    import copy

    from linrep_edge.method.linrep_conv import LinRepConv2d

    same = copy.deepcopy(model)  # the original with the LinRep kernels as its weights: pads as the original does
    for name, mod in res.model.named_modules():
        if isinstance(mod, LinRepConv2d):
            same.get_submodule(name).weight.data = mod.weight().detach().clone()
    with torch.no_grad():
        want = _outputs(res.model(x))
        _close(want, _outputs(same(x)), rtol=1e-6)
    _close(crt(res.blob).run_all(x.numpy()), want)


class _ModernActivations(nn.Module):
    """The activations of newer nets: a ConvNeXt-style block (7x7 depthwise, batch norm, 1x1 expand, GELU, 1x1,
    residual), YOLOv4-tiny's conv-BN-Mish, an ELU / SELU / CELU trunk, a Softplus head (a positive scale) and a
    LogSigmoid head (log-probabilities), threshold in place, GELU's tanh form, RReLU in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Mish(inplace=True))
        self.dw = nn.Conv2d(16, 16, 7, padding=3, groups=16)
        self.norm = nn.BatchNorm2d(16)
        self.pw1, self.pw2 = nn.Conv2d(16, 64, 1), nn.Conv2d(64, 16, 1)
        self.trunk = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ELU(0.5), nn.Conv2d(16, 16, 3, padding=1),
                                   nn.SELU(), nn.Conv2d(16, 8, 3, padding=1), nn.CELU(0.7), nn.RReLU())
        self.scale, self.logp = nn.Conv2d(8, 2, 1), nn.Conv2d(8, 3, 1)
        self.gate = nn.Threshold(0.05, 0.0, inplace=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.stem(x)
        x = x + self.pw2(F.gelu(self.pw1(self.norm(self.dw(x)))))
        x = self.gate(self.trunk(F.gelu(x, approximate="tanh")))
        return F.softplus(self.scale(x), beta=2.0), F.logsigmoid(self.logp(x))


class _Differences(nn.Module):
    """Tensor differences as nets write them: a residual of a difference (x - y), the channel means taken off
    (x - mean), a gate minus a map, a difference with a ReLU after it (fused into the SUB)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 6, 3, padding=1), nn.Conv2d(3, 6, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a, b = self.a(x), self.b(x)
        d = torch.relu(a - b)
        centred = d - d.mean((2, 3), keepdim=True)
        gate = torch.sigmoid(b.mean((2, 3), keepdim=True))
        return centred, gate - a, torch.sub(a, b)


def test_differences_of_tensors_run_in_c_like_torch(crt, tmp_path):
    """`x - y` of two tensors is one SUB (format version 7; a ReLU after it fused), a map minus its per-channel mean
    a SUB by one value per channel, a gate minus a map a negation and an ADD; C equals torch in fp32, and in int8
    C equals the Python integer reference byte for byte. `torch.sub(x, y, alpha=2)` is refused by name."""
    from linrep_edge.integer.batch import quantize_input, run_int8_batch

    torch.manual_seed(0)
    model = _Differences().eval()
    x = torch.randn(2, 3, 6, 5)
    g = capture(model, x[:1])
    subs = [op for op in g.ops if op.type == "SUB"]
    assert len(subs) == 3 and subs[0].activation == "RELU", [(op.type, op.activation) for op in g.ops]
    assert [op.type for op in g.ops].count("ADD") == 1
    blob = pack_graph(g)
    assert parse(blob).format_version == 7
    with torch.no_grad():
        want = _outputs(model(x))
    _close(crt(blob).run_all(x.numpy()), want, rtol=1e-5)
    calib = torch.randn(64, 3, 6, 5)
    np.save(tmp_path / "calib.npy", calib.numpy())
    res = pack_model(model, x[:1], PackSettings(templates=4, activations="int8", ab_bits=8, cap_templates=True,
                                                calibration=str(tmp_path / "calib.npy"), calibration_epochs=0),
                     "differences", show_progress=False)
    g8 = parse(res.blob).graph
    assert g8.is_int8 and sum(op.type == "SUB" for op in g8.ops) == 3
    xq = quantize_input(g8, calib[:8].numpy())
    for c, r in zip(crt(res.blob).run_int8(xq), run_int8_batch(g8, xq)):
        np.testing.assert_array_equal(c.reshape(r.shape), r)

    class Scaled(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sub(x, torch.relu(x), alpha=2)

    with pytest.raises(CaptureError, match=r"sub with alpha 2 of two tensors"):
        capture(Scaled().eval(), x[:1])


def _int8_packs_and_runs(crt, model: nn.Module, calib: torch.Tensor, tmp_path, name: str, **settings):  # type: ignore[no-untyped-def]
    """`model` packed with int8 activations calibrated on `calib` (K = 8, 8-bit a/b): C equals the Python integer
    reference byte for byte on 16 of its inputs, and the dequantised outputs stay within 10 % of the fp32 model's.
    Returns the int8 graph."""
    from linrep_edge.integer.batch import dequantize_outputs, quantize_input, run_int8_batch

    np.save(tmp_path / f"{name}.npy", calib.numpy())
    res8 = pack_model(model, calib[:1], PackSettings(templates=8, activations="int8", ab_bits=8, cap_templates=True,
                                                     calibration=str(tmp_path / f"{name}.npy"), **settings), name,
                      show_progress=False)
    g8 = parse(res8.blob).graph
    assert g8.is_int8
    xq = quantize_input(g8, calib[:16].numpy())
    ref = run_int8_batch(g8, xq)
    for c, r in zip(crt(res8.blob).run_int8(xq), ref):
        np.testing.assert_array_equal(c.reshape(r.shape), r)
    with torch.no_grad():
        fp = _outputs(res8.model(calib[:16]))
    for y, w in zip(dequantize_outputs(g8, ref), fp):
        assert np.abs(y.reshape(w.shape) - w).max() / np.abs(w).max() < 0.1
    return g8


class _Attention(nn.Module):
    """CBAM as its reference code writes it: channel attention (average- and max-pooled maps through one shared
    MLP, added, a sigmoid gate per channel) and spatial attention (the maps' channel max and mean, `torch.max(x, 1)[0]
    .unsqueeze(1)` and `torch.mean(x, 1).unsqueeze(1)`, concatenated, a 7x7 conv, batch norm, a sigmoid gate per
    pixel times every channel); a second spatial gate in the keepdim form (`x.mean(1, keepdim=True)`, `x.amax(1,
    keepdim=True)`) on a residual block; two heads."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.Conv2d(16, 24, 3, stride=2, padding=1), nn.BatchNorm2d(24), nn.ReLU())
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(24, 6), nn.ReLU(), nn.Linear(6, 24))
        self.spatial = nn.Sequential(nn.Conv2d(2, 1, 7, padding=3, bias=False), nn.BatchNorm2d(1))
        self.block = nn.Sequential(nn.Conv2d(24, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU())
        self.spatial2 = nn.Conv2d(2, 1, 7, padding=3)
        self.head, self.mask = nn.Linear(24, 5), nn.Conv2d(24, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.stem(x)
        gate = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))
        x = x * torch.sigmoid(gate).unsqueeze(2).unsqueeze(3)
        pooled = torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), dim=1)
        x = x * torch.sigmoid(self.spatial(pooled))
        y = self.block(x)
        pooled = torch.cat([y.mean(1, keepdim=True), y.amax(1, keepdim=True)], 1)
        x = x + torch.sigmoid(self.spatial2(pooled)) * y
        return self.head(x.mean((2, 3))), self.mask(x)


def test_cbam_attention_runs_in_c_like_torch(crt, tmp_path):
    """CBAM's channel pooling (max / mean / amax over the channels) becomes the [C, H, W] map read as one
    [1, C, H * W] plane and pooled by a C x 1 window (one plane for both pools), and its spatial gate a MUL by one value
    per pixel (format version 8); C equals torch in fp32, with LinRep convs too, and in int8 C equals the Python
    integer reference byte for byte and stays near the fp32 model. A channel mean without keepdim read by anything but
    a reshape is refused, saying what to write."""
    torch.manual_seed(0)
    model = _Attention().eval()
    _bn_stats(model)
    x = torch.randn(2, 3, 20, 18)
    g = capture(model, x[:1])
    pools = [(op.type, op.kernel) for op in g.ops if op.type in ("MAX_POOL2D", "AVG_POOL2D") and op.kernel[1] == 1]
    assert sorted(pools) == [("AVG_POOL2D", (24, 1))] * 2 + [("MAX_POOL2D", (24, 1))] * 2, pools
    planes = [op for op in g.ops if op.type == "RESHAPE" and g.tensors[op.output].shape == (1, 24, 90)]
    assert len(planes) == 2  # one [1, C, H * W] reading per pooled map
    muls = [[g.tensors[t].shape for t in op.inputs] for op in g.ops if op.type == "MUL"]
    assert muls == [[(24, 10, 9), (24, 1, 1)], [(24, 10, 9), (1, 10, 9)], [(24, 10, 9), (1, 10, 9)]], muls
    blob = pack_graph(g)
    assert parse(blob).format_version == 8
    with torch.no_grad():
        want = _outputs(model(x))
        _close(_outputs(GraphModel(g)(x)), want, rtol=1e-5)
    _close(crt(blob).run_all(x.numpy()), want, rtol=1e-5)
    res = pack_model(model, x[:1], PackSettings(templates=8, weights_dtype="fp32", codebook_dtype="fp32",
                                                cap_templates=True), "cbam", show_progress=False)
    assert sum(op.type == "LINREP_CONV2D" for op in parse(res.blob).graph.ops) >= 3
    with torch.no_grad():  # C as the blob's torch rebuild; both as the compressed model within fp16 a / b's rounding
        rebuilt, got = _outputs(GraphModel(parse(res.blob).graph)(x)), crt(res.blob).run_all(x.numpy())
        _close(got, rebuilt, rtol=1e-5)
        _close(got, _outputs(res.model(x)), rtol=1e-3)
    g8 = _int8_packs_and_runs(crt, model, torch.randn(128, 3, 20, 18), tmp_path, "cbam8")
    assert sum(op.type == "MUL" and g8.tensors[op.inputs[1]].shape[0] == 1 for op in g8.ops) == 2

    class Squeezed(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(torch.mean(x, 1)).unsqueeze(1) * x

    with pytest.raises(CaptureError, match=r"mean over the channels without keepdim .* read by .*sigmoid.* "
                                           r"\(use keepdim=True"):
        capture(Squeezed().eval(), x[:1])


class _SuperResolution(nn.Module):
    """ESPCN-style super-resolution as it is written: a space-to-depth stem (`F.pixel_unshuffle`), convs, a conv to
    3 r^2 channels and `nn.PixelShuffle(r)` to twice the input's size; plus a skip upsampled the same way."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(12, 24, 5, padding=2), nn.Tanh(), nn.Conv2d(24, 16, 3, padding=1),
                                  nn.Tanh(), nn.Conv2d(16, 3 * 16, 3, padding=1))
        self.up = nn.PixelShuffle(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.pixel_unshuffle(x, 2)
        return self.up(self.body(s)) + F.pixel_shuffle(torch.cat([s] * 4, 1), 4)


def test_pixel_shuffle_nets_run_in_c_like_torch(crt, tmp_path):
    """`nn.PixelShuffle` / `F.pixel_shuffle` and `F.pixel_unshuffle` become one PIXEL_SHUFFLE op each (format version
    8); the net packs with LinRep convs and runs in C as torch, and in int8 C equals the Python integer reference
    byte for byte and stays near the fp32 model."""
    torch.manual_seed(0)
    model = _SuperResolution().eval()
    x = torch.randn(2, 3, 12, 10)
    g = capture(model, x[:1])
    assert [(op.mode, op.stride) for op in g.ops if op.type == "PIXEL_SHUFFLE"] == [(1, (2, 2)), (0, (4, 4)),
                                                                                    (0, (4, 4))]
    blob = pack_graph(g)
    assert parse(blob).format_version == 8
    with torch.no_grad():
        want = _outputs(model(x))
    _close(crt(blob).run_all(x.numpy()), want, rtol=1e-5)
    res = pack_model(model, x[:1], PackSettings(templates=8, weights_dtype="fp32", codebook_dtype="fp32",
                                                cap_templates=True), "espcn", show_progress=False)
    assert sum(op.type == "LINREP_CONV2D" for op in parse(res.blob).graph.ops) == 3
    with torch.no_grad():
        _close(crt(res.blob).run_all(x.numpy()), _outputs(GraphModel(parse(res.blob).graph)(x)), rtol=1e-5)
    g8 = _int8_packs_and_runs(crt, model, torch.randn(128, 3, 12, 10), tmp_path, "espcn8")
    assert sum(op.type == "PIXEL_SHUFFLE" for op in g8.ops) == 3


class _ChannelPicks(nn.Module):
    """Channels picked as users write it: an RGB / BGR swap at the input (`x[:, [2, 1, 0]]`, and `x.flip(1)`), a
    reorder by a registered buffer (`index_select`), a subset with a repeat (`x[:, idx]`), the identity."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 3, padding=1)
        self.register_buffer("order", torch.tensor([4, 5, 6, 7, 0, 1, 2, 3]))
        self.register_buffer("keep", torch.tensor([0, 1, 2, 2, 7, -1]))
        self.register_buffer("same", torch.arange(8))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.relu(self.c1(x[:, [2, 1, 0]]) + self.c2(x.flip(1)))
        return torch.index_select(y, 1, self.order) * y, y[:, self.keep] + y[:, self.same][:, :6]


def test_channel_picks_run_in_c_like_torch(crt):
    """Channels picked by a constant list or flipped become SLICEs of their consecutive runs and a CONCAT (no new op,
    any format version): C equals torch exactly, in fp32 and as the int8 reference; picks of other dimensions or by
    an activation are refused by name."""
    from linrep_edge.integer.batch import quantize_input, run_int8_batch
    from linrep_edge.integer.quantize import quantize_graph

    torch.manual_seed(0)
    model = _ChannelPicks().eval()
    x = torch.randn(3, 3, 5, 6)
    g = capture(model, x[:1])
    slices = [(op.start, g.tensors[op.output].shape[0]) for op in g.ops if op.type == "SLICE"]
    # [2, 1, 0] and flip: three runs each; order: two runs; keep: (0, 3) (2, 1) (7, 1) (7, 1); same: nothing; [:6]
    assert slices == [(2, 1), (1, 1), (0, 1)] * 2 + [(4, 4), (0, 4), (0, 3), (2, 1), (7, 1), (7, 1), (0, 6)], slices
    blob = pack_graph(g)
    with torch.no_grad():
        want = _outputs(model(x))
    _close(crt(blob).run_all(x.numpy()), want, rtol=1e-6)
    g8 = quantize_graph(g, x.numpy())
    xq = quantize_input(g8, x.numpy())
    for c, r in zip(crt(pack_graph(g8)).run_int8(xq), run_int8_batch(g8, xq)):
        np.testing.assert_array_equal(c.reshape(r.shape), r)

    class Rows(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flip(2) + x[:, :, [1, 0]].sum()

    with pytest.raises(CaptureError, match=r"flip.default at <top level> \(Rows\) \(only channels"):
        capture(Rows().eval(), x[:1, :, :2, :2])


def test_shrink_activations_run_in_c_like_torch(crt, tmp_path):
    """nn.Hardshrink and nn.Softshrink (in denoising and sparse-coding nets) are one UNARY op each (format version
    8); C equals torch, and in int8 (TFLite's lookup table built by the packer) C equals the Python reference."""
    from linrep_edge.integer.batch import quantize_input, run_int8_batch

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.Hardshrink(0.4), nn.Conv2d(6, 6, 3, padding=1),
                          nn.Softshrink(0.2)).eval()
    x = torch.randn(4, 3, 7, 6)
    g = capture(model, x[:1])
    assert [(op.mode, float(op.alpha)) for op in g.ops if op.type == "UNARY"] == [(8, 0.4), (9, 0.2)]
    blob = pack_graph(g)
    assert parse(blob).format_version == 8
    with torch.no_grad():
        want = _outputs(model(x))
    _close(crt(blob).run_all(x.numpy()), want, rtol=1e-6)
    np.save(tmp_path / "calib.npy", torch.randn(64, 3, 7, 6).numpy())
    res8 = pack_model(model, x[:1], PackSettings(templates=4, activations="int8", ab_bits=8, cap_templates=True,
                                                 calibration=str(tmp_path / "calib.npy"), calibration_epochs=0),
                      "shrink8", show_progress=False)
    g8 = parse(res8.blob).graph
    assert g8.is_int8 and [op.mode for op in g8.ops if op.type == "UNARY"] == [8, 9]
    xq = quantize_input(g8, x.numpy())
    for c, r in zip(crt(res8.blob).run_int8(xq), run_int8_batch(g8, xq)):
        np.testing.assert_array_equal(c.reshape(r.shape), r)


def _bn_stats(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(5)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


def test_modern_activations_pack_and_run_in_c_like_torch(crt, tmp_path):
    """GELU (both forms), Mish, ELU, SELU, CELU, RReLU, threshold, Softplus and LogSigmoid as nets write them: every
    one captured (one UNARY op each, RReLU a LEAKY_RELU, the batch norms folded), the net packed with LinRep convs
    (format version 7) and run in C as the compressed torch model on both heads; packed with int8 activations, C
    equals the Python integer reference byte for byte and stays near the fp32 model."""
    from linrep_edge.format.ir import UNARY_NAMES
    from linrep_edge.integer.batch import dequantize_outputs, quantize_input, run_int8_batch

    torch.manual_seed(0)
    model = _ModernActivations().eval()
    _bn_stats(model)
    x = torch.randn(2, 3, 32, 32)
    g = capture(model, x[:1])
    unary = [UNARY_NAMES[op.mode] for op in g.ops if op.type == "UNARY"]
    assert unary == ["mish", "gelu", "gelu_tanh", "elu", "elu", "celu", "threshold", "softplus", "log_sigmoid"], unary
    assert "LEAKY_RELU" in [op.type for op in g.ops] and not any("BATCH" in op.type for op in g.ops)
    # the model rebuilt from the graph (what .pt2 / ONNX programs are compressed as) captures to the same ops: SELU's
    # scale stays inside its UNARY, not a multiplication after it
    again = capture(GraphModel(g).eval(), x[:1])
    assert [(op.type, op.mode, op.alpha, op.beta) for op in again.ops] == \
        [(op.type, op.mode, op.alpha, op.beta) for op in g.ops]
    res = pack_model(model, x[:1], PackSettings(templates=8, weights_dtype="fp32", codebook_dtype="fp32",
                                                cap_templates=True), "modern", show_progress=False)
    blob = parse(res.blob)
    assert blob.format_version == 7 and sum(op.type == "LINREP_CONV2D" for op in blob.graph.ops) >= 4
    with torch.no_grad():
        want = _outputs(res.model(x))
    _close(crt(res.blob).run_all(x.numpy()), want)
    calib = torch.randn(128, 3, 32, 32)
    np.save(tmp_path / "calib.npy", calib.numpy())
    res8 = pack_model(model, x[:1], PackSettings(templates=8, activations="int8", ab_bits=8, cap_templates=True,
                                                 calibration=str(tmp_path / "calib.npy")), "modern8",
                      show_progress=False)
    g8 = parse(res8.blob).graph
    assert g8.is_int8 and sum(op.type == "UNARY" for op in g8.ops) == 9
    xq = quantize_input(g8, calib[:16].numpy())
    got = crt(res8.blob).run_int8(xq)
    ref = run_int8_batch(g8, xq)
    for c, r in zip(got, ref):
        np.testing.assert_array_equal(c.reshape(r.shape), r)
    with torch.no_grad():
        fp = _outputs(res8.model(calib[:16]))
    for y, w in zip(dequantize_outputs(g8, ref), fp):
        assert np.abs(y.reshape(w.shape) - w).max() / np.abs(w).max() < 0.1


class _SamePadding(nn.Module):
    """Zero pads written before convs without padding: symmetric ones fold into the conv; TensorFlow "same"
    padding (one more at the bottom / right), a non-zero pad value and a pad read twice stay."""

    def __init__(self) -> None:
        super().__init__()
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.c1 = nn.Conv2d(3, 8, 3, 2)
        self.dw = nn.Conv2d(8, 8, 5, 2, groups=8)
        self.c2 = nn.Conv2d(8, 4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        y = self.dw(F.pad(self.c1(self.pad(x)), (2, 2, 2, 2)))
        kept = F.pad(y, (1, 1, 1, 1))
        return self.c2(F.pad(y, (1, 1, 1, 1), value=0.5)), self.c2(kept), torch.sigmoid(kept)


def test_zero_pads_fold_into_the_next_conv(crt):
    model = _SamePadding().eval()
    x = torch.randn(2, 3, 11, 13)
    g = capture(model, x[:1])
    kinds = [(op.type, op.pads) for op in g.ops]
    assert kinds[:3] == [("PAD", (0, 0, 1, 1)), ("CONV2D", (0, 0, 0, 0)), ("CONV2D", (2, 2, 2, 2))], kinds
    assert [op.type for op in g.ops].count("PAD") == 3, kinds  # "same", value 0.5, and the pad read twice
    with torch.no_grad():
        want = _outputs(model(x))
    _close(crt(pack_graph(g)).run_all(x.numpy()), want, rtol=1e-5)
