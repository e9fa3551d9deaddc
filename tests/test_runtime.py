"""The C runtime on whole networks: the embedded default model on real Fashion-MNIST images, the
arena plan of ResNet-8 pinned to its numbers, and the C corruption sweep under ASan + UBSan.

Builds runtime_c with make first. The sweep is bounded in time (--max-seconds) so that the file
stays well under a minute on two cores; `make -C runtime_c sanitize` runs the unbounded sweep.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from linrep_edge.graph.capture import capture
from linrep_edge.method.compress import compress
from linrep_edge.errors import LinRepError
from linrep_edge.graph.executor import GraphModel
from linrep_edge.models.resnet8 import ResNet8
from linrep_edge.format.writer import pack_graph
from linrep_edge.format.reader import parse
from linrep_edge.runtime.build_lock import build_lock

ROOT = Path(__file__).resolve().parent.parent
N_IMAGES = 300


def _default_model() -> nn.Module | None:
    try:
        from linrep_edge.models.resnet8 import load_default_model

        return load_default_model()
    except LinRepError:
        return None


@pytest.fixture(scope="module")
def default_model() -> nn.Module:
    model = _default_model()
    if model is None:
        pytest.skip("embedded default model not trained yet")
    return model


@pytest.fixture(scope="module")
def default_blobs(default_model) -> dict[str, bytes]:
    """The default model packed dense, dense with fp16 constants, and LinRep with K = 16."""
    model = default_model
    example = torch.zeros(1, 1, 28, 28)
    g16 = capture(model, example)
    for c in g16.constants:
        c.dtype = "fp16"
    cm, _ = compress(model, templates=16, seed=0, show_progress=False)
    return {"dense": pack_graph(capture(model, example)), "dense_fp16": pack_graph(g16),
            "linrep16": pack_graph(capture(cm, example))}


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    from linrep_edge.datasets import load_fashion_mnist

    test = load_fashion_mnist().test.take(N_IMAGES)
    return test.x.numpy(), test.y.numpy()


@pytest.mark.parametrize("kind", ["dense", "dense_fp16", "linrep16"])
def test_default_model_matches_torch(crt, default_model, default_blobs, images, kind) -> None:
    """C logits within 1e-4 of torch on the stored weights, same predicted class on every image."""
    x, _ = images
    blob = default_blobs[kind]
    c = crt(blob).run(x)
    with torch.no_grad():
        ref = GraphModel(parse(blob).graph).eval()(torch.from_numpy(x)).numpy()
    assert np.abs(c - ref).max() <= 1e-4
    assert np.array_equal(c.argmax(1), ref.argmax(1))
    if kind == "dense":  # and the original torch module itself (BN folded by capture)
        with torch.no_grad():
            orig = default_model(torch.from_numpy(x)).numpy()
        assert np.abs(c - orig).max() <= 1e-4
        assert np.array_equal(c.argmax(1), orig.argmax(1))


def test_resnet8_arena_pinned(crt) -> None:
    """ResNet-8 (16/32/64) on 28x28: the plan's numbers depend on the architecture only.

    Lower bound 150,528 B = three 16x28x28 fp32 tensors live at once (at the first residual add: the
    block input, the second conv's output and the sum; also at layer1.conv2: its input, its output and the
    block input). Arena = 208 B of run plan (12 B + 4 B per tensor, 16 tensors: the ReLUs are fused, + 8 B per
    op, 15 ops, + one word of path bits, rounded to 16) + 150,528 B of activations (the greedy plan reaches the
    bound) + the kernel scratch of the op at the bound, layer1.conv2: each op's scratch sits in the memory
    its live tensors leave free, and only that op has none. Direct path: 720 B (the K = 4 codebook decoded,
    4 x 3 x 3 floats, then 16 x 3 x 3 floats: one output channel). Automatic path (fp32 models: no RAM
    limit by default, every op its preferred path): layer1.conv2's tiled reuse scratch
    (lr_conv_cost.reuse_scratch_bytes) instead; with the least arena asked for (lr_set_ram_limit(0)) that op
    runs direct and the arena is the direct path's.
    """
    torch.manual_seed(0)
    model = ResNet8().eval()
    example = torch.zeros(1, 1, 28, 28)
    dense = crt(pack_graph(capture(model, example)))
    cm, _ = compress(model, templates=4, seed=0, show_progress=False, max_iter=2)
    blob = pack_graph(capture(cm, example))
    lin = crt(blob, conv_path="direct")
    assert dense.activation_lower_bound_bytes == lin.activation_lower_bound_bytes == 150_528
    assert dense.arena_bytes == 208 + 150_528  # dense fp32 weights are read in place: no scratch
    assert lin.arena_bytes == 208 + 150_528 + 4 * 9 * 4 + 16 * 9 * 4
    auto = crt(blob)
    infos = [auto.op_conv_info(k) for k in range(auto.num_ops)]
    assert all(i["path"] == ("reuse" if i["reuse_cost"] < i["direct_cost"] else "direct") for i in infos
               if i["reuse_cost"])
    assert auto.arena_bytes == 208 + 150_528 + (infos[2]["reuse_scratch_bytes"] + 15) // 16 * 16
    assert auto.arena_bytes - 208 - 150_528 <= 6 * 1024  # tiled: a few KB, not a feature map
    auto.set_ram_limit(0)
    assert auto.arena_bytes == lin.arena_bytes
    assert [auto.op_conv_info(k)["path"] for k in (1, 2)] == ["reuse", "direct"]  # layer1.conv1, layer1.conv2


def test_corruption_sweep_sanitized(tmp_path) -> None:
    """test_corrupt (ASan + UBSan) on the default-model blob, or a small model if it is absent:
    truncations and seeded bit flips / byte overwrites, each lr_init then lr_run; bounded in time."""
    target = "build/sanitize/tests/test_corrupt"
    with build_lock(ROOT / "runtime_c" / "build"):
        proc = subprocess.run(["make", "-C", str(ROOT / "runtime_c"), "-j2", target], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building the sanitizer sweep failed:\n{proc.stdout}\n{proc.stderr}")
    model = _default_model()
    if model is None:
        torch.manual_seed(0)
        model = ResNet8(widths=(4, 8, 8)).eval()
    cm, _ = compress(model, templates=16, seed=0, show_progress=False, cap_templates=True, max_iter=5)
    blob = tmp_path / "model.lre"
    blob.write_bytes(pack_graph(capture(cm, torch.zeros(1, 1, 28, 28))))
    run = subprocess.run([str(ROOT / "runtime_c" / target), str(blob), "--flips", "10000", "--seed", "7",
                          "--max-seconds", "20"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "test_corrupt: ok" in run.stdout
    assert re.search(r"\d+ x CRC-32 mismatch", run.stdout)
