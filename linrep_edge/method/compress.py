"""The entry point: `compress(model, templates=K, ...)` → (compressed model, Representation).

Steps (DESIGN.md section 1): collect the k×k kernels of the selected convs; cluster them into codebooks
of K templates (one per kernel shape for scope="global", one per layer for scope="layer"); store the
templates zero-mean, unit-norm and rounded to the codebook's storage precision; fit every kernel as
a·T[idx] + b; swap each conv for a `LinRepConv2d` (a transposed one for a `LinRepConvTranspose2d`). a and b are rounded to fp16, what the blob stores.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from linrep_edge.format.bitpack import index_bits
from linrep_edge.format.ir import Codebook
from linrep_edge.method.cluster import DISTANCES, cluster_kernels, normalize_kernels
from linrep_edge.errors import LinRepError
from linrep_edge.method.fit import fit_kernels
from linrep_edge.method.collect import collect_convs, convs_1d_as_2d
from linrep_edge.method.linrep_conv import LinRepConv2d, LinRepConvTranspose2d, _set_submodule, round_to_storage

SCOPES = ("global", "layer")
CODEBOOK_DTYPES = {"fp16": torch.float16, "fp32": torch.float32}


@dataclass
class LayerRep:
    """One LinRep layer: which codebook, and idx, a, b of shape (Cout, Cin/groups)."""

    name: str
    codebook: int
    idx: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor


@dataclass
class Representation:
    codebooks: list[Codebook]
    layers: list[LayerRep]
    distance: str
    scope: str
    seed: int
    codebook_dtype: str = "fp16"

    def index_bits(self, codebook: int) -> int:
        return index_bits(self.codebooks[codebook].size)

    def packed_bits(self, ab_bits: int = 16) -> int:
        """Bits of the LinRep conv layers: indices + a + b + each codebook once."""
        cb_bits = 16 if self.codebook_dtype == "fp16" else 32
        total = sum(cb.templates.size * cb_bits for cb in self.codebooks)
        for lr in self.layers:
            total += lr.idx.numel() * (self.index_bits(lr.codebook) + 2 * ab_bits)
        return total

    def fp32_bits(self) -> int:
        return sum(32 * lr.idx.numel() * self.codebooks[lr.codebook].templates[0].size for lr in self.layers)

    def conv_compression_vs_fp32(self, ab_bits: int = 16) -> float:
        return self.fp32_bits() / self.packed_bits(ab_bits)


def compress(model: nn.Module, templates: int = 16, distance: str = "signfree", scope: str = "global",
             seed: int = 0, include: Sequence[str] | None = None, exclude: Sequence[str] | None = None,
             codebook_dtype: str = "fp16", cap_templates: bool = False, max_iter: int = 50,
             show_progress: bool = True, templates_ratio: float | None = None) -> tuple[nn.Module, Representation]:
    """Return a compressed copy of `model` (the input is untouched) and its representation.

    templates: K, the codebook size. distance: "signfree" (1 − ρ², energy-weighted) or "signed" (1 − ρ).
    scope: "global" (one codebook per kernel shape) or "layer" (one per layer; each uses min(K, the
    layer's kernels of non-zero variance) templates). cap_templates: the same cap for global codebooks
    instead of raising. A model with no compressible conv comes back as a plain copy with an empty
    representation (everything is then stored plainly by the packer). templates_ratio
    (scope="layer" only): K of each layer = max(2, round(ratio * Cout)) instead of `templates`, capped
    like cap_templates (fewer templates per input channel make the runtime's template-reuse path faster).
    """
    if distance not in DISTANCES:
        raise LinRepError(f"unknown distance {distance!r}; choose one of {', '.join(DISTANCES)}")
    if scope not in SCOPES:
        raise LinRepError(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
    if codebook_dtype not in CODEBOOK_DTYPES:
        raise LinRepError(f"unknown codebook dtype {codebook_dtype!r}; choose fp16 or fp32")
    if not 1 <= templates <= 65536:
        raise LinRepError(f"templates must be between 1 and 65536 (indices are at most 16 bits), got {templates}")
    if templates_ratio is not None:
        if scope != "layer":
            raise LinRepError("--templates-ratio needs --scope layer (one codebook per layer)")
        if not 0 < templates_ratio <= 64:
            raise LinRepError(f"--templates-ratio must be in (0, 64], got {templates_ratio}")
    out = copy.deepcopy(model).eval()
    convs_1d_as_2d(out)
    sites = collect_convs(out, include, exclude, allow_empty=True)

    groups: dict[object, list] = {}
    for s in sites:
        key = s.kernel_shape if scope == "global" else s.name
        groups.setdefault(key, []).append(s)

    codebooks: list[Codebook] = []
    layers: list[LayerRep] = []
    for members in groups.values():
        kh, kw = members[0].kernel_shape
        w = torch.cat([s.kernels() for s in members])
        where = (f"layer {members[0].name!r}" if scope == "layer"
                 else f"codebook for {kh}x{kw} kernels ({', '.join(repr(s.name) for s in members)})")
        k = templates
        if templates_ratio is not None:
            k = min(65536, max(2, round(templates_ratio * int(members[0].conv.out_channels))))
        if cap_templates or templates_ratio is not None or scope == "layer":
            k = max(1, min(k, int(normalize_kernels(w).active.sum())))  # the kernels clustering can use
        t = cluster_kernels(w, k, distance, seed, max_iter=max_iter, where=where, show_progress=show_progress)
        t = t.to(CODEBOOK_DTYPES[codebook_dtype]).to(torch.float64)  # what the blob will hold
        cb_id = len(codebooks)
        stored = t.reshape(k, kh, kw).float()
        codebooks.append(Codebook(stored.numpy(), codebook_dtype, [s.name for s in members]))
        start = 0
        for s in members:
            n = s.num_kernels
            f = fit_kernels(w[start:start + n], t, distance)
            start += n
            shape = s.conv.weight.shape[:2]
            rep = LayerRep(s.name, cb_id, f.idx.reshape(shape), f.a.float().reshape(shape), f.b.float().reshape(shape))
            layers.append(rep)
            cls = LinRepConvTranspose2d if s.transposed else LinRepConv2d
            _set_submodule(out, s.name, cls(s.conv, stored, rep.idx, rep.a, rep.b, cb_id, codebook_dtype))  # type: ignore[arg-type]
    round_to_storage(out)
    rep = Representation(codebooks, layers, distance, scope, seed, codebook_dtype)
    return out, refresh_representation(out, rep)


def refresh_representation(model: nn.Module, rep: Representation) -> Representation:
    """Re-read a and b (e.g. after fine-tuning) from the model's LinRep layers into `rep`."""
    mods = {n: m for n, m in model.named_modules() if isinstance(m, LinRepConv2d)}
    for lr in rep.layers:
        m = mods[lr.name]
        lr.a = m.a.detach().clone()
        lr.b = m.b.detach().clone()
        lr.idx = m.idx.detach().clone()
    return rep


def representation_of(model: nn.Module) -> Representation:
    """Rebuild a Representation from a compressed model's LinRep layers (codebooks matched by id)."""
    mods = [(n, m) for n, m in model.named_modules() if isinstance(m, LinRepConv2d)]
    if not mods:
        raise LinRepError("model has no LinRep layers")
    cbs: dict[int, Codebook] = {}
    layers = []
    for n, m in mods:
        cbs.setdefault(m.codebook, Codebook(m.templates.detach().numpy().copy(), m.codebook_dtype, []))
        cbs[m.codebook].layers.append(n)
        layers.append(LayerRep(n, m.codebook, m.idx.detach().clone(), m.a.detach().clone(), m.b.detach().clone()))
    order = sorted(cbs)
    remap = {old: i for i, old in enumerate(order)}
    for lr in layers:
        lr.codebook = remap[lr.codebook]
    return Representation([cbs[i] for i in order], layers, "unknown", "unknown", -1)
