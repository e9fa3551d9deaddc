"""Forward passes that stop early: a hook raises `StopForward` once it has taken what it needs, and the rest of
the network is not run (block-wise reconstruction's captures, batch-norm matching's per-layer statistics)."""

from __future__ import annotations

import torch
from torch import nn


class StopForward(Exception):
    """Raised by a forward hook to end the pass it is in."""


@torch.no_grad()
def run_batches(model: nn.Module, x: torch.Tensor, batch: int) -> None:
    """`model` on `x`, `batch` inputs at a time, for its hooks' sake; a pass a hook stops counts as done."""
    for i in range(0, int(x.shape[0]), batch):
        try:
            model(x[i:i + batch])
        except StopForward:
            pass
