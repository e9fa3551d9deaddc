"""Issue 17 through the binding: pruned int8 LinRep layers run template reuse (the kernel mask's kept kernels
only) to the Python integer reference's outputs bit for bit, and the cost model counts their kept kernels.
(The optimised kernels against the reference kernels: runtime_c/tests/test_kernels_s8.c and
tests/test_mcu_kernels.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from int8_graphs import build

from linrep_edge.format.writer import pack_graph
from linrep_edge.integer.executor import run_int8
from linrep_edge.runtime.binding import CRuntime


def test_pruned_linrep_runs_reuse_bit_exact() -> None:
    pruned = 0
    for seed in range(10):
        g = build("linrep_masked", seed)
        op = g.ops[0]
        assert op.linrep is not None and op.linrep.mask is not None
        if op.linrep.mask.all():
            continue  # a small random layer may keep every kernel
        pruned += 1
        rng = np.random.default_rng(seed)
        x = rng.integers(-128, 128, size=g.tensors[g.input].shape, dtype=np.int8)
        want = run_int8(g, x)
        outs = {}
        for path in ("reuse", "direct"):
            rt = CRuntime(pack_graph(g), conv_path=path)
            assert rt.op_conv_info(0)["path"] == path  # pruned layers may run reuse now
            outs[path] = rt.run_int8(x)
            for got, ref in zip(outs[path], want):
                np.testing.assert_array_equal(got.reshape(ref.shape), ref)
        info = CRuntime(pack_graph(g)).op_conv_info(0)
        kept = int(op.linrep.mask.sum())
        assert info["kernels"] == op.linrep.mask.size
        # the cost model reads a kept kernel's index at its rank among the kept ones
        idx, mask = np.asarray(op.linrep.idx), op.linrep.mask
        u = sum(len(np.unique(idx[mask[:, i], i])) for i in range(idx.shape[1]))
        assert info["templates_used"] == u
        assert int(info["reuse_macs"]) > 0 and kept < op.linrep.mask.size
    assert pruned >= 4


@pytest.mark.parametrize("kernels", ["ref", "linrep"])
def test_reference_kernel_build_equals_python_reference(kernels: str) -> None:
    """The runtime built with the reference int8 kernels only (LR_KERNELS=ref: its own host library,
    build/host-ref), or with the optimised kernels of some kinds only (LR_KERNELS=linrep: the LinRep paths
    optimised, conv, linear and ADD the references), runs every conv kind,
    linear and ADD on both paths to the Python integer reference's outputs bit for bit, template reuse also at the
    least arena (lr_set_ram_limit 0: the reuse kernel gets what the plan has, from one output row up) and with no
    limit."""
    from linrep_edge.runtime.binding import DEFAULT_LIB, REF_LIB, RUNTIME_DIR, library_path
    from linrep_edge.runtime.mcu_int8 import kernel_build

    seeds = 4 if kernels == "ref" else 2
    with kernel_build(kernels):
        lib = library_path()
        assert lib == REF_LIB if kernels == "ref" else lib.parent.name == "host-k8"
        for kind in ("conv", "depthwise", "grouped", "linrep", "linrep_masked", "linear", "add", "linrep_chain"):
            for seed in range(seeds):
                g = build(kind, seed)
                rng = np.random.default_rng(seed)
                xs = rng.integers(-128, 128, size=(2, *g.tensors[g.input].shape), dtype=np.int8)
                for path in ("direct", "reuse"):
                    for limit in (0, -1):
                        rt = CRuntime(pack_graph(g), conv_path=path)
                        rt.set_ram_limit(limit)
                        got = rt.run_int8(xs)
                        for n, x in enumerate(xs):
                            for c, w in zip(got, run_int8(g, x, conv_path=path)):
                                np.testing.assert_array_equal(c[n].reshape(w.shape), w,
                                                              err_msg=f"{kind} seed {seed} {path} limit {limit}")
    assert library_path() == DEFAULT_LIB and lib.is_relative_to(RUNTIME_DIR / "build")


def test_unknown_kernel_build_is_one_clear_error() -> None:
    """LR_KERNELS names that runtime.mk does not know are refused before anything is built, with its reason."""
    from linrep_edge.errors import LinRepError
    from linrep_edge.runtime.mcu_int8 import kernel_build

    for bad in ("fast", "linrep+dsp", "linrep,add"):
        with pytest.raises(LinRepError, match="use opt, ref or a '\\+'-separated list of conv linear add linrep act"):
            with kernel_build(bad):
                pass
