#!/usr/bin/env python3
"""Build a Cortex-M benchmark firmware, run it under QEMU, report JSON.

Stdlib only.  Importable: ``build()``, ``build_plugin()``, ``run()`` and
``measure()`` are the entry points; the CLI wraps ``measure()``.

Figures are *instructions* executed (counted by the TCG plugin
icount_plugin.so between the entries of lr_bench_begin and lr_bench_end),
never cycles: QEMU models no pipeline or memory timing.

    python3 run_qemu.py --target cortex-m4 --opt=-Os
    python3 run_qemu.py --target cortex-m33 --opt=-O2 \
        --app-src model_workload.c --app-src lr_bench_model.h \
        --code-objects 'runtime/*.o' --repeat 2

The firmware always links the runtime as a static library, built by the Makefile from
runtime_c/runtime.mk into BUILD/runtime/ (objects beside liblinrep_<target>.a). Linked sizes of its
members are read from fw.map, where each is named ``.../liblinrep_<target>.a(member.o)``: a member
counts as the object of that name beside the archive.
"""
from __future__ import annotations

import argparse
import bisect
import dataclasses
import fnmatch
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

MCU_DIR = Path(__file__).resolve().parent
CROSS = "arm-none-eabi-"
QEMU = "qemu-system-arm"
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_CODE_OBJECTS = ("app/*.o",)
SIZE_KEYS = ("text", "rodata", "data", "bss")


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    board: str
    cpu: str


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("cortex-m3", "mps2-an385", "cortex-m3"),  # no FPU: int8 models (lr_run_i8)
        Target("cortex-m4", "mps2-an386", "cortex-m4"),
        Target("cortex-m7", "mps2-an500", "cortex-m7"),
        Target("cortex-m33", "mps2-an505", "cortex-m33"),
    )
}


class McuError(RuntimeError):
    """A build, tool or QEMU step failed; the message says which and why."""


@dataclasses.dataclass
class QemuResult:
    exit_code: int
    stdout_lines: list[str]
    stderr: str
    plugin_lines: list[str]
    wall_s: float


# ---------------------------------------------------------------- tools


def _tool(cmd: Sequence[str], timeout: float = 600.0, cwd: Path | None = None) -> str:
    """Run a command, return stdout; raise McuError with its stderr on failure."""
    try:
        proc = subprocess.run(
            list(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False,
        )
    except FileNotFoundError as exc:
        raise McuError(f"tool not found: {cmd[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise McuError(f"{cmd[0]} did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise McuError(
            f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def _target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError as exc:
        raise McuError(f"unknown target {name!r}; use one of {sorted(TARGETS)}") from exc


def default_build_dir(target: str, opt: str) -> Path:
    return MCU_DIR / "build" / f"{target}{opt}"


def plugin_path() -> Path:
    return MCU_DIR / "build" / "icount_plugin.so"


# ---------------------------------------------------------------- build


def build_plugin(timeout: float = 300.0) -> Path:
    """Build (if stale) the host QEMU plugin and return its path. Two processes asking at once (two test
    workers) build it one after the other: an exclusive flock on build/.build.lock (POSIX hosts)."""
    lock_dir = plugin_path().parent
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".build.lock", "a") as lock:
        try:
            import fcntl

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        except ImportError:  # not POSIX: no lock
            pass
        _tool(["make", "-s", "-C", str(MCU_DIR), "plugin"], timeout=timeout)
    return plugin_path()


def build(
    target: str = "cortex-m4",
    opt: str = "-Os",
    app_srcs: Iterable[str | Path] = (),
    app_cflags: str = "",
    build_dir: str | Path | None = None,
    stack_size: int | None = None,
    timeout: float = 600.0,
    defines: str | None = None,
) -> Path:
    """Build the firmware with runtime_c/mcu/Makefile and return the ELF path.

    app_srcs: the workload's .c files (one defines bench_workload) and any
    headers they depend on; empty means the placeholder workload.  Relative
    paths are taken from the current directory.  defines: the runtime
    library's build options (runtime.mk's LR_DEFINES, e.g. "-DLR_INT8=0");
    "": everything compiled in; None: make's (the environment's LR_DEFINES).
    """
    _target(target)
    out = Path(build_dir) if build_dir is not None else default_build_dir(target, opt)
    out = out.resolve()
    srcs = " ".join(str(Path(s).resolve()) for s in app_srcs)
    cmd = [
        "make", "-s", "-C", str(MCU_DIR), f"TARGET={target}", f"OPT={opt}",
        f"BUILD={out}", f"APP_SRCS={srcs}", f"APP_CFLAGS={app_cflags}",
    ]
    if defines is not None:
        cmd.append(f"LR_DEFINES={defines}")
    if stack_size is not None:
        cmd.append(f"STACK_SIZE={stack_size}")
    _tool(cmd, timeout=timeout)
    return out / "fw.elf"


# ---------------------------------------------------------------- symbols


def marker_addresses(elf: Path) -> dict[str, int]:
    """Entry addresses of the lr_bench_* markers (Thumb bit cleared)."""
    wanted = {"lr_bench_begin": "begin", "lr_bench_end": "end", "lr_bench_mark": "mark"}
    found: dict[str, int] = {}
    for line in _tool([CROSS + "nm", str(elf)]).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in wanted and parts[1] in "Tt":
            found[wanted[parts[2]]] = int(parts[0], 16) & ~1
    for key in ("begin", "end"):
        if key not in found:
            raise McuError(f"{elf}: no symbol lr_bench_{key} (is bench_main.c linked?)")
    return found


def function_profile(elf: Path, blocks: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
    """Instructions per function from the plugin's per-block counts (profile=1: first address, instructions,
    executions of every block run in the window): each block is charged to the function symbol (nm: t/T, sized)
    that holds its first address, or to "?" outside every symbol. Sorted by instructions, largest first; each
    row with its share of the sum."""
    funcs: list[tuple[int, int, str]] = []
    for line in _tool([CROSS + "nm", "-S", "--defined-only", str(elf)]).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "Tt":
            funcs.append((int(parts[0], 16) & ~1, int(parts[1], 16), parts[3]))
    funcs.sort()
    starts = [f[0] for f in funcs]
    per: dict[str, int] = {}
    for addr, n, execs in blocks:
        i = bisect.bisect_right(starts, addr) - 1
        name = funcs[i][2] if i >= 0 and addr < funcs[i][0] + max(funcs[i][1], 1) else "?"
        per[name] = per.get(name, 0) + n * execs
    total = sum(per.values()) or 1
    return [{"function": k, "instructions": v, "share": round(v / total, 4)}
            for k, v in sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))]


# ---------------------------------------------------------------- QEMU


def qemu_command(target: str, elf: Path, plugin_arg: str | None) -> list[str]:
    t = _target(target)
    cmd = [
        QEMU, "-machine", t.board, "-cpu", t.cpu, "-nographic",
        "-monitor", "none", "-serial", "none",
        "-semihosting-config", "enable=on,target=native",
        "-kernel", str(elf),
    ]
    if plugin_arg is not None:
        cmd += ["-plugin", plugin_arg]
    return cmd


def run_qemu(
    target: str, elf: Path, timeout: float = DEFAULT_TIMEOUT_S, plugin: Path | None = None, profile: bool = False
) -> QemuResult:
    """Run the firmware once; with a plugin, count instructions between markers (with profile, per block too)."""
    with tempfile.TemporaryDirectory(prefix="lr_icount_") as tmp:
        out_file = Path(tmp) / "icount.txt"
        plugin_arg = None
        if plugin is not None:
            addrs = marker_addresses(elf)
            args = [f"{k}={v:#x}" for k, v in sorted(addrs.items())]
            plugin_arg = ",".join([str(plugin), *args, f"out={out_file}", *(["profile=1"] if profile else [])])
        cmd = qemu_command(target, elf, plugin_arg)
        start = time.monotonic()
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout,
                stdin=subprocess.DEVNULL, check=False,
            )
        except FileNotFoundError as exc:
            raise McuError(f"{QEMU} not found") from exc
        except subprocess.TimeoutExpired as exc:
            partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
            raise McuError(
                f"QEMU did not exit within {timeout:.0f} s (firmware hung or workload too "
                f"long; raise --timeout). Command: {' '.join(cmd)}\nstdout so far:\n{partial}"
            ) from exc
        wall = time.monotonic() - start
        plugin_lines = out_file.read_text().splitlines() if out_file.exists() else []
    return QemuResult(
        exit_code=proc.returncode,
        stdout_lines=proc.stdout.splitlines(),
        stderr=proc.stderr,
        plugin_lines=plugin_lines,
        wall_s=round(wall, 3),
    )


def parse_plugin_output(lines: Iterable[str]) -> dict[str, Any]:
    """Parse 'icount key=value ...' lines into totals, segments and errors."""
    result: dict[str, Any] = {"segments": [], "errors": [], "warnings": []}
    for line in lines:
        if not line.startswith("icount "):
            continue
        fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        if "tb" in fields:  # profile=1: a block, its instructions, its executions in the window
            result.setdefault("blocks", []).append((int(fields["tb"], 16), int(fields["n"]), int(fields["execs"])))
        elif "segment" in fields:
            result["segments"].append(int(fields["n"]))
        elif "error" in fields:
            result["errors"].append(fields["error"])
        elif "warning" in fields:
            result["warnings"].append(line)
        else:
            for key in ("total", "windows", "all"):
                if key in fields:
                    result[key] = int(fields[key])
    return result


def parse_firmware_stdout(lines: Iterable[str]) -> dict[str, str]:
    """key=value lines printed by bench_main.c (and the workload)."""
    values: dict[str, str] = {}
    for line in lines:
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)", line.strip())
        if m:
            values[m.group(1)] = m.group(2)
    return values


def label_segments(counts: list[int], fw: dict[str, str]) -> list[dict[str, Any]]:
    """Segment i ends at the i-th lr_bench_mark(layer) call; the last at lr_bench_end."""
    layers = [int(x) for x in fw.get("mark_layers", "").split(",") if x]
    out: list[dict[str, Any]] = []
    for i, n in enumerate(counts):
        seg: dict[str, Any] = {"index": i, "instructions": n}
        if i < len(counts) - 1:
            seg["ends_at"] = "mark"
            seg["layer"] = layers[i] if i < len(layers) else None
        else:
            seg["ends_at"] = "end"
        out.append(seg)
    return out


def run(
    elf: str | Path,
    target: str = "cortex-m4",
    timeout: float = DEFAULT_TIMEOUT_S,
    plugin: Path | None = None,
    repeat: int = 1,
    profile: bool = False,
) -> dict[str, Any]:
    """Run the firmware `repeat` times under QEMU with the icount plugin.

    Returns exit code, firmware key=values and stdout, instruction total and
    segments; `deterministic` is False if repeated runs disagreed. With
    `profile`, the first run also counts per block: "profile" (function_profile).
    """
    elf = Path(elf)
    plugin = plugin if plugin is not None else build_plugin()
    runs = [run_qemu(target, elf, timeout, plugin, profile=profile and i == 0) for i in range(max(1, repeat))]
    first = runs[0]
    icount = parse_plugin_output(first.plugin_lines)
    totals = [parse_plugin_output(r.plugin_lines).get("total") for r in runs]
    seg_lists = [parse_plugin_output(r.plugin_lines)["segments"] for r in runs]
    fw = parse_firmware_stdout(first.stdout_lines)
    return {
        "target": target,
        "board": TARGETS[target].board,
        "cpu": TARGETS[target].cpu,
        "elf": str(elf),
        "exit_code": first.exit_code,
        "exit_codes": [r.exit_code for r in runs],
        "instructions": icount.get("total") if not icount["errors"] else None,
        "instructions_runs": totals,
        "deterministic": all(t == totals[0] for t in totals)
        and all(s == seg_lists[0] for s in seg_lists),
        "instructions_whole_program": icount.get("all"),
        "windows": icount.get("windows"),
        "segments": label_segments(icount["segments"], fw),
        "plugin_errors": icount["errors"] + icount["warnings"],
        "firmware": fw,
        "stdout": first.stdout_lines,
        "stderr": first.stderr.splitlines(),
        "fault": next((ln for ln in first.stderr.splitlines() if ln.startswith("FAULT")), None),
        "qemu_wall_s": [r.wall_s for r in runs],
        **({"profile": function_profile(elf, icount.get("blocks", []))} if profile else {}),
    }


# ---------------------------------------------------------------- sizes


def classify_section(name: str) -> str | None:
    """Map an ELF/object section name to text, rodata, data or bss (else None)."""
    if name.startswith((".text", ".vectors", ".ARM.exidx", ".ARM.extab", ".init", ".fini",
                        ".glue_7", ".vfp11_veneer", ".v4_bx")):
        if name.startswith((".init_array", ".fini_array")):
            return "rodata"
        return "text"
    if name.startswith((".rodata", ".preinit_array")):
        return "rodata"
    if name.startswith(".data"):
        return "data"
    if name.startswith((".bss", "COMMON")):
        return "bss"
    return None


def _empty_sizes() -> dict[str, int]:
    return {k: 0 for k in SIZE_KEYS}


def section_sizes(path: Path) -> dict[str, int]:
    """text/rodata/data/bss of an ELF or object, from `arm-none-eabi-size -A`."""
    sizes = _empty_sizes()
    for line in _tool([CROSS + "size", "-A", str(path)]).splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            kind = classify_section(parts[0])
            if kind is not None:
                sizes[kind] += int(parts[1])
    return sizes


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def select_objects(build_dir: Path, patterns: Sequence[str]) -> list[Path]:
    """Objects under build_dir whose path relative to it matches a glob."""
    objs = sorted(build_dir.rglob("*.o"))
    return [o for o in objs if any(fnmatch.fnmatch(_rel(o, build_dir), p) for p in patterns)]


_MAP_ONE_LINE = re.compile(r"^ (\.\S+|COMMON)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_MAP_NAME_ONLY = re.compile(r"^ (\.\S+|COMMON)\s*$")
_MAP_CONT = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")


def linked_sizes_from_map(map_file: Path) -> dict[str, dict[str, int]]:
    """Per input file, the sizes of the sections that survived --gc-sections."""
    per_file: dict[str, dict[str, int]] = {}
    in_memory_map = False
    pending: str | None = None
    for line in map_file.read_text(errors="replace").splitlines():
        if not in_memory_map:
            in_memory_map = line.startswith("Linker script and memory map")
            continue
        name, size, owner = None, 0, ""
        m = _MAP_ONE_LINE.match(line)
        if m:
            name, size, owner = m.group(1), int(m.group(3), 16), m.group(4)
        elif pending is not None and (c := _MAP_CONT.match(line)):
            name, size, owner = pending, int(c.group(2), 16), c.group(3)
        pending = None
        if name is None:
            n = _MAP_NAME_ONLY.match(line)
            pending = n.group(1) if n else None
            continue
        kind = classify_section(name)
        if kind is not None and size:
            per_file.setdefault(owner.strip(), _empty_sizes())[kind] += size
    return per_file


_ARCHIVE_MEMBER = re.compile(r"^(.*\.a)\(([^()/]+)\)$")


def _owner_object(owner: str) -> str:
    """The object a map-file owner stands for: itself, or for an archive member
    ``dir/lib.a(member.o)`` the object ``dir/member.o`` the archive was built from."""
    m = _ARCHIVE_MEMBER.match(owner)
    path = Path(m.group(1)).parent / m.group(2) if m else Path(owner)
    return str(path.resolve())


def objects_linked_sizes(map_file: Path, objs: Sequence[Path]) -> dict[str, int]:
    """Sum of the linked (post-gc) sizes contributed by the given objects, linked directly or as
    members of an archive built beside them."""
    per_file = linked_sizes_from_map(map_file)
    wanted = {str(o.resolve()) for o in objs}
    total = _empty_sizes()
    for owner, sizes in per_file.items():
        if _owner_object(owner) in wanted:
            for k in SIZE_KEYS:
                total[k] += sizes[k]
    return total


def archive_member_sizes(map_file: Path, archive_glob: str = "liblinrep_*.a") -> dict[str, dict[str, int]]:
    """Per member of the archives whose file name matches `archive_glob`, the sizes (text, rodata, data,
    bss) of its sections that survived --gc-sections, from the map file: the runtime's code size per
    object as a firmware links it. Members the linker did not take are absent."""
    out: dict[str, dict[str, int]] = {}
    for owner, sizes in linked_sizes_from_map(map_file).items():
        m = _ARCHIVE_MEMBER.match(owner)
        if m and fnmatch.fnmatch(Path(m.group(1)).name, archive_glob):
            row = out.setdefault(m.group(2), _empty_sizes())
            for k in SIZE_KEYS:
                row[k] += sizes[k]
    return dict(sorted(out.items()))


def support_member_sizes(map_file: Path, archive_glob: str = "liblinrep_*.a") -> dict[str, dict[str, int]]:
    """The C library and libgcc members (memcpy, soft-float, division, libm routines) the linker took in on a
    reference from a member of the archives matching `archive_glob`, or from a member so taken in; per member
    (``libgcc.a(_udivmoddi4.o)``), its linked sizes. The map names only the reference that first pulled a member
    in, so a routine the application had pulled in already counts as the application's. Members whose every
    section --gc-sections dropped (referenced only from unreachable code) are left out."""
    pulled: list[tuple[str, str]] = []  # (member, the file whose reference pulled it in)
    member: str | None = None
    lines = map_file.read_text(errors="replace").splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("Archive member included")), len(lines))
    for line in lines[start:]:
        if line.startswith(("Discarded input sections", "Memory Configuration", "Allocating common symbols")):
            break
        if not line.strip():
            continue
        parts = line.split()
        if not line[0].isspace():
            member, parts = parts[0], parts[1:]
        if member is not None and parts:  # "file (symbol)"
            pulled.append((member, " ".join(parts[:-1]) if len(parts) > 1 else parts[0]))
            member = None

    def runtime(owner: str) -> bool:
        m = _ARCHIVE_MEMBER.match(owner)
        return bool(m) and fnmatch.fnmatch(Path(m.group(1)).name, archive_glob)

    taken: set[str] = set()
    grew = True
    while grew:
        grew = False
        for mem, by in pulled:
            if mem not in taken and not runtime(mem) and (runtime(by) or by in taken):
                taken.add(mem)
                grew = True
    sizes = linked_sizes_from_map(map_file)
    out: dict[str, dict[str, int]] = {}
    for mem in taken:
        m = _ARCHIVE_MEMBER.match(mem)
        if any(sizes.get(mem, _empty_sizes()).values()):  # members whose every section --gc-sections dropped: none
            out[f"{Path(m.group(1)).name}({m.group(2)})" if m else mem] = sizes[mem]
    return dict(sorted(out.items()))


def top_symbols(objs: Sequence[Path], count: int = 15) -> list[dict[str, Any]]:
    """Largest symbols of the objects, from `nm -S --size-sort`."""
    if not objs:
        return []
    syms: list[dict[str, Any]] = []
    out = _tool([CROSS + "nm", "-S", "--size-sort", *map(str, objs)])
    current = ""
    for line in out.splitlines():
        if line.endswith(":") and " " not in line.strip():
            current = Path(line[:-1]).name
            continue
        parts = line.split()
        if len(parts) == 4:
            syms.append({"object": current or Path(objs[0]).name, "symbol": parts[3],
                         "type": parts[2], "bytes": int(parts[1], 16)})
    syms.sort(key=lambda s: (-s["bytes"], s["symbol"]))
    return syms[:count]


# ---------------------------------------------------------------- stack


def parse_stack_usage(su_files: Iterable[Path]) -> list[dict[str, Any]]:
    """Rows of -fstack-usage files: file:line:col:function<TAB>bytes<TAB>qualifier."""
    rows: list[dict[str, Any]] = []
    for su in su_files:
        for line in su.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) != 3:
                continue
            where, nbytes, qualifier = parts
            rows.append({"function": where.rsplit(":", 1)[-1], "where": where,
                         "bytes": int(nbytes), "qualifier": qualifier})
    return rows


def max_frame(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return max(rows, key=lambda r: r["bytes"]) if rows else None


# ---------------------------------------------------------------- all together


def measure(
    target: str = "cortex-m4",
    opt: str = "-Os",
    app_srcs: Iterable[str | Path] = (),
    app_cflags: str = "",
    build_dir: str | Path | None = None,
    code_objects: Sequence[str] = DEFAULT_CODE_OBJECTS,
    timeout: float = DEFAULT_TIMEOUT_S,
    repeat: int = 1,
    do_build: bool = True,
    stack_size: int | None = None,
    defines: str | None = None,
    profile: bool = False,
) -> dict[str, Any]:
    """Build, run and size one firmware; returns the report as a dict (defines: as in build(); profile: as in
    run())."""
    bdir = (Path(build_dir) if build_dir is not None else default_build_dir(target, opt)).resolve()
    if do_build:
        elf = build(target, opt, app_srcs, app_cflags, bdir, stack_size, defines=defines)
    else:
        elf = bdir / "fw.elf"
        if not elf.exists():
            raise McuError(f"{elf} does not exist (build it first or drop --no-build)")
    report = run(elf, target, timeout, build_plugin(), repeat, profile=profile)
    report["opt"] = opt
    image = section_sizes(elf)
    report["image"] = {**image, "flash": image["text"] + image["rodata"] + image["data"],
                       "ram_static": image["data"] + image["bss"]}
    objs = select_objects(bdir, code_objects)
    raw = _empty_sizes()
    for o in objs:
        for k, v in section_sizes(o).items():
            raw[k] += v
    report["code_objects"] = {
        "patterns": list(code_objects),
        "files": [_rel(o, bdir) for o in objs],
        "linked": objects_linked_sizes(bdir / "fw.map", objs),
        "unlinked": raw,
        "top_symbols": top_symbols(objs),
    }
    fw = report["firmware"]
    report["stack_painted_bytes"] = int(fw["stack_painted_bytes"]) if "stack_painted_bytes" in fw else None
    report["stack_depth_bytes"] = int(fw["stack_depth_bytes"]) if "stack_depth_bytes" in fw else None
    report["heap_workload_bytes"] = int(fw["heap_workload_bytes"]) if "heap_workload_bytes" in fw else None
    su_all = parse_stack_usage(sorted(bdir.rglob("*.su")))
    su_sel = parse_stack_usage(o.with_suffix(".su") for o in objs if o.with_suffix(".su").exists())
    report["stack_usage_max_frame"] = max_frame(su_all)
    report["stack_usage_max_frame_code_objects"] = max_frame(su_sel)
    report["stack_usage_unbounded"] = [r["function"] for r in su_all if r["qualifier"] != "static"]
    return report


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="cortex-m4", choices=sorted(TARGETS))
    p.add_argument("--opt", default="-Os", help="-Os or -O2 (write --opt=-O2)")
    p.add_argument("--app-src", action="append", default=[],
                   help="workload .c/.h file (repeatable); none: placeholder workload")
    p.add_argument("--app-cflags", default="", help="extra CFLAGS for the app sources")
    p.add_argument("--build-dir", default=None, help="build directory (default build/TARGET-OPT)")
    p.add_argument("--code-objects", action="append", default=None,
                   help="glob, relative to the build dir, of the objects to size "
                        "(repeatable; default app/*.o)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="QEMU timeout, s")
    p.add_argument("--repeat", type=int, default=1, help="run N times, check counts agree")
    p.add_argument("--stack-size", type=lambda s: int(s, 0), default=None)
    p.add_argument("--no-build", action="store_true", help="use the existing fw.elf")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    a = _parse_args(argv)
    try:
        report = measure(
            target=a.target, opt=a.opt, app_srcs=a.app_src, app_cflags=a.app_cflags,
            build_dir=a.build_dir, code_objects=a.code_objects or DEFAULT_CODE_OBJECTS,
            timeout=a.timeout, repeat=a.repeat, do_build=not a.no_build, stack_size=a.stack_size,
        )
    except McuError as exc:
        print(f"run_qemu: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    ok = report["exit_code"] == 0 and report["deterministic"] and not report["plugin_errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
