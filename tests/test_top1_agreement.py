"""Top-1 agreement and accuracy, one rule for every command (`linrep_edge.agreement`): answers per input for a
classifier, per position for a dense head, none for one score per input. Found with a user's two-headed U-Net
(a segmentation map and a presence score): verify took the argmax of the whole flattened map (41 % "top-1
agreement" for a packed model agreeing with the original on 99.95 % of the pixels) and --labels refused per-pixel
labels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from linrep_edge.agreement import accuracy, agreement_counts, answer_kind, answers, top1_agreement
from linrep_edge.errors import LinRepError
from test_calibration import run


def _loop_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Per-position agreement of two (N, C, H, W) arrays, counted one position at a time."""
    n, _, h, w = b.shape
    same = sum(int(np.argmax(a[i, :, y, x]) == np.argmax(b[i, :, y, x]))
               for i in range(n) for y in range(h) for x in range(w))
    return same / (n * h * w)


def test_answers_per_input_per_position_or_none() -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 7))
    want = logits.argmax(1)
    for shape in ((5, 7), (5, 7, 1, 1), (5, 1, 7)):  # a classifier however its head is shaped
        a = answers(logits.reshape(shape))
        assert a is not None and a.shape == (5, 1) and (a[:, 0] == want).all(), shape
        assert answer_kind(logits.reshape(shape)) == "per input"
    dense = rng.standard_normal((2, 3, 4, 6))
    a = answers(dense)
    assert a is not None and a.shape == (2, 24) and (a.reshape(2, 4, 6) == dense.argmax(1)).all()
    assert answer_kind(dense) == "per position (4 x 6)"
    assert answers(rng.standard_normal((5, 1))) is None and answer_kind(rng.standard_normal((5, 1, 1))) is None
    assert top1_agreement(rng.standard_normal((5, 1)), rng.standard_normal((5, 1))) is None
    assert answers(torch.from_numpy(logits)) is not None  # torch tensors too


def test_agreement_counts_positions_against_a_loop() -> None:
    rng = np.random.default_rng(1)
    b = rng.standard_normal((3, 4, 5, 6))
    a = b + 0.6 * rng.standard_normal(b.shape)
    got = top1_agreement(a, b)
    assert got == pytest.approx(_loop_agreement(a, b)) and 0.3 < got < 0.95
    assert agreement_counts(a, b)[1] == 3 * 5 * 6
    assert top1_agreement(a.reshape(3, -1), b) == got  # got in another layout of as many values: want's layout


def test_accuracy_per_input_and_per_pixel_labels() -> None:
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((4, 3, 5, 5))
    labels = rng.integers(0, 3, (4, 5, 5))
    assert accuracy(logits, labels) == pytest.approx(float((logits.argmax(1) == labels).mean()))
    cls = rng.standard_normal((6, 10))
    assert accuracy(cls, cls.argmax(1)) == 1.0 and accuracy(cls, None) is None
    with pytest.raises(LinRepError, match=r"--labels: 4 labels .* expected 100 \(one per position, 25 per input\)"):
        accuracy(logits, labels[:, 0, 0], "--labels")
    with pytest.raises(LinRepError, match="one value per input, no class scores"):
        accuracy(rng.standard_normal((4, 1)), labels[:, 0, 0])


def test_verify_a_dense_two_headed_model(tmp_path) -> None:
    """verify --model on a packed int8 two-headed net: the first head's agreement counted per pixel (equal to a
    loop over the C runtime's dequantised outputs here), each head's own figures, per-pixel --labels accuracy,
    and labels of the wrong count refused with exit code 2 and no traceback."""
    from tiny_models import tiny_seg

    from linrep_edge.format.reader import parse
    from linrep_edge.integer.batch import dequantize_outputs, quantize_input
    from linrep_edge.runtime.binding import CRuntime

    x = np.random.default_rng(3).random((60, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    blob = tmp_path / "s.lre"
    r = run("pack", "tiny_models:tiny_seg", "--input-shape", "1,1,8,8", "--templates", "4", "--calibration",
            str(tmp_path / "x.npy"), "--calibration-epochs", "0", "-o", str(blob), "--json")
    assert r.returncode == 0, r.stderr
    assert 0.5 < json.loads(r.stdout)["calibration"]["packed_top1_agreement"] <= 1.0  # pack counts per pixel too
    r = run("pack", "tiny_models:tiny_seg", "--input-shape", "1,1,8,8", "--templates", "4", "--calibration",
            str(tmp_path / "x.npy"), "--calibration-epochs", "0", "-o", str(tmp_path / "s2.lre"))
    assert r.returncode == 0 and "top-1 agreement per position" in r.stdout + r.stderr, r.stdout + r.stderr
    r = run("pack", "tiny_models:tiny_seg", "--input-shape", "1,1,8,8", "--calibration", str(tmp_path / "x.npy"),
            "--exclude", "*", "-o", str(tmp_path / "s3.lre"))  # no LinRep conv, nothing distilled: said all the same
    assert r.returncode == 0 and "as packed (int8 activations) top-1 agreement per position" in r.stdout, r.stdout
    g = parse(blob.read_bytes()).graph
    with torch.no_grad():
        want = [t.numpy() for t in tiny_seg()(torch.from_numpy(x))]
    got = [d.astype(np.float64).reshape(w.shape) for d, w in
           zip(dequantize_outputs(g, CRuntime(blob.read_bytes(), "s").run_int8(quantize_input(g, x))), want)]
    labels = want[0].argmax(1)
    labels[:, 0, :] = 0  # a first row of class 0: accuracy differs from agreement
    np.save(tmp_path / "y.npy", labels)
    r = run("verify", str(blob), "--inputs", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"),
            "--model", "tiny_models:tiny_seg", "--json")
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)
    assert v["original_top1_agreement"] == pytest.approx(_loop_agreement(got[0], want[0]))
    assert v["original_answers"] == "per position (8 x 8)"
    assert v["c_accuracy"] == pytest.approx(float((got[0].argmax(1) == labels).mean()))
    heads = v["original_outputs"]
    assert [h["shape"] for h in heads] == [[3, 8, 8], [1]] and heads[1]["top1_agreement"] is None
    for h, a, b in zip(heads, got, want):
        assert h["relative_error"] == pytest.approx(np.linalg.norm(a - b) / np.linalg.norm(b), rel=1e-4)
    text = run("verify", str(blob), "--inputs", str(tmp_path / "x.npy"), "--model", "tiny_models:tiny_seg").stdout
    assert "per position (8 x 8)" in text and "output 1 (1): top-1 agreement n/a" in text
    np.save(tmp_path / "bad.npy", labels[:, :, 0])
    r = run("verify", str(blob), "--inputs", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "bad.npy"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "labels: 480 labels (shape (60, 8)) for outputs of shape (60, 3, 8, 8)" in r.stderr, r.stderr


def test_verify_data_takes_the_users_data_as_pack_does(tmp_path) -> None:
    """verify --data takes what pack --data takes (FILE.npz with x, y; FILE.npy with --labels; a module:function
    Dataset), every item of it, and gives what --inputs / --labels give on the same arrays; a missing file is one
    clear error."""
    x = np.random.default_rng(4).random((30, 1, 8, 8)).astype(np.float32)
    y = np.random.default_rng(5).integers(0, 10, 30)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    blob = tmp_path / "t.lre"
    assert run("pack", "tiny_models:tiny_cnn", "--input-shape", "1,1,8,8", "--templates", "4", "--activations",
               "fp32", "-o", str(blob)).returncode == 0
    want = json.loads(run("verify", str(blob), "--inputs", str(tmp_path / "x.npy"), "--labels",
                          str(tmp_path / "y.npy"), "--json").stdout)
    for data in (["--data", str(tmp_path / "d.npz")], ["--data", str(tmp_path / "x.npy"), "--labels",
                                                        str(tmp_path / "y.npy")], ["--data", "tiny_models:digits_dataset",
                                                                                   "--limit", "30"]):
        r = run("verify", str(blob), *data, "--json")
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        if "tiny_models" in data[1]:
            assert got["images"] == 30 and got["c_accuracy"] is not None
            continue
        assert got["images"] == 30 and got["c_accuracy"] == want["c_accuracy"] and want["c_accuracy"] is not None
    r = run("verify", str(blob), "--data", str(tmp_path / "none.npz"))
    assert r.returncode == 2 and "--data" in r.stderr and "no such file" in r.stderr and "Traceback" not in r.stderr
