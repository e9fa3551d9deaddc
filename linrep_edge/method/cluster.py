"""Template codebooks by k-means with Pearson correlation as the distance.

Every kernel w (flattened to D = kh·kw values) is centred, c = w − mean(w), with energy e = ‖c‖² and
direction u = c / ‖c‖; templates t are zero-mean and unit-norm, so ρ(w, t) = ⟨u, t⟩.

Two objectives:

* ``signfree`` (default): minimise Σ e·(1 − ρ²), which is exactly the summed residual of the
  least-squares fit w ≈ a·t + b. A kernel goes to the template of largest ρ² (a may be negative); a
  template becomes the top eigenvector of its members' scatter Σ c·cᵀ (the energy-weighted centroid).
* ``signed`` (the paper's): minimise Σ (1 − ρ) with unweighted spherical means as centroids.

Seeding is k-means++ (D²-style, on the objective's own per-kernel loss). An empty cluster is re-seeded
with the worst-fitted kernel. Kernels of zero variance (e = 0) need no template (they are b·1 exactly)
and take no part. All randomness comes from one seeded generator: same input and seed, same result.
Work is vectorised and chunked, so millions of kernels cluster in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from linrep_edge.errors import LinRepError
from linrep_edge.progress import progress

DISTANCES = ("signfree", "signed")
_CHUNK = 1 << 16
_SEED_SAMPLE = 1 << 17
_ZERO_VAR_REL = 1e-12  # centred energy below this fraction of the raw energy counts as zero variance


@dataclass(frozen=True)
class Normalized:
    """Kernels split into direction u (N, D), centred energy e (N,) and mean (N,)."""

    u: torch.Tensor
    energy: torch.Tensor
    mean: torch.Tensor

    @property
    def active(self) -> torch.Tensor:
        return self.energy > 0


def normalize_kernels(w: torch.Tensor) -> Normalized:
    """Centre each row of `w` (N, D); zero-variance rows get u = 0 and e = 0."""
    w = w.to(torch.float64)
    mean = w.mean(1)
    c = w - mean[:, None]
    e = (c * c).sum(1)
    raw = (w * w).sum(1)
    e = torch.where(e <= _ZERO_VAR_REL * raw, torch.zeros_like(e), e)
    u = torch.where(e[:, None] > 0, c / e.clamp_min(1e-300).sqrt()[:, None], torch.zeros_like(c))
    return Normalized(u, e, mean)


def canonical_templates(t: torch.Tensor, fix_sign: bool = True) -> torch.Tensor:
    """Zero-mean, unit-norm rows; with `fix_sign` (sign-free use) the largest-magnitude entry is positive."""
    t = t - t.mean(1, keepdim=True)
    t = t / t.norm(dim=1, keepdim=True).clamp_min(1e-300)
    if not fix_sign:
        return t
    lead = t.abs().argmax(1)
    sign = torch.sign(t.gather(1, lead[:, None])).squeeze(1)
    return t * torch.where(sign == 0, torch.ones_like(sign), sign)[:, None]


def _scores(u: torch.Tensor, t: torch.Tensor, distance: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Best template per kernel and its similarity (ρ² for signfree, ρ for signed), chunked.

    `u` is float32: assignment needs no more, and it halves the memory traffic of the big product.
    """
    n = u.shape[0]
    labels = torch.empty(n, dtype=torch.long)
    best = torch.empty(n, dtype=torch.float32)
    tf = t.to(torch.float32).T.contiguous()
    rho = torch.empty(min(n, _CHUNK), t.shape[0], dtype=torch.float32)  # reused: no page faults per chunk
    for s in range(0, n, _CHUNK):
        m = min(_CHUNK, n - s)
        r = rho[:m]
        torch.mm(u[s:s + m], tf, out=r)
        if distance == "signfree":
            torch.abs(r, out=r)  # argmax ρ² = argmax |ρ|
        torch.max(r, 1, out=(best[s:s + m], labels[s:s + m]))
    best = best.to(torch.float64)
    if distance == "signfree":
        best = best * best
    return labels, best


def _losses(best: torch.Tensor, energy: torch.Tensor, distance: str) -> torch.Tensor:
    if distance == "signfree":
        return energy * (1.0 - best).clamp_min(0.0)
    return (1.0 - best).clamp_min(0.0)


def _seed_kmeanspp(u: torch.Tensor, w: torch.Tensor, k: int, distance: str, gen: torch.Generator) -> torch.Tensor:
    """k-means++: each new template is drawn with probability proportional to the current loss.

    On more than _SEED_SAMPLE kernels the seeding runs on a seeded random sample of them (its K
    sequential passes dominate otherwise); Lloyd iterations then use every kernel.
    """
    if u.shape[0] > _SEED_SAMPLE:
        pick = torch.randperm(u.shape[0], generator=gen)[:_SEED_SAMPLE]
        u, w = u[pick], w[pick]
    n = u.shape[0]
    first = int(torch.multinomial(w / w.sum(), 1, generator=gen))
    chosen = [first]
    t0 = u[first]
    rho = u @ t0
    best = rho * rho if distance == "signfree" else rho
    for _ in range(1, k):
        loss = (w * (1.0 - best)).clamp_min(0.0)
        total = float(loss.sum())
        if total <= 0:  # every kernel already fits perfectly: pick any unused one
            unused = torch.ones(n, dtype=torch.bool)
            unused[chosen] = False
            nxt = int(torch.nonzero(unused)[0])
        else:
            nxt = int(torch.multinomial(loss / total, 1, generator=gen))
        chosen.append(nxt)
        rho = u @ u[nxt]
        sim = rho * rho if distance == "signfree" else rho
        best = torch.maximum(best, sim)
    return u[chosen].clone()


def _update(u: torch.Tensor, c32: torch.Tensor, labels: torch.Tensor, k: int, distance: str,
            old: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """New templates from assignments; returns (templates, counts). Empty clusters keep `old` rows.

    signfree: top eigenvector of each cluster's scatter Σ c·cᵀ of centred kernels (`c32`, float32
    products summed per chunk, accumulated in float64); signed: normalised mean direction.
    """
    d = u.shape[1]
    counts = torch.bincount(labels, minlength=k)
    if distance == "signfree":
        scatter = torch.zeros(k, d * d, dtype=torch.float64)
        for s in range(0, u.shape[0], _CHUNK):
            c = c32[s:s + _CHUNK]
            part = torch.zeros(k, d * d, dtype=torch.float32)
            part.index_add_(0, labels[s:s + _CHUNK], (c[:, :, None] * c[:, None, :]).reshape(-1, d * d))
            scatter += part.to(torch.float64)
        _, vecs = torch.linalg.eigh(scatter.reshape(k, d, d))
        new = vecs[:, :, -1]
    else:
        new = torch.zeros(k, d, dtype=torch.float64).index_add_(0, labels, u)
    degenerate = (counts == 0) | (new.norm(dim=1) < 1e-12)
    new = torch.where(degenerate[:, None], old, new)
    return canonical_templates(new, distance == "signfree"), counts


def cluster_kernels(w: torch.Tensor, k: int, distance: str = "signfree", seed: int = 0, max_iter: int = 50,
                    tol: float = 1e-4, where: str = "kernels", show_progress: bool = True,
                    info: dict | None = None) -> torch.Tensor:
    """Cluster the rows of `w` (N, D) into `k` zero-mean unit-norm templates (k, D), float64.

    Lloyd iterations stop when the objective improves by less than `tol` (relative) or after
    `max_iter`; `info`, if given, receives the iterations run and the final objective.
    Raises LinRepError (naming `where`) if k < 1 or k exceeds the number of kernels with non-zero variance.
    """
    if distance not in DISTANCES:
        raise LinRepError(f"unknown distance {distance!r}; choose one of {', '.join(DISTANCES)}")
    norm = normalize_kernels(w)
    act = norm.active
    u, e = norm.u[act], norm.energy[act]
    n = int(u.shape[0])
    if k < 1:
        raise LinRepError(f"{where}: templates must be >= 1, got {k}")
    if k > n:
        raise LinRepError(f"{where}: {k} templates requested but only {n} kernels with non-zero variance "
                          "(ask for fewer templates, or cap K at what each codebook has: --cap-templates)")
    weights = e if distance == "signfree" else torch.ones_like(e)
    u32 = u.to(torch.float32)
    c32 = (u * e.sqrt()[:, None]).to(torch.float32)
    gen = torch.Generator().manual_seed(seed)
    fix = distance == "signfree"
    t = canonical_templates(_seed_kmeanspp(u, weights, k, distance, gen), fix)
    prev = None
    with progress(total=max_iter, desc=f"cluster {n} kernels into {k}", enabled=show_progress and n * k > 5e7) as bar:
        for it in range(max_iter):
            labels, best = _scores(u32, t, distance)
            loss = _losses(best, e, distance)
            obj = float(loss.sum())
            t, counts = _update(u, c32, labels, k, distance, t)
            empty = torch.nonzero(counts == 0).flatten()
            if len(empty):  # re-seed from the worst-fitted kernels, largest loss first
                worst = torch.argsort(loss, descending=True, stable=True)[: len(empty)]
                t[empty] = canonical_templates(u[worst], fix)
            bar.update(1)
            if prev is not None and len(empty) == 0 and prev - obj <= tol * max(prev, 1e-300):
                break
            prev = obj
    if info is not None:
        info.update(iterations=it + 1, objective=obj)
    return t
