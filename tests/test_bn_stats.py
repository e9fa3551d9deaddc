"""Batch-norm statistics matched to the original's on unlabelled inputs (method/bn_stats.py) and their use before
distilling: closed forms for the statistics, planted compression errors for the recovery, the held-out guard."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from linrep_edge.method.bn_stats import ONE_PASS_BYTES, activation_bytes, match_batchnorm


def _pair() -> tuple[nn.Sequential, nn.Sequential]:
    """A teacher with statistics that are not those of the test's inputs, and a student whose convs differ."""
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4, momentum=0.3), nn.ReLU(), nn.Dropout(0.5),
                            nn.Flatten(), nn.Linear(4 * 25, 6), nn.BatchNorm1d(6)).eval()
    with torch.no_grad():
        teacher[1].running_mean.uniform_(-1, 1)
        teacher[1].running_var.uniform_(0.5, 2)
        teacher[6].running_mean.uniform_(-1, 1)
        teacher[6].running_var.uniform_(0.5, 2)
    student = copy.deepcopy(teacher)
    with torch.no_grad():
        student[0].weight.mul_(1.3).add_(0.05)  # a compression error with a per-channel mean and scale
        student[5].weight.mul_(0.8)
    return teacher, student


def _bn_out_stats(model: nn.Sequential, x: torch.Tensor, upto: int) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        y = model[:upto + 1](x)
    dims = (0, 2, 3) if y.dim() == 4 else (0,)
    return y.mean(dims), y.std(dims, unbiased=False)


@pytest.mark.parametrize("one_pass", [True, False], ids=["one-pass", "pass-per-bn"])
def test_each_batch_norm_output_matches_the_teachers_in_closed_form(one_pass):
    """In one pass over all the inputs, or a pass per batch norm (one_pass_bytes=0). (The ids are fixed: the
    default budget depends on the memory available, which differs between test workers.)"""
    teacher, student = _pair()
    x = torch.randn(60, 2, 5, 5) * 2 + 0.5
    assert match_batchnorm(student, teacher, x, batch=16, one_pass_bytes=ONE_PASS_BYTES if one_pass else 0) == 2
    for upto in (1, 6):  # each in the order they run, the second measured with the first matched: both exact
        mt, st = _bn_out_stats(teacher, x, upto)
        ms, ss = _bn_out_stats(student, x, upto)
        assert torch.allclose(ms, mt, atol=1e-5) and torch.allclose(ss, st, rtol=1e-4)
    assert not any(m.training for m in student.modules()) and student[1].momentum == 0.3


def test_one_pass_equals_a_pass_per_batch_norm_on_a_compressed_network(monkeypatch):
    """The one-pass matching gives the statistics the pass per batch norm gives (float64 sums in another order),
    on a compressed two-conv net; activation_bytes decides which runs."""
    from tiny_models import tiny_bn_cnn

    from linrep_edge.method import bn_stats
    from linrep_edge.method.compress import compress

    calls: list[int] = []
    one_pass = bn_stats._match_in_one_pass
    monkeypatch.setattr(bn_stats, "_match_in_one_pass", lambda *a: calls.append(1) or one_pass(*a))

    teacher = tiny_bn_cnn()
    student, _ = compress(teacher, templates=3, seed=0, show_progress=False)
    x = torch.rand(100, 1, 8, 8)
    per_bn, one = copy.deepcopy(student), copy.deepcopy(student)
    assert activation_bytes(one, x) == 3 * 4 * (8 * 8 * 8) * 100  # the largest output: 8 channels of 8x8
    assert match_batchnorm(per_bn, teacher, x, batch=7, one_pass_bytes=activation_bytes(one, x) - 1) == 2
    assert calls == []
    assert match_batchnorm(one, teacher, x, batch=7, one_pass_bytes=activation_bytes(one, x)) == 2
    assert calls == [1]
    for (k, a), b in zip(per_bn.state_dict().items(), one.state_dict().values()):
        if k.endswith(("running_mean", "running_var")):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), k
    assert not torch.allclose(one[1].running_mean, teacher[1].running_mean)  # something was matched


def test_a_student_equal_to_its_teacher_is_left_alone_and_inputs_from_the_training_data_re_estimate():
    teacher, _ = _pair()
    same = copy.deepcopy(teacher)
    x = torch.randn(50, 2, 5, 5)
    match_batchnorm(same, teacher, x)
    for a, b in zip(same.state_dict().values(), teacher.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)
    # when the teacher's statistics are its inputs' own (its training data), matching is re-estimation: the
    # student's running mean and variance are its inputs' mean and variance (population, + eps folded)
    teacher, student = _pair()
    with torch.no_grad():
        c = teacher[0](x)
        teacher[1].running_mean.copy_(c.mean((0, 2, 3)))
        teacher[1].running_var.copy_(c.var((0, 2, 3), unbiased=False))
    match_batchnorm(student, teacher, x)
    with torch.no_grad():
        cs = student[0](x)
    assert torch.allclose(student[1].running_mean, cs.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(student[1].running_var, cs.var((0, 2, 3), unbiased=False), rtol=1e-4)


def test_no_shared_batch_norm_is_a_no_op_and_failure_restores_the_statistics():
    plain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).eval()
    before = copy.deepcopy(plain.state_dict())
    assert match_batchnorm(plain, plain, torch.randn(8, 1, 5, 5)) == 0
    assert all(torch.equal(before[k], v) for k, v in plain.state_dict().items())
    teacher, student = _pair()
    other = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(5)).eval()  # same name '1', other shape
    assert match_batchnorm(student, other, torch.randn(8, 2, 5, 5)) == 0
    saved = copy.deepcopy(student.state_dict())
    student[5] = nn.Linear(4 * 25, 7)  # the second batch norm now fails in the student's pass
    with pytest.raises(RuntimeError):
        match_batchnorm(student, teacher, torch.randn(10, 2, 5, 5))
    assert all(torch.equal(saved[k], student.state_dict()[k]) for k in ("1.running_mean", "1.running_var"))
    assert not any(m.training for m in student.modules())


def _teacher_and_inputs() -> tuple[nn.Module, torch.Tensor]:
    from tiny_models import tiny_bn_cnn
    from linrep_edge.datasets import load_digits

    return tiny_bn_cnn(), load_digits().train.x[300:700]


def test_distillation_starts_from_matched_statistics_when_the_held_out_part_agrees():
    """Planted: the compressed student's batch norms still hold the original's statistics; 0 epochs = only the
    matching, which must bring the student closer to the original on the held-out inputs."""
    from linrep_edge.method.calibrate import distill_calibration
    from linrep_edge.pipeline import PackSettings, compress_model

    teacher, x = _teacher_and_inputs()
    student = compress_model(teacher, PackSettings(templates=2), show_progress=False)
    m = distill_calibration(student, teacher, x, epochs=0, seed=0, show_progress=False)
    assert m["bn_matched"] == 2 and m["bn_kept"] and m["epochs_run"] == 0
    assert m["relative_output_error_after"] == m["relative_output_error_bn"] < m["relative_output_error_before"]
    off = compress_model(teacher, PackSettings(templates=2), show_progress=False)
    m0 = distill_calibration(off, teacher, x, epochs=0, seed=0, show_progress=False, match_bn=False)
    assert "bn_matched" not in m0 and m0["relative_output_error_after"] == m0["relative_output_error_before"]


def test_matching_that_does_not_help_is_not_kept(monkeypatch):
    """The held-out part decides: statistics that move the outputs away from the original's (here a matching gone
    wrong) are refused and the student stays bit for bit."""
    from linrep_edge.method import calibrate
    from linrep_edge.pipeline import PackSettings, compress_model

    def harmful(student: nn.Module, teacher: nn.Module, x: torch.Tensor, **_: object) -> int:
        for m in student.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.add_(3.0)
        return 2

    teacher, x = _teacher_and_inputs()
    student = compress_model(teacher, PackSettings(templates=4), show_progress=False)
    before = copy.deepcopy(student.state_dict())
    monkeypatch.setattr(calibrate, "match_batchnorm", harmful)
    m = calibrate.distill_calibration(student, teacher, x, epochs=0, seed=0, show_progress=False)
    assert m["bn_matched"] == 2 and not m["bn_kept"]
    assert m["relative_output_error_bn"] > m["relative_output_error_before"] == m["relative_output_error_after"]
    assert all(torch.equal(before[k], v) for k, v in student.state_dict().items())


def test_pack_calibration_epochs_0_packs_the_matched_statistics(tmp_path):
    """`pack --calibration X --calibration-epochs 0`: only the batch-norm statistics, folded into the blob (its
    error against the original is the matched model's, not the compressed one's)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np

    tests = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests.parent), str(tests)]), "OMP_NUM_THREADS": "1"}
    x = _teacher_and_inputs()[1]
    np.save(tmp_path / "c.npy", x.numpy())

    def pack(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "linrep_edge.cli", "-q", "pack", "tiny_models:tiny_bn_cnn",
                               "--input-shape", "1,1,8,8", "--templates", "2", "--calibration", str(tmp_path / "c.npy"),
                               "--calibration-epochs", "0", *extra], capture_output=True, text=True, env=env,
                              timeout=300)

    r = pack("--activations", "fp32", "-o", str(tmp_path / "f.lre"), "--json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)["calibration"]
    assert c["bn_matched"] == 2 and c["bn_kept"] and c["epochs_run"] == 0
    assert c["relative_output_error_after"] < c["relative_output_error_before"]
    assert c["packed_relative_output_error"] == pytest.approx(c["relative_output_error_after"], rel=1e-3, abs=1e-4)
    r = pack("-o", str(tmp_path / "i.lre"))  # int8 (the default with calibration inputs), the text line
    assert r.returncode == 0, r.stderr
    assert "with its 2 batch norms' statistics matched to the original's" in r.stdout
    assert "after 0 calibration epoch(s)" in r.stdout
    r = pack("--no-calibration-match-bn", "--activations", "fp32", "-o", str(tmp_path / "n.lre"), "--json")
    assert r.returncode == 0, r.stderr
    c0 = json.loads(r.stdout)["calibration"]  # the step skipped: the blob is the compressed model's
    assert "bn_matched" not in c0 and c0["relative_output_error_after"] == c["relative_output_error_before"]
    meta = json.loads(subprocess.run([sys.executable, "-m", "linrep_edge.cli", "report", str(tmp_path / "n.lre"),
                                      "--json"], capture_output=True, text=True, env=env).stdout)["metadata"]
    assert meta["calibration_match_bn"] is False
    r = pack("--calibration-epochs", "-1", "-o", str(tmp_path / "bad.lre"))
    assert r.returncode == 2 and "--calibration-epochs must be >= 0" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad.lre").exists()
