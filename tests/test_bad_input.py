"""Bad input end to end: every row of the README's bad-input table, through the CLI.

Each case: exit code 2, one line on stderr naming what is wrong and where, no traceback, and no output
file left behind (complete or partial).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

CLI = [sys.executable, "-m", "linrep_edge.cli", "-q"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def assert_user_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("linrep-edge: error: "), r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture(scope="module")
def blob(tmp_path_factory) -> Path:
    """An fp32-activation blob (test_kernels_ref_on_fp32_blob); `int8_blob`: the default's int8 one."""
    out = tmp_path_factory.mktemp("b") / "m.lre"
    assert run("pack", "--default", "--templates", "4", "--activations", "fp32", "-o", str(out)).returncode == 0
    return out


@pytest.fixture(scope="module")
def int8_blob(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("b8") / "m8.lre"
    assert run("pack", "--default", "--templates", "4", "-o", str(out)).returncode == 0
    return out


def test_missing_file(tmp_path):
    assert_user_error(run("report", str(tmp_path / "nothere.lre")), "nothere.lre", "no such file")
    assert_user_error(run("pack", str(tmp_path / "nothere.pt2"), "-o", str(tmp_path / "o.lre")), "no such file")
    assert not (tmp_path / "o.lre").exists()


def test_not_a_model(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a model\n" * 20)
    assert_user_error(run("inspect", str(junk)), "notes.txt", "not a .lre blob")
    fake = tmp_path / "fake.pt2"
    fake.write_bytes(b"PK\x03\x04 not really")
    assert_user_error(run("pack", str(fake), "-o", str(tmp_path / "o.lre")), "fake.pt2", "not a torch.export program")
    assert not (tmp_path / "o.lre").exists()


def test_unsupported_op(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GLU(1)).eval()
    pt2 = tmp_path / "glu.pt2"
    torch.export.save(torch.export.export(model, (torch.zeros(1, 1, 8, 8),)), str(pt2))
    assert_user_error(run("pack", str(pt2), "-o", str(tmp_path / "o.lre")), "unsupported operation: glu",
                      "(GLU)")
    assert not (tmp_path / "o.lre").exists()


def test_wrong_input_shape(blob, int8_blob, tmp_path):
    import numpy as np

    r = run("pack", "linrep_edge.models.resnet8:ResNet8", "--input-shape", "1,3,28,28", "-o", str(tmp_path / "o.lre"))
    assert_user_error(r, "input shape (1, 3, 28, 28)")
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 28, 28), np.float32))
    for b in (blob, int8_blob):  # fp32 and int8 (C vs the integer reference) alike
        assert_user_error(run("verify", str(b), "--inputs", str(tmp_path / "x.npy")), "expects (N, 1, 28, 28)")
    assert not (tmp_path / "o.lre").exists()


def test_verify_without_inputs_on_a_model_of_another_shape(tmp_path):
    """No --inputs / --data for a model that does not take the default data set's images: one error naming both
    shapes and the options that give the user's own inputs (not the data set's shape against the model's)."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 14 * 14, 5)).eval()
    pt2 = tmp_path / "rgb.pt2"
    torch.export.save(torch.export.export(model, (torch.zeros(1, 3, 16, 16),)), str(pt2))
    out = tmp_path / "rgb.lre"
    assert run("pack", str(pt2), "--activations", "fp32", "-o", str(out)).returncode == 0
    assert_user_error(run("verify", str(out)), "no inputs given", "--data fashion-mnist, gives inputs (1, 28, 28)",
                      "rgb.lre takes (3, 16, 16)", "--inputs X.npy (float32, (N, 3, 16, 16))")
    assert_user_error(run("verify", str(out), "--data", "digits"), "--data digits gives inputs (1, 8, 8)")


def test_a_forward_written_for_batch_size_1_is_one_clear_error(tmp_path):
    """Calibration runs batches: a model whose forward views with a literal 1 fails there. Said before any work,
    with the shape, and no traceback."""
    import numpy as np

    mod = tmp_path / "batch_one.py"
    mod.write_text("import torch\nfrom torch import nn\n"
                   "class Net(nn.Module):\n"
                   "    def __init__(self):\n        super().__init__(); self.c = nn.Conv2d(1, 8, 3)\n"
                   "    def forward(self, x):\n        return self.c(x).view(1, -1)\n"
                   "    def forward_fails(self, x):\n        return self.c(x).view(1, 8, 36).mean(2)\n"
                   "def net():\n    return Net()\n"
                   "def net_fails():\n    n = Net(); n.forward = n.forward_fails; return n\n")
    np.save(tmp_path / "cal.npy", np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32))
    r = subprocess.run([*CLI, "pack", "batch_one:net", "--input-shape", "1,1,8,8", "--calibration",
                        str(tmp_path / "cal.npy"), "--cap-templates", "-o", str(tmp_path / "o.lre")],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(tmp_path) + ":" + ":".join(sys.path)})
    assert_user_error(r, "output for a batch of 2 inputs (2, 1, 8, 8) has shape (1, 576)", "batch size 1")
    r = subprocess.run([*CLI, "pack", "batch_one:net_fails", "--input-shape", "1,1,8,8", "--calibration",
                        str(tmp_path / "cal.npy"), "--cap-templates", "-o", str(tmp_path / "o.lre")],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(tmp_path) + ":" + ":".join(sys.path)})
    assert_user_error(r, "fails on a batch of 2 inputs (2, 1, 8, 8) (RuntimeError: shape '[1, 8, 36]'",
                      "batch size 1")
    assert not (tmp_path / "o.lre").exists()


def test_ram_limit_out_of_range(blob):
    assert_user_error(run("mcu-bench", str(blob), "--ram-limit", "-5"), "--ram-limit", "'-5'", "-1 (no limit)")


def test_kernels_ref_on_fp32_blob(blob):
    # --kernels picks the int8 kernel build (LR_KERNELS); an fp32 model runs the reference kernels anyway
    assert_user_error(run("mcu-bench", str(blob), "--kernels", "ref"), "--kernels ref", "int8 models only")
    assert_user_error(run("mcu-bench", str(blob), "--kernels", "fast"), "--kernels", "'fast'")


def test_k_out_of_range(tmp_path):
    assert_user_error(run("pack", "--default", "--templates", "0", "-o", str(tmp_path / "o.lre")), "templates must be")
    assert_user_error(run("pack", "--default", "--templates", "9000", "-o", str(tmp_path / "o.lre")),
                      "9000 templates requested but only", "kernels")
    assert not (tmp_path / "o.lre").exists()


def test_corrupted_lre(blob, tmp_path):
    data = bytearray(blob.read_bytes())
    data[len(data) // 3] ^= 0x04
    bad = tmp_path / "bad.lre"
    bad.write_bytes(bytes(data))
    for cmd in ("report", "inspect", "verify"):
        assert_user_error(run(cmd, str(bad)), "bad.lre", "CRC-32 mismatch", "LR_ERR_CRC")
    assert_user_error(run("export-c", str(bad), "-o", str(tmp_path / "m.h")), "CRC-32 mismatch")
    assert not (tmp_path / "m.h").exists()


def test_truncated_lre_zst(blob, tmp_path):
    from linrep_edge.format.transport import zstd

    cut = tmp_path / "m.lre.zst"
    cut.write_bytes(zstd(blob.read_bytes())[:-9])
    assert_user_error(run("report", str(cut)), "m.lre.zst", "truncated or corrupt zstd")


def test_newer_format_version(tmp_path, monkeypatch):
    import linrep_edge.format.writer as pack_mod
    from linrep_edge.graph.capture import capture

    monkeypatch.setattr(pack_mod, "format_version_needed", lambda g: pack_mod.FORMAT_VERSION + 1)
    newer = tmp_path / "newer.lre"
    newer.write_bytes(pack_mod.pack_graph(capture(nn.Sequential(nn.Conv2d(1, 2, 3)).eval(), torch.zeros(1, 1, 5, 5))))
    monkeypatch.undo()
    assert_user_error(run("report", str(newer)), f"format version {pack_mod.FORMAT_VERSION + 1} is newer",
                      "upgrade linrep-edge")


def test_output_directory_not_writable(blob, tmp_path):
    # /proc takes no new files, even for root (CI runs as root, so a chmod would not do)
    assert_user_error(run("export-c", str(blob), "-o", "/proc/model_blob.h"), "/proc/model_blob.h", "cannot write")
    assert_user_error(run("pack", "--default", "-o", str(tmp_path / "missing" / "o.lre")), "does not exist")


def test_disk_full_leaves_no_partial_file(blob, tmp_path, monkeypatch, capsys):
    """ENOSPC while the output is written (simulated at fsync): exit 2, nothing left in the folder."""
    import linrep_edge.atomic as atomic
    from linrep_edge.cli.main import main

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["export-c", str(blob), "-o", str(out / "m.h")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "m.h" in err[0]
    assert list(out.iterdir()) == []


def test_state_dict_mismatch_names_the_keys(tmp_path):
    """A state dict that does not fit the factory's model: the error names missing and unexpected keys and
    the shapes that differ, not only the first mismatch."""
    mod = tmp_path / "nets_sd.py"
    mod.write_text("from torch import nn\ndef net():\n    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3))\n")
    other = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 2, 3), nn.Conv2d(2, 2, 1))
    wpath = tmp_path / "w.pt"
    torch.save({"module." + k: v for k, v in other.state_dict().items()}, wpath)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:" + ":".join(sys.path)}
    r = subprocess.run([*CLI, "pack", "nets_sd:net", "--weights", str(wpath), "--input-shape", "1,1,8,8", "-o",
                        str(tmp_path / "m.lre")], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "missing 4 key(s): 0.weight, 0.bias, 2.weight, 2.bias" in r.stderr
    assert "unexpected 6 key(s): module.0.weight" in r.stderr and "strip the 'module.' prefix" in r.stderr
    assert not (tmp_path / "m.lre").exists()
