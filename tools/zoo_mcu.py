#!/usr/bin/env python3
"""Every network of tests/zoo.py on the boards: packed at its native input size (K = 16 per kernel shape, capped),
with fp32 activations (exported for the Cortex-M4F) and with int8 activations (calibrated and distilled on 32
seeded random inputs; exported for the Cortex-M4F with the DSP kernels and the FPU-less Cortex-M3 with the portable
ones), each through `linrep-edge export-project`: the firmware is built (-Os, only the model's op types) and run
under QEMU, and its demo compares every output with the host C runtime's, bit for bit.

    python tools/zoo_mcu.py [--json docs/bench/zoo_mcu.json] [--only NAME ...]   (make zoo-mcu)

Prints a Markdown table: blob bytes, arena bytes, the firmware's flash (text + data) and PASS / FAIL per build.
Random weights: the figures are about packing and running, not accuracy. Needs the ARM toolchain and QEMU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from zoo import ZOO, build  # noqa: E402

from linrep_edge.pipeline import PackSettings, pack_model  # noqa: E402
from linrep_edge.runtime.project import export_project  # noqa: E402

BUILDS = (("fp32", "cortex-m4"), ("int8", "cortex-m4"), ("int8", "cortex-m3"))


def firmware(blob: bytes, name: str, target: str, work: Path) -> dict:
    """Export, build and run one firmware; its verdict and sizes."""
    out = work / f"{name}_{target}"
    summary = export_project(blob, out, target, "lre_" + name, f"{name}.lre")
    run = subprocess.run(["make", "-C", str(out), "-j2", "run"], capture_output=True, text=True, timeout=900)
    lines = (run.stdout + run.stderr).splitlines()
    verdict = "PASS" if run.returncode == 0 and any(line.startswith("PASS") for line in lines) else "FAIL"
    size = subprocess.run(["arm-none-eabi-size", str(out / "build" / "lre_demo.elf")], capture_output=True, text=True)
    text, data = (int(v) for v in size.stdout.splitlines()[1].split()[:2]) if size.returncode == 0 else (0, 0)
    return {"target": target, "verdict": verdict, "arena_bytes": summary["arena_bytes"], "flash_bytes": text + data,
            "detail": [line for line in lines if line.startswith(("FAIL", "output[", "qemu:"))][-3:]}


def packed(name: str, kind: str, work: Path) -> bytes:
    """Zoo network `name` packed as every row of this table is (pack_as_zoo)."""
    return pack_as_zoo(*build(name), name, kind, work)


def pack_as_zoo(model: torch.nn.Module, example: torch.Tensor, name: str, kind: str, work: Path) -> bytes:
    """`model` packed as every row of this table is: K = 16 per kernel shape (capped), `kind` activations; int8
    calibrated and distilled (2 epochs) on 32 seeded uniform inputs saved in `work`. Kind "int8-dense": int8 with
    every conv left dense (`pack --exclude '*'`), as a TFLite int8 model of the same net runs."""
    extra: dict = {}
    if kind == "int8-dense":
        kind, extra = "int8", {"exclude": ["*"]}
    if kind == "int8":
        calib = work / f"{name}_calib.npy"
        np.save(calib, np.random.default_rng(0).uniform(-1, 1, (32, *example.shape[1:])).astype(np.float32))
        extra = {**extra, "calibration": str(calib), "calibration_epochs": 2}
    return pack_model(model, example, PackSettings(templates=16, cap_templates=True, activations=kind, **extra),
                      name, show_progress=False).blob


def rows_of(name: str, work: Path) -> list[dict]:
    out = []
    for kind in ("fp32", "int8"):
        t0 = time.perf_counter()
        blob = packed(name, kind, work)
        for k, target in BUILDS:
            if k == kind:
                row = {"network": name, "activations": kind, "blob_bytes": len(blob),
                       **firmware(blob, f"{name}_{kind}", target, work)}
                row["seconds"] = round(time.perf_counter() - t0, 1)
                print(json.dumps(row), file=sys.stderr, flush=True)
                out.append(row)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="write the rows here (with --only: replace those networks' rows of the file)")
    ap.add_argument("--only", nargs="+", choices=sorted(ZOO), help="only these networks")
    args = ap.parse_args()
    names = args.only or sorted(ZOO)
    with tempfile.TemporaryDirectory(prefix="zoo_mcu_") as d:
        rows = [r for name in names for r in rows_of(name, Path(d))]
    if args.json and args.only and Path(args.json).exists():
        kept = [r for r in json.loads(Path(args.json).read_text())["rows"] if r["network"] not in names]
        rows = sorted(kept + rows, key=lambda r: (r["network"], r["activations"], r["target"]))
    print("| network | activations | core | blob | arena | firmware flash | on the board |")
    print("|---|---|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['network']} | {r['activations']} | {r['target']} | {r['blob_bytes']:,} B | {r['arena_bytes']:,} B "
              f"| {r['flash_bytes']:,} B | {r['verdict']} |")
    failed = [r for r in rows if r["verdict"] != "PASS"]
    print(f"{len(rows) - len(failed)} of {len(rows)} firmwares equal the host C runtime bit for bit")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": "python tools/zoo_mcu.py --json " + args.json,
                                               "rows": rows}, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
