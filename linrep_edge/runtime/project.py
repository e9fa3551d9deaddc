"""`linrep-edge export-project`: a stand-alone firmware project folder for one packed model and one target.

What a firmware engineer drops into their tree and builds with CMake or make, for `host` or a Cortex-M
core (`cortex-m3`, `cortex-m4`, `cortex-m7`, `cortex-m33`):

    DIR/
      README.md            what is inside, how to build and run it
      CMakeLists.txt       the library target linrep::runtime (sources, include dirs, the flags
                           bit-exactness needs, the core's flags); built on its own, also the demo
      Makefile             the same with plain make
      linrep/include/      linrep.h, the one public header
      linrep/src/          the runtime's sources and private headers (as runtime_c/ lays them out)
      model/<name>.h       the blob as `export-c` writes it (16-byte aligned const array, sizes)
      model/<name>_test.h  one test input and the host C runtime's output on it, as float bit patterns
      main.c               lr_init, arena check, one lr_run, compare bit for bit: PASS (exit 0) / FAIL
      board/               Cortex-M only: startup.c, mcu_support.h, the MPS2 linker scripts (QEMU)
      cmake/arm-none-eabi.cmake   Cortex-M only: the CMake toolchain file

The source list, include directories and flags are not written here: they are asked of
runtime_c/Makefile (`make print-sources`, `make print-flags TARGET=...`), which takes them from
runtime.mk, the runtime's one build description. The board files are runtime_c/mcu's, as they are.
The expected output is the host C runtime's (built with the same -ffp-contract=off), so the firmware's
check is bit for bit; this is what the tests run under QEMU on mps2-an386 (Cortex-M4F).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linrep_edge.errors import LinRepError
from linrep_edge.format.export_c import blob_to_c_header, check_identifier, plan_to_c
from linrep_edge.format.text import shown

ROOT = Path(__file__).resolve().parent.parent.parent
RUNTIME_DIR = ROOT / "runtime_c"
MCU_DIR = RUNTIME_DIR / "mcu"
TARGETS = ("host", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33")


@dataclass(frozen=True)
class Board:
    """The QEMU board a Cortex-M target's firmware runs on, and its linker script in runtime_c/mcu."""

    qemu_machine: str
    linker_script: str


# cortex-m3: mps2-an385 has the an386's memory map (flash at 0, RAM at 0x20000000), so its script serves.
BOARDS = {"cortex-m3": Board("mps2-an385", "mps2_an386.ld"), "cortex-m4": Board("mps2-an386", "mps2_an386.ld"),
          "cortex-m7": Board("mps2-an500", "mps2_an500.ld"), "cortex-m33": Board("mps2-an505", "mps2_an505.ld")}
BOARD_FILES = ("startup.c", "mcu_support.h", "mps2_sections.ld")


@dataclass(frozen=True)
class RuntimeBuild:
    """What runtime_c/Makefile says about a build of the runtime for one target."""

    sources: tuple[str, ...]   # relative to runtime_c/
    headers: tuple[str, ...]
    includes: tuple[str, ...]
    flags: dict[str, str]      # LR_STD, LR_WARN, LR_EXACT, LR_CPU, LR_TARGET_CFLAGS, LR_CROSS, LR_DEFINES


def _make(*args: str) -> list[str]:
    if not (RUNTIME_DIR / "Makefile").is_file():
        raise LinRepError(f"{RUNTIME_DIR} not found: export-project runs from a checkout of the linrep-edge repository")
    if shutil.which("make") is None:
        raise LinRepError("`make` not found: export-project asks runtime_c/Makefile for the runtime's sources and flags")
    proc = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(RUNTIME_DIR), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        raise LinRepError(f"make -C runtime_c {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout.splitlines()


def runtime_build(target: str, defines: str = "") -> RuntimeBuild:
    """Sources, headers, include dirs and flags of the runtime for `target`, from runtime_c/Makefile;
    `defines`: the library's build options (runtime.mk's LR_DEFINES, e.g. -DLR_INT8=0)."""
    if target not in TARGETS:
        raise LinRepError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    kinds: dict[str, list[str]] = {"source": [], "header": [], "include": []}
    for line in _make("print-sources"):
        kind, _, rest = line.partition(" ")
        kinds[kind].extend(rest.split() if kind == "include" else [rest])
    flags = dict(line.split("=", 1) for line in _make("print-flags", f"TARGET={target}", f"LR_DEFINES={defines}")
                 if "=" in line)
    return RuntimeBuild(tuple(kinds["source"]), tuple(kinds["header"]), tuple(kinds["include"]), flags)


@functools.lru_cache(maxsize=None)
def cost_model(target: str) -> str:
    """The host library's cost model whose AUTO choices are `target`'s (binding.COST_MODELS): "dsp" where the
    target's compiler defines __ARM_FEATURE_DSP (asked; without the toolchain, those it defines it for: Cortex-M4,
    M7, M33), else "host" (the portable constants, a Cortex-M3's). export-project plans and computes the expected
    output with it."""
    if target == "host":
        return "host"
    rb = runtime_build(target)
    cc = f"{rb.flags['LR_CROSS']}gcc"
    if shutil.which(cc) is None:  # exporting without the toolchain: the cores whose compilers define it
        return "dsp" if target in ("cortex-m4", "cortex-m7", "cortex-m33") else "host"
    proc = subprocess.run([cc, *rb.flags["LR_CPU"].split(), "-dM", "-E", "-"], input="", capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise LinRepError(f"{cc} {rb.flags['LR_CPU']}: {proc.stderr.strip()[-500:]}")
    return "dsp" if re.search(r"^#define __ARM_FEATURE_DSP 1$", proc.stdout, re.M) else "host"


def _bits(values: np.ndarray) -> list[str]:
    return [f"0x{int(b):08x}u" for b in np.ascontiguousarray(values, dtype=np.float32).reshape(-1).view(np.uint32)]


def test_header(name: str, x: np.ndarray, y: np.ndarray) -> str:
    """`<name>_test.h`: one input and the expected output as IEEE-754 bit patterns (exact in any compiler)."""
    macro = name.upper()
    lines = [f"/* Generated by `linrep-edge export-project`; do not edit. One test input of {name} and the",
             " * output the host C runtime computed from it (built with -ffp-contract=off, like this project),",
             " * as IEEE-754 single-precision bit patterns: main.c compares bit for bit. */",
             f"#ifndef {macro}_TEST_H_", f"#define {macro}_TEST_H_", "",
             f"#define {macro}_TEST_INPUT_LEN {x.size}u", f"#define {macro}_TEST_OUTPUT_LEN {y.size}u", "",
             "#include <stdint.h>", "",
             f"static const union {{ uint32_t u[{x.size}]; float f[{x.size}]; }} {name}_test_input_ = {{{{"]
    xb, yb = _bits(x), _bits(y)
    lines += ["  " + ", ".join(xb[i:i + 8]) + "," for i in range(0, len(xb), 8)]
    lines += ["}};", f"#define {name}_test_input ({name}_test_input_.f)", "",
              f"static const uint32_t {name}_test_expected_bits[{y.size}] = {{"]
    lines += ["  " + ", ".join(yb[i:i + 8]) + "," for i in range(0, len(yb), 8)]
    lines += ["};", "", f"#endif /* {macro}_TEST_H_ */", ""]
    return "\n".join(lines)


MAIN_C = """\
/*
 * main.c -- one inference of {name} with the linrep-edge C runtime, checked bit for bit.
 * Generated by `linrep-edge export-project --target {target}`; a starting point for your firmware.
 *
 *   lr_init           verifies the blob once (it stays in flash, read in place)
{plan_doc}{limit_doc} *   lr_arena_size     asks how much RAM the inference needs; the static arena must be at least that
 *   lr_run            one inference: input -> output (several outputs: one after the other), using only the
 *                     arena (no malloc)
 * then compares the output with the host C runtime's, bit for bit, and prints PASS or FAIL.
 * Exit status: 0 PASS, 1 FAIL (output differs), 2 a runtime error (its code, and lr_status_str's text;
 * `linrep-edge status CODE` names it).
 * On Cortex-M, printf and exit go through semihosting (newlib's rdimon.specs).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "linrep.h"
#include "{name}.h"
#include "{name}_test.h"
{plan_include}
#if defined(__GNUC__) || defined(__clang__)
#define ARENA_ALIGN __attribute__((aligned(LR_ARENA_ALIGN)))
#else
#define ARENA_ALIGN
#endif

static lr_model model;
static unsigned char arena[{macro}_ARENA_SIZE] ARENA_ALIGN;
static float output[{macro}_OUTPUT_SIZE];

static int fail(const char *what, lr_status st)
{{
    printf("FAIL: %s: status %d %s\\n", what, (int)st, lr_status_str(st)); /* "" with -DLR_STATUS_TEXTS=0 */
    return 2;
}}

int main(void)
{{
    size_t need = 0, i, differ = 0;
    lr_status st;

    if (sizeof(float) != sizeof(uint32_t)) {{
        printf("FAIL: float is not 32 bits here\\n");
        return 2;
    }}
    st = lr_init(&model, {name}, {macro}_SIZE);
    if (st != LR_OK) {{
        return fail("lr_init", st);
    }}
{plan_set}{limit_set}    st = lr_arena_size(&model, &need);
    if (st != LR_OK) {{
        return fail("lr_arena_size", st);
    }}
    if (need > sizeof arena) {{
        printf("FAIL: the model needs an arena of %lu bytes, this one has %lu\\n", (unsigned long)need,
               (unsigned long)sizeof arena);
        return 2;
    }}
    st = lr_run(&model, arena, sizeof arena, {name}_test_input, {macro}_TEST_INPUT_LEN, output,
                {macro}_TEST_OUTPUT_LEN);
    if (st != LR_OK) {{
        return fail("lr_run", st);
    }}
    for (i = 0; i < {macro}_TEST_OUTPUT_LEN; ++i) {{
        uint32_t bits;
        memcpy(&bits, &output[i], sizeof bits);
        if (bits != {name}_test_expected_bits[i]) {{
            if (differ < 5u) {{
                printf("output[%lu]: got 0x%08lx, expected 0x%08lx\\n", (unsigned long)i, (unsigned long)bits,
                       (unsigned long){name}_test_expected_bits[i]);
            }}
            ++differ;
        }}
    }}
    printf("{name}: %lu output values (%lu output tensors), arena %lu of %lu bytes\\n",
           (unsigned long){macro}_TEST_OUTPUT_LEN, (unsigned long){macro}_OUTPUT_COUNT, (unsigned long)need,
           (unsigned long)sizeof arena);
    if (differ != 0u) {{
        printf("FAIL: %lu of %lu output values differ from the host C runtime's\\n", (unsigned long)differ,
               (unsigned long){macro}_TEST_OUTPUT_LEN);
        return 1;
    }}
    printf("PASS: every output equals the host C runtime's bit for bit\\n");
    return 0;
}}
"""

TOOLCHAIN = """\
# cmake/arm-none-eabi.cmake -- CMake toolchain file for GNU Arm Embedded (arm-none-eabi-gcc, newlib).
# Generated by `linrep-edge export-project`. CMakeLists.txt uses it when built on its own without
# -DCMAKE_TOOLCHAIN_FILE; a firmware tree that has a toolchain file of its own keeps it.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER {cross}gcc)
set(CMAKE_AR {cross}ar)
set(CMAKE_OBJCOPY {cross}objcopy)
set(CMAKE_SIZE {cross}size)
# Bare metal: test the compiler by building a library, not an executable (no startup code yet).
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
"""


def _cmake_list(items: list[str], indent: str = "  ") -> str:
    return "\n".join(indent + i for i in items)


def cmake_lists(target: str, name: str, rb: RuntimeBuild) -> str:
    arm = target != "host"
    cpu = rb.flags["LR_CPU"].split()
    tflags = rb.flags["LR_TARGET_CFLAGS"].split()
    warn = [w for w in rb.flags["LR_WARN"].split() if w != "-Werror"]
    srcs = [f"linrep/{s}" for s in rb.sources]
    incs = [f"linrep/{i}" for i in rb.includes if i != "include"]
    lines = [
        f"# CMakeLists.txt -- the linrep-edge C runtime as the library target linrep::runtime, for {target},",
        f"# and a demo that runs {name} once and checks the output. Generated by `linrep-edge export-project`",
        "# from runtime_c/runtime.mk (sources, include directories, flags); regenerate rather than edit.",
        "#",
        "#   cmake -S . -B build && cmake --build build           the library and the demo",
        "#   cmake --build build --target run                     run the demo"
        + (f" (QEMU {BOARDS[target].qemu_machine})" if arm else ""),
        "#",
        "# In your own tree: add_subdirectory(<this folder>) and",
        "#   target_link_libraries(your_firmware PRIVATE linrep::runtime linrep::model)",
        "# (the demo and its board files are built only when this folder is the top-level project).",
        "cmake_minimum_required(VERSION 3.16)",
        "",
    ]
    if arm:
        lines += [
            "if(CMAKE_SOURCE_DIR STREQUAL CMAKE_CURRENT_SOURCE_DIR AND NOT CMAKE_TOOLCHAIN_FILE)",
            '  set(CMAKE_TOOLCHAIN_FILE "${CMAKE_CURRENT_SOURCE_DIR}/cmake/arm-none-eabi.cmake")',
            "endif()",
        ]
    lines += [
        f"project(linrep_{name} LANGUAGES C)",
        "",
        "if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)",
        f"  set(CMAKE_BUILD_TYPE {'MinSizeRel' if arm else 'Release'} CACHE STRING \"build type\" FORCE)",
        "endif()",
        "",
        "# The runtime: one object per source, archived. Its flags:",
        f"#   {rb.flags['LR_EXACT']}  bit-exactness (no fused multiply-add): never build the runtime without it",
        *([f"#   {' '.join(cpu)}  the core (also the ABI: anything linked with the library needs the same)"]
          if cpu else []),
        *([f"#   {rb.flags['LR_DEFINES']}  only this model's kind of run path (fp32 or int8) and its op types"
           " (LR_OPS, linrep.h) are compiled in (with LR_LINREP_PATHS, one LinRep conv path); another model with"
           " other ops needs its own mask"]
          if rb.flags.get("LR_DEFINES") else []),
        "add_library(linrep_runtime STATIC",
        _cmake_list(srcs),
        ")",
        "add_library(linrep::runtime ALIAS linrep_runtime)",
        "set_target_properties(linrep_runtime PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF",
        "                      OUTPUT_NAME linrep_" + target + ")",
        'target_include_directories(linrep_runtime PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}/linrep/include"',
        "  PRIVATE " + " ".join(f'"${{CMAKE_CURRENT_SOURCE_DIR}}/{i}"' for i in incs) + ")",
        "target_compile_options(linrep_runtime",
        "  PUBLIC " + " ".join(rb.flags["LR_EXACT"].split() + cpu),
        "  PRIVATE " + " ".join(warn + tflags + rb.flags.get("LR_DEFINES", "").split()) + ")",
    ]
    if cpu:
        lines.append("target_link_options(linrep_runtime PUBLIC " + " ".join(cpu) + ")")
    lines += [
        "target_link_libraries(linrep_runtime PUBLIC m)",
        "",
        "# The model: the blob header and the test vectors (header-only).",
        "add_library(linrep_model INTERFACE)",
        "add_library(linrep::model ALIAS linrep_model)",
        'target_include_directories(linrep_model INTERFACE "${CMAKE_CURRENT_SOURCE_DIR}/model")',
        "",
        "if(NOT CMAKE_SOURCE_DIR STREQUAL CMAKE_CURRENT_SOURCE_DIR)",
        "  return()",
        "endif()",
        "",
    ]
    if arm:
        b = BOARDS[target]
        lines += [
            f"# The demo firmware for QEMU {b.qemu_machine}: board/ holds the vector table, reset handler",
            "# (FPU enable, .data/.bss) and the linker scripts; printf and exit go through semihosting.",
            "add_executable(lre_demo main.c board/startup.c)",
            'set_target_properties(lre_demo PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF SUFFIX ".elf")',
            "target_compile_options(lre_demo PRIVATE -Wall -Wextra " + " ".join(tflags) + ")",
            "target_link_libraries(lre_demo PRIVATE linrep::runtime linrep::model)",
            "target_link_options(lre_demo PRIVATE --specs=rdimon.specs -nostartfiles",
            f'  "-L${{CMAKE_CURRENT_SOURCE_DIR}}/board" -T {b.linker_script} -Wl,--gc-sections',
            '  "-Wl,-Map=${CMAKE_CURRENT_BINARY_DIR}/lre_demo.map")',
            f'set_property(TARGET lre_demo APPEND PROPERTY LINK_DEPENDS "${{CMAKE_CURRENT_SOURCE_DIR}}/board/{b.linker_script}")',
            "add_custom_target(run",
            f"  COMMAND qemu-system-arm -machine {b.qemu_machine} -cpu {target} -nographic -monitor none",
            "          -serial none -semihosting-config enable=on,target=native -kernel $<TARGET_FILE:lre_demo>",
            "  DEPENDS lre_demo USES_TERMINAL)",
        ]
    else:
        lines += [
            "add_executable(lre_demo main.c)",
            "set_target_properties(lre_demo PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)",
            "target_compile_options(lre_demo PRIVATE -Wall -Wextra)",
            "target_link_libraries(lre_demo PRIVATE linrep::runtime linrep::model)",
            "add_custom_target(run COMMAND lre_demo DEPENDS lre_demo USES_TERMINAL)",
        ]
    return "\n".join(lines) + "\n"


def makefile(target: str, name: str, rb: RuntimeBuild) -> str:
    arm = target != "host"
    cpu = rb.flags["LR_CPU"]
    warn = " ".join(w for w in rb.flags["LR_WARN"].split() if w != "-Werror")
    src_dirs = sorted({str(Path("linrep", s).parent) for s in rb.sources})
    lines = [
        f"# Makefile -- plain-make build of the linrep-edge C runtime (build/liblinrep_{target}.a) and a demo",
        f"# that runs {name} once and checks the output, for {target}. Generated by `linrep-edge export-project`",
        "# from runtime_c/runtime.mk (sources, include directories, flags); regenerate rather than edit.",
        "#",
        "#   make          the library and the demo",
        "#   make run      run the demo" + (f" under QEMU ({BOARDS[target].qemu_machine})" if arm else ""),
        "#   make lib      the library only: link build/liblinrep_" + target + ".a with -Ilinrep/include and -lm",
        "",
        f"CROSS ?= {rb.flags['LR_CROSS']}",
        "CC := $(CROSS)gcc" if arm else "CC ?= cc",
        "AR := $(CROSS)ar" if arm else "AR ?= ar",
        f"OPT ?= {'-Os' if arm else '-O2'}",
        "# Bit-exactness (no fused multiply-add): never build the runtime without it.",
        f"LR_EXACT := {rb.flags['LR_EXACT']}",
        f"LR_CPU := {cpu}",
        "# Only this model's kind of run path (fp32 or int8) is compiled in; empty: both.",
        f"LR_DEFINES ?= {rb.flags.get('LR_DEFINES', '')}",
        f"LR_CFLAGS := {rb.flags['LR_STD']} $(OPT) {warn} $(LR_EXACT) $(LR_CPU) {rb.flags['LR_TARGET_CFLAGS']} "
        "$(LR_DEFINES) " + " ".join(f"-Ilinrep/{i}" for i in rb.includes),
        f"APP_CFLAGS := {rb.flags['LR_STD']} $(OPT) -Wall -Wextra $(LR_EXACT) $(LR_CPU) "
        + ("-ffunction-sections -fdata-sections " if arm else "") + "-Ilinrep/include -Imodel",
        "",
        "LR_SRCS := \\",
        *[f"  linrep/{s} \\" for s in rb.sources],
        "",
        "LR_OBJS := $(addprefix build/obj/,$(notdir $(LR_SRCS:.c=.o)))",
        "LR_HDRS := " + " ".join(f"linrep/{h}" for h in rb.headers),
        f"LIB := build/liblinrep_{target}.a",
        "vpath %.c " + " ".join(src_dirs),
        "",
    ]
    if arm:
        b = BOARDS[target]
        lines += [
            "DEMO := build/lre_demo.elf",
            f"LDFLAGS := $(LR_CPU) --specs=rdimon.specs -nostartfiles -Lboard -T {b.linker_script} -Wl,--gc-sections "
            "-Wl,-Map=build/lre_demo.map",
            f"QEMU := qemu-system-arm -machine {b.qemu_machine} -cpu {target} -nographic -monitor none -serial none "
            "-semihosting-config enable=on,target=native -kernel",
            "",
        ]
    else:
        lines += ["DEMO := build/lre_demo", "LDFLAGS :=", "", ]
    lines += [
        ".PHONY: all lib run clean",
        ".DELETE_ON_ERROR:",
        "all: $(DEMO)",
        "lib: $(LIB)",
        "",
        "build/obj/%.o: %.c $(LR_HDRS) Makefile",
        "\t@mkdir -p $(@D)",
        "\t$(CC) $(LR_CFLAGS) -c $< -o $@",
        "",
        "$(LIB): $(LR_OBJS)",
        "\t@rm -f $@",
        "\t$(AR) rcs $@ $^",
        "",
    ]
    app = ["main.c"] + (["board/startup.c"] if arm else [])
    deps = " ".join(app + [f"model/{name}.h", f"model/{name}_test.h"]
                    + ([f"board/{BOARDS[target].linker_script}", "board/mps2_sections.ld", "board/mcu_support.h"]
                       if arm else []))
    lines += [
        f"$(DEMO): {deps} $(LIB) Makefile",
        "\t@mkdir -p $(@D)",
        f"\t$(CC) $(APP_CFLAGS) $(LDFLAGS) -o $@ {' '.join(app)} $(LIB) -lm",
        "",
        "run: $(DEMO)",
        "\t$(QEMU) $(DEMO)" if arm else "\t./$(DEMO)",
        "",
        "clean:",
        "\trm -rf build",
        "",
    ]
    return "\n".join(lines)


def readme(target: str, name: str, rb: RuntimeBuild, blob_bytes: int, arena: int, source: str,
           offline_plan: bool = False, fast_paths: bool = False) -> str:
    arm = target != "host"
    plan_row = (f"| `model/{name}_plan.h` | the memory plan made on the host with this core's cost model "
                f"(`{name}_plan[]`): `main.c` gives it to `lr_set_plan`, which checks it against the model; the "
                "runtime has no planner (`-DLR_PLANNER=0`): a new blob needs a new plan (export again) |\n"
                if offline_plan else "")
    run = (f"qemu-system-arm -machine {BOARDS[target].qemu_machine} -cpu {target} -nographic -monitor none "
           "-serial none -semihosting-config enable=on,target=native -kernel build/lre_demo.elf") if arm \
        else "./build/lre_demo"
    board_rows = (f"| `board/` | startup code, linker scripts for QEMU `{BOARDS[target].qemu_machine}` (replace with "
                  "your board's) |\n| `cmake/arm-none-eabi.cmake` | toolchain file (used when none is given) |\n"
                  if arm else "")
    core = f", and the core's `{rb.flags['LR_CPU']}`" if arm else ""
    kernels = ("with the optimised kernels' shape-specific fast paths kept (`-DLR_OPT_FAST=1`, exported with "
               "`--fast-paths`): more code than plain `-Os`, on some models several times fewer instructions"
               if fast_paths else "the least code, and the kernels without their shape-specific fast paths "
               "(`LR_OPT_FAST`; export with `--fast-paths` to keep them at `-Os`)")
    speed = (f"Both builds optimise for size (`-Os`, CMake's MinSizeRel): {kernels}. For speed, `make OPT=-O2` or "
             "`cmake -DCMAKE_BUILD_TYPE=Release`: more code, and on some models several times fewer instructions; "
             "`linrep-edge mcu-bench` measures the three builds (`blob_minimal_instructions_os`, "
             "`blob_minimal_instructions_os_fast` and `blob_minimal_instructions`), and what more RAM buys "
             "(`--ram-limit`).\n\n" if arm else "")
    return f"""# {name}: the linrep-edge C runtime and one model, for {target}

Generated by `linrep-edge export-project --target {target}` from `{source}` ({blob_bytes} bytes; the
inference needs an arena of {arena} bytes). Regenerate rather than edit: the runtime's source list
and flags come from `runtime_c/runtime.mk` of the linrep-edge checkout that wrote this folder.

| path | what |
|---|---|
| `linrep/include/linrep.h` | the runtime's one public header (API contract in its comments) |
| `linrep/src/` | the runtime: {len(rb.sources)} C99 sources, private headers |
| `model/{name}.h` | the blob: `{name}[]` (16-byte aligned, const: stays in flash), `{name.upper()}_SIZE`, `_ARENA_SIZE`, input/output shapes |
| `model/{name}_test.h` | one test input and the host C runtime's output on it (bit patterns) |
{plan_row}| `main.c` | `lr_init`, arena size check, one `lr_run`, bit-for-bit check: prints PASS (exit 0) or FAIL |
| `CMakeLists.txt` | library target `linrep::runtime` (+ `linrep::model`); the demo `lre_demo` when built on its own |
| `Makefile` | the same with plain make: `build/liblinrep_{target}.a`, `build/lre_demo{'.elf' if arm else ''}` |
{board_rows}
Flags the runtime must be built with: `{rb.flags['LR_EXACT']}` (no fused multiply-add, so the target
computes the same bits as the host){core}; and the build options (linrep.h) this model was exported with:
`{rb.flags.get('LR_DEFINES', '').strip() or '(none)'}`.

```sh
cmake -S . -B build && cmake --build build && cmake --build build --target run
make && make run            # or: {run}
```

{speed}In your own CMake tree: `add_subdirectory(path/to/this/folder)` and
`target_link_libraries(app PRIVATE linrep::runtime linrep::model)`. With make: build
`make lib`, then compile with `-Ilinrep/include -Imodel {rb.flags['LR_EXACT']}{' ' + rb.flags['LR_CPU'] if arm else ''}` and link
`build/liblinrep_{target}.a -lm`.
"""


def _plan_parts(name: str, plan: np.ndarray | None) -> dict[str, str]:
    """main.c's lines for an offline plan (export_project offline_plan), empty without one."""
    if plan is None:
        return {"plan_doc": "", "plan_include": "", "plan_set": ""}
    return {"plan_doc": " *   lr_set_plan       takes the memory plan made on the host (model/" + name + "_plan.h; this runtime\n"
                        " *                     is built without its planner, -DLR_PLANNER=0)\n",
            "plan_include": f'#include "{name}_plan.h"\n',
            "plan_set": f"    st = lr_set_plan(&model, {name}_plan, {name.upper()}_PLAN_WORDS);\n"
                        "    if (st != LR_OK) {\n"
                        '        return fail("lr_set_plan", st);\n'
                        "    }\n"}


def _limit_parts(ram_limit: int | None, plan: np.ndarray | None) -> dict[str, str]:
    """main.c's lines for export_project's `ram_limit` (none without one; none on an offline plan either, whose
    arena and paths the host made under that limit)."""
    if ram_limit is None or plan is not None:
        return {"limit_doc": "", "limit_set": ""}
    value = "SIZE_MAX" if ram_limit < 0 else f"{ram_limit}u"
    what = ("no limit: every op its fastest path and scratch" if ram_limit < 0 else
            "the least arena" if ram_limit == 0 else f"up to {ram_limit} bytes of arena for speed")
    return {"limit_doc": f" *   lr_set_ram_limit  trades RAM for speed ({what}; export-project --ram-limit)\n",
            "limit_set": f"    st = lr_set_ram_limit(&model, {value});\n"
                         "    if (st != LR_OK) {\n"
                         '        return fail("lr_set_ram_limit", st);\n'
                         "    }\n"}


def export_project(blob: bytes, out: Path, target: str, name: str, source: str, x: np.ndarray | None = None,
                   force: bool = False, linrep_path: str = "auto", status_texts: bool = True,
                   offline_plan: bool = False, kernels: str = "opt", ram_limit: int | None = None,
                   fast_paths: bool = False) -> dict[str, object]:
    """Write the project folder `out` for `blob` on `target` (see the module docstring) and return a summary.

    `x`: the test input (default: a seeded normal input of the blob's shape); its expected output is the
    host C runtime's. `out` must not exist or be empty, unless `force` (then the files written here replace
    theirs, others stay). The folder is written beside `out` first and renamed into place. `linrep_path`
    "direct" or "reuse" compiles in only that LinRep conv path (-DLR_LINREP_PATHS): less code; the expected
    output and the arena are then the host's on that path ("auto": both paths, the cost model chooses). Without
    `status_texts`, lr_status_str returns "" (-DLR_STATUS_TEXTS=0; main.c prints the codes). With `offline_plan`,
    the host's memory plan for that path (lr_plan_export) goes into model/<name>_plan.h, main.c gives it to
    lr_set_plan, and the runtime is built without its planner (-DLR_PLANNER=0); the arena is the plan's.
    `kernels` "ref": the project holds the reference int8 kernels only (runtime.mk's LR_KERNELS=ref,
    -DLR_OPT_KERNELS=0: the least code, the most instructions); a '+'-list of conv, linear, add, linrep, act: the
    optimised kernels of those kinds only (-DLR_OPT_KERNELS=<mask>). Its plan, arena and cost model are that
    build's, from the host library of the same kernels (the outputs are the same bytes: every int8 kernel is
    exact). `ram_limit` (None: the runtime's default for the blob's kind, the least arena for int8, no limit for
    fp32): main.c calls lr_set_ram_limit with it (0: the least arena; -1: SIZE_MAX, no limit, every op its fastest
    path and scratch; N: up to N bytes of arena), and the arena, the expected output and an offline plan are the
    host's under that limit. `fast_paths` (int8 blobs): the optimised kernels keep their shape-specific fast paths
    in the size-optimised build too (-DLR_OPT_FAST=1: more code than plain -Os, less than -O2; mcu-bench measures
    the three)."""
    from linrep_edge.runtime.mcu_int8 import kernel_build

    if ram_limit is not None and ram_limit < -1:
        raise LinRepError(f"--ram-limit must be bytes >= 0, or -1 for no limit; got {ram_limit}")
    with kernel_build(kernels):
        summary = _export_project(blob, Path(out), target, name, source, x, force, linrep_path, status_texts,
                                  offline_plan, ram_limit, fast_paths)
    return {**summary, "kernels": kernels}


def _export_project(blob: bytes, out: Path, target: str, name: str, source: str, x: np.ndarray | None,
                    force: bool, linrep_path: str, status_texts: bool, offline_plan: bool,
                    ram_limit: int | None = None, fast_paths: bool = False) -> dict[str, object]:
    from linrep_edge.format.reader import parse
    from linrep_edge.runtime.binding import CRuntime
    from linrep_edge.runtime.mcu import arena_for_any_plan, default_input, runtime_defines

    check_identifier(name)
    parsed = parse(blob, source, weights=False)
    g = parsed.graph
    if fast_paths and not g.is_int8:
        raise LinRepError("--fast-paths: the fast paths are the optimised int8 kernels'; an fp32 model runs none of "
                          "them (its build is the same without the option)")
    rb = runtime_build(target, runtime_defines(g.is_int8, g, linrep_path, status_texts, planner=not offline_plan,
                                               fast_paths=fast_paths))
    if linrep_path == "reuse" and not g.is_int8:
        pruned = [op.name for op in parse(blob, source).graph.ops  # with the weights: the kernel masks
                  if op.type == "LINREP_CONV2D" and op.linrep is not None and op.linrep.mask is not None]
        if pruned:
            raise LinRepError(f"--linrep-path reuse: op {pruned[0]!r} has pruned kernels, which an fp32 model runs "
                              "on the direct path only (use --linrep-path auto or direct)")
    ins, outs = g.tensors[g.input].shape, [g.tensors[t].shape for t in g.results]
    x = default_input(blob) if x is None else np.asarray(x, dtype=np.float32)
    if x.size != int(np.prod(ins)):
        raise LinRepError(f"test input has {x.size} values; the model's input {tuple(ins)} has {int(np.prod(ins))}")
    # the target's cost model: the paths its AUTO takes, hence (fp32 models) the rounding of the expected output.
    # Its library is built with the fast paths, also for the plan of an -Os firmware: those kernels' larger scratch
    # preferences fill memory the least arena leaves free anyway, and the -Os kernels run faster on it (more rows
    # per tile; a library built -DLR_OPT_FAST=0 plans as the -Os firmware's own planner would: up to 1.4 % more
    # instructions on the zoo nets at the same RAM, docs/RESULTS.md)
    rt = CRuntime(blob, source, conv_path=linrep_path, cost=cost_model(target))
    if ram_limit is not None:  # before the run: an fp32 model's paths (hence its rounding) follow the limit
        rt.set_ram_limit(ram_limit)
    # every output, one after the other: the buffer lr_run fills
    y = np.concatenate([o.reshape(-1) for o in rt.run_all(x.reshape(1, *ins))])
    plan = None
    if offline_plan:  # that plan, which fixes every path and offset: its region is the arena
        plan = rt.export_plan()
        arena = int(plan[4])
    else:
        arena = max(parsed.check.arena_bytes, rt.arena_bytes)  # a forced path may need more scratch
        if linrep_path == "auto" and g.is_int8:  # the device's per-core cost model may plan otherwise than the host
            arena = max(arena, arena_for_any_plan(blob, source, ram_limit=ram_limit or 0))

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LinRepError(f"{shown(out)}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise LinRepError(f"{shown(out)}: exists and is not empty (--force to write into it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes it 0700; the folder is the user's, like any new one
    try:
        files: dict[str, str | Path] = {
            "main.c": MAIN_C.format(name=name, macro=name.upper(), target=target, **_plan_parts(name, plan),
                                    **_limit_parts(ram_limit, plan)),
            f"model/{name}.h": blob_to_c_header(blob, name, Path(source).name, arena, ins, outs),
            f"model/{name}_test.h": test_header(name, x, y),
            "CMakeLists.txt": cmake_lists(target, name, rb),
            "Makefile": makefile(target, name, rb),
            "README.md": readme(target, name, rb, len(blob), arena, shown(source), plan is not None, fast_paths),
        }
        if plan is not None:
            files[f"model/{name}_plan.h"] = plan_to_c(plan, f"{name}_plan")
        for rel in (*rb.sources, *rb.headers):
            files[f"linrep/{rel}"] = RUNTIME_DIR / rel
        if target != "host":
            files["cmake/arm-none-eabi.cmake"] = TOOLCHAIN.format(cross=rb.flags["LR_CROSS"])
            for f in (*BOARD_FILES, BOARDS[target].linker_script):
                files[f"board/{f}"] = MCU_DIR / f
        for rel, content in files.items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copyfile(content, dest)
            else:
                dest.write_text(content)
        if out.is_dir():
            shutil.copytree(tmp, out, dirs_exist_ok=True)
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"output": str(out), "target": target, "identifier": name, "blob_bytes": len(blob),
            "arena_bytes": arena, "linrep_path": linrep_path, "status_texts": status_texts,
            "offline_plan": plan is not None, "ram_limit": ram_limit, "fast_paths": fast_paths,
            "input_shape": list(ins), "output_shape": list(outs[0]),
            "output_shapes": [list(o) for o in outs],
            "runtime_sources": len(rb.sources), "files": sorted(files),
            "board": BOARDS[target].qemu_machine if target != "host" else None}
