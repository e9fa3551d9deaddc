"""Clustering and fit against planted structure and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from linrep_edge.method.cluster import canonical_templates, cluster_kernels, normalize_kernels
from linrep_edge.errors import LinRepError
from linrep_edge.method.fit import fit_kernels


def planted(n: int, k: int, d: int = 9, noise: float = 0.01, seed: int = 1):
    """Kernels a·T[label] + b + noise with random signs of a, |a| in [0.5, 2]."""
    g = torch.Generator().manual_seed(seed)
    t = canonical_templates(torch.randn(k, d, generator=g, dtype=torch.float64))
    lab = torch.randint(0, k, (n,), generator=g)
    sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
    a = (0.5 + 1.5 * torch.rand(n, generator=g, dtype=torch.float64)) * sign
    b = torch.randn(n, generator=g, dtype=torch.float64)
    w = a[:, None] * t[lab] + b[:, None] + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    return w, lab, t


def purity(idx: torch.Tensor, lab: torch.Tensor, k_true: int) -> float:
    """Fraction of kernels whose cluster's majority planted template is their own."""
    ok = 0
    for c in idx.unique():
        ok += int(torch.bincount(lab[idx == c], minlength=k_true).max())
    return ok / len(lab)


def test_signfree_recovers_planted_assignment():
    w, lab, _ = planted(4000, 8)
    t = cluster_kernels(w, 8, "signfree", seed=0, show_progress=False)
    assert purity(fit_kernels(w, t, "signfree").idx, lab, 8) >= 0.99


def test_signed_needs_about_twice_the_templates():
    w, lab, _ = planted(4000, 8)
    t8 = cluster_kernels(w, 8, "signed", seed=0, show_progress=False)
    t16 = cluster_kernels(w, 16, "signed", seed=0, show_progress=False)
    assert purity(fit_kernels(w, t8, "signed").idx, lab, 8) < 0.8  # mirrored pairs waste templates
    assert purity(fit_kernels(w, t16, "signed").idx, lab, 8) >= 0.99


def test_templates_are_zero_mean_unit_norm():
    w, _, _ = planted(500, 4)
    for dist in ("signfree", "signed"):
        t = cluster_kernels(w, 6, dist, seed=3, show_progress=False)
        assert torch.allclose(t.mean(1), torch.zeros(6, dtype=t.dtype), atol=1e-12)
        assert torch.allclose(t.norm(dim=1), torch.ones(6, dtype=t.dtype), atol=1e-12)


def test_fit_equals_numpy_least_squares_and_residual_formula():
    rng = np.random.default_rng(0)
    w = torch.from_numpy(rng.normal(size=(200, 9)))
    t = canonical_templates(torch.from_numpy(rng.normal(size=(5, 9))))
    f = fit_kernels(w, t, "signfree")
    for i in range(200):
        A = np.stack([t[f.idx[i]].numpy(), np.ones(9)], 1)
        (a, b), *_ = np.linalg.lstsq(A, w[i].numpy(), rcond=None)
        assert f.a[i].item() == pytest.approx(a, abs=1e-10)
        assert f.b[i].item() == pytest.approx(b, abs=1e-10)
        c = w[i] - w[i].mean()
        rho = float(np.corrcoef(w[i].numpy(), t[f.idx[i]].numpy())[0, 1])
        assert f.residual[i].item() == pytest.approx(float((c * c).sum()) * (1 - rho ** 2), rel=1e-9, abs=1e-12)
        # sign-free picks the template of largest rho^2
        rhos = [np.corrcoef(w[i].numpy(), tt.numpy())[0, 1] for tt in t]
        assert int(f.idx[i]) == int(np.argmax(np.square(rhos)))


def test_fit_with_unnormalised_templates_is_still_least_squares():
    rng = np.random.default_rng(1)
    w = torch.from_numpy(rng.normal(size=(50, 9)))
    t = torch.from_numpy(rng.normal(size=(3, 9)) * 3 + 1)  # not zero-mean, not unit-norm
    f = fit_kernels(w, t, "signfree")
    for i in range(50):
        A = np.stack([t[f.idx[i]].numpy(), np.ones(9)], 1)
        (a, b), *_ = np.linalg.lstsq(A, w[i].numpy(), rcond=None)
        assert f.a[i].item() == pytest.approx(a, abs=1e-9)
        assert f.b[i].item() == pytest.approx(b, abs=1e-9)


def test_zero_variance_kernels_are_exact_constants():
    w = torch.tensor([[0.3] * 9, [-1.0] * 9, list(range(9))], dtype=torch.float64)
    t = canonical_templates(torch.randn(2, 9, dtype=torch.float64))
    f = fit_kernels(w, t)
    assert f.a[0] == 0 and f.a[1] == 0 and f.idx[0] == 0
    assert f.b[0].item() == pytest.approx(0.3) and f.b[1].item() == pytest.approx(-1.0)
    assert f.residual[:2].abs().max() < 1e-20
    n = normalize_kernels(w)
    assert n.active.tolist() == [False, False, True]


def test_same_seed_same_codebook_different_seed_differs():
    w, _, _ = planted(3000, 12, noise=0.3)
    a = cluster_kernels(w, 10, "signfree", seed=5, show_progress=False)
    b = cluster_kernels(w, 10, "signfree", seed=5, show_progress=False)
    c = cluster_kernels(w, 10, "signfree", seed=6, show_progress=False)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_more_templates_than_kernels_is_an_error():
    w, _, _ = planted(5, 2)
    with pytest.raises(LinRepError, match="only 5 kernels"):
        cluster_kernels(w, 8, where="layer 'x'", show_progress=False)


def test_empty_clusters_are_reseeded():
    # 3 distinct directions, many duplicates: asking for 3 must give 3 distinct templates
    base = canonical_templates(torch.randn(3, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    w = base.repeat(50, 1)
    t = cluster_kernels(w, 3, "signfree", seed=0, show_progress=False)
    sims = (t @ base.T).abs().max(1).values
    assert torch.allclose(sims, torch.ones(3, dtype=sims.dtype), atol=1e-9)
