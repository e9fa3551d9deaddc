"""`mcu-bench --target A B`: one blob on several cores in one command (issue 17 item 4), the MACs per op checked
against torch's own FLOP counter, and what more RAM buys on each core. A file of its own: its builds are the
heaviest of the Cortex-M tests, and `pytest -n 2 --dist loadfile` balances files, not tests.

Needs Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (as tests/test_mcu.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
from needs import need

from linrep_edge.format.writer import pack_graph

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-nm", "qemu-system-arm")
need(all(shutil.which(t) for t in TOOLS), "the ARM toolchain or QEMU",
     "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm (or: make setup, as root)")


def test_mcu_bench_side_by_side_with_macs_per_instruction(tmp_path: Path) -> None:
    """Issue 17 item 4: `mcu-bench --target A B --json` runs one blob on several cores in one command; every result
    gives per conv and linear op its dense-equivalent MACs (checked against torch's own FLOP counter on a conv /
    linear of the same shapes) and instructions per MAC, and the whole network's; the text form is a table with a
    column per core."""
    import json
    import os
    import sys

    import torch
    import torch.nn.functional as F
    from int8_graphs import build
    from torch.utils.flop_counter import FlopCounterMode

    from linrep_edge.runtime.binding import CRuntime
    from linrep_edge.runtime.project import cost_model

    g = build("linrep", 1)
    path = tmp_path / "m.lre"
    path.write_bytes(pack_graph(g))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "linrep_edge.cli", "-q", "mcu-bench", str(path), "--target", "cortex-m4", "cortex-m3"]
    out = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env, timeout=1200)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert [r["target"] for r in d["targets"]] == ["cortex-m4", "cortex-m3"]
    want = {}
    for k, op in enumerate(g.ops):  # torch counts 2 FLOPs per multiply-accumulate
        x = torch.zeros((1, *g.tensors[op.inputs[0]].shape))
        with FlopCounterMode(display=False) as fc:
            if op.type in ("CONV2D", "LINREP_CONV2D"):
                cin, co = x.shape[1], g.tensors[op.output].shape[0]
                t, left, b, right = op.pads
                y = F.conv2d(F.pad(x, (left, right, t, b)), torch.zeros(co, cin // op.groups, *op.kernel),
                             stride=op.stride, dilation=op.dilation, groups=op.groups)
                assert y.shape[1:] == g.tensors[op.output].shape
            elif op.type == "LINEAR":
                F.linear(x.flatten(1), torch.zeros(int(np.prod(g.tensors[op.output].shape)), x[0].numel()))
        if fc.get_total_flops():
            want[k] = fc.get_total_flops() // 2
    assert want and any(g.ops[k].type == "LINREP_CONV2D" for k in want)
    for r in d["targets"]:
        assert r["matches_host"] and r["direct_matches_host"] and r["reuse_matches_host"]
        got = {L["op"]: L["dense_macs"] for L in r["layers"] if "dense_macs" in L}
        assert got == want
        for L in r["layers"]:
            if "dense_macs" in L:
                assert L["instructions_per_mac"] == round(L["instructions"] / L["dense_macs"], 3)
        assert r["dense_macs"] == sum(want.values())
        assert r["instructions_per_dense_mac"] == round(r["instructions"] / r["dense_macs"], 3)
        assert r["mac_op_instructions"] == sum(L["instructions"] for L in r["layers"] if L["op"] in want)
        # what RAM buys: the fastest plan (lr_set_ram_limit(SIZE_MAX)) beside the default least arena, its arena the
        # host library's under the same limit and the core's cost model (-O2 kernels, as the bench builds them)
        fast = CRuntime(path.read_bytes(), cost=cost_model(r["target"]))
        fast.set_ram_limit(-1)
        assert r["unlimited_matches_host"] and r["unlimited_arena_bytes"] == fast.arena_bytes > r["arena_bytes"]
        assert r["unlimited_ram_bytes"] > r["ram_bytes"]  # (not always faster: the cost model's choice, here slower)
    text = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    assert text.returncode == 0, text.stderr
    head = text.stdout.splitlines()[0]
    assert "cortex-m4" in head and "cortex-m3" in head and "per dense-equivalent MAC" in text.stdout
    assert "no RAM limit: instructions" in text.stdout and "no RAM limit: RAM (B)" in text.stdout
    from linrep_edge.runtime.mcu_int8 import format_result_int8

    one = format_result_int8(d["targets"][0])  # one target's text: the trade in a line (here none to gain)
    assert "RAM for speed: none to gain" in one or "RAM for speed: with no RAM limit" in one
