"""Shared fixtures: small real data and small models, so most tests run in seconds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from torch import nn

from linrep_edge.models.resnet8 import ResNet8

import campaign  # noqa: F401  (loads the Hypothesis profile before any test module)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def crt():
    """The CRuntime class, after `make -C runtime_c` (a no-op when the library is up to date)."""
    from linrep_edge.runtime.build_lock import build_lock

    with build_lock(ROOT / "runtime_c" / "build"):  # test workers (pytest -n) build one at a time
        proc = subprocess.run(["make", "-C", str(ROOT / "runtime_c"), "-j2", "all"], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building the C runtime failed:\n{proc.stdout}\n{proc.stderr}")
    from linrep_edge.runtime.binding import CRuntime

    return CRuntime


@pytest.fixture(scope="session")
def digits():
    from linrep_edge.datasets import load_digits

    return load_digits()


@pytest.fixture
def small_resnet() -> nn.Module:
    """A ResNet-8 with random weights and non-trivial batch-norm statistics."""
    torch.manual_seed(0)
    m = ResNet8(widths=(8, 16, 16)).eval()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return m
