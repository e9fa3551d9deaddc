"""Quantisation-aware fine-tuning (the torch model is the integer model) and `pack --activations int8`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from test_int8_quantize import _fp_graph

from linrep_edge.format.reader import parse
from linrep_edge.integer.batch import quantize_input, run_int8_batch
from linrep_edge.integer.executor import run_int8
from linrep_edge.integer.qat import QATGraphModel, qat_finetune
from linrep_edge.integer.quantize import calibrate, quantize_graph

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def test_qat_model_is_the_integer_model():
    """The QAT forward pass, dequantised, equals the int8 graph's integer result up to the requantisation
    roundings (a few output steps), and far closer than the fp32 graph is."""
    g, calib = _fp_graph(1)
    ranges = calibrate(g, calib)
    qat = QATGraphModel(g, ranges, 5).eval()
    gi = quantize_graph(g, calib, ab_bits=5, ranges=ranges)
    x = calib[:32]
    out = gi.tensors[gi.output]
    y_int = (run_int8_batch(gi, quantize_input(gi, x))[0].astype(np.float64) - out.zero_point) * out.scale
    with torch.no_grad():
        y_qat = qat(torch.from_numpy(x)).double().numpy()
        from linrep_edge.graph.executor import GraphModel

        y_fp = GraphModel(g).eval()(torch.from_numpy(x)).double().numpy()
    err_qat = np.abs(y_qat - y_int).max()
    err_fp = np.abs(y_fp - y_int).max()
    assert err_qat <= 4 * out.scale, (err_qat, out.scale)
    assert err_qat < 0.5 * err_fp


def test_qat_trains_only_a_and_b():
    g, calib = _fp_graph(2)
    torch.manual_seed(0)
    x = torch.from_numpy(calib[:48])
    y = torch.randint(0, 5, (48,))
    g2, _ = qat_finetune(g, calib, torch.utils.data.TensorDataset(x, y), bits=5, epochs=2, lr=1e-2, batch=16,
                           show_progress=False)
    changed = [op.name for op, op2 in zip(g.ops, g2.ops)
               if op.linrep is not None and not np.allclose(op.linrep.a, op2.linrep.a)]
    assert changed and len(changed) == sum(op.linrep is not None for op in g.ops)
    for op, op2 in zip(g.ops, g2.ops):  # everything but a, b untouched
        if op.weight >= 0:
            np.testing.assert_array_equal(g.constants[op.weight].values, g2.constants[op2.weight].values)
        if op.bias >= 0:
            np.testing.assert_array_equal(g.constants[op.bias].values, g2.constants[op2.bias].values)
        if op.linrep is not None:
            np.testing.assert_array_equal(op.linrep.idx, op2.linrep.idx)
    g3, _ = qat_finetune(g, calib, torch.utils.data.TensorDataset(x, y), bits=5, epochs=1, lr=1e-2, batch=16,
                         show_progress=False, train_bias=True)
    assert all(not np.array_equal(g.constants[op.bias].values, g3.constants[op.bias].values)
               for op in g.ops if op.bias >= 0)
    gi = quantize_graph(g2, calib, ab_bits=5)
    xq = quantize_input(gi, calib[:2])
    np.testing.assert_array_equal(run_int8(gi, xq[1])[0], run_int8_batch(gi, xq)[0][1])


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "linrep_edge.cli", "-q", *args], capture_output=True, text=True,
                          env=env, timeout=300)


TINY = ["pack", "tiny_models:tiny_cnn", "--input-shape", "1,1,8,8", "--templates", "4"]


def test_pack_activations_int8(tmp_path, crt):
    out = tmp_path / "m.lre"
    r = _cli(*TINY, "--activations", "int8", "--ab-bits", "5", "--layer-ab-bits", "2=4", "--data", "digits",
             "--finetune-epochs", "0.5", "--evaluate", "--json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["blob_bytes"] == out.stat().st_size
    assert 0.0 <= summary["int8_accuracy"] <= 1.0
    g = parse(out.read_bytes()).graph
    assert g.is_int8
    lr_ops = [op for op in g.ops if op.type == "LINREP_CONV2D"]
    assert [(op.name, op.linrep.ab_bits) for op in lr_ops] == [("0", 5), ("2", 4)]
    assert all(op.linrep.b_exponent is not None for op in lr_ops)
    assert g.metadata.get("activations") == "int8"
    rng = np.random.default_rng(0)
    runtimes = [crt(out.read_bytes(), conv_path=p) for p in ("direct", "reuse")]
    for _ in range(3):  # the Python reference on both paths, and the C runtime's lr_run_i8 on both
        x = rng.integers(-128, 128, g.tensors[g.input].shape).astype(np.int8)
        ref = run_int8(g, x)[0]
        np.testing.assert_array_equal(ref, run_int8(g, x, conv_path="reuse")[0])
        for c in runtimes:
            np.testing.assert_array_equal(c.run_int8(x)[0].reshape(ref.shape), ref)


def test_pack_activations_int8_refusals():
    import pytest
    from tiny_models import tiny_cnn

    from linrep_edge.errors import LinRepError
    from linrep_edge.pipeline import PackSettings, pack_model

    example = torch.zeros(1, 1, 8, 8)
    for settings, message in ((PackSettings(templates=4, activations="int8"), "calibrate the activation ranges"),
                              (PackSettings(templates=4, activations="int8", data="digits", weights_dtype="int8"),
                               "--weights-dtype"),
                              (PackSettings(templates=4, activations="int4", data="digits"), "auto, fp32 or int8"),
                              (PackSettings(templates=4, activations="fp32", layer_ab_bits=["2=4"], data="digits"),
                               "for --activations int8"),
                              (PackSettings(templates=4, activations="int8", layer_ab_bits=["2:4"], data="digits"),
                               "LAYER=BITS")):
        with pytest.raises(LinRepError, match=message):
            pack_model(tiny_cnn(), example, settings, show_progress=False)


def test_auto_activations_fall_back_to_fp32_where_an_op_has_no_int8_form():
    """`--activations auto` with inputs to calibrate on: int8, unless an op has no int8 form; then fp32 and one
    note naming the ops. An explicit `--activations int8` keeps refusing with the same list."""
    import pytest
    from torch import nn

    from linrep_edge.errors import LinRepError
    from linrep_edge.pipeline import PackSettings, pack_model

    torch.manual_seed(0)
    example, x = torch.zeros(1, 1, 8, 8), torch.rand(40, 1, 8, 8)
    plain = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 3)).eval()
    res = pack_model(plain, example, PackSettings(templates=2), "plain", show_progress=False, measure_on=x)
    assert res.activations == "int8" and res.graph.is_int8 and res.notes == []
    # every op has an int8 form, but TFLite fixes SIGMOID's output to (1/256, -128) and TANH's to (1/128, 0):
    # joined by a concat they cannot share one quantisation
    class Joined(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 4, 3, padding=1)
            self.fc = nn.Linear(512, 3)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            y = self.c(v)
            return self.fc(torch.cat([torch.sigmoid(y), torch.tanh(y)], 1).flatten(1))

    joined = Joined().eval()
    res = pack_model(joined, example, PackSettings(templates=2), "joined", show_progress=False, measure_on=x)
    assert res.activations == "fp32" and not res.graph.is_int8
    notes = [n for n in res.notes if n.startswith("activations fp32")]
    assert len(notes) == 1 and "no int8 form for: " in notes[0] and "(SIGMOID) and" in notes[0] \
        and "(TANH) outputs joined" in notes[0], res.notes
    with pytest.raises(LinRepError, match=r"no int8 form for: .*\(SIGMOID\) and .*\(TANH\) outputs joined"):
        pack_model(joined, example, PackSettings(templates=2, activations="int8"), "joined", show_progress=False,
                   measure_on=x)
    # an average pool counting its zero padding (torch's default) has one: int8
    pool = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(3, 1, padding=1), nn.Flatten(),
                         nn.Linear(256, 3)).eval()
    res = pack_model(pool, example, PackSettings(templates=2), "pool", show_progress=False, measure_on=x)
    assert res.activations == "int8" and res.graph.is_int8 and res.notes == []


def test_small_int8_blob_larger_than_fp32_gets_a_note():
    """A model of a few KB whose int8 blob is larger than its fp32-activation one (per-channel quantisation
    parameters outweigh the int8 weights: the zoo's odd_convs) is told so, with both sizes, the fp32 one what
    `--activations fp32` packs; a model where int8 is smaller gets no such note."""
    from zoo import build

    from linrep_edge.pipeline import PackSettings, pack_model

    model, example = build("odd_convs")
    x = torch.randn(40, *example.shape[1:], generator=torch.Generator().manual_seed(0))
    res = pack_model(model, example, PackSettings(templates=8, cap_templates=True), "odd", show_progress=False,
                     measure_on=x)
    fp32 = pack_model(model, example, PackSettings(templates=8, cap_templates=True, activations="fp32"), "odd",
                      show_progress=False)
    assert res.activations == "int8" and len(res.blob) > len(fp32.blob)
    notes = [n for n in res.notes if "larger than this model with fp32 activations" in n]
    assert len(notes) == 1 and f"({len(res.blob)} B)" in notes[0] and f"({len(fp32.blob)} B," in notes[0], res.notes
    model, example = build("audio_conv1d")
    res = pack_model(model, example, PackSettings(templates=8, cap_templates=True), "audio", show_progress=False,
                     measure_on=torch.randn(40, *example.shape[1:]))
    assert res.activations == "int8" and not any("fp32 activations would be" in n for n in res.notes), res.notes


def test_dead_channel_with_bias_gets_a_wider_weight_scale():
    """A conv channel with weights ~0 and a bias (MLPerf Tiny's VWW model has one: max |w| 9e-31, bias -0.26)
    made the int32 bias overflow and int8 packing stop; its weight scale is now widened as TFLite does, so that
    the bias fits, the channel's weights quantise to 0, and the C runtime equals the integer reference."""
    import numpy as np
    from torch import nn

    from linrep_edge.integer.executor import run_int8
    from linrep_edge.pipeline import PackSettings, pack_model
    from linrep_edge.runtime.binding import CRuntime

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(6 * 8 * 8, 3)).eval()
    with torch.no_grad():
        model[2].weight[5] = 1e-30
        model[2].bias[5] = -0.25
    example, x = torch.zeros(1, 1, 8, 8), torch.rand(40, 1, 8, 8)
    res = pack_model(model, example, PackSettings(templates=2), "dead", show_progress=False, measure_on=x)
    assert res.activations == "int8"
    pw = next(op for op in res.graph.ops if op.type == "CONV2D" and op.name.startswith("2"))
    c = res.graph.constants[pw.weight]
    assert not c.q[5].any() and float(c.scale[5]) > 1e-20  # ~1e-32 from max |w| / 127
    bias = pw.iparams.bias.astype(np.int64)
    assert abs(int(bias[5])) <= 2 ** 30 * (1 + 1e-6) and (np.abs(bias) < 2 ** 31 - 1).all()  # fits, not clipped
    xs = np.random.default_rng(0).integers(-128, 128, size=(3, 1, 8, 8), dtype=np.int8)
    got = CRuntime(res.blob).run_int8(xs)[0]
    for n in range(3):
        np.testing.assert_array_equal(got[n].reshape(-1), run_int8(res.graph, xs[n])[0].reshape(-1))


def test_choose_activations_resolves_auto_once():
    """The one rule: explicit fp32 / int8 as given, no note; auto: fp32 with a note without inputs or with an
    fp32-only option, int8 with inputs (the default model: its own training images)."""
    from tiny_models import tiny_cnn

    from linrep_edge.graph.capture import capture
    from linrep_edge.pipeline import PackSettings, choose_activations

    g = capture(tiny_cnn(), torch.zeros(1, 1, 8, 8))
    assert choose_activations(PackSettings(activations="fp32", data="digits"), g, "tiny") == ("fp32", None)
    assert choose_activations(PackSettings(activations="int8"), g, "tiny") == ("int8", None)
    assert choose_activations(PackSettings(data="digits"), g, "tiny") == ("int8", None)
    assert choose_activations(PackSettings(calibration="x.npy"), g, "tiny") == ("int8", None)
    assert choose_activations(PackSettings(), g, "tiny", measure_on=torch.zeros(4, 1, 8, 8)) == ("int8", None)
    assert choose_activations(PackSettings(), g, "default") == ("int8", None)  # Fashion-MNIST's training images
    choice, note = choose_activations(PackSettings(), g, "tiny")
    assert choice == "fp32" and note is not None and "--calibration X.npy" in note and "--data" in note
    for settings, flag in ((PackSettings(data="digits", weights_dtype="int8"), "--weights-dtype int8"),
                           (PackSettings(data="digits", ab_scale="layer"), "--ab-scale layer")):
        choice, note = choose_activations(settings, g, "tiny")
        assert choice == "fp32" and note is not None and flag in note
