"""`linrep-edge bench cluster`: wall time of clustering N k×k kernels into K templates.

The kernels are the default model's real 3×3 kernels, resampled with replacement and perturbed with
5% noise to reach N, so the distribution is a trained network's, not white noise.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from linrep_edge.method.cluster import cluster_kernels
from linrep_edge.method.collect import collect_convs
from linrep_edge.models.resnet8 import load_default_model


def real_like_kernels(n: int, seed: int = 0) -> torch.Tensor:
    base = torch.cat([s.kernels() for s in collect_convs(load_default_model()) if s.kernel_shape == (3, 3)])
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, base.shape[0], (n,), generator=gen)
    w = base[pick]
    return w + 0.05 * w.std() * torch.randn(w.shape, generator=gen, dtype=w.dtype)


def run(kernels: int, templates: int, distances: list[str], seed: int = 0, show_progress: bool = True) -> list[dict[str, Any]]:
    w = real_like_kernels(kernels, seed)
    rows = []
    for d in distances:
        info: dict[str, Any] = {}
        t0 = time.perf_counter()
        cluster_kernels(w, templates, d, seed, show_progress=show_progress, info=info)
        rows.append({"kernels": kernels, "templates": templates, "distance": d,
                     "seconds": round(time.perf_counter() - t0, 2), "iterations": info["iterations"],
                     "threads": torch.get_num_threads()})
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    out = [f"{'kernels':>9} {'K':>5} {'distance':<9} {'seconds':>8} {'iterations':>10} {'threads':>7}"]
    for r in rows:
        out.append(f"{r['kernels']:>9} {r['templates']:>5} {r['distance']:<9} {r['seconds']:>8.2f} "
                   f"{r['iterations']:>10} {r['threads']:>7}")
    return "\n".join(out)
