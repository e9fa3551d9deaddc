"""Property tests (Hypothesis): bit-packing, fp16 storage and pack → read round trips of random networks."""

from __future__ import annotations

import numpy as np
import torch
from campaign import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from linrep_edge.format.bitpack import fp16_bits, fp16_values, pack_indices, packed_size, unpack_indices
from linrep_edge.graph.capture import capture
from linrep_edge.method.compress import compress
from linrep_edge.graph.executor import GraphModel
from linrep_edge.format.writer import pack_graph
from linrep_edge.format.reader import parse


@settings(max_examples=examples(100))
@given(st.integers(1, 16).flatmap(lambda w: st.tuples(st.just(w), st.lists(st.integers(0, (1 << w) - 1), max_size=300))))
def test_bitpack_round_trip_any_width_any_length(case):
    width, values = case
    data = pack_indices(np.array(values, dtype=np.int64), width)
    assert len(data) == packed_size(len(values), width)
    assert unpack_indices(data, len(values), width).tolist() == values
    if values:  # padding bits of the last byte are zero
        used = len(values) * width % 8
        assert used == 0 or data[-1] >> used == 0


@settings(max_examples=examples(100))
@given(st.lists(st.floats(width=32, allow_nan=False), max_size=200))
def test_fp16_storage_is_round_to_nearest_even_and_idempotent(values):
    x = np.array(values, dtype=np.float32)
    bits = fp16_bits(x)
    with np.errstate(over="ignore"):
        want = x.astype(np.float16).view(np.uint16)
    assert np.array_equal(bits, want)  # IEEE, numpy's rounding
    back = fp16_values(bits)
    assert np.array_equal(fp16_bits(back), bits)  # a stored value stores as itself
    finite = np.isfinite(back)
    assert np.all(np.abs(back[finite] - x[finite]) <= np.abs(x[finite]) * 2.0 ** -11 + 2.0 ** -25)


@settings(max_examples=examples(100))
@given(st.integers(0, 65535))
def test_every_fp16_pattern_decodes_to_numpy(bits):
    b = np.array([bits], dtype=np.uint16)
    want = b.view(np.float16).astype(np.float32)
    got = fp16_values(b)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32)) or (np.isnan(got).all() and np.isnan(want).all())


ACTS = [nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.1), nn.Sigmoid(), nn.Hardswish(), nn.Identity()]


def _conv_out(size: int, k: int, stride: int, pad: int, dil: int) -> int:
    """torch's output length of one convolution axis."""
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


@st.composite
def networks(draw):
    """A random small CNN that torch can run: 1-3 conv blocks (kernel, stride, padding, groups, dilation),
    an optional 2×2 max pool. The feature map's size is tracked block by block, so a stride or a pool is
    drawn only where the map stays at least 1×1 after it (three stride-2 convs on 6×6 and then a 2×2 pool
    would leave nothing)."""
    cin = draw(st.integers(1, 3))
    size = draw(st.integers(6, 12))
    h = w = size
    layers: list[nn.Module] = []
    c = cin
    for _ in range(draw(st.integers(1, 3))):
        groups = draw(st.sampled_from([g for g in (1, 2) if c % g == 0]))
        cout = groups * draw(st.integers(1, 3))
        k = draw(st.sampled_from([(3, 3), (3, 1), (1, 3), (5, 5), (2, 2)]))
        dil = draw(st.integers(1, 2)) if k != (5, 5) else 1
        pad = (k[0] // 2 * dil, k[1] // 2 * dil)
        strides = [s for s in (1, 2) if min(_conv_out(h, k[0], s, pad[0], dil), _conv_out(w, k[1], s, pad[1], dil)) >= 1]
        stride = draw(st.sampled_from(strides))
        h, w = _conv_out(h, k[0], stride, pad[0], dil), _conv_out(w, k[1], stride, pad[1], dil)
        layers.append(nn.Conv2d(c, cout, k, stride=stride, padding=pad, dilation=dil, groups=groups,
                                bias=draw(st.booleans())))
        layers.append(draw(st.sampled_from(ACTS)))
        c = cout
    if min(h, w) >= 2 and draw(st.booleans()):
        layers.append(nn.MaxPool2d(2, 1))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, draw(st.integers(2, 5)))]
    return nn.Sequential(*layers), cin, size


@settings(max_examples=examples(25))
@given(networks(), st.integers(1, 4), st.sampled_from(["fp16", "fp32"]), st.integers(0, 3))
def test_pack_read_round_trip_random_networks(net, k, dtype, seed):
    model, cin, size = net
    torch.manual_seed(seed)
    for p in model.parameters():
        nn.init.normal_(p, std=0.5)
    model.eval()
    kernels = sum(m.weight.shape[0] * m.weight.shape[1] for m in model.modules()
                  if isinstance(m, nn.Conv2d) and m.weight.shape[2] * m.weight.shape[3] > 1)
    cm, _ = compress(model, templates=k, seed=seed, cap_templates=True, show_progress=False)
    assert kernels > 0
    g = capture(cm, torch.zeros(1, cin, size, size))
    for c in g.constants:
        c.dtype = dtype
    blob = pack_graph(g)
    back = parse(blob).graph
    assert pack_graph(back) == blob  # every stored bit survives read → write
    x = torch.randn(2, cin, size, size)
    with torch.no_grad():
        ref = cm(x)
        out = GraphModel(back)(x)
    tol = 1e-4 if dtype == "fp32" else 5e-2 * float(ref.abs().max()) + 1e-3  # fp16 weights of the linear head
    assert torch.allclose(out, ref, atol=tol, rtol=1e-3 if dtype == "fp32" else 5e-2)


def test_fp16_overflow_is_refused_not_stored_as_inf():
    import pytest

    from linrep_edge.errors import LinRepError

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 2)).eval()
    with torch.no_grad():
        model[2].weight[0, 0] = 1e6
    g = capture(model, torch.zeros(1, 1, 6, 6))
    for c in g.constants:
        c.dtype = "fp16"
    with pytest.raises(LinRepError, match="does not fit fp16"):
        pack_graph(g)
    for c in g.constants:
        c.dtype = "fp32"
    assert parse(pack_graph(g)).graph.constants  # fp32 holds it
