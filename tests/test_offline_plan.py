"""Offline memory plans (linrep.h: lr_plan_export, lr_set_plan; the build option -DLR_PLANNER=0).

The C tests (`make -C runtime_c plan-check`) run every test model on its exported plan, with and without the
planner, and refuse broken headers. Here the graph (the Python reader's) says which buffers are live at once,
so the broken plans are the ones a wrong planner would write: two live tensors sharing bytes, a scratch on a
live tensor, a scratch smaller than its kernel takes, the reuse path on a layer that cannot take it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from linrep_edge.errors import LinRepError
from linrep_edge.format.export_c import plan_to_c
from linrep_edge.format.reader import parse
from linrep_edge.format.writer import pack_graph
from linrep_edge.pipeline import PackSettings, pack_model
from linrep_edge.runtime import abi
from int8_graphs import in_place

HEAD = abi.PLAN_HEAD


@pytest.fixture(scope="module")
def blobs(small_resnet_module, tmp_path_factory) -> dict[str, bytes]:
    x = torch.zeros(1, 1, 28, 28)
    calib = tmp_path_factory.mktemp("calib") / "x.npy"
    np.save(calib, torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)).numpy())
    out = {}
    for name, settings in {"int8": PackSettings(templates=8, cap_templates=True, activations="int8",
                                                calibration=str(calib), calibration_epochs=1),
                           "fp32_pruned": PackSettings(templates=8, cap_templates=True, activations="fp32",
                                                       prune_sparsity=0.3)}.items():
        out[name] = pack_model(small_resnet_module, x, settings, "net", show_progress=False).blob
    return out


@pytest.fixture(scope="module")
def small_resnet_module():
    from linrep_edge.models.resnet8 import ResNet8

    torch.manual_seed(0)
    return ResNet8(widths=(8, 16, 16)).eval()


def _layout(blob: bytes, plan: np.ndarray):
    g = parse(blob).graph
    n_t, n_ops = len(g.tensors), len(g.ops)
    offsets = plan[HEAD:HEAD + n_t]
    slots = plan[HEAD + n_t:HEAD + n_t + 2 * n_ops].reshape(n_ops, 2)
    bits = plan[HEAD + n_t + 2 * n_ops:]
    return g, offsets, slots, bits


def _refused(crt, blob: bytes, plan: np.ndarray) -> bool:
    rt = crt(blob)
    before = rt.arena_bytes
    with pytest.raises(LinRepError, match="LR_ERR_BAD_PLAN"):
        rt.set_plan(plan)
    return rt.arena_bytes == before  # the model keeps the runtime's own plan


@pytest.mark.parametrize("kind", ["int8", "fp32_pruned"])
def test_exported_plan_runs_to_the_same_bytes_in_less_arena(crt, blobs, kind):
    blob = blobs[kind]
    for path in ("auto", "direct", "reuse"):
        own = crt(blob, conv_path=path)
        plan = own.export_plan()
        assert plan[0] == abi.PLAN_MAGIC and plan[2] == len(parse(blob).graph.tensors)
        assert len(plan) == HEAD + len(parse(blob).graph.tensors) + 2 * own.num_ops + (own.num_ops + 31) // 32
        other = crt(blob)
        other.set_plan(plan)
        assert other.arena_bytes == plan[4] <= own.arena_bytes - 16  # no plan words in the arena
        x = np.random.default_rng(1).normal(size=(3, *own.input_shape)).astype(np.float32)
        assert np.array_equal(own.run(x), other.run(x))
        assert [own.op_conv_info(k)["path"] for k in range(own.num_ops)] == \
               [other.op_conv_info(k)["path"] for k in range(other.num_ops)]
        assert np.array_equal(other.export_plan(), plan)
        with pytest.raises(LinRepError, match="LR_ERR_UNSUPPORTED_OP"):
            other.set_conv_path("direct")
    text = plan_to_c(plan, "lre_net_plan")
    assert f"#define LRE_NET_PLAN_WORDS {len(plan)}u" in text and f"0x{int(plan[4]):08X}u" in text


def test_broken_plans_are_refused(crt, blobs):
    """Each rule of lr_plan_check.c, broken the way a wrong planner would break it."""
    blob = blobs["int8"]
    good = crt(blob, conv_path="reuse").export_plan()
    g, offsets, slots, bits = _layout(blob, good)
    crt(blob).set_plan(good)  # the exported plan is taken
    # two tensors live at once share bytes: an op's output placed on its first input
    k = next(i for i, op in enumerate(g.ops) if op.inputs and op.output != op.inputs[0])
    bad = good.copy()
    _, off, _, _ = _layout(blob, bad)
    off[g.ops[k].output] = off[g.ops[k].inputs[0]]
    assert _refused(crt, blob, bad)
    # a scratch on a tensor live during its op (room made above the region so that only the overlap is wrong)
    k = next(i for i in range(len(g.ops)) if slots[i, 1] > 0)
    bad = good.copy()
    _, off, sl, _ = _layout(blob, bad)
    bad[4] = good[4] + ((int(sl[k, 1]) + 15) // 16) * 16
    sl[k, 0] = off[g.ops[k].output]
    assert _refused(crt, blob, bad)
    bad[4] = good[4] + ((int(sl[k, 1]) + 15) // 16) * 16
    sl[k, 0] = good[4]  # the same scratch above every tensor: taken
    crt(blob).set_plan(bad)
    # a scratch smaller than the kernel takes: a LinRep conv on template reuse given 16 bytes
    k = next(i for i, op in enumerate(g.ops) if op.type == "LINREP_CONV2D" and (bits[i // 32] >> (i % 32)) & 1)
    bad = good.copy()
    _, _, sl, _ = _layout(blob, bad)
    sl[k, 1] = 16
    assert _refused(crt, blob, bad)
    # the reuse bit on an op that is no LinRep conv
    k = next(i for i, op in enumerate(g.ops) if op.type != "LINREP_CONV2D")
    bad = good.copy()
    _, _, _, bb = _layout(blob, bad)
    bb[k // 32] |= 1 << (k % 32)
    assert _refused(crt, blob, bad)
    # another blob's plan
    assert _refused(crt, blobs["fp32_pruned"], good)


def test_fp32_pruned_layer_cannot_take_the_reuse_bit(crt, blobs):
    """fp32 LinRep convs with pruned kernels run the direct path only (lr_op_can_reuse): a plan saying reuse is
    refused, though its scratch would be large enough."""
    blob = blobs["fp32_pruned"]
    g = parse(blob).graph
    pruned = [i for i, op in enumerate(g.ops)
              if op.type == "LINREP_CONV2D" and op.linrep is not None and op.linrep.mask is not None]
    assert pruned
    good = crt(blob, conv_path="direct").export_plan()
    bad = good.copy()
    _, _, sl, bb = _layout(blob, bad)
    k = pruned[0]
    bb[k // 32] |= 1 << (k % 32)
    bad[4] = good[4] + (1 << 20)
    sl[k] = (good[4], 1 << 20)  # room enough for any reuse scratch
    assert _refused(crt, blob, bad)


def test_in_place_activation_must_write_over_its_input(crt):
    """An int8 activation run in place (its input dying there): the exported plan puts its output on its input's
    offset and runs to the same bytes; a plan that gives the output a place of its own, even free bytes above
    everything, is refused (lr_run writes the output where the plan says and the table kernel reads the input
    there), and so is one that puts it on another tensor."""
    g = in_place("hardswish", 1, "chain")
    blob = pack_graph(g)
    plan = crt(blob).export_plan()
    _, off, _, _ = _layout(blob, plan)
    assert off[2] == off[1] and off[3] == off[1]  # hardswish's output and the RELU's over the conv's output
    x = np.random.default_rng(2).integers(-128, 128, (3, *g.tensors[0].shape)).astype(np.int8)
    other = crt(blob)
    other.set_plan(plan)
    assert np.array_equal(other.run_int8(x)[0], crt(blob).run_int8(x)[0])
    bad = plan.copy()
    bad[4] = plan[4] + ((g.tensors[3].numel + 15) // 16) * 16
    _layout(blob, bad)[1][3] = plan[4]  # the RELU's output above every tensor: its own bytes, but not in place
    assert _refused(crt, blob, bad)
    bad = plan.copy()
    _layout(blob, bad)[1][3] = off[0]  # on the model input's bytes
    assert _refused(crt, blob, bad)
