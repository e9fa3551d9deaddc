#!/usr/bin/env python3
"""The cost model's depthwise terms (runtime_c/src/lr_cost.c, DW8_*) fitted to measured counts: every depthwise
LinRep conv of three networks (the int8 zoo's ds_cnn_kws and mobilenet_v1_vww, packed as `make zoo-mcu` packs them,
and build_levels' SE net) run on one core at -O2 with no RAM limit, each path forced (direct, template reuse), the
instructions per layer from the firmware's segments. Per path and kind (direct at stride 1 and 2: the padded-plane
kernel; reuse) a non-negative least-squares fit on relative error of

    instructions ~ OUT * outputs + ROW * output rows + CH * channels    (hundredths, as lr_cost.c has them)

printed with each layer's error under the fit and whether AUTO (the firmware's own choice) took the faster path.
With --kernel wide the same for the 5 x 5 and 7 x 7 depthwise LinRep convs (the padded-plane kernel
lr_opt_plane_wide, both strides in one fit: DW8_F_*; reuse: DW8_S_*) of the int8 zoo's mobilenet_v3_small and
mcunet_like, with outputs * kh * kw / 25 in place of outputs (a 7 x 7 output as 49/25 of a 5 x 5 one). With
--kernel wide --opt=-Os, the same layers on the size-optimised build, which has no padded-plane kernel (no fast
paths): the direct path runs them per channel (lr_conv2d_channel_s8_opt: DW8_W_*), reuse by its -Os kernel (DW8_V_*).

    python tools/dw_cost_fit.py [--target cortex-m4 cortex-m3] [--kernel 3|wide] [--opt=-O2|-Os] [--json OUT]

Needs the ARM toolchain and QEMU; about two minutes per core.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from build_levels import se_net_blob  # noqa: E402
from zoo_mcu import packed  # noqa: E402

from linrep_edge.format.reader import parse  # noqa: E402
from linrep_edge.runtime.mcu_int8 import _firmware_i8, default_input_i8  # noqa: E402

NETWORKS = {"3": ("ds_cnn_kws", "mobilenet_v1_vww", "se_net"), "wide": ("mobilenet_v3_small", "mcunet_like")}
KERNELS = {"3": ((3, 3),), "wide": ((5, 5), (7, 7))}


def depthwise_rows(name: str, blob: bytes, target: str, work: Path, kernel: str = "3",
                   opt: str = "-O2") -> list[dict[str, Any]]:
    """Each depthwise LinRep conv of `blob` with kernels of KERNELS[kernel]: its shape and the instructions of the
    three runs (firmware built at `opt`)."""
    g = parse(blob).graph
    x = default_input_i8(blob)
    seg = {}
    for path in ("auto", "direct", "reuse"):
        fw = _firmware_i8(blob, x, target, opt, work / f"{name}-{target}{opt}-{path}", 1200.0, conv_path=path,
                          ram_limit=-1)
        if not fw["matches_host"]:
            raise SystemExit(f"{name} on {target} ({path}): the firmware's outputs differ from the host's")
        seg[path] = [s["instructions"] for s in fw["segments"]]
    rows = []
    for k, op in enumerate(g.ops):
        cin = g.tensors[op.inputs[0]].shape[0]
        if op.type != "LINREP_CONV2D" or op.groups != cin or tuple(op.kernel) not in KERNELS[kernel]:
            continue
        c, oh, ow = g.tensors[op.output].shape
        if c != cin:
            continue
        rows.append({"network": name, "op": k, "name": op.name, "kernel": int(op.kernel[0]),
                     "stride": int(op.stride[0]), "channels": c,
                     "oh": oh, "ow": ow, "direct": seg["direct"][k], "reuse": seg["reuse"][k], "auto": seg["auto"][k]})
    return rows


def fit(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """OUT, ROW, CH (hundredths) for the counts rows[key]: NNLS on relative error; the largest error under it."""
    from scipy.optimize import nnls

    a = np.array([[r["channels"] * r["oh"] * r["ow"] * r["kernel"] ** 2 / (25 if r["kernel"] != 3 else 9),
                   r["channels"] * r["oh"], r["channels"]] for r in rows], float)
    b = np.array([r[key] for r in rows], float)
    coef, _ = nnls(a / b[:, None], np.ones_like(b))
    k = [round(100 * float(c)) for c in coef]
    pred = a @ (np.array(k) / 100.0)
    for r, p in zip(rows, pred):
        r[f"{key}_model"] = int(p)
    return {"OUT": k[0], "ROW": k[1], "CH": k[2], "max_rel_error": round(float(np.max(np.abs(pred / b - 1))), 4),
            "layers": len(rows)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", nargs="+", default=["cortex-m4", "cortex-m3"])
    ap.add_argument("--kernel", choices=("3", "wide"), default="3",
                    help="the depthwise kernels: 3 x 3, or 5 x 5 and 7 x 7")
    ap.add_argument("--opt", choices=("-O2", "-Os"), default="-O2",
                    help="the firmware's build: -O2, or -Os (no fast paths; with --kernel wide: DW8_W / DW8_V)")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if args.opt == "-Os" and args.kernel != "wide":
        ap.error("--opt=-Os fits the wide kernels' terms of builds without the plane kernel: use --kernel wide")
    out: dict[str, Any] = {"kernel": args.kernel, "opt": args.opt, "targets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        blobs = {name: packed(name, "int8", work) for name in NETWORKS[args.kernel] if name != "se_net"}
        if args.kernel == "3":
            blobs["se_net"] = se_net_blob(work)
        for target in args.target:
            rows = [r for name, blob in blobs.items()
                    for r in depthwise_rows(name, blob, target, work, args.kernel, args.opt)]
            if args.kernel == "3":
                fits = {"P (direct, stride 1)": fit([r for r in rows if r["stride"] == 1], "direct"),
                        "Q (direct, stride 2)": fit([r for r in rows if r["stride"] == 2], "direct"),
                        "R (reuse)": fit(rows, "reuse")}
            elif args.opt == "-O2":
                fits = {"F (direct, 5 x 5 and 7 x 7)": fit(rows, "direct"),
                        "S (reuse, 5 x 5 and 7 x 7)": fit(rows, "reuse")}
            else:
                fits = {"W (direct per channel, 5 x 5 and 7 x 7, no plane kernel)": fit(rows, "direct"),
                        "V (reuse, 5 x 5 and 7 x 7, -Os)": fit(rows, "reuse")}
            print(f"\n{target}: depthwise LinRep convs ({args.kernel}), {args.opt}, no RAM limit "
                  "(instructions; model in parentheses)")
            for r in rows:
                faster = min(r["direct"], r["reuse"])
                slower = "" if r["auto"] <= 1.03 * faster else "  SLOWER"
                print(f"  {r['network']:<17} {r['name']:<14} {r['kernel']}x{r['kernel']} s{r['stride']} "
                      f"{r['channels']:>4} x {r['oh']:>2} x {r['ow']:>2}  direct {r['direct']:>9,} "
                      f"({r['direct_model']:>9,})  reuse {r['reuse']:>9,} ({r['reuse_model']:>9,})  "
                      f"auto {r['auto']:>9,}{slower}")
            for k, v in fits.items():
                print(f"  DW8 {k}: {v}")
            out["targets"][target] = {"layers": rows, "fit": fits}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
