"""ONNX in (issue 18 item 4): every zoo network (tests/zoo.py) exported with torch.onnx.export imports from
the .onnx file into a torch module that agrees with onnxruntime on random inputs (1e-4 of the output
scale); those whose ops the C runtime has packs from the .onnx file (K = 16, fp32 weights) and runs in C:
uncompressed, within 1e-4 of onnxruntime's output; compressed, within 1e-4 of the compressed torch model.
An ONNX op outside the op set is one error naming every such node.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from needs import need
from zoo import ZOO, build

need(all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime")), "onnx / onnxruntime",
     "pip install -e '.[onnx]' (make test installs it)")

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from linrep_edge.errors import LinRepError  # noqa: E402
from linrep_edge.format.reader import parse  # noqa: E402
from linrep_edge.models.onnx_import import load_onnx  # noqa: E402
from linrep_edge.pipeline import PackSettings, pack_model  # noqa: E402

# Every zoo network runs in C (format version 3 has the op set they use).
C_NETS = tuple(sorted(ZOO))
RTOL = 1e-4


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    """name -> .onnx exported from the zoo network (legacy TorchScript exporter, opset 17), made on demand."""
    folder = tmp_path_factory.mktemp("onnx")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            model, example = build(name)
            path = folder / f"{name}.onnx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=17)
            made[name] = path
        return made[name]
    return get


def _inputs(shape: tuple[int, ...], n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def _ort(path: Path, x: np.ndarray) -> list[np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def _torch(model: torch.nn.Module, x: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        y = model(torch.from_numpy(x))
    return [t.numpy() for t in (y if isinstance(y, (tuple, list)) else (y,))]


def _close(got: list[np.ndarray], want: list[np.ndarray], rtol: float = RTOL) -> float:
    """Largest error relative to each head's output scale; asserts it is within rtol."""
    assert len(got) == len(want)
    worst = 0.0
    for g, w in zip(got, want):
        g = np.asarray(g).reshape(w.shape)
        err = float(np.max(np.abs(g - w)) / max(float(np.max(np.abs(w))), 1e-6))
        assert np.isfinite(g).all() and err <= rtol, err
        worst = max(worst, err)
    return worst


def _c(crt, blob: bytes, x: np.ndarray) -> list[np.ndarray]:
    """The C runtime's outputs for one input of the model's own shape ([C, L] models run as [C, 1, L])."""
    rt = crt(blob)
    g = parse(blob).graph
    xc = x.reshape(1, *g.tensors[g.input].shape)
    return list(rt.run_all(xc))


@pytest.mark.parametrize("name", sorted(ZOO))
def test_onnx_import_matches_onnxruntime(onnx_files, name):
    path = onnx_files(name)
    model, example = load_onnx(path)
    assert tuple(example.shape) == ZOO[name][1]
    for x in _inputs(tuple(example.shape)):
        _close(_torch(model, x), _ort(path, x))


@pytest.mark.parametrize("name", C_NETS)
def test_onnx_packs_and_runs_in_c(crt, onnx_files, name):
    path = onnx_files(name)
    model, example = load_onnx(path)
    x = _inputs(tuple(example.shape), 1)[0]
    want = _ort(path, x)
    # uncompressed (every conv kept dense, fp32): the C runtime against onnxruntime itself
    dense = pack_model(model, example, PackSettings(weights_dtype="fp32", exclude=["*"]), name, show_progress=False)
    _close(_c(crt, dense.blob, x), want)
    # compressed (K = 16 templates per kernel shape, fp32 storage): the C runtime against the compressed model
    res = pack_model(model, example, PackSettings(templates=16, weights_dtype="fp32", codebook_dtype="fp32",
                                                  cap_templates=True), name, show_progress=False)
    assert any(op.type == "LINREP_CONV2D" for op in parse(res.blob).graph.ops), "no conv was compressed"
    _close(_c(crt, res.blob, x), _torch(res.model, x))


def test_cli_packs_an_onnx_file(crt, onnx_files, tmp_path):
    path = onnx_files("resnet8_cifar")
    out = tmp_path / "r8.lre"
    cli = [sys.executable, "-m", "linrep_edge.cli", "-q"]
    proc = subprocess.run([*cli, "pack", str(path), "--templates", "16", "-o", str(out), "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["blob_bytes"] == len(out.read_bytes())


def _graph_file(tmp_path: Path, nodes: list, name: str = "m.onnx", inits: list | None = None) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, [1, 2, 4, 4])
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], initializer=inits or []),
                              opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def test_unsupported_nodes_are_listed_at_once(tmp_path):
    path = _graph_file(tmp_path, [helper.make_node("Relu", ["x"], ["a"], name="ok_relu"),
                                  helper.make_node("Erf", ["a"], ["b"], name="my_erf"),
                                  helper.make_node("Cos", ["b"], ["c"], name="my_cos")])
    with pytest.raises(LinRepError) as info:
        load_onnx(path)
    text = str(info.value)
    assert "2 ONNX nodes" in text and "'my_erf' (Erf)" in text and "'my_cos' (Cos)" in text
    assert "ok_relu" not in text
    proc = subprocess.run([sys.executable, "-m", "linrep_edge.cli", "pack", str(path), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "my_erf" in proc.stderr and "Traceback" not in proc.stderr


def test_hostile_onnx_files_are_refused(tmp_path):
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(LinRepError, match="junk.onnx"):
        load_onnx(bad)
    # external data pointing outside the model's folder
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 1, 1], np.ones(4, np.float32).tobytes(), raw=True)
    w.data_location = TensorProto.EXTERNAL
    w.ClearField("raw_data")
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "16")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    sub = tmp_path / "model"
    sub.mkdir()
    path = _graph_file(sub, [helper.make_node("Conv", ["x", "w"], ["y"], name="c")], inits=[w])
    with pytest.raises(LinRepError, match="inside the model's folder"):
        load_onnx(path)


def test_matmul_plus_constant_becomes_one_linear(tmp_path):
    rng = np.random.default_rng(1)
    w, b = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
                               helper.make_node("Add", ["h", "b"], ["z"], name="bias"),
                               helper.make_node("Relu", ["z"], ["y"], name="act")], "g", [x], [y],
                              initializer=[onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(b, "b")])
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    model, example = load_onnx(path)
    assert [type(m).__name__ for m in model.layers.values()] == ["Linear", "ReLU"]
    xs = _inputs((1, 6), 1)[0]
    _close(_torch(model, xs), _ort(path, xs))


def test_smooth_activations_and_differences_from_onnx(crt, tmp_path):
    """Elu, Selu, Celu, Softplus, Mish, Gelu (both forms), ThresholdedRelu, Shrink (Hardshrink and Softshrink, format
    version 8) and Sub of two tensors (format version 7's UNARY and SUB), written by hand in an ONNX graph as converters
    emit them: the import agrees with onnxruntime, and the blob packed from the file (every function one UNARY op, the
    Sub one SUB) runs in C within 1e-4 of it."""
    c, hw = 4, 5
    w = helper.make_tensor("w", TensorProto.FLOAT, (c, 3, 3, 3), np.random.default_rng(1).standard_normal(c * 27) * 0.4)
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Gelu", ["a"], ["g"]), helper.make_node("Gelu", ["g"], ["gt"], approximate="tanh"),
             helper.make_node("Elu", ["gt"], ["e"], alpha=0.5), helper.make_node("Selu", ["e"], ["s"]),
             helper.make_node("Celu", ["s"], ["ce"], alpha=0.7), helper.make_node("Mish", ["ce"], ["m"]),
             helper.make_node("Softplus", ["m"], ["sp"]), helper.make_node("ThresholdedRelu", ["a"], ["t0"], alpha=0.3),
             helper.make_node("Shrink", ["t0"], ["t1"], lambd=0.6), helper.make_node("Shrink", ["t1"], ["t"], lambd=0.2,
                                                                                  bias=0.2),
             helper.make_node("Sub", ["sp", "t"], ["y"])]
    graph = helper.make_graph(nodes, "smooth", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, hw, hw))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, c, hw, hw))], [w])
    path = tmp_path / "smooth.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=9), str(path))
    model, example = load_onnx(path)
    x = _inputs((1, 3, hw, hw))[0] * 2
    want = _ort(path, x)
    _close(_torch(model, x), want)
    res = pack_model(model, example, PackSettings(templates=4, weights_dtype="fp32", codebook_dtype="fp32",
                                                  exclude=["*"]), "smooth", show_progress=False)
    g = parse(res.blob).graph
    assert [op.type for op in g.ops].count("UNARY") == 10 and [op.type for op in g.ops].count("SUB") == 1
    _close(_c(crt, res.blob, x), want)


def test_depth_to_space_and_back_from_onnx(crt, tmp_path):
    """DepthToSpace (DCR and CRD) and SpaceToDepth as ONNX files hold them: the import agrees with onnxruntime, and
    the blob (one PIXEL_SHUFFLE each: the DCR order's channel shuffle folded into it) runs in C exactly as
    onnxruntime."""
    c, h, w = 8, 3, 4
    wt = helper.make_tensor("w", TensorProto.FLOAT, (c, 3, 1, 1), np.random.default_rng(2).standard_normal(c * 3))
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"]),
             helper.make_node("DepthToSpace", ["a"], ["d"], blocksize=2, mode="DCR"),
             helper.make_node("SpaceToDepth", ["d"], ["s"], blocksize=2),
             helper.make_node("DepthToSpace", ["s"], ["y"], blocksize=2, mode="CRD")]
    graph = helper.make_graph(nodes, "d2s", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, h, w))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 2, 2 * h, 2 * w))], [wt])
    path = tmp_path / "d2s.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    model, example = load_onnx(path)
    x = _inputs((1, 3, h, w))[0]
    want = _ort(path, x)
    _close(_torch(model, x), want, rtol=1e-6)
    res = pack_model(model, example, PackSettings(weights_dtype="fp32", exclude=["*"]), "d2s", show_progress=False)
    kinds = [op.type for op in parse(res.blob).graph.ops]
    assert kinds == ["CONV2D", "PIXEL_SHUFFLE", "PIXEL_SHUFFLE", "PIXEL_SHUFFLE"], kinds
    assert [op.mode for op in parse(res.blob).graph.ops[1:]] == [2, 3, 0]
    _close(_c(crt, res.blob, x), want, rtol=1e-6)


def test_nearest_resize_to_any_size_from_onnx(crt, tmp_path):
    """Resize (nearest, asymmetric, floor: what exporters write for F.interpolate(size=...)) to an odd size that is no
    multiple of the input: RESIZE mode 3 (format version 8), C equal to onnxruntime on every value."""
    sizes = helper.make_tensor("sizes", TensorProto.INT64, (4,), [1, 2, 15, 11])
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest",
                            coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    graph = helper.make_graph([node], "up", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 2, 7, 5))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 2, 15, 11))], [sizes])
    path = tmp_path / "up.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    model, example = load_onnx(path)
    x = _inputs((1, 2, 7, 5))[0]
    want = _ort(path, x)
    res = pack_model(model, example, PackSettings(weights_dtype="fp32", exclude=["*"]), "up", show_progress=False)
    blob = parse(res.blob)
    assert blob.format_version == 8 and [(op.type, op.mode) for op in blob.graph.ops] == [("RESIZE", 3)]
    np.testing.assert_array_equal(_c(crt, res.blob, x)[0].reshape(want[0].shape), want[0])
