"""`linrep-edge mcu-bench` on an int8 blob (format version 4): the int8 rows.

The same harness as the fp32 rows (runtime_c/mcu, QEMU + the instruction-count plugin), with the
integer workload (model_workload_i8.c: `lr_run_i8_hooked`, every op marked): executed instructions in
total and per op (LinRep convs also forced to each path), the runtime's code as linked at -Os and -O2,
the blob's bytes, RAM as arena (`lr_arena_size`) + painted stack (the larger of lr_init's and the
inference's, as for fp32), the int8 activation lower bound, and whether the firmware's int8 outputs
equal the host C runtime's. cortex-m3 is the FPU-less core.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from linrep_edge.errors import LinRepError
from linrep_edge.format.ir import Graph
from linrep_edge.format.reader import parse
from linrep_edge.format.text import column_names
from linrep_edge.runtime.mcu import (LINREP_PATH_BITS, MCU_DIR, RUNTIME_DIR, _driver, arena_for_any_plan,
                                     build_firmware, check_toolchain, format_profile, model_header_i8,
                                     runtime_defines)

TARGETS_INT8 = ("cortex-m4", "cortex-m3", "cortex-m7", "cortex-m33")


@contextmanager
def kernel_build(kernels: str) -> Iterator[None]:
    """Build and load the runtime with LR_KERNELS=kernels while inside (runtime.mk: "opt", the default, "ref", or a
    '+'-list of the kinds whose optimised kernels run, among conv, linear, add, linrep, act; the host library and the
    firmware libraries of each build have their own folders), then restore the environment."""
    from linrep_edge.runtime.binding import build_tag

    build_tag(kernels)  # runtime.mk refuses an unknown build, before anything is built
    old = os.environ.get("LR_KERNELS")
    os.environ["LR_KERNELS"] = kernels
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("LR_KERNELS", None)
        else:
            os.environ["LR_KERNELS"] = old


def default_input_i8(blob: bytes) -> np.ndarray:
    """The default model's first test image quantised with the blob's input scale/zero point (as
    lr_run does), else seeded uniform int8 of the input shape."""
    g = parse(blob).graph
    t = g.tensors[g.input]
    if g.metadata.get("source") == "default":
        from linrep_edge.datasets import load_fashion_mnist
        from linrep_edge.integer.batch import quantize_input

        x = load_fashion_mnist().test.x[0].numpy()[None]
        return np.asarray(quantize_input(g, x)[0], dtype=np.int8).reshape(t.shape)
    return np.random.default_rng(0).integers(-128, 128, size=t.shape).astype(np.int8)


def _one_path_arena(blob: bytes, linrep_path: str, ram_limit: int) -> int:
    """The arena of a firmware built with one LinRep path (LR_LINREP_PATHS): its every LinRep conv runs that path,
    as a forced one, whose scratch the plan gives whatever the RAM limit (lr_plan.c), so the automatic plan's arena
    may be too small for it (`export-project --linrep-path` sizes it so)."""
    from linrep_edge.runtime.binding import CRuntime

    rt = CRuntime(blob, conv_path=linrep_path)
    if ram_limit:
        rt.set_ram_limit(ram_limit)
    return rt.arena_bytes


def _firmware_i8(blob: bytes, x: np.ndarray, target: str, opt: str, build: Path, timeout: float,
                 run: bool = True, conv_path: str = "auto", ram_limit: int = 0, blob_ops: bool = False,
                 linrep_path: str = "auto", profile: bool = False, status_texts: bool = True,
                 offline_plan: bool = False, fast_paths: bool = False) -> dict[str, Any]:
    from linrep_edge.runtime.binding import CRuntime

    drv = _driver()
    rt = CRuntime(blob, conv_path=conv_path)
    if ram_limit:
        rt.set_ram_limit(ram_limit)
    # the device's plan may differ from the host's: room for any (the firmware reports its own lr_arena_size;
    # this is only its static buffer)
    arena = arena_for_any_plan(blob, ram_limit=ram_limit) if conv_path == "auto" else rt.arena_bytes
    if conv_path == "auto" and linrep_path != "auto":
        arena = max(arena, _one_path_arena(blob, linrep_path, ram_limit))
    plan = None
    if offline_plan:  # the plan for these settings made with the target's cost model, for a runtime without planner
        from linrep_edge.runtime.project import cost_model

        planner = CRuntime(blob, conv_path=conv_path, cost=cost_model(target))
        if ram_limit:
            planner.set_ram_limit(ram_limit)
        plan = planner.export_plan()
    text = model_header_i8(blob, x, int(plan[4]) if plan is not None else arena, rt.output_size, conv_path,
                           ram_limit, plan)
    # built for int8 blobs only (runtime_defines), as a firmware that runs this blob would be; with blob_ops,
    # for this blob's op types only (LR_OPS, as export-project builds it)
    defines = runtime_defines(True, parse(blob).graph if blob_ops else None, linrep_path, status_texts,
                              planner=not offline_plan, fast_paths=fast_paths)
    rep = build_firmware(drv, target, opt, MCU_DIR / "model_workload_i8.c", text, build, defines, run, timeout,
                         "int8 firmware", profile)
    if not run:
        return rep
    fw = rep["firmware"]
    dev = np.array([int(fw[f"out{i}"]) for i in range(rt.output_size)], dtype=np.int8)
    host = np.concatenate([o.reshape(-1) for o in rt.run_int8(np.asarray(x, dtype=np.int8))])
    rep["matches_host"] = bool(np.array_equal(dev, host))
    rep["arena_bytes"] = int(fw["arena_bytes"])
    rep["init_stack_bytes"] = int(fw["init_stack_bytes"])
    rep["activation_lower_bound_bytes"] = int(fw["activation_lower_bound_bytes"])
    rep["op_names"] = [rt.op_info(k)[1] for k in range(rt.num_ops)]
    rep["op_types"] = [rt.op_info(k)[0] for k in range(rt.num_ops)]
    rep["op_conv"] = [rt.op_conv_info(k) for k in range(rt.num_ops)]
    return rep


def dense_macs(g: Graph) -> dict[int, int]:
    """Dense-equivalent multiply-accumulates per op index: convs (LinRep ones as the dense conv they stand for,
    padding taps included, as CMSIS-NN counts), transposed convs (every input pixel times every kernel tap) and
    linear layers; other ops have none."""
    out: dict[int, int] = {}
    for k, op in enumerate(g.ops):
        kh, kw = op.kernel
        if op.type in ("CONV2D", "LINREP_CONV2D"):
            cin = g.tensors[op.inputs[0]].shape[0]
            co, oh, ow = g.tensors[op.output].shape
            out[k] = int(co * (cin // op.groups) * kh * kw * oh * ow)
        elif op.type == "CONV_TRANSPOSE2D":
            cin, ih, iw = g.tensors[op.inputs[0]].shape
            co = g.tensors[op.output].shape[0]
            out[k] = int(cin * (co // op.groups) * kh * kw * ih * iw)
        elif op.type == "LINEAR":
            out[k] = int(np.prod(g.tensors[op.inputs[0]].shape)) * int(np.prod(g.tensors[op.output].shape))
    return out


def device_path(row: dict[str, Any]) -> str:
    """The path the device ran on a LinRep conv in the automatic run: the forced path whose count it equals (the
    host's op_conv_info chooses with the portable build's cost constants, a DSP core with its own)."""
    d, r, a = row["direct_instructions"], row["reuse_instructions"], row["instructions"]
    return "direct" if abs(a - d) <= abs(a - r) else "reuse"


def mcu_bench_int8(blob: bytes, target: str = "cortex-m4", x: np.ndarray | None = None, timeout: float = 300.0,
                   build_root: Path | None = None, compare_paths: bool = True, ram_limit: int = 0,
                   kernels: str = "opt", profile: bool = False) -> dict[str, Any]:
    """Cortex-M figures of an int8 blob: the default path choice (`instructions`) and, with
    compare_paths, every LinRep conv forced to the direct path and to template reuse; every firmware with
    lr_set_ram_limit(ram_limit) (0: the default, the least arena; -1: no limit). kernels: the runtime's int8
    kernels, "opt" (the default build) or "ref" (LR_KERNELS=ref: the reference kernels only; the host library
    the outputs are compared with is that build's too). With `profile`, the default run's instructions per
    function too (`profile`: function, instructions, share; run_qemu.function_profile)."""
    with kernel_build(kernels):
        res = _mcu_bench_int8(blob, target, x, timeout, build_root, compare_paths, ram_limit, kernels, profile)
    return res


def _mcu_bench_int8(blob: bytes, target: str, x: np.ndarray | None, timeout: float, build_root: Path | None,
                    compare_paths: bool, ram_limit: int, kernels: str, profile: bool = False) -> dict[str, Any]:
    if target not in TARGETS_INT8:
        raise LinRepError(f"unknown target {target!r}; choose one of {', '.join(TARGETS_INT8)}")
    check_toolchain()
    graph = parse(blob).graph
    if not graph.is_int8:
        raise LinRepError("mcu_bench_int8 needs an int8 model (format version 4)")
    macs = dense_macs(graph)
    x = default_input_i8(blob) if x is None else np.asarray(x, dtype=np.int8)
    from linrep_edge.runtime.binding import build_tag

    root = build_root or RUNTIME_DIR / "build" / "mcu" / f"{target}-int8-bench{build_tag(kernels)}"
    lr = _firmware_i8(blob, x, target, "-O2", root / "auto", timeout, ram_limit=ram_limit, profile=profile)
    forced = {}
    if compare_paths:  # in the default run's folder: one runtime build (the path and RAM limit: the workload header's)
        for path in ("direct", "reuse"):
            forced[path] = _firmware_i8(blob, x, target, "-O2", root / "auto", timeout, conv_path=path,
                                        ram_limit=ram_limit)
    unlimited = {}
    if ram_limit == 0 and compare_paths:  # what RAM buys: the fastest plan beside the least arena's (lr_init's default)
        fw = _firmware_i8(blob, x, target, "-O2", root / "auto", timeout, ram_limit=-1)
        unlimited = {"unlimited_instructions": fw["instructions"], "unlimited_ram_bytes": _ram_bytes(fw),
                     "unlimited_arena_bytes": fw["arena_bytes"], "unlimited_matches_host": fw["matches_host"]}
    size_os = _firmware_i8(blob, x, target, "-Os", root / "auto-Os", timeout, run=False, ram_limit=ram_limit)
    size_ops = _firmware_i8(blob, x, target, "-Os", root / "auto-Os-ops", timeout, run=False, ram_limit=ram_limit,
                            blob_ops=True)
    run_stack = lr["stack_painted_bytes"] or 0
    stack = max(run_stack, lr["init_stack_bytes"])  # lr_init runs once at boot, on the same stack
    layers = []
    for k, name in enumerate(lr["op_names"]):
        conv = lr["op_conv"][k]
        row = {"op": k, "name": name, "type": lr["op_types"][k],
               "op_type": graph.ops[k].type if k < len(graph.ops) else "", "path": conv["path"],
               "instructions": lr["segments"][k]["instructions"]}
        for path, fw in forced.items():
            row[f"{path}_instructions"] = fw["segments"][k]["instructions"]
        if row["path"] in ("direct", "reuse") and len(forced) == 2:
            row["path"] = device_path(row)
        if k in macs:
            row["dense_macs"] = macs[k]
            row["instructions_per_mac"] = round(row["instructions"] / macs[k], 3) if macs[k] else None
        layers.append(row)
    # with either kernel set (inside kernel_build): with LR_KERNELS=ref the smallest builds there are
    one_path = {**_one_path_build(blob, x, target, root, timeout, ram_limit, layers),
                **_minimal_build(blob, x, target, root, timeout, ram_limit, layers, profile)}
    total_macs = sum(macs.values())
    mac_instructions = sum(L["instructions"] for L in layers if "dense_macs" in L)
    lower = lr["activation_lower_bound_bytes"]
    return {
        "target": target, "board": lr["board"], "opt": "-O2", "dtype": "int8", "kernels": kernels,
        "ram_limit": ram_limit,
        "runtime_code_bytes": size_os["runtime_code_bytes"], "runtime_code_bytes_o2": lr["runtime_code_bytes"],
        "runtime_code_bytes_blob_ops": size_ops["runtime_code_bytes"],
        "runtime_support_code_bytes": size_os["runtime_support_code_bytes"],
        "runtime_support_objects": size_os["runtime_support_objects"],
        "runtime_objects": size_os["runtime_objects"], "runtime_objects_o2": lr["runtime_objects"],
        "weights_flash_bytes": len(blob),
        "arena_bytes": lr["arena_bytes"], "stack_bytes": stack, "run_stack_bytes": run_stack,
        "init_stack_bytes": lr["init_stack_bytes"], "ram_bytes": lr["arena_bytes"] + stack,
        "activation_lower_bound_bytes": lower, "ram_over_lower_bound_bytes": lr["arena_bytes"] + stack - lower,
        "static_data_bytes": lr["code_objects"]["linked"]["data"] + lr["code_objects"]["linked"]["bss"],
        "instructions": lr["instructions"],
        "dense_macs": total_macs, "mac_op_instructions": mac_instructions,
        "instructions_per_dense_mac": round(lr["instructions"] / total_macs, 3) if total_macs else None,
        "mac_op_instructions_per_mac": round(mac_instructions / total_macs, 3) if total_macs else None,
        **{f"{path}_instructions": fw["instructions"] for path, fw in forced.items()},
        **{f"{path}_matches_host": fw["matches_host"] for path, fw in forced.items()},
        **{f"{path}_arena_bytes": fw["arena_bytes"] for path, fw in forced.items()},
        **unlimited,
        "deterministic": bool(lr["deterministic"] and all(fw["deterministic"] for fw in forced.values())),
        "matches_host": lr["matches_host"],
        **one_path,
        **({"profile": lr["profile"]} if profile else {}),
        "layers": layers,
    }


def _paths_used(layers: list[dict[str, Any]]) -> list[str]:
    """The paths the automatic run took on the LinRep convs, sorted."""
    return sorted({L["path"] for L in layers if L["op_type"] == "LINREP_CONV2D"})


def _ram_bytes(fw: dict[str, Any]) -> int:
    """A firmware run's RAM: its arena and the larger of its painted stacks (lr_init's and the inference's)."""
    return fw["arena_bytes"] + max(fw["stack_painted_bytes"] or 0, fw["init_stack_bytes"])


def _one_path_build(blob: bytes, x: np.ndarray, target: str, root: Path, timeout: float, ram_limit: int,
                    layers: list[dict[str, Any]]) -> dict[str, Any]:
    """When every LinRep conv of the automatic run took the same path: the firmware a user would build for this
    blob and setting, its op types (LR_OPS) and only that path (LR_LINREP_PATHS), its code at -Os (and without
    the status texts, LR_STATUS_TEXTS=0: the smallest build), and the same firmware run at -O2 (its instructions,
    RAM and outputs: equal to the host's, as the full build's)."""
    used = _paths_used(layers)
    if len(used) != 1 or used[0] not in LINREP_PATH_BITS:
        return {"blob_linrep_paths": "+".join(used)}
    size = _firmware_i8(blob, x, target, "-Os", root / "auto-Os-ops-path", timeout, run=False, ram_limit=ram_limit,
                        blob_ops=True, linrep_path=used[0])
    bare = _firmware_i8(blob, x, target, "-Os", root / "auto-Os-ops-path-codes", timeout, run=False,
                        ram_limit=ram_limit, blob_ops=True, linrep_path=used[0], status_texts=False)
    fw = _firmware_i8(blob, x, target, "-O2", root / "auto-ops-path", timeout, ram_limit=ram_limit, blob_ops=True,
                      linrep_path=used[0])
    return {"blob_linrep_paths": used[0], "runtime_code_bytes_blob_paths": size["runtime_code_bytes"],
            "runtime_code_bytes_blob_paths_no_texts": bare["runtime_code_bytes"],
            "blob_paths_instructions": fw["instructions"], "blob_paths_ram_bytes": _ram_bytes(fw),
            "blob_paths_matches_host": fw["matches_host"]}


def _minimal_build(blob: bytes, x: np.ndarray, target: str, root: Path, timeout: float, ram_limit: int,
                   layers: list[dict[str, Any]], profile: bool = False) -> dict[str, Any]:
    """The smallest firmware for this blob and setting: its op types (LR_OPS), its one LinRep path if the
    automatic run took one (LR_LINREP_PATHS), no status texts (LR_STATUS_TEXTS=0) and no planner
    (LR_PLANNER=0: the host's plan for the setting, lr_plan_export, taken with lr_set_plan); its code at -Os,
    and the same firmware run at -O2 (instructions, RAM, outputs equal to the host's, its code at -O2). The -Os
    firmware runs too: a size-optimised build leaves the optimised kernels' fast paths out (LR_OPT_FAST), so the
    code size at -Os comes with its own instruction count (`blob_minimal_instructions_os`), not only the -O2
    build's; and the middle ground, -Os with the fast paths (-DLR_OPT_FAST=1, `export-project --fast-paths`): its
    code, instructions and RAM (`..._os_fast`). With `profile`, the -Os run's instructions per function too
    (`profile_os`: the firmware export-project builds, whose kernels are other code than the -O2 build's)."""
    used = _paths_used(layers)
    path = used[0] if len(used) == 1 and used[0] in LINREP_PATH_BITS else "auto"
    opts: dict[str, Any] = {"conv_path": path, "ram_limit": ram_limit, "blob_ops": True, "linrep_path": path,
                            "status_texts": False, "offline_plan": True}
    size = _firmware_i8(blob, x, target, "-Os", root / "minimal-Os", timeout, profile=profile, **opts)
    mid = _firmware_i8(blob, x, target, "-Os", root / "minimal-Os-fast", timeout, fast_paths=True, **opts)
    fw = _firmware_i8(blob, x, target, "-O2", root / "minimal", timeout, **opts)
    return {"runtime_code_bytes_blob_minimal": size["runtime_code_bytes"], "blob_minimal_linrep_path": path,
            "runtime_code_bytes_blob_minimal_o2": fw["runtime_code_bytes"],
            "runtime_support_code_bytes_blob_minimal": size["runtime_support_code_bytes"],
            "runtime_support_objects_blob_minimal": size["runtime_support_objects"],
            "blob_minimal_instructions": fw["instructions"], "blob_minimal_ram_bytes": _ram_bytes(fw),
            "blob_minimal_matches_host": fw["matches_host"],
            "blob_minimal_instructions_os": size["instructions"], "blob_minimal_ram_bytes_os": _ram_bytes(size),
            "blob_minimal_matches_host_os": size["matches_host"],
            "runtime_code_bytes_blob_minimal_os_fast": mid["runtime_code_bytes"],
            "blob_minimal_instructions_os_fast": mid["instructions"], "blob_minimal_ram_bytes_os_fast": _ram_bytes(mid),
            "blob_minimal_matches_host_os_fast": mid["matches_host"],
            **({"profile_os": size["profile"]} if profile else {})}


def ram_for_speed(r: dict[str, Any]) -> str:
    """mcu-bench's line on the trade lr_set_ram_limit makes: the least arena's run (the default) beside the fastest
    plan's, with the options that choose either."""
    n, fast = r["instructions"], r["unlimited_instructions"]
    if fast >= n:
        return (f"RAM for speed: none to gain, no RAM limit runs in {fast} instructions too (RAM "
                f"{r['unlimited_ram_bytes']} B)")
    return (f"RAM for speed: with no RAM limit {fast} instructions ({n / fast:.2f}x fewer; equal to the host: "
            f"{r['unlimited_matches_host']}) in RAM {r['unlimited_ram_bytes']} B ({r['unlimited_ram_bytes'] - r['ram_bytes']:+d}"
            " B): `export-project --ram-limit -1` (or lr_set_ram_limit(&model, SIZE_MAX) in your firmware), "
            "`mcu-bench --ram-limit BYTES` for a limit in between")


def code_for_speed(r: dict[str, Any]) -> str:
    """mcu-bench's line on the trade the build makes: the smallest firmware at -Os, at -Os with the kernels' fast
    paths (-DLR_OPT_FAST=1) and at -O2, each with its code and instructions, and the options that choose them."""
    base = r["blob_minimal_instructions_os"]
    rows = [("-Os", r["runtime_code_bytes_blob_minimal"], base, r["blob_minimal_matches_host_os"]),
            ("-Os with the fast paths", r["runtime_code_bytes_blob_minimal_os_fast"],
             r["blob_minimal_instructions_os_fast"], r["blob_minimal_matches_host_os_fast"]),
            ("-O2", r["runtime_code_bytes_blob_minimal_o2"], r["blob_minimal_instructions"],
             r["blob_minimal_matches_host"])]
    return ("Code for speed (the smallest build): " + "; ".join(
        f"{name} {code} B, {n} instructions" + (f" ({base / n:.2f}x fewer)" if n != base else "")
        + ("" if ok else " [NOT equal to the host]") for name, code, n, ok in rows)
        + ": `export-project` builds -Os, `--fast-paths` the middle one (-DLR_OPT_FAST=1), `make OPT=-O2` the last")


def format_result_int8(r: dict[str, Any]) -> str:
    out = [f"{r['target']} ({r['board']}), int8 model (lr_run_i8), {r.get('kernels', 'opt')} kernels, "
           f"runtime built {r['opt']}; "
           "counts are executed instructions (QEMU TCG plugin), not cycles",
           f"weights in flash: {r['weights_flash_bytes']} B; instructions / inference: {r['instructions']}"
           + (f" ({r['instructions_per_dense_mac']} per dense-equivalent MAC of its convs and linear layers, "
              f"{r['dense_macs']} MACs; those ops alone {r['mac_op_instructions']}, "
              f"{r['mac_op_instructions_per_mac']} per MAC)" if r.get("dense_macs") else ""),
           f"RAM: arena {r['arena_bytes']} B + stack {r['stack_bytes']} B = {r['ram_bytes']} B (painted: lr_init "
           f"{r['init_stack_bytes']} B, inference {r['run_stack_bytes']} B); int8 activation lower bound "
           f"{r['activation_lower_bound_bytes']} B (+{r['ram_over_lower_bound_bytes']} B)",
           f"runtime code: {r['runtime_code_bytes']} B at -Os, {r['runtime_code_bytes_o2']} B at -O2"
           + (f", {r['runtime_code_bytes_blob_ops']} B at -Os with only this blob's op types (LR_OPS)"
              if "runtime_code_bytes_blob_ops" in r else "")
           + (f", {r['runtime_code_bytes_blob_paths']} B with only its LinRep path too (LR_LINREP_PATHS: "
              f"{r['blob_linrep_paths']}; {r['runtime_code_bytes_blob_paths_no_texts']} B without the status texts, "
              f"LR_STATUS_TEXTS=0; that firmware {r['blob_paths_instructions']} instructions, "
              f"RAM {r['blob_paths_ram_bytes']} B, equal to the host: {r['blob_paths_matches_host']})"
              if "runtime_code_bytes_blob_paths" in r else "")
           + (f"; smallest build {r['runtime_code_bytes_blob_minimal']} B at -Os (its ops, LinRep path "
              f"{r['blob_minimal_linrep_path']}, no status texts, the plan made offline: LR_PLANNER=0), "
              + (f"run at -Os {r['blob_minimal_instructions_os']} instructions, RAM {r['blob_minimal_ram_bytes_os']} B, "
                 f"equal to the host: {r['blob_minimal_matches_host_os']}; at -O2 "
                 f"{r['runtime_code_bytes_blob_minimal_o2']} B, " if "blob_minimal_instructions_os" in r else "")
              + f"{r['blob_minimal_instructions']} instructions, RAM {r['blob_minimal_ram_bytes']} B, equal to the "
              f"host: {r['blob_minimal_matches_host']}" if "runtime_code_bytes_blob_minimal" in r else "")
           + "; outputs equal "
           f"the host C runtime bit for bit: {r['matches_host']}; repeat runs identical: {r['deterministic']}"]
    if "blob_minimal_instructions_os_fast" in r:
        out.append(code_for_speed(r))
    if "unlimited_instructions" in r:
        out.append(ram_for_speed(r))
    paths = [p for p in ("direct", "reuse") if f"{p}_instructions" in r]
    if paths:
        out.append("LinRep convs forced to one path: " + ", ".join(
            f"{p} {r[f'{p}_instructions']} (equals host: {r[f'{p}_matches_host']})" for p in paths))
    out += ["", f"{'op':>3} {'name':<22} {'path':<7} {'instructions':>13} {'per MAC':>8}"
            + "".join(f" {p:>13}" for p in paths)]
    names = column_names([L["name"] or L.get("op_type", "") for L in r["layers"]], 22)
    for L, name in zip(r["layers"], names):
        per = L.get("instructions_per_mac")
        out.append(f"{L['op']:>3} {name:<22} {L['path']:<7} {L['instructions']:>13} "
                   f"{'' if per is None else f'{per:.2f}':>8}" + "".join(f" {L[f'{p}_instructions']:>13}" for p in paths))
    out += _profiles(r)
    return "\n".join(out)


def _profiles(r: dict[str, Any]) -> list[str]:
    """The --profile tables of a result: the -O2 run's, then the -Os firmware's (profile_os), if measured."""
    return format_profile(r) + format_profile(r, key="profile_os",
                                              build="the smallest firmware at -Os, as export-project builds it")


SIDE_BY_SIDE = (("instructions / inference", "instructions"), ("per dense-equivalent MAC", "instructions_per_dense_mac"),
                ("convs + linear, instructions", "mac_op_instructions"),
                ("convs + linear, per MAC", "mac_op_instructions_per_mac"),
                ("runtime code -Os (B)", "runtime_code_bytes"), ("runtime code -O2 (B)", "runtime_code_bytes_o2"),
                ("runtime code -Os, blob's ops (B)", "runtime_code_bytes_blob_ops"),
                ("  and its one LinRep path (B)", "runtime_code_bytes_blob_paths"),
                ("  and no status texts (B)", "runtime_code_bytes_blob_paths_no_texts"),
                ("smallest: + offline plan (B)", "runtime_code_bytes_blob_minimal"),
                ("  its instructions at -Os", "blob_minimal_instructions_os"),
                ("  -Os + fast paths: code (B)", "runtime_code_bytes_blob_minimal_os_fast"),
                ("  -Os + fast paths: instructions", "blob_minimal_instructions_os_fast"),
                ("  at -O2: code (B)", "runtime_code_bytes_blob_minimal_o2"),
                ("  at -O2: instructions", "blob_minimal_instructions"),
                ("RAM: arena + stack (B)", "ram_bytes"),
                ("no RAM limit: instructions", "unlimited_instructions"),
                ("no RAM limit: RAM (B)", "unlimited_ram_bytes"), ("flash: the blob (B)", "weights_flash_bytes"),
                ("equal to the host", "matches_host"))


def format_side_by_side(results: list[dict[str, Any]]) -> str:
    """Several targets' mcu-bench results of one blob: the figures side by side, then instructions per op."""
    w = 16
    out = [f"{'':<34}" + "".join(f"{r['target']:>{w}}" for r in results)]
    for label, key in SIDE_BY_SIDE:
        out.append(f"{label:<34}" + "".join(f"{str(r.get(key, '-')):>{w}}" for r in results))
    out += ["", f"{'op':>3} {'name':<22} {'MACs':>10}" + "".join(f"{r['target']:>{w}}" for r in results)]
    names = column_names([L["name"] or L.get("op_type", "") for L in results[0]["layers"]], 22)
    for k, (L, name) in enumerate(zip(results[0]["layers"], names)):
        out.append(f"{L['op']:>3} {name:<22} {L.get('dense_macs', ''):>10}"
                   + "".join(f"{str(r['layers'][k]['instructions']) + ' ' + r['layers'][k]['path'][:1]:>{w}}"
                             for r in results))
    out.append("(path: d direct, r template reuse, - not a LinRep conv)")
    for r in results:
        out += _profiles(r)
    return "\n".join(out)
