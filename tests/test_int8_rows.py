"""Issue 16 item 6: the int8 rows of the commands. `verify` on an int8 blob compares the C runtime with
the Python integer reference byte for byte (and fails when they differ); `verify model.tflite` runs our C
runtime beside TFLite Micro and LiteRT-reference on the same inputs; `pack model.tflite` packs a TFLite
file as it is (int8 stays int8)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from needs import need

from linrep_edge.cli.main import main
from linrep_edge.errors import LinRepError
from linrep_edge.format.reader import parse
from linrep_edge.format.writer import pack_graph
from linrep_edge.integer.executor import run_int8
from linrep_edge.runtime.binding import CRuntime
from linrep_edge.runtime.verify import format_result, verify
from int8_graphs import build

MLPERF = Path(__file__).resolve().parents[1].parent / "shared" / "mlperf-tiny"
KWS = MLPERF / "kws_ref_model.tflite"


def _float_inputs(g, n: int, seed: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    t = g.tensors[g.input]
    q = np.random.default_rng(seed).integers(-128, 128, (n, *t.shape))
    return (np.float32(t.scale) * (q - t.zero_point)).astype(np.float32)


def test_verify_int8_blob_is_bit_for_bit_against_the_integer_reference() -> None:
    g = build("linrep", 2)
    blob = pack_graph(g)
    x = _float_inputs(g, 6, 1)
    shape = g.tensors[g.results[0]].shape  # a dense head (C, H, W): labels per position
    y = np.arange(6 * int(np.prod(shape[1:]))).reshape(6, *shape[1:]) % shape[0]
    res = verify(blob, x, y, "t.lre")
    assert res["activations"] == "int8" and res["verdict"] == "pass" and res["differing_output_bytes"] == 0
    assert res["output_bytes"] == 6 * int(np.prod(g.tensors[g.results[0]].shape))
    # the C accuracy is computed from the same int8 outputs run_int8 gives for these inputs
    from linrep_edge.integer.batch import quantize_input

    want = np.stack([run_int8(g, xq)[0] for xq in quantize_input(g, x)])
    acc = float((want.reshape(6, *shape).argmax(1) == y).mean())
    assert res["c_accuracy"] == res["python_int8_accuracy"] == acc
    assert "0 of" in format_result(res) and res["arena_bytes"] == CRuntime(blob).arena_bytes


def test_verify_int8_blob_fails_when_c_and_reference_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    g = build("chain", 3)
    blob = pack_graph(g)
    real = CRuntime.run_int8

    def off_by_one(self, x):  # type: ignore[no-untyped-def]
        out = real(self, x)
        out[0].reshape(-1)[0] ^= 1
        return out

    monkeypatch.setattr(CRuntime, "run_int8", off_by_one)
    res = verify(blob, _float_inputs(g, 3, 2), None, "t.lre")
    assert res["verdict"] == "fail" and res["differing_output_bytes"] == 1


def test_verify_and_pack_tflite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need(KWS.exists(), f"the MLPerf Tiny model {KWS}", "put shared/mlperf-tiny beside the clone (see its README)")
    from linrep_edge.bench import peers

    have = all(importlib.util.find_spec(m) is not None for m in ("tflite_micro", "ai_edge_litert"))
    need(have, "the peers extra (tflite_micro, ai_edge_litert)", peers.INSTALL_HINT)
    rc = main(["verify", str(KWS), "--n", "4", "--seed", "3", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["verdict"] == "pass" and r["ours_vs_tflm"] == 0 and r["random_inputs"] == 4
    assert r["output_bytes"] == 4 * 12 and r["tflm_vs_litert_ref"] >= 0
    out = tmp_path / "kws.lre"
    assert main(["pack", str(KWS), "-o", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    g = parse(out.read_bytes()).graph
    assert g.is_int8 and s["activations"] == "int8" and s["blob_bytes"] == out.stat().st_size
    x = np.random.default_rng(0).integers(-128, 128, g.tensors[g.input].shape).astype(np.int8)
    np.testing.assert_array_equal(CRuntime(out.read_bytes()).run_int8(x[None])[0][0], run_int8(g, x)[0])


def test_verify_tflite_measures_the_int8_file_against_its_float_model(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`verify model_int8.tflite --model model_float.tflite --inputs X.npy` (it ignored --model, and reshaped
    NHWC inputs to NCHW without transposing them): the int8 file's top-1 agreement and relative output error
    against the float model on photo crops, as LiteRT computes them on the NHWC arrays the files take — the
    int8 file through TFLite Micro (bit for bit ours), the float one through LiteRT's own kernels."""
    ic_q, ic_f = MLPERF / "pretrainedResnet_quant.tflite", MLPERF / "pretrainedResnet.tflite"
    need(ic_q.exists() and ic_f.exists(), f"the MLPerf Tiny models {ic_q}, {ic_f}",
         "put shared/mlperf-tiny beside the clone (see its README)")
    from linrep_edge.bench import peers

    have = all(importlib.util.find_spec(m) is not None for m in ("tflite_micro", "ai_edge_litert"))
    need(have, "the peers extra (tflite_micro, ai_edge_litert)", peers.INSTALL_HINT)
    from ai_edge_litert.interpreter import Interpreter
    from tflite_micro.python.tflite_micro import runtime as tflm

    from linrep_edge.bench.photos import TEST_PHOTOS, random_crops

    x = ((random_crops(TEST_PHOTOS, 40, 32, 1) * 255).round().permute(0, 2, 3, 1).numpy()).astype(np.float32)
    np.save(tmp_path / "x.npy", x)  # NHWC in 0..255, as the model takes
    rc = main(["verify", str(ic_q), "--model", str(ic_f), "--inputs", str(tmp_path / "x.npy"), "--n", "0", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["verdict"] == "pass" and r["real_inputs"] == 40 and r["notes"] == []

    lit = Interpreter(model_path=str(ic_f))
    lit.allocate_tensors()
    quant = Interpreter(model_path=str(ic_q))  # the int8 file's own quantisation parameters
    (s_in, z_in), (s_out, z_out) = (quant.get_input_details()[0]["quantization"],
                                    quant.get_output_details()[0]["quantization"])
    micro = tflm.Interpreter.from_bytes(ic_q.read_bytes(), arena_size=1 << 22)
    f_out, q_out = [], []
    for xi in x:
        lit.set_tensor(lit.get_input_details()[0]["index"], xi[None])
        lit.invoke()
        f_out.append(lit.get_tensor(lit.get_output_details()[0]["index"])[0].astype(np.float64))
        micro.set_input(np.clip(np.round(xi[None] / s_in) + z_in, -128, 127).astype(np.int8), 0)
        micro.invoke()
        q_out.append(s_out * (micro.get_output(0)[0].astype(np.float64) - z_out))
    f, q = np.array(f_out), np.array(q_out)
    assert r["original_top1_agreement"] == pytest.approx(float((f.argmax(1) == q.argmax(1)).mean()))
    assert r["original_relative_error"] == pytest.approx(float(np.linalg.norm(q - f) / np.linalg.norm(f)), rel=1e-3)
    from linrep_edge.runtime.verify_tflite import format_result as format_tflite

    assert f"int8 file vs original model, on the 40 real inputs: top-1 agreement " \
           f"{100 * r['original_top1_agreement']:.2f}%" in format_tflite(r)
    assert main(["verify", str(ic_q), "--model", str(ic_f), "--n", "2"]) == 2  # no real inputs to measure on
    assert "give real inputs" in capsys.readouterr().err
    # bad input: the wrong float model, inputs of the wrong shape: one clear error each, no traceback
    vww = MLPERF / "vww_96_float.tflite"
    assert main(["verify", str(ic_q), "--model", str(vww), "--inputs", str(tmp_path / "x.npy")]) == 2
    assert "takes inputs (3, 96, 96)" in capsys.readouterr().err
    np.save(tmp_path / "bad.npy", np.zeros((4, 28, 28), np.float32))
    assert main(["verify", str(ic_q), "--model", str(ic_f), "--inputs", str(tmp_path / "bad.npy")]) == 2
    assert "inputs have shape (4, 28, 28), the model takes (N, 3, 32, 32)" in capsys.readouterr().err


def test_verify_tflite_refuses_fp32_models() -> None:
    f = MLPERF / "kws_ref_model_float32.tflite"
    need(f.exists(), f"the MLPerf Tiny model {f}", "put shared/mlperf-tiny beside the clone (see its README)")
    from linrep_edge.runtime.verify_tflite import verify_tflite

    with pytest.raises(LinRepError, match="fp32"):
        verify_tflite(f, n=1)


def test_bench_pareto_int8_rows_settings() -> None:
    """`bench pareto --activations int8`: each integer a/b point is packed as `pack --activations int8` would
    (labelled data for calibration and int8-aware fine-tuning, every weight int8 by the scheme); fp16 a/b has
    no int8 twin; anything but fp32 / int8 is refused. (The points themselves: docs/bench/pareto_int8.json.)"""
    from linrep_edge.bench import pareto

    s = pareto._settings(16, 5, 0.3, "int8", 0.0, 1e-3, 2)
    assert (s.activations, s.ab_bits, s.data, s.weights_dtype, s.prune_sparsity, s.seed) == \
        ("int8", 5, "fashion-mnist", "fp16", 0.3, 2)  # fp16 = not overridden: the int8 packer refuses otherwise
    f = pareto._settings(16, 16, 0.0, "fp32", 0.0, 1e-3, 0)
    assert (f.activations, f.ab_bits, f.weights_dtype, f.data) == ("fp32", 0, "fp16", None)
    res = pareto.run([4], [16], [0.0], epochs=0.0, test_limit=10, show_progress=False, activations=["int8"])
    assert res["points"] == [] and res["activations"] == ["int8"]
    with pytest.raises(LinRepError, match="--activations takes fp32 and/or int8"):
        pareto.run([4], [4], activations=["int4"])


def test_pack_fp32_tflite_compresses_and_verify_measures_fidelity(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An fp32 .tflite packs like any model (its imported graph as a trainable GraphModel): LinRep on its 3x3 convs,
    --calibration distils it, `verify --model file.tflite` measures the blob against the file's own graph;
    --as-imported keeps the graph as it is (no LinRep, the weights as the file has them); a full-integer .tflite
    is refused with compression options (its integers are packed as they are)."""
    f = MLPERF / "pretrainedResnet.tflite"
    need(f.exists(), f"the MLPerf Tiny model {f}", "put shared/mlperf-tiny beside the clone (see its README)")
    from linrep_edge.graph.executor import GraphModel
    from linrep_edge.models.tflite_import import import_tflite

    g0 = import_tflite(f)
    x = np.random.default_rng(0).uniform(0, 1, (96, *g0.tensors[g0.input].shape)).astype(np.float32)
    np.save(tmp_path / "cal.npy", x[:64])
    np.save(tmp_path / "test.npy", x[64:])
    out = tmp_path / "ic.lre"
    import linrep_edge.models.tflite_import as tflite_import

    imports: list[object] = []
    real_import = tflite_import.import_tflite
    monkeypatch.setattr(tflite_import, "import_tflite", lambda *a, **k: imports.append(a) or real_import(*a, **k))
    assert main(["-q", "pack", str(f), "--templates", "32", "--activations", "fp32", "--calibration",
                 str(tmp_path / "cal.npy"), "--calibration-epochs", "3", "-o", str(out), "--json"]) == 0
    assert len(imports) == 1  # the file is imported once (it was twice: to see its kind, then as the model)
    monkeypatch.undo()
    s = json.loads(capsys.readouterr().out)
    g = parse(out.read_bytes()).graph
    assert sum(op.type == "LINREP_CONV2D" for op in g.ops) >= 6 and s["conv_compression_vs_fp32"] > 5
    assert s["calibration"]["epochs_run"] >= 1 and out.stat().st_size < f.stat().st_size / 4
    assert main(["verify", str(out), "--inputs", str(tmp_path / "test.npy"), "--model", str(f), "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    import torch

    with torch.no_grad():  # the file's graph (the verify's original) against the blob, computed here
        want = GraphModel(g0).eval()(torch.from_numpy(x[64:])).numpy()
        got = GraphModel(g).eval()(torch.from_numpy(x[64:])).numpy()
    rel = float(np.linalg.norm(got - want) / np.linalg.norm(want))
    assert v["verdict"] == "pass" and abs(v["original_relative_error"] - rel) < 1e-3 * max(rel, 1e-3), v
    plain = tmp_path / "plain.lre"
    assert main(["-q", "pack", str(f), "--as-imported", "-o", str(plain), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert not any(op.type == "LINREP_CONV2D" for op in parse(plain.read_bytes()).graph.ops)
    assert plain.read_bytes() == pack_graph(g0, {"source": f.name}) and "as-imported" in s["notes"][0]
    assert main(["-q", "pack", str(KWS), "--calibration", str(tmp_path / "cal.npy"), "-o", str(tmp_path / "k.lre")]) == 2
    assert "full-integer" in capsys.readouterr().err and not (tmp_path / "k.lre").exists()
    assert main(["-q", "pack", "--default", "--as-imported", "-o", str(tmp_path / "d.lre")]) == 2
    assert "--as-imported" in capsys.readouterr().err
    # the split pipeline: a checkpoint of a .tflite holds the file and rebuilds its graph as the original
    from linrep_edge.method.checkpoint import load_checkpoint

    ckpt, packed = tmp_path / "ic.lrc", tmp_path / "ck.lre"
    assert main(["-q", "compress", str(f), "--templates", "16", "-o", str(ckpt)]) == 0
    assert main(["-q", "pack", str(ckpt), "-o", str(packed)]) == 0
    capsys.readouterr()
    original, _ = load_checkpoint(ckpt).build_original()
    with torch.no_grad():
        assert torch.equal(original(torch.from_numpy(x[:4])), GraphModel(g0).eval()(torch.from_numpy(x[:4])))
    assert sum(op.type == "LINREP_CONV2D" for op in parse(packed.read_bytes()).graph.ops) >= 6
