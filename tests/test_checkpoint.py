"""The split pipeline: compress → checkpoint (.lrc) → finetune → pack equals the one-shot pack byte for byte;
the checkpoint round trip; user data sets (image folder, .npz/.npy, module:function) and their checks."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from linrep_edge.errors import LinRepError
from linrep_edge.method.checkpoint import checkpoint_from_bytes, checkpoint_of, load_checkpoint, source_from_cli
from linrep_edge.pipeline import FINETUNE_BATCH, PackSettings, compress_model, finetune_split, pack, pack_model
from linrep_edge.user_data import check_data, resolve_data

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
CLI = [sys.executable, "-m", "linrep_edge", "-q"]
_CAPSYS = None
TINY = ["tiny_models:tiny_cnn", "--input-shape", "1,1,8,8"]


@pytest.fixture(autouse=True)
def _capture(capsys):
    global _CAPSYS
    _CAPSYS = capsys
    yield


def cli(*args: str) -> subprocess.CompletedProcess:
    """`linrep-edge -q ARGS` in this process (start-up costs more than these tiny jobs)."""
    from linrep_edge.cli.main import main

    _CAPSYS.readouterr()
    rc = main(["-q", *args])
    out, err = _CAPSYS.readouterr()
    return subprocess.CompletedProcess(args, rc, out, err)


def ok(*args: str) -> subprocess.CompletedProcess:
    r = cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_compress_finetune_pack_equals_one_shot_pack(tmp_path):
    # the one-shot pack as a user runs it: its own process
    # one thread on both sides (`--threads 1`: the blob records it): fine-tuning's float sums depend on the count
    r = subprocess.run([*CLI, "pack", *TINY, "--templates", "4", "--seed", "2", "--activations", "fp32",
                        "--finetune-epochs", "1", "--data", "digits", "--threads", "1",
                        "-o", str(tmp_path / "one_shot.lre")], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    ok("compress", *TINY, "--templates", "4", "--seed", "2", "-o", str(tmp_path / "c.lrc"))
    threads = torch.get_num_threads()
    try:  # `finetune --threads` sets the process's count: this process is pytest's
        r = ok("finetune", str(tmp_path / "c.lrc"), "--data", "digits", "--epochs", "1", "--checkpoint-every", "5",
               "--threads", "1", "-o", str(tmp_path / "ft.lrc"), "--json")
    finally:
        torch.set_num_threads(threads)
    assert json.loads(r.stdout)["steps"] == 19  # 1,197 training digits / 64
    r = ok("pack", str(tmp_path / "ft.lrc"), "-o", str(tmp_path / "split.lre"), "--json")
    assert {"output", "bytes_written", "blob_bytes", "conv_compression_vs_fp32", "model_compression_vs_fp32"} <= set(
        json.loads(r.stdout))
    assert (tmp_path / "split.lre").read_bytes() == (tmp_path / "one_shot.lre").read_bytes()
    # not fine-tuned: the same blob as a one-shot pack without fine-tuning
    ok("pack", *TINY, "--templates", "4", "--seed", "2", "-o", str(tmp_path / "plain.lre"))
    ok("pack", str(tmp_path / "c.lrc"), "-o", str(tmp_path / "plain2.lre"))
    assert (tmp_path / "plain.lre").read_bytes() == (tmp_path / "plain2.lre").read_bytes()
    # the checkpoint's settings are fixed: a contradicting option is one clear error
    r = cli("pack", str(tmp_path / "ft.lrc"), "--templates", "8", "-o", str(tmp_path / "x.lre"))
    assert r.returncode == 2 and "--templates 8" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.lre").exists()


def test_integer_ab_and_pruning_through_a_checkpoint_equal_one_shot(digits):
    """Integer a/b with quantization in the loop, pruning and int8 weights: the split path (Python API, through
    checkpoint bytes at every step) gives the one-shot blob."""
    from linrep_edge.method.distributed import TrainConfig, run_finetune
    from tiny_models import tiny_cnn

    model, example = tiny_cnn(), torch.zeros(1, 1, 8, 8)
    settings = PackSettings(templates=4, ab_bits=4, prune_sparsity=0.25, weights_dtype="int8",
                            finetune_epochs=0.5, data="digits", seed=1)
    one_shot = pack_model(model, example, settings, "tiny", show_progress=False).blob

    src = source_from_cli("tiny_models:tiny_cnn", False, None, "1,1,8,8")[2]
    src = replace(src, name="tiny")
    compressed = replace(settings, finetune_epochs=0.0, data=None, weights_dtype="fp16")
    ck = checkpoint_from_bytes(checkpoint_of(compress_model(model, compressed, False), src, compressed).to_bytes())
    cm, ex = ck.build_compressed()
    assert all(m.ab_bits == 4 for m in cm.modules() if hasattr(m, "ab_bits"))
    train = finetune_split("digits", 1)[0]
    saved: list[bytes] = []
    tuned = replace(ck.settings, finetune_epochs=0.5, data="digits", threads=torch.get_num_threads())  # as `finetune`
    run_finetune(cm, torch.utils.data.TensorDataset(train.x, train.y), TrainConfig("digits", 0.5, 1e-3, FINETUNE_BATCH, 1),
                 save=lambda st: saved.append(checkpoint_of(cm, src, tuned, train=st).to_bytes()), show_progress=False)
    final = checkpoint_from_bytes(saved[-1])
    assert final.train["complete"] and final.train["global_step"] == 10
    cm2, ex2 = final.build_compressed()
    assert pack(cm2, ex2, replace(final.settings, weights_dtype="int8"), "tiny") == one_shot


def test_checkpoint_round_trip_is_exact_and_plain_data(tmp_path, digits):
    from tiny_models import tiny_cnn

    settings = PackSettings(templates=4, ab_bits=6, ab_scale="layer", prune_sparsity=0.3)
    src = source_from_cli("tiny_models:tiny_cnn", False, None, "1,1,8,8")[2]
    cm = compress_model(tiny_cnn(), settings, False)
    checkpoint_of(cm, src, settings).save(tmp_path / "c.lrc")
    raw = torch.load(tmp_path / "c.lrc", weights_only=True)  # plain data: no pickled classes or code
    assert raw["format"] == "linrep-edge-checkpoint" and raw["version"] == 1 and raw["train"] is None
    ck = load_checkpoint(tmp_path / "c.lrc")
    assert ck.settings == settings
    back, example = ck.build_compressed()
    assert tuple(example.shape) == (1, 1, 8, 8)
    ref, got = cm.state_dict(), back.state_dict()
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    assert [(m.ab_bits, m.ab_per_channel) for m in back.modules() if hasattr(m, "ab_bits")] == [(6, False)] * 2
    x = digits.test.x[:16]
    with torch.no_grad():
        assert torch.equal(cm(x), back(x))
        assert torch.equal(ck.build_original()[0](x), tiny_cnn()(x))


def test_program_source_round_trip(tmp_path):
    from tiny_models import tiny_cnn

    pt2 = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(tiny_cnn(), (torch.zeros(1, 1, 8, 8),)), str(pt2))
    ok("compress", str(pt2), "--templates", "4", "-o", str(tmp_path / "c.lrc"))
    ok("pack", str(pt2), "--templates", "4", "-o", str(tmp_path / "a.lre"))
    pt2.unlink()  # the checkpoint holds the program
    ok("pack", str(tmp_path / "c.lrc"), "-o", str(tmp_path / "b.lre"))
    assert (tmp_path / "a.lre").read_bytes() == (tmp_path / "b.lre").read_bytes()


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    (tmp_path / "junk.lrc").write_bytes(b"not a checkpoint")
    buf = io.BytesIO()
    torch.save({"format": "linrep-edge-checkpoint", "version": 99}, buf)
    (tmp_path / "future.lrc").write_bytes(buf.getvalue())
    for name, msg in (("junk.lrc", "not a linrep-edge checkpoint"), ("future.lrc", "version 99"),
                      ("missing.lrc", "no such file")):
        for args in (["pack", str(tmp_path / name), "-o", str(tmp_path / "o.lre")],
                     ["finetune", str(tmp_path / name), "--data", "digits", "-o", str(tmp_path / "o.lrc")]):
            r = cli(*args)
            assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
            assert len(r.stderr.strip().splitlines()) == 1


# --- user data ----------------------------------------------------------------------------------

def _tiny():
    from tiny_models import tiny_cnn

    return tiny_cnn(), torch.zeros(1, 1, 8, 8)


def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("cat", "dog", "eel"):
        (tmp_path / c).mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    model, ex = _tiny()
    data = resolve_data(str(tmp_path), (1, 1, 8, 8), seed=0, val_size=2)
    assert (len(data.train), len(data.val), data.classes) == (10, 2, 3)
    x, y = data.train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and 0 <= float(x.min()) and float(x.max()) <= 1
    labels = sorted(int(data.train[i][1]) for i in range(10)) + sorted(int(data.val[i][1]) for i in range(2))
    assert sorted(labels) == [0] * 4 + [1] * 4 + [2] * 4
    assert check_data(data, model, ex) == 10
    # RGB kept for a 3-channel model; a model with fewer outputs than classes is refused
    rgb = resolve_data(str(tmp_path), (1, 3, 8, 8), val_size=2)
    assert rgb.train[0][0].shape == (3, 8, 8)
    two = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    with pytest.raises(LinRepError, match="3 classes but the model has 2 outputs"):
        check_data(data, two, ex)
    (tmp_path / "nothing" / "a").mkdir(parents=True)
    with pytest.raises(LinRepError, match="no images"):
        resolve_data(str(tmp_path / "nothing"), (1, 1, 8, 8))


def test_arrays_npz_npy_and_the_checks(tmp_path, digits):
    model, ex = _tiny()
    x, y = digits.train.x[:100].numpy(), digits.train.y[:100].numpy()
    np.savez(tmp_path / "xy.npz", x=(x * 255).astype(np.uint8)[:, 0], y=y)  # (N, H, W) uint8
    np.savez(tmp_path / "two.npz", x, y)  # two unnamed arrays: inputs, labels
    np.save(tmp_path / "x.npy", x.transpose(0, 2, 3, 1))  # NHWC
    np.save(tmp_path / "y.npy", y)
    a = resolve_data(str(tmp_path / "xy.npz"), (1, 1, 8, 8), val_size=10)
    b = resolve_data(str(tmp_path / "two.npz"), (1, 1, 8, 8), val_size=10)
    c = resolve_data(str(tmp_path / "x.npy"), (1, 1, 8, 8), val_size=10, labels=str(tmp_path / "y.npy"))
    for d in (a, b, c):
        assert (len(d.train), len(d.val), d.labelled) == (90, 10, True)
        assert check_data(d, model, ex) == 10
    assert torch.allclose(a.train.x, b.train.x, atol=1 / 255) and torch.equal(b.train.x, c.train.x)
    assert torch.equal(b.train.y, c.train.y)
    unlabelled = resolve_data(str(tmp_path / "x.npy"), (1, 1, 8, 8), val_size=10)
    with pytest.raises(LinRepError, match="--distill 1"):
        check_data(unlabelled, model, ex)
    assert check_data(unlabelled, model, ex, distill=1.0) == 10
    np.savez(tmp_path / "big.npz", x=x, y=y + 5)
    with pytest.raises(LinRepError, match=r"labels must be in 0\.\.9"):
        check_data(resolve_data(str(tmp_path / "big.npz"), (1, 1, 8, 8)), model, ex)
    with pytest.raises(LinRepError, match=r"inputs have shape \(1, 8, 8\) but the model takes \(1, 28, 28\)"):
        check_data(a, model, torch.zeros(1, 1, 28, 28))
    with pytest.raises(LinRepError, match="not fashion-mnist, digits"):
        resolve_data(str(tmp_path / "nothing.bin"), (1, 1, 8, 8))


def test_factory_transform_and_limit(digits):
    model, ex = _tiny()
    d = resolve_data("tiny_models:digits_dataset", (1, 1, 8, 8), seed=0, transform="torch:neg", limit=50)
    assert (len(d.train), len(d.val), d.name) == (50, 30, "tiny_models:digits_dataset[:50]")
    assert float(d.train[0][0].max()) <= 0  # the transform ran
    assert check_data(d, model, ex) == 10
    with pytest.raises(LinRepError, match="cannot import"):
        resolve_data("nosuchmodule:make", (1, 1, 8, 8))
    with pytest.raises(LinRepError, match="fixed at 200"):
        resolve_data("digits", (1, 1, 8, 8), val_size=10)


def test_distillation_on_unlabelled_data_through_the_cli(tmp_path, digits):
    np.save(tmp_path / "x.npy", digits.train.x[:200].numpy())
    ok("compress", *TINY, "--templates", "4", "-o", str(tmp_path / "c.lrc"))
    r = cli("finetune", str(tmp_path / "c.lrc"), "--data", str(tmp_path / "x.npy"), "-o", str(tmp_path / "f.lrc"))
    assert r.returncode == 2 and "--distill 1" in r.stderr and not (tmp_path / "f.lrc").exists()
    r = ok("finetune", str(tmp_path / "c.lrc"), "--data", str(tmp_path / "x.npy"), "--distill", "1", "--batch", "20",
           "-o", str(tmp_path / "f.lrc"), "--json")
    out = json.loads(r.stdout)
    assert out["val_accuracy"] is None and out["steps"] == 9 and out["train_loss"][0] >= 0
    ck = load_checkpoint(tmp_path / "f.lrc")
    assert ck.settings.data == str(tmp_path / "x.npy") and ck.settings.finetune_epochs == 1.0
    ok("pack", str(tmp_path / "f.lrc"), "-o", str(tmp_path / "f.lre"))
