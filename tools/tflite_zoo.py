#!/usr/bin/env python3
"""TFLite files as users get them: every network of tests/zoo.py converted from torch by the peers' own tools
(litert-torch → fp32 `.tflite`, ai-edge-quantizer → static int8 with 16 random calibration inputs), then read
by our importer and checked against the peers' own interpreters:

- fp32: our C runtime on 3 random inputs against LiteRT, largest difference relative to the largest output;
- int8: every tensor of our Python integer reference and every output byte of our C runtime against TFLite
  Micro on 3 random int8 inputs (TFLite Micro runs the file with its constants moved inside the flatbuffer:
  it does not read buffers stored after it).

    python tools/tflite_zoo.py [--json docs/bench/tflite_zoo.json] [--only NAME ...]

Prints a Markdown table: the file's op types, whether each file converts, imports and matches, or the first
reason it does not. Random weights: a degenerate int8 file (an output scale TFLite Micro refuses) says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from zoo import ZOO  # noqa: E402

from linrep_edge.bench import peers  # noqa: E402
from linrep_edge.errors import LinRepError  # noqa: E402
from linrep_edge.format.writer import pack_graph  # noqa: E402
from linrep_edge.integer.executor import run_int8  # noqa: E402
from linrep_edge.models.tflite_file import read_tflite  # noqa: E402
from linrep_edge.models.tflite_import import import_tflite_mapped  # noqa: E402
from linrep_edge.runtime.binding import CRuntime  # noqa: E402


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:240]


def check_fp32(fp32: bytes) -> dict[str, Any]:
    from linrep_edge.integer.oracle import LiteRTRefRunner

    imp = import_tflite_mapped(fp32)
    g = imp.graph
    xs = np.random.default_rng(0).standard_normal((3, *g.tensors[g.input].shape)).astype(np.float32)
    got = CRuntime(pack_graph(g)).run_all(xs)
    litert = LiteRTRefRunner(fp32, imp, reference=False)
    worst = 0.0
    for k, x in enumerate(xs):
        for j, want in enumerate(litert(x)):
            worst = max(worst, float(np.abs(got[j][k].reshape(want.shape) - want).max() / np.abs(want).max()))
    return {"ops": len(g.ops), "c_vs_litert_rel": worst}


def check_int8(q: bytes) -> dict[str, Any]:
    import tflite_build as tb

    from linrep_edge.integer.oracle import TflmRunner

    imp = import_tflite_mapped(q)
    g = imp.graph
    inside = tb.buffers_inside(q)
    tflm = TflmRunner(inside, imp, all_tensors=True)
    xs = np.random.default_rng(1).integers(-128, 128, (3, *g.tensors[g.input].shape)).astype(np.int8)
    tensors = differ = 0
    outs = []
    for x in xs:
        ours = run_int8(g, x, trace=True)
        outs.append(tflm(x))
        for t, y in tflm.tensors().items():
            tensors += 1
            differ += int(not np.array_equal(ours[t], y))
    got = CRuntime(pack_graph(g)).run_int8(xs)
    c_equal = all(np.array_equal(c.reshape(len(xs), -1), np.stack([o[j].reshape(-1) for o in outs]))
                  for j, c in enumerate(got))
    return {"ops": len(g.ops), "tensors_compared": tensors, "tensors_differ": differ, "c_equals_tflm": c_equal}


def measure(name: str) -> dict[str, Any]:
    make, shape = ZOO[name]
    row: dict[str, Any] = {"name": name, "input": list(shape)}
    torch.manual_seed(0)
    try:
        with peers.quiet_fds():
            fp32 = peers.to_tflite(make().eval(), torch.randn(*shape))
    except Exception as exc:  # the converter's own failure
        row["fp32"] = {"error": "litert-torch: " + _reason(exc)}
        return row
    row["tflite_ops"] = dict(sorted(Counter(op.type for op in read_tflite(fp32).ops).items()))
    try:
        row["fp32"] = check_fp32(fp32)
    except LinRepError as exc:
        row["fp32"] = {"error": _reason(exc)}
    try:
        calib = np.random.default_rng(1).standard_normal((16, *shape[1:])).astype(np.float32)
        with peers.quiet_fds():
            q = peers.quantize_int8(fp32, calib)
    except Exception as exc:
        row["int8"] = {"error": "ai-edge-quantizer: " + _reason(exc)}
        return row
    try:
        row["int8"] = check_int8(q)
    except LinRepError as exc:
        row["int8"] = {"error": _reason(exc)}
    return row


def _cell(r: dict[str, Any] | None, int8: bool) -> str:
    if r is None:
        return "-"
    if "error" in r:
        return "no: " + r["error"].replace("|", "/")[:120]
    if int8:
        ok = r["tensors_differ"] == 0 and r["c_equals_tflm"]
        return f"{'yes' if ok else 'NO'}: {r['tensors_compared'] - r['tensors_differ']}/{r['tensors_compared']} tensors"
    return f"yes: {r['c_vs_litert_rel']:.1e}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", nargs="+", choices=sorted(ZOO))
    args = ap.parse_args()
    peers.require()
    rows: dict[str, Any] = {}
    if args.only and args.json and args.json.exists():
        rows = {r["name"]: r for r in json.loads(args.json.read_text())["rows"]}
    for name in args.only or list(ZOO):
        print(f"{name} ...", file=sys.stderr, flush=True)
        rows[name] = measure(name)
    ordered = [rows[n] for n in ZOO if n in rows]
    print("| net | fp32 file: C vs LiteRT (largest difference / largest output) | int8 file: equal to TFLite Micro |")
    print("|---|---|---|")
    for r in ordered:
        print(f"| {r['name']} | {_cell(r.get('fp32'), False)} | {_cell(r.get('int8'), True)} |")
    if args.json:
        args.json.write_text(json.dumps({"command": "python tools/tflite_zoo.py --json " + str(args.json),
                                         "rows": ordered}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
