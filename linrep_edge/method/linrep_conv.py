"""`LinRepConv2d`: a convolution whose kernels are a·T[idx] + b with T and idx frozen
(`LinRepConvTranspose2d`: the same for a transposed convolution).

The weight of output channel o, input channel i is `a[o, i] * templates[idx[o, i]] + b[o, i]` (b added to
every tap). Templates and indices are buffers; a and b are the only trainable tensors (plus the conv's
bias if it had one, frozen unless the caller unfreezes it). With `ab_bits` set (2..8), the forward pass
uses a and b quantized to that many bits (quantize.py; scale per output channel, or per layer) with a
straight-through gradient: fine-tuning sees exactly the integers the blob will hold. A kernel mask
(`prune`) zeroes pruned kernels' a and b (and their gradients): the mask is fixed while a and b train.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from linrep_edge.method.quantize import check_bits, fake_quantize, quantize


class LinRepConv2d(nn.Module):
    def __init__(self, conv: nn.Conv2d, templates: torch.Tensor, idx: torch.Tensor, a: torch.Tensor,
                 b: torch.Tensor, codebook: int, codebook_dtype: str = "fp16") -> None:
        super().__init__()
        self.in_channels = conv.in_channels
        self.out_channels = conv.out_channels
        self.kernel_size = tuple(conv.kernel_size)
        self.stride = tuple(conv.stride)
        self.padding = conv.padding if isinstance(conv.padding, str) else tuple(conv.padding)
        # "reflect" / "replicate": the input padded first, as nn.Conv2d does (the blob: a PAD op before the conv)
        self.padding_mode = getattr(conv, "padding_mode", "zeros")
        self._border = tuple(getattr(conv, "_reversed_padding_repeated_twice", ()))
        self.dilation = tuple(conv.dilation)
        self.groups = conv.groups
        self.codebook = codebook
        self.codebook_dtype = codebook_dtype  # storage precision of the templates in the blob
        self.register_buffer("templates", templates.detach().clone().float())
        self.register_buffer("idx", idx.detach().clone().long())
        self.a = nn.Parameter(a.detach().clone().float())
        self.b = nn.Parameter(b.detach().clone().float())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone(), requires_grad=False)
        self.ab_bits = 0  # 0: fp16 storage; 2..8: integer a/b (set_ab_bits)
        self.ab_per_channel = True
        self.register_buffer("mask", torch.ones_like(self.idx, dtype=torch.bool))  # False: pruned kernel

    def masked_ab(self) -> tuple[torch.Tensor, torch.Tensor]:
        """a and b with pruned kernels' values at zero."""
        if bool(self.mask.all()):
            return self.a, self.b
        m = self.mask.to(self.a.dtype)
        return self.a * m, self.b * m

    def set_ab_bits(self, bits: int, per_channel: bool = True) -> None:
        """Store a and b as `bits`-bit integers (0: fp16) with a scale per output channel or per layer."""
        if bits:
            check_bits(bits)
        self.ab_bits, self.ab_per_channel = bits, per_channel

    def effective_ab(self) -> tuple[torch.Tensor, torch.Tensor]:
        """a and b as the forward pass uses them (quantized with a straight-through gradient)."""
        a, b = self.masked_ab()
        if not self.ab_bits:
            return a, b
        return fake_quantize(a, self.ab_bits, self.ab_per_channel), fake_quantize(b, self.ab_bits, self.ab_per_channel)

    def quantized_ab(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(a_q, a_scale, b_q, b_scale) of an integer layer: what the packer stores."""
        a, b = self.masked_ab()
        a_q, a_s = quantize(a, self.ab_bits, self.ab_per_channel)
        b_q, b_s = quantize(b, self.ab_bits, self.ab_per_channel)
        return a_q, a_s, b_q, b_s

    def kernel_norms(self) -> torch.Tensor:
        """(Cout, Cin/groups) L2 norm of every kernel a·T[idx] + b: its contribution, for pruning."""
        with torch.no_grad():
            a, b = self.masked_ab()
            w = a[..., None, None] * self.templates[self.idx] + b[..., None, None]
            return w.flatten(2).norm(dim=2)

    def weight(self) -> torch.Tensor:
        """The dense (Cout, Cin/groups, kh, kw) weight this layer represents."""
        t = self.templates[self.idx]  # (Cout, Cin/g, kh, kw)
        a, b = self.effective_ab()
        return a[..., None, None] * t + b[..., None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding_mode != "zeros":
            return F.conv2d(F.pad(x, self._border, mode=self.padding_mode), self.weight(), self.bias, self.stride, 0,
                            self.dilation, self.groups)
        return F.conv2d(x, self.weight(), self.bias, self.stride, self.padding, self.dilation, self.groups)

    def to_conv2d(self) -> nn.Conv2d:
        """A plain nn.Conv2d holding the reconstructed weight (for export and comparison)."""
        conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding,  # type: ignore[arg-type]
                         self.dilation, self.groups, bias=self.bias is not None, padding_mode=self.padding_mode)
        with torch.no_grad():
            conv.weight.copy_(self.weight())
            if self.bias is not None:
                conv.bias.copy_(self.bias)  # type: ignore[union-attr]
        return conv

    def extra_repr(self) -> str:
        bits = f", ab_bits={self.ab_bits}" if self.ab_bits else ""
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"templates={self.templates.shape[0]}, codebook={self.codebook}{bits}")


class LinRepConvTranspose2d(LinRepConv2d):
    """A transposed convolution whose kernels are a·T[idx] + b. Its weight is laid out as torch's
    ConvTranspose2d weight, [Cin, Cout/groups, kh, kw]: idx, a, b (and the mask) are [Cin, Cout/groups],
    kernel n row-major over (Cin, Cout/groups), and integer a/b have one scale per input channel (a row of
    that grid). Everything else (fine-tuning, pruning, fake quantisation) is LinRepConv2d's."""

    def __init__(self, conv: nn.ConvTranspose2d, templates: torch.Tensor, idx: torch.Tensor, a: torch.Tensor,
                 b: torch.Tensor, codebook: int, codebook_dtype: str = "fp16") -> None:
        super().__init__(conv, templates, idx, a, b, codebook, codebook_dtype)  # type: ignore[arg-type]
        self.output_padding = tuple(conv.output_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, self.weight(), self.bias, self.stride, self.padding,  # type: ignore[arg-type]
                                  self.output_padding, self.groups, self.dilation)

    def to_conv2d(self) -> nn.ConvTranspose2d:  # type: ignore[override]
        """A plain nn.ConvTranspose2d holding the reconstructed weight (the name is the base class's: what
        `materialize` calls)."""
        conv = nn.ConvTranspose2d(self.in_channels, self.out_channels, self.kernel_size, self.stride,  # type: ignore[arg-type]
                                  self.padding, self.output_padding, self.groups, self.bias is not None,  # type: ignore[arg-type]
                                  self.dilation)  # type: ignore[arg-type]
        with torch.no_grad():
            conv.weight.copy_(self.weight())
            if self.bias is not None:
                conv.bias.copy_(self.bias)  # type: ignore[union-attr]
        return conv


@torch.no_grad()
def round_to_storage(model: nn.Module) -> None:
    """Round a and b of every fp16 LinRep layer to fp16-representable values: what the blob stores."""
    for m in model.modules():
        if isinstance(m, LinRepConv2d) and not m.ab_bits:
            m.a.copy_(m.a.half().float())
            m.b.copy_(m.b.half().float())


@torch.no_grad()
def prune(model: nn.Module, sparsity: float = 0.0, threshold: float = 0.0) -> dict[str, float]:
    """Mark kernels whose contribution ‖a·T[idx] + b‖₂ is negligible as pruned, in every LinRep layer:
    those below `threshold`, and/or the `sparsity` fraction with the smallest norms of each layer.
    Returns the sparsity reached per layer. The masks stay fixed afterwards (fine-tuning keeps them)."""
    if not 0.0 <= sparsity < 1.0:
        from linrep_edge.errors import LinRepError

        raise LinRepError(f"--prune-sparsity must be in [0, 1), got {sparsity}")
    out: dict[str, float] = {}
    for name, m in model.named_modules():
        if not isinstance(m, LinRepConv2d):
            continue
        norms = m.kernel_norms()
        keep = m.mask.clone()
        if threshold > 0:
            keep &= norms >= threshold
        n_prune = int(sparsity * norms.numel())
        if n_prune:
            order = torch.argsort(norms.flatten(), stable=True)
            flat = keep.flatten()
            flat[order[:n_prune]] = False
            keep = flat.reshape(keep.shape)
        m.mask.copy_(keep)
        out[name] = 1.0 - float(keep.float().mean())
    return out


@contextmanager
def trainable_templates(model: nn.Module) -> Iterator[list[nn.Parameter]]:
    """Within the block, each codebook's templates are one nn.Parameter shared by every LinRep layer that uses
    it (a global codebook's gradient sums over its layers); yields those parameters. On the way out the trained
    templates go back into each layer as buffers in canonical form (zero mean, unit norm, rounded to the
    codebook's storage dtype) with a and b refolded so that every kernel a·T[idx] + b is unchanged up to that
    rounding: T = s·T' + μ per template gives a' = a·s, b' = a·μ + b. Templates cost no more bytes trained
    than fixed; the indices stay."""
    layers = [m for m in model.modules() if isinstance(m, LinRepConv2d)]
    shared: dict[int, nn.Parameter] = {}
    for m in layers:
        if m.codebook not in shared:
            shared[m.codebook] = nn.Parameter(m.templates.detach().clone())
        del m._buffers["templates"]
        m.templates = shared[m.codebook]  # type: ignore[assignment]  # registered as a parameter of m
    try:
        yield list(shared.values())
    finally:
        from linrep_edge.method.data_aware import _EPS, canonical  # (data_aware imports this module)

        with torch.no_grad():
            folds: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
            for cb, t in shared.items():  # once per codebook: T' canonical, and each template's s and μ
                flat = t.detach().flatten(1).double()
                mu, s = flat.mean(1), (flat - flat.mean(1, keepdim=True)).norm(dim=1)
                ok = s > _EPS  # a zero-variance template stays as it is (canonical): s = 1, μ = 0
                folds[cb] = (canonical(flat, next(m.codebook_dtype for m in layers if m.codebook == cb)).float()
                             .reshape(t.shape), torch.where(ok, s, torch.ones_like(s)),
                             torch.where(ok, mu, torch.zeros_like(mu)))
            for m in layers:
                t_new, s, mu = folds[m.codebook]
                del m._parameters["templates"]
                a = m.a.detach().double()
                m.a.copy_((a * s[m.idx]).float())
                m.b.copy_((a * mu[m.idx] + m.b.detach().double()).float())
                m.register_buffer("templates", t_new.clone())


def materialize(model: nn.Module) -> nn.Module:
    """A copy of `model` with every LinRepConv2d replaced by an equivalent plain nn.Conv2d."""
    import copy

    out = copy.deepcopy(model)
    for name, mod in list(out.named_modules()):
        if isinstance(mod, LinRepConv2d):
            _set_submodule(out, name, mod.to_conv2d())
    return out


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)
