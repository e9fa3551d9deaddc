"""The package's layers and its public API.

- The format layer needs no torch: `report`, `inspect` and `export-c` run in a Python where importing
  torch fails (a meta-path blocker in a fresh interpreter), on a blob packed beforehand.
- Every public entry point of `linrep_edge` works twice in a row and in any import order (no public
  name is also a module of the package), and the Python API end to end — compress, fine-tune, pack —
  writes the same bytes as `linrep-edge pack` with the same settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import linrep_edge

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "linrep_edge.cli", "-q"]

NO_TORCH = textwrap.dedent("""
    import importlib.abc, sys
    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
    sys.meta_path.insert(0, Blocker())
    from linrep_edge.cli import main
    code = main(sys.argv[1:])
    assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch got imported"
    sys.exit(code)
""")


@pytest.fixture(scope="module")
def blob_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("layers") / "m.lre"
    r = subprocess.run([*CLI, "pack", "--default", "--templates", "8", "--seed", "0", "-o", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return path


@pytest.mark.parametrize("args", [["report", "{f}", "--json"], ["inspect", "{f}"], ["report", "{f}"],
                                  ["export-c", "{f}", "-o", "{d}/m.h"]])
def test_format_commands_run_without_torch(blob_file, args):
    argv = [a.format(f=blob_file, d=blob_file.parent) for a in args]
    r = subprocess.run([sys.executable, "-c", NO_TORCH, *argv], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "torch" not in r.stderr


def test_torch_blocker_really_blocks():
    r = subprocess.run([sys.executable, "-c", NO_TORCH, "pack", "--default", "-o", "/dev/null"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "torch is blocked" in r.stdout + r.stderr


ENTRY_POINTS = ["compress", "finetune", "capture", "pack", "pack_model", "parse", "storage_report", "CRuntime",
                "load_default_model", "PackSettings", "evaluate", "pack_graph", "read_blob", "verify", "GraphModel"]


def test_no_public_name_is_a_module():
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(linrep_edge.__path__)}
    assert not modules & set(linrep_edge.__all__)
    assert set(ENTRY_POINTS) <= set(linrep_edge.__all__)


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_entry_points_work_twice_in_any_import_order(order):
    names = ENTRY_POINTS if order == "forward" else ENTRY_POINTS[::-1]
    code = textwrap.dedent(f"""
        import importlib, linrep_edge
        for name in {names!r}:
            assert callable(getattr(linrep_edge, name)), name
        import linrep_edge.method.compress, linrep_edge.method.finetune, linrep_edge.graph.capture
        import linrep_edge.pipeline
        from torch import nn
        import torch
        for k in (2, 4):   # a loop over K: the second call must work as the first
            m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(64, 3)).eval()
            cm, rep = linrep_edge.compress(m, templates=k, show_progress=False)
            blob = linrep_edge.pack(cm, torch.zeros(1, 1, 8, 8), linrep_edge.PackSettings(templates=k))
            assert linrep_edge.parse(blob).graph.ops
            assert callable(linrep_edge.compress) and callable(linrep_edge.finetune) and callable(linrep_edge.capture)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_python_api_end_to_end_equals_the_cli(tmp_path):
    """compress → finetune → pack from Python = `linrep-edge pack --activations fp32` with the same settings, byte
    for byte (`pack` is the fp32 packer; int8 models come from `pack_model`)."""
    out = tmp_path / "cli.lre"
    # one thread on both sides: float sums in fine-tuning depend on torch's thread count, which an earlier test in
    # this process may have changed
    r = subprocess.run([*CLI, "pack", "--default", "--templates", "8", "--seed", "3", "--finetune-epochs", "0.02",
                        "--data", "fashion-mnist", "--activations", "fp32", "-o", str(out)], capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _same_as_cli(out)
    finally:
        torch.set_num_threads(threads)


def _same_as_cli(out: Path) -> None:
    from linrep_edge.models.loading import load_default
    from linrep_edge.pipeline import FINETUNE_BATCH, finetune_split

    model, example = load_default()
    settings = linrep_edge.PackSettings(templates=8, seed=3, finetune_epochs=0.02, data="fashion-mnist",
                                        threads=torch.get_num_threads())  # the count it is fine-tuned at: recorded
    cm, rep = linrep_edge.compress(model, templates=8, seed=3, show_progress=False)
    train, _, _ = finetune_split("fashion-mnist", seed=3)
    torch.manual_seed(3)
    linrep_edge.finetune(cm, train.loader(FINETUNE_BATCH, shuffle=True, seed=3), 0.02, show_progress=False)
    blob = linrep_edge.pack(cm, example, settings, source="default")
    cli_blob = out.read_bytes()
    assert linrep_edge.parse(blob).graph.metadata == linrep_edge.parse(cli_blob).graph.metadata
    assert blob == cli_blob
    assert rep.layers and linrep_edge.parse(blob).graph.metadata["templates"] == 8
