"""Int8 models on an FPU-less Cortex-M3 (soft-float ABI): nothing reachable from lr_run_i8 is a soft-float
routine (`make -C runtime_c int8-check`, with lr_run as the control that has them), no object of the library
calls a 64-bit division routine (so none is linked into a firmware), and the MLPerf Tiny
KWS int8 model runs under QEMU (mps2-an385) with lr_run_i8 to the host's outputs bit for bit.

Needs Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (as tests/test_mcu.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from needs import need

from linrep_edge.format.writer import pack_graph
from linrep_edge.integer.executor import run_int8
from linrep_edge.models.tflite_import import import_tflite
from linrep_edge.runtime.build_lock import build_lock

ROOT = Path(__file__).resolve().parents[1]
KWS = ROOT.parent / "shared" / "mlperf-tiny" / "kws_ref_model.tflite"
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-nm", "qemu-system-arm")
need(all(shutil.which(t) for t in TOOLS), "the ARM toolchain or QEMU",
     "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm (or: make setup, as root)")


def test_int8_inference_reaches_no_soft_float() -> None:
    with build_lock(ROOT / "runtime_c" / "build"):
        r = subprocess.run(["make", "-s", "-C", str(ROOT / "runtime_c"), "int8-check"], capture_output=True,
                           text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for opt in ("-Os", "-O2"):
        assert f"cortex-m3 {opt}: 0 soft-float routines reachable from lr_run_i8" in r.stdout
        n = int(r.stdout.split(f"cortex-m3 {opt}: ")[2].split()[0])  # the control: lr_run
        assert n > 0
        # and no 64-bit division routine anywhere in the library (its control: a uint64_t a / b calls one)
        assert f"cortex-m3 {opt}: 0 calls of a 64-bit division routine in the library" in r.stdout
    assert "no 64-bit division anywhere in the runtime" in r.stdout


def test_kws_int8_on_cortex_m3_equals_host(tmp_path: Path) -> None:
    from linrep_edge.runtime.mcu import mcu_run_int8

    need(KWS.exists(), f"the MLPerf Tiny model {KWS}", "put shared/mlperf-tiny beside the clone (see its README)")
    g = import_tflite(KWS)
    g.outputs = [g.output, g.ops[-1].inputs[0]]  # the probabilities and the logits before the softmax
    x = np.random.default_rng(11).integers(-128, 128, g.tensors[0].shape).astype(np.int8)
    r = mcu_run_int8(pack_graph(g), x, "cortex-m3", build_root=tmp_path)
    assert r["board"] == "mps2-an385" and r["matches_host"]
    want = np.concatenate([y.reshape(-1) for y in run_int8(g, x)])
    np.testing.assert_array_equal(r["outputs"], want)
    assert len(np.unique(r["outputs"][-12:])) > 3  # the logits are not saturated


def test_a_build_without_linrep_convs_has_no_linrep_code(tmp_path: Path) -> None:
    """A model imported from TFLite (dense int8 convs only) is built with its own op types (LR_OPS, as export-project
    and mcu-bench's blob-ops builds write them), and lr_init refuses LinRep convs in such a build: the cost model's
    LinRep parts (the paths' costs, the direct and reuse kernels' scratch sizes, the codebook reads), the verifier's
    codebook and LinRep checks and the planner's reuse preferences are left out of it, so neither lr_cost.c's,
    lr_verify.c's nor lr_plan.c's object calls a LinRep function (the control, every op type in, calls them), and
    lr_cost.c's is under a third of its size. MLPerf KWS's and VWW's -Os firmware: 20,533 -> 16,883 B of runtime
    code (the cost model), -> 15,731 B (the verifier and planner)."""
    from linrep_edge.format.ops_mask import ops_define
    from linrep_edge.runtime.project import RUNTIME_DIR, runtime_build

    need(KWS.exists(), f"the MLPerf Tiny model {KWS}", "put shared/mlperf-tiny beside the clone (see its README)")
    define = ops_define(import_tflite(KWS))
    linrep_fn = re.compile(r"linrep|codebook|unpack_index|prefers_reuse")
    sizes, calls = {}, {}
    for src in ("lr_cost.c", "lr_verify.c", "lr_plan.c"):
        for label, defines in (("kws", f"-DLR_FP32=0 {define}"), ("all", "-DLR_FP32=0")):
            fl = runtime_build("cortex-m4", defines).flags
            obj = tmp_path / f"{label}-{src}.o"
            cmd = ["arm-none-eabi-gcc", *fl["LR_STD"].split(), "-Os", *fl["LR_CPU"].split(), *fl["LR_EXACT"].split(),
                   *fl["LR_TARGET_CFLAGS"].split(), *fl["LR_DEFINES"].split(), "-I", str(RUNTIME_DIR / "include"),
                   "-I", str(RUNTIME_DIR / "src"), "-c", str(RUNTIME_DIR / "src" / src), "-o", str(obj)]
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
            assert r.returncode == 0, r.stderr
            undefined = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True, text=True).stdout
            calls[label, src] = sorted(w for w in undefined.split() if linrep_fn.search(w))
            text = subprocess.run(["arm-none-eabi-size", str(obj)], capture_output=True, text=True).stdout
            sizes[label, src] = int(text.splitlines()[1].split()[0])
    assert "LR_OPS" in define
    for src in ("lr_cost.c", "lr_verify.c", "lr_plan.c"):
        assert calls["kws", src] == [] and len(calls["all", src]) >= 1, (src, calls)
    assert len(calls["all", "lr_cost.c"]) >= 3 and len(calls["all", "lr_verify.c"]) >= 3, calls
    assert sizes["kws", "lr_cost.c"] < sizes["all", "lr_cost.c"] / 3, sizes


def test_a_build_without_tflite_mean_leaves_it_out_and_refuses_it(tmp_path: Path) -> None:
    """-DLR_TFLITE_MEAN=0 (mcu-bench and export-project write it for a blob without TFLite's int8 MEAN): lr_run.c's
    Cortex-M4 object no longer calls lr_mean_s8_ref (the full build's does); a host library so built refuses a MEAN
    over the channels (LR_ERR_UNSUPPORTED_OP, at that op) and runs torch's adaptive pool as the full library does."""
    import ctypes

    from int8_graphs import build

    from linrep_edge.runtime import abi
    from linrep_edge.runtime.binding import CRuntime
    from linrep_edge.runtime.mcu import has_tflite_mean, runtime_defines
    from linrep_edge.runtime.project import RUNTIME_DIR, runtime_build

    mean, pool = build("mean_channels", 1), build("adaptive_avg_pool", 1)
    assert has_tflite_mean(mean) and not has_tflite_mean(pool)
    assert "-DLR_TFLITE_MEAN=0" in runtime_defines(True, pool) and "LR_TFLITE_MEAN" not in runtime_defines(True, mean)
    calls = {}
    for label, defines in (("without", "-DLR_FP32=0 -DLR_TFLITE_MEAN=0"), ("with", "-DLR_FP32=0")):
        fl = runtime_build("cortex-m4", defines).flags
        obj = tmp_path / f"{label}.o"
        cmd = ["arm-none-eabi-gcc", *fl["LR_STD"].split(), "-Os", *fl["LR_CPU"].split(), *fl["LR_EXACT"].split(),
               *fl["LR_TARGET_CFLAGS"].split(), *fl["LR_DEFINES"].split(), "-I", str(RUNTIME_DIR / "include"),
               "-I", str(RUNTIME_DIR / "src"), "-c", str(RUNTIME_DIR / "src" / "lr_run.c"), "-o", str(obj)]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        calls[label] = "lr_mean_s8_ref" in subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True,
                                                            text=True).stdout
    assert calls == {"without": False, "with": True}
    rb = runtime_build("host", "-DLR_FP32=0 -DLR_TFLITE_MEAN=0")
    lib_path = tmp_path / "libnomean.so"
    cmd = ["gcc", *rb.flags["LR_STD"].split(), "-O1", "-shared", "-fPIC", *rb.flags["LR_EXACT"].split(),
           *rb.flags["LR_DEFINES"].split(), *[f"-I{d}" for d in rb.includes], "-o", str(lib_path),
           *[str(RUNTIME_DIR / src) for src in rb.sources], "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=RUNTIME_DIR)
    assert r.returncode == 0, r.stderr[-3000:]
    lib = ctypes.CDLL(str(lib_path))
    unsupported = next(code for code, (name, _) in abi.STATUS.items() if name == "LR_ERR_UNSUPPORTED_OP")
    for g, want in ((mean, unsupported), (pool, 0)):
        blob = pack_graph(g)
        model = (ctypes.c_uint64 * ((lib.lr_model_sizeof() + 7) // 8))()
        buf = (ctypes.c_ubyte * len(blob)).from_buffer_copy(blob)
        assert lib.lr_init(ctypes.byref(model), ctypes.byref(buf), len(blob)) == want
        if want:
            op, tensor = ctypes.c_int32(), ctypes.c_int32()
            lib.lr_error_location(ctypes.byref(model), ctypes.byref(op), ctypes.byref(tensor))
            assert g.ops[op.value].type == "ADAPTIVE_AVG_POOL2D"
            continue
        x = np.random.default_rng(2).integers(-128, 128, g.tensors[0].shape).astype(np.int8)
        n = ctypes.c_size_t()
        assert lib.lr_arena_size(ctypes.byref(model), ctypes.byref(n)) == 0
        arena = (ctypes.c_ubyte * n.value)()
        y = np.zeros(int(np.prod(g.tensors[g.output].shape)), np.int8)
        xs = np.ascontiguousarray(x.reshape(-1))
        assert lib.lr_run_i8(ctypes.byref(model), ctypes.byref(arena), n, xs.ctypes.data_as(ctypes.c_void_p),
                             ctypes.c_size_t(xs.size), y.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(y.size)) == 0
        assert np.array_equal(y, CRuntime(blob).run_int8(x[None])[0].reshape(-1))


def test_a_host_build_without_linrep_convs_runs_dense_models_and_refuses_templates(tmp_path: Path) -> None:
    """The same op selection as a host library: KWS verifies and runs to the full library's outputs bit for bit; a
    LinRep model is refused at its first LinRep conv (LR_ERR_UNSUPPORTED_OP, that op named); KWS with a codebook
    no op uses (a valid blob, the full library runs it) is refused after its ops passed (op -1), since such a
    build neither verifies nor reads codebooks."""
    import ctypes

    from linrep_edge.format.ir import Codebook
    from linrep_edge.format.ops_mask import ops_define
    from linrep_edge.runtime import abi
    from linrep_edge.runtime.binding import CRuntime
    from linrep_edge.runtime.project import RUNTIME_DIR, runtime_build
    from int8_graphs import build

    need(KWS.exists(), f"the MLPerf Tiny model {KWS}", "put shared/mlperf-tiny beside the clone (see its README)")
    g = import_tflite(KWS)
    define = ops_define(g)
    rb = runtime_build("host", f"-DLR_FP32=0 {define}")
    lib_path = tmp_path / "libnolinrep.so"
    cmd = ["gcc", *rb.flags["LR_STD"].split(), "-O1", "-shared", "-fPIC", *rb.flags["LR_EXACT"].split(),
           *rb.flags["LR_DEFINES"].split(), *[f"-I{d}" for d in rb.includes], "-o", str(lib_path),
           *[str(RUNTIME_DIR / src) for src in rb.sources], "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=RUNTIME_DIR)
    assert r.returncode == 0, r.stderr[-3000:]
    lib = ctypes.CDLL(str(lib_path))

    def init(blob: bytes) -> tuple[int, int, object]:
        model = (ctypes.c_uint64 * ((lib.lr_model_sizeof() + 7) // 8))()
        buf = (ctypes.c_ubyte * len(blob)).from_buffer_copy(blob)
        code = lib.lr_init(ctypes.byref(model), ctypes.byref(buf), len(blob))
        op, tensor = ctypes.c_int32(), ctypes.c_int32()
        lib.lr_error_location(ctypes.byref(model), ctypes.byref(op), ctypes.byref(tensor))
        return code, op.value, (model, buf)

    kws = pack_graph(g)
    code, _, (model, _buf) = init(kws)
    assert code == 0
    x = np.random.default_rng(3).integers(-128, 128, g.tensors[0].shape).astype(np.int8)
    arena_n = ctypes.c_size_t()
    assert lib.lr_arena_size(ctypes.byref(model), ctypes.byref(arena_n)) == 0
    arena = (ctypes.c_ubyte * (arena_n.value + 64))()
    n_out = int(np.prod(g.tensors[g.output].shape))
    y = np.zeros(n_out, np.int8)
    xs = np.ascontiguousarray(x.reshape(-1))
    assert lib.lr_run_i8(ctypes.byref(model), ctypes.byref(arena), ctypes.c_size_t(arena_n.value + 64),
                         xs.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(xs.size),
                         y.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(n_out)) == 0
    np.testing.assert_array_equal(y, CRuntime(kws).run_int8(x[None])[0].reshape(-1))

    unsupported = next(code for code, (name, _) in abi.STATUS.items() if name == "LR_ERR_UNSUPPORTED_OP")
    lin = build("linrep_chain", 0)
    first = next(k for k, op in enumerate(lin.ops) if op.type == "LINREP_CONV2D")
    assert init(pack_graph(lin))[:2] == (unsupported, first)

    t = np.random.default_rng(0).integers(-127, 128, (4, 3, 3)).astype(np.int8)
    g.codebooks.append(Codebook(t.astype(np.float32) * 0.01, dtype="int8", q=t, scale=0.01))
    with_cb = pack_graph(g)
    CRuntime(with_cb)  # the full library: valid
    assert init(with_cb)[:2] == (unsupported, -1)


def test_support_members_follow_the_runtimes_references(tmp_path: Path) -> None:
    """run_qemu.support_member_sizes on a map written here: the members the runtime's objects pulled in, and what
    those pulled in, counted with their linked sizes; what the application pulled in first is not, nor a member
    whose every section --gc-sections dropped."""
    sys.path.insert(0, str(ROOT / "runtime_c" / "mcu"))
    import run_qemu as drv  # noqa: PLC0415 (the driver lives beside the firmware)

    lib, gcc, libc = "/b/liblinrep_cortex-m3.a", "/t/libgcc.a", "/t/libc.a"
    (tmp_path / "fw.map").write_text(f"""Archive member included to satisfy reference by file (symbol)

{lib}(lr_model.o)
                              app/main.o (lr_init)
{gcc}(_aeabi_uldivmod.o)
                              {lib}(lr_model.o) (__aeabi_uldivmod)
{gcc}(_udivmoddi4.o)          {gcc}(_aeabi_uldivmod.o) (__udivmoddi4)
{libc}(lib_a-memcpy.o)
                              app/main.o (memcpy)
{gcc}(_arm_addsubsf3.o)
                              {lib}(lr_model.o) (__aeabi_fadd)

Discarded input sections

Memory Configuration

Linker script and memory map

 .text.lr_init  0x00000100       0x40 {lib}(lr_model.o)
 .text          0x00000140       0x30 {gcc}(_aeabi_uldivmod.o)
 .text          0x00000170      0x2bc {gcc}(_udivmoddi4.o)
 .text          0x0000042c       0x10 {libc}(lib_a-memcpy.o)
""")
    got = drv.support_member_sizes(tmp_path / "fw.map", "liblinrep_cortex-m3.a")
    assert {k: v["text"] for k, v in got.items()} == {"libgcc.a(_aeabi_uldivmod.o)": 0x30,
                                                        "libgcc.a(_udivmoddi4.o)": 0x2BC}


def test_mcu_bench_int8_rows(tmp_path: Path) -> None:
    """`mcu-bench` on an int8 LinRep blob (the FPU-less Cortex-M3; the default path choice only, to stay
    fast): the firmware equals the host's lr_run_i8 bit for bit, one instruction count per op that adds up to no more than the whole inference, the
    arena is the host's lr_arena_size and RAM is arena + painted stack, at or above the lower bound."""
    from int8_graphs import build

    from linrep_edge.runtime.binding import CRuntime
    from linrep_edge.runtime.mcu_int8 import format_result_int8, mcu_bench_int8

    g = build("linrep", 1)
    blob = pack_graph(g)
    rt = CRuntime(blob)
    r = mcu_bench_int8(blob, "cortex-m3", build_root=tmp_path, compare_paths=False, profile=True)
    assert r["matches_host"] and r["deterministic"]
    assert len(r["layers"]) == rt.num_ops
    # --profile: the inference's instructions per function add up to the exact count (within the marker
    # blocks' edges); the run loop and the kernels it calls are there
    names = {p["function"] for p in r["profile"]}
    assert abs(sum(p["instructions"] for p in r["profile"]) - r["instructions"]) <= 64
    assert "run_ops_s8" in names and any(n.startswith("lr_linrep_conv2d") for n in names), sorted(names)
    assert "instructions per function" in format_result_int8(r)
    # and the -Os firmware export-project builds (other kernels: no fast paths), no planner: its own profile
    names_os = {p["function"] for p in r["profile_os"]}
    assert abs(sum(p["instructions"] for p in r["profile_os"]) - r["blob_minimal_instructions_os"]) <= 64
    assert any(n.startswith("lr_linrep_conv2d") for n in names_os), sorted(names_os)
    assert "as export-project builds it" in format_result_int8(r)
    per_op = sum(L["instructions"] for L in r["layers"])
    assert 0 < per_op <= r["instructions"]
    assert [L["path"] for L in r["layers"]] == [rt.op_conv_info(k)["path"] for k in range(rt.num_ops)]
    assert r["arena_bytes"] == rt.arena_bytes and r["activation_lower_bound_bytes"] == rt.activation_lower_bound_bytes
    assert r["ram_bytes"] == r["arena_bytes"] + r["stack_bytes"] >= r["activation_lower_bound_bytes"]
    assert r["stack_bytes"] >= max(r["init_stack_bytes"], r["run_stack_bytes"]) > 0
    assert r["runtime_code_bytes"] > 0 and "lr_linrep_conv2d" in " ".join(r["runtime_objects"])
    # with only this blob's op types compiled in (LR_OPS): the other ops' verifier rules and kernels are gone
    assert 0 < r["runtime_code_bytes_blob_ops"] < r["runtime_code_bytes"] - 4096
    assert "int8 model" in format_result_int8(r) and "only this blob's op types" in format_result_int8(r)
    # every LinRep conv took one path: the firmware with only that path too (LR_LINREP_PATHS) drops the other
    # path's kernel and the cost model's choice, runs on the device and equals the host
    assert r["blob_linrep_paths"] in ("direct", "reuse"), r["blob_linrep_paths"]
    assert 0 < r["runtime_code_bytes_blob_paths"] < r["runtime_code_bytes_blob_ops"] - 1024
    # and without the status texts (LR_STATUS_TEXTS=0): lr_status_str's ~0.75 KB of texts are gone
    assert 0 < r["runtime_code_bytes_blob_paths_no_texts"] < r["runtime_code_bytes_blob_paths"] - 500
    # the smallest build: also without the planner (LR_PLANNER=0), on the plan made on the host (lr_set_plan checks
    # it on the device): less code again, runs to the host's bytes
    assert 0 < r["runtime_code_bytes_blob_minimal"] < r["runtime_code_bytes_blob_paths_no_texts"] - 1000
    assert r["blob_minimal_matches_host"] and r["blob_minimal_linrep_path"] == r["blob_linrep_paths"]
    # the size-optimised firmware runs too (its own instructions beside its code; the fast paths are -O2 only):
    # equal to the host, slower than the same build at -O2, whose code is larger
    assert r["blob_minimal_matches_host_os"] and r["blob_minimal_instructions_os"] > r["blob_minimal_instructions"] > 0
    assert r["runtime_code_bytes_blob_minimal_o2"] > r["runtime_code_bytes_blob_minimal"]
    assert f"run at -Os {r['blob_minimal_instructions_os']} instructions" in format_result_int8(r)
    # the middle ground, -Os with the optimised kernels' fast paths (-DLR_OPT_FAST=1, export-project --fast-paths):
    # equal to the host, its code between the two, its instructions no more than -Os's up to the fast build's
    # per-layer test for its shape-specific kernels (this graph's one LinRep conv, two input channels at stride 2,
    # takes none: the same kernels run, ~20 instructions more for the direct path's test of the padded plane)
    assert r["blob_minimal_matches_host_os_fast"]
    assert r["runtime_code_bytes_blob_minimal"] < r["runtime_code_bytes_blob_minimal_os_fast"] < \
        r["runtime_code_bytes_blob_minimal_o2"]
    n_linrep = sum(op.type == "LINREP_CONV2D" for op in g.ops)
    assert r["blob_minimal_instructions"] <= r["blob_minimal_instructions_os_fast"] <= \
        r["blob_minimal_instructions_os"] + 32 * n_linrep
    assert "Code for speed" in format_result_int8(r) and "--fast-paths" in format_result_int8(r)
    # the C library / libgcc code the runtime makes that firmware link (not in its runtime code): on the FPU-less
    # M3, int8 inference needs no soft-float and no 64-bit division routine there either
    sup = r["runtime_support_objects_blob_minimal"]
    assert r["runtime_support_code_bytes_blob_minimal"] == sum(sup.values()) and sup, sup
    assert not any(re.search(r"divmoddi|divdi3|moddi3|ldivmod|_arm_.*[sd]f|addsub|muldiv|fixdf|float", k) for k in sup), sup
    assert r["runtime_support_code_bytes"] >= r["runtime_support_code_bytes_blob_minimal"]
    assert "the plan made offline" in format_result_int8(r)
    assert r["blob_paths_matches_host"] and 0 < r["blob_paths_instructions"] <= r["instructions"]
    assert "only its LinRep path too" in format_result_int8(r)


@pytest.mark.parametrize("kernels", ["ref", "linrep"])
def test_mcu_bench_reference_kernels_smallest_build(kernels: str, tmp_path: Path) -> None:
    """`mcu-bench --kernels ref` makes the same series of builds as the optimised kernels (this blob's ops, one
    path, no texts, no planner), all with the reference kernels only: no optimised kernel is linked, each
    build is smaller than the one before, and the smallest firmware equals the host, built at -Os and at -O2.
    `--kernels linrep` (LR_KERNELS=linrep): the optimised LinRep kernels only; the conv, linear and ADD of the
    blob run their references (their optimised kernels are not linked), equal to the host all the same."""
    from int8_graphs import build

    from linrep_edge.runtime.mcu_int8 import format_result_int8, mcu_bench_int8

    blob = pack_graph(build("linrep_chain", 1))  # LinRep conv, CONV2D 1 x 1, ADD, LINEAR, ...
    r = mcu_bench_int8(blob, "cortex-m4", build_root=tmp_path, compare_paths=False, ram_limit=-1, kernels=kernels)
    assert r["kernels"] == kernels and r["matches_host"]
    linked = " ".join(r["runtime_objects"])
    if kernels == "ref":
        assert "_s8_opt" not in linked, sorted(r["runtime_objects"])
    else:
        assert "lr_linrep_conv2d_reuse_s8_opt.o" in linked and "lr_linrep_conv2d_direct_s8_opt.o" in linked, linked
        assert "lr_add_s8_opt.o" not in linked and "lr_linear_s8_opt.o" not in linked, linked
        assert "lr_add_s8_ref.o" in linked and "lr_linear_s8_ref.o" in linked and "lr_conv2d_s8_ref.o" in linked
    assert r["blob_linrep_paths"] in ("direct", "reuse"), r["blob_linrep_paths"]
    sizes = [r[k] for k in ("runtime_code_bytes", "runtime_code_bytes_blob_ops", "runtime_code_bytes_blob_paths",
                            "runtime_code_bytes_blob_paths_no_texts", "runtime_code_bytes_blob_minimal")]
    assert all(a > b > 0 for a, b in zip(sizes, sizes[1:])), sizes
    assert r["blob_minimal_matches_host"] and r["blob_paths_matches_host"] and r["blob_minimal_matches_host_os"]
    assert r["blob_minimal_instructions_os"] > 0 and "smallest build" in format_result_int8(r)
    if kernels == "ref":  # the fast paths belong to the optimised kernels: with none linked, -Os is -Os
        assert r["runtime_code_bytes_blob_minimal_os_fast"] == r["runtime_code_bytes_blob_minimal"]
        assert r["blob_minimal_instructions_os_fast"] == r["blob_minimal_instructions_os"]
    else:  # the LinRep kernels' fast paths at -Os: more code, the same bytes out (on a graph this small their
        # set-up can cost more instructions than they save: the speed is measured on real models, RESULTS)
        assert r["runtime_code_bytes_blob_minimal_os_fast"] > r["runtime_code_bytes_blob_minimal"]
    assert r["blob_minimal_matches_host_os_fast"]


def test_one_path_firmware_gets_the_arena_its_path_needs(tmp_path: Path) -> None:
    """A firmware built with one LinRep path (mcu-bench's one-path build, LR_LINREP_PATHS) runs every LinRep conv on
    that path as a forced one, whose scratch the plan gives whatever the RAM limit: its static arena is that plan's,
    not the automatic plan's. The zoo MTCNN O-net at a limit between its least arena and its forced-reuse arena
    (`mcu-bench --ram-limit`) stopped with 'arena: need 124640, have 92000' before."""
    from linrep_edge.runtime.binding import CRuntime
    from linrep_edge.runtime.mcu_int8 import _firmware_i8, default_input_i8

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from zoo_mcu import packed

    blob = packed("mtcnn_onet", "int8", tmp_path)
    limit = CRuntime(blob).arena_bytes + 8192
    forced = CRuntime(blob, conv_path="reuse")
    forced.set_ram_limit(limit)
    assert forced.arena_bytes > limit  # the case: the one path's plan needs more than the limit
    r = _firmware_i8(blob, default_input_i8(blob), "cortex-m4", "-O2", tmp_path / "fw", 600.0, ram_limit=limit,
                     blob_ops=True, linrep_path="reuse")
    assert r["matches_host"] and r["arena_bytes"] == forced.arena_bytes, r


def test_cbam_attention_int8_matches_host_on_cortex_m4(tmp_path: Path) -> None:
    """The zoo's ResNet-8 with CBAM in every block, int8 (format version 8: its channel max / mean pooled as one
    [1, C, H * W] plane, its spatial gate a MUL by one value per pixel, on the DSP core's optimised MUL): every
    firmware mcu-bench builds (-O2, and -Os as export-project builds it, with and without fast paths) equals the
    host's lr_run_i8 bit for bit."""
    import torch
    from zoo import build

    from linrep_edge.format.reader import parse
    from linrep_edge.pipeline import PackSettings, pack_model
    from linrep_edge.runtime.mcu_int8 import mcu_bench_int8

    model, example = build("resnet8_cbam")
    np.save(tmp_path / "calib.npy", torch.randn(64, *example.shape[1:]).numpy())
    res = pack_model(model, example, PackSettings(templates=16, activations="int8", ab_bits=8, cap_templates=True,
                                                  calibration=str(tmp_path / "calib.npy"), calibration_epochs=0),
                     "resnet8_cbam", show_progress=False)
    blob = parse(res.blob)
    assert blob.format_version == 8 and sum(op.type == "MUL" for op in blob.graph.ops) == 6
    r = mcu_bench_int8(res.blob, "cortex-m4", build_root=tmp_path, compare_paths=False)
    assert r["matches_host"] and r["deterministic"]
    assert r["blob_minimal_matches_host"] and r["blob_minimal_matches_host_os"]
    assert r["blob_minimal_matches_host_os_fast"]
