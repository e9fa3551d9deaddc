"""The peers path (optional `[peers]` extra): torch → .tflite → int8 → TFLM LUT, run by LiteRT and TFLM,
checked against torch on a tiny model; `compare` rows recomputed in the run; a missing extra names the
install command. Without the extra these tests skip locally and fail under CI (CI=true), which installs it.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from torch import nn

from needs import need

from linrep_edge import cli
from linrep_edge.bench import peers
from linrep_edge.errors import LinRepError

HAVE_PEERS = all(importlib.util.find_spec(m) is not None for m in peers.PEER_MODULES)


def _need_peers() -> None:
    need(HAVE_PEERS, "the peers extra", peers.INSTALL_HINT)


def test_missing_extra_names_the_install_command(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "litert_torch" else real(name, *a))
    with pytest.raises(LinRepError) as exc:
        peers.require()
    assert str(exc.value) == peers.missing_message(["litert_torch"])
    assert "litert_torch" in str(exc.value) and peers.INSTALL_HINT in str(exc.value)
    assert cli.main(["compare", "--markdown", ""]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and peers.missing_message(["litert_torch"]) in err[0]


@pytest.fixture(scope="module")
def tiny(digits):
    """A small CNN on 8x8 digits, trained a few steps so int8 calibration sees real activations."""
    _need_peers()
    peers.require()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                          nn.ReLU(), nn.Flatten(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(digits.train.x), digits.train.y).backward()
        opt.step()
    return model.eval(), digits.train.x.numpy(), digits.test.x.numpy()


def test_tflite_fp32_matches_torch_in_litert_and_tflm(tiny):
    model, _, x = tiny
    tfl = peers.to_tflite(model, torch.zeros(1, 1, 8, 8))
    with torch.no_grad():
        ref = model(torch.from_numpy(x[:20])).numpy()
    arena = peers.tflm_min_arena(tfl, x[:1])
    lite, micro = peers.LiteRT(tfl), peers.TFLM(tfl, arena)
    for i in range(20):
        np.testing.assert_allclose(lite(x[i:i + 1])[0], ref[i], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(micro(x[i:i + 1])[0], ref[i], rtol=1e-4, atol=1e-4)
    with pytest.raises(RuntimeError):  # the bisection's answer is the smallest arena that works
        with peers.quiet_fds():
            peers.TFLM(tfl, arena - 16)(x[:1])


def test_int8_and_lut_are_faithful(tiny):
    model, calib, x = tiny
    tfl = peers.to_tflite(model, torch.zeros(1, 1, 8, 8))
    int8 = peers.quantize_int8(tfl, calib[:50])
    assert len(int8) < len(tfl)
    lite, lite8 = peers.LiteRT(tfl), peers.LiteRT(int8)
    assert lite8.input_dtype == np.int8  # full integer: int8 in, int8 out
    agree = np.mean([lite(x[i:i + 1]).argmax() == lite8(x[i:i + 1]).argmax() for i in range(len(x))])
    assert agree >= 0.95

    clustered = peers.cluster_weights(model, 2)
    for m in clustered.modules():  # at most 2^bits values per output channel
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight.detach().numpy().reshape(m.weight.shape[0], -1)
            assert max(np.unique(row).size for row in w) <= 4
    c_int8 = peers.quantize_int8(peers.to_tflite(clustered, torch.zeros(1, 1, 8, 8)), calib[:50])
    lut = peers.lut_compress(c_int8, 2)
    assert b"TFLM_DECODE" in lut  # the weights now go through DECODE operators
    plain = peers.TFLM(c_int8, peers.tflm_min_arena(c_int8, x[:1]))
    packed = peers.TFLM(lut, peers.tflm_min_arena(lut, x[:1]))
    for i in range(20):  # LUT compression is lossless on weights that already hold few values
        np.testing.assert_array_equal(packed(x[i:i + 1]), plain(x[i:i + 1]))


def test_compare_rows_are_computed_in_the_run(tmp_path, crt):
    _need_peers()
    from linrep_edge.bench import compare
    from linrep_edge.models.resnet8 import load_default_model
    from linrep_edge.pipeline import PackSettings, pack_model

    res = compare.run([4], epochs=0, test_limit=200, latency_images=3, latency_rounds=1, calibration_images=20,
                      show_progress=False, int8_templates=[4])
    rows = {r["name"]: r for r in res["rows"]}
    assert set(rows) == {"torch fp32", "TFLite fp32", "TFLite int8", "TFLite int8 + TFLM LUT 4-bit", "linrep-edge K=4",
                         "linrep-edge int8 K=4"}
    i8 = rows["linrep-edge int8 K=4"]  # an int8 blob: 1-byte activations, integer accuracy on the same images
    assert i8["activations"] == "int8" and i8["ram_bytes"] < rows["linrep-edge K=4"]["ram_bytes"] / 3
    assert i8["bytes"] < rows["linrep-edge K=4"]["bytes"] and i8["accuracy"] > 0.5
    for r in res["rows"]:
        assert {"name", "engine", "bytes", "accuracy", "ram_bytes", "latency_ms", "accuracy_delta_pt"} <= set(r)
        assert r["latency_ms"] and all(v > 0 for v in r["latency_ms"].values())
    # the linrep-edge row is the blob `pack` writes, and its accuracy is the C runtime's on those images
    blob = pack_model(load_default_model(), torch.zeros(1, 1, 28, 28), PackSettings(templates=4, activations="fp32"),
                      source="default",
                      show_progress=False).blob
    lr = rows["linrep-edge K=4"]
    assert lr["bytes"] == len(blob)
    from linrep_edge.datasets import load_fashion_mnist

    test = load_fashion_mnist().test.take(200)
    rt = crt(blob)
    assert lr["accuracy"] == pytest.approx(float((rt.run(test.x.numpy()).argmax(1) == test.y.numpy()).mean()))
    assert lr["ram_bytes"] == rt.arena_bytes
    assert rows["TFLite int8"]["bytes"] < rows["TFLite fp32"]["bytes"]
    md = compare.markdown(res, "linrep-edge compare --test-images 200")
    assert "linrep-edge compare --test-images 200" in md and "| linrep-edge K=4" in md
    png = compare.plot(res, str(tmp_path / "p.png"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
