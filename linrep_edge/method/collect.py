"""Kernel collection: find the k×k convolutions of a model and flatten their spatial kernels.

Every `nn.Conv2d` whose kernel area is > 1 is a candidate (standard, grouped, depthwise; square or not), and
so is every `nn.ConvTranspose2d` (its weight is [Cin, Cout/groups, kh, kw]: Cin·Cout/groups kernels);
1×1 convs and linear layers are left alone. `include`/`exclude` are fnmatch patterns on module names.
A 1-D conv (audio) is a 2-D one with H = 1: `convs_1d_as_2d` swaps each `nn.Conv1d` of a model for a
`Conv1dAs2d` holding the equivalent `nn.Conv2d` (kernel 1×k), whose kernels are then candidates too.
A conv of shape (Cout, Cin/groups, kh, kw) gives Cout·Cin/groups kernels of kh·kw values each, row-major over
the weight's first two dimensions (for a transposed conv, (Cin, Cout/groups)).
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
    conv: nn.Conv2d | nn.ConvTranspose2d

    @property
    def transposed(self) -> bool:
        return isinstance(self.conv, nn.ConvTranspose2d)

    @property
    def kernel_shape(self) -> tuple[int, int]:
        kh, kw = self.conv.kernel_size
        return int(kh), int(kw)

    @property
    def num_kernels(self) -> int:
        w = self.conv.weight
        return int(w.shape[0] * w.shape[1])

    def kernels(self) -> torch.Tensor:
        """(N, kh·kw) float64 copy of the kernels, row-major over the weight's first two dimensions."""
        w = self.conv.weight.detach().to(torch.float64)
        return w.reshape(w.shape[0] * w.shape[1], -1).clone()


class Conv1dAs2d(nn.Module):
    """An `nn.Conv1d` computed as the `nn.Conv2d` `conv` with H = 1: [N, C, L] → [N, C', L']."""

    def __init__(self, c1: nn.Conv1d) -> None:
        super().__init__()
        pad = c1.padding if isinstance(c1.padding, str) else (0, int(c1.padding[0]))
        self.conv = nn.Conv2d(c1.in_channels, c1.out_channels, (1, c1.kernel_size[0]), (1, c1.stride[0]), pad,
                              (1, c1.dilation[0]), c1.groups, bias=c1.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(c1.weight[:, :, None, :])
            if c1.bias is not None:
                self.conv.bias.copy_(c1.bias)  # type: ignore[union-attr]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.unsqueeze(2)).squeeze(2)


def convs_1d_as_2d(model: nn.Module) -> None:
    """Swap, in place, every zero-padded `nn.Conv1d` of `model` with kernel > 1 for its `Conv1dAs2d`."""
    for name, mod in list(model.named_modules()):
        if type(mod) is nn.Conv1d and mod.kernel_size[0] > 1 and mod.padding_mode == "zeros":
            parent, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, leaf, Conv1dAs2d(mod))


def _matches(name: str, patterns: Sequence[str] | None) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns or ())


def collect_convs(model: nn.Module, include: Sequence[str] | None = None,
                  exclude: Sequence[str] | None = None, allow_empty: bool = False) -> list[ConvSite]:
    """All compressible convs of `model` in module order, filtered by name patterns.

    Raises LinRepError naming the layer if a selected conv holds NaN or Inf, uses circular padding, and if
    nothing is left to compress.
    """
    sites = []
    for name, mod in model.named_modules():
        if type(mod) not in (nn.Conv2d, nn.ConvTranspose2d):
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
        if mod.padding_mode not in ("zeros", "reflect", "replicate"):
            raise LinRepError(f"layer {name!r}: padding_mode {mod.padding_mode!r} is not supported (zeros, reflect or "
                              "replicate)")
        sites.append(ConvSite(name, mod))
    if not sites and not allow_empty:
        raise LinRepError("model has no compressible conv (a Conv2d with kernel area > 1) after include/exclude")
    return sites


def conv_subclasses(model: nn.Module) -> list[str]:
    """Names of the k×k convs `collect_convs` passes over because they are subclasses of `nn.Conv2d` (a subclass
    may compute more than a conv in its own forward, e.g. efficientnet-pytorch's `Conv2dStaticSamePadding`
    pads first), for the note that says why they stay dense."""
    return [name for name, mod in model.named_modules()
            if isinstance(mod, nn.Conv2d) and type(mod) is not nn.Conv2d and mod.kernel_size[0] * mod.kernel_size[1] > 1]
