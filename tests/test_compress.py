"""compress(), LinRepConv2d and finetune() on small models and real digits."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from linrep_edge.method.compress import compress, representation_of
from linrep_edge.errors import LinRepError
from linrep_edge.method.finetune import evaluate, finetune
from linrep_edge.method.collect import collect_convs
from linrep_edge.method.linrep_conv import LinRepConv2d


class Mixed(nn.Module):
    """Standard, grouped, depthwise, non-square and 1x1 convs plus a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 8, 3, padding=1)
        self.g = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.dw = nn.Conv2d(8, 8, 5, padding=2, groups=8)
        self.ns = nn.Conv2d(8, 4, (3, 1), padding=(1, 0))
        self.pw = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.a(x))
        x = torch.relu(self.dw(torch.relu(self.g(x))))
        return self.fc(torch.flatten(self.pw(torch.relu(self.ns(x))), 1))


def test_collects_every_kxk_conv_and_skips_1x1():
    names = [s.name for s in collect_convs(Mixed())]
    assert names == ["a", "g", "dw", "ns"]
    assert [s.name for s in collect_convs(Mixed(), include=["g", "d*"])] == ["g", "dw"]
    assert [s.name for s in collect_convs(Mixed(), exclude=["a"])] == ["g", "dw", "ns"]


def test_compress_replaces_convs_and_reconstruction_matches_formula():
    torch.manual_seed(0)
    m = Mixed().eval()
    cm, rep = compress(m, templates=4, show_progress=False)
    assert isinstance(cm.a, LinRepConv2d) and isinstance(cm.ns, LinRepConv2d)
    assert isinstance(cm.pw, nn.Conv2d) and type(m.a) is nn.Conv2d  # the input model is untouched
    assert len(rep.codebooks) == 3  # one per kernel shape: 3x3, 5x5, 3x1
    for lr in rep.layers:
        mod = cm.get_submodule(lr.name)
        t = torch.from_numpy(rep.codebooks[lr.codebook].templates)
        expect = lr.a[..., None, None] * t[lr.idx] + lr.b[..., None, None]
        assert torch.equal(mod.weight(), expect)
        # a and b are fp16-representable (what the blob stores)
        assert torch.equal(lr.a, lr.a.half().float()) and torch.equal(lr.b, lr.b.half().float())
    x = torch.randn(2, 1, 8, 8)
    assert cm(x).shape == (2, 10)


def test_per_layer_scope_gives_one_codebook_per_layer():
    _, rep = compress(Mixed(), templates=4, scope="layer", show_progress=False)
    assert [cb.layers for cb in rep.codebooks] == [["a"], ["g"], ["dw"], ["ns"]]
    back = representation_of(compress(Mixed(), templates=4, scope="layer", show_progress=False)[0])
    assert len(back.codebooks) == 4


def test_exact_templates_reproduce_the_model():
    """With K = number of kernels every kernel can be its own template: output matches closely."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 2, 3)).eval()
    cm, _ = compress(m, templates=9, scope="global", codebook_dtype="fp32", show_progress=False)
    x = torch.randn(2, 1, 9, 9)
    assert torch.allclose(cm(x), m(x), atol=2e-3)  # fp16 a and b only


def test_compression_ratio_counts_real_bits():
    m = nn.Sequential(nn.Conv2d(16, 16, 3)).eval()
    _, rep = compress(m, templates=16, show_progress=False)
    kernels = 256
    packed = kernels * (4 + 16 + 16) + 16 * 9 * 16
    assert rep.packed_bits() == packed
    assert rep.conv_compression_vs_fp32() == pytest.approx(kernels * 288 / packed)


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_nan_inf_weights_name_the_layer(bad):
    m = Mixed()
    with torch.no_grad():
        m.g.weight[0, 0, 0, 0] = float(bad)
    with pytest.raises(LinRepError, match="'g'.*NaN or Inf"):
        compress(m, templates=4, show_progress=False)


def test_no_compressible_conv_gives_a_plain_copy_and_packs_with_a_note():
    from linrep_edge.format.reader import parse
    from linrep_edge.pipeline import PackSettings, pack_model

    m = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Flatten(), nn.Linear(3, 2)).eval()
    cm, rep = compress(m, show_progress=False)
    assert rep.layers == [] and rep.codebooks == [] and not any(isinstance(x, LinRepConv2d) for x in cm.modules())
    res = pack_model(m, torch.zeros(1, 3, 1, 1), PackSettings(templates=4), show_progress=False)
    assert [op.type for op in parse(res.blob).graph.ops] == ["CONV2D", "RESHAPE", "LINEAR"]
    assert any("no compressible conv" in n for n in res.notes)


def test_too_many_templates_names_the_layer():
    m = nn.Sequential(nn.Conv2d(1, 4, 3)).eval()
    with pytest.raises(LinRepError, match="'0'.*8 templates requested but only 4 kernels"):
        compress(m, templates=8, show_progress=False)
    _, rep = compress(m, templates=8, cap_templates=True, show_progress=False)
    assert rep.codebooks[0].size == 4


def test_bad_options_are_errors():
    with pytest.raises(LinRepError, match="distance"):
        compress(Mixed(), distance="cosine", show_progress=False)
    with pytest.raises(LinRepError, match="scope"):
        compress(Mixed(), scope="net", show_progress=False)
    with pytest.raises(LinRepError, match="templates"):
        compress(Mixed(), templates=0, show_progress=False)


def test_finetune_changes_only_a_and_b(digits, small_resnet):
    m = small_resnet
    m.stem[0] = nn.Conv2d(1, 8, 3, 1, 1, bias=False)
    cm, _ = compress(m, templates=8, show_progress=False)
    before = {k: v.clone() for k, v in cm.state_dict().items()}
    flags = [p.requires_grad for p in cm.parameters()]
    loader = digits.train.take(256).loader(64, shuffle=True)
    finetune(cm, loader, epochs=1, lr=1e-2, show_progress=False)
    after = cm.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith(".a") or k.endswith(".b") for k in changed)
    assert [p.requires_grad for p in cm.parameters()] == flags  # restored after training
    # options: batch-norm and head
    before = {k: v.clone() for k, v in cm.state_dict().items()}
    finetune(cm, loader, epochs=1, lr=1e-2, train_bn=True, train_head=True, show_progress=False)
    changed = {k for k in before if not torch.equal(before[k], cm.state_dict()[k])}
    assert any(k.startswith("fc.") for k in changed) and any(".bn1.weight" in k for k in changed)
    assert not any("running" in k for k in changed)


def test_finetune_improves_a_badly_compressed_model(digits, small_resnet):
    from linrep_edge.models.resnet8 import ResNet8

    torch.manual_seed(0)
    m = ResNet8(widths=(8, 16, 16))
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(3):
        for x, y in digits.train.loader(64, shuffle=True):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            opt.step()
    m.eval()
    base = evaluate(m, digits.test.loader(400))
    cm, _ = compress(m, templates=2, show_progress=False)
    before = evaluate(cm, digits.test.loader(400))
    finetune(cm, digits.train.loader(64, shuffle=True), epochs=3, lr=3e-3, show_progress=False)
    after = evaluate(cm, digits.test.loader(400))
    assert base > 0.85
    assert after > before


@pytest.mark.parametrize("activations", ["int8", "fp32"])
def test_calibration_without_any_linrep_conv_packs_with_a_note(tmp_path, activations):
    """--calibration on a model whose convs all stay plain (--exclude '*', as a user tried on MLPerf Tiny's VWW
    model, or no k×k conv at all) packs with a note instead of failing with "no LinRep layers to fine-tune";
    an int8 blob still gets its fidelity on the held-out calibration inputs, and the summary says "no LinRep
    conv" rather than "conv 0.00x"."""
    import subprocess
    import sys

    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    torch.manual_seed(0)
    x = torch.rand(64, 3, 6, 6)
    np.save(tmp_path / "x.npy", x.numpy())
    from linrep_edge.format.reader import parse
    from linrep_edge.pipeline import PackSettings, pack_model

    res = pack_model(m, torch.zeros(1, 3, 6, 6), PackSettings(templates=4, exclude=["*"], activations=activations,
                                                              calibration=str(tmp_path / "x.npy")),
                     show_progress=False)
    assert [op.type for op in parse(res.blob).graph.ops][0] == "CONV2D"
    assert any("nothing to distil" in n for n in res.notes)
    if activations == "int8":
        assert res.calibration["calibration_held_out"] > 0 and "epochs_run" not in res.calibration
        assert 0 <= res.calibration["packed_relative_output_error"] < 0.2
    torch.save(m.state_dict(), tmp_path / "m.pt")
    (tmp_path / "plainnet.py").write_text(
        "from torch import nn\n\ndef make():\n    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), "
        "nn.Flatten(), nn.Linear(4 * 6 * 6, 3))\n")
    r = subprocess.run([sys.executable, "-m", "linrep_edge.cli", "-q", "pack", "plainnet:make", "--weights",
                        str(tmp_path / "m.pt"), "--input-shape", "1,3,6,6", "--exclude", "*", "--calibration",
                        str(tmp_path / "x.npy"), "--activations", activations, "-o", str(tmp_path / "m.lre")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600,
                       env={**os.environ, "PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[1]}"})
    assert r.returncode == 0, r.stderr
    assert "no LinRep conv" in r.stdout and "conv 0.00x" not in r.stdout and "nothing to distil" in r.stderr


def test_int8_blob_where_linrep_saves_little_gets_a_note(tmp_path):
    """Issue 15 item 7: on a pointwise-heavy net (a depthwise 3x3 between large 1x1 convs, as MobileNetV1 on
    MLPerf Tiny VWW, where LinRep saved 3.7 % of the blob at 5x the output error of plain int8) the int8 pack
    says how little LinRep saves, with the fidelity, and how to trade; a conv-heavy net gets no such note."""
    from linrep_edge.pipeline import PackSettings, pack_model

    torch.manual_seed(0)
    x = torch.rand(64, 3, 8, 8)
    np.save(tmp_path / "x.npy", x.numpy())
    settings = PackSettings(templates=4, activations="int8", calibration=str(tmp_path / "x.npy"), calibration_epochs=1)
    pointwise = nn.Sequential(nn.Conv2d(3, 32, 1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.ReLU(),
                              nn.Conv2d(32, 96, 1), nn.ReLU(), nn.Flatten(), nn.Linear(96 * 64, 4)).eval()
    res = pack_model(pointwise, torch.zeros(1, 3, 8, 8), settings, show_progress=False)
    note = [n for n in res.notes if n.startswith("LinRep's 1 layer(s) take")]
    assert len(note) == 1 and "--min-agreement" in note[0] and "relative output error" in note[0], res.notes
    convs = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4)).eval()
    res = pack_model(convs, torch.zeros(1, 3, 8, 8), settings, show_progress=False)
    assert not any(n.startswith("LinRep's") for n in res.notes), res.notes


@pytest.mark.parametrize("activations", ["int8", "fp32"])
def test_linrep_that_costs_much_fidelity_gets_a_note_with_the_plain_figures(tmp_path, activations):
    """Issue 15 item 7, found on MLPerf Tiny's CIFAR-10 ResNet (K = 16: 72 % top-1 agreement on held-out
    inputs where plain int8 keeps 94 %): a pack whose LinRep layers change many more of the original's answers
    than plain storage would gets a note with both figures, and `calibration.without_linrep` holds exactly
    what `--exclude '*'` packs (its agreement and error; its bytes but for the exclude pattern in the
    metadata). Kernels planted as a·T + b over 4 templates, packed at K = 4, get neither."""
    from linrep_edge.format.reader import parse
    from linrep_edge.pipeline import PackSettings, pack_model

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(16, 16, 3, padding=1), nn.Flatten(), nn.Linear(16 * 64, 10)).eval()
    x = torch.randn(200, 3, 8, 8)
    assert np.bincount(net(x).argmax(1).numpy()).max() < 0.8 * len(x)  # its answers vary with the input
    np.save(tmp_path / "x.npy", x.numpy())
    base = dict(activations=activations, calibration=str(tmp_path / "x.npy"), calibration_epochs=0)
    example = torch.zeros(1, 3, 8, 8)
    res = pack_model(net, example, PackSettings(templates=2, **base), show_progress=False)
    plain = pack_model(net, example, PackSettings(templates=2, exclude=["*"], **base), show_progress=False)
    assert not any(op.linrep is not None for op in parse(plain.blob).graph.ops)
    got = res.calibration["without_linrep"]
    for key in ("packed_top1_agreement", "packed_relative_output_error"):
        assert got[key] == plain.calibration[key]
    assert abs(got["bytes"] - len(plain.blob)) <= 32  # the metadata's exclude pattern
    assert got["packed_top1_agreement"] - res.calibration["packed_top1_agreement"] >= 0.05
    note = [n for n in res.notes if n.startswith("LinRep costs this model much of its fidelity")]
    assert len(note) == 1 and "--min-agreement" in note[0] and "K = 2" in note[0], res.notes
    assert f"{100 * res.calibration['packed_top1_agreement']:.2f}%" in note[0]
    templates = torch.randn(4, 3, 3)
    with torch.no_grad():
        for conv in (m for m in net if isinstance(m, nn.Conv2d)):
            o, i = conv.weight.shape[:2]
            idx = torch.randint(0, 4, (o, i))
            conv.weight.copy_(templates[idx] * torch.randn(o, i, 1, 1) + 0.1 * torch.randn(o, i, 1, 1))
    faithful = pack_model(net, example, PackSettings(templates=4, **base), show_progress=False)
    assert not any(n.startswith("LinRep costs") for n in faithful.notes), faithful.notes
    assert faithful.calibration["packed_top1_agreement"] >= 0.9


def test_fidelity_note_rule():
    """The note's rule on its own: a drop of at least FIDELITY_NOTE_DROP in top-1 agreement against plain
    storage, or for a model without classes an error at least twice plain storage's plus that margin."""
    from linrep_edge.pipeline import FIDELITY_NOTE_DROP, _fidelity_note

    calib = {"packed_top1_agreement": 0.80, "packed_relative_output_error": 0.3, "calibration_held_out": 50}
    plain = {"packed_top1_agreement": 0.80 + FIDELITY_NOTE_DROP - 0.01, "packed_relative_output_error": 0.1,
             "bytes": 0}
    assert _fidelity_note(None, 0, calib, plain) is None
    plain["packed_top1_agreement"] = 0.80 + FIDELITY_NOTE_DROP
    assert "top-1 agreement 80.00%" in str(_fidelity_note(None, 0, calib, plain))
    reg = {"packed_relative_output_error": 0.24, "calibration_held_out": 50}
    assert _fidelity_note(None, 0, reg, {"packed_relative_output_error": 0.1, "bytes": 0}) is None
    reg["packed_relative_output_error"] = 0.26
    assert "relative output error 0.2600" in str(_fidelity_note(None, 0, reg, {"packed_relative_output_error": 0.1,
                                                                             "bytes": 0}))
