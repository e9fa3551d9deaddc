"""`linrep-edge bench runtime`: host latency of the C runtime, LinRep blob vs dense fp32 vs torch.

One inference at a time, one thread, median over repeated runs on the same real images, all in one
process run so the ratios are fair on a noisy machine: the C runtime on the LinRep blob (its
automatic conv path: direct or template reuse per layer; `bench speed` compares the paths), the C runtime on the same network with dense fp32 weights, and torch (1 thread) on
the model rebuilt from the blob.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch

from linrep_edge.graph.densify import densify
from linrep_edge.graph.executor import GraphModel
from linrep_edge.format.writer import pack_graph
from linrep_edge.format.reader import parse
from linrep_edge.runtime.binding import CRuntime


def _median_ms(fn, x: np.ndarray, rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for r in range(rounds):
        for i in range(len(x)):
            t0 = time.perf_counter()
            fn(x[i:i + 1])
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def run(blob: bytes, x: np.ndarray, rounds: int = 5) -> dict[str, Any]:
    g = parse(blob).graph
    c_lr = CRuntime(blob)
    c_dense = CRuntime(pack_graph(densify(g)))
    ref = GraphModel(g).eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            torch_fn = lambda b: ref(torch.from_numpy(b))  # noqa: E731
            for fn in (c_lr.run, c_dense.run, torch_fn):  # warm up
                fn(x[:2])
            # interleave the three so drifts in machine load hit all of them alike
            res: dict[str, list[float]] = {"linrep": [], "dense": [], "torch": []}
            for _ in range(rounds):
                res["linrep"].append(_median_ms(c_lr.run, x, 1))
                res["dense"].append(_median_ms(c_dense.run, x, 1))
                res["torch"].append(_median_ms(torch_fn, x, 1))
    finally:
        torch.set_num_threads(threads)
    med = {k: statistics.median(v) for k, v in res.items()}
    return {"images": len(x), "rounds": rounds, "c_linrep_ms": med["linrep"], "c_dense_ms": med["dense"],
            "torch_ms": med["torch"], "linrep_vs_dense": med["linrep"] / med["dense"],
            "linrep_vs_torch": med["linrep"] / med["torch"],
            "spread_linrep_vs_dense": [min(a / b for a, b in zip(res["linrep"], res["dense"])),
                                       max(a / b for a, b in zip(res["linrep"], res["dense"]))]}


def format_result(r: dict[str, Any]) -> str:
    lo, hi = r["spread_linrep_vs_dense"]
    return "\n".join([
        f"median latency per inference, {r['images']} images x {r['rounds']} rounds, 1 thread:",
        f"  C runtime, LinRep blob (automatic conv path): {r['c_linrep_ms']:.3f} ms",
        f"  C runtime, dense fp32 weights:                {r['c_dense_ms']:.3f} ms",
        f"  torch (rebuilt from the blob):                {r['torch_ms']:.3f} ms",
        f"  LinRep / dense = {r['linrep_vs_dense']:.3f} (per-round range {lo:.3f}..{hi:.3f}); "
        f"LinRep / torch = {r['linrep_vs_torch']:.2f}",
    ])
