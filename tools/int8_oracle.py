#!/usr/bin/env python3
"""Issue 16's oracle campaign: our integer inference against TFLite Micro, byte for byte.

For each MLPerf Tiny int8 model (../shared/mlperf-tiny), N random int8 inputs (seeded): the model is
imported (`import_tflite`) and run by an engine of ours; every output byte is compared with TFLite Micro
(reference kernels, the microcontroller reference) and with LiteRT's reference kernels (BUILTIN_REF), and
the two TFLite engines with each other. Prints a table and writes docs/bench/int8_oracle.json.

    PYTHONPATH=. .venv/bin/python tools/int8_oracle.py [--n 1000] [--engine python] [--models ...]

Engines are functions `run(graph, x) -> list of int8 outputs` in ENGINES: "python" is the Python
reference (`linrep_edge.integer.executor.run_int8`); the C runtime registers "c" here (`register_engine`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from linrep_edge.format.ir import Graph
from linrep_edge.integer.executor import run_int8
from linrep_edge.integer.oracle import LiteRTRefRunner, TflmRunner
from linrep_edge.models.tflite_import import import_tflite_mapped

Engine = Callable[[Graph, np.ndarray], list[np.ndarray]]
ENGINES: dict[str, Engine] = {"python": lambda g, x: run_int8(g, x)}
MODELS = ["pretrainedResnet_quant", "kws_ref_model", "vww_96_int8"]
ROOT = Path(__file__).resolve().parents[1]
MLPERF = ROOT.parent / "shared" / "mlperf-tiny"


def register_engine(name: str, run: Engine) -> None:
    """Add an engine (e.g. the C runtime: `run(graph, x)` packs the graph once and runs x)."""
    ENGINES[name] = run


def _diff(a: list[np.ndarray], b: list[np.ndarray]) -> int:
    return sum(int((x.reshape(-1) != y.reshape(-1)).sum()) for x, y in zip(a, b))


def campaign(path: Path, run: Engine, n: int, seed: int) -> dict[str, object]:
    """Differing output bytes over n random int8 inputs: ours vs TFLM, ours vs LiteRT-ref, TFLM vs LiteRT-ref."""
    imp = import_tflite_mapped(path)
    g = imp.graph
    tflm, litert = TflmRunner(path, imp), LiteRTRefRunner(path, imp)
    xs = np.random.default_rng(seed).integers(-128, 128, (n, *g.tensors[g.input].shape)).astype(np.int8)
    counts = {"ours_vs_tflm": 0, "ours_vs_litert_ref": 0, "tflm_vs_litert_ref": 0}
    inputs_differing = 0
    bytes_total = 0
    seconds = {"ours": 0.0, "tflm": 0.0, "litert_ref": 0.0}
    for x in xs:
        t0 = time.perf_counter()
        ours = run(g, x)
        t1 = time.perf_counter()
        ref = tflm(x)
        t2 = time.perf_counter()
        lit = litert(x)
        t3 = time.perf_counter()
        seconds["ours"] += t1 - t0
        seconds["tflm"] += t2 - t1
        seconds["litert_ref"] += t3 - t2
        d = _diff(ours, ref)
        inputs_differing += d > 0
        counts["ours_vs_tflm"] += d
        counts["ours_vs_litert_ref"] += _diff(ours, lit)
        counts["tflm_vs_litert_ref"] += _diff(ref, lit)
        bytes_total += sum(y.size for y in ref)
    return {"model": path.name, "inputs": n, "output_bytes": bytes_total, **counts,
            "inputs_with_a_difference_vs_tflm": int(inputs_differing),
            "ms_per_input": {k: round(1000 * v / n, 2) for k, v in seconds.items()}}


def _version(pkg: str) -> str:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="random int8 inputs per model")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--engine", default="python", help=f"one of: {', '.join(ENGINES)}")
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "bench" / "int8_oracle.json"))
    args = ap.parse_args(argv)
    if args.engine not in ENGINES:
        print(f"unknown engine {args.engine!r} (have: {', '.join(ENGINES)})", file=sys.stderr)
        return 2
    rows = []
    t0 = time.perf_counter()
    for name in args.models:
        row = campaign(MLPERF / f"{name}.tflite", ENGINES[args.engine], args.n, args.seed)
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {"engine": args.engine, "seed": args.seed, "seconds": round(time.perf_counter() - t0, 1),
               "versions": {p: _version(p) for p in ("tflite-micro", "ai-edge-litert", "tflite", "numpy")},
               "command": "PYTHONPATH=. .venv/bin/python tools/int8_oracle.py " + " ".join(argv or sys.argv[1:]),
               "rows": rows}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n{'model':<30} {'inputs':>7} {'bytes':>8} {'ours≠TFLM':>10} {'ours≠LiteRT-ref':>16} {'TFLM≠LiteRT-ref':>16}")
    for r in rows:
        print(f"{r['model']:<30} {r['inputs']:>7} {r['output_bytes']:>8} {r['ours_vs_tflm']:>10} "
              f"{r['ours_vs_litert_ref']:>16} {r['tflm_vs_litert_ref']:>16}")
    print(f"engine {args.engine}, {summary['seconds']} s; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
