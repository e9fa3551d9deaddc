"""Template-reuse convolution (runtime_c/src/lr_reuse.c) against the direct path and torch.

Random LinRep convs (stride, padding, dilation, groups, odd sizes, K from 2 up, unused templates):
the reuse path, forced, must match torch and the direct path within 1e-5 relative; the automatic
choice must be what the cost model's closed forms (DESIGN.md; linrep.h, lr_op_conv_info) give, computed
here independently from the layer's shape and indices.
"""

from __future__ import annotations

import numpy as np
import pytest

from linrep_edge.errors import LinRepError
from linrep_edge.format.writer import pack_graph
from linrep_edge.format.reader import parse

from test_runtime_ops import _close, _reference, conv_graph


def _random_conv(rng: np.random.Generator) -> dict:
    groups = int(rng.choice([1, 1, 1, 2, 3]))
    cin = groups * int(rng.integers(1, 5))
    cout = groups * int(rng.integers(1, 9))
    kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    pads = tuple(int(v) for v in rng.integers(0, 4, 4))
    h = dh * (kh - 1) + 1 + int(rng.integers(0, 12)) - pads[0] - pads[2]
    w = dw * (kw - 1) + 1 + int(rng.integers(0, 12)) - pads[1] - pads[3]
    return dict(cin=cin, h=max(h, 1 + max(0, dh * (kh - 1) + 1 - pads[0] - pads[2])),
                w=max(w, 1 + max(0, dw * (kw - 1) + 1 - pads[1] - pads[3])), cout=cout, kernel=(kh, kw),
                stride=(sh, sw), pads=pads, dilation=(dh, dw), groups=groups,
                templates=int(rng.choice([2, 3, 5, 16, 40])), seed=int(rng.integers(1 << 30)))


def _run(crt, blob: bytes, x: np.ndarray, path: str) -> np.ndarray:
    return crt(blob, conv_path=path).run(x)


@pytest.mark.parametrize("case", range(40))
def test_reuse_matches_direct_and_torch(crt, case) -> None:
    c = _random_conv(np.random.default_rng(1000 + case))
    g = conv_graph(c["cin"], c["h"], c["w"], c["cout"], c["kernel"], c["stride"], c["pads"], c["dilation"],
                   c["groups"], "linrep", templates=c["templates"], seed=c["seed"],
                   cb_dtype="fp16" if case % 2 else "fp32", bias=case % 3 != 0)
    blob = pack_graph(g)
    x = np.random.default_rng(case).standard_normal((2, *g.tensors[g.input].shape)).astype(np.float32)
    direct, reuse, auto = (_run(crt, blob, x, p) for p in ("direct", "reuse", "auto"))
    _close(reuse, _reference(blob, x))
    _close(direct, _reference(blob, x))
    scale = max(float(np.abs(direct).max()), 1e-30)
    assert float(np.abs(reuse - direct).max()) <= 1e-5 * scale
    rt = crt(blob)
    want = reuse if rt.op_conv_info(0)["path"] == "reuse" else direct
    np.testing.assert_array_equal(auto, want)  # AUTO runs exactly the chosen path


def test_unused_templates_and_k2(crt) -> None:
    """K = 40 with only two templates used, and K = 2: the lists hold what is used, nothing else."""
    for k, used in ((40, 2), (2, 2)):
        g = conv_graph(6, 11, 9, 8, (3, 3), (1, 1), (1, 1, 1, 1), templates=k, kind="linrep", seed=k)
        lr = g.ops[0].linrep
        lr.idx = np.random.default_rng(0).integers(0, used, lr.idx.shape) * (k // used)
        blob = pack_graph(g)
        x = np.random.default_rng(1).standard_normal((2, 6, 11, 9)).astype(np.float32)
        reuse = _run(crt, blob, x, "reuse")
        _close(reuse, _reference(blob, x))
        info = crt(blob).op_conv_info(0)
        assert info["templates_used"] == sum(len(np.unique(lr.idx[:, i])) for i in range(6))


def _taps(n_in: int, n_out: int, k: int, s: int, d: int, pad: int) -> int:
    """Sum over the k taps of the output positions whose tap falls inside the input."""
    total = 0
    for t in range(k):
        off = t * d - pad
        lo = 0 if off >= 0 else (-off + s - 1) // s
        hi = 0 if n_in - 1 - off < 0 else min((n_in - 1 - off) // s + 1, n_out)
        total += max(0, hi - lo)
    return total


def _closed_form_cost(g) -> dict[str, int | str]:  # type: ignore[no-untyped-def]
    """The cost model of the graph's one LinRep conv, from the formulas in linrep.h (oracle for C)."""
    op = g.ops[0]
    (cin, ih, iw), (cout, oh, ow) = g.tensors[op.inputs[0]].shape, g.tensors[op.output].shape
    (kh, kw), (sh, sw), (dh, dw) = op.kernel, op.stride, op.dilation
    idx, k = np.asarray(op.linrep.idx), g.codebooks[op.linrep.codebook].size
    n, p, kk, cout_g = cout * (cin // op.groups), oh * ow, kh * kw, cout // op.groups
    taps = _taps(ih, oh, kh, sh, dh, op.pads[0]) * _taps(iw, ow, kw, sw, dw, op.pads[1])
    u = sum(len(np.unique(idx[j * cout_g:(j + 1) * cout_g, i])) for j in range(op.groups) for i in range(idx.shape[1]))
    box = cin * (ih * iw + 2 * ih * ow + p)
    c: dict[str, int | str] = {"templates_used": u, "kernels": n, "direct_macs": n * taps + n * kk,
                               "direct_words": 3 * n * taps + 2 * n * kk + 3 * cout * p,
                               "reuse_macs": u * taps + 2 * n * p + box,
                               "reuse_words": 3 * u * taps + 4 * n * p + 2 * box + 3 * cout * p + k}
    c["direct_cost"] = int(c["direct_macs"]) + int(c["direct_words"])
    c["reuse_cost"] = int(c["reuse_macs"]) + int(c["reuse_words"])
    c["path"] = "reuse" if c["reuse_cost"] < c["direct_cost"] else "direct"
    return c


def test_cost_model_c_equals_closed_forms(crt) -> None:
    rng = np.random.default_rng(7)
    for case in range(25):
        c = _random_conv(rng)
        g = conv_graph(c["cin"], c["h"], c["w"], c["cout"], c["kernel"], c["stride"], c["pads"], c["dilation"],
                       c["groups"], "linrep", templates=c["templates"], seed=c["seed"])
        blob = pack_graph(g)
        py = _closed_form_cost(parse(blob).graph)
        cc = crt(blob).op_conv_info(0)
        assert parse(blob).check.conv[0] == cc  # what the reader and the report show is C's own answer
        for key in ("templates_used", "kernels", "direct_macs", "direct_words", "direct_cost", "reuse_macs",
                    "reuse_words", "reuse_cost", "path"):
            assert py[key] == cc[key], (case, key, py[key], cc[key])


def test_forced_modes_and_arena(crt) -> None:
    g = conv_graph(8, 28, 28, 16, (3, 3), (1, 1), (1, 1, 1, 1), templates=4, kind="linrep", seed=3)
    blob = pack_graph(g)
    rt = crt(blob, conv_path="direct")
    direct_arena = rt.arena_bytes
    assert rt.op_conv_info(0)["path"] == "direct"
    rt.set_conv_path("reuse")
    info = rt.op_conv_info(0)
    assert info["path"] == "reuse" and rt.arena_bytes >= direct_arena
    # the reuse scratch is tiled: bounded by the tile budget plus the small per-op lists, not the output plane
    assert info["reuse_scratch_bytes"] <= 4 * (1024 + 4 * 9 + 4 + 3 * 16 + 2 * 28 + 28 + 1) + 16
    x = np.random.default_rng(0).standard_normal((1, 8, 28, 28)).astype(np.float32)
    with pytest.raises(LinRepError, match="arena too small"):
        rt.run(x, arena_bytes=rt.arena_bytes - 1)
    with pytest.raises(LinRepError):
        rt.set_conv_path("fastest")


def test_dense_conv_always_direct(crt) -> None:
    blob = pack_graph(conv_graph(3, 9, 11, 4, (3, 3), (1, 1), (1, 1, 1, 1), kind="dense"))
    rt = crt(blob, conv_path="reuse")
    info = rt.op_conv_info(0)
    assert info["path"] == "direct" and info["reuse_cost"] == 0 and info["direct_macs"] > 0


def test_report_shows_the_runtime_choice(crt, small_resnet) -> None:
    """The storage report's path column (Python cost model) is what the C runtime runs by default."""
    import torch

    from linrep_edge.graph.capture import capture
    from linrep_edge.method.compress import compress
    from linrep_edge.format.report import format_report, storage_report

    cm, _ = compress(small_resnet, templates=4, scope="layer", templates_ratio=0.25, seed=0, show_progress=False,
                     max_iter=2)
    blob = pack_graph(capture(cm, torch.zeros(1, 1, 28, 28)))
    rep = storage_report(blob)
    rt = crt(blob)
    by_name = {rt.op_info(k)[1]: rt.op_conv_info(k) for k in range(rt.num_ops)}
    rows = [r for r in rep.layers if r.kind == "LINREP_CONV2D"]
    assert rows and all(r.path == by_name[r.name]["path"] for r in rows)
    assert all(r.cost["reuse_cost"] == by_name[r.name]["reuse_cost"] for r in rows)
    assert {r.templates for r in rows} == {2, 4}  # K = max(2, round(Cout / 4)) for widths 8 / 16
    assert "path" in format_report(rep)


def test_templates_ratio_needs_layer_scope(small_resnet) -> None:
    from linrep_edge.method.compress import compress

    with pytest.raises(LinRepError, match="--scope layer"):
        compress(small_resnet, templates_ratio=0.25, show_progress=False)


def test_cli_templates_ratio_report_and_verify(tmp_path) -> None:
    """pack --scope layer --templates-ratio 0.25: K = Cout/4 per layer; report shows each layer's path;
    verify runs with a forced path."""
    import json
    import subprocess
    import sys

    cli = [sys.executable, "-m", "linrep_edge.cli.main", "-q"]
    out = tmp_path / "r.lre"
    r = subprocess.run([*cli, "pack", "--default", "--scope", "layer", "--templates-ratio", "0.25",
                        "--activations", "fp32", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rep = json.loads(subprocess.run([*cli, "report", str(out), "--json"], capture_output=True, text=True,
                                    timeout=300).stdout)
    lin = [L for L in rep["layers"] if L["kind"] == "LINREP_CONV2D"]
    assert [L["templates"] for L in lin] == [4, 4, 4, 8, 8, 16, 16]
    assert all(L["path"] == "reuse" and L["cost"]["reuse_cost"] < L["cost"]["direct_cost"] for L in lin)
    assert rep["metadata"]["templates_ratio"] == 0.25
    v = subprocess.run([*cli, "verify", str(out), "--limit", "20", "--conv-path", "reuse", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert v.returncode == 0, v.stderr
    res = json.loads(v.stdout)
    assert res["conv_path"] == "reuse" and res["top1_agreement"] == 1.0 and res["max_abs_diff"] < 1e-4
