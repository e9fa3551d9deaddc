"""The arena plan with each op's kernel scratch placed per op, and the RAM limit (lr_set_ram_limit).

Int8 LinRep graphs (the random ones of test_int8_runtime) under every path setting and several RAM limits:
the outputs equal the Python integer reference bit for bit (the optimised direct kernel runs with whatever
scratch the plan gives it: its least, its preferred, sizes between), lr_arena_size is exact (lr_run_i8
succeeds with it and refuses one byte less), the least arena is the default, a limit above it is honoured
and never exceeded, and a larger limit never gives a smaller arena. The path each op reports is the plan's:
with no limit, the cost model's AUTO choice."""

from __future__ import annotations

import numpy as np
import pytest

from linrep_edge.errors import LinRepError
from linrep_edge.format.writer import pack_graph
from linrep_edge.integer.executor import run_int8
from linrep_edge.runtime.binding import CRuntime
from int8_graphs import build

SEEDS = range(4)
UNLIMITED = -1


def _exact(rt: CRuntime, x: np.ndarray) -> None:
    rt.run_int8(x, arena_bytes=rt.arena_bytes)
    with pytest.raises(LinRepError, match="ARENA_TOO_SMALL"):
        rt.run_int8(x, arena_bytes=rt.arena_bytes - 1)


@pytest.mark.parametrize("seed", SEEDS)
def test_ram_limit_same_bits_exact_arena(seed: int) -> None:
    g = build("linrep", seed)
    blob = pack_graph(g)
    xs = np.random.default_rng(seed).integers(-128, 128, (2, *g.tensors[0].shape)).astype(np.int8)
    want = [run_int8(g, x, conv_path="direct") for x in xs]
    for path in ("auto", "direct", "reuse"):
        rt = CRuntime(blob, f"linrep/{seed}", conv_path=path)
        least = rt.arena_bytes
        sizes = []
        for limit in (0, least + 48, least + 1024, UNLIMITED, 0):
            rt.set_ram_limit(limit)
            assert rt.arena_bytes >= least, (path, limit)
            if limit > 0:
                assert rt.arena_bytes <= max(limit, least), (path, limit)
            sizes.append(rt.arena_bytes)
            got = rt.run_int8(xs)
            for n in range(len(xs)):
                for k, w in enumerate(want[n]):
                    np.testing.assert_array_equal(got[k][n], w, err_msg=f"{path} limit {limit} output {k}")
            _exact(rt, xs[0])
        assert sizes[0] == sizes[-1] == least  # 0 is the default, and back
        assert sizes[0] <= sizes[1] <= sizes[2] <= sizes[3]


def test_default_is_the_least_arena_and_unlimited_takes_the_cost_models_paths() -> None:
    """A larger limit gives the optimised direct kernel bigger blocks (more arena) on some graph; with no
    limit every LinRep op runs the path the cost model prefers."""
    grew = False
    for seed in SEEDS:
        rt = CRuntime(pack_graph(build("linrep", seed)))
        least = rt.arena_bytes
        rt.set_ram_limit(UNLIMITED)
        grew |= rt.arena_bytes > least
        for k in range(rt.num_ops):
            info = rt.op_conv_info(k)
            if info["reuse_cost"]:  # a LinRep conv
                assert info["path"] == ("reuse" if info["reuse_cost"] < info["direct_cost"] else "direct")
    assert grew


def test_set_ram_limit_keeps_the_path_setting() -> None:
    rt = CRuntime(pack_graph(build("linrep", 1)), conv_path="reuse")
    rt.set_ram_limit(UNLIMITED)
    rt.set_ram_limit(0)
    assert all(rt.op_conv_info(k)["path"] in ("reuse", "-") for k in range(rt.num_ops)
               if rt.op_conv_info(k)["reuse_cost"])
