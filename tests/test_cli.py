"""The command line: contract keys, exit codes, one-line errors, no partial output files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "linrep_edge.cli", "-q"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


# sha256 of `pack --default --templates 16 --seed 0` as main wrote it while fp32 was the default (e5a364a):
# `--activations fp32` must keep writing exactly these bytes now that int8 is.
FP32_DEFAULT_SHA256 = "b2ef2b2fb9f02a22da169b3ee8728812f45076e09d10bff6ac8dde309f964073"


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    """An fp32-activation blob of the default model (the fp32 report, inspect, export and verify paths)."""
    out = tmp_path_factory.mktemp("pack") / "m.lre"
    r = run("pack", "--default", "--templates", "16", "--seed", "0", "--activations", "fp32", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "note:" not in r.stderr  # fp32 asked for: nothing to explain
    return out


def test_pack_fp32_is_the_former_default_byte_for_byte(packed):
    import hashlib

    assert hashlib.sha256(packed.read_bytes()).hexdigest() == FP32_DEFAULT_SHA256


def test_pack_activations_default_is_int8_where_inputs_exist(packed, tmp_path):
    """The default model brings its training images: int8 without a word; a model without inputs to
    calibrate on: fp32, with one note saying why and how to get int8."""
    from linrep_edge.format.reader import parse

    out = tmp_path / "d.lre"
    r = run("pack", "--default", "--templates", "16", "--seed", "0", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["activations"] == "int8" and "note:" not in r.stderr
    g = parse(out.read_bytes()).graph
    assert g.is_int8 and g.metadata["activations"] == "int8"
    assert out.stat().st_size < 0.65 * packed.stat().st_size
    r = run("pack", "linrep_edge.models.resnet8:ResNet8", "--input-shape", "1,1,28,28", "--templates", "4",
            "-o", str(tmp_path / "f.lre"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["activations"] == "fp32"
    notes = [line for line in r.stderr.splitlines() if "note:" in line]
    assert len(notes) == 1 and "activations fp32" in notes[0] and "--calibration" in notes[0], r.stderr
    assert not parse((tmp_path / "f.lre").read_bytes()).graph.is_int8


def test_pack_is_deterministic_and_report_contract(packed, tmp_path, crt):
    again = tmp_path / "again.lre"
    assert run("pack", "--default", "--templates", "16", "--seed", "0", "--activations", "fp32",
               "-o", str(again)).returncode == 0
    assert again.read_bytes() == packed.read_bytes()
    r = run("report", str(packed), "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    for key in ("total_bytes", "overhead_bytes", "zstd_bytes", "conv_compression_vs_fp32", "model_compression_vs_fp32"):
        assert key in rep
    assert rep["total_bytes"] == packed.stat().st_size
    assert sum(rep["sections"].values()) == rep["total_bytes"]
    assert rep["conv_compression_vs_fp32"] >= 7.9
    assert rep["overhead_bytes"] <= 0.03 * rep["total_bytes"]
    assert 0 < rep["zstd_bytes"] < rep["total_bytes"]
    for layer in rep["layers"]:
        assert {"name", "kind", "packed_bytes", "fp32_bytes"} <= set(layer)
    rt = crt(packed.read_bytes())  # RAM figures computed in Python are the C runtime's own
    assert (rep["arena_bytes"], rep["activation_lower_bound_bytes"]) == (rt.arena_bytes,
                                                                          rt.activation_lower_bound_bytes)


def test_trained_blob_same_bytes_at_the_same_thread_count(tmp_path):
    """What trains a, b sums floats split over torch's threads: `--threads N` gives the same bytes whatever the
    environment asks for (OMP_NUM_THREADS 1 or 2 here), the blob records the count; a pack that trains nothing
    records none, at any count."""
    import os

    import numpy as np

    from linrep_edge.datasets import load_fashion_mnist
    from linrep_edge.format.reader import parse

    calib = tmp_path / "calib.npy"
    np.save(calib, load_fashion_mnist().train.x[:256].numpy())
    blobs = {}
    for env_threads in ("1", "2"):
        for given in ("1", None):
            out = tmp_path / f"c{env_threads}{given}.lre"
            args = ["pack", "--default", "--templates", "8", "--calibration", str(calib), "--calibration-epochs", "3",
                    "-o", str(out), "--json"] + (["--threads", given] if given else [])
            r = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300,
                               env={**os.environ, "OMP_NUM_THREADS": env_threads})
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout)["calibration"]["best_epoch"] > 0  # a, b trained: the sums matter
            blobs[env_threads, given] = out.read_bytes()
            assert parse(blobs[env_threads, given]).graph.metadata["threads"] == int(given or env_threads)
    assert blobs["1", "1"] == blobs["2", "1"] == blobs["1", None]
    plain = {}
    for given in ("1", "2"):
        out = tmp_path / f"p{given}.lre"
        assert run("pack", "--default", "--templates", "4", "--threads", given, "-o", str(out)).returncode == 0
        plain[given] = out.read_bytes()
        assert "threads" not in parse(plain[given]).graph.metadata
    assert plain["1"] == plain["2"]
    r = run("pack", "--default", "--threads", "0", "-o", str(tmp_path / "z.lre"))
    assert r.returncode == 2 and "--threads" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "z.lre").exists()


def test_report_plot_and_inspect(packed, tmp_path):
    png = tmp_path / "r.png"
    assert run("report", str(packed), "--plot", str(png)).returncode == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run("inspect", str(packed))
    assert r.returncode == 0 and "LINREP_CONV2D" in r.stdout and "layer3.conv2" in r.stdout
    obj = json.loads(run("inspect", str(packed), "--json").stdout)
    assert obj["ops"][0]["type"] == "LINREP_CONV2D"


def test_zstd_container_round_trip(tmp_path):
    out = tmp_path / "m.lre.zst"
    assert run("pack", "--default", "--templates", "4", "-o", str(out)).returncode == 0
    rep = json.loads(run("report", str(out), "--json").stdout)
    assert out.stat().st_size == rep["zstd_bytes"]
    cut = tmp_path / "cut.lre.zst"
    cut.write_bytes(out.read_bytes()[:-20])
    r = run("report", str(cut))
    assert r.returncode == 2 and "zstd" in r.stderr and "Traceback" not in r.stderr


def test_export_c(packed, tmp_path):
    h = tmp_path / "model_blob.h"
    assert run("export-c", str(packed), "-o", str(h), "--name", "my_model").returncode == 0
    text = h.read_text()
    assert "aligned(16)" in text and f"my_model_len = {packed.stat().st_size}u" in text
    body = text.split("= {", 1)[1].split("};", 1)[0]
    values = bytes(int(v, 16) for v in body.replace("\n", " ").split(",") if v.strip())
    assert values == packed.read_bytes()


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "wrong_type", "missing", "directory"])
def test_bad_blobs_exit_2_with_one_line(packed, tmp_path, kind):
    bad = tmp_path / "bad.lre"
    data = packed.read_bytes()
    if kind == "corrupt":
        bad.write_bytes(data[:200] + bytes([data[200] ^ 0xFF]) + data[201:])
    elif kind == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "wrong_type":
        bad.write_text("hello, this is not a model\n" * 10)
    elif kind == "directory":
        bad.mkdir()
    for cmd in ("report", "inspect"):
        r = run(cmd, str(bad))
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert str(bad) in r.stderr


def test_pack_user_errors(tmp_path):
    cases = [
        (["pack", "--default", "--templates", "100000", "-o", str(tmp_path / "a.lre")], "templates"),
        (["pack", "--default", "-o", str(tmp_path / "nodir" / "a.lre")], "does not exist"),
        (["pack", "-o", str(tmp_path / "a.lre")], "--default or a MODEL"),
        (["pack", str(tmp_path / "nothere.pt2"), "-o", str(tmp_path / "a.lre")], "no such file"),
        (["pack", "linrep_edge.models.resnet8:ResNet8", "-o", str(tmp_path / "a.lre")], "--input-shape"),
        (["pack", "nosuchpkg.mod:make", "--input-shape", "1,1,28,28", "-o", str(tmp_path / "a.lre")], "cannot import"),
        (["pack", "--default", "--finetune-epochs", "1", "-o", str(tmp_path / "a.lre")], "needs data"),
    ]
    for args, msg in cases:
        r = run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr and "Traceback" not in r.stderr
    assert not list(tmp_path.glob("*.lre")) and not list(tmp_path.glob(".*tmp"))


def test_pack_factory_with_weights_and_pt2(tmp_path):
    import torch

    from linrep_edge.models.resnet8 import load_default_model

    weights = tmp_path / "w.pt"
    torch.save(load_default_model().state_dict(), weights)
    out = tmp_path / "f.lre"
    r = run("pack", "linrep_edge.models.resnet8:ResNet8", "--weights", str(weights), "--input-shape", "1,1,28,28", "-o", str(out))
    assert r.returncode == 0, r.stderr
    default = tmp_path / "d.lre"
    assert run("pack", "--default", "--activations", "fp32", "-o", str(default)).returncode == 0
    assert json.loads(run("report", str(out), "--json").stdout)["layers"] == \
        json.loads(run("report", str(default), "--json").stdout)["layers"]
    pt2 = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(load_default_model(), (torch.zeros(1, 1, 28, 28),)), str(pt2))
    r = run("pack", str(pt2), "--templates", "16", "-o", str(tmp_path / "p.lre"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["conv_compression_vs_fp32"] > 7.5
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a zip")
    r = run("pack", str(bad), "-o", str(tmp_path / "x.lre"))
    assert r.returncode == 2 and "not a torch.export program" in r.stderr and "Traceback" not in r.stderr
    wrong = tmp_path / "wrong.pt"
    torch.save({"x": torch.zeros(3)}, wrong)
    r = run("pack", "linrep_edge.models.resnet8:ResNet8", "--weights", str(wrong), "--input-shape", "1,1,28,28", "-o", str(out))
    assert r.returncode == 2 and "does not match the model" in r.stderr
    r = run("pack", "linrep_edge.models.resnet8:ResNet8", "--input-shape", "1,3,28,28", "-o", str(tmp_path / "y.lre"))
    assert r.returncode == 2 and "input shape" in r.stderr and "Traceback" not in r.stderr


def test_verify_contract_and_own_inputs(crt, packed, tmp_path):
    import numpy as np

    r = run("verify", str(packed), "--data", "fashion-mnist", "--limit", "200", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    for key in ("c_accuracy", "torch_accuracy", "original_accuracy", "top1_agreement", "max_abs_diff"):
        assert key in res
    assert res["images"] == 200 and res["top1_agreement"] == 1.0 and res["max_abs_diff"] <= 1e-4
    assert res["c_accuracy"] == res["torch_accuracy"] and res["original_accuracy"] > 0.85
    x = np.random.default_rng(0).random((7, 1, 28, 28), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    res = json.loads(run("verify", str(packed), "--inputs", str(tmp_path / "x.npy"), "--json").stdout)
    assert res["images"] == 7 and res["c_accuracy"] is None and res["torch_accuracy"] is None
    np.save(tmp_path / "y.npy", np.arange(7) % 10)
    res = json.loads(run("verify", str(packed), "--inputs", str(tmp_path / "x.npy"), "--labels",
                         str(tmp_path / "y.npy"), "--json").stdout)
    assert res["c_accuracy"] is not None and res["original_accuracy"] is not None
    # the same images as pack --calibration takes them: NHWC, (N, H, W), uint8 (scaled by 1/255) give what the
    # (N, C, H, W) float32 array of the same values gives
    q = (np.random.default_rng(1).random((5, 1, 28, 28)) * 255).astype(np.uint8)
    np.save(tmp_path / "f.npy", q.astype(np.float32) / np.float32(255.0))
    np.save(tmp_path / "nhwc.npy", q.transpose(0, 2, 3, 1).astype(np.float32) / np.float32(255.0))
    np.save(tmp_path / "nhw.npy", q[:, 0].astype(np.float32) / np.float32(255.0))
    np.save(tmp_path / "u8.npy", q)
    want = json.loads(run("verify", str(packed), "--inputs", str(tmp_path / "f.npy"), "--json").stdout)
    for name in ("nhwc", "nhw", "u8"):
        r = run("verify", str(packed), "--inputs", str(tmp_path / f"{name}.npy"), "--json")
        assert r.returncode == 0, (name, r.stderr)
        got = json.loads(r.stdout)
        assert got["images"] == 5 and got["max_abs_diff"] == want["max_abs_diff"], name
        assert got["original_relative_error"] == want["original_relative_error"] is not None, name


def test_verify_user_errors(crt, packed, tmp_path):
    import numpy as np

    np.save(tmp_path / "bad.npy", np.zeros((3, 1, 8, 8), np.float32))
    np.save(tmp_path / "y.npy", np.zeros(5, np.int64))
    np.save(tmp_path / "x.npy", np.zeros((3, 1, 28, 28), np.float32))
    cases = [
        (["verify", str(packed), "--inputs", str(tmp_path / "bad.npy")], "the model expects (N, 1, 28, 28)"),
        (["verify", str(packed), "--inputs", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")],
         "expected 3 integer labels"),
        (["verify", str(packed), "--labels", str(tmp_path / "y.npy")], "--labels goes with --inputs"),
        (["verify", str(packed), "--inputs", str(tmp_path / "none.npy")], "no such file"),
    ]
    for args, msg in cases:
        r = run(*args)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_status_names_codes_as_the_c_library_does():
    """`linrep-edge status CODE`: for firmware built with -DLR_STATUS_TEXTS=0, which prints codes only; every code's
    text equals the C library's own lr_status_str; a value that is no status is a one-line error, exit 2."""
    from linrep_edge.runtime.binding import status_text

    r = run("status", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows[0]["code"] == 0 and len(rows) >= 24 and len({x["code"] for x in rows}) == len(rows)
    for row in rows:
        assert row["text"] == status_text(row["code"]) and row["name"].startswith("LR_")
    r = run("status", "-5", "-12")
    assert r.returncode == 0 and [ln.split()[0] for ln in r.stdout.splitlines()] == ["-5", "-12"]
    assert "LR_ERR_CRC" in r.stdout and status_text(-12) in r.stdout
    r = run("status", "7")
    assert r.returncode == 2 and "not an lr_status" in r.stderr and "Traceback" not in r.stderr


def test_quiet_before_or_after_the_command():
    """-q / --quiet is taken before the command (as the tests call it) and after it (`linrep-edge pack ... -q`, which
    failed with 'unrecognized arguments: -q'); left out, progress bars stay on."""
    from linrep_edge.cli.main import build_parser

    ap = build_parser()
    for argv, quiet in ((["report", "m.lre"], False), (["-q", "report", "m.lre"], True),
                        (["report", "m.lre", "-q"], True), (["pack", "--default", "-o", "m.lre", "--quiet"], True),
                        (["verify", "m.lre", "-q"], True), (["mcu-bench", "m.lre"], False)):
        assert ap.parse_args(argv).quiet is quiet, argv
    r = run("status", "-12")  # status's negative codes still read as codes
    assert r.returncode == 0 and r.stdout.split()[0] == "-12"
