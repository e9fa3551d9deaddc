"""Kernel collection: find the k×k convolutions of a model and flatten their spatial kernels.

Every `nn.Conv2d` whose kernel area is > 1 is a candidate (standard, grouped, depthwise; square or not);
1×1 convs and linear layers are left alone. `include`/`exclude` are fnmatch patterns on module names.
A conv of shape (Cout, Cin/groups, kh, kw) gives Cout·Cin/groups kernels of kh·kw values each.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from linrep_edge.errors import LinRepError


@dataclass(frozen=True)
class ConvSite:
    """One compressible conv: its module path, the module and its kernel shape (kh, kw)."""

    name: str
    conv: nn.Conv2d

    @property
    def kernel_shape(self) -> tuple[int, int]:
        kh, kw = self.conv.kernel_size
        return int(kh), int(kw)

    @property
    def num_kernels(self) -> int:
        w = self.conv.weight
        return int(w.shape[0] * w.shape[1])

    def kernels(self) -> torch.Tensor:
        """(Cout·Cin/groups, kh·kw) float64 copy of the kernels, row-major over (Cout, Cin/groups)."""
        w = self.conv.weight.detach().to(torch.float64)
        return w.reshape(w.shape[0] * w.shape[1], -1).clone()


def _matches(name: str, patterns: Sequence[str] | None) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns or ())


def collect_convs(model: nn.Module, include: Sequence[str] | None = None,
                  exclude: Sequence[str] | None = None, allow_empty: bool = False) -> list[ConvSite]:
    """All compressible convs of `model` in module order, filtered by name patterns.

    Raises LinRepError naming the layer if a selected conv holds NaN or Inf, uses a padding mode other
    than zeros, and if nothing is left to compress.
    """
    sites = []
    for name, mod in model.named_modules():
        if type(mod) is not nn.Conv2d:
            continue
        kh, kw = mod.kernel_size
        if kh * kw <= 1:
            continue
        if include is not None and not _matches(name, include):
            continue
        if _matches(name, exclude):
            continue
        if not torch.isfinite(mod.weight).all():
            raise LinRepError(f"layer {name!r}: weight holds NaN or Inf values")
        if mod.padding_mode != "zeros":
            raise LinRepError(f"layer {name!r}: padding_mode {mod.padding_mode!r} is not supported (only 'zeros')")
        sites.append(ConvSite(name, mod))
    if not sites and not allow_empty:
        raise LinRepError("model has no compressible conv (a Conv2d with kernel area > 1) after include/exclude")
    return sites
