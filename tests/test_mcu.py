"""Cortex-M builds under QEMU: all three targets run the packed default model and agree with the host
C runtime bit for bit; the Cortex-M4F instruction count is pinned so a performance regression fails.

Needs Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (installed by `make
setup` and .ci/run). Without them the tests skip locally and fail under CI (CI=true).
"""

from __future__ import annotations

import shutil

import pytest
from needs import need

from linrep_edge.models.loading import load_default
from linrep_edge.pipeline import PackSettings, pack_model

# Cortex-M4F, runtime at -O2, default model packed at K = 16, seed 0, no fine-tuning, first test image.
# Measured with Debian's arm-none-eabi-gcc 12.2.1 and QEMU 7.2; exact and repeatable (instructions,
# not cycles). Re-pin deliberately when the runtime gets faster; a slower runtime fails here.
# 46,821,061 with the automatic conv path (every LinRep conv on template reuse); the direct path was
# 85,380,720 before template reuse landed. Re-pinned to 46,768,564 (-52,497) by the C redesign of
# issue 14 (branch c-redesign): the arena plan is made once (lr_arena_prepare in the bench's setup)
# instead of in every lr_run, about 11,000 instructions of op 0's segment; the rest is the kernels
# split one op per file (kernel arguments decoded once per op; every op equal or fewer instructions
# except adaptive_avg_pool2d, +34). Outputs unchanged bit for bit.
PINNED_M4_INSTRUCTIONS = 46_768_564
TOLERANCE = 0.01

TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")
need(all(shutil.which(t) for t in TOOLS), "the ARM toolchain or QEMU",
     "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm (or: make setup, as root)")


@pytest.fixture(scope="module")
def blob() -> bytes:
    model, example = load_default()
    return pack_model(model, example, PackSettings(templates=16, seed=0, activations="fp32"), "default",
                      show_progress=False).blob


@pytest.fixture(scope="module")
def m4(blob, tmp_path_factory):
    from linrep_edge.runtime.mcu import mcu_bench

    return mcu_bench(blob, "cortex-m4", build_root=tmp_path_factory.mktemp("m4"), profile=True)


def test_m4_profile_adds_up_to_the_inference(m4):
    """mcu-bench --profile: instructions per function of the measured inference (per translated block); they add
    up to the plugin's exact count within the marker blocks' edges, and the fp32 LinRep kernels lead."""
    prof = m4["profile"]
    assert abs(sum(p["instructions"] for p in prof) - m4["instructions"]) <= 64
    assert abs(sum(p["share"] for p in prof) - 1) < 0.01
    assert [p["instructions"] for p in prof] == sorted((p["instructions"] for p in prof), reverse=True)
    top = [p["function"] for p in prof[:3]]
    assert any(f.startswith("lr_linrep_conv2d") or f.startswith("lr_conv2d") for f in top), top


def test_m4_matches_host_and_meets_the_bars(m4):
    assert m4["matches_host"] and m4["dense_matches_host"]
    assert m4["deterministic"]  # two QEMU runs, same counts
    # Runtime code of this firmware at -Os on Cortex-M4F, as a firmware running this model needs it: the runtime
    # built for the blob's kind (fp32 here: -DLR_INT8=0) and its op types (-DLR_OPS, what export-project writes).
    # Format version 3 added eleven ops for users' networks (16,142 B before, 19,818 B after, every fp32 op
    # compiled in); format version 7's UNARY (eight functions, with the runtime's own log1p and erfc) and SUB took
    # the every-fp32-op build past 24 KB (+1,544 B to 25,604 B, 26,880 B with format version 8's, 26,916 B with 9's UNARY scale: `runtime_code_bytes`,
    # reported; no firmware of this model links them), so the bar (<= 24 KB) holds for this model's op types (17,426 B). The runtime
    # with everything compiled in (fp32 + int8 + optimised int8 kernels) is issue 17's open bar (<= 24 KB),
    # reported by mcu-bench as runtime_code_bytes_all_in and by tools/int8_kernels_bench.py; not asserted here.
    assert m4["runtime_code_bytes_blob_ops"] <= 24 * 1024
    assert m4["runtime_code_bytes_blob_ops"] < m4["runtime_code_bytes"]
    assert m4["weights_flash_bytes"] * 6 <= m4["dense_weights_flash_bytes"]
    assert m4["ram_bytes"] <= 1.1 * m4["activation_lower_bound_bytes"] + 2048
    assert m4["instructions"] <= 1.05 * m4["dense_instructions"]
    assert len(m4["layers"]) == 15 and sum(L["instructions"] for L in m4["layers"]) <= m4["instructions"]


def test_m4_reuse_and_direct_paths(m4):
    """Both forced paths run on the device and equal the host bit for bit; reuse is the faster one."""
    assert m4["direct_matches_host"] and m4["reuse_matches_host"]
    assert m4["reuse_instructions"] <= 0.6 * m4["dense_instructions"] < m4["direct_instructions"]
    rows = [L for L in m4["layers"] if "model" in L]
    assert len(rows) == 7 and all(L["path"] in ("direct", "reuse") for L in rows)
    for L in rows:  # the cost model's choice is the measured faster path on every LinRep layer
        faster = "reuse" if L["reuse_instructions"] < L["direct_instructions"] else "direct"
        assert L["path"] == faster, L


def test_m4_instruction_count_is_pinned(m4):
    assert abs(m4["instructions"] - PINNED_M4_INSTRUCTIONS) <= TOLERANCE * PINNED_M4_INSTRUCTIONS, (
        f"Cortex-M4F instructions {m4['instructions']} vs pinned {PINNED_M4_INSTRUCTIONS}")


@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m33"])
def test_other_targets_match_host(blob, target, tmp_path):
    from linrep_edge.runtime.mcu import mcu_bench

    r = mcu_bench(blob, target, build_root=tmp_path, compare_paths=False)
    assert r["matches_host"] and r["dense_matches_host"] and r["deterministic"]


def test_m4_runs_version_2_blobs_as_the_host(m4, tmp_path):
    """Integer a/b, int8 weights and pruned kernels on the board: same outputs as the host bit for bit;
    8-bit a/b costs at most 5 % more instructions than fp16 a/b (the bar of the beyond-4x issue)."""
    from linrep_edge.runtime.mcu import mcu_bench

    model, example = load_default()
    q8 = pack_model(model, example, PackSettings(templates=16, seed=0, ab_bits=8, weights_dtype="int8",
                                                 activations="fp32"), "default",
                    show_progress=False).blob
    r = mcu_bench(q8, "cortex-m4", build_root=tmp_path / "q8", compare_paths=False)
    assert r["matches_host"] and r["deterministic"]
    assert r["instructions"] <= 1.05 * m4["instructions"]
    pruned = pack_model(model, example, PackSettings(templates=16, seed=0, ab_bits=6, weights_dtype="int8",
                                                     prune_sparsity=0.3, activations="fp32"), "default",
                    show_progress=False).blob
    r = mcu_bench(pruned, "cortex-m4", build_root=tmp_path / "pruned", compare_paths=False)
    assert r["matches_host"]
    assert r["instructions"] < m4["direct_instructions"]  # pruned layers run direct, skipping the kernels


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m33"])
def test_unary_functions_and_two_heads_match_host(target, tmp_path):
    """Every UNARY function (fp32: the runtime's own exp, expm1, tanh, log1p and erfc) in a model with two outputs:
    the firmware's outputs, both heads, equal the host's bit for bit (M4F and M33, each with its FPU)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from linrep_edge.format.writer import pack_graph
    from linrep_edge.graph.capture import capture
    from linrep_edge.runtime.mcu import mcu_bench

    class Heads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = F.mish(F.gelu(self.c1(x) * 3))
            y = F.softplus(F.celu(F.elu(F.gelu(x, approximate="tanh"), 0.7), 0.5), 2.0, 3.0)
            z = F.selu(self.c2(x) * 4)
            return F.logsigmoid(y), F.threshold(z, 0.1, -2.0)

    torch.manual_seed(0)
    g = capture(Heads().eval(), torch.zeros(1, 3, 8, 8))
    assert sum(op.type == "UNARY" for op in g.ops) == 9 and len(g.results) == 2
    r = mcu_bench(pack_graph(g), target, build_root=tmp_path, compare_paths=False)
    assert r["matches_host"] and r["deterministic"]
