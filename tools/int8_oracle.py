#!/usr/bin/env python3
"""Issue 16's oracle campaign: our integer inference against TFLite Micro, byte for byte.

For each MLPerf Tiny int8 model (../shared/mlperf-tiny), N random int8 inputs (seeded): the model is
imported (`import_tflite`) and run by an engine of ours; every output byte is compared with TFLite Micro
(reference kernels, the microcontroller reference) and with LiteRT's reference kernels (BUILTIN_REF), and
the two TFLite engines with each other. Prints a table and writes docs/bench/int8_oracle.json.

The model "default" is the default ResNet-8's int8 `.tflite` as `linrep-edge compare` makes it
(litert-torch, then ai-edge-quantizer's static int8 recipe; made once and cached under build/tflite by
`linrep_edge.bench.default_tflite`): N random inputs, then N real ones (the first N Fashion-MNIST test
images, quantised with the file's input scale and zero point), reported as two rows.

    PYTHONPATH=. .venv/bin/python tools/int8_oracle.py [--n 1000] [--engine python] [--models ...]
    PYTHONPATH=. .venv/bin/python tools/int8_oracle.py --engine c --models default -o docs/bench/int8_oracle_default.json

Engines are functions `run(graph, x) -> list of int8 outputs` in ENGINES: "python" is the Python
reference (`linrep_edge.integer.executor.run_int8`), "c" packs the graph (format version 4) and runs it
with the C runtime's lr_run_i8 (`CRuntime.run_int8`); `register_engine` adds others.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from linrep_edge.format.ir import Graph
from linrep_edge.integer.executor import run_int8
from linrep_edge.integer.oracle import LiteRTRefRunner, TflmRunner
from linrep_edge.models.tflite_import import import_tflite_mapped

Engine = Callable[[Graph, np.ndarray], list[np.ndarray]]


class _CEngine:
    """The C runtime: each graph packed once (the writer's format version 4), then lr_run_i8 per input."""

    def __init__(self) -> None:
        self._runtimes: dict[int, object] = {}

    def __call__(self, graph: Graph, x: np.ndarray) -> list[np.ndarray]:
        from linrep_edge.format.writer import pack_graph
        from linrep_edge.runtime.binding import CRuntime

        rt = self._runtimes.get(id(graph))
        if rt is None:
            rt = self._runtimes[id(graph)] = CRuntime(pack_graph(graph))
        return rt.run_int8(x)  # type: ignore[attr-defined]


ENGINES: dict[str, Engine] = {"python": lambda g, x: run_int8(g, x), "c": _CEngine()}
MODELS = ["pretrainedResnet_quant", "kws_ref_model", "vww_96_int8"]
DEFAULT = "default"  # the default model's int8 .tflite from `compare` (random and real inputs)
ROOT = Path(__file__).resolve().parents[1]
MLPERF = ROOT.parent / "shared" / "mlperf-tiny"


def register_engine(name: str, run: Engine) -> None:
    """Add an engine (e.g. the C runtime: `run(graph, x)` packs the graph once and runs x)."""
    ENGINES[name] = run


def _diff(a: list[np.ndarray], b: list[np.ndarray]) -> int:
    return sum(int((x.reshape(-1) != y.reshape(-1)).sum()) for x, y in zip(a, b))


def real_inputs(graph: Graph, n: int) -> np.ndarray:
    """The first n Fashion-MNIST test images (the default model's input), quantised as the graph's input."""
    from linrep_edge.datasets import load_dataset
    from linrep_edge.integer.batch import quantize_input

    return quantize_input(graph, load_dataset("fashion-mnist").test.x[:n].numpy())


def campaign(path: Path, run: Engine, n: int, seed: int, real: bool = False) -> dict[str, object]:
    """Differing output bytes over n int8 inputs (random, seeded; or `real`: Fashion-MNIST test images):
    ours vs TFLM, ours vs LiteRT-ref, TFLM vs LiteRT-ref."""
    imp = import_tflite_mapped(path)
    g = imp.graph
    tflm, litert = TflmRunner(path, imp), LiteRTRefRunner(path, imp)
    if real:
        xs = real_inputs(g, n)
    else:
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
    return {"model": path.name, "inputs": len(xs), "kind": "real" if real else "random", "output_bytes": bytes_total,
            **counts,
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
    ap.add_argument("--models", nargs="+", default=MODELS, help=f"of {', '.join(MODELS)}, {DEFAULT}")
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "bench" / "int8_oracle.json"))
    args = ap.parse_args(argv)
    if args.engine not in ENGINES:
        print(f"unknown engine {args.engine!r} (have: {', '.join(ENGINES)})", file=sys.stderr)
        return 2
    rows = []
    t0 = time.perf_counter()
    for name in args.models:
        if name == DEFAULT:
            from linrep_edge.bench.default_tflite import default_int8_tflite

            path = default_int8_tflite()
            for real in (False, True):
                rows.append(campaign(path, ENGINES[args.engine], args.n, args.seed, real))
                print(json.dumps(rows[-1]), flush=True)
            continue
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
    print(f"\n{'model':<38} {'inputs':>12} {'bytes':>8} {'ours≠TFLM':>10} {'ours≠LiteRT-ref':>16} {'TFLM≠LiteRT-ref':>16}")
    for r in rows:
        print(f"{r['model']:<38} {str(r['inputs']) + ' ' + str(r.get('kind', 'random')):>12} {r['output_bytes']:>8} {r['ours_vs_tflm']:>10} "
              f"{r['ours_vs_litert_ref']:>16} {r['tflm_vs_litert_ref']:>16}")
    print(f"engine {args.engine}, {summary['seconds']} s; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
