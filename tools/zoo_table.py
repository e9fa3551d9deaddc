#!/usr/bin/env python3
"""The users'-models table: every network of tests/zoo.py packed at its native input size (K = 16 per
kernel shape, capped at what a codebook has; fp16 storage elsewhere, the default) and run through the C
runtime against torch running the graph rebuilt from the blob (the reference for what it holds) on 4
random inputs.

    python tools/zoo_table.py [--json docs/bench/zoo.json] [--only NAME ...]

--only re-measures the named networks and keeps the other rows of an existing --json file.

Prints a Markdown table: ops, op types, parameters, blob bytes, conv compression vs fp32, the C runtime's
largest error relative to each output head's scale, arena bytes and host milliseconds per image. Random
weights: the figures are about the packing and the runtime, not accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from zoo import ZOO, build  # noqa: E402

from linrep_edge.format.report import storage_report  # noqa: E402
from linrep_edge.graph.executor import GraphModel  # noqa: E402
from linrep_edge.pipeline import PackSettings, pack_model  # noqa: E402
from linrep_edge.runtime.binding import CRuntime  # noqa: E402


def row(name: str) -> dict:
    model, example = build(name)
    res = pack_model(model, example, PackSettings(templates=16, cap_templates=True, activations="fp32"), name,
                     show_progress=False)
    rep = storage_report(res.blob)
    x = np.random.default_rng(0).standard_normal((4, *example.shape[1:])).astype(np.float32)
    rt = CRuntime(res.blob)
    rt.run_all(x[:1])
    t0 = time.perf_counter()
    got = rt.run_all(x)
    ms = 1000 * (time.perf_counter() - t0) / len(x)
    with torch.no_grad():
        y = GraphModel(res.graph).eval()(torch.from_numpy(x))
    want = [t.numpy() for t in (y if isinstance(y, tuple) else (y,))]
    err = max(float(np.abs(g.reshape(w.shape) - w).max() / max(np.abs(w).max(), 1e-6)) for g, w in zip(got, want))
    g = res.graph
    return {"model": name, "input": list(example.shape[1:]), "ops": len(g.ops),
            "op_types": sorted({op.type for op in g.ops}), "outputs": len(g.results),
            "params": int(sum(p.numel() for p in model.parameters())), "blob_bytes": len(res.blob),
            "conv_compression_vs_fp32": rep.conv_compression_vs_fp32, "c_vs_torch_rel_error": err,
            "arena_bytes": rt.arena_bytes, "c_ms_per_image": ms}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    ap.add_argument("--only", nargs="+", choices=sorted(ZOO), help="re-measure these networks only (the other "
                    "rows come from the --json file)")
    args = ap.parse_args()
    if args.only:
        old = {r["model"]: r for r in json.loads(Path(args.json).read_text())} if args.json else {}
        rows = [row(name) if name in args.only or name not in old else old[name] for name in ZOO]
    else:
        rows = [row(name) for name in ZOO]
    print("| network | input | ops | op types | outputs | params | blob bytes | conv × fp32 | C vs torch (rel.) "
          "| arena bytes | C ms/image |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {'×'.join(map(str, r['input']))} | {r['ops']} | {len(r['op_types'])} | {r['outputs']} "
              f"| {r['params']:,} | {r['blob_bytes']:,} | {r['conv_compression_vs_fp32']:.2f} "
              f"| {r['c_vs_torch_rel_error']:.1e} | {r['arena_bytes']:,} | {r['c_ms_per_image']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
