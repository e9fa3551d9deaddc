"""The optimised int8 kernels (runtime_c/src/kernels/opt/) equal their references bit for bit on Cortex-M
under QEMU: the random cases of runtime_c/tests/kernel_cases_s8.h (the host's test_kernels_s8) run in
firmware (runtime_c/mcu/kernels_check_workload.c) on the M4 (the ACLE DSP path: SXTB16/SMLAD, checked
in the image) and the M3 (portable path).

Needs Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (as tests/test_mcu.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from needs import need

ROOT = Path(__file__).resolve().parents[1]
RT = ROOT / "runtime_c"
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-objdump", "qemu-system-arm")
need(all(shutil.which(t) for t in TOOLS), "the ARM toolchain or QEMU",
     "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm (or: make setup, as root)")


@pytest.mark.parametrize("target,dsp,opt,fast", [("cortex-m4", True, "-O2", ""), ("cortex-m3", False, "-O2", ""),
                                                 ("cortex-m4", True, "-Os", ""), ("cortex-m4", True, "-Os", "1")])
def test_opt_kernels_equal_ref_on_cortex_m(target: str, dsp: bool, opt: str, fast: str, tmp_path: Path) -> None:
    """-O2 and -Os: a size-optimised build leaves the fast paths out (LR_OPT_FAST=0: the template-stationary and
    paired-channel reuse steps, the unmasked decode, the interior im2col), so its kernels are other code; and -Os
    with the fast paths (-DLR_OPT_FAST=1, `export-project --fast-paths`): the fast paths with the dense conv's
    dot-product and requantisation assembly but without the inline-assembly loops that only -O2 compiles (the
    column-free 1 x 1 conv once dropped every input channel there)."""
    sys.path.insert(0, str(RT / "mcu"))
    import run_qemu as drv  # noqa: PLC0415 (the driver lives beside the firmware)

    defines = f"-DLR_OPT_FAST={fast}" if fast else ""
    rep = drv.measure(target, opt, [RT / "mcu" / "kernels_check_workload.c"],
                      f"-I{RT / 'src'} -I{RT / 'tests'} -DKC_MCU_CASES=1500 {defines}", tmp_path / "fw", timeout=300,
                      defines=defines)
    assert rep["exit_code"] == 0
    fw = rep["firmware"]
    assert int(fw["kc_cases"]) == 1500
    assert (int(fw["kc_conv"]), int(fw["kc_linear"]), int(fw["kc_linrep"])) == (0, 0, 0)
    assert int(fw["kc_reuse_sizes"]) == 0  # the reuse kernel at its minimum, a random and its default scratch
    assert (int(fw["kc_add"]), int(fw["kc_requant"])) == (0, 0)  # lr_add_s8_opt, lr_opt_requant
    assert int(fw["kc_table"]) == 0  # lr_table_s8_opt with tables the references make
    assert int(fw["kc_mul"]) == 0  # lr_mul_s8_opt
    assert int(fw["kc_tconv"]) == 0  # lr_conv_transpose2d_s8_opt, lr_linrep_conv_transpose2d_s8_opt
    assert int(fw["kc_resize"]) == 0  # lr_resize_bilinear_s8_opt
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(tmp_path / "fw" / "fw.elf")], capture_output=True,
                         text=True, check=True).stdout
    assert ("\tsmlad\t" in dis) == dsp  # the M4 image runs the SIMD path, the M3 one the portable C
