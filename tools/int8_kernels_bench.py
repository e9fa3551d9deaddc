"""Figures of the int8 kernels on Cortex-M4F under QEMU (issue 17): the default ResNet-8 as an int8 model,
dense (no LinRep) and LinRep at K = 16 global (8-bit a/b, every W within int16: quantize_graph's
fit_int16, the default), each with the reference kernels (runtime built with
LR_KERNELS=ref) and the optimised ones (LR_KERNELS=opt, the default) -- whole-network instructions,
per layer (instructions, path, dense-equivalent MACs, instructions per MAC) -- beside CMSIS-NN's counts
(../shared/DESIGN.md section 7). Prints a table and writes docs/bench/int8_kernels.json.

    python tools/int8_kernels_bench.py [--target cortex-m4] [--out docs/bench/int8_kernels.json]

Slow-ish (compression of the default model, eight firmware builds and QEMU runs): a tools/ script, not a test.
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from linrep_edge.datasets import load_fashion_mnist
from linrep_edge.format.ir import Graph
from linrep_edge.format.writer import pack_graph
from linrep_edge.graph.capture import capture
from linrep_edge.integer.quantize import quantize_graph
from linrep_edge.method.compress import compress
from linrep_edge.models.resnet8 import load_default_model
from linrep_edge.runtime.mcu import RUNTIME_DIR, _firmware
from linrep_edge.runtime.mcu_int8 import dense_macs

ROOT = Path(__file__).resolve().parents[1]
# CMSIS-NN (arm_convolve_wrapper_s8, Cortex-M4F -O2, QEMU), DESIGN.md section 7 / issue 17.
CMSIS_CONV_INSTRUCTIONS = 20_694_863
CMSIS_CONV_MACS = 9_345_280
CMSIS_PER_LAYER_RANGE = "1.79 (64->64 3x3) .. 10.4 (1-channel stem); 3.4-4.4 on the stride-2 1x1 shortcuts"
# The per-layer CMSIS-NN figures DESIGN.md section 7 gives (instructions per MAC); the two shortcuts as the
# ends of its 3.4-4.4 range (the one with fewer input channels at the high end); the other five 3x3 layers
# share the rest of the 20,694,863.
CMSIS_LAYER_PER_MAC = {"stem.0": 10.4, "layer3.conv2": 1.79, "layer2.shortcut.0": 4.4, "layer3.shortcut.0": 3.4}


def conv_macs(g: Graph) -> dict[int, int]:
    """Dense-equivalent multiply-accumulates per conv op (padding taps included, as CMSIS-NN counts)."""
    return {k: n for k, n in dense_macs(g).items() if g.ops[k].type in ("CONV2D", "LINREP_CONV2D")}


def int8_graphs(k: int, n_calib: int) -> tuple[Graph, Graph, np.ndarray]:
    torch.manual_seed(0)
    model = load_default_model().eval()
    data = load_fashion_mnist()
    calib = data.train.x[:n_calib].numpy()
    dense = quantize_graph(capture(model, torch.zeros(1, 1, 28, 28)), calib)
    cm, _ = compress(model, templates=k, seed=0, show_progress=False)
    lr = quantize_graph(capture(cm, torch.zeros(1, 1, 28, 28)), calib, ab_bits=8)  # fit_int16: one plane
    return dense, lr, data.test.x[0].numpy()


def run(blob: bytes, x: np.ndarray, target: str, kernels: str, build: Path, path: str = "auto") -> dict[str, Any]:
    from linrep_edge.runtime.mcu_int8 import kernel_build

    with kernel_build(kernels):  # runtime.mk: LR_KERNELS (each build in its own folders: host-ref, ...)
        return _firmware(blob, x, target, "-O2", build / f"{kernels}-{path}", 600.0, conv_path=path)


def code_sizes(blob: bytes, x: np.ndarray, target: str, build: Path) -> dict[str, int]:
    """Runtime code (text + rodata of the liblinrep members a firmware links, after --gc-sections) at -Os and
    -O2 for an int8 model: the default library (lr_run_hooked, fp32 and int8 compiled in), the reference
    kernels only, the integer-only library (-DLR_FP32=0: what mcu-bench builds for an int8 blob), and a
    firmware calling only lr_run_i8."""
    from linrep_edge.runtime.mcu import MCU_DIR, _driver, build_firmware, model_header_i8
    from linrep_edge.runtime.binding import CRuntime
    from linrep_edge.runtime.mcu_int8 import kernel_build

    drv = _driver()
    out: dict[str, int] = {}
    for opt in ("-Os", "-O2"):
        for label, kernels, all_in in (("all_in", "opt", True), ("all_in_ref_kernels", "ref", True),
                                       ("int8_only_lib", "opt", False)):
            with kernel_build(kernels):  # _firmware builds the runtime for the blob's kind (int8: -DLR_FP32=0)
                fw = _firmware(blob, x, target, opt, build / f"size-{label}{opt}", 600.0, run=False, all_in=all_in)
            out[f"{label}{opt}"] = fw["runtime_code_bytes"]
        rt = CRuntime(blob)
        q = np.clip(np.round(x), -128, 127).astype(np.int8)
        # the make defaults' library (defines None: the environment's LR_DEFINES), a firmware calling lr_run_i8 only
        fw = build_firmware(drv, target, opt, MCU_DIR / "model_workload_i8.c",
                            model_header_i8(blob, q, rt.arena_bytes, rt.output_size), build / f"size-run_i8{opt}",
                            None, False, 600.0, "int8 firmware")
        out[f"run_i8_only{opt}"] = fw["runtime_code_bytes"]
    return out


def layers(fw: dict[str, Any], macs: dict[int, int]) -> list[dict[str, Any]]:
    rows = []
    for k, name in enumerate(fw["op_names"]):
        ins = fw["segments"][k]["instructions"]
        row: dict[str, Any] = {"op": k, "name": name, "path": fw["op_conv"][k]["path"], "instructions": ins}
        if k in macs:
            row["macs"] = macs[k]
            row["instr_per_mac"] = round(ins / macs[k], 3)
        rows.append(row)
    return rows


def device_paths(runs: dict[str, Any], kernels: str) -> None:
    """The path the firmware ran on each LinRep layer of the auto run: the forced path whose count it equals
    (the host's op_conv_info chooses with the portable build's constants, a DSP core with its own)."""
    auto, direct, reuse = (runs.get(f"{kernels}-{p}") for p in ("auto", "direct", "reuse"))
    if not (auto and direct and reuse):
        return
    for a, d, r in zip(auto["layers"], direct["layers"], reuse["layers"]):
        if a["path"] in ("direct", "reuse") and d["instructions"] != r["instructions"]:
            a["path"] = "direct" if abs(a["instructions"] - d["instructions"]) < abs(a["instructions"] - r["instructions"]) \
                else "reuse"


def dense_vs_cmsis(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Dense int8 convs per layer against CMSIS-NN's (CMSIS_LAYER_PER_MAC), and the five other 3x3 layers
    together against the rest of CMSIS-NN's total (its per-layer split of them is not published)."""
    convs = [r for r in rows if "macs" in r]
    known = [r for r in convs if r["name"] in CMSIS_LAYER_PER_MAC]
    rest = [r for r in convs if r["name"] not in CMSIS_LAYER_PER_MAC]
    out: dict[str, Any] = {"layers": []}
    for r in known:
        cm = CMSIS_LAYER_PER_MAC[r["name"]]
        out["layers"].append({"name": r["name"], "ours_per_mac": r["instr_per_mac"], "cmsis_per_mac": cm,
                              "ratio": round(r["instructions"] / (cm * r["macs"]), 3)})
    rest_macs = sum(r["macs"] for r in rest)
    cmsis_rest = CMSIS_CONV_INSTRUCTIONS - sum(CMSIS_LAYER_PER_MAC[r["name"]] * r["macs"] for r in known)
    ours_rest = sum(r["instructions"] for r in rest)
    out["other_3x3_layers"] = {"names": [r["name"] for r in rest], "macs": rest_macs,
                               "ours_instructions": ours_rest, "ours_per_mac": round(ours_rest / rest_macs, 3),
                               "ours_per_layer_per_mac": {r["name"]: r["instr_per_mac"] for r in rest},
                               "cmsis_instructions": round(cmsis_rest),
                               "cmsis_per_mac": round(cmsis_rest / rest_macs, 3),
                               "ratio": round(ours_rest / cmsis_rest, 3)}
    out["all_convs_ratio"] = round(sum(r["instructions"] for r in convs) / CMSIS_CONV_INSTRUCTIONS, 3)
    return out


def print_dense_vs_cmsis(d: dict[str, Any]) -> None:
    print("\ndense int8 convs vs CMSIS-NN (instructions per MAC):")
    for r in d["layers"]:
        print(f"  {r['name']:<20} {r['ours_per_mac']:6.2f} vs {r['cmsis_per_mac']:5.2f}  ({r['ratio']:.2f}x)")
    o = d["other_3x3_layers"]
    print(f"  {'five other 3x3':<20} {o['ours_per_mac']:6.2f} vs {o['cmsis_per_mac']:5.2f}  ({o['ratio']:.2f}x) "
          f"per layer {o['ours_per_layer_per_mac']}")
    print(f"  all convs {d['all_convs_ratio']:.2f}x CMSIS-NN")


def reuse_rows(g: Graph, runs: dict[str, Any], kernels: str, macs: dict[int, int]) -> list[dict[str, Any]]:
    """Template reuse per LinRep layer (engineer "reuse", issue 17): both forced paths' instructions, the path the
    automatic run took on the device, and the reuse path's own work: U * kh * kw responses plus a' R + b' S per
    kernel per output pixel (reuse MACs), with its instructions per reuse MAC and per dense-equivalent MAC."""
    auto, direct, reuse = (runs.get(f"{kernels}-{p}") for p in ("auto", "direct", "reuse"))
    if not (auto and direct and reuse):
        return []
    rows = []
    for a, d, r in zip(auto["layers"], direct["layers"], reuse["layers"]):
        op = g.ops[a["op"]]
        if op.type != "LINREP_CONV2D":
            continue
        info = r["op_conv"]
        _, oh, ow = g.tensors[op.output].shape
        kh, kw = op.kernel
        rmacs = (info["templates_used"] * kh * kw + 2 * info["kernels"]) * oh * ow
        rows.append({"op": a["op"], "name": a["name"], "auto_path": a["path"], "auto": a["instructions"],
                     "direct": d["instructions"], "reuse": r["instructions"], "templates_used": info["templates_used"],
                     "kernels": info["kernels"], "dense_macs": macs[a["op"]], "reuse_macs": rmacs,
                     "reuse_instr_per_reuse_mac": round(r["instructions"] / rmacs, 3),
                     "reuse_instr_per_dense_mac": round(r["instructions"] / macs[a["op"]], 3)})
    return rows


def reuse_fit(rows: list[dict[str, Any]], g: Graph) -> dict[str, int]:
    """The reuse cost model's constants (hundredths, src/lr_cost.c CI8_RK, RU, RC, ROUT) fitted to the forced reuse
    counts: non-negative least squares on relative error over kernels * P, U * P, Cin * P and Cout * P."""
    from scipy.optimize import nnls

    feats, y = [], []
    for r in rows:
        op = g.ops[r["op"]]
        cin = g.tensors[op.inputs[0]].shape[0]
        co, oh, ow = g.tensors[op.output].shape
        px = oh * ow
        feats.append([r["kernels"] * px, r["templates_used"] * px, cin * px, co * px])
        y.append(r["reuse"])
    a, b = np.array(feats, float), np.array(y, float)
    coef, _ = nnls(a / b[:, None], np.ones_like(b))
    pred = a @ coef
    k = [round(100 * float(c)) for c in coef]
    return {"RK": k[0], "RU": k[1], "RC": k[2], "ROUT": k[3],
            "max_rel_error": round(float(np.max(np.abs(pred / b - 1))), 3)}


def reuse_report(g: Graph, runs: dict[str, Any], conv_info: dict[str, Any], macs: dict[int, int],
                 kernels: str) -> dict[str, Any]:
    """reuse_rows and reuse_fit for one LinRep model, printed as a table."""
    if f"{kernels}-reuse" not in runs:
        return {}
    for r in runs[f"{kernels}-reuse"]["layers"]:
        r["op_conv"] = conv_info[f"{kernels}-reuse"][r["op"]]
    rows = reuse_rows(g, runs, kernels, macs)
    for r in runs[f"{kernels}-reuse"]["layers"]:
        del r["op_conv"]
    fit = reuse_fit(rows, g) if rows else {}
    print(f"\ntemplate reuse, {kernels} kernels, per LinRep layer (direct, reuse, auto path; reuse per reuse MAC):")
    for r in rows:
        print(f"  {r['name']:<14} direct {r['direct']:>10,}  reuse {r['reuse']:>10,}  auto {r['auto_path']:<6} "
              f"U {r['templates_used']:>4}  {r['reuse_instr_per_reuse_mac']:.2f}/reuse MAC  "
              f"{r['reuse_instr_per_dense_mac']:.2f}/dense MAC")
    print("  reuse cost model fit (hundredths, lr_cost.c):", fit)
    return {"layers": rows, "fit": fit}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--templates", type=int, default=16)
    ap.add_argument("--calib", type=int, default=256)
    ap.add_argument("--kernels", default="ref,opt", help="kernel builds to run (LR_KERNELS values)")
    ap.add_argument("--cache", default="", help="directory keeping the two int8 graphs between runs")
    ap.add_argument("--no-size", action="store_true", help="skip the code size builds")
    ap.add_argument("--out", default=str(ROOT / "docs" / "bench" / "int8_kernels.json"))
    args = ap.parse_args()
    cache = Path(args.cache) / f"int8_k{args.templates}_c{args.calib}.pkl" if args.cache else None
    if cache is not None and cache.exists():
        dense_g, lr_g, x = pickle.loads(cache.read_bytes())
    else:
        dense_g, lr_g, x = int8_graphs(args.templates, args.calib)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(pickle.dumps((dense_g, lr_g, x)))
    blobs = {"dense": pack_graph(dense_g), f"linrep_k{args.templates}": pack_graph(lr_g)}
    macs = conv_macs(dense_g)
    total_macs = sum(macs.values())
    build = RUNTIME_DIR / "build" / "mcu" / f"{args.target}-int8-kernels"
    report: dict[str, Any] = {"target": args.target, "opt": "-O2", "templates": args.templates,
                              "conv_macs": total_macs, "cmsis_nn": {"conv_instructions": CMSIS_CONV_INSTRUCTIONS,
                                                                     "conv_macs": CMSIS_CONV_MACS,
                                                                     "per_layer_instr_per_mac": CMSIS_PER_LAYER_RANGE},
                              "models": {}}
    for name, blob in blobs.items():
        runs: dict[str, Any] = {}
        conv_info: dict[str, Any] = {}
        paths = ["auto"] if name == "dense" else ["auto", "direct", "reuse"]
        for kernels in args.kernels.split(","):
            for path in paths:
                fw = run(blob, x, args.target, kernels, build / name, path)
                rows = layers(fw, macs)
                conv_ins = sum(r["instructions"] for r in rows if "macs" in r)
                conv_info[f"{kernels}-{path}"] = fw["op_conv"]
                runs[f"{kernels}-{path}"] = {
                    "instructions": fw["instructions"], "conv_instructions": conv_ins,
                    "instr_per_dense_mac": round(fw["instructions"] / total_macs, 3),
                    "conv_instr_per_dense_mac": round(conv_ins / total_macs, 3),
                    "matches_host": fw["matches_host"], "arena_bytes": fw["arena_bytes"],
                    "runtime_code_bytes_o2": fw["runtime_code_bytes"], "layers": rows}
                print(f"{name:>12} {kernels}-{path:<6} whole network {fw['instructions']:>11,} instr "
                      f"({fw['instructions'] / total_macs:.2f}/dense MAC); convs {conv_ins:>11,} "
                      f"(CMSIS-NN {CMSIS_CONV_INSTRUCTIONS:,}: {conv_ins / CMSIS_CONV_INSTRUCTIONS:.2f}x); "
                      f"matches host {fw['matches_host']}")
        for kernels in args.kernels.split(","):
            device_paths(runs, kernels)
        report["models"][name] = {"blob_bytes": len(blob), "runs": runs}
        if name != "dense":
            report["reuse"] = reuse_report(lr_g, runs, conv_info, macs, args.kernels.split(",")[-1])
    dense_opt = report["models"]["dense"]["runs"].get("opt-auto")
    if dense_opt is not None:
        report["dense_vs_cmsis"] = dense_vs_cmsis(dense_opt["layers"])
        print_dense_vs_cmsis(report["dense_vs_cmsis"])
    for name in blobs:
        best = report["models"][name]["runs"][f"{args.kernels.split(',')[-1]}-auto"]
        print(f"\n{name}, optimised kernels, per layer (path, instructions, instr per dense MAC):")
        for r in best["layers"]:
            extra = f"  {r['instr_per_mac']:.2f}/MAC ({r['macs']:,} MACs)" if "macs" in r else ""
            print(f"  {r['op']:>2} {r['name']:<20} {r['path']:<7} {r['instructions']:>10,}{extra}")
    if not args.no_size:
        report["runtime_code_bytes"] = code_sizes(blobs[f"linrep_k{args.templates}"], x, args.target, build)
        print("\nruntime code bytes (text + rodata linked):", report["runtime_code_bytes"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
