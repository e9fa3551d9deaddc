"""Issue 15 items 5-7: recovery by distillation on unlabelled calibration inputs, `pack --data` with the
user's own data, and the size notes. Tiny models on 8x8 digits: seconds each."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from linrep_edge.errors import LinRepError

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
TINY = ["tiny_models:tiny_cnn", "--input-shape", "1,1,8,8", "--templates", "4"]


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "linrep_edge.cli", "-q", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def teacher(digits):
    """tiny_cnn trained a little on digits: a teacher whose answers mean something."""
    from tiny_models import tiny_cnn

    torch.manual_seed(0)
    m = tiny_cnn().train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(3):
        for x, y in digits.train.loader(64, shuffle=True):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            opt.step()
    return m.eval()


def test_distillation_from_python_improves_agreement(teacher, digits):
    from linrep_edge.method.calibrate import agreement
    from linrep_edge.method.finetune import finetune
    from linrep_edge.pipeline import PackSettings, compress_model

    before = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    after = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    calib = digits.train.x[:400]  # unlabelled
    finetune(after, calib, epochs=10, lr=3e-3, teacher=teacher, show_progress=False)
    held = digits.test.x  # never seen by the distillation
    a0, a1 = agreement(before, teacher, held), agreement(after, teacher, held)
    assert a1["relative_output_error"] < a0["relative_output_error"]
    assert a1["top1_agreement"] >= a0["top1_agreement"]
    # the templates and indices did not move; only a and b did
    for (n, p0), (_, p1) in zip(before.named_buffers(), after.named_buffers()):
        if n.endswith(("templates", "idx")):
            assert torch.equal(p0, p1)


def test_refit_all_and_train_bn(teacher, digits):
    """refit_all: after the held-out choice of the epoch count, a, b train again from the compressed values on every
    input (the held-out metrics reported stay those of the chosen model); train_bn: batch-norm γ, β move too."""
    from linrep_edge.method.calibrate import agreement, distill_calibration
    from linrep_edge.pipeline import PackSettings, compress_model

    calib = digits.train.x[:300]
    plain = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    m0 = distill_calibration(plain, teacher, calib, epochs=4, lr=3e-3, seed=0, show_progress=False)
    refit = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    m1 = distill_calibration(refit, teacher, calib, epochs=4, lr=3e-3, seed=0, show_progress=False, refit_all=True)
    assert m1["best_epoch"] == m0["best_epoch"] > 0 and m1["refit_all_epochs"] == m1["best_epoch"]
    assert m1["relative_output_error_after"] == m0["relative_output_error_after"]  # the chosen model's, before refit
    assert any(not torch.equal(a, b) for a, b in zip(plain.state_dict().values(), refit.state_dict().values()))
    assert agreement(refit, teacher, calib)["relative_output_error"] < agreement(
        compress_model(teacher, PackSettings(templates=4), show_progress=False), teacher, calib)["relative_output_error"]
    torch.manual_seed(1)  # a net with batch norm (eval statistics): γ, β train only with train_bn
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(8 * 64, 10)).eval()
    for k, train_bn in ((0, False), (1, True)):
        student = compress_model(net, PackSettings(templates=4), show_progress=False)
        g0 = {n: p.detach().clone() for n, p in student.named_parameters() if n.startswith(("1.", "4."))}
        m = distill_calibration(student, net, calib, epochs=2, lr=3e-3, seed=k, show_progress=False,
                                train_bn=train_bn)
        moved = any(not torch.equal(p, g0[n]) for n, p in student.named_parameters() if n in g0)
        assert len(g0) == 4 and moved == (train_bn and m["best_epoch"] > 0)
    # train_plain: what the blob stores as it is (the classifier here) trains too; the teacher stays as it was
    t0 = {n: p.detach().clone() for n, p in net.named_parameters()}
    for k, train_plain in ((0, False), (1, True)):
        student = compress_model(net, PackSettings(templates=4), show_progress=False)
        h0 = {n: p.detach().clone() for n, p in student.named_parameters() if n.startswith("7.")}
        m = distill_calibration(student, net, calib, epochs=2, lr=3e-3, seed=k, show_progress=False,
                                train_plain=train_plain)
        moved = any(not torch.equal(p, h0[n]) for n, p in student.named_parameters() if n in h0)
        assert len(h0) == 2 and moved == (train_plain and m["best_epoch"] > 0)
        assert all(torch.equal(p, t0[n]) for n, p in net.named_parameters())


def test_train_templates_shares_one_codebook_and_refolds(teacher, digits):
    """trainable_templates: one parameter per codebook shared by its layers (a change reaches every layer); on the
    way out the templates are canonical (zero mean, unit norm, fp16) and a, b refolded so that each kernel
    a·T[idx] + b is the one trained, to fp16 rounding; distill_calibration(train_templates=True) moves them."""
    from linrep_edge.method.calibrate import distill_calibration
    from linrep_edge.method.linrep_conv import LinRepConv2d, trainable_templates
    from linrep_edge.pipeline import PackSettings, compress_model

    student = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    layers = [m for m in student.modules() if isinstance(m, LinRepConv2d)]
    assert len(layers) >= 2 and len({m.codebook for m in layers}) == 1
    t0 = layers[0].templates.clone()
    with trainable_templates(student) as shared:
        assert len(shared) == 1 and all(m.templates is shared[0] for m in layers)
        with torch.no_grad():
            shared[0].mul_(1.5).add_(torch.linspace(-0.2, 0.3, shared[0].numel()).reshape(shared[0].shape))
        want = [m.weight().detach().double() for m in layers]
    for m, w in zip(layers, want):
        t = m.templates.flatten(1).double()
        assert "templates" in m._buffers and "templates" not in m._parameters
        assert torch.allclose(t.mean(1), torch.zeros(4, dtype=torch.float64), atol=1e-3)
        assert torch.allclose(t.norm(dim=1), torch.ones(4, dtype=torch.float64), atol=1e-3)
        assert torch.equal(m.templates, m.templates.half().float())
        assert (m.weight().detach().double() - w).norm() <= 2e-3 * w.norm()
    student = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    m = distill_calibration(student, teacher, digits.train.x[:300], epochs=3, lr=3e-3, seed=0, show_progress=False,
                            train_templates=True)
    moved = [mod.templates for mod in student.modules() if isinstance(mod, LinRepConv2d)]
    assert m["best_epoch"] > 0 and not torch.allclose(moved[0], t0) and all(torch.equal(t, moved[0]) for t in moved)


def test_ema_keeps_the_moving_average(teacher, digits):
    """ema = d: the values scored and kept are the exponential moving average of the optimiser's values after each
    step, recomputed here from the steps themselves (an optimiser hook); d out of [0, 1) is refused."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from linrep_edge.errors import LinRepError
    from linrep_edge.method.calibrate import distill_calibration, trainable_parameters
    from linrep_edge.pipeline import PackSettings, compress_model

    calib = digits.train.x[:300]
    student = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    params = trainable_parameters(student)
    avg = [p.detach().clone() for p in params]
    d = 0.8
    steps = []

    def after_step(opt, args, kwargs):
        steps.append(1)
        for a, p in zip(avg, params):
            a.mul_(d).add_(p.detach(), alpha=1 - d)

    handle = register_optimizer_step_post_hook(after_step)
    try:
        m = distill_calibration(student, teacher, calib, epochs=1, lr=3e-3, seed=0, show_progress=False, ema=d)
    finally:
        handle.remove()
    assert len(steps) == 4 and m["best_epoch"] == 1  # 240 fit inputs in batches of 64; the average improved
    for a, p in zip(avg, params):  # the kept values, rounded to their storage precision
        assert torch.allclose(p.detach(), a, rtol=2e-3, atol=1e-6)
    raw = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    distill_calibration(raw, teacher, calib, epochs=1, lr=3e-3, seed=0, show_progress=False)
    assert any(not torch.allclose(p.detach(), q.detach()) for p, q in zip(params, trainable_parameters(raw)))
    for bad in (-0.1, 1.0):
        with pytest.raises(LinRepError, match="EMA"):
            distill_calibration(raw, teacher, calib, epochs=1, show_progress=False, ema=bad)


def _block_errors(student, teacher, names, x):
    """Per block: MSE(student block output, teacher block output) / var(teacher's), each model running on its own."""
    outs = []
    for model in (student, teacher):
        got = {}
        mods = dict(model.named_modules())
        hs = [mods[n].register_forward_hook(lambda _m, _i, o, n=n: got.__setitem__(n, o)) for n in names]
        with torch.no_grad():
            model(x)
        for h in hs:
            h.remove()
        outs.append(got)
    return [float(((outs[0][n] - outs[1][n]) ** 2).mean() / outs[1][n].var()) for n in names]


def test_blockwise_reconstruction(digits, monkeypatch):
    """blockwise: block by block in forward order (the stem and residual blocks of a ResNet-8), only that block's a, b
    train to match the teacher block's output given the reconstructed student prefix: every block's error against
    the teacher on the fit inputs falls (also with Fisher weights); distill_calibration runs it on the fit part only
    (never the held-out part) and starts the end-to-end stage from it; bad arguments are refused."""
    from linrep_edge.method import blockwise as calibrate  # the block-wise stage (distill_calibration imports it)
    from linrep_edge.method.blockwise import blockwise_reconstruct, linrep_blocks
    from linrep_edge.method.calibrate import DistillLoss, agreement, distill_calibration, split_calibration
    from linrep_edge.models.resnet8 import ResNet8
    from linrep_edge.pipeline import PackSettings, compress_model

    torch.manual_seed(0)
    teacher = ResNet8(widths=(4, 8, 8)).eval()
    with torch.no_grad():  # batch-norm statistics of a trained net: not the identity
        for m in teacher.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    calib = digits.train.x[:200]
    fit, held = split_calibration(calib, seed=0)
    student = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    names = [n for n, _ in linrep_blocks(student, fit[:4])]
    assert names == ["stem", "layer1", "layer2", "layer3"]
    before = _block_errors(student, teacher, names, fit)
    untouched = {n: p.detach().clone() for n, p in student.named_parameters() if not n.endswith((".a", ".b"))}
    for fisher in (False, True):
        s = copy.deepcopy(student)
        rep = blockwise_reconstruct(s, teacher, fit, 3, lr=3e-3, seed=0, fisher=fisher, show_progress=False)
        assert [r["block"] for r in rep] == names
        assert all(r["fit_loss_after"] < r["fit_loss_before"] for r in rep)
        after = _block_errors(s, teacher, names, fit)
        if not fisher:  # the Fisher-weighted error falls (fit_loss_*), the plain one need not in every block
            assert all(b1 < b0 for b0, b1 in zip(before, after)), (before, after)
        assert after[-1] < before[-1]
        assert agreement(s, teacher, fit)["relative_output_error"] < agreement(student, teacher, fit)[
            "relative_output_error"]
        assert all(torch.equal(p, untouched[n]) for n, p in s.named_parameters() if n in untouched)
        assert all(p.requires_grad for n, p in s.named_parameters() if n.endswith((".a", ".b")))
    seen = []
    real = calibrate.blockwise_reconstruct

    def spy(student_, teacher_, x_, *args, **kwargs):
        seen.append(x_)
        return real(student_, teacher_, x_, *args, **kwargs)

    monkeypatch.setattr(calibrate, "blockwise_reconstruct", spy)
    s = copy.deepcopy(student)
    m = distill_calibration(s, teacher, calib, epochs=1, lr=3e-3, seed=0, show_progress=False, blockwise=2,
                            blockwise_fisher=True, match_bn=False)  # the block-wise stage alone before epoch 0
    assert len(seen) == 1 and torch.equal(seen[0], fit)  # the fit part only: the held-out part is never trained on
    assert [r["block"] for r in m["blockwise_blocks"]] == names
    assert m["blockwise_relative_output_error"] < m["relative_output_error_before"]
    s2 = copy.deepcopy(student)  # the block-wise stage alone
    real(s2, teacher, fit, 2, lr=3e-3, seed=0, fisher=True, show_progress=False)
    loss = DistillLoss(s2, teacher)
    with torch.no_grad():  # the end-to-end stage's epoch 0 (the score to beat) is the block-wise result
        assert float(loss(held)) == pytest.approx(m["held_out_loss_before"], rel=1e-5)
    loss.close()
    assert m["held_out_loss_after"] <= m["held_out_loss_before"]
    for kwargs in ({"blockwise": -1}, {"blockwise": 1.5}, {"blockwise": True}, {"blockwise_fisher": True}):
        with pytest.raises(LinRepError, match="blockwise"):
            distill_calibration(s, teacher, calib, epochs=1, show_progress=False, **kwargs)
    with pytest.raises(LinRepError, match="epochs per block"):
        blockwise_reconstruct(s, teacher, fit, 0, show_progress=False)

    class Twice(torch.nn.Module):  # one block called twice: no forward order to reconstruct in
        def __init__(self) -> None:
            super().__init__()
            self.stem = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)
            self.head = torch.nn.Linear(4 * 64, 10)

        def forward(self, x):
            return self.head(self.conv(self.conv(self.stem(x))).flatten(1))

    tw = Twice().eval()
    with pytest.raises(LinRepError, match="exactly once"):
        blockwise_reconstruct(compress_model(tw, PackSettings(templates=4), show_progress=False), tw, fit, 1,
                              show_progress=False)


def test_teacher_flip_targets_the_mean_of_the_mirrored_logits(teacher, digits):
    """teacher_flip: the output term's target is the mean of the teacher's logits on x and on x mirrored left-right
    (recomputed here from the teacher), the feature maps matched stay those of x itself; a spatial output is refused."""
    import torch.nn.functional as F

    from linrep_edge.errors import LinRepError
    from linrep_edge.method.calibrate import DistillLoss
    from linrep_edge.pipeline import PackSettings, compress_model

    student = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    x = digits.train.x[:32]
    with torch.no_grad():
        want = F.kl_div(F.log_softmax(student(x), 1), F.log_softmax((teacher(x) + teacher(x.flip(-1))) / 2, 1),
                        log_target=True, reduction="batchmean")
        plain = F.kl_div(F.log_softmax(student(x), 1), F.log_softmax(teacher(x), 1), log_target=True,
                         reduction="batchmean")
        got = DistillLoss(student, teacher, feature_weight=0.0, teacher_flip=True)(x)
        assert torch.allclose(got, want) and not torch.allclose(got, plain)
        # with the feature term: the teacher's maps are x's own (the same loss as without the flip, less the KL)
        flip_feat = DistillLoss(student, teacher, feature_weight=1.0, teacher_flip=True)(x) - got
        plain_feat = DistillLoss(student, teacher, feature_weight=1.0)(x) - plain
        assert torch.allclose(flip_feat, plain_feat, rtol=1e-5, atol=1e-7) and float(plain_feat) > 0
    spatial = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 3)).eval()
    s2 = compress_model(spatial, PackSettings(templates=4), show_progress=False)
    with pytest.raises(LinRepError, match="mirrored back"):
        DistillLoss(s2, spatial, teacher_flip=True)(x)


def test_conv1d_models_distil_their_feature_maps():
    """A 1-D conv (audio) is compressed as a 2-D one inside `Conv1dAs2d` ("c1.conv"); the feature term matches it with
    the teacher's nn.Conv1d "c1" ([N, C, L] against [N, C, 1, L]): the term equals that MSE computed here, and
    distillation lowers the held-out error (it stopped with "the teacher has no module 'c1.conv'" before)."""
    import torch.nn.functional as F

    from linrep_edge.method.calibrate import DistillLoss, distill_calibration
    from linrep_edge.pipeline import PackSettings, compress_model

    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("c1", torch.nn.Conv1d(8, 16, 5, padding=2))
    net.add_module("r", torch.nn.ReLU())
    net.add_module("c2", torch.nn.Conv1d(16, 16, 3))
    net.add_module("f", torch.nn.Flatten())
    net.add_module("fc", torch.nn.Linear(16 * 30, 6))
    net.eval()
    student = compress_model(net, PackSettings(templates=4), show_progress=False)
    assert type(student.c1).__name__ == "Conv1dAs2d"
    x = torch.randn(64, 8, 32)
    loss = DistillLoss(student, net, feature_weight=1.0)
    with torch.no_grad():
        total, kl = loss(x), DistillLoss(student, net, feature_weight=0.0)(x)
        want = 0.0
        for name in ("c1", "c2"):
            t = getattr(net, name)(x if name == "c1" else net.r(net.c1(x)))
            s_ = loss.s_tap.out[f"{name}.conv"]
            want += float(F.mse_loss(s_, t.reshape(s_.shape)) / t.var())
        assert abs(float(total - kl) - want / 2) < 1e-5 * max(want, 1.0)
    loss.close()
    m = distill_calibration(student, net, x, epochs=3, lr=3e-3, seed=0, show_progress=False)
    assert m["relative_output_error_after"] < m["relative_output_error_before"]


def test_augment_batch_flips_shifts_and_mixes():
    from linrep_edge.method.calibrate import augment_batch

    x = torch.arange(6 * 2 * 7 * 9, dtype=torch.float32).reshape(6, 2, 7, 9) + 1.0  # no two pixels alike

    def variants(img: np.ndarray) -> list[np.ndarray]:  # every flip and shift by up to 2 px (zero fill)
        out = []
        for f in (img, img[:, :, ::-1]):
            p = np.pad(f, ((0, 0), (2, 2), (2, 2)))
            out += [p[:, dy:dy + 7, dx:dx + 9] for dy in range(5) for dx in range(5)]
        return out

    y = augment_batch(x, torch.Generator().manual_seed(3), shift=2)
    assert y.shape == x.shape
    for i in range(6):
        assert any(np.array_equal(y[i].numpy(), v) for v in variants(x[i].numpy()))
    assert not torch.equal(y, x)  # 6 inputs, 50 variants each: something moved
    assert torch.equal(y, augment_batch(x, torch.Generator().manual_seed(3), shift=2))  # the generator decides
    m = augment_batch(x, torch.Generator().manual_seed(3), shift=0, flip=False, mixup=0.4)
    assert not torch.equal(m, x)
    # each mixed input is (1 - mu) x_i + mu x_j with mu <= 0.4: within the segment between two inputs
    for i in range(6):
        ok = False
        for j in range(6):
            d = x[j] - x[i]
            if torch.all(d == 0):
                ok = ok or torch.equal(m[i], x[i])
                continue
            mu = float(((m[i] - x[i]) * d).sum() / (d * d).sum())
            ok = ok or (-1e-6 <= mu <= 0.4 + 1e-6 and torch.allclose(m[i], x[i] + mu * d, atol=1e-3))
        assert ok
    flat = torch.zeros(4, 10)
    assert augment_batch(flat, torch.Generator()) is flat  # not images: as given


def test_adversarial_batch_raises_the_disagreement(teacher, digits):
    """adversarial_batch moves each input one signed-gradient step of s x std(x) per element towards more
    student-teacher KL: the step has exactly that size, the disagreement grows, and only the input moved; a
    distillation with it still improves the held-out agreement; a step outside [0, 1] is refused."""
    import torch.nn.functional as F

    from linrep_edge.method.calibrate import adversarial_batch, agreement, distill_calibration
    from linrep_edge.pipeline import PackSettings, compress_model

    student = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    x = digits.train.x[:64]
    state = {k: v.clone() for k, v in student.state_dict().items()}

    def kl(inp: torch.Tensor) -> float:
        with torch.no_grad():
            return float(F.kl_div(F.log_softmax(student(inp), 1), F.log_softmax(teacher(inp), 1), log_target=True,
                                  reduction="sum"))

    xa = adversarial_batch(student, teacher, x, 0.1)
    assert xa.shape == x.shape and not xa.requires_grad
    d, step = (xa - x).abs(), 0.1 * float(x.std())
    assert torch.all((d < 1e-7) | ((d - step).abs() < 1e-6))  # ± the step, or 0 where the gradient is 0
    assert float((d > 0).float().mean()) > 0.5
    assert kl(xa) > kl(x)
    assert all(torch.equal(v, state[k]) for k, v in student.state_dict().items())
    held = digits.test.x
    before = agreement(student, teacher, held)["relative_output_error"]
    distill_calibration(student, teacher, digits.train.x[:300], epochs=4, lr=3e-3, adversarial=0.05,
                        show_progress=False)
    assert agreement(student, teacher, held)["relative_output_error"] < before
    with pytest.raises(LinRepError, match="adversarial step"):
        distill_calibration(student, teacher, x, adversarial=1.5, show_progress=False)


def test_calibration_checks(tmp_path):
    from linrep_edge.method.calibrate import load_calibration

    ex = torch.zeros(1, 1, 8, 8)
    np.save(tmp_path / "nhwc.npy", np.zeros((20, 8, 8, 1), np.uint8))
    assert load_calibration(tmp_path / "nhwc.npy", ex).shape == (20, 1, 8, 8)
    np.savez(tmp_path / "two.npz", a=np.zeros((20, 1, 8, 8)), b=np.zeros(3))
    with pytest.raises(LinRepError, match="array 'x'"):
        load_calibration(tmp_path / "two.npz", ex)
    np.save(tmp_path / "few.npy", np.zeros((3, 1, 8, 8), np.float32))
    with pytest.raises(LinRepError, match="at least 10"):
        load_calibration(tmp_path / "few.npy", ex)
    one_d = torch.zeros(1, 16, 1, 98)  # an imported 1-D .tflite's input [C, 1, L]: [C, L] items are taken
    rows = np.random.default_rng(0).standard_normal((20, 16, 98)).astype(np.float32)
    np.save(tmp_path / "audio.npy", rows)
    got = load_calibration(tmp_path / "audio.npy", one_d)
    assert got.shape == (20, 16, 1, 98) and np.array_equal(got.numpy()[:, :, 0], rows)
    np.save(tmp_path / "wrong.npy", np.zeros((20, 98, 16), np.float32))
    with pytest.raises(LinRepError, match=r"the model takes \(16, 1, 98\)"):
        load_calibration(tmp_path / "wrong.npy", one_d)


def test_calibration_note_tells_noise_from_real_inputs(digits):
    """Inputs with no correlation between neighbouring values (noise) or no variation get a warning; images do
    not (the digits' neighbours correlate at ~0.7, Fashion-MNIST's more), nor images read NHWC or transposed."""
    from linrep_edge.method.calibrate import calibration_note, neighbour_correlation

    real = digits.train.x[:200]
    assert neighbour_correlation(real) > 0.5 and calibration_note(real, "here") is None
    assert calibration_note(real.transpose(2, 3), "here") is None
    gen = torch.Generator().manual_seed(0)
    for noise in (torch.rand(200, 1, 8, 8, generator=gen), torch.randn(20, 3, 32, 32, generator=gen)):
        assert abs(neighbour_correlation(noise)) < 0.05
        note = calibration_note(noise, "--calibration x.npy")
        assert note is not None and "--calibration x.npy" in note and "look like noise" in note
    assert "same" in calibration_note(torch.full((20, 1, 8, 8), 0.5), "here")
    smooth = torch.rand(20, 1, 8, 1, generator=gen).expand(20, 1, 8, 8)  # rows constant: neighbours along W equal
    assert calibration_note(smooth, "here") is None
    assert neighbour_correlation(torch.rand(20, 16, generator=gen)) is None  # feature vectors: no neighbours


def test_pack_calibration_cli(tmp_path, digits):
    good, wrong = tmp_path / "calib.npy", tmp_path / "wrong.npy"
    np.save(good, digits.train.x[:200].numpy())
    np.save(wrong, np.zeros((50, 1, 28, 28), np.float32))
    out = tmp_path / "c.lre"
    r = run("pack", *TINY, "--calibration", str(good), "--calibration-epochs", "3", "--calibration-augment",
            "--calibration-temperature", "2", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["activations"] == "int8"  # calibration inputs: int8 by default, its agreement through the integer reference
    c = s["calibration"]
    assert c["calibration_held_out"] == 40 and 1 <= c["epochs_run"] <= 3
    assert 0 <= c["packed_top1_agreement"] <= 1 and c["packed_relative_output_error"] >= 0
    assert not any("look like noise" in n for n in s["notes"]), s["notes"]
    meta = json.loads(run("report", str(out), "--json").stdout)["metadata"]
    assert meta["calibration"] == "calib.npy" and meta["calibration_epochs"] == 3
    assert meta["calibration_augment"] is True and meta["calibration_temperature"] == 2.0
    r = run("pack", *TINY, "--calibration", str(good), "--calibration-epochs", "1", "-o", str(tmp_path / "t.lre"))
    assert r.returncode == 0 and "held-out calibration inputs" in r.stdout and "agreement" in r.stdout
    # the packed (int8) figure beside the float model's before and after the distillation, each named: the int8
    # rounding is not read as a fine-tuning that made the model worse
    assert "as packed (int8 activations)" in r.stdout and "before packing, as compressed" in r.stdout
    assert "calibration epoch(s) (best" in r.stdout
    # integer a/b (straight-through quantizer) and pruning: the packed graph gives what the trained model gave
    r = run("pack", *TINY, "--calibration", str(good), "--calibration-epochs", "2", "--ab-bits", "6",
            "--prune-sparsity", "0.3", "--activations", "fp32", "-o", str(tmp_path / "q.lre"), "--json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)["calibration"]
    assert c["packed_relative_output_error"] == pytest.approx(c["relative_output_error_after"], rel=1e-3, abs=1e-4)
    assert c["held_out_loss_after"] <= c["held_out_loss_before"]
    noise = tmp_path / "noise.npy"  # packs, with a warning that the agreement measured on it means little
    np.save(noise, np.random.default_rng(0).random((200, 1, 8, 8)).astype(np.float32))
    r = run("pack", *TINY, "--calibration", str(noise), "--calibration-epochs", "1", "-o", str(tmp_path / "n.lre"),
            "--json")
    assert r.returncode == 0, r.stderr
    assert any("look like noise" in n for n in json.loads(r.stdout)["notes"])
    assert f"note: warning: --calibration {noise}" in r.stderr
    bad = tmp_path / "w.lre"
    r = run("pack", *TINY, "--calibration", str(wrong), "-o", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("error") == 1 and "--calibration" in r.stderr and "(1, 8, 8)" in r.stderr
    assert not bad.exists()


def test_pack_user_data(tmp_path, digits):
    x, y = digits.train.x[:300].numpy(), digits.train.y[:300].numpy()
    np.savez(tmp_path / "lab.npz", x=x, y=y)
    out = tmp_path / "l.lre"
    r = run("pack", *TINY, "--data", str(tmp_path / "lab.npz"), "--finetune-epochs", "1", "--evaluate",
            "--activations", "fp32", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert "val_accuracy_after_finetune" in s and "finetune_s" in s
    r = run("pack", *TINY, "--data", str(tmp_path / "lab.npz"), "--finetune-epochs", "1", "--evaluate",
            "-o", str(out), "--json")  # labelled inputs: int8 by default, fine-tuned with the int8 model in the loop
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["activations"] == "int8" and 0 <= s["int8_val_accuracy"] <= 1 and "val_accuracy_before_finetune" in s
    y12 = y.copy()
    y12[0] = 11
    np.savez(tmp_path / "bad.npz", x=x, y=y12)
    r = run("pack", *TINY, "--data", str(tmp_path / "bad.npz"), "--finetune-epochs", "1", "-o", str(tmp_path / "b.lre"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "0..9" in r.stderr and "10 outputs" in r.stderr
    np.savez(tmp_path / "shape.npz", x=np.zeros((30, 1, 28, 28), np.float32), y=np.zeros(30, np.int64))
    r = run("pack", *TINY, "--data", str(tmp_path / "shape.npz"), "--finetune-epochs", "1", "-o", str(tmp_path / "s.lre"))
    assert r.returncode == 2 and "(1, 8, 8)" in r.stderr
    np.save(tmp_path / "unl.npy", x)
    r = run("pack", *TINY, "--data", str(tmp_path / "unl.npy"), "--finetune-epochs", "1", "-o", str(tmp_path / "u.lre"))
    assert r.returncode == 2 and "--calibration" in r.stderr
    assert not list(tmp_path.glob("[bsu].lre"))


def test_size_notes_and_report(tmp_path):
    from linrep_edge.format.report import storage_report

    out = tmp_path / "n.lre"
    r = run("pack", *TINY, "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["activations"] == "fp32"  # no inputs to calibrate int8 on
    notes = json.loads(r.stdout)["notes"]
    assert any("--weights-dtype int8 would save" in n for n in notes) and "note: LinRep covers" in r.stderr
    saving = storage_report(out.read_bytes()).int8_other_tensors_saving_bytes
    rep = json.loads(run("report", str(out), "--json").stdout)
    assert rep["int8_other_tensors_saving_bytes"] == saving > 0
    assert "--weights-dtype int8 would save" in run("report", str(out)).stdout
    i8 = tmp_path / "i8.lre"
    r = run("pack", *TINY, "--weights-dtype", "int8", "-o", str(i8), "--json")
    assert r.returncode == 0 and not any("int8 would save" in n for n in json.loads(r.stdout)["notes"])
    assert len(out.read_bytes()) - len(i8.read_bytes()) == pytest.approx(saving, rel=0.02)
    r = run("pack", *TINY, "--ab-bits", "8", "-o", str(tmp_path / "q.lre"), "--json")
    assert r.returncode == 0
    assert any("larger than fp16 a/b" in n for n in json.loads(r.stdout)["notes"])


def test_verify_measures_fidelity_against_a_factory_model(tmp_path):
    """`verify --model` with each kind of MODEL argument `loading.load_model` reads (package.module:factory, the
    input shape from the blob; a torch.export .pt2; an .onnx file): top-1 agreement and relative error of the C
    runtime against that model, equal to what the packed model's torch rebuild gives against it here."""
    from tiny_models import tiny_cnn

    from linrep_edge.format.reader import parse
    from linrep_edge.graph.executor import GraphModel

    blob = tmp_path / "t.lre"
    assert run("pack", *TINY, "--activations", "fp32", "-o", str(blob)).returncode == 0
    x = np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    with torch.no_grad():
        want = tiny_cnn()(torch.from_numpy(x)).numpy()
        got = GraphModel(parse(blob.read_bytes()).graph).eval()(torch.from_numpy(x)).numpy()
    pt2, onnx_file = tmp_path / "tiny.pt2", tmp_path / "tiny.onnx"
    torch.export.save(torch.export.export(tiny_cnn(), (torch.zeros(1, 1, 8, 8),)), str(pt2))
    torch.onnx.export(tiny_cnn(), (torch.zeros(1, 1, 8, 8),), str(onnx_file), dynamo=False, opset_version=17)
    for model in ("tiny_models:tiny_cnn", str(pt2), str(onnx_file)):
        r = run("verify", str(blob), "--inputs", str(tmp_path / "x.npy"), "--model", model, "--json")
        assert r.returncode == 0, r.stderr
        v = json.loads(r.stdout)
        assert v["original_top1_agreement"] == float((got.argmax(1) == want.argmax(1)).mean()), model
        assert abs(v["original_relative_error"] - np.linalg.norm(got - want) / np.linalg.norm(want)) < 1e-4, model


@pytest.mark.parametrize("activations", ["fp32", "int8"])
def test_verify_per_layer_sqnr_against_the_original(tmp_path, activations):
    """`verify --model`'s per-layer table (SQNR of each op's output against the original's op) for both kinds of
    blob: one row per op of the blob, and the last row equal to the SQNR computed here from the model's final outputs
    (fp32: the blob's torch rebuild; int8: the C runtime's bytes, dequantised) against the original's. The int8 table
    was missing (int8 blobs are the default where there are inputs to calibrate on)."""
    from tiny_models import tiny_cnn

    from linrep_edge.format.reader import parse
    from linrep_edge.graph.executor import GraphModel
    from linrep_edge.integer.batch import quantize_input
    from linrep_edge.runtime.binding import CRuntime

    x = np.random.default_rng(1).random((40, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    blob = tmp_path / "t.lre"
    extra = ["--calibration", str(tmp_path / "x.npy"), "--calibration-epochs", "1"] if activations == "int8" else []
    r = run("pack", *TINY, "--activations", activations, *extra, "-o", str(blob))
    assert r.returncode == 0, r.stderr
    raw = blob.read_bytes()
    g = parse(raw).graph
    with torch.no_grad():
        want = tiny_cnn()(torch.from_numpy(x)).numpy().astype(np.float64)
        if activations == "int8":
            t = g.tensors[g.results[0]]
            q = CRuntime(raw, "t.lre").run_int8(quantize_input(g, x))[0].reshape(want.shape)
            got = float(np.float32(t.scale)) * (q.astype(np.float64) - t.zero_point)
        else:
            got = GraphModel(g).eval()(torch.from_numpy(x)).numpy().astype(np.float64)
    sqnr = 10 * np.log10(np.sum(want ** 2) / np.sum((want - got) ** 2))
    r = run("verify", str(blob), "--inputs", str(tmp_path / "x.npy"), "--model", "tiny_models:tiny_cnn", "--json")
    assert r.returncode == 0, r.stderr
    layers = json.loads(r.stdout)["layers"]
    assert [row["type"] for row in layers] == [op.type for op in g.ops]
    assert layers[-1]["sqnr_db"] == pytest.approx(sqnr, abs=0.05)
    assert all(row["sqnr_db"] is not None and 0 < row["sqnr_db"] < 80 for row in layers)
    text = run("verify", str(blob), "--inputs", str(tmp_path / "x.npy"), "--model", "tiny_models:tiny_cnn").stdout
    assert "per layer, output vs the original's" in text and text.count("LINREP_CONV2D") == 2


def test_inputs_the_original_answers_with_one_class_get_a_note(tmp_path):
    """Found with MLPerf Tiny's CIFAR-10 ResNet, which takes 0..255: its photo crops given as uint8 were scaled
    by 1/255 and the original answered class 0 to all of them; pack and verify said nothing. The rule: a
    classifier giving one class to at least 90 % of 20 or more inputs gets a note naming the input scaling,
    in pack's notes and in verify's (text and --json); a model answering several classes gets none."""
    from torch import nn

    from linrep_edge.pipeline import PackSettings, pack_model
    from linrep_edge.runtime.verify import format_result, verify
    from linrep_edge.user_data import one_answer_note

    planted = np.zeros((40, 5))
    planted[:36, 3] = 1.0
    planted[36:, 1] = 1.0
    note = one_answer_note(planted, "--calibration x.npy")
    assert note is not None and "class 3 to 36 of the 40" in note and "1/255" in note
    planted[4:, 3] = 0.0
    planted[4:, 2] = 1.0
    assert one_answer_note(planted, "x") is None  # 4 of 40 on class 3, 32 on 2: 80 %
    assert one_answer_note(np.eye(2)[np.zeros(40, int)], "x") is None  # two classes: no rule
    assert one_answer_note(np.eye(5)[np.zeros(10, int)], "x") is None  # too few inputs

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()
    x = torch.rand(64, 3, 8, 8)
    np.save(tmp_path / "x.npy", x.numpy())
    with torch.no_grad():
        net[-1].bias.copy_(torch.tensor([0.0, 0.0, 50.0, 0.0, 0.0]))  # a model on inputs it never saw: class 2
    res = pack_model(net, torch.zeros(1, 3, 8, 8), PackSettings(templates=4, activations="fp32",
                                                                calibration=str(tmp_path / "x.npy"),
                                                                calibration_epochs=0), show_progress=False)
    assert any("gives class 2 to 64 of the 64 inputs" in n for n in res.notes), res.notes
    r = verify(res.blob, x.numpy(), None, original=net, inputs_name="--inputs x.npy")
    assert len(r["notes"]) == 1 and r["notes"][0].startswith("warning: --inputs x.npy: the original model gives "
                                                             "class 2 to 64 of the 64")
    assert r["notes"][0] in format_result(r)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.Flatten(),
                        nn.Linear(8 * 64, 5)).eval()
    x = torch.randn(64, 3, 8, 8)
    np.save(tmp_path / "x.npy", x.numpy())
    assert np.bincount(net(x).argmax(1).numpy()).max() < 0.9 * 64  # several classes
    res = pack_model(net, torch.zeros(1, 3, 8, 8), PackSettings(templates=4, activations="int8",
                                                                calibration=str(tmp_path / "x.npy"),
                                                                calibration_epochs=0), show_progress=False)
    assert not any("gives class" in n for n in res.notes), res.notes
    r = verify(res.blob, x.numpy(), None, original=net)
    assert r["notes"] == [] and "gives class" not in format_result(r)
