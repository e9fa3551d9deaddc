"""Linear fit of kernels to templates: w ≈ a·T[idx] + b.

For a template t (any t, not only normalised ones) the least-squares fit is
a = ⟨w − w̄, t − t̄⟩ / ‖t − t̄‖², b = w̄ − a·t̄, with residual ‖w − w̄‖²·(1 − ρ²), ρ = PCC(w, t).
With zero-mean unit-norm templates this is a = ⟨w, t⟩, b = mean(w). `signfree` picks the template of
largest ρ² (smallest residual); `signed` the largest ρ (the paper). A zero-variance kernel is exactly
b·1: a = 0, idx = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from linrep_edge.method.cluster import _CHUNK, normalize_kernels


@dataclass(frozen=True)
class Fit:
    idx: torch.Tensor  # (N,) int64
    a: torch.Tensor  # (N,) float64
    b: torch.Tensor  # (N,) float64
    residual: torch.Tensor  # (N,) float64, ‖w − (a·t + b)‖²


def fit_kernels(w: torch.Tensor, templates: torch.Tensor, distance: str = "signfree") -> Fit:
    """Nearest template and least-squares (a, b) for every row of `w` (N, D) given `templates` (K, D)."""
    w = w.to(torch.float64)
    t = templates.to(torch.float64)
    norm = normalize_kernels(w)
    tc = t - t.mean(1, keepdim=True)
    tn2 = (tc * tc).sum(1).clamp_min(1e-300)
    c = w - norm.mean[:, None]
    n = w.shape[0]
    idx = torch.zeros(n, dtype=torch.long)
    for s in range(0, n, _CHUNK):
        dots = c[s:s + _CHUNK] @ tc.T  # ⟨c, t − t̄⟩
        score = dots * dots / tn2 if distance == "signfree" else dots / tn2.sqrt()
        idx[s:s + _CHUNK] = score.argmax(1)
    chosen = tc[idx]
    a = (c * chosen).sum(1) / tn2[idx]
    a = torch.where(norm.active, a, torch.zeros_like(a))
    idx = torch.where(norm.active, idx, torch.zeros_like(idx))
    b = norm.mean - a * t.mean(1)[idx]
    recon = a[:, None] * t[idx] + b[:, None]
    residual = ((w - recon) ** 2).sum(1)
    return Fit(idx, a, b, residual)
