"""`linrep-edge export-project`: the folder builds with CMake and with plain make, for the host and for a
Cortex-M4F, and its demo runs one inference (on the M4F under QEMU mps2-an386) whose output equals the host
C runtime's bit for bit: PASS and exit status 0. A wrong expected output gives FAIL and exit status 1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from needs import need
from torch import nn

from linrep_edge.pipeline import PackSettings, pack_model
from linrep_edge.runtime.project import RUNTIME_DIR, runtime_build

ARM_TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")
APT = "apt-get install cmake gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi qemu-system-arm"


class Net(nn.Module):
    """Conv, depthwise, residual add, ReLU6, pooling and a linear head: ops the C runtime has today."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.c1(x))
        x = x + nn.functional.relu6(self.pw(self.dw(x)))
        return self.fc(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


@pytest.fixture(scope="module")
def blob_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    res = pack_model(Net().eval(), torch.zeros(1, 3, 16, 16), PackSettings(templates=8, cap_templates=True),
                     "net", show_progress=False)
    path = tmp_path_factory.mktemp("blob") / "net.lre"
    path.write_bytes(res.blob)
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linrep_edge.cli", *args], capture_output=True, text=True)


def _export(blob_file: Path, target: str, out: Path, *extra: str) -> dict:
    proc = _cli("export-project", str(blob_file), "--target", target, "-o", str(out), "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _run(cmd: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _build(project: Path, tool: str) -> Path:
    """Build the demo with `tool` (cmake or make) in a build folder of its own; return the demo's path."""
    if tool == "cmake":
        build = project / "build-cmake"
        for cmd in (["cmake", "-S", str(project), "-B", str(build)], ["cmake", "--build", str(build), "-j2"]):
            proc = _run(cmd)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert list(build.glob("liblinrep_*.a")), "no library built"
        elf = build / "lre_demo.elf"
        return elf if elf.exists() else build / "lre_demo"
    proc = _run(["make", "-C", str(project), "-j2"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    elf = project / "build" / "lre_demo.elf"
    return elf if elf.exists() else project / "build" / "lre_demo"


def _qemu(elf: Path) -> subprocess.CompletedProcess:
    """The QEMU command line of runtime_c/mcu/run_qemu.py (semihosting: printf and the exit status)."""
    return _run(["qemu-system-arm", "-machine", "mps2-an386", "-cpu", "cortex-m4", "-nographic", "-monitor", "none",
                 "-serial", "none", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)], timeout=60)


@pytest.mark.parametrize("tool", ["cmake", "make"])
def test_host_project_builds_and_passes(blob_file, tmp_path, tool):
    need(shutil.which(tool) is not None and shutil.which("cc") is not None, tool, "apt-get install cmake gcc make")
    project = tmp_path / "host"
    summary = _export(blob_file, "host", project)
    assert summary["identifier"] == "lre_net" and summary["board"] is None
    # only this blob's op types are compiled in (LR_OPS), and the model runs in that library
    from linrep_edge.format.ops_mask import ops_mask
    from linrep_edge.format.reader import parse

    mask = ops_mask(parse(blob_file.read_bytes()).graph)
    written = (project / ("CMakeLists.txt" if tool == "cmake" else "Makefile")).read_text()
    assert f"-DLR_OPS=0x{mask:X}u" in written
    demo = _build(project, tool)
    proc = _run([str(demo)])
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", ["direct", "reuse"])
def test_host_project_with_one_linrep_path(blob_file, tmp_path, path):
    """`--linrep-path`: the project compiles in that LinRep path only (LR_LINREP_PATHS), its expected output is the
    host's on that path, and the demo passes; an fp32 model with pruned kernels cannot run reuse only. The direct
    project is also built without the status texts (--no-status-texts: -DLR_STATUS_TEXTS=0), as the smallest
    firmware would be: it passes, and its lr_status_str gives "" (the demo prints codes); the reuse project with
    the memory plan made on the host (--offline-plan: model/<name>_plan.h, -DLR_PLANNER=0) passes too."""
    need(shutil.which("make") is not None and shutil.which("cc") is not None, "make", "apt-get install gcc make")
    project = tmp_path / path
    codes_only = ["--no-status-texts"] if path == "direct" else []
    offline = ["--offline-plan"] if path == "reuse" else []
    proc = _cli("export-project", str(blob_file), "--target", "host", "-o", str(project), "--linrep-path", path,
                *codes_only, *offline, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["linrep_path"] == path
    assert json.loads(proc.stdout)["offline_plan"] is bool(offline)
    assert json.loads(proc.stdout)["status_texts"] is not bool(codes_only)
    makefile = (project / "Makefile").read_text()
    assert f"-DLR_LINREP_PATHS={1 if path == 'direct' else 2}u" in makefile
    assert ("-DLR_STATUS_TEXTS=0" in makefile) is bool(codes_only)
    assert ("-DLR_PLANNER=0" in makefile) is bool(offline)  # the reuse project: the plan made here, no planner
    assert (project / "model" / "lre_net_plan.h").exists() is bool(offline)
    assert ("lr_set_plan(" in (project / "main.c").read_text()) is bool(offline)
    demo = _build(project, "make")
    proc = _run([str(demo)])
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout + proc.stderr
    if codes_only:  # the project's own library, its status texts left out
        probe = project / "probe.c"
        probe.write_text('#include <stdio.h>\n#include "linrep.h"\nint main(void) { printf("[%s][%s]\\n", '
                         'lr_status_str(LR_OK), lr_status_str(LR_ERR_CRC)); return 0; }\n')
        lib = next(project.rglob("liblinrep*.a"))
        subprocess.run(["cc", "-std=c99", "-I", str(project / "linrep" / "include"), "-o", str(project / "probe"),
                        str(probe), str(lib), "-lm"], check=True, capture_output=True, text=True)
        assert _run([str(project / "probe")]).stdout.strip() == "[][]"
    if path == "reuse":
        torch.manual_seed(0)
        res = pack_model(Net().eval(), torch.zeros(1, 3, 16, 16),
                         PackSettings(templates=8, cap_templates=True, prune_sparsity=0.3), "net", show_progress=False)
        pruned = tmp_path / "pruned.lre"
        pruned.write_bytes(res.blob)
        proc = _cli("export-project", str(pruned), "--target", "host", "-o", str(tmp_path / "p"), "--linrep-path",
                    "reuse")
        assert proc.returncode == 2 and "pruned kernels" in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "p").exists()


def test_ops_mask_is_the_op_types_the_c_runtime_reads(blob_file):
    """The Python side's LR_OPS mask (from the graph IR) against the op types lr_op_info reports."""
    from linrep_edge.format.ops_mask import ops_define, ops_mask
    from linrep_edge.format.reader import parse
    from linrep_edge.runtime.binding import CRuntime

    blob = blob_file.read_bytes()
    rt = CRuntime(blob)
    c_mask = 0
    for k in range(rt.num_ops):
        c_mask |= 1 << rt.op_info(k)[0]
    g = parse(blob).graph
    assert ops_mask(g) == c_mask and bin(c_mask).count("1") >= 5
    assert ops_define(g) == f"-DLR_OPS=0x{c_mask:X}u"


@pytest.mark.parametrize("tool", ["cmake", "make"])
def test_cortex_m4_project_builds_and_passes_under_qemu(blob_file, tmp_path, tool):
    need(all(shutil.which(t) for t in ARM_TOOLS) and shutil.which(tool) is not None, "the ARM toolchain or QEMU", APT)
    project = tmp_path / "m4"
    # the CMake project with the memory plan made on the host (-O2 library) for a -Os runtime without a planner
    summary = _export(blob_file, "cortex-m4", project, *(["--offline-plan"] if tool == "cmake" else []))
    assert summary["board"] == "mps2-an386" and summary["offline_plan"] is (tool == "cmake")
    elf = _build(project, tool)
    assert elf.suffix == ".elf"
    proc = _qemu(elf)
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout + proc.stderr
    # .bss has a program header of its own (load address in RAM): a segment loaded at a FLASH address never has
    # more memory than file bytes, or QEMU's loader zero-fills FLASH after the image -- up into the FLASH mirror
    # at 0x00400000, over the code, once image + arena pass 4 MB (a 224 x 224 MobileNetV2 locked up)
    heads = _run([shutil.which("arm-none-eabi-readelf") or "arm-none-eabi-readelf", "-lW", str(elf)]).stdout
    loads = [line.split() for line in heads.splitlines() if line.strip().startswith("LOAD")]
    assert len(loads) >= 2 and any(int(f[3], 16) >= 0x20000000 and int(f[4], 16) == 0 for f in loads), heads
    for f in loads:  # LOAD offset vaddr paddr filesz memsz ...
        if int(f[3], 16) < 0x20000000:
            assert int(f[5], 16) == int(f[4], 16), heads
    if tool == "make":  # issue 18 item 3: the runtime's code size per archive member, as linked (mcu-bench's figures)
        from linrep_edge.runtime.mcu import _driver

        sizes = _driver().archive_member_sizes(project / "build" / "lre_demo.map", "liblinrep_cortex-m4.a")
        assert {"lr_run.o", "lr_verify.o", "lr_conv2d_f32_ref.o"} <= set(sizes), sorted(sizes)
        assert all(v["text"] > 0 for v in sizes.values())


class Heads(nn.Module):
    """A detector's shape: one trunk, three heads of different sizes (a class map, boxes, landmarks)."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Conv2d(3, 8, 3, padding=1)
        self.cls = nn.Conv2d(8, 2, 1)
        self.box = nn.Conv2d(8, 4, 3, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = torch.relu(self.trunk(x))
        return torch.softmax(self.cls(x), 1), self.box(x), self.fc(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


def test_several_outputs_project_and_header(tmp_path):
    """A model with several outputs: export-project checks every output (one after the other, as lr_run writes
    them) and passes; the header's NAME_OUTPUT_SIZE is their total, NAME_OUTPUT_COUNT and NAME_OUTPUTk_SIZE /
    _OFFSET / _SHAPE agree with what the C runtime says of the same blob (a probe built on the project's library);
    export-c writes the same macros."""
    need(shutil.which("make") is not None and shutil.which("cc") is not None, "make", "apt-get install gcc make")
    torch.manual_seed(0)
    res = pack_model(Heads().eval(), torch.zeros(1, 3, 8, 8), PackSettings(templates=8, cap_templates=True), "heads",
                     show_progress=False)
    blob = tmp_path / "heads.lre"
    blob.write_bytes(res.blob)
    project = tmp_path / "p"
    summary = _export(blob, "host", project)
    assert summary["output_shapes"] == [[2, 8, 8], [4, 8, 8], [10]] and summary["output_shape"] == [2, 8, 8]
    proc = _run([str(_build(project, "make"))])
    assert proc.returncode == 0 and "PASS" in proc.stdout and "(3 output tensors)" in proc.stdout, proc.stdout
    probe = project / "probe.c"
    probe.write_text("""#include <stdio.h>
#include "linrep.h"
#include "lre_heads.h"
static const int32_t shape1[] = LRE_HEADS_OUTPUT1_SHAPE;
int main(void) {
    static lr_model m; size_t total = 0, sizes[3], i; unsigned count = 0, rank = 0; int32_t dims[LR_MAX_RANK];
    static const size_t want[3] = {LRE_HEADS_OUTPUT0_SIZE, LRE_HEADS_OUTPUT1_SIZE, LRE_HEADS_OUTPUT2_SIZE};
    static const size_t at[3] = {LRE_HEADS_OUTPUT0_OFFSET, LRE_HEADS_OUTPUT1_OFFSET, LRE_HEADS_OUTPUT2_OFFSET};
    if (lr_init(&m, lre_heads, LRE_HEADS_SIZE) != LR_OK || lr_output_count(&m, &count) != LR_OK) return 2;
    if (lr_output_size(&m, &total) != LR_OK || lr_output_shape_at(&m, 1, dims, &rank) != LR_OK) return 2;
    for (i = 0; i < 3; i++) if (lr_output_size_at(&m, (unsigned)i, &sizes[i]) != LR_OK) return 2;
    printf("%u %u %lu %lu", count, LRE_HEADS_OUTPUT_COUNT, (unsigned long)total, (unsigned long)LRE_HEADS_OUTPUT_SIZE);
    for (i = 0; i < 3; i++) printf(" %lu/%lu@%lu", (unsigned long)sizes[i], (unsigned long)want[i], (unsigned long)at[i]);
    printf(" %u/%u", rank, (unsigned)LRE_HEADS_OUTPUT1_RANK);
    for (i = 0; i < rank; i++) printf(" %ld/%ld", (long)dims[i], (long)shape1[i]);
    printf("\\n");
    return 0;
}
""")
    lib = next(project.rglob("liblinrep*.a"))
    subprocess.run(["cc", "-std=c99", "-I", str(project / "linrep" / "include"), "-I", str(project / "model"), "-o",
                    str(project / "probe"), str(probe), str(lib), "-lm"], check=True, capture_output=True, text=True)
    out = _run([str(project / "probe")])
    assert out.returncode == 0 and out.stdout.split() == [
        "3", "3", "394", "394", "128/128@0", "256/256@128", "10/10@384", "3/3", "4/4", "8/8", "8/8"], out.stdout
    header = tmp_path / "h.h"
    proc = _cli("export-c", str(blob), "-o", str(header), "--name", "lre_heads", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["output_shapes"] == summary["output_shapes"]
    text = header.read_text()
    assert all(line in text for line in (project / "model" / "lre_heads.h").read_text().splitlines()
               if line.startswith("#define LRE_HEADS_OUTPUT"))


class Smooth(nn.Module):
    """The fp32 ops built on exp: sigmoid, tanh, SiLU, softmax over channels and over the classes."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.silu(self.c1(x))
        x = torch.tanh(self.c2(x)) * torch.sigmoid(x)
        x = torch.softmax(x, 1)
        return torch.softmax(self.fc(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)) * 4.0, 1)


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m3"])
def test_fp32_exp_ops_equal_the_host_bit_for_bit_on_the_board(tmp_path, target):
    """The runtime's own exp and tanh (kernels/ref/lr_math_f32_ref.c): with the C libraries' expf / tanhf, newlib's
    and glibc's last bits differ and an fp32 softmax model FAILed on the board. The M4F's FPU and the M3's soft float
    both give the host's bits."""
    need(all(shutil.which(t) for t in ARM_TOOLS) and shutil.which("make") is not None, "the ARM toolchain or QEMU", APT)
    torch.manual_seed(3)
    res = pack_model(Smooth().eval(), torch.zeros(1, 2, 12, 12), PackSettings(templates=8, cap_templates=True,
                     weights_dtype="fp32", codebook_dtype="fp32"), "smooth", show_progress=False)
    blob = tmp_path / "smooth.lre"
    blob.write_bytes(res.blob)
    project = tmp_path / target
    _export(blob, target, project)
    proc = _run(["make", "-C", str(project), "-j2", "run"])
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_reference_kernel_project_is_smaller_and_equal_on_the_board(tmp_path):
    """`--kernels ref` (runtime.mk's LR_KERNELS=ref): the int8 project holds no optimised kernel, builds with
    -DLR_OPT_KERNELS=0, and its Cortex-M4F firmware passes under QEMU (plan and arena from the host library of
    the same kernels) with less runtime code, as linked, than the same project with the optimised kernels.
    `--kernels linrep` (-DLR_OPT_KERNELS=8u): the optimised LinRep kernels only, the blob's conv, linear and ADD
    on their references; its code lies between the two, and it passes on the board too."""
    need(all(shutil.which(t) for t in ARM_TOOLS) and shutil.which("make") is not None, "the ARM toolchain or QEMU", APT)
    from int8_graphs import build

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.runtime.mcu import _driver

    blob = tmp_path / "i8.lre"
    blob.write_bytes(pack_graph(build("linrep_chain", 1)))
    code = {}
    defines = {"ref": "-DLR_OPT_KERNELS=0", "linrep": "-DLR_OPT_KERNELS=8u", "opt": "-DLR_OPT_KERNELS"}
    for kernels in ("ref", "linrep", "opt"):
        project = tmp_path / kernels
        summary = _export(blob, "cortex-m4", project, "--kernels", kernels, "--offline-plan", "--no-status-texts")
        assert summary["kernels"] == kernels
        opt_sources = [f for f in (project / "linrep").rglob("*.c") if "/kernels/opt/" in f.as_posix()]
        assert bool(opt_sources) is (kernels != "ref")
        assert (defines[kernels] in (project / "Makefile").read_text()) is (kernels != "opt")
        proc = _run(["make", "-C", str(project), "-j2", "run"])
        assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
        sizes = _driver().archive_member_sizes(project / "build" / "lre_demo.map", "liblinrep_cortex-m4.a")
        opt_linked = {m for m in sizes if "_s8_opt" in m}
        if kernels == "ref":
            assert not opt_linked, sorted(sizes)
        elif kernels == "linrep":
            assert "lr_linrep_conv2d_reuse_s8_opt.o" in opt_linked or "lr_linrep_conv2d_direct_s8_opt.o" in opt_linked
            assert not opt_linked & {"lr_add_s8_opt.o", "lr_linear_s8_opt.o"}, sorted(opt_linked)
        else:
            assert {"lr_add_s8_opt.o", "lr_linear_s8_opt.o"} <= opt_linked, sorted(opt_linked)
        code[kernels] = sum(v["text"] + v["rodata"] for v in sizes.values())
    assert code["ref"] < code["linrep"] < code["opt"], code
    proc = _cli("export-project", str(blob), "-o", str(tmp_path / "bad"), "--kernels", "linrep+dsp")
    assert proc.returncode == 2 and "use opt, ref or a '+'-separated list" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "bad").exists()


def test_fast_paths_project_keeps_the_fast_kernels_at_os(blob_file, tmp_path):
    """`--fast-paths` (-DLR_OPT_FAST=1): the int8 project still builds -Os, with the optimised kernels' shape-specific
    fast paths kept: more runtime code as linked than the same project without the option, and it passes on the
    Cortex-M4F under QEMU (the same bytes as the host). An fp32 blob is refused (it runs none of those kernels).
    The wide padded-plane kernel (5 x 5 / 7 x 7 depthwise convs) is left out of a blob without such convs
    (-DLR_PLANE_WIDE=0: none of its code linked) and kept for one with them, which passes on the board too."""
    need(all(shutil.which(t) for t in ARM_TOOLS) and shutil.which("make") is not None, "the ARM toolchain or QEMU", APT)
    from int8_graphs import build

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.runtime.mcu import _driver

    blob = tmp_path / "i8.lre"
    blob.write_bytes(pack_graph(build("linrep_chain", 1)))
    code = {}
    for fast in (False, True):
        project = tmp_path / f"fast{int(fast)}"
        summary = _export(blob, "cortex-m4", project, *(("--fast-paths",) if fast else ()))
        assert summary["fast_paths"] is fast
        makefile = (project / "Makefile").read_text()
        assert ("-DLR_OPT_FAST=1" in makefile) is fast and "OPT ?= -Os" in makefile
        assert ("-DLR_OPT_FAST=1" in (project / "CMakeLists.txt").read_text()) is fast
        assert ("exported with `--fast-paths`" in (project / "README.md").read_text()) is fast
        proc = _run(["make", "-C", str(project), "-j2", "run"])
        assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
        sizes = _driver().archive_member_sizes(project / "build" / "lre_demo.map", "liblinrep_cortex-m4.a")
        code[fast] = sum(v["text"] + v["rodata"] for v in sizes.values())
    assert code[True] > code[False] + 500, code
    assert "-DLR_PLANE_WIDE=0" in makefile and "lr_plane_wide_s8_opt.o" not in sizes, sorted(sizes)
    wide = tmp_path / "wide.lre"
    wide.write_bytes(pack_graph(build("depthwise_wide", 3)))
    _export(wide, "cortex-m4", tmp_path / "wide", "--fast-paths")
    assert "LR_PLANE_WIDE" not in (tmp_path / "wide" / "Makefile").read_text()
    proc = _run(["make", "-C", str(tmp_path / "wide"), "-j2", "run"])
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    sizes = _driver().archive_member_sizes(tmp_path / "wide" / "build" / "lre_demo.map", "liblinrep_cortex-m4.a")
    assert sizes["lr_plane_wide_s8_opt.o"]["text"] > 1000, sorted(sizes)
    proc = _cli("export-project", str(blob_file), "-o", str(tmp_path / "bad"), "--fast-paths")
    assert proc.returncode == 2 and "--fast-paths" in proc.stderr and "fp32" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "bad").exists()


def test_int8_project_arena_is_what_its_ram_limit_allows(tmp_path):
    """An int8 project's static arena is the arena its plan can use on any core, not more: by default (the least
    arena, lr_init's default) exactly the host's lr_arena_size -- it was the forced reuse path's, 4x that here, 3.3x
    on a user's SE net -- and the firmware uses all of it; `--ram-limit -1` (main.c calls lr_set_ram_limit(&model,
    SIZE_MAX)) the fastest plan's, which the board then runs; `--ram-limit N` at most N; with `--offline-plan` the
    host's plan under that limit (no lr_set_ram_limit call: the plan fixes it). Each passes on the Cortex-M4F (-Os)."""
    need(all(shutil.which(t) for t in ARM_TOOLS) and shutil.which("make") is not None, "the ARM toolchain or QEMU", APT)
    from int8_graphs import build

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.runtime.binding import CRuntime

    blob = tmp_path / "i8.lre"
    blob.write_bytes(pack_graph(build("linrep_chain", 1)))
    least = CRuntime(blob.read_bytes()).arena_bytes
    fast = CRuntime(blob.read_bytes())
    fast.set_ram_limit(-1)
    assert fast.arena_bytes > 2 * least  # the reuse path's scratch: a real trade
    for extra, arena in (((), least), (("--ram-limit", "-1"), fast.arena_bytes), (("--ram-limit", "600"), 600)):
        project = tmp_path / ("p" + "".join(extra))
        summary = _export(blob, "cortex-m4", project, *extra)
        assert summary["arena_bytes"] == arena and summary["ram_limit"] == (int(extra[1]) if extra else None)
        main_c = (project / "main.c").read_text()
        assert "make OPT=-O2" in (project / "README.md").read_text()  # the speed build, beside the -Os default
        assert ("lr_set_ram_limit(&model, SIZE_MAX)" in main_c) is (extra[1:] == ("-1",))
        assert ("lr_set_ram_limit(&model, 600u)" in main_c) is (extra[1:] == ("600",))
        proc = _run(["make", "-C", str(project), "-j2", "run"])
        assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
        used = int(proc.stdout.split(" arena ")[1].split()[0])
        if not extra:  # the least arena: no build or core changes it (every kernel's least scratch is LR_OPT_FAST's)
            assert used == arena, proc.stdout
        else:  # faster plans: room for any core's and build's (the -Os reuse kernel prefers smaller tiles)
            assert least < used <= arena, proc.stdout
    summary = _export(blob, "cortex-m4", tmp_path / "offline", "--ram-limit", "-1", "--offline-plan")
    assert summary["arena_bytes"] > least and "lr_set_ram_limit" not in (tmp_path / "offline" / "main.c").read_text()
    proc = _run(["make", "-C", str(tmp_path / "offline"), "-j2", "run"])
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = _cli("export-project", str(blob), "-o", str(tmp_path / "bad"), "--ram-limit", "-5")
    assert proc.returncode == 2 and "--ram-limit" in proc.stderr and not (tmp_path / "bad").exists()


def test_wrong_expected_output_fails(blob_file, tmp_path):
    need(shutil.which("cc") is not None and shutil.which("make") is not None, "cc or make", "apt-get install gcc make")
    project = tmp_path / "host"
    _export(blob_file, "host", project)
    test_h = project / "model" / "lre_net_test.h"
    text = test_h.read_text()
    start = text.index("lre_net_test_expected_bits")
    first = text.index("0x", start)
    test_h.write_text(text[:first] + "0x7fc00001u" + text[first + 11:])  # a NaN no run produces
    proc = _run([str(_build(project, "make"))])
    assert proc.returncode == 1 and "FAIL" in proc.stdout and "output[0]" in proc.stdout, proc.stdout


def test_project_holds_the_runtime_as_runtime_mk_lists_it(blob_file, tmp_path):
    """One source of truth: the sources and headers are the ones runtime_c/Makefile names, byte for byte, and
    the flags bit-exactness needs are in both build files."""
    project = tmp_path / "m4"
    summary = _export(blob_file, "cortex-m4", project)
    rb = runtime_build("cortex-m4")
    assert summary["runtime_sources"] == len(rb.sources) > 10
    for rel in (*rb.sources, *rb.headers):
        assert (project / "linrep" / rel).read_bytes() == (RUNTIME_DIR / rel).read_bytes(), rel
    for build_file in ("CMakeLists.txt", "Makefile"):
        text = (project / build_file).read_text()
        assert "-ffp-contract=off" in text and "-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard" in text
        assert all(f"linrep/{s}" in text for s in rb.sources)
        assert "-DLR_INT8=0" in text  # an fp32 model: the runtime is built without the int8 path
    assert "add_library(linrep::runtime ALIAS" in (project / "CMakeLists.txt").read_text()


def test_refuses_a_folder_that_is_not_empty(blob_file, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    proc = _cli("export-project", str(blob_file), "--target", "host", "-o", str(tmp_path))
    assert proc.returncode == 2 and "not empty" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]  # nothing written, no temporary left
    bad = _cli("export-project", str(blob_file), "--target", "cortex-m0", "-o", str(tmp_path / "x"))
    assert bad.returncode == 2 and "cortex-m0" in bad.stderr
