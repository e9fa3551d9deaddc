"""`linrep-edge mcu-bench`: the packed model on Cortex-M under QEMU, beside its dense fp32 twin.

For one real input, builds the bench firmware (runtime_c/mcu) twice — once embedding the .lre blob,
once the same network with dense fp32 weights (`densify`) — runs both under QEMU with the project's
TCG plugin, and reports: executed instructions (exact and repeatable; instructions, not cycles) in
total and per op, the runtime's own code size at -Os and -O2 (built for the blob's kind only, as a firmware
that runs it needs; and at -Os with everything compiled in), flash bytes of each blob, RAM as arena +
painted stack, the activation lower bound, and whether the firmware's outputs equal the host C
runtime's bit for bit.
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from linrep_edge.errors import LinRepError
from linrep_edge.format.export_c import blob_to_c_header
from linrep_edge.format.writer import pack_graph
from linrep_edge.format.reader import parse
from linrep_edge.format.text import column_names

ROOT = Path(__file__).resolve().parent.parent.parent
RUNTIME_DIR = ROOT / "runtime_c"
MCU_DIR = RUNTIME_DIR / "mcu"
TARGETS = ("cortex-m4", "cortex-m7", "cortex-m33")
RUNTIME_OBJECTS = ("runtime/*.o",)  # the runtime library's objects in a firmware build directory
APT_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi qemu-system-arm"


def check_toolchain() -> None:
    missing = [t for t in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm", "gcc") if not shutil.which(t)]
    if missing:
        raise LinRepError(f"missing {', '.join(missing)}: install with `apt-get install {APT_PACKAGES}`")
    if not (MCU_DIR / "run_qemu.py").exists():
        raise LinRepError(f"{MCU_DIR} not found: mcu-bench runs from a checkout of the linrep-edge repository")


@functools.cache
def _driver() -> ModuleType:
    """runtime_c/mcu/run_qemu.py (the firmware build-and-run driver), imported from the checkout."""
    spec = importlib.util.spec_from_file_location("lr_run_qemu", MCU_DIR / "run_qemu.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def model_header(blob: bytes, x: np.ndarray, arena_bytes: int, output_len: int, conv_path: str = "auto") -> str:
    """The generated header model_workload.c includes: blob, one input, arena and output sizes, and
    the conv path the firmware sets with lr_set_conv_path (LR_BENCH_CONV_PATH)."""
    from linrep_edge.runtime.binding import CONV_PATHS

    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    bits = flat.view(np.uint32)
    lines = [blob_to_c_header(blob, "bench_blob", "linrep-edge mcu-bench"),
        "/* One input, as exact float bit patterns. */",
        f"#define LR_BENCH_INPUT_LEN {flat.size}u",
        f"#define LR_BENCH_OUTPUT_LEN {output_len}u",
        f"#define LR_BENCH_ARENA_BYTES {arena_bytes}u",
        f"#define LR_BENCH_CONV_PATH {CONV_PATHS[conv_path]} /* lr_conv_path: {conv_path} */",
        "static const union { unsigned int u[LR_BENCH_INPUT_LEN]; float f[LR_BENCH_INPUT_LEN]; } lr_bench_input_ = {{",
    ]
    for i in range(0, bits.size, 8):
        lines.append("  " + ", ".join(f"0x{b:08x}u" for b in bits[i:i + 8]) + ",")
    lines += ["}};", "#define lr_bench_input (lr_bench_input_.f)", ""]
    return "\n".join(lines)


LINREP_PATH_BITS = {"direct": 1, "reuse": 2}  # -DLR_LINREP_PATHS=<mask> (linrep.h); "auto": both, no define


def has_wide_planes(graph: Any) -> bool:
    """Whether the graph holds a conv the wide padded-plane kernel takes (linrep.h, LR_PLANE_WIDE): CONV2D or
    LINREP_CONV2D with one input channel per group and 5- or 7-wide kernels (the 5 x 5 / 7 x 7 depthwise convs)."""
    for op in graph.ops:
        if op.type in ("CONV2D", "LINREP_CONV2D") and op.kernel[1] in (5, 7):
            if graph.tensors[op.inputs[0]].shape[0] == op.groups:
                return True
    return False


def has_tflite_mean(graph: Any) -> bool:
    """Whether the graph holds TFLite's int8 MEAN (an ADAPTIVE_AVG_POOL2D with one multiplier; linrep.h,
    LR_TFLITE_MEAN): only an imported .tflite does."""
    return any(op.type == "ADAPTIVE_AVG_POOL2D" and op.iparams is not None and len(op.iparams.multiplier) == 1
               for op in graph.ops)


def runtime_defines(is_int8: bool, graph: Any = None, linrep_path: str = "auto", status_texts: bool = True,
                    planner: bool = True, fast_paths: bool = False) -> str:
    """The runtime build options (runtime.mk's LR_DEFINES) of a firmware that runs one kind of blob:
    only that kind's run path is compiled in (fp32: -DLR_INT8=0; int8: -DLR_FP32=0); given the blob's
    `graph`, only its op types too (-DLR_OPS=<mask>, linrep.h), and without the wide padded-plane kernel if it has
    no 5- or 7-wide depthwise conv (-DLR_PLANE_WIDE=0), without TFLite's int8 MEAN if it has none (-DLR_TFLITE_MEAN=0); with `linrep_path` "direct" or "reuse", only
    that LinRep conv path (-DLR_LINREP_PATHS); without `status_texts`, lr_status_str's texts are left out
    (-DLR_STATUS_TEXTS=0); without `planner`, the memory planner (-DLR_PLANNER=0: an offline plan, lr_set_plan);
    with `fast_paths`, the optimised kernels' shape-specific fast paths even at -Os (-DLR_OPT_FAST=1)."""
    from linrep_edge.format.ops_mask import ops_define

    if linrep_path != "auto" and linrep_path not in LINREP_PATH_BITS:
        raise LinRepError(f"LinRep path {linrep_path!r}: choose auto, direct or reuse")
    out = ["-DLR_FP32=0" if is_int8 else "-DLR_INT8=0"]
    if graph is not None:
        out.append(ops_define(graph))
        if is_int8 and not has_wide_planes(graph):
            out.append("-DLR_PLANE_WIDE=0")
        if is_int8 and not has_tflite_mean(graph):
            out.append("-DLR_TFLITE_MEAN=0")
    if linrep_path != "auto":
        out.append(f"-DLR_LINREP_PATHS={LINREP_PATH_BITS[linrep_path]}u")
    if not status_texts:
        out.append("-DLR_STATUS_TEXTS=0")
    if not planner:
        out.append("-DLR_PLANNER=0")
    if fast_paths:
        out.append("-DLR_OPT_FAST=1")
    return " ".join(out)


def arena_for_any_plan(blob: bytes, where: str = "blob", ram_limit: int = 0) -> int:
    """The static arena a firmware of an int8 `blob` needs whatever paths its core's cost model picks (its
    constants differ per core, so the device's AUTO plan may differ from the host's): the largest lr_arena_size
    of AUTO and of each forced path (each op's scratch is placed on its own, so no mix of paths needs more); a
    path the model cannot take is skipped (the device's AUTO never takes it either). lr_set_ram_limit(ram_limit)
    on each when non-zero. With a limit (ram_limit >= 0; 0: the least arena) no more than lr_set_ram_limit's own
    bound, whatever the core: max(ram_limit, the least arena the model runs in), which no cost model changes
    (the planner's first pass places every op's least scratch, lr_plan.c) -- a forced reuse path's scratch (the
    maximum above) would make a least-arena firmware's static arena several times what it uses."""
    from linrep_edge.runtime.binding import CRuntime

    if ram_limit >= 0:
        least = CRuntime(blob, where, conv_path="auto").arena_bytes  # lr_init's default for an int8 model: limit 0
        return min(arena_for_any_plan(blob, where, -1), max(ram_limit, least))
    arena = 0
    for path in ("auto", *LINREP_PATH_BITS):
        try:
            rt = CRuntime(blob, where, conv_path=path)
            if ram_limit:
                rt.set_ram_limit(ram_limit)
        except LinRepError:
            if path == "auto":
                raise
            continue
        arena = max(arena, rt.arena_bytes)
    return arena


def write_if_changed(path: Path, text: str) -> None:
    """Write `text` to `path` unless it holds it already (make then keeps what was built from it)."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def build_firmware(drv: Any, target: str, opt: str, workload: Path, header_text: str, build: Path,
                   defines: str | None, run: bool, timeout: float, what: str, profile: bool = False,
                   repeat: int = 2) -> dict[str, Any]:
    """Build the bench firmware of `workload` and its generated header (`header_text`, written to
    build/lr_bench_model.h) in build/fw (and, when run, run it `repeat` times under QEMU; with `profile`, the first
    run also counts instructions per function: "profile"); the report gains the runtime's own code as linked: the
    archive members that survived --gc-sections (fw.map). The whole of it holds `build`'s lock (build_lock): two
    processes benching into one folder (two `mcu-bench` runs, two test workers) take turns instead of building and
    running each other's header. A build or run failure is one LinRepError naming `what` and the target."""
    from linrep_edge.runtime.build_lock import build_lock

    build.mkdir(parents=True, exist_ok=True)
    with build_lock(build):
        header = build / "lr_bench_model.h"
        write_if_changed(header, header_text)
        return _build_firmware(drv, target, opt, [workload, header], build / "fw", defines, run, timeout, what,
                               profile, repeat)


def _build_firmware(drv: Any, target: str, opt: str, srcs: list[Path], out: Path, defines: str | None, run: bool,
                    timeout: float, what: str, profile: bool, repeat: int) -> dict[str, Any]:
    try:
        if not run:
            drv.build(target, opt, srcs, "", out, defines=defines)
            rep: dict[str, Any] = {}
        else:
            rep = drv.measure(target, opt, srcs, "", out, code_objects=RUNTIME_OBJECTS,
                              timeout=timeout, repeat=repeat, defines=defines, profile=profile)
    except drv.McuError as exc:
        raise LinRepError(f"{what} for {target}: {exc}") from None
    objs = drv.select_objects(out, RUNTIME_OBJECTS)
    linked = drv.objects_linked_sizes(out / "fw.map", objs)
    rep["runtime_code_bytes"] = linked["text"] + linked["rodata"]
    rep["runtime_objects"] = drv.archive_member_sizes(out / "fw.map", f"liblinrep_{target}.a")
    # the C library / libgcc code linked because the runtime calls it (not in runtime_code_bytes)
    support = drv.support_member_sizes(out / "fw.map", f"liblinrep_{target}.a")
    rep["runtime_support_objects"] = {k: v["text"] + v["rodata"] for k, v in support.items()}
    rep["runtime_support_code_bytes"] = sum(rep["runtime_support_objects"].values())
    if run and (rep.get("exit_code") != 0 or rep.get("instructions") is None):
        raise LinRepError(f"{what} for {target} failed (exit {rep.get('exit_code')}): "
                          f"{rep.get('fault') or ' '.join(rep.get('stdout', [])[-3:])}")
    return rep


def _firmware(blob: bytes, x: np.ndarray, target: str, opt: str, build: Path, timeout: float,
              run: bool = True, conv_path: str = "auto", all_in: bool = False, profile: bool = False,
              blob_ops: bool = False) -> dict[str, Any]:
    """Build (and run) the bench firmware of `blob`; its runtime is built for the blob's kind
    (runtime_defines), with blob_ops for the blob's op types only (LR_OPS, as `export-project` builds it), or with
    everything compiled in when all_in."""
    from linrep_edge.runtime.binding import CRuntime

    drv = _driver()
    rt = CRuntime(blob, conv_path=conv_path)
    defines = "" if all_in else runtime_defines(rt.is_int8, parse(blob).graph if blob_ops else None)
    text = model_header(blob, x, rt.arena_bytes, rt.output_size, conv_path)
    # The workload and its model header only: the firmware links the runtime as the static library
    # liblinrep_<target>.a that runtime_c/mcu/Makefile builds from runtime_c/runtime.mk.
    rep = build_firmware(drv, target, opt, MCU_DIR / "model_workload.c", text, build, defines, run, timeout,
                         "firmware", profile)
    if not run:
        return rep
    fw = rep["firmware"]
    host_out = np.concatenate([o.reshape(-1) for o in rt.run_all(x[None])])  # every output, in order
    dev = np.array([int(fw[f"out{i}"], 16) for i in range(rt.output_size)], dtype=np.uint32)
    rep["matches_host"] = bool(np.array_equal(dev, host_out.view(np.uint32)))
    rep["arena_bytes"] = int(fw["arena_bytes"])
    rep["init_stack_bytes"] = int(fw["init_stack_bytes"])
    rep["activation_lower_bound_bytes"] = int(fw["activation_lower_bound_bytes"])
    rep["op_names"] = [rt.op_info(k)[1] for k in range(rt.num_ops)]
    rep["op_conv"] = [rt.op_conv_info(k) for k in range(rt.num_ops)]
    return rep


def model_header_i8(blob: bytes, x: np.ndarray, arena_bytes: int, output_len: int, conv_path: str = "auto",
                    ram_limit: int = 0, plan: np.ndarray | None = None) -> str:
    """The generated header model_workload_i8.c includes: blob, one int8 input, arena and output sizes, the
    settings (ram_limit: lr_set_ram_limit's bytes, 0 the default least arena, -1 no limit), and with `plan` an
    offline memory plan (bench_plan, BENCH_PLAN_WORDS: taken instead of the settings)."""
    from linrep_edge.format.export_c import plan_to_c
    from linrep_edge.runtime.binding import CONV_PATHS

    flat = np.ascontiguousarray(x, dtype=np.int8).reshape(-1)
    lines = [blob_to_c_header(blob, "bench_blob", "linrep-edge mcu int8"),
             "/* One int8 input. */",
             f"#define LR_BENCH_INPUT_LEN {flat.size}u",
             f"#define LR_BENCH_OUTPUT_LEN {output_len}u",
             f"#define LR_BENCH_ARENA_BYTES {arena_bytes}u",
             f"#define LR_BENCH_CONV_PATH {CONV_PATHS[conv_path]} /* lr_conv_path: {conv_path} */",
             f"#define LR_BENCH_RAM_LIMIT {0xFFFFFFFF if ram_limit < 0 else ram_limit}u /* lr_set_ram_limit */",
             *([plan_to_c(plan, "bench_plan")] if plan is not None else []),
             "static const int8_t lr_bench_input_i8[LR_BENCH_INPUT_LEN] = {"]
    for i in range(0, flat.size, 16):
        lines.append("  " + ", ".join(str(int(v)) for v in flat[i:i + 16]) + ",")
    lines += ["};", ""]
    return "\n".join(lines)


def mcu_run_int8(blob: bytes, x: np.ndarray, target: str = "cortex-m3", conv_path: str = "auto",
                 timeout: float = 300.0, build_root: Path | None = None) -> dict[str, Any]:
    """Run an int8 model (format version 4) once under QEMU with lr_run_i8 (model_workload_i8.c, -O2):
    its int8 outputs (concatenated), whether they equal the host's lr_run_i8 bit for bit, the
    instructions executed, the arena. cortex-m3 is the FPU-less core (mps2-an385)."""
    from linrep_edge.runtime.binding import CRuntime

    check_toolchain()
    drv = _driver()
    rt = CRuntime(blob, conv_path=conv_path)
    if not rt.is_int8:
        raise LinRepError("mcu_run_int8 needs an int8 model (format version 4)")
    build = (build_root or RUNTIME_DIR / "build" / "mcu" / f"{target}-int8") / conv_path
    text = model_header_i8(blob, x, rt.arena_bytes, rt.output_size, conv_path)
    rep = build_firmware(drv, target, "-O2", MCU_DIR / "model_workload_i8.c", text, build, runtime_defines(True),
                         True, timeout, "int8 firmware", repeat=1)
    fw = rep["firmware"]
    dev = np.array([int(fw[f"out{i}"]) for i in range(rt.output_size)], dtype=np.int8)
    host = np.concatenate([o.reshape(-1) for o in rt.run_int8(np.asarray(x, dtype=np.int8))])
    return {"target": target, "board": rep["board"], "outputs": dev, "matches_host": bool(np.array_equal(dev, host)),
            "instructions": rep["instructions"], "arena_bytes": int(fw["arena_bytes"]),
            "init_stack_bytes": int(fw["init_stack_bytes"]), "stack_painted_bytes": rep["stack_painted_bytes"]}


def default_input(blob: bytes) -> np.ndarray:
    """A real test image for default-model blobs, else a seeded normal input of the right shape."""
    g = parse(blob).graph
    shape = g.tensors[g.input].shape
    if g.metadata.get("source") == "default":
        from linrep_edge.datasets import load_fashion_mnist

        return load_fashion_mnist().test.x[0].numpy()
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def mcu_bench(blob: bytes, target: str = "cortex-m4", x: np.ndarray | None = None, timeout: float = 120.0,
              build_root: Path | None = None, compare_paths: bool = True, profile: bool = False) -> dict[str, Any]:
    """Cortex-M figures of `blob` beside its dense fp32 twin. The LinRep firmware runs the default
    path choice (lr_init's LR_PATH_AUTO: `instructions`); with compare_paths also every LinRep conv
    forced to the direct path (`direct_instructions`) and to template reuse (`reuse_instructions`),
    per layer too, each with the path AUTO chose (`path`). With `profile`, that inference's instructions
    per function too (`profile`, run_qemu.function_profile)."""
    if target not in TARGETS:
        raise LinRepError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    check_toolchain()
    from linrep_edge.graph.densify import densify

    dense = pack_graph(densify(parse(blob).graph))
    x = default_input(blob) if x is None else x
    root = build_root or RUNTIME_DIR / "build" / "mcu" / target
    lr = _firmware(blob, x, target, "-O2", root / "linrep", timeout, profile=profile)
    # the dense twin and the forced paths in the same folder: one runtime build (what differs is the workload's
    # header), their code sizes unused
    dn = _firmware(dense, x, target, "-O2", root / "linrep", timeout)
    forced = {}
    if compare_paths:
        for path in ("direct", "reuse"):
            forced[path] = _firmware(blob, x, target, "-O2", root / "linrep", timeout, conv_path=path)
    size_os = _firmware(blob, x, target, "-Os", root / "linrep-Os", timeout, run=False)
    size_ops = _firmware(blob, x, target, "-Os", root / "linrep-Os-ops", timeout, run=False, blob_ops=True)
    size_all = _firmware(blob, x, target, "-Os", root / "linrep-Os-all-in", timeout, run=False, all_in=True)
    run_stack = lr["stack_painted_bytes"] or 0
    stack = max(run_stack, lr["init_stack_bytes"])  # lr_init runs once at boot, on the same stack
    layers = []
    for k, name in enumerate(lr["op_names"]):
        conv = lr["op_conv"][k]
        row = {"op": k, "name": name, "path": conv["path"], "instructions": lr["segments"][k]["instructions"],
               "dense_instructions": dn["segments"][k]["instructions"]}
        for path, fw in forced.items():
            row[f"{path}_instructions"] = fw["segments"][k]["instructions"]
        if conv["reuse_cost"]:  # LinRep convs: the cost model's figures
            row["model"] = {key: conv[key] for key in ("templates_used", "kernels", "direct_cost", "reuse_cost")}
        layers.append(row)
    return {
        "target": target, "board": lr["board"], "opt": "-O2",
        # this firmware's runtime (built for the blob's kind, runtime_defines: every op type of that kind) at -Os and
        # -O2, the same with the blob's op types only (LR_OPS, what export-project builds) at -Os, and the runtime
        # with everything compiled in (fp32 and int8) at -Os
        "runtime_code_bytes": size_os["runtime_code_bytes"], "runtime_code_bytes_o2": lr["runtime_code_bytes"],
        "runtime_code_bytes_blob_ops": size_ops["runtime_code_bytes"],
        "runtime_code_bytes_all_in": size_all["runtime_code_bytes"],
        # C library / libgcc code the -Os firmware links on the runtime's behalf (runtime_support_objects)
        "runtime_support_code_bytes": size_os["runtime_support_code_bytes"],
        "runtime_support_objects": size_os["runtime_support_objects"],
        # per member of liblinrep_<target>.a that the firmware links (text/rodata/data/bss after --gc-sections)
        "runtime_objects": size_os["runtime_objects"], "runtime_objects_o2": lr["runtime_objects"],
        "weights_flash_bytes": len(blob), "dense_weights_flash_bytes": len(dense),
        "arena_bytes": lr["arena_bytes"], "stack_bytes": stack, "run_stack_bytes": run_stack,
        "init_stack_bytes": lr["init_stack_bytes"], "ram_bytes": lr["arena_bytes"] + stack,
        "dense_ram_bytes": dn["arena_bytes"] + max(dn["stack_painted_bytes"] or 0, dn["init_stack_bytes"]),
        "activation_lower_bound_bytes": lr["activation_lower_bound_bytes"],
        "static_data_bytes": lr["code_objects"]["linked"]["data"] + lr["code_objects"]["linked"]["bss"],
        "stack_usage_max_frame": lr["stack_usage_max_frame_code_objects"],
        **({"profile": lr["profile"]} if profile else {}),
        "instructions": lr["instructions"], "dense_instructions": dn["instructions"],
        "instructions_ratio_vs_dense": lr["instructions"] / dn["instructions"],
        **{f"{path}_instructions": fw["instructions"] for path, fw in forced.items()},
        **{f"{path}_matches_host": fw["matches_host"] for path, fw in forced.items()},
        **{f"{path}_arena_bytes": fw["arena_bytes"] for path, fw in forced.items()},
        "deterministic": bool(lr["deterministic"] and dn["deterministic"]
                              and all(fw["deterministic"] for fw in forced.values())),
        "matches_host": lr["matches_host"], "dense_matches_host": dn["matches_host"],
        "layers": layers,
    }


def format_profile(r: dict[str, Any], top: int = 15, key: str = "profile", build: str = "") -> list[str]:
    """The `--profile` lines of a result: its `top` functions by instructions in the measured inference (the
    list under `key`; `build` names the firmware when it is not the headline one)."""
    prof = r.get(key)
    if not prof:
        return []
    where = f"{r['target']}, {build}" if build else r["target"]
    out = ["", f"instructions per function in the inference ({where}; per translated block, summed by the "
               f"function it starts in; {len(prof)} functions ran):", f"{'function':<44} {'instructions':>13} {'share':>7}"]
    for row in prof[:top]:
        out.append(f"{row['function'][:44]:<44} {row['instructions']:>13} {100 * row['share']:>6.1f}%")
    rest = sum(row["instructions"] for row in prof[top:])
    if rest:
        out.append(f"{f'({len(prof) - top} more)':<44} {rest:>13}")
    return out


def format_result(r: dict[str, Any]) -> str:
    out = [f"{r['target']} ({r['board']}), runtime built {r['opt']}; counts are executed instructions "
           "(QEMU TCG plugin), not cycles",
           f"{'':<28} {'linrep-edge':>14} {'dense fp32':>14}",
           f"{'weights in flash (bytes)':<28} {r['weights_flash_bytes']:>14} {r['dense_weights_flash_bytes']:>14}",
           f"{'instructions / inference':<28} {r['instructions']:>14} {r['dense_instructions']:>14}",
           f"{'RAM: arena + stack (bytes)':<28} {r['ram_bytes']:>14} {r['dense_ram_bytes']:>14}",
           f"runtime code: {r['runtime_code_bytes']} B at -Os, {r['runtime_code_bytes_o2']} B at -O2 (this "
           f"model's kind only), {r['runtime_code_bytes_blob_ops']} B at -Os with this model's op types only "
           f"(LR_OPS), {r['runtime_code_bytes_all_in']} B at -Os with everything compiled in; "
           f"stack {r['stack_bytes']} B (painted: lr_init {r['init_stack_bytes']} B, "
           f"inference {r['run_stack_bytes']} B); activation lower bound {r['activation_lower_bound_bytes']} B",
           f"instructions vs dense: {r['instructions_ratio_vs_dense']:.3f}x; outputs equal the host C runtime bit for "
           f"bit: {r['matches_host']} (dense: {r['dense_matches_host']}); repeat runs identical: {r['deterministic']}",
           ]
    objs = sorted(r.get("runtime_objects", {}).items(), key=lambda kv: -(kv[1]["text"] + kv[1]["rodata"]))
    if objs:
        out.append(f"runtime objects linked at -Os (code+rodata bytes; liblinrep_{r['target']}.a): " + ", ".join(
            f"{name} {v['text'] + v['rodata']}" for name, v in objs))
    paths = [p for p in ("direct", "reuse") if f"{p}_instructions" in r]
    if paths:
        out.append("LinRep convs forced to one path: " + ", ".join(
            f"{p} {r[f'{p}_instructions']} ({r[f'{p}_instructions'] / r['dense_instructions']:.3f}x dense, "
            f"equals host: {r[f'{p}_matches_host']})" for p in paths))
    out += ["", f"{'op':>3} {'name':<22} {'path':<7} {'instructions':>13} {'dense':>13}"
            + "".join(f" {p:>13}" for p in paths)]
    for L, name in zip(r["layers"], column_names([L["name"] for L in r["layers"]], 22)):
        out.append(f"{L['op']:>3} {name:<22} {L['path']:<7} {L['instructions']:>13} {L['dense_instructions']:>13}"
                   + "".join(f" {L[f'{p}_instructions']:>13}" for p in paths))
    out += format_profile(r)
    return "\n".join(out)
