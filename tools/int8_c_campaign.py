#!/usr/bin/env python3
"""The C runtime's int8 path against the Python integer reference, on many random graphs (a campaign too
long for `make test`): `python tools/int8_c_campaign.py [--seeds N] [--inputs K]`.

For every op kind of tests/int8_graphs.py and seeds 0..N-1: pack the random int8 graph, run K random int8
inputs through lr_run_i8 on the direct and the reuse path, and compare with
linrep_edge.integer.executor.run_int8 byte for byte. Prints one line per kind and exits 1 on any
difference (naming kind, seed, path and output).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from int8_graphs import KINDS, build  # noqa: E402

from linrep_edge.format.writer import pack_graph  # noqa: E402
from linrep_edge.integer.executor import run_int8  # noqa: E402
from linrep_edge.runtime.binding import CRuntime  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--inputs", type=int, default=4)
    args = ap.parse_args(argv)
    bad = 0
    for kind in KINDS:
        t0, runs = time.perf_counter(), 0
        for seed in range(args.seeds):
            g = build(kind, 10_000 + seed)
            rt = CRuntime(pack_graph(g), f"{kind}/{seed}")
            xs = np.random.default_rng(seed).integers(-128, 128, (args.inputs, *g.tensors[0].shape)).astype(np.int8)
            for path in ("direct", "reuse"):
                rt.set_conv_path(path)
                got = rt.run_int8(xs)
                for n, x in enumerate(xs):
                    for k, want in enumerate(run_int8(g, x, conv_path=path)):
                        runs += 1
                        if not np.array_equal(got[k][n], want):
                            bad += 1
                            print(f"DIFFERENT: {kind} seed {10_000 + seed} {path} input {n} output {k}")
        print(f"{kind:<18} {args.seeds} graphs, {runs} outputs compared, {time.perf_counter() - t0:.1f} s")
    print("all equal" if not bad else f"{bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
