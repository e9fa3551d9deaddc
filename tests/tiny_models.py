"""Tiny models for subprocess tests (importable as `tiny_models:...` with tests/ on PYTHONPATH)."""

from __future__ import annotations

import os
import time

import torch
from torch import nn


def tiny_cnn() -> nn.Module:
    """Two 3x3 convs and a linear head for 8x8 one-channel digits; fixed weights (seeded)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 64, 10)).eval()


def tiny_bn_cnn() -> nn.Module:
    """tiny_cnn with a batch norm after each conv, trained a little on 8x8 digits (seeded; about a second)."""
    from linrep_edge.datasets import load_digits

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                      nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 10)).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(3):
        for x, y in load_digits().train.loader(64, shuffle=True):
            opt.zero_grad()
            nn.functional.cross_entropy(m(x), y).backward()
            opt.step()
    return m.eval()


class _Slow(torch.utils.data.Dataset):
    """The same items, each read after a pause (TINY_SLOW_MS): lets a test interrupt a run mid-epoch."""

    def __init__(self, base: torch.utils.data.Dataset, ms: float) -> None:
        self.base, self.s = base, ms / 1000

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
        time.sleep(self.s)
        return self.base[i]


def digits_dataset():  # type: ignore[no-untyped-def]
    """A map-style Dataset of 300 digits (x, label), as a user's module:function would return."""
    from linrep_edge.datasets import load_digits

    tr = load_digits().train
    ds = torch.utils.data.TensorDataset(tr.x[:300], tr.y[:300])
    ms = float(os.environ.get("TINY_SLOW_MS", "0"))
    return _Slow(ds, ms) if ms else ds


def _plant(weight: torch.Tensor) -> None:
    """Overwrite an (n, m, kh, kw) weight with kernels a*T[idx] + b over two random templates (K = 4 holds it
    exactly), drawn from torch's global generator in a fixed order."""
    n, m, kh, kw = weight.shape
    with torch.no_grad():
        t = torch.randn(2, kh, kw)
        idx = torch.randint(0, 2, (n, m))
        a, b = 0.1 * torch.randn(n, m), 0.01 * torch.randn(n, m)
        weight.copy_(a[..., None, None] * t[idx] + b[..., None, None])


def planted_unet() -> nn.Module:
    """`planted_cnn` with upsampling: a diverse 3x3 conv down (stride 2, 8x8 -> 4x4), a ConvTranspose2d `up`
    (4x4 kernels, stride 2, 4x4 -> 8x8) whose 64 kernels are a*T[idx] + b over two templates (K = 4 holds it
    exactly), and a linear head."""
    from collections import OrderedDict

    torch.manual_seed(0)
    m = nn.Sequential(OrderedDict(diverse=nn.Conv2d(8, 8, 3, stride=2, padding=1), act1=nn.ReLU(),
                                  up=nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1), act2=nn.ReLU(),
                                  flat=nn.Flatten(), fc=nn.Linear(8 * 8 * 8, 10)))
    _plant(m.up.weight)
    return m.eval()


def planted_cnn() -> nn.Module:
    """Two 3x3 convs with 64 kernels each (input 8x8x8) and a linear head, seeded: `diverse` keeps its random
    kernels (sensitive to K), `planted` has kernels a*T[idx] + b over two templates only (K = 4 holds it
    exactly): a per-layer choice must give `diverse` the larger K."""
    from collections import OrderedDict

    torch.manual_seed(0)
    m = nn.Sequential(OrderedDict(diverse=nn.Conv2d(8, 8, 3, padding=1), act1=nn.ReLU(),
                                  planted=nn.Conv2d(8, 8, 3, padding=1), act2=nn.ReLU(), flat=nn.Flatten(),
                                  fc=nn.Linear(8 * 8 * 8, 10)))
    _plant(m.planted.weight)
    return m.eval()


class _TinySeg(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.mask = nn.Conv2d(8, 3, 1)
        self.score = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return self.mask(f), self.score(f.mean((2, 3)))


def tiny_seg() -> nn.Module:
    """A dense-output net (two heads: class scores per pixel (N, 3, 8, 8) and one score per input (N, 1)) for
    8x8 one-channel inputs; fixed weights (seeded)."""
    torch.manual_seed(0)
    return _TinySeg().eval()
